using Sprinter.Engine;

namespace Sprinter.Models;

/// <summary>A loaded model folder: the weights, the tokenizer and where they came from.</summary>
public sealed class LanguageModel : IDisposable
{
    public required ModelFolder Folder { get; init; }
    public required TransformerModel Model { get; init; }
    public required Gpt2Tokenizer Tokenizer { get; init; }
    /// <summary>
    /// End-of-sequence ids: <c>eos_token_id</c> (one id or a list) of generation_config.json, else
    /// of config.json, else the tokenizer's end-of-text token. Generation stops at any of them.
    /// </summary>
    public IReadOnlySet<int> StopTokens { get; init; } = new HashSet<int>();
    public ModelConfig Config => Model.Config;
    public string Name => System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(Folder.Folder)));

    /// <summary>Loads and cross-checks a model folder (tokenizer size must equal config vocab_size).</summary>
    /// <param name="type">Run-time weight type; null picks <see cref="NativeWeightType"/>.</param>
    public static LanguageModel Load(string folder, WeightType? type = null)
    {
        var files = ModelFolder.Resolve(folder);
        var config = ModelConfig.Load(files.ConfigPath);
        var tokenizer = Gpt2Tokenizer.Load(files);
        if (tokenizer.VocabSize != config.VocabSize && !IsPadding(tokenizer.VocabSize, config.VocabSize))
            throw new InvalidInputException($"{files.TokenizerFiles}: the tokenizer has {tokenizer.VocabSize} tokens but config.json says vocab_size {config.VocabSize}; the files belong to different models.");
        using var st = files.OpenWeights();
        var model = TransformerModel.FromSafeTensors(config, st, type ?? NativeWeightType(st));
        model.LimitOutputVocabulary(tokenizer.VocabSize);
        return new LanguageModel { Folder = files, Model = model, Tokenizer = tokenizer, StopTokens = ReadStopTokens(files, tokenizer) };
    }

    static HashSet<int> ReadStopTokens(ModelFolder files, Gpt2Tokenizer tokenizer)
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
