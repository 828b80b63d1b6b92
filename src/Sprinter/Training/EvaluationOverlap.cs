using System.Text;

namespace Sprinter.Training;

/// <summary>
/// The sentences of the evaluation text, as match keys, so that training text can drop every
/// sentence the models will later be evaluated on.
/// </summary>
/// <remarks>
/// Keys are lower-case letters and digits only. The evaluation files are tokenized ("do n't",
/// "Wal-Mart 's", "word , word") while the training text is printed prose, so comparing anything
/// but the letters and digits would miss most real overlaps. The same rule strips WikiText's
/// artefacts: "guest @-@ starring" and "guest-starring" both become "gueststarring".
/// </remarks>
public sealed class EvaluationOverlap
{
    /// <summary>LM1B's heldout shard starts a few lines with a keyboard-row test string ending in "€".</summary>
    const string Lm1bJunkStart = "^ 1 2 3 4 5 6 7 8 9 0 ";

    readonly HashSet<string> _keys;

    EvaluationOverlap(HashSet<string> keys) => _keys = keys;

    public int SentenceCount => _keys.Count;

    public static EvaluationOverlap FromLines(IEnumerable<string> lines)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (string raw in lines)
        {
            string line = CorpusText.CollapseWhitespace(StripLm1bJunk(raw));
            if (line.Length == 0) continue;
            AddKey(keys, line); // LM1B: a line is one sentence even where the splitter would cut it
            foreach (string sentence in SentenceSplitter.Split(line)) AddKey(keys, sentence);
        }
        return new EvaluationOverlap(keys);
    }

    public static EvaluationOverlap FromFiles(IEnumerable<string> paths) =>
        FromLines(paths.SelectMany(path => File.ReadLines(path, Encoding.UTF8)));

    public bool Contains(string sentence)
    {
        string key = Key(sentence);
        return key.Length > 0 && _keys.Contains(key);
    }

    /// <summary>The paragraph without its evaluation sentences ("" when none is left), and how many went.</summary>
    public (string Paragraph, int Removed) RemoveFrom(string paragraph)
    {
        var sentences = SentenceSplitter.Split(paragraph);
        var kept = sentences.Where(s => !Contains(s)).ToList();
        return kept.Count == sentences.Count ? (paragraph, 0) : (string.Join(' ', kept), sentences.Count - kept.Count);
    }

    /// <summary>The lower-case letters and digits of a sentence.</summary>
    public static string Key(string sentence)
    {
        var sb = new StringBuilder(sentence.Length);
        foreach (char c in sentence)
            if (char.IsLetterOrDigit(c)) sb.Append(char.ToLowerInvariant(c));
        return sb.ToString();
    }

    static void AddKey(HashSet<string> keys, string sentence)
    {
        string key = Key(sentence);
        if (key.Length > 0) keys.Add(key);
    }

    static string StripLm1bJunk(string line)
    {
        if (!line.StartsWith(Lm1bJunkStart, StringComparison.Ordinal)) return line;
        int euro = line.IndexOf('€');
        return euro < 0 ? "" : line[(euro + 1)..];
    }
}
