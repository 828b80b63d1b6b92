using System.Text.Json.Nodes;

namespace Sprinter.Models;

public enum NormKind { LayerNorm, RmsNorm }

/// <summary>
/// Hugging Face rope_scaling: <c>linear</c> divides every rotary frequency by Factor; <c>llama3</c>
/// (Llama 3.1 / 3.2) divides the low frequencies by Factor, keeps the high ones and blends between,
/// by wavelength against OriginalMaxPositions / LowFrequencyFactor and / HighFrequencyFactor;
/// <c>dynamic</c> (NTK) raises the base only for sequences longer than max_position_embeddings, and the
/// engine's context never exceeds that, so within it dynamic scaling leaves every frequency as it is,
/// as in Hugging Face.
/// </summary>
public sealed record RopeScaling(string Type, float Factor, float LowFrequencyFactor = 1, float HighFrequencyFactor = 4, int OriginalMaxPositions = 8192)
{
    /// <summary>For <c>divisors</c>: each rotary pair's frequency divisor, as GGUF files store Llama 3.1+
    /// scaling (the tensor rope_freqs.weight, one value per pair).</summary>
    public IReadOnlyList<float>? FrequencyDivisors { get; init; }

    /// <summary>The scaled inverse frequency of rotary pair <paramref name="pair"/>, from the unscaled one.</summary>
    public double Scale(double inverseFrequency, int pair)
    {
        if (Type == "linear") return inverseFrequency / Factor;
        if (Type == "dynamic") return inverseFrequency;
        if (Type == "divisors") return inverseFrequency / FrequencyDivisors![pair];
        double wavelength = 2 * Math.PI / inverseFrequency;
        double lowWavelength = OriginalMaxPositions / LowFrequencyFactor, highWavelength = OriginalMaxPositions / HighFrequencyFactor;
        if (wavelength < highWavelength) return inverseFrequency;
        if (wavelength > lowWavelength) return inverseFrequency / Factor;
        double smooth = (OriginalMaxPositions / wavelength - LowFrequencyFactor) / (HighFrequencyFactor - LowFrequencyFactor);
        return (1 - smooth) * inverseFrequency / Factor + smooth * inverseFrequency;
    }
}
public enum PositionKind { Learned, Rope }
public enum MlpKind { GeluTanh, SwiGlu }

/// <summary>How a family's checkpoints are laid out: its tensor names and which config.json fields it reads.</summary>
public enum FamilyLayout { Gpt2, GptNeo, Llama }

/// <summary>
/// One model family: its names in every format (config.json's model_type and architectures class,
/// llama.cpp's general.architecture), its layout, and the rules that differ within a layout. The
/// tensors it has at a configuration, in Hugging Face and GGUF naming, come from <see cref="TensorLayout"/>.
/// </summary>
/// <param name="GgufArchitecture">llama.cpp's general.architecture for it, or null where llama.cpp has no such model.</param>
public sealed record ModelFamily(string ModelType, string HfClass, FamilyLayout Layout, string? GgufArchitecture)
{
    /// <summary>q/k/v biases whatever attention_bias says (Qwen2).</summary>
    public bool QkvBias { get; init; }
    /// <summary>RMSNorm of each query and key head (Qwen3's q_norm, k_norm).</summary>
    public bool QueryKeyNorm { get; init; }
    /// <summary>
    /// llama.cpp's arch llama rotates adjacent pairs (2i, 2i + 1) where Hugging Face rotates halves: its
    /// q/k rows are stored in pair order, and it reads rotary scaling from rope_freqs.weight.
    /// </summary>
    public bool GgufPairRotation => GgufArchitecture == "llama";

    /// <summary>The Hugging Face tensor names the engine reads.</summary>
    public TensorNames Names => Layout switch
    {
        FamilyLayout.Gpt2 => TensorNames.Gpt2,
        FamilyLayout.GptNeo => TensorNames.GptNeo,
        _ => TensorNames.Llama,
    };

    /// <summary>Every tensor of a model of this family at <paramref name="c"/>, in HF and GGUF naming.</summary>
    public IReadOnlyList<TensorSpec> Tensors(ModelConfig c) => TensorLayout.For(this, c);

    internal ModelConfig FromJson(JsonObject json, string source) => Layout switch
    {
        FamilyLayout.Gpt2 => Architectures.Gpt2FromJson(this, json, source),
        FamilyLayout.GptNeo => Architectures.GptNeoFromJson(this, json, source),
        _ => Architectures.LlamaFromJson(this, json, source),
    };
}

