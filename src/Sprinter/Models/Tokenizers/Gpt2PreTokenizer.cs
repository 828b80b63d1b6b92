using System.Text.RegularExpressions;

namespace Sprinter.Models;

/// <summary>
/// GPT-2's pre-tokenization: text is cut into contractions, letter runs, digit runs, other-symbol
/// runs (each with at most one leading space) and whitespace, and BPE never merges across a cut.
/// </summary>
/// <remarks>
/// The tokenizer trainer and <see cref="Tokenizer"/> cut with this one regex, so merges are
/// learned on exactly the pieces they are later applied to. .NET's \p{L} and \p{N} test UTF-16
/// code units, so a letter outside the BMP (a surrogate pair) counts as an "other symbol" here,
/// unlike in Python's GPT-2; round trips stay exact, only such text splits differently.
/// </remarks>
public static partial class Gpt2PreTokenizer
{
    public const string Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    [GeneratedRegex(Pattern)]
    private static partial Regex Gpt2Regex();

    public static Regex Regex => Gpt2Regex();

    public static List<string> Split(string text) => Gpt2Regex().Matches(text).Select(m => m.Value).ToList();

    /// <summary>Counts each distinct pre-token of <paramref name="text"/> into <paramref name="counts"/>.</summary>
    public static void Count(string text, Dictionary<string, int> counts)
    {
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var match in Gpt2Regex().EnumerateMatches(text))
        {
            var piece = text.AsSpan(match.Index, match.Length);
            lookup[piece] = lookup.TryGetValue(piece, out int n) ? n + 1 : 1;
        }
    }
}
