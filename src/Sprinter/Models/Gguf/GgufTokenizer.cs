namespace Sprinter.Models.Gguf;

/// <summary>
/// The tokenizer a GGUF file embeds, built on the same tokenizers as Hugging Face folders:
/// <c>tokenizer.ggml.model</c> <c>gpt2</c> (byte-level BPE: tokens + merges, the pre-tokenizer regex
/// named by <c>tokenizer.ggml.pre</c>: gpt-2, llama-bpe, qwen2, smollm) goes through <see cref="Tokenizer.FromSpec"/>, and
/// <c>llama</c> (SentencePiece: tokens + scores + token types, byte fallback) is written as a
/// SentencePiece model and goes through Microsoft.ML.Tokenizers' LlamaTokenizer. llama.cpp's token
/// types have SentencePiece's numbering (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
/// </summary>
public static class GgufTokenizer
{
    /// <summary>The pre-tokenizer regexes of tokenizer.ggml.pre names, as the models' tokenizer.json files write them.</summary>
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    public const string Qwen2Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static Tokenizer Read(GgufFile f)
    {
        string kind = f.Get<string>("tokenizer.ggml.model") ?? throw Error(f, "tokenizer.ggml.model", "is missing; the file has no tokenizer");
        string[] tokens = f.Get<string[]>("tokenizer.ggml.tokens") ?? throw Error(f, "tokenizer.ggml.tokens", "is missing");
        if (tokens.Length == 0) throw Error(f, "tokenizer.ggml.tokens", "is empty");
        int[] types = TokenTypes(f, tokens.Length);
        int? Id(string key)
        {
            int? id = f.GetInt(key);
            if (id is int n && (n < 0 || n >= tokens.Length)) throw Error(f, key, $"is {n}, outside the {tokens.Length} tokens");
            return id;
        }
        int? bos = Id("tokenizer.ggml.bos_token_id"), eos = Id("tokenizer.ggml.eos_token_id");
        return kind switch
        {
            "llama" => SentencePiece(f, tokens, types, bos, eos, Id("tokenizer.ggml.unknown_token_id"), Id("tokenizer.ggml.padding_token_id")),
            "gpt2" => ByteLevelBpe(f, tokens, types, bos),
            _ => throw Error(f, "tokenizer.ggml.model", $"is '{GgufFile.Flat(kind)}'; supported: gpt2 (byte-level BPE) and llama (SentencePiece)"),
        };
    }

    /// <summary>End-of-sequence ids: eos, and the end-of-turn / end-of-message ids chat models stop at.</summary>
    public static HashSet<int> StopTokens(GgufFile f, Tokenizer tokenizer)
    {
        var set = new HashSet<int>();
        foreach (string key in new[] { "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" })
            if (f.GetInt(key) is int id && id >= 0 && id < tokenizer.VocabSize) set.Add(id);
        if (set.Count == 0 && tokenizer.EndOfText is int eot) set.Add(eot);
        return set;
    }

    /// <summary>tokenizer.chat_template, with the BOS and EOS texts its templates refer to; null when absent.</summary>
    public static ChatTemplate? ReadChatTemplate(GgufFile f)
    {
        string? template = f.Get<string>("tokenizer.chat_template");
        if (template is null) return null;
        string[] tokens = f.Get<string[]>("tokenizer.ggml.tokens") ?? [];
        string? Text(string key) => f.GetInt(key) is int id && id >= 0 && id < tokens.Length ? tokens[id] : null;
        return new ChatTemplate(template, Text("tokenizer.ggml.bos_token_id"), Text("tokenizer.ggml.eos_token_id"));
    }

    static int[] TokenTypes(GgufFile f, int count)
    {
        if (!f.Metadata.ContainsKey("tokenizer.ggml.token_type")) return Enumerable.Repeat((int)PieceType.Normal, count).ToArray();
        int[] types = f.Get<int[]>("tokenizer.ggml.token_type")!;
        if (types.Length != count) throw Error(f, "tokenizer.ggml.token_type", $"has {types.Length} entries for {count} tokens");
        return types;
    }

