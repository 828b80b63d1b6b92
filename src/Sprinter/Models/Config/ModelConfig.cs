using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sprinter.Models;

/// <summary>
/// The fields of a Hugging Face <c>config.json</c> that the engine uses: the sizes, and the
/// architecture as data (norm, positions, MLP, key/value heads, biases), so every family is a
/// configuration of one transformer (the families and their rules: <see cref="Architectures"/>).
/// The defaults are GPT-2's, the layout of the shipped models.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>config.json's model_type: the family (<see cref="Architectures.All"/>) whose rules and tensor names apply.</summary>
    public string ModelType { get; init; } = "gpt2";
    public NormKind Norm { get; init; } = NormKind.LayerNorm;
    public PositionKind Positions { get; init; } = PositionKind.Learned;
    /// <summary>RoPE base (rope_theta) when <see cref="Positions"/> is RoPE.</summary>
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>Scaled rotary frequencies (rope_scaling), or null.</summary>
    public RopeScaling? RopeScaling { get; init; }
    public MlpKind Mlp { get; init; } = MlpKind.GeluTanh;
    /// <summary>Key/value heads (grouped-query attention); 0 means one per query head.</summary>
    public int KeyValueHeadCount { get; init; }
    /// <summary>Biases on the q, k and v projections (GPT-2, Qwen2).</summary>
    public bool QkvBias { get; init; } = true;
    /// <summary>Biases on the attention output and MLP projections (GPT-2, GPT-Neo).</summary>
    public bool LinearBias { get; init; } = true;

    public int KeyValueHeads => KeyValueHeadCount == 0 ? HeadCount : KeyValueHeadCount;
    /// <summary>Width of one position's keys (or values): key/value heads x head size.</summary>
    public int KeyValueSize => KeyValueHeads * HeadSize;
    public int EmbeddingSize { get; init; }      // n_embd
    public int LayerCount { get; init; }         // n_layer
    public int HeadCount { get; init; }          // n_head
    public int MaxPositions { get; init; }       // n_positions
    public int VocabSize { get; init; }          // vocab_size
    public int InnerSize { get; init; }          // n_inner (null in the file means 4 * n_embd)
    public float LayerNormEpsilon { get; init; } = 1e-5f;
    public bool TieWordEmbeddings { get; init; } = true;

    /// <summary>head_dim when the family sets its own (Qwen3), else 0: n_embd / n_head.</summary>
    public int HeadDimension { get; init; }
    /// <summary>RMSNorm of each query and key head before the rotation (Qwen3).</summary>
    public bool QueryKeyNorm { get; init; }
    /// <summary>Attention scores divided by sqrt(head size); GPT-Neo leaves them unscaled.</summary>
    public bool ScaledAttention { get; init; } = true;
    /// <summary>Layers that attend only to the last <see cref="LocalWindow"/> positions (GPT-Neo's "local" layers); empty: none.</summary>
    public IReadOnlyList<int> LocalLayers { get; init; } = [];
    public int LocalWindow { get; init; }

    public int HeadSize => HeadDimension != 0 ? HeadDimension : EmbeddingSize / HeadCount;
    /// <summary>Width of one position's queries (and of the attention output): heads x head size.</summary>
    public int QuerySize => HeadCount * HeadSize;

    /// <summary>Parameters of the model, counting tied embeddings once and a separate lm_head when present.</summary>
    public long ParameterCount(bool separateLmHead = false)
    {
        long d = EmbeddingSize, f = InnerSize, kv = KeyValueSize, norm = Norm == NormKind.LayerNorm ? 2 * d : d;
        long q = QuerySize;
        long attention = d * (q + 2 * kv) + (QkvBias ? q + 2 * kv : 0) + q * d + (LinearBias ? d : 0) + (QueryKeyNorm ? 2L * HeadSize : 0);
        long mlp = Mlp == MlpKind.SwiGlu ? 3 * d * f + (LinearBias ? 2 * f + d : 0) : 2 * d * f + (LinearBias ? f + d : 0);
        long perLayer = 2 * norm + attention + mlp;
        long positions = Positions == PositionKind.Learned ? (long)MaxPositions * d : 0;
        long total = (long)VocabSize * d + positions + LayerCount * perLayer + norm;
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
        Require(HeadDimension != 0 || EmbeddingSize % HeadCount == 0, "n_head", $"must divide n_embd ({EmbeddingSize})");
        Require(HeadDimension >= 0, "head_dim", "must be a positive integer");
        Require(LocalLayers.Count == 0 || LocalWindow > 0, "window_size", "must be a positive integer when layers attend locally");
        Require(LocalLayers.All(l => l >= 0 && l < LayerCount), "attention_types", "names a layer outside num_layers");
        Require(MaxPositions > 0, "n_positions", "must be a positive integer");
        Require(VocabSize > 0, "vocab_size", "must be a positive integer");
        Require(InnerSize > 0, "n_inner", "must be a positive integer or null");
        Require(LayerNormEpsilon > 0 && float.IsFinite(LayerNormEpsilon), "layer_norm_epsilon", "must be a positive number");
        Require(KeyValueHeadCount >= 0 && HeadCount % KeyValueHeads == 0, "num_key_value_heads", $"must divide the attention heads ({HeadCount})");
        Require(Positions != PositionKind.Rope || HeadSize % 2 == 0, "num_attention_heads", "must leave an even head size for rotary positions");
        Require(RopeTheta > 0 && float.IsFinite(RopeTheta), "rope_theta", "must be a positive number");
    }

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new InvalidInputException($"{path}: file not found; a model folder needs config.json, safetensors weights and tokenizer files.");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses config.json text; <paramref name="source"/> names it in errors.</summary>
    public static ModelConfig Parse(string text, string source)
    {
        try
        {
            var json = JsonNode.Parse(text) as JsonObject ?? throw new InvalidInputException($"{source}: expected a JSON object.");
            return FromJson(json, source);
        }
        catch (JsonException e)
        {
            throw new InvalidInputException($"{source}: not valid JSON ({e.Message}).");
        }
        catch (ArgumentException e)   // System.Text.Json reports a repeated key this way
        {
            throw new InvalidInputException($"{source}: not a valid config ({e.Message}).");
        }
    }

    /// <summary>A config.json object: its model_type (gpt2 when absent, as in GPT-2's own files) picks the family's rules.</summary>
    public static ModelConfig FromJson(JsonObject json, string source) =>
        Architectures.Find(GetString(json, "model_type", source) ?? "gpt2", source).FromJson(json, source);

    public JsonObject ToJson() => Architectures.ToJson(this);

    public void Save(string path) =>
        File.WriteAllText(path, ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    internal static int? GetInt(JsonObject json, string key, string source, bool required)
    {
        JsonNode? node = json[key];
        if (node is null)
        {
            if (required) throw new InvalidInputException($"{source}: missing field '{key}'; config.json files of this model type have it.");
            return null;
        }
        if (node is JsonValue v && v.TryGetValue(out long l) && l is > 0 and <= int.MaxValue) return (int)l;
        if (node is JsonValue v2 && v2.TryGetValue(out double dbl) && dbl == Math.Floor(dbl) && dbl is > 0 and <= int.MaxValue) return (int)dbl;
        throw new InvalidInputException($"{source}: field '{key}' must be a positive integer, got {node.ToJsonString()}.");
    }

    internal static float? GetFloat(JsonObject json, string key, string source)
    {
        JsonNode? node = json[key];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue(out double d)) return (float)d;
        throw new InvalidInputException($"{source}: field '{key}' must be a number, got {node.ToJsonString()}.");
    }

    internal static bool? GetBool(JsonObject json, string key, string source)
    {
        JsonNode? node = json[key];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue(out bool b)) return b;
        throw new InvalidInputException($"{source}: field '{key}' must be true or false, got {node.ToJsonString()}.");
    }

    internal static string? GetString(JsonObject json, string key, string source)
    {
        JsonNode? node = json[key];
        if (node is null) return null;
        if (node is JsonValue v && v.TryGetValue(out string? s)) return s;
        throw new InvalidInputException($"{source}: field '{key}' must be a string, got {node.ToJsonString()}.");
    }
}
