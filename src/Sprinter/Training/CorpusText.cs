using System.Text;

namespace Sprinter.Training;

/// <summary>Whitespace clean-up shared by every corpus source.</summary>
public static class CorpusText
{
    /// <summary>
    /// Turns every run of whitespace or control characters into one space and trims the ends.
    /// Control characters count as spaces because the sources carry stray ones (a U+0002 stands in
    /// for a lost fraction in one SOTU speech) and they would otherwise become odd byte tokens.
    /// </summary>
    public static string CollapseWhitespace(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool pendingSpace = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c))
            {
                pendingSpace = sb.Length > 0;
                continue;
            }
            if (pendingSpace) sb.Append(' ');
            pendingSpace = false;
            sb.Append(c);
        }
        return sb.ToString();
    }
}
