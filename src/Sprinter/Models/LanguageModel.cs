using Sprinter.Engine;
using Sprinter.Models.Gguf;

namespace Sprinter.Models;

/// <summary>A loaded model (a Hugging Face folder or a GGUF file): the weights, the tokenizer and where they came from.</summary>
public sealed class LanguageModel : IDisposable
{
    /// <summary>The folder or .gguf file the model was loaded from.</summary>
    public required string Source { get; init; }
    /// <summary>The folder's files; null for a GGUF file.</summary>
    public ModelFolder? Folder { get; init; }
    /// <summary>The tokenizer's file(s), for messages.</summary>
    public required string TokenizerFiles { get; init; }
    public required TransformerModel Model { get; init; }
    public required Tokenizer Tokenizer { get; init; }
    /// <summary>
    /// End-of-sequence ids: <c>eos_token_id</c> (one id or a list) of generation_config.json, else
    /// of config.json, else the tokenizer's end-of-text token. Generation stops at any of them.
    /// </summary>
    public IReadOnlySet<int> StopTokens { get; init; } = new HashSet<int>();
    public ModelConfig Config => Model.Config;
    public string Name => IsGguf(Source) ? System.IO.Path.GetFileNameWithoutExtension(Source)
        : System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(Source)));
    ChatTemplate? _chatTemplate;
    bool _chatTemplateRead;

    /// <summary>The model's chat template (tokenizer_config.json's chat_template, or a GGUF file's tokenizer.chat_template); null when it has none.</summary>
    public ChatTemplate? ChatTemplate
    {
        get
        {
            if (!_chatTemplateRead) (_chatTemplate, _chatTemplateRead) = (Folder is null ? _chatTemplate : ChatTemplate.Load(Folder.Folder), true);
            return _chatTemplate;
        }
        init => (_chatTemplate, _chatTemplateRead) = (value, true);
    }

    /// <summary>Refuses, with one line, a draft and target that do not share one tokenizer (speculation compares their token ids).</summary>
    public static void CheckPair(LanguageModel draft, LanguageModel target)
    {
        if (draft.Model.OutputVocabulary != target.Model.OutputVocabulary)
            throw new InvalidInputException($"the draft ({draft.Source}) has {draft.Model.OutputVocabulary} tokens but the target ({target.Source}) has {target.Model.OutputVocabulary}; pick a pair that shares one tokenizer.");
        if (draft.Tokenizer.VocabularyIdentity != target.Tokenizer.VocabularyIdentity)
            throw new InvalidInputException($"the draft ({draft.TokenizerFiles}) and the target ({target.TokenizerFiles}) have different tokenizers; pick a pair that shares one tokenizer.");
    }

    /// <summary>A path names a GGUF file when it is a file ending in .gguf.</summary>
    public static bool IsGguf(string path) => path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && !Directory.Exists(path);

    /// <summary>sha256 of the weights and configuration (the folder's files, or the whole GGUF file): what a verifier is bound to.</summary>
    public string ComputeIdentity()
    {
        if (Folder is not null) return Folder.ComputeIdentity();
        using var stream = File.OpenRead(Source);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }

    /// <summary>The configuration of a model folder or GGUF file, without loading its weights.</summary>
    public static ModelConfig ReadConfig(string path)
    {
        if (!IsGguf(path)) return ModelConfig.Load(ModelFolder.Resolve(path).ConfigPath);
        using var file = GgufFile.Open(path);
        return GgufModel.ReadConfig(file);
    }

    /// <summary>Loads and cross-checks a model folder (tokenizer size must equal config vocab_size) or a .gguf file.</summary>
    /// <param name="type">Run-time weight type; null picks <see cref="NativeWeightType"/> (for GGUF, <see cref="GgufModel.AutoWeightType"/>).</param>
    public static LanguageModel Load(string folder, WeightType? type = null)
    {
        if (IsGguf(folder)) return LoadGguf(folder, type);
        var files = ModelFolder.Resolve(folder);
        var config = ModelConfig.Load(files.ConfigPath);
        var tokenizer = Tokenizer.Load(files);
        if (tokenizer.VocabSize != config.VocabSize && !IsPadding(tokenizer.VocabSize, config.VocabSize))
            throw new InvalidInputException($"{files.TokenizerFiles}: the tokenizer has {tokenizer.VocabSize} tokens but config.json says vocab_size {config.VocabSize}; the files belong to different models.");
        using var st = files.OpenWeights();
        var model = TransformerModel.FromSafeTensors(config, st, type ?? NativeWeightType(st));
        model.LimitOutputVocabulary(tokenizer.VocabSize);
        return new LanguageModel
        {
            Source = folder, Folder = files, TokenizerFiles = files.TokenizerFiles, Model = model, Tokenizer = tokenizer, StopTokens = ReadStopTokens(files, tokenizer),
        };
    }

    static LanguageModel LoadGguf(string path, WeightType? type)
    {
        using var file = GgufFile.Open(path);
        var config = GgufModel.ReadConfig(file);
        var tokenizer = GgufTokenizer.Read(file);
        if (tokenizer.VocabSize != config.VocabSize && !IsPadding(tokenizer.VocabSize, config.VocabSize))
            throw new InvalidInputException($"{path}: the embedded tokenizer has {tokenizer.VocabSize} tokens but token_embd.weight has {config.VocabSize} rows; the file is inconsistent.");
        var model = GgufModel.Load(file, config, type);
        model.LimitOutputVocabulary(tokenizer.VocabSize);
        return new LanguageModel
        {
            Source = path, TokenizerFiles = $"{path} (embedded tokenizer)", Model = model, Tokenizer = tokenizer,
            StopTokens = GgufTokenizer.StopTokens(file, tokenizer), ChatTemplate = GgufTokenizer.ReadChatTemplate(file),
        };
    }

    static HashSet<int> ReadStopTokens(ModelFolder files, Tokenizer tokenizer)
    {
        foreach (string path in new[] { System.IO.Path.Combine(files.Folder, "generation_config.json"), files.ConfigPath })
        {
            if (!File.Exists(path)) continue;
            System.Text.Json.Nodes.JsonNode? node;
            try { node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))?["eos_token_id"]; }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
            {
                throw new InvalidInputException($"{path}: not valid JSON ({e.Message.ReplaceLineEndings(" ")}).");
            }
            if (node is null) continue;
            var ids = node is System.Text.Json.Nodes.JsonArray list ? list.ToList() : [node];
            var set = new HashSet<int>();
            foreach (var id in ids)
                if (id is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out int n) && n >= 0 && n < tokenizer.VocabSize) set.Add(n);
                else throw new InvalidInputException($"{path}: field 'eos_token_id' holds {id?.ToJsonString() ?? "null"}, not a token id below {tokenizer.VocabSize}.");
            return set;
        }
        return tokenizer.EndOfText is int eot ? [eot] : [];
    }

    /// <summary>
    /// Embedding rows padded past the tokenizer to a multiple of 64 (Qwen: 151,665 tokens in 151,936
    /// or 152,064 rows) are accepted and hidden; any other size difference means mismatched files.
    /// </summary>
    static bool IsPadding(int tokens, int rows) => tokens < rows && rows % 64 == 0 && rows - tokens < 1024;

    /// <summary>
    /// BF16 when every tensor of the file is stored as bf16 (running them as bf16 is then exact and
    /// reads half the bytes per token), else F32 (fp16 has more mantissa than bf16 keeps).
    /// </summary>
    public static WeightType NativeWeightType(SafeTensorsSet file) =>
        file.Tensors.Values.All(t => t.DType == TensorDType.BF16) ? WeightType.BF16 : WeightType.F32;

    public void Dispose() => Model.Dispose();
}
