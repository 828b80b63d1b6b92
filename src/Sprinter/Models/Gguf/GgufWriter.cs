using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Text;

namespace Sprinter.Models;

// Converts a Hugging Face model folder (any family llama.cpp runs: gpt2, llama, mistral, qwen2,
// qwen3) to GGUF v3, so the same weights can be run (and cross-checked) by llama.cpp / LLamaSharp. No .NET package writes
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
    /// Writes <paramref name="modelFolder"/> (config.json, safetensors, tokenizer files) as a GGUF
    /// file, under the tensor names of the family table (<see cref="TensorLayout"/>). The file appears only when complete: it is written beside the
    /// target under a temporary name and renamed.
    /// </summary>
    public static GgufSummary Convert(string modelFolder, string outFile, GgufType type = GgufType.F32)
    {
        if (type is not (GgufType.F32 or GgufType.F16))
            throw new InvalidInputException($"GGUF type {type} is not supported; use F32 or F16.");
        var files = ModelFolder.Resolve(modelFolder);
        var config = ModelConfig.Load(files.ConfigPath);
        var family = Architectures.Of(config);
        if (family.GgufArchitecture is null)
        {
            var written = Architectures.All.Where(f => f.GgufArchitecture is not null).Select(f => f.ModelType).ToList();
            throw new InvalidInputException($"{files.ConfigPath}: model_type '{config.ModelType}'; GGUF output is written for {string.Join(", ", written[..^1])} and {written[^1]} (llama.cpp has no {config.ModelType}).");
        }
        // Scaled rotary frequencies travel as llama.cpp's rope_freqs.weight (per-pair divisors), which it
        // reads for arch llama; dynamic scaling changes nothing within the context (see RopeScaling).
        if (config.RopeScaling is { Type: not "dynamic" } && !family.GgufPairRotation)
            throw new InvalidInputException($"{files.ConfigPath}: rope_scaling is set on a {config.ModelType} model; GGUF output writes it for arch llama only.");
        string? outDir = Path.GetDirectoryName(Path.GetFullPath(outFile));
        if (outDir is not null && !Directory.Exists(outDir))
            throw new InvalidInputException($"{outFile}: the output folder {outDir} does not exist; create it or choose another path.");

        var metadata = BuildMetadata(config, family, files, type);
        using var weights = files.OpenWeights();
        var tensors = BuildTensors(config, family, weights, type);
        long bytes = Write(outFile, metadata, tensors);
        return new GgufSummary(outFile, type, tensors.Count, metadata.Count, bytes);
    }

    static List<(string Key, MetadataType Type, object Value)> BuildMetadata(ModelConfig c, ModelFamily family, ModelFolder files, GgufType type)
    {
        string arch = family.GgufArchitecture!;
        var meta = new List<(string, MetadataType, object)>
        {
            ("general.architecture", MetadataType.String, arch),
            ("general.name", MetadataType.String, Path.GetFileName(Path.GetFullPath(files.Folder).TrimEnd(Path.DirectorySeparatorChar))),
            ("general.alignment", MetadataType.UInt32, (uint)Alignment),
            // llama_ftype: 0 = all F32, 1 = mostly F16.
            ("general.file_type", MetadataType.UInt32, type == GgufType.F32 ? 0u : 1u),
            ($"{arch}.context_length", MetadataType.UInt32, (uint)c.MaxPositions),
            ($"{arch}.embedding_length", MetadataType.UInt32, (uint)c.EmbeddingSize),
            ($"{arch}.feed_forward_length", MetadataType.UInt32, (uint)c.InnerSize),
            ($"{arch}.block_count", MetadataType.UInt32, (uint)c.LayerCount),
            ($"{arch}.attention.head_count", MetadataType.UInt32, (uint)c.HeadCount),
        };
        meta.AddRange(Gguf.GgufTokenizerWriter.Metadata(c, files).Select(m => (m.Key, m.Value switch
        {
            string => MetadataType.String, uint => MetadataType.UInt32, bool => MetadataType.Bool, float => MetadataType.Float32, _ => MetadataType.Array,
        }, m.Value)));
        if (family.Layout == FamilyLayout.Gpt2) meta.Add(($"{arch}.attention.layer_norm_epsilon", MetadataType.Float32, c.LayerNormEpsilon));
        else
        {
            meta.Add(($"{arch}.attention.head_count_kv", MetadataType.UInt32, (uint)c.KeyValueHeads));
            meta.Add(($"{arch}.attention.layer_norm_rms_epsilon", MetadataType.Float32, c.LayerNormEpsilon));
            meta.Add(($"{arch}.rope.freq_base", MetadataType.Float32, c.RopeTheta));
            meta.Add(($"{arch}.rope.dimension_count", MetadataType.UInt32, (uint)c.HeadSize));
            meta.Add(($"{arch}.attention.key_length", MetadataType.UInt32, (uint)c.HeadSize));
            meta.Add(($"{arch}.attention.value_length", MetadataType.UInt32, (uint)c.HeadSize));
        }
        return meta;
    }

    /// <summary>
    /// The family's tensors as llama.cpp reads them: matrices [out, in] row-major (GPT-2's Conv1D
    /// weights transposed, arch llama's q/k rows in pair order), vectors always F32 (llama.cpp adds
    /// norms and biases in F32), and rope_freqs.weight for scaled rotary frequencies.
    /// </summary>
    static List<Tensor> BuildTensors(ModelConfig c, ModelFamily family, SafeTensorsSet st, GgufType type)
    {
        var tensors = new List<Tensor>();
        foreach (var spec in family.Tensors(c))
        {
            // GPT-2 checkpoints may carry a "transformer." prefix.
            if (!st.Tensors.TryGetValue(spec.Hf, out var info) && !st.Tensors.TryGetValue("transformer." + spec.Hf, out info))
            {
                if (spec.Optional) continue;
                throw new InvalidInputException($"{st.Path}: missing tensor '{spec.Hf}' (expected shape [{string.Join(", ", spec.Shape)}]); the checkpoint is incomplete or not {c.ModelType}.");
            }
            if (!info.Shape.SequenceEqual(spec.Shape))
                throw new InvalidInputException($"{st.Path}: tensor '{spec.Hf}' has shape {info.ShapeText}, expected [{string.Join(", ", spec.Shape)}] from config.json.");
            if (spec.Shape is not [long rows, long cols])
            {
                tensors.Add(new Tensor(spec.Gguf!, spec.Shape, GgufType.F32, () => st.ReadFloats(info)));
                continue;
            }
            // GGUF lists the fastest dimension first: a torch [out, in] matrix is [in, out] there.
            tensors.Add(new Tensor(spec.Gguf!, spec.Conv1D ? [rows, cols] : [cols, rows], type, () =>
            {
                float[] data = st.ReadFloats(info);
                if (!spec.Conv1D && !spec.PairRows) return data;
                var result = new float[data.Length];
                if (spec.Conv1D) TensorLayout.Transpose(data, result, (int)rows, (int)cols);
                else TensorLayout.HalvesToPairs(data, result, (int)rows, (int)cols, c.HeadSize);
                return result;
            }));
        }
        if (family.GgufPairRotation && c.RopeScaling is { Type: "llama3" or "linear" } scaling)
        {
            int hs = c.HeadSize;
            tensors.Add(new Tensor("rope_freqs.weight", [hs / 2], GgufType.F32, () => Enumerable.Range(0, hs / 2).Select(i =>
            {
                double inverse = 1.0 / Math.Pow(c.RopeTheta, 2.0 * i / hs);
                return (float)(inverse / scaling.Scale(inverse, i));
            }).ToArray()));
        }
        return tensors;
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
