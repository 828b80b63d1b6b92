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
    static readonly string[] Supported = ["llama", "qwen2", "qwen3", "gpt2"];

    public static ModelConfig ReadConfig(GgufFile f)
    {
        string arch = f.Get<string>("general.architecture") ?? throw new InvalidInputException($"{f.Path}: metadata 'general.architecture' is missing; the file does not say what model it holds.");
        if (!Supported.Contains(arch))
            throw new InvalidInputException($"{f.Path}: general.architecture is '{GgufFile.Flat(arch)}'; supported: {string.Join(", ", Supported)}.");
        int Required(string key) => f.GetInt($"{arch}.{key}") is int n && n > 0 ? n
            : throw new InvalidInputException($"{f.Path}: metadata '{arch}.{key}' is missing or not a positive integer.");
        var embedding = Tensor(f, "token_embd.weight");
        if (embedding.Dimensions.Length != 2) throw new InvalidInputException($"{f.Path}: tensor 'token_embd.weight' has shape {embedding.ShapeText}, expected [n_embd, n_vocab].");
        int d = Required("embedding_length"), heads = Required("attention.head_count");
        ModelConfig config;
        if (arch == "gpt2")
            config = new ModelConfig
            {
                ModelType = "gpt2", EmbeddingSize = d, LayerCount = Required("block_count"), HeadCount = heads,
                MaxPositions = Required("context_length"), VocabSize = (int)embedding.Dimensions[1], InnerSize = Required("feed_forward_length"),
                LayerNormEpsilon = f.GetFloat("gpt2.attention.layer_norm_epsilon") ?? 1e-5f,
                TieWordEmbeddings = !f.Tensors.ContainsKey("output.weight"),
            };
        else
        {
            int headSize = f.GetInt($"{arch}.attention.key_length") ?? d / heads;
            config = new ModelConfig
            {
                ModelType = arch, EmbeddingSize = d, LayerCount = Required("block_count"), HeadCount = heads,
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
    /// float values, Q4_0, Q4_K and Q6_K as the file's blocks) and the rest (Q4_1, Q5_*, Q2_K, Q3_K,
    /// Q5_K) as q8_0. An explicit q4_0 or q4_k keeps the tensors already in that type as they are
    /// and quantizes the others with ggml's reference quantizer.
    /// </remarks>
    public static TransformerModel Load(GgufFile f, ModelConfig c, WeightType? type)
    {
        var pool = new FloatArrayPool();
        Func<GgmlType, bool>? native = type switch
        {
            null => t => t is GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q6_K,
            WeightType.Q4_0 => t => t == GgmlType.Q4_0,
            WeightType.Q4_K => t => t == GgmlType.Q4_K,
            _ => null,
        };
        var fallback = type ?? (AutoWeightType(f) is WeightType.Q4_0 or WeightType.Q4_K or WeightType.Q6_K ? WeightType.Q8_0 : AutoWeightType(f));
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
        bool gpt2 = c.ModelType == "gpt2", pairs = c.ModelType == "llama";
        return name =>
        {
            var (ggufName, _) = gpt2 ? Gpt2Name(name) : LlamaName(name);
            if (ggufName is null || !f.Tensors.TryGetValue(ggufName, out var t) || t.Dimensions.Length != 2 || !native(t.Type)) return null;
            int rows = (int)t.Dimensions[1], cols = (int)t.Dimensions[0];
            byte[] data = f.Bytes(t).ToArray();
            if (pairs && (ggufName.EndsWith("attn_q.weight") || ggufName.EndsWith("attn_k.weight")))
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
            var type = t.Type switch { GgmlType.Q4_0 => WeightType.Q4_0, GgmlType.Q6_K => WeightType.Q6_K, _ => WeightType.Q4_K };
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
        bool gpt2 = c.ModelType == "gpt2", pairs = c.ModelType == "llama";
        return name =>
        {
            var (ggufName, conv1D) = gpt2 ? Gpt2Name(name) : LlamaName(name);
            if (ggufName is null || !f.Tensors.TryGetValue(ggufName, out var t)) return null;
            long[] shape = t.Dimensions.Reverse().ToArray();   // GGUF lists the fastest dimension first
            bool matrix = shape.Length == 2;
            float[] data = matrix ? pool.Rent(t.ElementCount) : new float[t.ElementCount];
            f.ReadFloats(t, data);
            if (conv1D && matrix)
            {
                // GPT-2's Conv1D weight is [in, out]; GGUF holds it as torch's [out, in].
                data = Reordered(pool, data, (source, target) => GgufWriter.Transpose(source, target, (int)shape[0], (int)shape[1]));
                shape = [shape[1], shape[0]];
            }
            if (pairs && matrix && (ggufName.EndsWith("attn_q.weight") || ggufName.EndsWith("attn_k.weight")))
                data = Reordered(pool, data, (source, target) => PairsToHalves(source, target, (int)shape[0], (int)shape[1], c.HeadSize));
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

    static (string? Name, bool Conv1D) LlamaName(string hf)
    {
        if (hf == "model.embed_tokens.weight") return ("token_embd.weight", false);
        if (hf == "model.norm.weight") return ("output_norm.weight", false);
        if (hf == "lm_head.weight") return ("output.weight", false);
        if (!hf.StartsWith("model.layers.", StringComparison.Ordinal)) return (null, false);
        int dot = hf.IndexOf('.', 13);
        string layer = hf[13..dot], rest = hf[(dot + 1)..];
        string? part = rest switch
        {
            "input_layernorm.weight" => "attn_norm.weight",
            "post_attention_layernorm.weight" => "ffn_norm.weight",
            "self_attn.q_norm.weight" => "attn_q_norm.weight",
            "self_attn.k_norm.weight" => "attn_k_norm.weight",
            _ when rest.StartsWith("self_attn.") => Suffix(rest, "self_attn.", new() { ["q_proj"] = "attn_q", ["k_proj"] = "attn_k", ["v_proj"] = "attn_v", ["o_proj"] = "attn_output" }),
            _ when rest.StartsWith("mlp.") => Suffix(rest, "mlp.", new() { ["gate_proj"] = "ffn_gate", ["up_proj"] = "ffn_up", ["down_proj"] = "ffn_down" }),
            _ => null,
        };
        return (part is null ? null : $"blk.{layer}.{part}", false);
    }

    static (string? Name, bool Conv1D) Gpt2Name(string hf)
    {
        if (hf.StartsWith("transformer.", StringComparison.Ordinal)) hf = hf[12..];
        switch (hf)
        {
            case "wte.weight": return ("token_embd.weight", false);
            case "wpe.weight": return ("position_embd.weight", false);
            case "lm_head.weight": return ("output.weight", false);
            case "ln_f.weight": return ("output_norm.weight", false);
            case "ln_f.bias": return ("output_norm.bias", false);
        }
        if (!hf.StartsWith("h.", StringComparison.Ordinal)) return (null, false);
        int dot = hf.IndexOf('.', 2);
        string layer = hf[2..dot], rest = hf[(dot + 1)..];
        string? part = Suffix(rest, "", new()
        {
            ["ln_1"] = "attn_norm", ["ln_2"] = "ffn_norm", ["attn.c_attn"] = "attn_qkv", ["attn.c_proj"] = "attn_output",
            ["mlp.c_fc"] = "ffn_up", ["mlp.c_proj"] = "ffn_down",
        });
        return (part is null ? null : $"blk.{layer}.{part}", part is not null && !rest.StartsWith("ln_") && rest.EndsWith(".weight"));
    }

    /// <summary>"prefix" + key + ".weight|.bias" mapped through <paramref name="map"/>, keeping the suffix.</summary>
    static string? Suffix(string name, string prefix, Dictionary<string, string> map)
    {
        int dot = name.LastIndexOf('.');
        if (dot <= prefix.Length) return null;
        string key = name[prefix.Length..dot], suffix = name[dot..];
        return suffix is ".weight" or ".bias" && map.TryGetValue(key, out var mapped) ? mapped + suffix : null;
    }

    /// <summary>llama.cpp's arch-llama Q/K rows (adjacent pairs 2i, 2i + 1 per head) back to HF's halves (i, i + hs/2).</summary>
    static void PairsToHalves(float[] w, float[] result, int rows, int cols, int headSize)
    {
        int half = headSize / 2;
        for (int head = 0; head + headSize <= rows; head += headSize)
            for (int i = 0; i < half; i++)
            {
                Array.Copy(w, (long)(head + 2 * i) * cols, result, (long)(head + i) * cols, cols);
                Array.Copy(w, (long)(head + 2 * i + 1) * cols, result, (long)(head + half + i) * cols, cols);
            }
    }

    /// <summary>
    /// <c>--dtype auto</c> for a GGUF file: Q8_0 stays q8_0 (bit-exact: the same blocks of 32 with
    /// one scale), Q4_0, Q4_K and Q6_K run natively as their blocks, the other 4-, 5- and 6-bit and K types
    /// become q8_0 (8 bits hold every value they decode to within half a step of its block's scale),
    /// an all-BF16 file stays bf16, and F16 or F32 run as fp32. A mixed file is named after the type
    /// of most of its weights (a Q4_K_M file: q4_k, its Q6_K tensors running as q6_k).
    /// </summary>
    public static WeightType AutoWeightType(GgufFile f)
    {
        var matrices = f.TensorList.Where(t => t.Dimensions.Length == 2).ToList();
        // A quantized file is named after the run-time type that holds most of its weights.
        if (matrices.Any(t => t.Type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16)))
            return matrices.GroupBy(t => t.Type switch { GgmlType.Q4_0 => WeightType.Q4_0, GgmlType.Q4_K => WeightType.Q4_K, GgmlType.Q6_K => WeightType.Q6_K, _ => WeightType.Q8_0 })
                .MaxBy(g => g.Sum(t => t.ElementCount))!.Key;
        return matrices.Count > 0 && matrices.All(t => t.Type == GgmlType.BF16) ? WeightType.BF16 : WeightType.F32;
    }

    /// <summary>Counts of tensors per storage type, for info.</summary>
    public static IReadOnlyDictionary<string, int> TypeCounts(GgufFile f) =>
        f.TensorList.GroupBy(t => GgmlTypes.Name(t.Type)).OrderByDescending(g => g.Count()).ToDictionary(g => g.Key, g => g.Count());
}
