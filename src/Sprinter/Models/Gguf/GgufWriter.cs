using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text;

namespace Sprinter.Models;

// Converts a Hugging Face GPT-2 folder to GGUF v3 for llama.cpp's "gpt2" architecture, so the
// same weights can be run (and cross-checked) by llama.cpp / LLamaSharp. No .NET package writes
// GGUF (LLamaSharp only reads it, through llama.cpp), and the subset needed here is small, so
// this file writes it directly.
//
// GGUF v3 layout, all little-endian: "GGUF", version u32, tensor count u64, metadata count u64;
// metadata entries (string key, u32 value type, value); tensor infos (string name, u32 n_dims,
// u64 dims listed fastest-varying first, u32 ggml type, u64 offset into the data section);
// padding to the alignment; then each tensor's data, padded to the alignment.
// A string is a u64 byte length followed by UTF-8 bytes.

/// <summary>Storage type of the 2-D weights; the values are ggml type ids. 1-D tensors are always F32.</summary>
public enum GgufType { F32 = 0, F16 = 1 }

/// <summary>What <see cref="GgufWriter.Convert"/> wrote.</summary>
public sealed record GgufSummary(string Path, GgufType Type, int TensorCount, int MetadataCount, long Bytes);

public static class GgufWriter
{
    public const uint Version = 3;
    public const int Alignment = 32;   // GGUF's default; also written as general.alignment

    // GGUF metadata value types.
    enum MetadataType : uint { UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9 }

    sealed record Tensor(string Name, long[] Dims, GgufType Type, Func<float[]> Data)
    {
        public long Bytes => Dims.Aggregate(1L, (a, b) => a * b) * (Type == GgufType.F32 ? 4 : 2);
    }

    /// <summary>
    /// Writes <paramref name="modelFolder"/> (config.json, model.safetensors, vocab.json,
    /// merges.txt) as a GGUF file. The file appears only when complete: it is written beside the
    /// target under a temporary name and renamed.
    /// </summary>
    public static GgufSummary Convert(string modelFolder, string outFile, GgufType type = GgufType.F32)
    {
        if (type is not (GgufType.F32 or GgufType.F16))
            throw new InvalidInputException($"GGUF type {type} is not supported; use F32 or F16.");
        var files = ModelFolder.Resolve(modelFolder);
        var config = ModelConfig.Load(files.ConfigPath);
        if (config.ModelType is not ("gpt2" or "llama" or "mistral" or "qwen2" or "qwen3"))
            throw new InvalidInputException($"{files.ConfigPath}: model_type '{config.ModelType}'; GGUF output is written for gpt2, llama, mistral, qwen2 and qwen3 (llama.cpp has no {config.ModelType}).");
        // Scaled rotary frequencies travel as llama.cpp's rope_freqs.weight (per-pair divisors), which it
        // reads for arch llama; dynamic scaling changes nothing within the context (see RopeScaling).
        if (config.RopeScaling is { Type: not "dynamic" } && GgufArchitecture(config) != "llama")
            throw new InvalidInputException($"{files.ConfigPath}: rope_scaling is set on a {config.ModelType} model; GGUF output writes it for arch llama only.");
        string? outDir = Path.GetDirectoryName(Path.GetFullPath(outFile));
        if (outDir is not null && !Directory.Exists(outDir))
            throw new InvalidInputException($"{outFile}: the output folder {outDir} does not exist; create it or choose another path.");

        var metadata = BuildMetadata(config, files, type);
        using var weights = files.OpenWeights();
        var tensors = BuildTensors(config, weights, type);
        long bytes = Write(outFile, metadata, tensors);
        return new GgufSummary(outFile, type, tensors.Count, metadata.Count, bytes);
    }

