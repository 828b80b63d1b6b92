using System.Runtime.InteropServices;
using System.Text;
using Sprinter.Models.Gguf;
using Xunit.Abstractions;

namespace Sprinter.Tests.Models;

/// <summary>
/// <see cref="GgmlDequantizer"/> against libggml itself (libggml-base from LLamaSharp.Backend.Cpu,
/// the build llama.cpp runs here): libggml quantizes random floats, then both dequantize the same
/// bytes and every float must have the same bits. Where the package has no libggml-base for the
/// platform they are skipped, saying why; .ci/run fails if they were skipped on linux-x64, where it ships.
/// </summary>
public class GgufDequantTests(ITestOutputHelper output)
{
    const int RowLength = 1024;   // 4 K-quant super-blocks, 32 small blocks per row
    const int Rows = 3;

    public static TheoryData<GgmlType> QuantizedTypes => new()
    {
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_K,
    };

    // Value distributions that reach different corners of the quantizers: ordinary weights,
    // magnitudes whose fp16 scales are subnormal or flush to zero, magnitudes near the top of fp16's
    // range, blocks of one sign (Q4_1/K-quant minimums), all-zero blocks, and rows whose blocks
    // differ in scale by orders of magnitude.
    static readonly (string Name, Func<Random, int, float> Value)[] Distributions =
    [
        ("normal", (r, _) => Normal(r)),
        ("tiny", (r, _) => Normal(r) * 1e-6f),
        ("subnormal-scales", (r, _) => Normal(r) * 1e-9f),
        ("huge", (r, _) => Normal(r) * 2e4f),
        ("negative-only", (r, _) => -MathF.Abs(Normal(r)) - 0.25f),
        ("positive-only", (r, _) => MathF.Abs(Normal(r)) + 3f),
        ("all-zero", (_, _) => 0f),
        ("zero-blocks-and-outliers", (r, i) => (i / 32) % 3 == 0 ? 0f : r.Next(50) == 0 ? Normal(r) * 100f : Normal(r)),
        ("block-scales-1e-8-to-1e4", (r, i) => Normal(r) * MathF.Pow(10f, (i / 32 * 7 % 13) - 8)),
        ("uniform-levels", (r, _) => r.Next(-8, 8) * 0.5f),
    ];

    [LibggmlTheory]
    [MemberData(nameof(QuantizedTypes))]
    public void DequantizeIsBitIdenticalToLibggml(GgmlType type)
    {
        var ggml = Libggml.Load(output);
        int seed = 1000 + (int)type;
        foreach (var (name, value) in Distributions)
        {
            var random = new Random(seed++);
            float[] x = Enumerable.Range(0, Rows * RowLength).Select(i => value(random, i % RowLength)).ToArray();
            byte[] quantized = ggml.Quantize(type, x, importance: null);
            CompareWithLibggml(ggml, type, quantized, name);

            // An importance matrix sends the K-quants and Q4_0..Q5_1 through ggml's other
            // quantizer (quantize_row_*_impl), which picks scales differently.
            if (type != GgmlType.Q8_K)
            {
                float[] importance = Enumerable.Range(0, RowLength).Select(_ => (float)random.NextDouble() * 4f + 0.01f).ToArray();
                CompareWithLibggml(ggml, type, ggml.Quantize(type, x, importance), name + " (importance matrix)");
            }
        }
    }

    // Random bytes reach bit patterns no quantizer writes (every scale, min and high-bit value);
    // the fp16 scales are kept finite so that NaN payload rules stay out of the comparison.
    [LibggmlTheory]
    [MemberData(nameof(QuantizedTypes))]
    public void RandomBlocksAreBitIdenticalToLibggml(GgmlType type)
    {
        var ggml = Libggml.Load(output);
        var random = new Random(77 + (int)type);
        byte[] blocks = new byte[GgmlTypes.RowBytes(type, Rows * RowLength)];
        random.NextBytes(blocks);
        int blockBytes = GgmlTypes.BlockBytes(type);
        for (int b = 0; b < blocks.Length; b += blockBytes)
            foreach (int offset in ScaleOffsets(type))
            {
                if (type == GgmlType.Q8_K)
                    BitConverter.TryWriteBytes(blocks.AsSpan(b + offset), Normal(random));
                else
                    BitConverter.TryWriteBytes(blocks.AsSpan(b + offset), BitConverter.HalfToUInt16Bits((Half)(Normal(random) * 0.1f)));
            }
        CompareWithLibggml(ggml, type, blocks, "random bytes");
    }

    [LibggmlFact]
    public void Fp16IsBitIdenticalToLibggmlForEveryHalf()
    {
        var ggml = Libggml.Load(output);
        byte[] all = new byte[65536 * 2];
        for (int h = 0; h < 65536; h++)
            BitConverter.TryWriteBytes(all.AsSpan(2 * h), (ushort)h);
        AssertBitIdentical(ggml.ToFloat(GgmlType.F16, all), Ours(GgmlType.F16, all, 65536), "F16, all 65536 values (NaNs included)");
    }