/// <summary>
/// The table of known families: each is a configuration of the one transformer (<see cref="ModelConfig"/>)
/// plus its tensor names (<see cref="TensorNames"/>, <see cref="TensorLayout"/>). Llama, Mistral and
/// Qwen2 share one layout: RMSNorm, rotary positions in the rotate-halves layout, SwiGLU, grouped-query
/// attention; Qwen2 adds q/k/v biases; Qwen3 has its own head size (head_dim) and RMSNorms each query and
/// key head (q_norm, k_norm). Adding a family is one entry here (plus tests).
/// </summary>
public static class Architectures
{
    public static IReadOnlyList<ModelFamily> All { get; } =
    [
        new("gpt2", "GPT2LMHeadModel", FamilyLayout.Gpt2, "gpt2"),
        new("gpt_neo", "GPTNeoForCausalLM", FamilyLayout.GptNeo, GgufArchitecture: null),
        new("llama", "LlamaForCausalLM", FamilyLayout.Llama, "llama"),
        new("mistral", "MistralForCausalLM", FamilyLayout.Llama, "llama"),
        new("qwen2", "Qwen2ForCausalLM", FamilyLayout.Llama, "qwen2") { QkvBias = true },
        new("qwen3", "Qwen3ForCausalLM", FamilyLayout.Llama, "qwen3") { QueryKeyNorm = true },
    ];

    /// <summary>The family of a config.json model_type, or one line naming the supported ones.</summary>
    public static ModelFamily Find(string modelType, string source) =>
        All.FirstOrDefault(f => f.ModelType == modelType)
        ?? throw new InvalidInputException($"{source}: field 'model_type' is '{modelType}'; supported: {string.Join(", ", All.Select(f => f.ModelType))}.");

    /// <summary>The family of a configuration built in code or read from any format.</summary>
    public static ModelFamily Of(ModelConfig c) =>
        All.FirstOrDefault(f => f.ModelType == c.ModelType) ?? throw new InvalidOperationException($"no family '{c.ModelType}' in the table");

    /// <summary>The GGUF architectures read (each as the first family that llama.cpp runs under it).</summary>
    public static IEnumerable<string> GgufArchitectures => All.Select(f => f.GgufArchitecture).OfType<string>().Distinct();

    public static ModelFamily? FromGguf(string architecture) => All.FirstOrDefault(f => f.GgufArchitecture == architecture);

    internal static ModelConfig LlamaFromJson(ModelFamily family, JsonObject json, string source)
    {
        string modelType = family.ModelType;
        string act = ModelConfig.GetString(json, "hidden_act", source) ?? "silu";
        if (act != "silu")
            throw new InvalidInputException($"{source}: field 'hidden_act' is '{act}'; {modelType} models here use 'silu' (SwiGLU).");
        var ropeScaling = ParseRopeScaling(json["rope_scaling"], source);
        int Required(string key) => ModelConfig.GetInt(json, key, source, required: true)!.Value;
        int d = Required("hidden_size"), heads = Required("num_attention_heads");
        int headDim = ModelConfig.GetInt(json, "head_dim", source, required: false) ?? 0;
        if (headDim * heads == d) headDim = 0;   // the default size, stated
        int positions = Required("max_position_embeddings");
        // Mistral's sliding window only changes attention beyond the window: cap the context there.
        if (ModelConfig.GetInt(json, "sliding_window", source, required: false) is int window && window < positions) positions = window;
        var config = new ModelConfig
        {
            ModelType = modelType,
            EmbeddingSize = d,
            LayerCount = Required("num_hidden_layers"),
            HeadCount = heads,
            KeyValueHeadCount = ModelConfig.GetInt(json, "num_key_value_heads", source, required: false) ?? heads,
            MaxPositions = positions,
            VocabSize = Required("vocab_size"),
            InnerSize = Required("intermediate_size"),
            LayerNormEpsilon = ModelConfig.GetFloat(json, "rms_norm_eps", source) ?? 1e-6f,
            TieWordEmbeddings = ModelConfig.GetBool(json, "tie_word_embeddings", source) ?? false,
            Norm = NormKind.RmsNorm,
            Positions = PositionKind.Rope,
            RopeTheta = ModelConfig.GetFloat(json, "rope_theta", source) ?? 10000f,
            RopeScaling = ropeScaling,
            Mlp = MlpKind.SwiGlu,
            QkvBias = family.QkvBias || (ModelConfig.GetBool(json, "attention_bias", source) ?? false),
            HeadDimension = headDim,
            QueryKeyNorm = family.QueryKeyNorm,
            LinearBias = false,
        };
        config.Validate(source);
        return config;
    }


