using System.Text;

namespace Sprinter.Training;

/// <summary>
/// The Brown corpus in its tagged form ("The/at jury/nn said/vbd ./."), turned back into
/// readable paragraphs: tags stripped, punctuation attached the way it was printed.
/// </summary>
/// <remarks>
/// Layout of a file: a sentence per line; a line that starts with a tab opens a paragraph, a blank
/// line closes one; a line whose tags all end in "-hl" is a headline and stands alone.
/// </remarks>
public static class BrownText
{
    static readonly HashSet<string> AttachToPrevious = [",", ".", ";", ":", "!", "?", ")", "]", "}", "%"];
    static readonly HashSet<string> AttachToNext = ["(", "[", "{", "$"];

    public static List<string> Paragraphs(string taggedText)
    {
        var paragraphs = new List<string>();
        var words = new List<string>();
        void Flush()
        {
            if (words.Count > 0) paragraphs.Add(Detokenize(words));
            words.Clear();
        }
        foreach (string rawLine in taggedText.Split('\n'))
        {
            string line = rawLine.TrimEnd('\r', ' ');
            if (line.Trim().Length == 0) { Flush(); continue; }
            if (line.StartsWith('\t')) Flush();
            var tokens = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (tokens.All(t => Tag(t).EndsWith("-hl", StringComparison.Ordinal)))
            {
                Flush();
                words.AddRange(tokens.Select(Word));
                Flush();
                continue;
            }
            words.AddRange(tokens.Select(Word));
        }
        Flush();
        return paragraphs;
    }

    /// <summary>The word of a "word/tag" token: everything before the last slash ("1/2/cd" is "1/2").</summary>
    public static string Word(string token)
    {
        int slash = token.LastIndexOf('/');
        return slash > 0 ? token[..slash] : token;
    }

    static string Tag(string token)
    {
        int slash = token.LastIndexOf('/');
        return slash > 0 ? token[(slash + 1)..] : "";
    }

    /// <summary>
    /// Joins words with single spaces except where print has none: before closing punctuation,
    /// after opening brackets, inside quotes. Brown writes double quotes as `` and '' and single
    /// quotes as a bare ' for both ends, so single quotes alternate open/close within a paragraph.
    /// A sentence that ends in an abbreviation ("Jr./np ./.") gets one period, as printed. Brown puts
    /// a closing quote before the period or comma that follows it (3,331 and 2,032 times, never the
    /// other way round); American print has them inside, so they are swapped back.
    /// </summary>
    public static string Detokenize(IEnumerable<string> tokens)
    {
        var words = tokens.ToList();
        for (int i = 0; i + 1 < words.Count; i++)
            if (words[i] == "''" && words[i + 1] is "." or ",")
            {
                (words[i], words[i + 1]) = (words[i + 1], words[i]);
                i++;
            }
        var sb = new StringBuilder();
        bool glueNext = true, singleQuoteOpen = false;
        foreach (string word in words)
        {
            string text = word;
            if (word == "." && sb.Length > 0 && sb[^1] == '.') continue;
            bool opens = AttachToNext.Contains(word), closes = AttachToPrevious.Contains(word);
            switch (word)
            {
                case "``": text = "\""; opens = true; break;
                case "''": text = "\""; closes = true; break;
                case "'":
                    opens = !singleQuoteOpen; closes = singleQuoteOpen;
                    singleQuoteOpen = !singleQuoteOpen;
                    break;
            }
            if (!glueNext && !closes) sb.Append(' ');
            sb.Append(text);
            glueNext = opens;
        }
        return CorpusText.CollapseWhitespace(sb.ToString());
    }
}
