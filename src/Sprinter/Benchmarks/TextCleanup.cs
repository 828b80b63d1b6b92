namespace Sprinter.Benchmarks;

/// <summary>
/// Undoes the word-level tokenization of WikiText and LM1B ("word , word ( x ) \" q \" it 's")
/// so the models see ordinary running text. ROUGE ignores punctuation, so this changes what the
/// models read, not how their output is scored.
/// </summary>
public static class TextCleanup
{
    static readonly HashSet<string> Closing = [",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "'s", "'re", "'ve", "'ll", "'d", "'m", "n't"];
    static readonly HashSet<string> Opening = ["(", "[", "{", "$"];

    /// <summary>WikiText's " @-@ ", " @,@ ", " @.@ " stand for "-", ",", "." written without spaces.</summary>
    public static string UndoWikiArtefacts(string text) =>
        text.Replace(" @-@ ", "-").Replace(" @,@ ", ",").Replace(" @.@ ", ".");

    /// <summary>Joins space-separated tokens, dropping the spaces around punctuation; straight double quotes alternate open/close.</summary>
    public static string JoinPunctuation(string text)
    {
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var sb = new System.Text.StringBuilder(text.Length);
        bool glueNext = true, quoteOpen = false;
        foreach (var w in words)
        {
            bool glueThis;
            if (w == "\"") { glueThis = quoteOpen; quoteOpen = !quoteOpen; }
            else glueThis = Closing.Contains(w);
            if (!glueNext && !glueThis) sb.Append(' ');
            sb.Append(w);
            glueNext = w == "\"" ? quoteOpen : Opening.Contains(w);
        }
        return sb.ToString();
    }
}
