using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sprinter.Models;

/// <summary>The fields of a Hugging Face GPT-2 <c>config.json</c> that the engine uses.</summary>
public sealed record ModelConfig
{
    public int EmbeddingSize { get; init; }      // n_embd
    public int LayerCount { get; init; }         // n_layer
    public int HeadCount { get; init; }          // n_head
    public int MaxPositions { get; init; }       // n_positions
    public int VocabSize { get; init; }          // vocab_size
    public int InnerSize { get; init; }          // n_inner (null in the file means 4 * n_embd)
    public float LayerNormEpsilon { get; init; } = 1e-5f;
    public bool TieWordEmbeddings { get; init; } = true;

    public int HeadSize => EmbeddingSize / HeadCount;

    /// <summary>Parameters of the model, counting tied embeddings once and a separate lm_head when present.</summary>
    public long ParameterCount(bool separateLmHead = false)
    {
        long d = EmbeddingSize, f = InnerSize;
        long perLayer = 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + 2 * d + (d * f + f) + (f * d + d);
        long total = (long)VocabSize * d + (long)MaxPositions * d + LayerCount * perLayer + 2 * d;
        if (separateLmHead) total += (long)VocabSize * d;
        return total;
    }

    public void Validate(string source)
    {
        void Require(bool ok, string field, string what)
        {
            if (!ok) throw new InvalidInputException($"{source}: field '{field}' {what}.");
        }
        Require(EmbeddingSize > 0, "n_embd", "must be a positive integer");
        Require(LayerCount > 0, "n_layer", "must be a positive integer");
        Require(HeadCount > 0, "n_head", "must be a positive integer");
        Require(EmbeddingSize % HeadCount == 0, "n_head", $"must divide n_embd ({EmbeddingSize})");
        Require(MaxPositions > 0, "n_positions", "must be a positive integer");
        Require(VocabSize > 0, "vocab_size", "must be a positive integer");
        Require(InnerSize > 0, "n_inner", "must be a positive integer or null");
        Require(LayerNormEpsilon > 0 && float.IsFinite(LayerNormEpsilon), "layer_norm_epsilon", "must be a positive number");
    }

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new InvalidInputException($"{path}: file not found; a model folder needs config.json, model.safetensors, vocab.json and merges.txt.");
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                   ?? throw new InvalidInputException($"{path}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{path}: not valid JSON ({e.Message}).");
        }
        return FromJson(json, path);
    }

    public static ModelConfig FromJson(JsonObject json, string source)
    {
        string? modelType = json["model_type"]?.GetValue<string>();
        if (modelType is not null && modelType != "gpt2")
            throw new InvalidInputException($"{source}: field 'model_type' is '{modelType}'; only 'gpt2' models are supported.");
        string activation = GetString(json, "activation_function", source) ?? "gelu_new";
        if (activation is not ("gelu_new" or "gelu_pytorch_tanh" or "gelu_fast"))
            throw new InvalidInputException($"{source}: field 'activation_function' is '{activation}'; only the tanh GELU ('gelu_new') is supported.");

        int d = GetInt(json, "n_embd", source, required: true)!.Value;
        var config = new ModelConfig
        {
            EmbeddingSize = d,
            LayerCount = GetInt(json, "n_layer", source, required: true)!.Value,
            HeadCount = GetInt(json, "n_head", source, required: true)!.Value,
            MaxPositions = GetInt(json, "n_positions", source, required: false) ?? GetInt(json, "n_ctx", source, required: true)!.Value,
            VocabSize = GetInt(json, "vocab_size", source, required: true)!.Value,
            InnerSize = GetInt(json, "n_inner", source, required: false) ?? 4 * d,
            LayerNormEpsilon = GetFloat(json, "layer_norm_epsilon", source) ?? 1e-5f,
            TieWordEmbeddings = GetBool(json, "tie_word_embeddings", source) ?? true,
        };
        config.Validate(source);
        return config;
    }

    public JsonObject ToJson() => new()
    {
        ["model_type"] = "gpt2",
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["n_embd"] = EmbeddingSize,
        ["n_layer"] = LayerCount,
        ["n_head"] = HeadCount,
        ["n_positions"] = MaxPositions,
        ["n_ctx"] = MaxPositions,
        ["n_inner"] = InnerSize == 4 * EmbeddingSize ? null : InnerSize,
        ["vocab_size"] = VocabSize,
        ["layer_norm_epsilon"] = LayerNormEpsilon,
        ["activation_function"] = "gelu_new",
        ["tie_word_embeddings"] = TieWordEmbeddings,
        ["bos_token_id"] = VocabSize - 1,
        ["eos_token_id"] = VocabSize - 1,
    };

    public void Save(string path) =>
        File.WriteAllText(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    static int? GetInt(JsonObject json, string key, string source, bool required)
    {
        JsonNode? node = json[key];
        if (node is null)
        {
            if (required) throw new InvalidInputException($"{source}: missing field '{key}'; GPT-2 config.json files have it.");
            return null;
        }
        if (node is JsonValue v && v.TryGetValue(out long l) && l is > 0 and <= int.MaxValue) return (int)l;
        if (node is JsonValue v2 && v2.TryGetValue(out double dbl) && dbl == Math.Floor(dbl) && dbl is > 0 and <= int.MaxValue) return (int)dbl;
        throw new InvalidInputException($"{source}: field '{key}' must be a positive integer, got {node.ToJsonString()}.");
    }

    static float? GetFloat(JsonObject json, string key, string source)
    {
        JsonNode? node = json[key];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue(out double d)) return (float)d;
        throw new InvalidInputException($"{source}: field '{key}' must be a number, got {node.ToJsonString()}.");
    }

    static bool? GetBool(JsonObject json, string key, string source)
    {
        JsonNode? node = json[key];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue(out bool b)) return b;
        throw new InvalidInputException($"{source}: field '{key}' must be true or false, got {node.ToJsonString()}.");
    }

    static string? GetString(JsonObject json, string key, string source)
    {
        JsonNode? node = json[key];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue(out string? s)) return s;
        throw new InvalidInputException($"{source}: field '{key}' must be a string, got {node.ToJsonString()}.");
    }
}
