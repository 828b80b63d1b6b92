using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Sprinter.Models;

/// <summary>
/// Every tokenizer the models use, whatever file it came from: byte-level BPE (GPT-2's vocab.json +
/// merges.txt, tokenizer.json of Llama 3 / Qwen2 / SmolLM2), Llama 2's SentencePiece-style BPE in
/// tokenizer.json, a SentencePiece tokenizer.model, and the GGUF vocabularies (through
/// <see cref="Gguf.GgufTokenizer"/>). Encoding belongs to one backend per format
/// (<see cref="ITokenizerBackend"/>); decoding is shared: ids map to their exact bytes, so text is
/// rebuilt byte for byte and streamed without splitting a UTF-8 character.
/// </summary>
public sealed class Tokenizer
{
    readonly ITokenizerBackend _backend;
    readonly byte[][] _bytes;

    public int VocabSize => _bytes.Length;
    public int? EndOfText { get; }
    /// <summary>The token every prompt starts with (Llama 3's &lt;|begin_of_text|&gt;), or null; see <see cref="EncodePrompt(string)"/>.</summary>
    public int? BeginningOfSequence { get; private init; }
    /// <summary>
    /// The files' identity: sha256 of vocab.json and merges.txt, or over what decides tokenization for
    /// tokenizer.json, SentencePiece and GGUF vocabularies. Caches and checkpoints are keyed by it.
    /// </summary>
    public string Identity { get; }
    /// <summary>
    /// sha256 over what decides tokenization, the same for one tokenizer in any format (vocab.json +
    /// merges.txt, tokenizer.json, tokenizer.model, GGUF): two models share a tokenizer iff these match.
    /// </summary>
    public string VocabularyIdentity { get => _vocabularyIdentity ?? Identity; private init => _vocabularyIdentity = value; }
    readonly string? _vocabularyIdentity;

    /// <param name="bytes">Each id's exact bytes (what decoding emits).</param>
    Tokenizer(ITokenizerBackend backend, byte[][] bytes, int? endOfText, string identity)
    {
        _backend = backend; _bytes = bytes; EndOfText = endOfText; Identity = identity;
    }

    /// <summary>
    /// A byte-level BPE tokenizer from a Hugging Face tokenizer.json (see <see cref="HfTokenizerJson"/>).
    /// End of text is <c>&lt;|endoftext|&gt;</c>, or Llama 3's <c>&lt;|end_of_text|&gt;</c>, when present.
    /// </summary>
    public static Tokenizer LoadTokenizerJson(string path) => FromSpec(HfTokenizerJson.Load(path), path);

    /// <summary>A tokenizer from a parsed tokenizer.json; <paramref name="path"/> names it in errors.</summary>
    public static Tokenizer FromSpec(HfTokenizerSpec spec, string path)
    {
        int size = Math.Max(spec.Vocab.Values.Max(), spec.Added.Count == 0 ? 0 : spec.Added.Values.Max()) + 1;
        var bytes = new byte[size][];
        foreach (var (token, id) in spec.Vocab)
            bytes[id] = spec.SentencePiece
                ? SentencePieceBpe.IsByteToken(token, out byte b) ? [b] : Encoding.UTF8.GetBytes(token.Replace('\u2581', ' '))
                : ByteLevel.Decode(token) ?? Encoding.UTF8.GetBytes(token);
        foreach (var (content, id) in spec.Added) bytes[id] = Encoding.UTF8.GetBytes(content);
        for (int i = 0; i < size; i++) bytes[i] ??= [];
        string identity = CanonicalIdentity(spec, size);
        int? eot = new[] { EndOfTextToken, "<|end_of_text|>", "</s>" }.Select(t => spec.Added.TryGetValue(t, out int e) ? e : (int?)null).FirstOrDefault(e => e is not null);
        if (spec.SentencePiece)
            return new Tokenizer(new SentencePieceBpe(spec.Vocab, spec.Merges, spec.Added, path, spec.Metaspace, spec.PrefixFirstOnly), bytes, eot, identity)
            {
                BeginningOfSequence = spec.BeginningOfSequence,
            };
        var regex = new System.Text.RegularExpressions.Regex(spec.Pattern, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromMilliseconds(250));
        foreach (string probe in new[] { "a", " ", "1", "'", "a b", ".\n", "\u00e9" })
            if (regex.Match(probe) is { Success: true, Length: 0 })
                throw new InvalidInputException($"{path}: the pre-tokenizer regex matches an empty piece of text (in \"{probe.ReplaceLineEndings("\\n")}\"); a Split pattern must match at least one character.");
        var special = spec.Added.Count == 0 ? null : spec.Added;
        Microsoft.ML.Tokenizers.Tokenizer tokenizer;
        try
        {
            tokenizer = BpeTokenizer.Create(new BpeOptions(spec.Vocab)
            {
                Merges = spec.Merges, ByteLevel = true, PreTokenizer = new RegexPreTokenizer(regex, special), SpecialTokens = special,
            });
        }
        catch (Exception ex) when (ex is not InvalidInputException)
        {
            throw new InvalidInputException($"{path}: the tokenizer could not be built ({ex.Message.ReplaceLineEndings(" ")}).");
        }
        var backend = new ByteLevelBpeBackend(tokenizer, regex, special, spec.IgnoreMerges ? spec.Vocab : null, spec.Nfc, spec.IndividualDigits);
        return new Tokenizer(backend, bytes, eot, identity) { BeginningOfSequence = spec.BeginningOfSequence };
    }