    static Tokenizer SentencePiece(GgufFile f, string[] tokens, int[] types, int? bos, int? eos, int? unk, int? pad)
    {
        float[] scores = f.Get<float[]>("tokenizer.ggml.scores") ?? throw Error(f, "tokenizer.ggml.scores", "is missing; a llama (SentencePiece) vocabulary needs them");
        if (scores.Length != tokens.Length) throw Error(f, "tokenizer.ggml.scores", $"has {scores.Length} entries for {tokens.Length} tokens");
        var pieces = new SentencePiece[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
        {
            if (types[i] is < 1 or > 6) throw Error(f, "tokenizer.ggml.token_type", $"gives token {i} type {types[i]}, not 1..6");
            pieces[i] = new SentencePiece(tokens[i], scores[i], (PieceType)types[i]);
        }
        var model = new SentencePieceModelFile(pieces, SentencePieceModelFile.Bpe,
            ByteFallback: pieces.Any(p => p.Type == PieceType.Byte),
            AddDummyPrefix: f.GetBool("tokenizer.ggml.add_space_prefix") ?? true,
            RemoveExtraWhitespaces: f.GetBool("tokenizer.ggml.remove_extra_whitespaces") ?? false,
            EscapeWhitespaces: true, UnknownId: unk ?? 0, BeginId: bos ?? -1, EndId: eos ?? -1, PadId: pad ?? -1);
        // The checks of a tokenizer.model file apply to the vocabulary as GGUF carries it.
        model = model.Validate($"{f.Path} (tokenizer.ggml.*)");
        return Tokenizer.FromSentencePieceModel(model, model.ToBytes(), f.Path, f.GetBool("tokenizer.ggml.add_bos_token") ?? true);
    }

    static Tokenizer ByteLevelBpe(GgufFile f, string[] tokens, int[] types, int? bos)
    {
        string[] merges = f.Get<string[]>("tokenizer.ggml.merges") ?? throw Error(f, "tokenizer.ggml.merges", "is missing; a gpt2 (byte-level BPE) vocabulary needs them");
        foreach (string m in merges)
            if (m.Split(' ').Length != 2) throw Error(f, "tokenizer.ggml.merges", $"holds '{GgufFile.Flat(m)}', not a pair 'left right'");
        string pre = f.Get<string>("tokenizer.ggml.pre") ?? "default";
        var (pattern, ignoreMerges, nfc, digits) = pre switch
        {
            "default" or "gpt-2" or "gpt2" => (Gpt2PreTokenizer.Pattern, false, false, false),
            "llama-bpe" or "llama3" or "llama-v3" or "smaug-bpe" => (Llama3Pattern, true, false, false),
            "qwen2" => (Qwen2Pattern, false, true, false),
            "smollm" => (Gpt2PreTokenizer.Pattern, false, false, true),   // each digit alone, then GPT-2's regex
            _ => throw Error(f, "tokenizer.ggml.pre", $"is '{GgufFile.Flat(pre)}'; supported pre-tokenizers: gpt-2, llama-bpe, qwen2, smollm"),
        };
        var vocab = new Dictionary<string, int>(tokens.Length);
        var added = new Dictionary<string, int>();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (!vocab.TryAdd(tokens[i], i)) throw Error(f, "tokenizer.ggml.tokens", $"holds '{GgufFile.Flat(tokens[i])}' twice (ids {vocab[tokens[i]]} and {i})");
            if (types[i] is (int)PieceType.Control or (int)PieceType.UserDefined && tokens[i].Length > 0) added[tokens[i]] = i;
        }
        var spec = new HfTokenizerSpec(vocab, [.. merges], pattern, added, ignoreMerges, nfc,
            f.GetBool("tokenizer.ggml.add_bos_token") == true ? bos : null, IndividualDigits: digits);
        return Tokenizer.FromSpec(spec, f.Path);
    }

    static InvalidInputException Error(GgufFile f, string key, string what) => new($"{f.Path}: metadata '{key}' {what}.");
}