    static RopeScaling? ParseRopeScaling(JsonNode? node, string source)
    {
        if (node is null) return null;
        InvalidInputException Error(string field, string what) => new($"{source}: field 'rope_scaling.{field}' {what}.");
        if (node is not JsonObject o) throw new InvalidInputException($"{source}: field 'rope_scaling' must be an object or null, got {node.ToJsonString()}.");
        string type = ModelConfig.GetString(o, "rope_type", source) ?? ModelConfig.GetString(o, "type", source) ?? throw Error("rope_type", "is missing");
        if (type == "default") return null;
        float factor = ModelConfig.GetFloat(o, "factor", source) ?? throw Error("factor", "is missing");
        if (!(factor >= 1) || !float.IsFinite(factor)) throw Error("factor", $"must be a number >= 1, got {factor}");
        if (type is "linear" or "dynamic") return new RopeScaling(type, factor);
        if (type != "llama3") throw Error("rope_type", $"is '{type}'; supported: linear, dynamic, llama3 (yarn and longrope are not yet)");
        var scaling = new RopeScaling(type, factor,
            ModelConfig.GetFloat(o, "low_freq_factor", source) ?? throw Error("low_freq_factor", "is missing"),
            ModelConfig.GetFloat(o, "high_freq_factor", source) ?? throw Error("high_freq_factor", "is missing"),
            ModelConfig.GetInt(o, "original_max_position_embeddings", source, required: true)!.Value);
        if (!(scaling.HighFrequencyFactor > scaling.LowFrequencyFactor) || !(scaling.LowFrequencyFactor > 0) || !float.IsFinite(scaling.HighFrequencyFactor))
            throw Error("high_freq_factor", "must be a finite number above low_freq_factor, which must be positive");
        return scaling;
    }

    /// <summary>GPT-2: LayerNorm, learned positions, tanh GELU, fused q/k/v with biases, Conv1D weights.</summary>
    internal static ModelConfig Gpt2FromJson(ModelFamily family, JsonObject json, string source)
    {
        string activation = ModelConfig.GetString(json, "activation_function", source) ?? "gelu_new";
        if (activation is not ("gelu_new" or "gelu_pytorch_tanh" or "gelu_fast"))
            throw new InvalidInputException($"{source}: field 'activation_function' is '{activation}'; only the tanh GELU ('gelu_new') is supported.");

        int d = ModelConfig.GetInt(json, "n_embd", source, required: true)!.Value;
        var config = new ModelConfig
        {
            ModelType = family.ModelType,
            EmbeddingSize = d,
            LayerCount = ModelConfig.GetInt(json, "n_layer", source, required: true)!.Value,
            HeadCount = ModelConfig.GetInt(json, "n_head", source, required: true)!.Value,
            MaxPositions = ModelConfig.GetInt(json, "n_positions", source, required: false) ?? ModelConfig.GetInt(json, "n_ctx", source, required: true)!.Value,
            VocabSize = ModelConfig.GetInt(json, "vocab_size", source, required: true)!.Value,
            InnerSize = ModelConfig.GetInt(json, "n_inner", source, required: false) ?? 4 * d,
            LayerNormEpsilon = ModelConfig.GetFloat(json, "layer_norm_epsilon", source) ?? 1e-5f,
            TieWordEmbeddings = ModelConfig.GetBool(json, "tie_word_embeddings", source) ?? true,
        };
        config.Validate(source);
        return config;
    }

    static JsonObject Gpt2ToJson(ModelConfig c, ModelFamily family) => new()
    {
        ["model_type"] = family.ModelType,
        ["architectures"] = new JsonArray(family.HfClass),
        ["n_embd"] = c.EmbeddingSize,
        ["n_layer"] = c.LayerCount,
        ["n_head"] = c.HeadCount,
        ["n_positions"] = c.MaxPositions,
        ["n_ctx"] = c.MaxPositions,
        ["n_inner"] = c.InnerSize == 4 * c.EmbeddingSize ? null : c.InnerSize,
        ["vocab_size"] = c.VocabSize,
        ["layer_norm_epsilon"] = c.LayerNormEpsilon,
        ["activation_function"] = "gelu_new",
        ["tie_word_embeddings"] = c.TieWordEmbeddings,
        ["bos_token_id"] = c.VocabSize - 1,
        ["eos_token_id"] = c.VocabSize - 1,
    };

