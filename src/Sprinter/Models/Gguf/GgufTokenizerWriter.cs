namespace Sprinter.Models.Gguf;

/// <summary>
/// The tokenizer.* metadata of a GGUF file written from a model folder, in llama.cpp's layout:
/// vocab.json + merges.txt or a byte-level tokenizer.json become <c>gpt2</c> (tokens, token types,
/// merges, and the <c>tokenizer.ggml.pre</c> name of its regex); a SentencePiece tokenizer.model
/// becomes <c>llama</c> (tokens, scores, token types). BOS/EOS ids, add_bos_token and the chat
/// template come along, so the file is complete on its own.
/// </summary>
public static class GgufTokenizerWriter
{
    const int Normal = 1, Control = 3, UserDefined = 4, Unused = 5;
    const string EndOfText = "<|endoftext|>";

    public static List<(string Key, object Value)> Metadata(ModelConfig c, ModelFolder files)
    {
        var meta = files.TokenizerModelPath is string model ? SentencePiece(c, model)
            : files.TokenizerJsonPath is string json ? TokenizerJson(c, json)
            : VocabAndMerges(c, files);
        if (ChatTemplate.Load(files.Folder) is { } template) meta.Add(("tokenizer.chat_template", template.Source));
        return meta;
    }

    static List<(string, object)> SentencePiece(ModelConfig c, string path)
    {
        var model = SentencePieceModelFile.Parse(File.ReadAllBytes(path), path);
        if (model.Pieces.Count != c.VocabSize)
            throw new InvalidInputException($"{path}: {model.Pieces.Count} pieces but config.json says vocab_size {c.VocabSize}; GGUF output needs one token per embedding row.");
        var meta = new List<(string, object)>
        {
            ("tokenizer.ggml.model", "llama"),
            ("tokenizer.ggml.tokens", model.Pieces.Select(p => p.Piece).ToArray()),
            ("tokenizer.ggml.scores", model.Pieces.Select(p => p.Score).ToArray()),
            ("tokenizer.ggml.token_type", model.Pieces.Select(p => (int)p.Type).ToArray()),
            ("tokenizer.ggml.unknown_token_id", (uint)model.UnknownId),
            ("tokenizer.ggml.add_bos_token", TokenizerConfig.AddBos(Path.GetDirectoryName(Path.GetFullPath(path))!) ?? true),
            ("tokenizer.ggml.add_space_prefix", model.AddDummyPrefix),
        };
        if (model.BeginId >= 0) meta.Add(("tokenizer.ggml.bos_token_id", (uint)model.BeginId));
        if (model.EndId >= 0) meta.Add(("tokenizer.ggml.eos_token_id", (uint)model.EndId));
        return meta;
    }

    static List<(string, object)> TokenizerJson(ModelConfig c, string path)
    {
        var spec = HfTokenizerJson.Load(path);
        if (spec.SentencePiece)
            throw new InvalidInputException($"{path}: a SentencePiece-style tokenizer.json; GGUF output writes such vocabularies from tokenizer.model, which this folder lacks.");
        string pre = spec.Pattern switch
        {
            Gpt2PreTokenizer.Pattern when spec.IndividualDigits => "smollm",
            Gpt2PreTokenizer.Pattern => "gpt-2",
            GgufTokenizer.Llama3Pattern => "llama-bpe",
            GgufTokenizer.Qwen2Pattern => "qwen2",
            _ => throw new InvalidInputException($"{path}: the pre-tokenizer regex is none that llama.cpp names (gpt-2, llama-bpe, qwen2, smollm); GGUF output cannot say how to split text."),
        };
        var tokens = new string?[c.VocabSize];
        var types = new int[c.VocabSize];
        foreach (var (token, id) in spec.Vocab) Put(tokens, types, token, id, Normal, path, c);
        foreach (var (token, id) in spec.Added) Put(tokens, types, token, id, Control, path, c);
        var meta = Common(tokens, types, spec.Merges.ToArray(), pre);
        if (spec.BeginningOfSequence is int bos)
        {
            meta.Add(("tokenizer.ggml.bos_token_id", (uint)bos));
            meta.Add(("tokenizer.ggml.add_bos_token", true));
        }
        int? eos = new[] { EndOfText, "<|end_of_text|>", "<|im_end|>" }.Select(t => spec.Added.TryGetValue(t, out int e) ? e : (int?)null).FirstOrDefault(e => e is not null);
        if (eos is int e) meta.Add(("tokenizer.ggml.eos_token_id", (uint)e));
        return meta;
    }

    static List<(string, object)> VocabAndMerges(ModelConfig c, ModelFolder files)
    {
        var vocab = Tokenizer.ParseVocabulary(files.VocabPath, File.ReadAllBytes(files.VocabPath));
        var tokens = new string?[c.VocabSize];
        var types = new int[c.VocabSize];
        foreach (var (token, id) in vocab)
            Put(tokens, types, token, id, token == EndOfText ? Control : ByteLevel.Decode(token) is null ? UserDefined : Normal, files.VocabPath, c);
        var meta = Common(tokens, types, ReadMerges(files.MergesPath), "gpt-2");
        if (vocab.TryGetValue(EndOfText, out int endOfText))
        {
            meta.Add(("tokenizer.ggml.bos_token_id", (uint)endOfText));
            meta.Add(("tokenizer.ggml.eos_token_id", (uint)endOfText));
        }
        return meta;
    }

    static void Put(string?[] tokens, int[] types, string token, int id, int type, string path, ModelConfig c)
    {
        if (id >= c.VocabSize)
            throw new InvalidInputException($"{path}: token id {id} is beyond config.json's vocab_size {c.VocabSize}; the tokenizer does not belong to this model.");
        tokens[id] = token;
        types[id] = type;
    }

    /// <summary>
    /// llama.cpp sizes the vocabulary from the token list, which must match the embedding rows: a
    /// model padded beyond its tokenizer gets unused filler tokens (as HF's converter does).
    /// </summary>
    static List<(string, object)> Common(string?[] tokens, int[] types, string[] merges, string pre)
    {
        for (int id = 0; id < tokens.Length; id++)
            if (tokens[id] is null) (tokens[id], types[id]) = ($"[PAD{id}]", Unused);
        return
        [
            ("tokenizer.ggml.model", "gpt2"),
            ("tokenizer.ggml.pre", pre),
            ("tokenizer.ggml.tokens", tokens.Select(t => t!).ToArray()),
            ("tokenizer.ggml.token_type", types),
            ("tokenizer.ggml.merges", merges),
        ];
    }

    /// <summary>The merge rules of merges.txt ("left right" per line), without the #version header.</summary>
    static string[] ReadMerges(string path)
    {
        var merges = new List<string>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if ((lineNumber == 1 && line.StartsWith("#version")) || line.Length == 0) continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
                throw new InvalidInputException($"{path}: line {lineNumber} is not a merge rule 'left right'; the file is not a GPT-2 merges.txt.");
            merges.Add(line);
        }
        return [.. merges];
    }
}
