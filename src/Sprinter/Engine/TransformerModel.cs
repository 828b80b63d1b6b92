using Sprinter.Models;

namespace Sprinter.Engine;

/// <summary>Weights of one transformer block, in the engine's run-time layout.</summary>
public sealed class LayerWeights : IDisposable
{
    /// <summary>Norm scales and shifts (the shifts are empty for RMSNorm).</summary>
    public required float[] Ln1Gamma, Ln1Beta, Ln2Gamma, Ln2Beta;
    /// <summary>[d, q + 2 kv] (queries, keys, values), [q, d], [d, f] or [d, 2f] (SwiGLU's gate then up), [f, d].</summary>
    public required PackedMatrix Qkv, AttnProj, Fc, FcProj;
    /// <summary>Biases; empty where the family has none.</summary>
    public required float[] QkvBias, AttnProjBias, FcBias, FcProjBias;
    /// <summary>Per-head RMSNorm scales of queries and keys [head size] (Qwen3); empty otherwise.</summary>
    public float[] QueryNorm { get; init; } = [];
    public float[] KeyNorm { get; init; } = [];

    public void Dispose() { Qkv.Dispose(); AttnProj.Dispose(); Fc.Dispose(); FcProj.Dispose(); }
}

/// <summary>
/// A decoder-only transformer's weights (GPT-2, or a Llama-family configuration), packed once at load. Holds no per-sequence state: sessions
/// (<see cref="TransformerSession"/>) own the KV cache and scratch buffers, so one model serves many.
/// </summary>
public sealed class TransformerModel : IDisposable
{
    public ModelConfig Config { get; }
    /// <summary>The run-time type asked for (or, for a GGUF file at auto, the one holding most weights); matrices that do not fit it run as <see cref="WeightTypes.Fit"/> says.</summary>
    public WeightType WeightType { get; private set; }

    /// <summary>Names the model after <paramref name="type"/> (a GGUF file's matrices may each keep their own type).</summary>
    internal TransformerModel WithWeightType(WeightType type) { WeightType = type; return this; }
    /// <summary>wte as the output projection [d, vocab]; also the embedding table (column = token).</summary>
    public PackedMatrix TokenEmbedding { get; }
    /// <summary>A separate lm_head when the checkpoint has one and does not tie it.</summary>
    public PackedMatrix? LmHead { get; }
    public float[] PositionEmbedding { get; }  // [n_positions, d]; empty with rotary positions
    public LayerWeights[] Layers { get; }
    public float[] FinalGamma { get; }
    public float[] FinalBeta { get; }

    public PackedMatrix OutputProjection => LmHead ?? TokenEmbedding;

    /// <summary>
    /// Tokens the model can emit: vocab_size, or the tokenizer's size when the embedding rows are
    /// padded past it (Qwen pads to a multiple of 64). Sessions show only these logits, so padded
    /// rows are never sampled, compared or scored.
    /// </summary>
    public int OutputVocabulary { get; private set; }

    /// <summary>Hides the padded rows above <paramref name="size"/> (see <see cref="OutputVocabulary"/>).</summary>
    public void LimitOutputVocabulary(int size)
    {
        if (size < 1 || size > Config.VocabSize) throw new ArgumentOutOfRangeException(nameof(size), $"must be in [1, {Config.VocabSize}]");
        OutputVocabulary = size;
    }
    public long ParameterCount => Config.ParameterCount(LmHead is not null);
    public long WeightBytes => TokenEmbedding.Bytes + (LmHead?.Bytes ?? 0) + Layers.Sum(l => l.Qkv.Bytes + l.AttnProj.Bytes + l.Fc.Bytes + l.FcProj.Bytes)
        + 4L * (PositionEmbedding.Length + FinalGamma.Length + FinalBeta.Length + Layers.Sum(l => l.Ln1Gamma.Length + l.Ln1Beta.Length + l.Ln2Gamma.Length + l.Ln2Beta.Length
            + l.QkvBias.Length + l.AttnProjBias.Length + l.FcBias.Length + l.FcProjBias.Length + l.QueryNorm.Length + l.KeyNorm.Length));

    TransformerModel(ModelConfig config, WeightType type, PackedMatrix wte, PackedMatrix? lmHead, float[] wpe, LayerWeights[] layers, float[] lnfG, float[] lnfB)
    {
        Config = config; WeightType = type; TokenEmbedding = wte; OutputVocabulary = config.VocabSize; LmHead = lmHead; PositionEmbedding = wpe;
        Layers = layers; FinalGamma = lnfG; FinalBeta = lnfB;
    }