    /// <summary>
    /// GPT-Neo: GPT-2's layout (LayerNorm, learned positions, tanh GELU) with separate bias-free
    /// q/k/v projections, unscaled attention scores, and layers alternating between global attention
    /// and local attention over the last window_size positions (attention_types).
    /// </summary>
    internal static ModelConfig GptNeoFromJson(ModelFamily family, JsonObject json, string source)
    {
        int Required(string key) => ModelConfig.GetInt(json, key, source, required: true)!.Value;
        string act = ModelConfig.GetString(json, "activation_function", source) ?? "gelu_new";
        if (act != "gelu_new") throw new InvalidInputException($"{source}: field 'activation_function' is '{act}'; GPT-Neo models here use 'gelu_new'.");
        int d = Required("hidden_size"), layers = Required("num_layers");
        // attention_types: [[["global", "local"], 12]] repeats the pattern 12 times.
        var kinds = new List<string>();
        if (json["attention_types"] is not JsonArray types) throw new InvalidInputException($"{source}: field 'attention_types' is missing or not a list.");
        foreach (var entry in types)
        {
            if (entry is not JsonArray { Count: 2 } pair || pair[0] is not JsonArray pattern || pair[1] is not JsonValue times || !times.TryGetValue(out int repeat) || repeat < 1 || repeat > 10_000)
                throw new InvalidInputException($"{source}: field 'attention_types' holds {entry?.ToJsonString() ?? "null"}, not [[kinds...], count].");
            for (int r = 0; r < repeat && kinds.Count <= layers; r++)
                foreach (var kind in pattern)
                    kinds.Add(kind is JsonValue k && k.TryGetValue(out string? s) && s is "global" or "local" ? s
                        : throw new InvalidInputException($"{source}: field 'attention_types' names {kind?.ToJsonString() ?? "null"}; layers are 'global' or 'local'."));
        }
        if (kinds.Count != layers) throw new InvalidInputException($"{source}: field 'attention_types' describes {kinds.Count} layers but num_layers is {layers}.");
        var local = kinds.Select((k, i) => (k, i)).Where(x => x.k == "local").Select(x => x.i).ToList();
        var config = new ModelConfig
        {
            ModelType = family.ModelType,
            EmbeddingSize = d,
            LayerCount = layers,
            HeadCount = Required("num_heads"),
            MaxPositions = Required("max_position_embeddings"),
            VocabSize = Required("vocab_size"),
            InnerSize = ModelConfig.GetInt(json, "intermediate_size", source, required: false) ?? 4 * d,
            LayerNormEpsilon = ModelConfig.GetFloat(json, "layer_norm_epsilon", source) ?? 1e-5f,
            TieWordEmbeddings = ModelConfig.GetBool(json, "tie_word_embeddings", source) ?? true,
            QkvBias = false,
            ScaledAttention = false,
            LocalLayers = local,
            LocalWindow = local.Count == 0 ? 0 : ModelConfig.GetInt(json, "window_size", source, required: true)!.Value,
        };
        config.Validate(source);
        return config;
    }

    static JsonObject GptNeoToJson(ModelConfig c, ModelFamily family) => new()
    {
        ["model_type"] = family.ModelType,
        ["architectures"] = new JsonArray(family.HfClass),
        ["hidden_size"] = c.EmbeddingSize,
        ["num_layers"] = c.LayerCount,
        ["num_heads"] = c.HeadCount,
        ["intermediate_size"] = c.InnerSize,
        ["max_position_embeddings"] = c.MaxPositions,
        ["vocab_size"] = c.VocabSize,
        ["layer_norm_epsilon"] = c.LayerNormEpsilon,
        ["activation_function"] = "gelu_new",
        ["window_size"] = c.LocalWindow == 0 ? 256 : c.LocalWindow,
        ["attention_types"] = new JsonArray(Enumerable.Range(0, c.LayerCount)
            .Select(i => (JsonNode)new JsonArray(new JsonArray(c.LocalLayers.Contains(i) ? "local" : "global"), 1)).ToArray()),
        ["tie_word_embeddings"] = c.TieWordEmbeddings,
    };

