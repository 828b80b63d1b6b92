namespace Sprinter.Benchmarks;

/// <summary>A WikiText article: its title, lead paragraph (the summary) and the paragraphs after it.</summary>
public sealed record WikiArticle(string Title, string Lead, string Body);

/// <summary>
/// Parses WikiText-2 raw files: an article starts at a heading line " = Title = ", subheadings
/// look like " = = X = = " (deeper levels add more "="), everything else non-blank is a paragraph.
/// Line ends may be CRLF; blank lines are ignored. The lead is the first paragraph after the title; the body is every
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
        var lines = raw.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        for (int i = 0; i < lines.Count; i++)
        {
            string line = lines[i];
            bool heading = line.StartsWith("= ", StringComparison.Ordinal) && line.EndsWith(" =", StringComparison.Ordinal);
            if (heading && !line.StartsWith("= =", StringComparison.Ordinal) && StartsLead(i + 1 < lines.Count ? lines[i + 1] : ""))
            {
                Flush();
                title = Clean(line.Trim('=', ' '));
            }
            else if (!line.StartsWith("= =", StringComparison.Ordinal) && title is not null) paragraphs.Add(Clean(line));
        }
        Flush();
        return articles;
    }

    /// <summary>
    /// A title is followed by its lead, which starts with a capital or a quote. WikiText-2's test
    /// split has two formula lines inside "Constant k filter" that look like titles
    /// (" = 1 rad / s and a nominal impedance k = ") and are followed by "1 ..."; they stay text.
    /// </summary>
    static bool StartsLead(string next) => next.Length > 0 && (char.IsUpper(next[0]) || next[0] == '"');

    static string Clean(string text) => TextCleanup.JoinPunctuation(TextCleanup.UndoWikiArtefacts(" " + text + " ").Trim());
}