    /// <summary>
    /// Builds the model from named tensors in its family's Hugging Face naming
    /// (<see cref="TensorNames"/>; GPT-2 names without the <c>transformer.</c> prefix, which the
    /// loader strips). <paramref name="tensor"/> returns the values and shape of a name, or null
    /// when absent. Every family lands in the same run-time layout: fused q/k/v, fused MLP input.
    /// With <paramref name="arrays"/>, the matrices <paramref name="tensor"/> returned go back to that
    /// pool once packed (the lookup rents from it), and so do the concatenations.
    /// </summary>
    /// <param name="blocks">Where given: a matrix as a file's quantized rows (shape [out, in]) that are packed
    /// as they are, without a float round trip; null for a name sends it through <paramref name="tensor"/>.</param>
    public static TransformerModel FromTensors(ModelConfig config, Func<string, (float[] Data, long[] Shape)?> tensor, WeightType type, string source,
        FloatArrayPool? arrays = null, Func<string, (MatrixPart Part, long[] Shape)?>? blocks = null)
    {
        // These run only a GGUF file's blocks (GgufModel.Load packs the rest at q8_0); ggml's quantizers for them are not ported.
        if (type is WeightType.Q5_K or WeightType.Q6_K)
            throw new InvalidInputException($"{source}: --dtype {type.Name()} runs only the {type.Name().ToUpperInvariant()} tensors of a GGUF file (there is no {type.Name()} quantizer at load); " +
                "give a GGUF file that holds them, or use --dtype q4_k or q8_0.");
        int d = config.EmbeddingSize, f = config.InnerSize, v = config.VocabSize, p = config.MaxPositions, kv = config.KeyValueSize, q = config.QuerySize;
        var names = Architectures.Names(config);
        float[] Get(string name, params long[] shape)
        {
            var t = tensor(name) ?? throw new InvalidInputException($"{source}: missing tensor '{name}' (expected shape [{string.Join(", ", shape)}]); the checkpoint is incomplete or not {config.ModelType}.");
            if (!t.Shape.SequenceEqual(shape))
                throw new InvalidInputException($"{source}: tensor '{name}' has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", shape)}] from config.json.");
            return t.Data;
        }
        // A weight of `inputs` x `outputs`: GPT-2 stores [in, out], nn.Linear families [out, in].
        float[] Weight(string name, int inputs, int outputs) => names.InOut ? Get(name + ".weight", inputs, outputs) : Get(name + ".weight", outputs, inputs);
        PackedMatrix Pack(float[] data, int inputs, int outputs)
        {
            var m = names.InOut ? PackedMatrix.FromInOut(data, inputs, outputs, type) : PackedMatrix.FromOutIn(data, inputs, outputs, type);
            arrays?.Return(data);
            return m;
        }
        // A file's blocks for a weight, checked against the configuration's shape ([out, in] in every family).
        MatrixPart? Blocks(string name, int inputs, int outputs)
        {
            if (blocks?.Invoke(name) is not { } b) return null;
            if (!b.Shape.SequenceEqual([outputs, (long)inputs]))
                throw new InvalidInputException($"{source}: tensor '{name}' has shape [{string.Join(", ", b.Shape)}], expected [{outputs}, {inputs}] from the configuration.");
            return b.Part;
        }
        PackedMatrix PackParts(List<MatrixPart> parts, int inputs)
        {
            var m = PackedMatrix.FromParts(parts, inputs, outIn: !names.InOut);
            foreach (var part in parts) if (part.Floats is { } f) arrays?.Return(f);
            return m;
        }
        PackedMatrix Single(string name, int inputs, int outputs) => Blocks(name + ".weight", inputs, outputs) is { } b
            ? PackParts([b], inputs) : Pack(Weight(name, inputs, outputs), inputs, outputs);
        // Separate projections (q, k, v; gate, up) are stacked along their outputs into one matrix;
        // parts that a file holds in a native block type stay in it (each its own run of tiles).
        PackedMatrix Fused(string prefix, string[] parts, int[] outputs, out float[] bias, bool hasBias)
        {
            bias = hasBias ? Concat(parts.Select((part, i) => Get(prefix + part + ".bias", outputs[i])).ToList(), null) : [];
            if (blocks is not null && PackedMatrix.CanSplit(outputs))
            {
                var native = parts.Select((part, i) => Blocks(prefix + part + ".weight", d, outputs[i])).ToList();
                if (native.Any(b => b is not null))
                    return PackParts(parts.Select((part, i) => native[i] ?? new MatrixPart { Outputs = outputs[i], Floats = Weight(prefix + part, d, outputs[i]), Type = type }).ToList(), d);
            }
            var data = parts.Length == 1 ? Weight(prefix + parts[0], d, outputs[0])
                : Concat(parts.Select((part, i) => Weight(prefix + part, d, outputs[i])).ToList(), arrays);
            return Pack(data, d, outputs.Sum());
        }
        bool layerNorm = config.Norm == NormKind.LayerNorm;
        float[] NormBeta(string name) => layerNorm ? Get(name + ".bias", d) : [];
        var layers = new LayerWeights[config.LayerCount];
        for (int l = 0; l < layers.Length; l++)
        {
            string h = names.LayerPrefix(l);
            int[] qkvOut = names.Qkv.Length == 1 ? [q + 2 * kv] : [q, kv, kv];
            int[] mlpOut = config.Mlp == MlpKind.SwiGlu ? [f, f] : [f];
            var qkv = Fused(h, names.Qkv, qkvOut, out var qkvBias, config.QkvBias);
            var fc = Fused(h, names.MlpIn, mlpOut, out var fcBias, config.LinearBias);
            layers[l] = new LayerWeights
            {
                Ln1Gamma = Get(h + names.Norm1 + ".weight", d), Ln1Beta = NormBeta(h + names.Norm1),
                Qkv = qkv, QkvBias = qkvBias,
                AttnProj = Single(h + names.AttentionOutput, q, d),
                AttnProjBias = config.LinearBias ? Get(h + names.AttentionOutput + ".bias", d) : [],
                Ln2Gamma = Get(h + names.Norm2 + ".weight", d), Ln2Beta = NormBeta(h + names.Norm2),
                Fc = fc, FcBias = fcBias,
                FcProj = Single(h + names.MlpOut, f, d),
                FcProjBias = config.LinearBias ? Get(h + names.MlpOut + ".bias", d) : [],
                QueryNorm = config.QueryKeyNorm ? Get(h + names.QueryNorm + ".weight", config.HeadSize) : [],
                KeyNorm = config.QueryKeyNorm ? Get(h + names.KeyNorm + ".weight", config.HeadSize) : [],
            };
        }
        PackedMatrix wte;
        if (Blocks(names.TokenEmbedding, d, v) is { } embeddingBlocks) wte = PackedMatrix.FromParts([embeddingBlocks], d, outIn: true);
        else
        {
            var embedding = Get(names.TokenEmbedding, v, d);
            wte = PackedMatrix.FromOutIn(embedding, d, v, type);
            arrays?.Return(embedding);
        }
        PackedMatrix? lmHead = null;
        if (!config.TieWordEmbeddings && Blocks(names.LmHead, d, v) is { } headBlocks) lmHead = PackedMatrix.FromParts([headBlocks], d, outIn: true);
        else if (!config.TieWordEmbeddings && tensor(names.LmHead) is { } head)
        {
            if (!head.Shape.SequenceEqual([v, d]))
                throw new InvalidInputException($"{source}: tensor '{names.LmHead}' has shape [{string.Join(", ", head.Shape)}], expected [{v}, {d}] from config.json.");
            lmHead = PackedMatrix.FromOutIn(head.Data, d, v, type);
            arrays?.Return(head.Data);
        }
        else if (!config.TieWordEmbeddings && names != TensorNames.Gpt2)
            throw new InvalidInputException($"{source}: missing tensor '{names.LmHead}' while config.json says tie_word_embeddings is false.");
        float[] wpe = config.Positions == PositionKind.Learned ? Get(names.PositionEmbedding!, p, d) : [];
        return new TransformerModel(config, type, wte, lmHead, wpe, layers, Get(names.FinalNorm + ".weight", d), NormBeta(names.FinalNorm));
    }

    /// <summary>The arrays one after another (block copies: a billion-weight model's load was slow through
    /// LINQ); with a pool, the result is rented from it and the parts go back to it.</summary>
    static float[] Concat(List<float[]> parts, FloatArrayPool? pool)
    {
        long length = parts.Sum(a => (long)a.Length);
        var result = pool?.Rent(length) ?? new float[length];
        long at = 0;
        foreach (var a in parts)
        {
            Array.Copy(a, 0, result, at, a.Length);
            at += a.Length;
            pool?.Return(a);
        }
        return result;
    }

    /// <summary>Loads config.json and model.safetensors (single or sharded) from a Hugging Face model folder.</summary>
    public static TransformerModel Load(string folder, WeightType type = WeightType.F32)
    {
        if (LanguageModel.IsGguf(folder))
        {
            using var gguf = Models.Gguf.GgufFile.Open(folder);
            return Models.Gguf.GgufModel.Load(gguf, Models.Gguf.GgufModel.ReadConfig(gguf), type);
        }
        var files = ModelFolder.Resolve(folder);
        var config = ModelConfig.Load(files.ConfigPath);
        using var st = files.OpenWeights();
        return FromSafeTensors(config, st, type);
    }

    public static TransformerModel FromSafeTensors(ModelConfig config, SafeTensorsSet st, WeightType type)
    {
        var pool = new FloatArrayPool();
        (float[], long[])? Lookup(string name)
        {
            if (st.Tensors.TryGetValue(name, out var t) || st.Tensors.TryGetValue("transformer." + name, out t))
            {
                // Matrices from the pool (they go back once packed); vectors are kept by the model.
                var values = t.Shape.Length == 2 ? pool.Rent(t.ElementCount) : new float[t.ElementCount];
                st.ReadFloats(t, values);
                return (values, t.Shape);
            }
            return null;
        }
        return FromTensors(config, Lookup, type, st.Path, pool);
    }

    /// <summary>
    /// The KV cache a session allocates when no context is asked for: the model's positions, at
    /// most 4,096 (Llama 3.2's 131,072 would take gigabytes of cache for one sequence).
    /// </summary>
    public const int DefaultMaxContext = 4096;

    public TransformerSession CreateSession(int? maxContext = null) => new(this, maxContext ?? Math.Min(Config.MaxPositions, DefaultMaxContext));

    public void Dispose()
    {
        TokenEmbedding.Dispose();
        LmHead?.Dispose();
        foreach (var l in Layers) l.Dispose();
    }
}
