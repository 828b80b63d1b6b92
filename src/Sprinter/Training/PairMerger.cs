namespace Sprinter.Training;

/// <summary>
/// The counting core of BPE training: distinct words as symbol sequences with their frequencies,
/// the frequency of every adjacent symbol pair, and which words hold each pair. A merge rewrites
/// only the words that hold the pair and adjusts the counts of the pairs it touches, so a merge
/// costs the size of those words instead of a pass over the whole corpus.
/// </summary>
/// <remarks>
/// The most frequent pair comes from a lazy max-heap: after a merge, the pairs that lost
/// occurrences keep their old (too high) heap entry and are re-queued with the true count when
/// popped, and only pairs holding the merged symbol, the only ones that can gain, are pushed.
/// Ties go to the smaller (left id, right id), so the result depends only on the word counts.
/// </remarks>
internal sealed class PairMerger
{
    readonly List<int[]> _words = [];
    readonly List<int> _frequencies = [];
    readonly Dictionary<long, long> _pairCounts = [];
    readonly Dictionary<long, HashSet<int>> _pairWords = [];
    readonly PriorityQueue<long, (long Count, long Pair)> _queue = new(Comparer<(long Count, long Pair)>.Create(
        (x, y) => x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair)));

    /// <param name="words">distinct words as initial symbol ids (any order) with their frequencies</param>
    public PairMerger(IEnumerable<(int[] Symbols, int Frequency)> words)
    {
        foreach (var (symbols, frequency) in words)
        {
            _words.Add(symbols);
            _frequencies.Add(frequency);
            AddPairs(_words.Count - 1, symbols, frequency);
        }
        foreach (var (pair, count) in _pairCounts) _queue.Enqueue(pair, (count, pair));
    }

    static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>The most frequent pair with its count, or null when no word has two symbols left.</summary>
    public (int Left, int Right, long Count)? MostFrequentPair()
    {
        while (_queue.TryDequeue(out long pair, out var queued))
        {
            long count = _pairCounts.GetValueOrDefault(pair);
            if (count == queued.Count) return ((int)(pair >> 32), (int)(uint)pair, count);
            if (count > 0) _queue.Enqueue(pair, (count, pair));
        }
        return null;
    }

    /// <summary>Replaces every (left, right) by <paramref name="merged"/>, left to right within each word.</summary>
    public void Merge(int left, int right, int merged)
    {
        if (!_pairWords.Remove(Key(left, right), out var holders)) return;
        var gained = new HashSet<long>();
        foreach (int word in holders)
        {
            int[] symbols = _words[word];
            int[] rewritten = Rewrite(symbols, left, right, merged);
            if (rewritten.Length == symbols.Length) continue; // a stale holder: the pair left this word earlier
            AddPairs(word, symbols, -_frequencies[word]);
            AddPairs(word, rewritten, _frequencies[word]);
            for (int i = 0; i + 1 < rewritten.Length; i++)
                if (rewritten[i] == merged || rewritten[i + 1] == merged) gained.Add(Key(rewritten[i], rewritten[i + 1]));
            _words[word] = rewritten;
        }
        foreach (long pair in gained)
            if (_pairCounts.TryGetValue(pair, out long count)) _queue.Enqueue(pair, (count, pair));
    }

    /// <summary>Adds <paramref name="delta"/> to the count of each adjacent pair of a word and keeps the pair-to-word index.</summary>
    void AddPairs(int word, int[] symbols, long delta)
    {
        for (int i = 0; i + 1 < symbols.Length; i++)
        {
            long pair = Key(symbols[i], symbols[i + 1]);
            long count = _pairCounts.GetValueOrDefault(pair) + delta;
            if (count == 0)
            {
                _pairCounts.Remove(pair);
                _pairWords.Remove(pair);
                continue;
            }
            _pairCounts[pair] = count;
            if (delta <= 0) continue;
            if (!_pairWords.TryGetValue(pair, out var holders)) _pairWords[pair] = holders = [];
            holders.Add(word);
        }
    }

    static int[] Rewrite(int[] symbols, int left, int right, int merged)
    {
        var result = new List<int>(symbols.Length);
        for (int i = 0; i < symbols.Length; i++)
        {
            if (i + 1 < symbols.Length && symbols[i] == left && symbols[i + 1] == right)
            {
                result.Add(merged);
                i++;
            }
            else result.Add(symbols[i]);
        }
        return result.Count == symbols.Length ? symbols : [.. result];
    }
}