    /// <summary>
    /// sha256 over what decides tokenization (every token in id order, the merges, the pre-tokenizer
    /// regex and switches), so that the same vocabulary compares equal in every file format.
    /// </summary>
    static string CanonicalIdentity(HfTokenizerSpec spec, int size)
    {
        var tokens = new string?[size];
        foreach (var (token, id) in spec.Vocab) tokens[id] = token;
        foreach (var (token, id) in spec.Added) tokens[id] = token;
        var text = new StringBuilder("bpe\n").Append(spec.Pattern).Append('\n').Append(spec.IgnoreMerges).Append(spec.Nfc).Append(spec.SentencePiece).Append(spec.Metaspace).Append(spec.PrefixFirstOnly).Append(spec.IndividualDigits).Append('\n');
        foreach (string? t in tokens) text.Append(t).Append('\n');
        text.Append("merges\n");
        foreach (string m in spec.Merges) text.Append(m).Append('\n');
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    public static Tokenizer Load(string vocabPath, string mergesPath)
    {
        foreach (var path in new[] { vocabPath, mergesPath })
            if (!File.Exists(path)) throw new InvalidInputException($"{path}: file not found; GPT-2 tokenizers need vocab.json and merges.txt.");
        byte[] vocabBytes = File.ReadAllBytes(vocabPath), mergesBytes = File.ReadAllBytes(mergesPath);
        var vocab = ParseVocabulary(vocabPath, vocabBytes);
        var bytes = new byte[vocab.Count][];
        foreach (var (token, id) in vocab)
            bytes[id] = ByteLevel.Decode(token) ?? Encoding.UTF8.GetBytes(token); // added tokens may be plain text
        int? eot = vocab.TryGetValue(EndOfTextToken, out int e2) ? e2 : null;
        Microsoft.ML.Tokenizers.Tokenizer tokenizer;
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
        var asSpec = new HfTokenizerSpec(vocab, [.. ReadMergeLines(mergesBytes)], Gpt2PreTokenizer.Pattern, [], IgnoreMerges: false, Nfc: false);
        return new Tokenizer(new ByteLevelBpeBackend(tokenizer), bytes, eot, identity) { VocabularyIdentity = CanonicalIdentity(asSpec, vocab.Count) };
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

    public static Tokenizer Load(ModelFolder folder) =>
        folder.TokenizerJsonPath is string json ? LoadTokenizerJson(json)
        : folder.TokenizerModelPath is string model ? LoadSentencePieceModel(model)
        : Load(folder.VocabPath, folder.MergesPath);

    /// <summary>
    /// A SentencePiece BPE tokenizer.model (Llama 2, TinyLlama, Mistral) through Microsoft.ML.Tokenizers'
    /// LlamaTokenizer. Its control and user-defined pieces (&lt;s&gt;, &lt;/s&gt;, ...) are matched in text as
    /// special tokens, as Hugging Face's tokenizers do; a BOS token starts every prompt unless
    /// tokenizer_config.json beside it sets add_bos_token false.
    /// </summary>
    public static Tokenizer LoadSentencePieceModel(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: file not found.");
        byte[] proto = File.ReadAllBytes(path);
        var model = SentencePieceModelFile.Parse(proto, path);
        bool addBos = TokenizerConfig.AddBos(Path.GetDirectoryName(Path.GetFullPath(path))!) ?? true;
        return FromSentencePieceModel(model, proto, path, addBos);
    }

    /// <summary>A tokenizer from a parsed SentencePiece model; <paramref name="proto"/> is its file (or <see cref="SentencePieceModelFile.ToBytes"/>).</summary>
    public static Tokenizer FromSentencePieceModel(SentencePieceModelFile model, byte[] proto, string source, bool addBos)
    {
        // Control, user-defined and unknown pieces (<s>, </s>, <unk>) are matched in text, as Hugging
        // Face's Llama tokenizers and llama.cpp do; the text between them is encoded segment by
        // segment, each with its own dummy-prefix space (Hugging Face's legacy behaviour, and llama.cpp's).
        var special = new Dictionary<string, int>();
        for (int id = 0; id < model.Pieces.Count; id++)
            if (model.Pieces[id].Type is PieceType.Control or PieceType.UserDefined or PieceType.Unknown && model.Pieces[id].Piece.Length > 0)
                special.TryAdd(model.Pieces[id].Piece, id);
        SentencePieceTokenizer tokenizer;
        try
        {
            using var stream = new MemoryStream(proto, writable: false);
            tokenizer = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (e is not InvalidInputException)
        {
            throw new InvalidInputException($"{source}: the SentencePiece model could not be loaded ({e.Message.ReplaceLineEndings(" ")}).");
        }
        var bytes = new byte[model.Pieces.Count][];
        for (int id = 0; id < bytes.Length; id++)
        {
            var p = model.Pieces[id];
            bytes[id] = p.Type == PieceType.Byte && SentencePieceBpe.IsByteToken(p.Piece, out byte b) ? [b]
                : Encoding.UTF8.GetBytes(p.Type == PieceType.Control ? p.Piece : p.Piece.Replace('\u2581', ' '));
        }
        int? eos = model.EndId >= 0 ? model.EndId : null;
        return new Tokenizer(new SentencePieceModelBackend(tokenizer, special, model.AddDummyPrefix), bytes, eos, model.ComputeIdentity())
        {
            BeginningOfSequence = addBos && model.BeginId >= 0 ? model.BeginId : null,
        };
    }

    /// <summary>A prompt's ids: <see cref="BeginningOfSequence"/> first when the tokenizer has one, then the text.</summary>
    public int[] EncodePrompt(string text) => BeginningOfSequence is int bos ? [bos, .. Encode(text)] : Encode(text);

    /// <summary>
    /// A prompt cut to at most <paramref name="maxTokens"/> ids: the words nearest the continuation
    /// are kept, and so is the beginning-of-sequence token.
    /// </summary>
    public int[] EncodePrompt(string text, int maxTokens, out bool truncated)
    {
        int[] ids = EncodePrompt(text);
        truncated = ids.Length > maxTokens;
        if (!truncated) return ids;
        return BeginningOfSequence is int bos && maxTokens > 1 ? [bos, .. ids[^(maxTokens - 1)..]] : ids[^maxTokens..];
    }

    public int[] Encode(string text)
    {
        try { return _backend.Encode(text); }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
        {
            // A tokenizer.json regex that backtracks without end is a broken file, not a crash.
            throw new InvalidInputException($"tokenizer: the pre-tokenizer regex took over 250 ms on one piece of text; the tokenizer.json pattern is not usable.");
        }
    }

    public ReadOnlySpan<byte> TokenBytes(int id) => _bytes[id];

    public string Decode(ReadOnlySpan<int> ids)
    {
        var buffer = new List<byte>();
        foreach (int id in ids) buffer.AddRange(_bytes[id]);
        string text = Encoding.UTF8.GetString(buffer.ToArray());
        // SentencePiece decoding drops the space its normalizer put before the text.
        return _backend.DropsLeadingSpace && text.StartsWith(' ') ? text[1..] : text;
    }

    public StreamingDecoder CreateStreamingDecoder() => new(this);

    /// <summary>Turns ids into text as they arrive, holding back the bytes of an unfinished UTF-8 character.</summary>
    public sealed class StreamingDecoder(Tokenizer tokenizer)
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
