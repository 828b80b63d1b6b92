using System.Numerics;
using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>One trainable tensor, named as in Hugging Face GPT-2 files, with its gradient.</summary>
internal sealed class Parameter<T>(string name, long[] shape, T[] value, bool decay) where T : unmanaged, IFloatingPointIeee754<T>
{
    public string Name { get; } = name;
    public long[] Shape { get; } = shape;
    public T[] Value { get; } = value;
    public T[] Grad { get; } = new T[value.Length];
    /// <summary>Whether AdamW applies weight decay: only the blocks' 2-D weight matrices.</summary>
    public bool Decay { get; } = decay;
}

internal sealed record LayerParameters<T>(
    Parameter<T> Ln1Gamma, Parameter<T> Ln1Beta, Parameter<T> QkvWeight, Parameter<T> QkvBias,
    Parameter<T> ProjWeight, Parameter<T> ProjBias, Parameter<T> Ln2Gamma, Parameter<T> Ln2Beta,
    Parameter<T> FcWeight, Parameter<T> FcBias, Parameter<T> FcProjWeight, Parameter<T> FcProjBias)
    where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>
/// All parameters of a GPT-2 in a fixed order (the order of <see cref="RandomModel.CreateTensors"/>),
/// which is also the order of every reduction over them (gradient norm) and of checkpoints.
/// Weight decay choice: the four per-block weight matrices decay; embeddings (wte is also the
/// tied lm_head), biases and LayerNorm parameters do not, as in GPT-2/nanoGPT practice minus
/// the embeddings, whose rows for rare tokens would otherwise shrink toward zero.
/// </summary>
internal sealed class ModelParameters<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public ModelConfig Config { get; }
    public Parameter<T>[] All { get; }
    public Parameter<T> TokenEmbedding { get; }
    public Parameter<T> PositionEmbedding { get; }
    public LayerParameters<T>[] Layers { get; }
    public Parameter<T> FinalGamma { get; }
    public Parameter<T> FinalBeta { get; }
    public long Count => All.Sum(p => (long)p.Value.Length);

    public ModelParameters(ModelConfig config, IReadOnlyDictionary<string, (float[] Data, long[] Shape)> tensors)
    {
        Config = config;
        var all = new List<Parameter<T>>();
        Parameter<T> Take(string name, bool decay = false)
        {
            if (!tensors.TryGetValue(name, out var t)) throw new ArgumentException($"missing tensor '{name}'");
            var value = new T[t.Data.Length];
            for (int i = 0; i < value.Length; i++) value[i] = T.CreateChecked(t.Data[i]);
            var p = new Parameter<T>(name, t.Shape, value, decay);
            all.Add(p);
            return p;
        }
        TokenEmbedding = Take("wte.weight");
        PositionEmbedding = Take("wpe.weight");
        Layers = new LayerParameters<T>[config.LayerCount];
        for (int l = 0; l < Layers.Length; l++)
        {
            string h = $"h.{l}.";
            Layers[l] = new LayerParameters<T>(
                Take(h + "ln_1.weight"), Take(h + "ln_1.bias"), Take(h + "attn.c_attn.weight", decay: true), Take(h + "attn.c_attn.bias"),
                Take(h + "attn.c_proj.weight", decay: true), Take(h + "attn.c_proj.bias"), Take(h + "ln_2.weight"), Take(h + "ln_2.bias"),
                Take(h + "mlp.c_fc.weight", decay: true), Take(h + "mlp.c_fc.bias"), Take(h + "mlp.c_proj.weight", decay: true), Take(h + "mlp.c_proj.bias"));
        }
        FinalGamma = Take("ln_f.weight");
        FinalBeta = Take("ln_f.bias");
        All = [.. all];
    }

    public void ZeroGradients()
    {
        foreach (var p in All) p.Grad.AsSpan().Clear();
    }

    /// <summary>The parameters as float tensors, in order, for <see cref="RandomModel.WriteFolder"/> or a checkpoint.</summary>
    public Dictionary<string, (float[] Data, long[] Shape)> ToTensors()
    {
        var result = new Dictionary<string, (float[], long[])>();
        foreach (var p in All)
        {
            var data = new float[p.Value.Length];
            for (int i = 0; i < data.Length; i++) data[i] = float.CreateTruncating(p.Value[i]);
            result[p.Name] = (data, p.Shape);
        }
        return result;
    }
}
