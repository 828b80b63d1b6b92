using Sprinter.Engine;

namespace Sprinter.Models.Gguf;

/// <summary>
/// A GGUF file as the one transformer sees it: the configuration from <c>{arch}.*</c> metadata,
/// the tensors under the Hugging Face names the engine reads (llama.cpp's names mapped back, its
/// Q/K row order for arch llama undone, GPT-2's Conv1D layout restored), and the run-time weight
/// type <c>--dtype auto</c> picks. GGUF is only a loader: the forward pass is the folder's.
/// </summary>
public static class GgufModel
{
    public static ModelConfig ReadConfig(GgufFile f)
    {
        string arch = f.Get<string>("general.architecture") ?? throw new InvalidInputException($"{f.Path}: metadata 'general.architecture' is missing; the file does not say what model it holds.");
        var family = Architectures.FromGguf(arch)
            ?? throw new InvalidInputException($"{f.Path}: general.architecture is '{GgufFile.Flat(arch)}'; supported: {string.Join(", ", Architectures.GgufArchitectures)}.");
        int Required(string key) => f.GetInt($"{arch}.{key}") is int n && n > 0 ? n
            : throw new InvalidInputException($"{f.Path}: metadata '{arch}.{key}' is missing or not a positive integer.");
        var embedding = Tensor(f, "token_embd.weight");
        if (embedding.Dimensions.Length != 2) throw new InvalidInputException($"{f.Path}: tensor 'token_embd.weight' has shape {embedding.ShapeText}, expected [n_embd, n_vocab].");
        int d = Required("embedding_length"), heads = Required("attention.head_count");
        ModelConfig config;
        if (family.Layout == FamilyLayout.Gpt2)
            config = new ModelConfig
            {
                ModelType = family.ModelType, EmbeddingSize = d, LayerCount = Required("block_count"), HeadCount = heads,
                MaxPositions = Required("context_length"), VocabSize = (int)embedding.Dimensions[1], InnerSize = Required("feed_forward_length"),
                LayerNormEpsilon = f.GetFloat("gpt2.attention.layer_norm_epsilon") ?? 1e-5f,
                TieWordEmbeddings = !f.Tensors.ContainsKey("output.weight"),
            };
        else
        {
            int headSize = f.GetInt($"{arch}.attention.key_length") ?? d / heads;
            config = new ModelConfig
            {
                ModelType = family.ModelType, EmbeddingSize = d, LayerCount = Required("block_count"), HeadCount = heads,
                KeyValueHeadCount = f.GetInt($"{arch}.attention.head_count_kv") ?? heads,
                MaxPositions = Required("context_length"), VocabSize = (int)embedding.Dimensions[1], InnerSize = Required("feed_forward_length"),
                LayerNormEpsilon = f.GetFloat($"{arch}.attention.layer_norm_rms_epsilon") ?? 1e-6f,
                TieWordEmbeddings = !f.Tensors.ContainsKey("output.weight"),
                Norm = NormKind.RmsNorm, Positions = PositionKind.Rope, Mlp = MlpKind.SwiGlu,
                RopeTheta = f.GetFloat($"{arch}.rope.freq_base") ?? 10000f,
                RopeScaling = ReadRopeScaling(f, arch, headSize),
                QkvBias = f.Tensors.ContainsKey("blk.0.attn_q.bias"),
                QueryKeyNorm = f.Tensors.ContainsKey("blk.0.attn_q_norm.weight"),
                HeadDimension = headSize * heads == d ? 0 : headSize,
                LinearBias = false,
            };
        }
        config.Validate(f.Path);
        return config;
    }

    static RopeScaling? ReadRopeScaling(GgufFile f, string arch, int headSize)
    {
        // Llama 3.1+ scaling travels as a tensor of per-pair frequency divisors.
        if (f.Tensors.TryGetValue("rope_freqs.weight", out var freqs))
        {
            if (freqs.Dimensions is not [var n] || n != headSize / 2)
                throw new InvalidInputException($"{f.Path}: tensor 'rope_freqs.weight' has shape {freqs.ShapeText}, expected [{headSize / 2}] (one divisor per rotary pair).");
            float[] divisors = f.ReadFloats(freqs);
            if (divisors.Any(x => !(x > 0) || !float.IsFinite(x)))
                throw new InvalidInputException($"{f.Path}: tensor 'rope_freqs.weight' holds a divisor that is not a positive finite number.");
            return new RopeScaling("divisors", 1) { FrequencyDivisors = divisors };
        }
        return f.Get<string>($"{arch}.rope.scaling.type") switch
        {
            null or "none" => null,
            "linear" => new RopeScaling("linear", f.GetFloat($"{arch}.rope.scaling.factor") ?? throw new InvalidInputException($"{f.Path}: metadata '{arch}.rope.scaling.factor' is missing.")),
            var other => throw new InvalidInputException($"{f.Path}: metadata '{arch}.rope.scaling.type' is '{GgufFile.Flat(other)}'; supported: none, linear."),
        };
    }

