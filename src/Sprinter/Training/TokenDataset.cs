using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>
/// A stream of token ids from text files, with training windows drawn from it by a stateless
/// seeded hash of (seed, step, sequence): resuming needs only the step, and the draw does not
/// depend on threads or on what ran before.
/// </summary>
public sealed class TokenDataset
{
    const string CacheMagic = "SPRTOK01";

    public int[] Tokens { get; }
    public string Description { get; }

    public TokenDataset(int[] tokens, string description)
    {
        Tokens = tokens;
        Description = description;
    }

    /// <summary>
    /// Tokenizes the files (or reads each one's cache, a binary file next to it keyed by the
    /// tokenizer's identity, the text's size and its modification time) and joins them with
    /// &lt;|endoftext|&gt; when the vocabulary has it.
    /// </summary>
    public static TokenDataset Load(IReadOnlyList<string> files, Tokenizer tokenizer, string what)
    {
        if (files.Count == 0) throw new InvalidInputException($"{what}: no files given; name at least one UTF-8 text file.");
        var all = new List<int>();
        foreach (var file in files)
        {
            if (all.Count > 0 && tokenizer.EndOfText is int eot) all.Add(eot);
            all.AddRange(LoadFile(file, tokenizer));
        }
        return new TokenDataset([.. all], string.Join(", ", files));
    }

    static int[] LoadFile(string path, Tokenizer tokenizer)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: file not found; training and validation data are UTF-8 text files.");
        var info = new FileInfo(path);
        string cache = $"{path}.tokens-{tokenizer.Identity[..16]}.bin";
        if (TryReadCache(cache, info, tokenizer.Identity) is { } cached) return cached;
        string text;
        try { text = File.ReadAllText(path, new UTF8Encoding(false, throwOnInvalidBytes: true)); }
        catch (DecoderFallbackException) { throw new InvalidInputException($"{path}: not valid UTF-8; convert the file to UTF-8 text."); }
        int[] tokens = tokenizer.Encode(text);
        for (int i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)tokenizer.VocabSize)
                throw new InvalidInputException($"{path}: the tokenizer produced id {tokens[i]} (token {i}), outside its {tokenizer.VocabSize}-token vocabulary; it maps runs of spaces to extra CodeGen ids, so collapse repeated spaces in the text until the tokenizer is fixed.");
        TryWriteCache(cache, info, tokenizer.Identity, tokens);
        return tokens;
    }

    static int[]? TryReadCache(string cache, FileInfo text, string identity)
    {
        try
        {
            if (!File.Exists(cache)) return null;
            byte[] bytes = File.ReadAllBytes(cache);
            int header = 8 + 8 + 8 + 8 + 64;
            if (bytes.Length < header || Encoding.ASCII.GetString(bytes, 0, 8) != CacheMagic) return null;
            long size = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
            long ticks = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(16));
            long count = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(24));
            string id = Encoding.ASCII.GetString(bytes, 32, 64);
            if (size != text.Length || ticks != text.LastWriteTimeUtc.Ticks || id != identity || bytes.Length != header + count * 4) return null;
            return MemoryMarshal.Cast<byte, int>(bytes.AsSpan(header)).ToArray();
        }
        catch (IOException) { return null; }
    }

    /// <summary>The cache is an optimisation: a read-only data folder just means tokenizing again next time.</summary>
    static void TryWriteCache(string cache, FileInfo text, string identity, int[] tokens)
    {
        string tmp = cache + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write))
            {
                Span<byte> number = stackalloc byte[8];
                stream.Write(Encoding.ASCII.GetBytes(CacheMagic));
                foreach (long value in new[] { text.Length, text.LastWriteTimeUtc.Ticks, tokens.LongLength })
                {
                    BinaryPrimitives.WriteInt64LittleEndian(number, value);
                    stream.Write(number);
                }
                stream.Write(Encoding.ASCII.GetBytes(identity.PadRight(64)[..64]));
                stream.Write(MemoryMarshal.AsBytes(tokens.AsSpan()));
            }
            File.Move(tmp, cache, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try { File.Delete(tmp); } catch (IOException) { }
        }
    }

    /// <summary>Throws unless the stream holds at least one window of seqLen + 1 tokens.</summary>
    public void RequireWindow(int seqLen, string what)
    {
        if (Tokens.Length < seqLen + 1)
            throw new InvalidInputException($"{Description}: {what} has {Tokens.Length} tokens but one training window needs Context + 1 = {seqLen + 1}; use more text or a smaller context.");
    }

    /// <summary>Fills sequence <paramref name="sequence"/> of a step's batch with a seeded random window.</summary>
    public void SampleWindow(int seed, long step, int sequence, int seqLen, Span<int> inputs, Span<int> targets)
    {
        ulong key = Mix(Mix(Mix((ulong)(uint)seed) ^ (ulong)step) ^ (ulong)sequence);
        int start = (int)(key % (ulong)(Tokens.Length - seqLen));
        Tokens.AsSpan(start, seqLen).CopyTo(inputs);
        Tokens.AsSpan(start + 1, seqLen).CopyTo(targets);
    }

    /// <summary>
    /// Starts of the fixed validation windows: <paramref name="maxWindows"/> at most, rounded down
    /// to whole batches (at least one batch), spread evenly over the stream.
    /// </summary>
    public int[] FixedWindowStarts(int seqLen, int maxWindows, int batch)
    {
        int available = (Tokens.Length - 1) / seqLen;
        int count = Math.Max(batch, Math.Min(maxWindows, available) / batch * batch);
        int span = Tokens.Length - seqLen - 1;
        return Enumerable.Range(0, count).Select(i => count == 1 ? 0 : (int)((long)span * i / (count - 1))).ToArray();
    }

    /// <summary>SplitMix64's finaliser: a bijective mix with good avalanche.</summary>
    static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