    /// <summary>config.json of <paramref name="c"/>, in its family's fields.</summary>
    public static JsonObject ToJson(ModelConfig c) => Of(c) switch
    {
        { Layout: FamilyLayout.Gpt2 } and var family => Gpt2ToJson(c, family),
        { Layout: FamilyLayout.GptNeo } and var family => GptNeoToJson(c, family),
        var family => LlamaToJson(c, family),
    };

    static JsonObject LlamaToJson(ModelConfig c, ModelFamily family) => new()
    {
        ["model_type"] = c.ModelType,
        ["architectures"] = new JsonArray(family.HfClass),
        ["head_dim"] = c.HeadSize,
        ["hidden_size"] = c.EmbeddingSize,
        ["num_hidden_layers"] = c.LayerCount,
        ["num_attention_heads"] = c.HeadCount,
        ["num_key_value_heads"] = c.KeyValueHeads,
        ["intermediate_size"] = c.InnerSize,
        ["max_position_embeddings"] = c.MaxPositions,
        ["vocab_size"] = c.VocabSize,
        ["rms_norm_eps"] = c.LayerNormEpsilon,
        ["rope_theta"] = c.RopeTheta,
        ["rope_scaling"] = c.RopeScaling switch
        {
            null => null,
            { Type: "linear" or "dynamic" } r => new JsonObject { ["rope_type"] = r.Type, ["factor"] = r.Factor },
            { Type: "divisors" } r => new JsonObject { ["rope_type"] = "divisors", ["frequency_divisors"] = new JsonArray(r.FrequencyDivisors!.Select(x => (JsonNode)x).ToArray()) },
            var r => new JsonObject
            {
                ["rope_type"] = r.Type, ["factor"] = r.Factor, ["low_freq_factor"] = r.LowFrequencyFactor,
                ["high_freq_factor"] = r.HighFrequencyFactor, ["original_max_position_embeddings"] = r.OriginalMaxPositions,
            },
        },
        ["hidden_act"] = "silu",
        ["attention_bias"] = c.QkvBias,
        ["tie_word_embeddings"] = c.TieWordEmbeddings,
    };

    /// <summary>The Hugging Face tensor names of one family; the engine reads every family through them.</summary>
    public static TensorNames Names(ModelConfig c) => Of(c).Names;
}

/// <summary>
/// Where a family keeps each weight. GPT-2 stores fused q/k/v and its matrices as [in, out]
/// (Conv1D); the Llama layout stores separate projections as [out, in] (nn.Linear).
/// </summary>
public sealed record TensorNames(
    string TokenEmbedding, string? PositionEmbedding, string FinalNorm, string LmHead,
    string Layer, string Norm1, string Norm2, string[] Qkv, string AttentionOutput, string[] MlpIn, string MlpOut, bool InOut,
    string? QueryNorm = null, string? KeyNorm = null)
{
    public static TensorNames Gpt2 { get; } = new("wte.weight", "wpe.weight", "ln_f", "lm_head.weight",
        "h.{0}.", "ln_1", "ln_2", ["attn.c_attn"], "attn.c_proj", ["mlp.c_fc"], "mlp.c_proj", InOut: true);

    /// <summary>GPT-Neo: GPT-2's norms and MLP names over nn.Linear weights, separate q/k/v (loaded without the transformer. prefix).</summary>
    public static TensorNames GptNeo { get; } = new("wte.weight", "wpe.weight", "ln_f", "lm_head.weight",
        "h.{0}.", "ln_1", "ln_2", ["attn.attention.q_proj", "attn.attention.k_proj", "attn.attention.v_proj"],
        "attn.attention.out_proj", ["mlp.c_fc"], "mlp.c_proj", InOut: false);

    /// <summary>MlpIn is gate then up: SwiGLU computes silu(gate) x up.</summary>
    public static TensorNames Llama { get; } = new("model.embed_tokens.weight", null, "model.norm", "lm_head.weight",
        "model.layers.{0}.", "input_layernorm", "post_attention_layernorm", ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
        "self_attn.o_proj", ["mlp.gate_proj", "mlp.up_proj"], "mlp.down_proj", InOut: false, "self_attn.q_norm", "self_attn.k_norm");

    public string LayerPrefix(int layer) => string.Format(System.Globalization.CultureInfo.InvariantCulture, Layer, layer);
}