    [LibggmlFact]
    public void Bf16IsBitIdenticalToLibggmlForEveryBf16()
    {
        var ggml = Libggml.Load(output);
        byte[] all = new byte[65536 * 2];
        for (int h = 0; h < 65536; h++)
            BitConverter.TryWriteBytes(all.AsSpan(2 * h), (ushort)h);
        AssertBitIdentical(ggml.ToFloat(GgmlType.BF16, all), Ours(GgmlType.BF16, all, 65536), "BF16, all 65536 values (NaNs included)");
    }

    // Our table against libggml's own ggml_blck_size / ggml_type_size / ggml_type_name.
    [LibggmlFact]
    public void BlockGeometryMatchesLibggml()
    {
        var ggml = Libggml.Load(output);
        foreach (GgmlType type in Enum.GetValues<GgmlType>())
        {
            Assert.True(GgmlTypes.IsKnown(type));
            Assert.Equal((ggml.BlockSize(type), ggml.BlockBytes(type)), (GgmlTypes.BlockSize(type), GgmlTypes.BlockBytes(type)));
            Assert.Equal(ggml.Name(type).ToUpperInvariant(), GgmlTypes.Name(type).ToUpperInvariant());
        }
    }

    [Fact]
    public void RowBytesRefusesPartialBlocksAndOverflow()
    {
        Assert.Equal(144 * 4, GgmlTypes.RowBytes(GgmlType.Q4_K, 1024));
        Assert.Equal(6, GgmlTypes.RowBytes(GgmlType.BF16, 3));
        Assert.Contains("multiple of 256", Assert.Throws<InvalidInputException>(() => GgmlTypes.RowBytes(GgmlType.Q4_K, 1000)).Message);
        Assert.Throws<InvalidInputException>(() => GgmlTypes.RowBytes(GgmlType.Q8_0, 33));
        Assert.Throws<InvalidInputException>(() => GgmlTypes.RowBytes(GgmlType.Q8_0, -32));
        Assert.Throws<InvalidInputException>(() => GgmlTypes.RowBytes(GgmlType.F32, long.MaxValue));
        Assert.Throws<InvalidInputException>(() => GgmlTypes.RowBytes(GgmlType.Q8_0, long.MaxValue / 32 * 32));
        Assert.Throws<InvalidInputException>(() => GgmlTypes.RowBytes((GgmlType)31, 32));
        Assert.False(GgmlTypes.IsKnown((GgmlType)4));
        Assert.Equal("type 31", GgmlTypes.Name((GgmlType)31));
    }

    [Fact]
    public void DequantizeRefusesUnsupportedTypesAndWrongSizes()
    {
        float[] y = new float[256];
        Assert.Contains("IQ2_XXS", Assert.Throws<InvalidInputException>(() => GgmlDequantizer.Dequantize(GgmlType.IQ2_XXS, new byte[66], y)).Message);
        Assert.Throws<InvalidInputException>(() => GgmlDequantizer.Dequantize(GgmlType.Q8_1, new byte[36 * 8], y));
        Assert.Throws<InvalidInputException>(() => GgmlDequantizer.Dequantize(GgmlType.Q4_K, new byte[144], new float[255]));
        Assert.Throws<ArgumentException>(() => GgmlDequantizer.Dequantize(GgmlType.Q4_K, new byte[143], y));
        Assert.False(GgmlTypes.CanDequantize(GgmlType.IQ4_XS));
        Assert.True(GgmlTypes.CanDequantize(GgmlType.Q3_K));
    }

    void CompareWithLibggml(Libggml ggml, GgmlType type, byte[] quantized, string what)
    {
        int count = Rows * RowLength;
        Assert.Equal(GgmlTypes.RowBytes(type, count), quantized.Length);
        AssertBitIdentical(ggml.ToFloat(type, quantized), Ours(type, quantized, count), $"{type}, {what}");
    }

    static float[] Ours(GgmlType type, byte[] source, int count)
    {
        float[] y = new float[count];
        GgmlDequantizer.Dequantize(type, source, y);
        return y;
    }

    // Bits, not values: -0 vs +0, one-ulp differences and NaN payloads are failures too.
    static void AssertBitIdentical(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        int mismatches = 0;
        var report = new StringBuilder();
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]))
                continue;
            if (mismatches++ < 5)
                report.Append($"\n  [{i}] libggml {expected[i]:R} (0x{BitConverter.SingleToInt32Bits(expected[i]):X8}), ours {actual[i]:R} (0x{BitConverter.SingleToInt32Bits(actual[i]):X8})");
        }
        Assert.True(mismatches == 0, $"{what}: {mismatches} of {expected.Length} floats differ from libggml:{report}");
    }

    // Q8_K's scale is an fp32; the others' are fp16 (Q4_1/Q5_1/K-quant mins included).
    static int[] ScaleOffsets(GgmlType type) => type switch
    {
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => [0],
        GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
        GgmlType.Q2_K => [80, 82],
        GgmlType.Q3_K => [108],
        GgmlType.Q6_K => [208],
        GgmlType.Q8_K => [0],
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    static float Normal(Random r) =>
        (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));
}

