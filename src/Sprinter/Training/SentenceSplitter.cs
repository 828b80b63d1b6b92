namespace Sprinter.Training;

/// <summary>
/// Rule-based English sentence splitting, good enough to find evaluation sentences inside training
/// paragraphs: both sides go through the same rules, so an imperfect split still lines up.
/// </summary>
/// <remarks>
/// A sentence ends at '.', '!' or '?' (possibly repeated, possibly followed by closing quotes or
/// brackets) when whitespace and then an upper-case letter, digit, quote or bracket follow, unless
/// the word before the period is a title, a common abbreviation or a single initial ("Mr. Smith",
/// "U.S. Senate", "J. Smith").
/// </remarks>
public static class SentenceSplitter
{
    static readonly HashSet<string> Abbreviations = new(StringComparer.OrdinalIgnoreCase)
    {
        "mr", "mrs", "ms", "messrs", "dr", "st", "jr", "sr", "gen", "gov", "sen", "rep", "col", "lt", "capt",
        "maj", "sgt", "prof", "hon", "rev", "mt", "ft", "no", "nos", "vol", "vs", "etc", "inc", "ltd", "co", "corp",
        "dept", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k",
        "e.g", "i.e", "a.m", "p.m", "d.c",
    };

    const string ClosingMarks = "\"'”’)]}";
    const string OpeningMarks = "\"'“‘([{";

    /// <summary>The sentences of a paragraph whose whitespace is already collapsed, trimmed.</summary>
    public static List<string> Split(string paragraph)
    {
        var sentences = new List<string>();
        int start = 0;
        for (int i = 0; i < paragraph.Length; i++)
        {
            if (!IsTerminal(paragraph[i])) continue;
            int end = i + 1;
            while (end < paragraph.Length && IsTerminal(paragraph[end])) end++;
            while (end < paragraph.Length && ClosingMarks.Contains(paragraph[end])) end++;
            if (end + 1 >= paragraph.Length || paragraph[end] != ' ' || !StartsSentence(paragraph[end + 1])) continue;
            if (paragraph[i] == '.' && IsAbbreviation(paragraph, start, i)) continue;
            sentences.Add(paragraph[start..end]);
            start = end + 1;
            i = end;
        }
        if (start < paragraph.Length) sentences.Add(paragraph[start..].Trim());
        return sentences.Where(s => s.Length > 0).ToList();
    }

    static bool IsTerminal(char c) => c is '.' or '!' or '?';

    static bool StartsSentence(char c) => char.IsUpper(c) || char.IsDigit(c) || OpeningMarks.Contains(c);

    /// <summary>Whether the word that ends with the period at <paramref name="dot"/> is an abbreviation.</summary>
    static bool IsAbbreviation(string text, int sentenceStart, int dot)
    {
        int wordStart = dot;
        while (wordStart > sentenceStart && text[wordStart - 1] != ' ' && !OpeningMarks.Contains(text[wordStart - 1])) wordStart--;
        string word = text[wordStart..dot];
        if (word.Length == 1 && char.IsUpper(word[0])) return true; // an initial
        return Abbreviations.Contains(word);
    }
}
