namespace Sprinter.Benchmarks;

/// <summary>A WikiText article: its title, lead paragraph (the summary) and the paragraphs after it.</summary>
public sealed record WikiArticle(string Title, string Lead, string Body);

/// <summary>
/// Parses WikiText-2 raw files: an article starts at a heading line " = Title = ", subheadings
/// look like " = = X = = " (deeper levels add more "="), everything else non-blank is a paragraph.
/// Line ends may be CRLF. The lead is the first paragraph after the title; the body is every
/// paragraph after the lead (the lead is the ROUGE reference, so it stays out of the prompt).
/// </summary>
public static class WikiTextArticles
{
    public static List<WikiArticle> Parse(string raw)
    {
        var articles = new List<WikiArticle>();
        string? title = null;
        var paragraphs = new List<string>();
        void Flush()
        {
            if (title is not null && paragraphs.Count >= 2)
                articles.Add(new WikiArticle(title, paragraphs[0], string.Join(' ', paragraphs.Skip(1))));
            paragraphs.Clear();
        }
        foreach (var rawLine in raw.Split('\n'))
        {
            string line = rawLine.Trim();
            if (line.Length == 0) continue;
            bool heading = line.StartsWith("= ", StringComparison.Ordinal) && line.EndsWith(" =", StringComparison.Ordinal);
            if (heading && !line.StartsWith("= =", StringComparison.Ordinal))
            {
                Flush();
                title = Clean(line.Trim('=', ' '));
            }
            else if (!heading && title is not null) paragraphs.Add(Clean(line));
        }
        Flush();
        return articles;
    }

    static string Clean(string text) => TextCleanup.JoinPunctuation(TextCleanup.UndoWikiArtefacts(" " + text + " ").Trim());
}
