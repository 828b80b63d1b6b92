namespace Sprinter.Serving;

/// <summary>
/// Applies a request's stop strings to streamed text: text that could still be the start of a
/// stop string is held back until it cannot; when one appears, the text before it is the last
/// released and generation ends (the stop string itself is never sent, as with OpenAI).
/// </summary>
public sealed class StopSequenceMatcher(IReadOnlyList<string> stops)
{
    readonly System.Text.StringBuilder _pending = new();

    public bool Stopped { get; private set; }

    /// <returns>The text that is safe to send now.</returns>
    public string Append(string piece)
    {
        if (Stopped) return "";
        if (stops.Count == 0) return piece;
        _pending.Append(piece);
        string text = _pending.ToString();
        int at = FirstStop(text);
        if (at >= 0)
        {
            Stopped = true;
            _pending.Clear();
            return text[..at];
        }
        int keep = LongestStopPrefixAtEnd(text);
        _pending.Clear().Append(text, text.Length - keep, keep);
        return text[..^keep];
    }

    /// <summary>The held-back text once the stream has ended without a stop.</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _pending.ToString();
        _pending.Clear();
        return rest;
    }

    int FirstStop(string text)
    {
        int first = -1;
        foreach (string stop in stops)
        {
            int i = text.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && (first < 0 || i < first)) first = i;
        }
        return first;
    }

    int LongestStopPrefixAtEnd(string text)
    {
        int longest = 0;
        foreach (string stop in stops)
            for (int n = Math.Min(stop.Length - 1, text.Length); n > longest; n--)
                if (text.AsSpan(text.Length - n).SequenceEqual(stop.AsSpan(0, n))) { longest = n; break; }
        return longest;
    }
}
