using System.Diagnostics;
using System.Text;
using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>
/// Trains a byte-level BPE tokenizer the way GPT-2's was made: GPT-2 pre-tokenization, the 256
/// byte tokens first (id = byte value), then one token per merge in order, then &lt;|endoftext|&gt;
/// as the last id. Written here because no maintained .NET package trains BPE:
/// Microsoft.ML.Tokenizers only loads vocab.json + merges.txt, it cannot make them.
/// </summary>
public static class BpeTrainer
{
    public const int DefaultVocabSize = 8192;
    /// <summary>The 256 byte tokens and &lt;|endoftext|&gt;: a vocabulary without a single merge.</summary>
    public const int MinimumVocabSize = 257;
    public const string EndOfText = "<|endoftext|>";

    /// <summary>
    /// Learns merges until the vocabulary (with &lt;|endoftext|&gt;) has <paramref name="vocabSize"/>
    /// tokens, or fewer when the text runs out of pairs to merge. Same texts → same result, byte for byte.
    /// </summary>
    public static TrainedBpe Train(IEnumerable<string> texts, int vocabSize = DefaultVocabSize, IProgress<string>? progress = null)
    {
        CheckVocabSize(vocabSize);
        var clock = Stopwatch.StartNew();
        var preTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        long textCount = 0;
        foreach (string text in texts)
        {
            Gpt2PreTokenizer.Count(text, preTokens);
            textCount++;
        }
        progress?.Report($"{textCount:N0} texts, {preTokens.Count:N0} distinct pre-tokens ({clock.Elapsed.TotalSeconds:F1} s)");

        // Word order does not matter: merges depend only on the pair counts and the tie rule.
        var merger = new PairMerger(preTokens.Select(kv =>
            (Array.ConvertAll(Encoding.UTF8.GetBytes(kv.Key), b => (int)b), kv.Value)));
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevel.ByteToChar[b].ToString()).ToList();
        var ids = tokens.Select((token, id) => (token, id)).ToDictionary(x => x.token, x => x.id, StringComparer.Ordinal);
        var merges = new List<(string Left, string Right)>();
        while (tokens.Count < vocabSize - 1 && merger.MostFrequentPair() is var (left, right, count))
        {
            string token = tokens[left] + tokens[right];
            // Two different pairs can spell the same token ("a"+"bc", "ab"+"c"); it keeps its first id.
            if (!ids.TryGetValue(token, out int id))
            {
                id = tokens.Count;
                tokens.Add(token);
                ids[token] = id;
            }
            merges.Add((tokens[left], tokens[right]));
            merger.Merge(left, right, id);
            if (merges.Count % 1000 == 0)
                progress?.Report($"{merges.Count:N0} merges, {tokens.Count + 1:N0} tokens, last '{token}' x{count:N0} ({clock.Elapsed.TotalSeconds:F1} s)");
        }
        tokens.Add(EndOfText);
        progress?.Report($"done: {tokens.Count:N0} tokens, {merges.Count:N0} merges in {clock.Elapsed.TotalSeconds:F1} s");
        return new TrainedBpe(tokens, merges);
    }

    /// <summary>Trains on a corpus file (train.txt of <see cref="CorpusBuilder"/>), a document at a time.</summary>
    public static TrainedBpe TrainOnCorpusFile(string corpusPath, int vocabSize = DefaultVocabSize, IProgress<string>? progress = null)
    {
        CheckVocabSize(vocabSize);
        return Train(CorpusFile.ReadDocuments(corpusPath).Select(CorpusFile.Join), vocabSize, progress);
    }

    static void CheckVocabSize(int vocabSize)
    {
        if (vocabSize < MinimumVocabSize)
            throw new InvalidInputException($"vocab size {vocabSize}: must be at least {MinimumVocabSize} (256 byte tokens + {EndOfText}); the default is {DefaultVocabSize}.");
    }
}
