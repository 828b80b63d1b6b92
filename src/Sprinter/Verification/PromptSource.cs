using System.Text.Json;

namespace Sprinter.Verification;

/// <summary>A text read from a data file, with its index in that file (the prompt id).</summary>
public sealed record SourceText(int Id, string Text);

/// <summary>Reads texts from plain text (one per non-empty line) or JSONL (a "text" field per line).</summary>
public static class PromptSource
{
    public static List<SourceText> ReadTexts(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: data file not found; give a plain-text file (one text per line) or JSONL with a \"text\" field.");
        bool jsonl = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        var texts = new List<SourceText>();
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            string line = raw.Trim();
            if (line.Length == 0) continue;
            if (jsonl)
            {
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                        throw new InvalidInputException($"{path}:{lineNo}: expected a JSON object with a string \"text\" field.");
                    line = t.GetString()!;
                }
                catch (JsonException e)
                {
                    throw new InvalidInputException($"{path}:{lineNo}: not valid JSON ({e.Message}).");
                }
            }
            texts.Add(new SourceText(lineNo - 1, line));
        }
        if (texts.Count == 0) throw new InvalidInputException($"{path}: no texts found (the file is empty).");
        return texts;
    }

    /// <summary>The paper's prompt: the first ceil(30%) of the text's whitespace-separated words.</summary>
    public static string PromptOf(string text, double fraction = 0.3)
    {
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        int take = (int)Math.Ceiling(fraction * words.Length);
        return string.Join(' ', words.Take(Math.Max(1, take)));
    }

    /// <summary>A seeded sample of up to <paramref name="count"/> texts with at least <paramref name="minWords"/> words, in file order.</summary>
    public static List<SourceText> Sample(IReadOnlyList<SourceText> texts, int count, int seed, int minWords = 5)
    {
        var eligible = texts.Where(t => t.Text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length >= minWords).ToList();
        var rng = new Random(seed);
        return eligible.OrderBy(_ => rng.Next()).Take(count).OrderBy(t => t.Id).ToList();
    }
}
