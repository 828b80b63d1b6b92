using Sprinter.Models;

namespace Sprinter.Engine;

/// <summary>Weights of one transformer block, in the engine's run-time layout.</summary>
public sealed class LayerWeights : IDisposable
{
    public required float[] Ln1Gamma, Ln1Beta, Ln2Gamma, Ln2Beta;
    public required PackedMatrix Qkv, AttnProj, Fc, FcProj;   // [d,3d], [d,d], [d,f], [f,d]
    public required float[] QkvBias, AttnProjBias, FcBias, FcProjBias;

    public void Dispose() { Qkv.Dispose(); AttnProj.Dispose(); Fc.Dispose(); FcProj.Dispose(); }
}

/// <summary>
/// A GPT-2 model's weights, packed once at load. Holds no per-sequence state: sessions
/// (<see cref="Gpt2Session"/>) own the KV cache and scratch buffers, so one model serves many.
/// </summary>
public sealed class Gpt2Model : IDisposable
{
    public ModelConfig Config { get; }
    public WeightType WeightType { get; }
    /// <summary>wte as the output projection [d, vocab]; also the embedding table (column = token).</summary>
    public PackedMatrix TokenEmbedding { get; }
    /// <summary>A separate lm_head when the checkpoint has one and does not tie it.</summary>
    public PackedMatrix? LmHead { get; }
    public float[] PositionEmbedding { get; }  // [n_positions, d]
    public LayerWeights[] Layers { get; }
    public float[] FinalGamma { get; }
    public float[] FinalBeta { get; }

    public PackedMatrix OutputProjection => LmHead ?? TokenEmbedding;
    public long ParameterCount => Config.ParameterCount(LmHead is not null);
    public long WeightBytes => TokenEmbedding.Bytes + (LmHead?.Bytes ?? 0) + Layers.Sum(l => l.Qkv.Bytes + l.AttnProj.Bytes + l.Fc.Bytes + l.FcProj.Bytes)
        + 4L * (PositionEmbedding.Length + FinalGamma.Length * 2 + Layers.Sum(l => 4 * l.Ln1Gamma.Length + l.QkvBias.Length + l.AttnProjBias.Length + l.FcBias.Length + l.FcProjBias.Length));

    Gpt2Model(ModelConfig config, WeightType type, PackedMatrix wte, PackedMatrix? lmHead, float[] wpe, LayerWeights[] layers, float[] lnfG, float[] lnfB)
    {
        Config = config; WeightType = type; TokenEmbedding = wte; LmHead = lmHead; PositionEmbedding = wpe;
        Layers = layers; FinalGamma = lnfG; FinalBeta = lnfB;
    }

    /// <summary>
    /// Builds the model from named tensors in GPT-2's Hugging Face naming (without the
    /// <c>transformer.</c> prefix; the loader strips it). <paramref name="tensor"/> returns the
    /// values and shape of a name, or null when absent.
    /// </summary>
    public static Gpt2Model FromTensors(ModelConfig config, Func<string, (float[] Data, long[] Shape)?> tensor, WeightType type, string source)
    {
        int d = config.EmbeddingSize, f = config.InnerSize, v = config.VocabSize, p = config.MaxPositions;
        float[] Get(string name, params long[] shape)
        {
            var t = tensor(name) ?? throw new InvalidInputException($"{source}: missing tensor '{name}' (expected shape [{string.Join(", ", shape)}]); the checkpoint is incomplete or not GPT-2.");
            if (!t.Shape.SequenceEqual(shape))
                throw new InvalidInputException($"{source}: tensor '{name}' has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", shape)}] from config.json.");
            return t.Data;
        }
        var layers = new LayerWeights[config.LayerCount];
        for (int l = 0; l < layers.Length; l++)
        {
            string h = $"h.{l}.";
            layers[l] = new LayerWeights
            {
                Ln1Gamma = Get(h + "ln_1.weight", d), Ln1Beta = Get(h + "ln_1.bias", d),
                Qkv = PackedMatrix.FromInOut(Get(h + "attn.c_attn.weight", d, 3 * d), d, 3 * d, type),
                QkvBias = Get(h + "attn.c_attn.bias", 3 * d),
                AttnProj = PackedMatrix.FromInOut(Get(h + "attn.c_proj.weight", d, d), d, d, type),
                AttnProjBias = Get(h + "attn.c_proj.bias", d),
                Ln2Gamma = Get(h + "ln_2.weight", d), Ln2Beta = Get(h + "ln_2.bias", d),
                Fc = PackedMatrix.FromInOut(Get(h + "mlp.c_fc.weight", d, f), d, f, type),
                FcBias = Get(h + "mlp.c_fc.bias", f),
                FcProj = PackedMatrix.FromInOut(Get(h + "mlp.c_proj.weight", f, d), f, d, type),
                FcProjBias = Get(h + "mlp.c_proj.bias", d),
            };
        }
        var wte = PackedMatrix.FromOutIn(Get("wte.weight", v, d), d, v, type);
        PackedMatrix? lmHead = null;
        if (tensor("lm_head.weight") is not null && !config.TieWordEmbeddings)
            lmHead = PackedMatrix.FromOutIn(Get("lm_head.weight", v, d), d, v, type);
        return new Gpt2Model(config, type, wte, lmHead, Get("wpe.weight", p, d), layers, Get("ln_f.weight", d), Get("ln_f.bias", d));
    }

    /// <summary>Loads config.json and model.safetensors (single or sharded) from a Hugging Face model folder.</summary>
    public static Gpt2Model Load(string folder, WeightType type = WeightType.F32)
    {
        var files = ModelFolder.Resolve(folder);
        var config = ModelConfig.Load(files.ConfigPath);
        using var st = files.OpenWeights();
        return FromSafeTensors(config, st, type);
    }

    public static Gpt2Model FromSafeTensors(ModelConfig config, SafeTensorsSet st, WeightType type)
    {
        (float[], long[])? Lookup(string name)
        {
            if (st.Tensors.TryGetValue(name, out var t) || st.Tensors.TryGetValue("transformer." + name, out t))
                return (st.ReadFloats(t), t.Shape);
            return null;
        }
        return FromTensors(config, Lookup, type, st.Path);
    }

    public Gpt2Session CreateSession(int? maxContext = null) => new(this, maxContext ?? Config.MaxPositions);

    public void Dispose()
    {
        TokenEmbedding.Dispose();
        LmHead?.Dispose();
        foreach (var l in Layers) l.Dispose();
    }
}
