using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Sprinter.Models;

/// <summary>
/// GPT-2 byte-level BPE from vocab.json + merges.txt. Encoding goes through
/// Microsoft.ML.Tokenizers; decoding maps ids to their exact bytes so that text is rebuilt
/// byte for byte and streamed without splitting a UTF-8 character.
/// </summary>
public sealed class Gpt2Tokenizer
{
    readonly Tokenizer _tokenizer;
    readonly byte[][] _bytes;

    public int VocabSize => _bytes.Length;
    public int? EndOfText { get; }
    /// <summary>sha256 of vocab.json and merges.txt: two models share a tokenizer iff these match.</summary>
    public string Identity { get; }

    Gpt2Tokenizer(Tokenizer tokenizer, byte[][] bytes, int? endOfText, string identity)
    {
        _tokenizer = tokenizer; _bytes = bytes; EndOfText = endOfText; Identity = identity;
    }

    public static Gpt2Tokenizer Load(string vocabPath, string mergesPath)
    {
        foreach (var path in new[] { vocabPath, mergesPath })
            if (!File.Exists(path)) throw new InvalidInputException($"{path}: file not found; GPT-2 tokenizers need vocab.json and merges.txt.");
        byte[] vocabBytes = File.ReadAllBytes(vocabPath), mergesBytes = File.ReadAllBytes(mergesPath);
        var vocab = ParseVocabulary(vocabPath, vocabBytes);
        var bytes = new byte[vocab.Count][];
        foreach (var (token, id) in vocab)
            bytes[id] = ByteLevel.Decode(token) ?? Encoding.UTF8.GetBytes(token); // added tokens may be plain text
        int? eot = vocab.TryGetValue(EndOfTextToken, out int e2) ? e2 : null;
        Tokenizer tokenizer;
        try
        {
            // Not CodeGenTokenizer.Create: it adds CodeGen's whitespace tokens (ids 50257..50293 for
            // runs of spaces and tabs), which GPT-2 does not have. Only <|endoftext|> is special here.
            var special = eot is int id ? new Dictionary<string, int> { [EndOfTextToken] = id } : null;
            tokenizer = BpeTokenizer.Create(new BpeOptions(vocab)
            {
                Merges = ReadMergeLines(mergesBytes),
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(Gpt2PreTokenizer.Regex, special),
                SpecialTokens = special,
            });
        }
        catch (Exception e) when (e is not InvalidInputException)
        {
            throw new InvalidInputException($"{mergesPath}: the tokenizer files could not be loaded ({e.Message}).");
        }
        string identity = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData([.. vocabBytes, .. mergesBytes]));
        return new Gpt2Tokenizer(tokenizer, bytes, eot, identity);
    }

    static IEnumerable<string> ReadMergeLines(byte[] mergesBytes) =>
        Encoding.UTF8.GetString(mergesBytes).Split('\n')
            .Select(line => line.TrimEnd('\r'))
            .Where(line => line.Length > 0 && !line.StartsWith("#version"));

    const string EndOfTextToken = "<|endoftext|>";

    /// <summary>
    /// Parses vocab.json (token string -> id), requiring the ids 0..n-1 with none missing or
    /// repeated, so that callers can index tokens by id.
    /// </summary>
    internal static Dictionary<string, int> ParseVocabulary(string vocabPath, byte[] vocabBytes)
    {
        Dictionary<string, int> vocab;
        try
        {
            vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(vocabBytes)
                    ?? throw new InvalidInputException($"{vocabPath}: expected a JSON object of token -> id.");
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{vocabPath}: not a JSON object of token -> id ({e.Message}).");
        }
        if (vocab.Count == 0) throw new InvalidInputException($"{vocabPath}: the vocabulary is empty.");
        int size = vocab.Values.Max() + 1;
        if (size != vocab.Count || vocab.Values.Min() < 0)
            throw new InvalidInputException($"{vocabPath}: token ids must be 0..{vocab.Count - 1} with none missing or repeated.");
        return vocab;
    }

    public static Gpt2Tokenizer Load(ModelFolder folder) => Load(folder.VocabPath, folder.MergesPath);

    public int[] Encode(string text) => [.. _tokenizer.EncodeToIds(text)];

    public ReadOnlySpan<byte> TokenBytes(int id) => _bytes[id];

    public string Decode(ReadOnlySpan<int> ids)
    {
        var buffer = new List<byte>();
        foreach (int id in ids) buffer.AddRange(_bytes[id]);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public StreamingDecoder CreateStreamingDecoder() => new(this);

    /// <summary>Turns ids into text as they arrive, holding back the bytes of an unfinished UTF-8 character.</summary>
    public sealed class StreamingDecoder(Gpt2Tokenizer tokenizer)
    {
        readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
        readonly char[] _chars = new char[64];

        public string Append(int id)
        {
            var bytes = tokenizer.TokenBytes(id);
            var sb = new StringBuilder();
            int offset = 0;
            while (offset < bytes.Length)
            {
                int take = Math.Min(16, bytes.Length - offset);
                int n = _decoder.GetChars(bytes.Slice(offset, take), _chars, flush: false);
                sb.Append(_chars, 0, n);
                offset += take;
            }
            return sb.ToString();
        }

        /// <summary>Whatever is still held back at the end of the stream (an incomplete character becomes U+FFFD).</summary>
        public string Flush()
        {
            int n = _decoder.GetChars(ReadOnlySpan<byte>.Empty, _chars, flush: true);
            return new string(_chars, 0, n);
        }
    }
}