    static List<(string Key, MetadataType Type, object Value)> BuildMetadata(ModelConfig c, ModelFolder files, GgufType type)
    {
        var meta = new List<(string, MetadataType, object)>
        {
            ("general.architecture", MetadataType.String, GgufArchitecture(c)),
            ("general.name", MetadataType.String, Path.GetFileName(Path.GetFullPath(files.Folder).TrimEnd(Path.DirectorySeparatorChar))),
            ("general.alignment", MetadataType.UInt32, (uint)Alignment),
            // llama_ftype: 0 = all F32, 1 = mostly F16.
            ("general.file_type", MetadataType.UInt32, type == GgufType.F32 ? 0u : 1u),
            ($"{GgufArchitecture(c)}.context_length", MetadataType.UInt32, (uint)c.MaxPositions),
            ($"{GgufArchitecture(c)}.embedding_length", MetadataType.UInt32, (uint)c.EmbeddingSize),
            ($"{GgufArchitecture(c)}.feed_forward_length", MetadataType.UInt32, (uint)c.InnerSize),
            ($"{GgufArchitecture(c)}.block_count", MetadataType.UInt32, (uint)c.LayerCount),
            ($"{GgufArchitecture(c)}.attention.head_count", MetadataType.UInt32, (uint)c.HeadCount),
        };
        meta.AddRange(Gguf.GgufTokenizerWriter.Metadata(c, files).Select(m => (m.Key, m.Value switch
        {
            string => MetadataType.String, uint => MetadataType.UInt32, bool => MetadataType.Bool, float => MetadataType.Float32, _ => MetadataType.Array,
        }, m.Value)));
        if (c.ModelType == "gpt2") meta.Add(("gpt2.attention.layer_norm_epsilon", MetadataType.Float32, c.LayerNormEpsilon));
        else
        {
            meta.Add(($"{GgufArchitecture(c)}.attention.head_count_kv", MetadataType.UInt32, (uint)c.KeyValueHeads));
            meta.Add(($"{GgufArchitecture(c)}.attention.layer_norm_rms_epsilon", MetadataType.Float32, c.LayerNormEpsilon));
            meta.Add(($"{GgufArchitecture(c)}.rope.freq_base", MetadataType.Float32, c.RopeTheta));
            meta.Add(($"{GgufArchitecture(c)}.rope.dimension_count", MetadataType.UInt32, (uint)c.HeadSize));
            meta.Add(($"{GgufArchitecture(c)}.attention.key_length", MetadataType.UInt32, (uint)c.HeadSize));
            meta.Add(($"{GgufArchitecture(c)}.attention.value_length", MetadataType.UInt32, (uint)c.HeadSize));
        }
        return meta;
    }

    /// <summary>llama.cpp's architecture name: Mistral's checkpoints run as arch llama.</summary>
    static string GgufArchitecture(ModelConfig c) => c.ModelType == "mistral" ? "llama" : c.ModelType;

    static List<Tensor> BuildTensors(ModelConfig c, SafeTensorsSet st, GgufType type) =>
        c.ModelType == "gpt2" ? BuildGpt2Tensors(c, st, type) : BuildLlamaTensors(c, st, type);

    /// <summary>
    /// The Llama layout (llama, qwen2, qwen3). nn.Linear weights are [out, in] row-major, as llama.cpp
    /// reads them. Arch llama rotates adjacent pairs, so its q and k rows are reordered within each
    /// head from HF's halves (i, i + hs/2) to pairs (2i, 2i + 1); qwen2 and qwen3 rotate halves as HF does.
    /// </summary>
    static List<Tensor> BuildLlamaTensors(ModelConfig c, SafeTensorsSet st, GgufType type)
    {
        int d = c.EmbeddingSize, f = c.InnerSize, v = c.VocabSize, q = c.QuerySize, kv = c.KeyValueSize, hs = c.HeadSize;
        var tensors = new List<Tensor>();
        TensorInfo Find(string name, params long[] shape)
        {
            if (!st.Tensors.TryGetValue(name, out var t))
                throw new InvalidInputException($"{st.Path}: missing tensor '{name}' (expected shape [{string.Join(", ", shape)}]); the checkpoint is incomplete or not {c.ModelType}.");
            if (!t.Shape.SequenceEqual(shape))
                throw new InvalidInputException($"{st.Path}: tensor '{name}' has shape {t.ShapeText}, expected [{string.Join(", ", shape)}] from config.json.");
            return t;
        }
        void Vector(string ggufName, string hfName, int length)
        {
            var info = Find(hfName, length);
            tensors.Add(new Tensor(ggufName, [length], GgufType.F32, () => st.ReadFloats(info)));
        }
        void Matrix(string ggufName, string hfName, int rows, int cols, bool pairRows = false)
        {
            var info = Find(hfName, rows, cols);
            tensors.Add(new Tensor(ggufName, [cols, rows], type, () => pairRows ? HalvesToPairs(st.ReadFloats(info), rows, cols, hs) : st.ReadFloats(info)));
        }
        bool pairs = GgufArchitecture(c) == "llama";
        Matrix("token_embd.weight", "model.embed_tokens.weight", v, d);
        for (int l = 0; l < c.LayerCount; l++)
        {
            string h = $"model.layers.{l}.", b = $"blk.{l}.";
            Vector(b + "attn_norm.weight", h + "input_layernorm.weight", d);
            Matrix(b + "attn_q.weight", h + "self_attn.q_proj.weight", q, d, pairs);
            Matrix(b + "attn_k.weight", h + "self_attn.k_proj.weight", kv, d, pairs);
            Matrix(b + "attn_v.weight", h + "self_attn.v_proj.weight", kv, d);
            if (c.QkvBias)
            {
                Vector(b + "attn_q.bias", h + "self_attn.q_proj.bias", q);
                Vector(b + "attn_k.bias", h + "self_attn.k_proj.bias", kv);
                Vector(b + "attn_v.bias", h + "self_attn.v_proj.bias", kv);
            }
            if (c.QueryKeyNorm)
            {
                Vector(b + "attn_q_norm.weight", h + "self_attn.q_norm.weight", hs);
                Vector(b + "attn_k_norm.weight", h + "self_attn.k_norm.weight", hs);
            }
            Matrix(b + "attn_output.weight", h + "self_attn.o_proj.weight", d, q);
            Vector(b + "ffn_norm.weight", h + "post_attention_layernorm.weight", d);
            Matrix(b + "ffn_gate.weight", h + "mlp.gate_proj.weight", f, d);
            Matrix(b + "ffn_up.weight", h + "mlp.up_proj.weight", f, d);
            Matrix(b + "ffn_down.weight", h + "mlp.down_proj.weight", d, f);
        }
        Vector("output_norm.weight", "model.norm.weight", d);
        if (c.RopeScaling is { Type: "llama3" or "linear" } scaling)
            tensors.Add(new Tensor("rope_freqs.weight", [hs / 2], GgufType.F32, () => Enumerable.Range(0, hs / 2).Select(i =>
            {
                double inverse = 1.0 / Math.Pow(c.RopeTheta, 2.0 * i / hs);
                return (float)(inverse / scaling.Scale(inverse, i));
            }).ToArray()));
        if (!c.TieWordEmbeddings) Matrix("output.weight", "lm_head.weight", v, d);
        return tensors;
    }

