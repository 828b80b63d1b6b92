using System.Text.RegularExpressions;

namespace Sprinter.Benchmarks;

/// <summary>ROUGE-1, ROUGE-2 and ROUGE-L F-measures of one prediction against one reference.</summary>
public readonly record struct RougeScores(double Rouge1, double Rouge2, double RougeL);

/// <summary>
/// ROUGE as Google's rouge-score package computes it with <c>use_stemmer=True</c>: lowercase,
/// tokens are runs of [a-z0-9] (everything else separates), tokens longer than 3 characters are
/// Porter-stemmed (NLTK's stemmer); ROUGE-N counts clipped n-gram overlaps, ROUGE-L uses the
/// longest common subsequence; each score is the F-measure 2PR / (P + R), 0 when nothing overlaps.
/// </summary>
public static partial class Rouge
{
    [GeneratedRegex("[a-z0-9]+")]
    private static partial Regex TokenPattern();

    public static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        foreach (Match m in TokenPattern().Matches(text.ToLowerInvariant()))
            tokens.Add(m.Value.Length > 3 ? PorterStemmer.Stem(m.Value) : m.Value);
        return tokens;
    }

    public static RougeScores Score(string prediction, string reference)
    {
        var p = Tokenize(prediction);
        var r = Tokenize(reference);
        return new RougeScores(NGram(p, r, 1), NGram(p, r, 2), Lcs(p, r));
    }

    static double NGram(List<string> prediction, List<string> reference, int n)
    {
        var referenceCounts = Counts(reference, n);
        var predictionCounts = Counts(prediction, n);
        int overlap = 0;
        foreach (var (gram, count) in predictionCounts)
            if (referenceCounts.TryGetValue(gram, out int c)) overlap += Math.Min(count, c);
        return FMeasure(overlap, predictionCounts.Values.Sum(), referenceCounts.Values.Sum());
    }

    static Dictionary<string, int> Counts(List<string> tokens, int n)
    {
        var counts = new Dictionary<string, int>();
        for (int i = 0; i + n <= tokens.Count; i++)
        {
            string gram = string.Join(' ', tokens.Skip(i).Take(n));
            counts[gram] = counts.GetValueOrDefault(gram) + 1;
        }
        return counts;
    }

    static double Lcs(List<string> prediction, List<string> reference)
    {
        // One rolling row of the classic dynamic programme.
        var row = new int[reference.Count + 1];
        foreach (var token in prediction)
        {
            int diagonal = 0;
            for (int j = 1; j <= reference.Count; j++)
            {
                int above = row[j];
                row[j] = token == reference[j - 1] ? diagonal + 1 : Math.Max(row[j], row[j - 1]);
                diagonal = above;
            }
        }
        return FMeasure(row[reference.Count], prediction.Count, reference.Count);
    }

    static double FMeasure(int overlap, int predictionTotal, int referenceTotal)
    {
        double precision = predictionTotal == 0 ? 0 : (double)overlap / predictionTotal;
        double recall = referenceTotal == 0 ? 0 : (double)overlap / referenceTotal;
        return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
    }
}