/// <summary>
/// The few libggml-base exports the dequantizer tests call, through function pointers from
/// <see cref="NativeLibrary.GetExport"/> so that no [DllImport] library name is needed (the file
/// sits in a CPU-feature folder under runtimes/, which the default probing would not search).
/// </summary>
sealed unsafe class Libggml
{
    static readonly Lazy<Libggml> Loaded = new(Open);

    readonly nint handle;

    Libggml(nint handle) => this.handle = handle;

    /// <summary>Why the libggml comparisons cannot run here, or null when the library file is present.</summary>
    public static string? MissingReason => Find().Path is null ? Find().Message : null;

    /// <summary>The library; its tests are skipped (<see cref="MissingReason"/>) where the file is missing, so loading it must work.</summary>
    public static Libggml Load(ITestOutputHelper output)
    {
        var library = Loaded.Value;
        output.WriteLine($"libggml: {Find().Path}");
        return library;
    }

    static Libggml Open() => new(NativeLibrary.Load(Find().Path ?? throw new InvalidOperationException(Find().Message)));

    static (string? Path, string Message) Find()
    {
        string rid = (OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux") + "-" +
                     RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant();
        string file = OperatingSystem.IsWindows() ? "ggml-base.dll" : OperatingSystem.IsMacOS() ? "libggml-base.dylib" : "libggml-base.so";
        string native = Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native");
        // The portable builds are all equivalent for these functions (ggml-base is compiled without
        // FMA, see GgmlDequantizer); take the first that exists.
        string? path = new[] { "avx512", "avx2", "avx", "noavx", "" }
            .Select(folder => Path.Combine(native, folder, file))
            .FirstOrDefault(File.Exists);
        return (path, $"no {file} under {native}: LLamaSharp.Backend.Cpu ships none for {rid}, so there is no libggml to compare with");
    }

    nint Export(string name) => NativeLibrary.GetExport(handle, name);

    public int BlockSize(GgmlType type) =>
        (int)((delegate* unmanaged[Cdecl]<uint, long>)Export("ggml_blck_size"))((uint)type);

    public int BlockBytes(GgmlType type) =>
        (int)((delegate* unmanaged[Cdecl]<uint, nuint>)Export("ggml_type_size"))((uint)type);

    public string Name(GgmlType type) =>
        Marshal.PtrToStringUTF8(((delegate* unmanaged[Cdecl]<uint, nint>)Export("ggml_type_name"))((uint)type)) ?? "";

    /// <summary>
    /// libggml's quantization of whole rows of <paramref name="x"/> (rows of GgufDequantTests'
    /// row length); <paramref name="importance"/> is the optional per-column importance matrix.
    /// </summary>
    public byte[] Quantize(GgmlType type, float[] x, float[]? importance)
    {
        const int rowLength = 1024;
        byte[] result = new byte[GgmlTypes.RowBytes(type, x.Length)];
        fixed (float* src = x)
        fixed (float* weights = importance)
        fixed (byte* dst = result)
        {
            if (type == GgmlType.Q8_K)
            {
                // ggml_quantize_chunk has no Q8_K case (it is only the activations' format).
                var quantizeRow = (delegate* unmanaged[Cdecl]<float*, byte*, long, void>)Export("quantize_row_q8_K_ref");
                quantizeRow(src, dst, x.Length);
            }
            else
            {
                var quantizeChunk = (delegate* unmanaged[Cdecl]<uint, float*, byte*, long, long, long, float*, nuint>)Export("ggml_quantize_chunk");
                nuint written = quantizeChunk((uint)type, src, dst, 0, x.Length / rowLength, rowLength, weights);
                Assert.Equal((nuint)result.Length, written);
            }
        }
        return result;
    }

    /// <summary>libggml's dequantize_row_* (or fp16/bf16 row conversion) of <paramref name="source"/>.</summary>
    public float[] ToFloat(GgmlType type, byte[] source)
    {
        long count = source.Length / GgmlTypes.BlockBytes(type) * (long)GgmlTypes.BlockSize(type);
        float[] y = new float[count];
        string export = type switch
        {
            GgmlType.F16 => "ggml_fp16_to_fp32_row",
            GgmlType.BF16 => "ggml_bf16_to_fp32_row",
            _ => "dequantize_row_" + type.ToString().ToLowerInvariant().Replace("_k", "_K"),
        };
        fixed (byte* x = source)
        fixed (float* dst = y)
            ((delegate* unmanaged[Cdecl]<byte*, float*, long, void>)Export(export))(x, dst, count);
        return y;
    }
}
