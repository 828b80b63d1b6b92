using System.Text.Json.Nodes;

namespace Sprinter.Models;

public enum NormKind { LayerNorm, RmsNorm }
public enum PositionKind { Learned, Rope }
public enum MlpKind { GeluTanh, SwiGlu }

/// <summary>
/// The table of known families beside GPT-2: each is a configuration of the one transformer
/// (<see cref="ModelConfig"/>) plus the tensor names its Hugging Face checkpoints use
/// (<see cref="TensorNames"/>). Llama, Mistral and Qwen2 share one layout: RMSNorm, rotary
/// positions in the rotate-halves layout, SwiGLU, grouped-query attention; Qwen2 adds q/k/v biases.
/// </summary>
public static class Architectures
{
    static readonly string[] LlamaLike = ["llama", "mistral", "qwen2"];

    public static ModelConfig FromJson(string modelType, JsonObject json, string source)
    {
        if (!LlamaLike.Contains(modelType))
            throw new InvalidInputException($"{source}: field 'model_type' is '{modelType}'; supported: gpt2, {string.Join(", ", LlamaLike)}.");
        string act = ModelConfig.GetString(json, "hidden_act", source) ?? "silu";
        if (act != "silu")
            throw new InvalidInputException($"{source}: field 'hidden_act' is '{act}'; {modelType} models here use 'silu' (SwiGLU).");
        if (json["rope_scaling"] is JsonObject)
            throw new InvalidInputException($"{source}: field 'rope_scaling' is set; scaled rotary positions are not supported yet (remove it only if the model was trained without it).");
        int Required(string key) => ModelConfig.GetInt(json, key, source, required: true)!.Value;
        int d = Required("hidden_size"), heads = Required("num_attention_heads");
        int? headDim = ModelConfig.GetInt(json, "head_dim", source, required: false);
        if (headDim is int hd && hd * heads != d)
            throw new InvalidInputException($"{source}: field 'head_dim' is {hd} but hidden_size / num_attention_heads is {d / heads}; a separate head size is not supported yet.");
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
            Mlp = MlpKind.SwiGlu,
            QkvBias = modelType == "qwen2" || (ModelConfig.GetBool(json, "attention_bias", source) ?? false),
            LinearBias = false,
        };
        config.Validate(source);
        return config;
    }

    public static JsonObject ToJson(ModelConfig c) => new()
    {
        ["model_type"] = c.ModelType,
        ["architectures"] = new JsonArray(c.ModelType switch { "qwen2" => "Qwen2ForCausalLM", "mistral" => "MistralForCausalLM", _ => "LlamaForCausalLM" }),
        ["hidden_size"] = c.EmbeddingSize,
        ["num_hidden_layers"] = c.LayerCount,
        ["num_attention_heads"] = c.HeadCount,
        ["num_key_value_heads"] = c.KeyValueHeads,
        ["intermediate_size"] = c.InnerSize,
        ["max_position_embeddings"] = c.MaxPositions,
        ["vocab_size"] = c.VocabSize,
        ["rms_norm_eps"] = c.LayerNormEpsilon,
        ["rope_theta"] = c.RopeTheta,
        ["hidden_act"] = "silu",
        ["attention_bias"] = c.QkvBias,
        ["tie_word_embeddings"] = c.TieWordEmbeddings,
    };

    /// <summary>The Hugging Face tensor names of one family; the engine reads every family through them.</summary>
    public static TensorNames Names(ModelConfig c) => c.ModelType == "gpt2" ? TensorNames.Gpt2 : TensorNames.Llama;
}

/// <summary>
/// Where a family keeps each weight. GPT-2 stores fused q/k/v and its matrices as [in, out]
/// (Conv1D); the Llama layout stores separate projections as [out, in] (nn.Linear).
/// </summary>
public sealed record TensorNames(
    string TokenEmbedding, string? PositionEmbedding, string FinalNorm, string LmHead,
    string Layer, string Norm1, string Norm2, string[] Qkv, string AttentionOutput, string[] MlpIn, string MlpOut, bool InOut)
{
    public static TensorNames Gpt2 { get; } = new("wte.weight", "wpe.weight", "ln_f", "lm_head.weight",
        "h.{0}.", "ln_1", "ln_2", ["attn.c_attn"], "attn.c_proj", ["mlp.c_fc"], "mlp.c_proj", InOut: true);

    /// <summary>MlpIn is gate then up: SwiGLU computes silu(gate) x up.</summary>
    public static TensorNames Llama { get; } = new("model.embed_tokens.weight", null, "model.norm", "lm_head.weight",
        "model.layers.{0}.", "input_layernorm", "post_attention_layernorm", ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
        "self_attn.o_proj", ["mlp.gate_proj", "mlp.up_proj"], "mlp.down_proj", InOut: false);

    public string LayerPrefix(int layer) => string.Format(System.Globalization.CultureInfo.InvariantCulture, Layer, layer);
}