    /// <summary>Within each head of <paramref name="headSize"/> rows, row i and i + hs/2 become rows 2i and 2i + 1.</summary>
    static float[] HalvesToPairs(float[] w, int rows, int cols, int headSize)
    {
        var result = new float[w.Length];
        int half = headSize / 2;
        for (int head = 0; head < rows; head += headSize)
            for (int i = 0; i < half; i++)
            {
                Array.Copy(w, (long)(head + i) * cols, result, (long)(head + 2 * i) * cols, cols);
                Array.Copy(w, (long)(head + half + i) * cols, result, (long)(head + 2 * i + 1) * cols, cols);
            }
        return result;
    }

    static List<Tensor> BuildGpt2Tensors(ModelConfig c, SafeTensorsSet st, GgufType type)
    {
        int d = c.EmbeddingSize, f = c.InnerSize, v = c.VocabSize, p = c.MaxPositions;
        TensorInfo Find(string name, params long[] shape)
        {
            if (!st.Tensors.TryGetValue(name, out var t) && !st.Tensors.TryGetValue("transformer." + name, out t))
                throw new InvalidInputException($"{st.Path}: missing tensor '{name}' (expected shape [{string.Join(", ", shape)}]); the checkpoint is incomplete or not GPT-2.");
            if (!t.Shape.SequenceEqual(shape))
                throw new InvalidInputException($"{st.Path}: tensor '{name}' has shape {t.ShapeText}, expected [{string.Join(", ", shape)}] from config.json.");
            return t;
        }
        var tensors = new List<Tensor>();
        // A 1-D vector, always F32 (llama.cpp adds norms and biases in F32).
        void Vector(string ggufName, string hfName, int length)
        {
            var info = Find(hfName, length);
            tensors.Add(new Tensor(ggufName, [length], GgufType.F32, () => st.ReadFloats(info)));
        }
        // A matrix stored [rows, cols] row-major: GGUF lists cols first, the bytes stay as they are.
        void Matrix(string ggufName, string hfName, int rows, int cols)
        {
            var info = Find(hfName, rows, cols);
            tensors.Add(new Tensor(ggufName, [cols, rows], type, () => st.ReadFloats(info)));
        }
        // A Hugging Face Conv1D weight, stored [in, out]; llama.cpp multiplies by [out, in] row-major.
        void Conv1D(string ggufName, string hfName, int inputs, int outputs)
        {
            var info = Find(hfName, inputs, outputs);
            tensors.Add(new Tensor(ggufName, [inputs, outputs], type, () => Transpose(st.ReadFloats(info), inputs, outputs)));
        }

        Matrix("token_embd.weight", "wte.weight", v, d);
        Matrix("position_embd.weight", "wpe.weight", p, d);
        for (int l = 0; l < c.LayerCount; l++)
        {
            string h = $"h.{l}.", b = $"blk.{l}.";
            Vector(b + "attn_norm.weight", h + "ln_1.weight", d);
            Vector(b + "attn_norm.bias", h + "ln_1.bias", d);
            Conv1D(b + "attn_qkv.weight", h + "attn.c_attn.weight", d, 3 * d);
            Vector(b + "attn_qkv.bias", h + "attn.c_attn.bias", 3 * d);
            Conv1D(b + "attn_output.weight", h + "attn.c_proj.weight", d, d);
            Vector(b + "attn_output.bias", h + "attn.c_proj.bias", d);
            Vector(b + "ffn_norm.weight", h + "ln_2.weight", d);
            Vector(b + "ffn_norm.bias", h + "ln_2.bias", d);
            Conv1D(b + "ffn_up.weight", h + "mlp.c_fc.weight", d, f);
            Vector(b + "ffn_up.bias", h + "mlp.c_fc.bias", f);
            Conv1D(b + "ffn_down.weight", h + "mlp.c_proj.weight", f, d);
            Vector(b + "ffn_down.bias", h + "mlp.c_proj.bias", d);
        }
        Vector("output_norm.weight", "ln_f.weight", d);
        Vector("output_norm.bias", "ln_f.bias", d);
        // Tied models (GPT-2's own) omit "output": llama.cpp then reuses token_embd, as the engine does.
        bool hasLmHead = st.Tensors.ContainsKey("lm_head.weight") || st.Tensors.ContainsKey("transformer.lm_head.weight");
        if (hasLmHead && !c.TieWordEmbeddings) Matrix("output.weight", "lm_head.weight", v, d);
        return tensors;
    }