    static GgufTensor Tensor(GgufFile f, string name) =>
        f.Tensors.TryGetValue(name, out var t) ? t : throw new InvalidInputException($"{f.Path}: tensor '{name}' is missing; the file is incomplete or not a supported model.");

    /// <summary>The file's weights as the one transformer at <paramref name="type"/> (null: <see cref="AutoWeightType"/>).</summary>
    /// <remarks>
    /// Auto runs each matrix in its own block type where a native one exists (Q8_0 through its exact
    /// float values, Q4_0, Q4_K, Q5_K and Q6_K as the file's blocks) and the rest (Q4_1, Q5_0, Q5_1,
    /// Q2_K, Q3_K) as q8_0. An explicit q4_0 or q4_k keeps the tensors already in that type as they are
    /// and quantizes the others with ggml's reference quantizer; an explicit q5_k (there is no Q5_K
    /// quantizer) keeps the Q5_K tensors and runs the others as q8_0, and needs a file that has some.
    /// </remarks>
    public static TransformerModel Load(GgufFile f, ModelConfig c, WeightType? type)
    {
        var pool = new FloatArrayPool();
        Func<GgmlType, bool>? native = type switch
        {
            null => t => t is GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K,
            WeightType.Q4_0 => t => t == GgmlType.Q4_0,
            WeightType.Q4_K => t => t == GgmlType.Q4_K,
            WeightType.Q5_K => t => t == GgmlType.Q5_K,
            _ => null,
        };
        if (type == WeightType.Q5_K && !f.TensorList.Any(t => t.Type == GgmlType.Q5_K && t.Dimensions.Length == 2))
            throw new InvalidInputException($"{f.Path}: --dtype q5_k keeps a file's Q5_K tensors as they are, and this file has none (there is no q5_k quantizer at load); use --dtype auto, q4_k or q8_0.");
        var fallback = type switch
        {
            null => AutoWeightType(f) is WeightType.Q4_0 or WeightType.Q4_K or WeightType.Q5_K or WeightType.Q6_K ? WeightType.Q8_0 : AutoWeightType(f),
            WeightType.Q5_K => WeightType.Q8_0,
            _ => type.Value,
        };
        return TransformerModel.FromTensors(c, Tensors(f, c, pool), fallback, f.Path, pool, native is null ? null : Blocks(f, c, native))
            .WithWeightType(type ?? AutoWeightType(f));
    }

    /// <summary>
    /// Matrices whose storage type <paramref name="native"/> accepts, as the file's rows of blocks
    /// ([out, in]; arch llama's Q/K rows put back in Hugging Face's order, a row permutation that
    /// moves whole rows of blocks), for the packer to keep without a float round trip.
    /// </summary>
    public static Func<string, (MatrixPart Part, long[] Shape)?> Blocks(GgufFile f, ModelConfig c, Func<GgmlType, bool> native)
    {
        // The family table names each Hugging Face tensor in GGUF and says which rows come in llama.cpp's pair order.
        var specs = Architectures.Of(c).Tensors(c).Where(s => s.Gguf is not null).ToDictionary(s => s.Hf);
        return name =>
        {
            if (!specs.TryGetValue(name.StartsWith("transformer.", StringComparison.Ordinal) ? name[12..] : name, out var spec)) return null;
            string ggufName = spec.Gguf!;
            bool pairs = spec.PairRows;
            if (!f.Tensors.TryGetValue(ggufName, out var t) || t.Dimensions.Length != 2 || !native(t.Type)) return null;
            int rows = (int)t.Dimensions[1], cols = (int)t.Dimensions[0];
            byte[] data = f.Bytes(t).ToArray();
            if (pairs)
            {
                long rowBytes = data.Length / rows;
                var halves = new byte[data.Length];
                int half = c.HeadSize / 2;
                for (int head = 0; head + c.HeadSize <= rows; head += c.HeadSize)
                    for (int i = 0; i < half; i++)
                    {
                        Array.Copy(data, (head + 2 * i) * rowBytes, halves, (head + i) * rowBytes, rowBytes);
                        Array.Copy(data, (head + 2 * i + 1) * rowBytes, halves, (head + half + i) * rowBytes, rowBytes);
                    }
                data = halves;
            }
            var type = t.Type switch { GgmlType.Q4_0 => WeightType.Q4_0, GgmlType.Q5_K => WeightType.Q5_K, GgmlType.Q6_K => WeightType.Q6_K, _ => WeightType.Q4_K };
            return (new MatrixPart { Outputs = rows, Blocks = data, Type = type }, [rows, cols]);
        };
    }

