namespace Sprinter.Benchmarks;

/// <summary>
/// Reads the LM1B held-out shard: one tokenized news sentence per line. A few lines start with a
/// keyboard-test junk prefix ("^ 1 2 3 4 5 6 7 8 9 0 ß ´ ° ! ... | @ €"); it is stripped and a line
/// with nothing after it is dropped.
/// </summary>
public static class Lm1bSentences
{
    const string JunkStart = "^ 1 2 3 4 5 6 7 8 9 0 ß ´ °";
    const string JunkEnd = "@ €";

    /// <summary>The cleaned sentences with their 0-based line numbers.</summary>
    public static List<(int Line, string Text)> Parse(IEnumerable<string> lines)
    {
        var sentences = new List<(int, string)>();
        int lineNo = -1;
        foreach (var raw in lines)
        {
            lineNo++;
            string line = raw.Trim();
            if (line.StartsWith(JunkStart, StringComparison.Ordinal))
            {
                int end = line.IndexOf(JunkEnd, StringComparison.Ordinal);
                line = end < 0 ? "" : line[(end + JunkEnd.Length)..].Trim();
            }
            if (line.Length > 0) sentences.Add((lineNo, TextCleanup.JoinPunctuation(line)));
        }
        return sentences;
    }
}