    /// <summary>A [rows, cols] row-major matrix as [cols, rows] (GPT-2's Conv1D layout to torch's and back).</summary>
    internal static float[] Transpose(float[] source, int rows, int cols)
    {
        var result = new float[source.Length];
        Transpose(source, result, rows, cols);
        return result;
    }

    internal static void Transpose(float[] source, float[] result, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
            for (int col = 0; col < cols; col++)
                result[(long)col * rows + r] = source[(long)r * cols + col];
    }

    static long Write(string outFile, List<(string Key, MetadataType Type, object Value)> metadata, List<Tensor> tensors)
    {
        string tmp = outFile + ".tmp-" + Environment.ProcessId;
        try
        {
            long length;
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                w.Write(Encoding.ASCII.GetBytes("GGUF"));
                w.Write(Version);
                w.Write((ulong)tensors.Count);
                w.Write((ulong)metadata.Count);
                foreach (var (key, valueType, value) in metadata)
                {
                    WriteString(w, key);
                    w.Write((uint)valueType);
                    WriteValue(w, valueType, value);
                }
                long offset = 0;
                foreach (var t in tensors)
                {
                    WriteString(w, t.Name);
                    w.Write((uint)t.Dims.Length);
                    foreach (long dim in t.Dims) w.Write((ulong)dim);
                    w.Write((uint)t.Type);
                    w.Write((ulong)offset);
                    offset = AlignUp(offset + t.Bytes);
                }
                Pad(w);
                foreach (var t in tensors)
                {
                    WriteData(w, t);
                    Pad(w);
                }
                w.Flush();
                length = stream.Length;
            }
            File.Move(tmp, outFile, overwrite: true);
            return length;
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    static long AlignUp(long offset) => (offset + Alignment - 1) / Alignment * Alignment;

    static void Pad(BinaryWriter w)
    {
        long position = w.BaseStream.Position;
        for (long i = position; i < AlignUp(position); i++) w.Write((byte)0);
    }

    static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    static void WriteValue(BinaryWriter w, MetadataType type, object value)
    {
        switch (value)
        {
            case uint u: w.Write(u); break;
            case bool b: w.Write((byte)(b ? 1 : 0)); break;
            case float[] floats:
                w.Write((uint)MetadataType.Float32);
                w.Write((ulong)floats.Length);
                foreach (float x in floats) w.Write(x);
                break;
            case float x: w.Write(x); break;
            case string s: WriteString(w, s); break;
            case string[] strings:
                w.Write((uint)MetadataType.String);
                w.Write((ulong)strings.Length);
                foreach (string s in strings) WriteString(w, s);
                break;
            case int[] ints:
                w.Write((uint)MetadataType.Int32);
                w.Write((ulong)ints.Length);
                foreach (int i in ints) w.Write(i);
                break;
            default: throw new InvalidOperationException($"no GGUF encoding for {type} value {value.GetType().Name}");
        }
    }

    static void WriteData(BinaryWriter w, Tensor t)
    {
        float[] data = t.Data();
        if (t.Type == GgufType.F32)
        {
            w.Write(MemoryMarshal.AsBytes(data.AsSpan()));
            return;
        }
        // fp16 tops out at 65504; a larger weight would silently become infinity.
        float largest = data.Length == 0 ? 0 : Math.Abs(TensorPrimitives.MaxMagnitude(data));
        if (largest > (float)Half.MaxValue)
            throw new InvalidInputException($"tensor '{t.Name}' holds {largest}, beyond fp16's range; convert with F32 instead.");
        var half = new Half[data.Length];
        TensorPrimitives.ConvertToHalf(data, half);
        w.Write(MemoryMarshal.AsBytes(half.AsSpan()));
    }
}