    /// <summary>
    /// Looks a Hugging Face tensor name up in the file: the values (dequantized) and the shape the
    /// engine expects, or null when the file has no such tensor.
    /// </summary>
    /// <param name="pool">Matrices are rented from it (the engine returns them once packed); vectors are new arrays the model keeps.</param>
    public static Func<string, (float[] Data, long[] Shape)?> Tensors(GgufFile f, ModelConfig c, FloatArrayPool pool)
    {
        // The family table names each Hugging Face tensor in GGUF (GPT-2's may carry a "transformer." prefix).
        var specs = Architectures.Of(c).Tensors(c).Where(s => s.Gguf is not null).ToDictionary(s => s.Hf);
        return name =>
        {
            if (!specs.TryGetValue(name.StartsWith("transformer.", StringComparison.Ordinal) ? name[12..] : name, out var spec)
                || !f.Tensors.TryGetValue(spec.Gguf!, out var t)) return null;
            long[] shape = t.Dimensions.Reverse().ToArray();   // GGUF lists the fastest dimension first
            bool matrix = shape.Length == 2;
            float[] data = matrix ? pool.Rent(t.ElementCount) : new float[t.ElementCount];
            f.ReadFloats(t, data);
            if (spec.Conv1D && matrix)
            {
                // GPT-2's Conv1D weight is [in, out]; GGUF holds it as torch's [out, in].
                data = Reordered(pool, data, (source, target) => TensorLayout.Transpose(source, target, (int)shape[0], (int)shape[1]));
                shape = [shape[1], shape[0]];
            }
            if (spec.PairRows && matrix)
                data = Reordered(pool, data, (source, target) => TensorLayout.PairsToHalves(source, target, (int)shape[0], (int)shape[1], c.HeadSize));
            return (data, shape);
        };
    }

    /// <summary>The values rearranged into a pooled array of the same size; the source goes back to the pool.</summary>
    static float[] Reordered(FloatArrayPool pool, float[] source, Action<float[], float[]> reorder)
    {
        var target = pool.Rent(source.Length);
        reorder(source, target);
        pool.Return(source);
        return target;
    }

    /// <summary>
    /// <c>--dtype auto</c> for a GGUF file: Q8_0 stays q8_0 (bit-exact: the same blocks of 32 with
    /// one scale), Q4_0, Q4_K, Q5_K and Q6_K run natively as their blocks, the other 4- and 5-bit and K types
    /// become q8_0 (8 bits hold every value they decode to within half a step of its block's scale),
    /// an all-BF16 file stays bf16, and F16 or F32 run as fp32. A mixed file is named after the type
    /// of most of its weights (a Q4_K_M file: q4_k, its Q6_K tensors running as q6_k; a Q5_K_M file: q5_k).
    /// </summary>
    public static WeightType AutoWeightType(GgufFile f)
    {
        var matrices = f.TensorList.Where(t => t.Dimensions.Length == 2).ToList();
        // A quantized file is named after the run-time type that holds most of its weights.
        if (matrices.Any(t => t.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16)))
            return matrices.GroupBy(t => t.Type switch
                {
                    GgmlType.Q4_0 => WeightType.Q4_0, GgmlType.Q4_K => WeightType.Q4_K, GgmlType.Q5_K => WeightType.Q5_K, GgmlType.Q6_K => WeightType.Q6_K,
                    _ => WeightType.Q8_0,
                })
                .MaxBy(g => g.Sum(t => t.ElementCount))!.Key;
        return matrices.Count > 0 && matrices.All(t => t.Type == GgmlType.BF16) ? WeightType.BF16 : WeightType.F32;
    }

    /// <summary>Counts of tensors per storage type, for info.</summary>
    public static IReadOnlyDictionary<string, int> TypeCounts(GgufFile f) =>
        f.TensorList.GroupBy(t => GgmlTypes.Name(t.Type)).OrderByDescending(g => g.Count()).ToDictionary(g => g.Key, g => g.Count());
}
