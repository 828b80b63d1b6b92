using Sprinter.Engine;
using Sprinter.Models.Gguf;

namespace Sprinter.Tests.Engine;

/// <summary>
/// The 4-, 5- and 6-bit run-time types keep a GGUF file's blocks: every weight of a packed tile equals what
/// ggml's dequantizer gives for the file's bytes (bit for bit), and a matrix fused from parts in
/// different types multiplies as its stored weights say. In the CI filter (Sprinter.Tests.Engine),
/// so the AVX2, 128-bit and scalar kernels run these too.
/// </summary>
public unsafe class Q4FormatTests
{
    static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * (rng.Next(10) == 0 ? 4f : 1f)).ToArray();
    }

    static byte[] Quantize(GgmlType type, float[] rows)
    {
        var bytes = new byte[GgmlTypes.RowBytes(type, rows.Length)];
        fixed (float* x = rows) fixed (byte* y = bytes) GgmlQuantizer.Quantize(type, x, y, rows.Length);
        return bytes;
    }

    /// <summary>Random Q6_K blocks (no quantizer for it here): random quants and scales, a finite d.</summary>
    internal static byte[] RandomQ6K(int input, int output, int seed)
    {
        var rng = new Random(seed);
        var bytes = new byte[GgmlTypes.RowBytes(GgmlType.Q6_K, (long)input * output)];
        rng.NextBytes(bytes);
        for (int b = 0; b < bytes.Length; b += 210) BitConverter.TryWriteBytes(bytes.AsSpan(b + 208), (Half)(rng.NextDouble() * 0.01));
        return bytes;
    }

    /// <summary>
    /// Random Q5_K blocks (no quantizer for it here): random quants, fifth bits, scales and mins; d and
    /// dmin finite, of either sign, below <paramref name="scale"/> (so |w| &lt; 2,016 scale).
    /// </summary>
    internal static byte[] RandomQ5K(int input, int output, int seed, double scale = 1e-3)
    {
        var rng = new Random(seed);
        var bytes = new byte[GgmlTypes.RowBytes(GgmlType.Q5_K, (long)input * output)];
        rng.NextBytes(bytes);
        for (int b = 0; b < bytes.Length; b += 176)
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(b), (Half)((rng.NextDouble() * 2 - 1) * scale));
            BitConverter.TryWriteBytes(bytes.AsSpan(b + 2), (Half)((rng.NextDouble() * 2 - 1) * scale));
        }
        return bytes;
    }

    [Theory]
    [InlineData(512, 70)]   // two whole tiles and 6 lanes
    [InlineData(256, 13)]   // one partial tile
    [InlineData(768, 33)]
    public void Q5KBlocksHoldExactlyTheFilesValues(int input, int output)
    {
        var blocks = RandomQ5K(input, output, input + output);
        var expected = new float[input * output];
        GgmlDequantizer.Dequantize(GgmlType.Q5_K, blocks, expected);
        using var m = PackedMatrix.FromParts([new MatrixPart { Outputs = output, Blocks = blocks, Type = WeightType.Q5_K }], input, outIn: true);
        Assert.Equal(WeightType.Q5_K, m.Type);
        for (int o = 0; o < output; o++)
            for (int i = 0; i < input; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(expected[(long)o * input + i]), BitConverter.SingleToInt32Bits(m.Get(i, o)));
        // 5.75 bits a weight: per tile and 256 inputs, d and dmin as fp32 (256 bytes), then 8 x (64 + 512 + 128).
        Assert.Equal((output + 31) / 32 * (input / 256) * (256 + 8 * 704L), m.Bytes);
    }

    [Fact]
    public void Q6KBlocksHoldExactlyTheFilesValues()
    {
        int input = 512, output = 70;
        var blocks = RandomQ6K(input, output, 11);
        var expected = new float[input * output];
        GgmlDequantizer.Dequantize(GgmlType.Q6_K, blocks, expected);
        using var m = PackedMatrix.FromParts([new MatrixPart { Outputs = output, Blocks = blocks, Type = WeightType.Q6_K }], input, outIn: true);
        for (int o = 0; o < output; o++)
            for (int i = 0; i < input; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(expected[(long)o * input + i]), BitConverter.SingleToInt32Bits(m.Get(i, o)));
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, WeightType.Q4_0, 96, 70)]
    [InlineData(GgmlType.Q4_K, WeightType.Q4_K, 512, 70)]
    public void PackedBlocksHoldExactlyTheFilesValues(GgmlType fileType, WeightType type, int input, int output)
    {
        var w = Random(input * output, 3);            // [out, in], as a GGUF tensor
        var blocks = Quantize(fileType, w);
        var expected = new float[w.Length];
        GgmlDequantizer.Dequantize(fileType, blocks, expected);
        using var m = PackedMatrix.FromParts([new MatrixPart { Outputs = output, Blocks = blocks, Type = type }], input, outIn: true);
        Assert.Equal(type, m.Type);
        for (int o = 0; o < output; o++)
            for (int i = 0; i < input; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(expected[(long)o * input + i]), BitConverter.SingleToInt32Bits(m.Get(i, o)));
        // Quantizing the same floats at load gives the same tile.
        using var fromFloats = PackedMatrix.FromOutIn(w, input, output, type);
        for (int o = 0; o < output; o++)
            for (int i = 0; i < input; i++) Assert.Equal(m.Get(i, o), fromFloats.Get(i, o));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(8)]
    [InlineData(16)]
    public void MixedPartsMultiplyAsTheirStoredWeights(int rows)
    {
        // A fused q/k/v as a Q4_K_M file holds it: Q4_K and Q6_K kept as blocks, a part from floats at
        // q8_0, and a Q4_0 and a Q5_K part; the last part's width is not a multiple of a tile.
        int input = 256;
        int[] outputs = [64, 32, 96, 32, 32, 45];
        var parts = new List<MatrixPart>
        {
            new() { Outputs = 64, Blocks = Quantize(GgmlType.Q4_K, Random(input * 64, 1)), Type = WeightType.Q4_K },
            new() { Outputs = 32, Floats = Random(input * 32, 2), Type = WeightType.Q8_0 },
            new() { Outputs = 96, Blocks = Quantize(GgmlType.Q4_0, Random(input * 96, 4)), Type = WeightType.Q4_0 },
            new() { Outputs = 32, Blocks = RandomQ6K(input, 32, 6), Type = WeightType.Q6_K },
            new() { Outputs = 32, Blocks = RandomQ5K(input, 32, 10), Type = WeightType.Q5_K },
            new() { Outputs = 45, Floats = Random(input * 45, 5), Type = WeightType.Q4_K },
        };
        using var m = PackedMatrix.FromParts(parts, input, outIn: true);
        Assert.Equal([WeightType.Q4_K, WeightType.Q8_0, WeightType.Q4_0, WeightType.Q6_K, WeightType.Q5_K, WeightType.Q4_K], m.Types.ToArray());
        var x = Random(rows * input, 7);
        var bias = Random(outputs.Sum(), 8);
        var y = new float[rows * m.Out];
        m.Multiply(x, y, rows, bias);
        var rounded = ActivationBlocks.RoundTrip(x, input);   // what the 4-bit parts multiply (the q8_0 part takes x)
        for (int p = 0; p < rows; p++)
            for (int o = 0; o < m.Out; o++)
            {
                double expected = bias[o];
                var xs = o is >= 64 and < 96 ? x : rounded;
                for (int i = 0; i < input; i++) expected += (double)m.Get(i, o) * xs[p * input + i];
                // fp32 sums of 256 products of size <= 4 x 1, in another order: 1e-5 per input is ~100 ulps of the result.
                Assert.True(Math.Abs(y[p * m.Out + o] - expected) <= 1e-5 * input, $"rows={rows}: y[{p},{o}] = {y[p * m.Out + o]}, expected {expected}");
            }
    }

    [Theory]
    [InlineData(WeightType.Q4_0)]
    [InlineData(WeightType.Q4_K)]
    [InlineData(WeightType.Q6_K)]
    [InlineData(WeightType.Q5_K)]
    public void EachPositionGetsTheSameBitsWhateverPositionsShareTheCall(WeightType type)
    {
        // The integer kernels' float part must not depend on the block of positions or the tile group.
        int input = 512, output = 200, rows = 17;
        var blocks = type switch
        {
            WeightType.Q6_K => RandomQ6K(input, output, 12),
            WeightType.Q5_K => RandomQ5K(input, output, 12),
            _ => Quantize(type == WeightType.Q4_0 ? GgmlType.Q4_0 : GgmlType.Q4_K, Random(input * output, 12)),
        };
        using var m = PackedMatrix.FromParts([new MatrixPart { Outputs = output, Blocks = blocks, Type = type }], input, outIn: true);
        var x = Random(rows * input, 13);
        var all = new float[rows * output];
        m.Multiply(x, all, rows, default);
        for (int start = 0; start < rows; start++)
            foreach (int count in new[] { 1, 2, 3, 5, 8 })
            {
                if (start + count > rows) continue;
                var part = new float[count * output];
                m.Multiply(x.AsSpan(start * input, count * input), part, count, default);
                for (int i = 0; i < part.Length; i++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(all[start * output + i]), BitConverter.SingleToInt32Bits(part[i]));
            }
        // And the rounded activations explain the result (the weights exactly as stored).
        var xs = ActivationBlocks.RoundTrip(x, input);
        for (int p = 0; p < rows; p++)
            for (int o = 0; o < output; o++)
            {
                double expected = 0;
                for (int i = 0; i < input; i++) expected += (double)m.Get(i, o) * xs[p * input + i];
                Assert.True(Math.Abs(all[p * output + o] - expected) <= 1e-5 * input, $"y[{p},{o}] = {all[p * output + o]}, expected {expected}");
            }
    }

    [Theory]
    [InlineData(WeightType.Q4_0)]
    [InlineData(WeightType.Q4_K)]
    [InlineData(WeightType.Q6_K)]
    [InlineData(WeightType.Q5_K)]
    public void VectorKernelsGiveTheScalarKernelsBits(WeightType type)
    {
        // The kernels at this process's width (CI reruns with the wider sets switched off) against
        // Q4Kernels.RunScalar on the same tiles and 8-bit activations; a partial second tile.
        int input = 512, output = 45;
        switch (type)
        {
            case WeightType.Q4_0: Compare<Q4_0Format>(Quantize(GgmlType.Q4_0, Random(input * output, 15)), input, output); break;
            case WeightType.Q4_K: Compare<Q4KFormat>(Quantize(GgmlType.Q4_K, Random(input * output, 15)), input, output); break;
            case WeightType.Q6_K: Compare<Q6KFormat>(RandomQ6K(input, output, 15), input, output); break;
            default: Compare<Q5KFormat>(RandomQ5K(input, output, 15), input, output); break;
        }
    }

    [Theory]
    [InlineData(WeightType.Q4_0)]
    [InlineData(WeightType.Q4_K)]
    [InlineData(WeightType.Q6_K)]
    [InlineData(WeightType.Q5_K)]
    public void TheLargestQuantsTimesTheLargestActivationsStayExact(WeightType type)
    {
        // Every quant at its largest (all bits set) against activations all +-127: the int16 sums the
        // kernels keep are at their bound here (for Q5_K 8 groups would reach 62,992: it widens every group).
        int input = 512, output = 40;
        var file = type switch { WeightType.Q4_0 => GgmlType.Q4_0, WeightType.Q4_K => GgmlType.Q4_K, WeightType.Q6_K => GgmlType.Q6_K, _ => GgmlType.Q5_K };
        var blocks = new byte[GgmlTypes.RowBytes(file, (long)input * output)];
        Array.Fill(blocks, (byte)0xFF);
        int blockBytes = GgmlTypes.BlockBytes(file);
        int[] halves = file switch { GgmlType.Q4_0 => [0], GgmlType.Q6_K => [208], _ => [0, 2] };   // d (and dmin): finite
        for (int b = 0; b < blocks.Length; b += blockBytes)
            foreach (int at in halves) BitConverter.TryWriteBytes(blocks.AsSpan(b + at), (Half)(at == 0 || file == GgmlType.Q6_K ? 1e-3 : 2e-4));
        using var m = PackedMatrix.FromParts([new MatrixPart { Outputs = output, Blocks = blocks, Type = type }], input, outIn: true);
        foreach (float sign in new[] { 1f, -1f })
        {
            int rows = 9;
            var x = Enumerable.Repeat(sign, rows * input).ToArray();
            var y = new float[rows * output];
            m.Multiply(x, y, rows, default);
            for (int p = 0; p < rows; p++)
                for (int o = 0; o < output; o++)
                {
                    double expected = 0;
                    for (int i = 0; i < input; i++) expected += (double)m.Get(i, o) * sign;
                    Assert.True(Math.Abs(y[p * output + o] - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"{type} x = {sign}: y[{p},{o}] = {y[p * output + o]}, expected {expected}");
                }
        }
    }

    static void Compare<Q>(byte[] blocks, int input, int output) where Q : IQ4Format
    {
        long rowBytes = GgmlTypes.RowBytes(Q.FileType, input), tileBytes = Q.TileBytes(input);
        int tiles = (output + 31) / 32;
        var data = new byte[tiles * tileBytes];
        var bias = Random(output, 16);
        // Both fold with fused multiply-adds where the hardware has them (and both are the scalar loop without
        // intrinsics), so the bits agree; a 128-bit host without FMA rounds the vector fold's products apart.
        bool fused = System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported
            || !System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated;
        fixed (byte* b = blocks) fixed (byte* d = data) fixed (float* bp = bias)
        {
            for (int t = 0; t < tiles; t++) Q.PackBlocks(b + t * 32 * rowBytes, rowBytes, Math.Min(32, output - 32 * t), input, d + t * tileBytes);
            foreach (int rows in new[] { 1, 2, 3, 4, 5, 8, 9, 17 })
            {
                var x = Random(rows * input, rows);
                var buffer = new byte[ActivationBlocks.BufferBytes(rows, input)];
                var vector = new float[rows * output];
                var scalar = new float[rows * output];
                fixed (float* xp = x) fixed (byte* ab = buffer) fixed (float* vp = vector) fixed (float* sp = scalar)
                {
                    var act = new ActivationBlocks(ab, rows, input);
                    act.Quantize(xp, rows, input);
                    Q4Kernels.Run<Q>(input, output, d, act, vp, bp, rows, 0, tiles);
                    Q4Kernels.RunScalar<Q>(input, output, d, act.Q, act.Scale, Q.SubRows == 32 ? act.Sum32 : act.Sum16, sp, bp, rows, 0, tiles);
                }
                float largest = scalar.Max(Math.Abs);
                for (int i = 0; i < vector.Length; i++)
                    if (fused) Assert.True(BitConverter.SingleToInt32Bits(scalar[i]) == BitConverter.SingleToInt32Bits(vector[i]), $"{Q.Type} rows={rows}: y[{i}] = {vector[i]:R}, scalar {scalar[i]:R}");
                    else Assert.True(Math.Abs(scalar[i] - vector[i]) <= 1e-5f * largest, $"{Q.Type} rows={rows}: y[{i}] = {vector[i]:R}, scalar {scalar[i]:R}");
            }
        }
    }

    [Fact]
    public void ActivationBlocksRoundEachBlockOfThirtyTwoToEightBits()
    {
        var x = Random(3 * 64, 14);
        x[5] = 0; for (int i = 32; i < 64; i++) x[i] = 0;   // an all-zero block
        var r = ActivationBlocks.RoundTrip(x, 64);
        for (int b = 0; b < x.Length / 32; b++)
        {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.Max(amax, Math.Abs(x[b * 32 + i]));
            for (int i = 0; i < 32; i++)
                Assert.True(Math.Abs(r[b * 32 + i] - x[b * 32 + i]) <= amax / 127 * 0.5001f, $"x[{b * 32 + i}] = {x[b * 32 + i]} -> {r[b * 32 + i]}");
        }
        for (int i = 32; i < 64; i++) Assert.Equal(0f, r[i]);
    }

    [Fact]
    public void FourBitTypesFallBackWhereBlocksDoNotFit()
    {
        Assert.Equal(WeightType.Q4_K, WeightType.Q4_K.Fit(512));
        Assert.Equal(WeightType.Q4_0, WeightType.Q4_K.Fit(128));
        Assert.Equal(WeightType.Q8_0, WeightType.Q4_K.Fit(100));
        Assert.Equal(WeightType.Q8_0, WeightType.Q4_0.Fit(40));
        using var m = PackedMatrix.FromOutIn(Random(128 * 40, 9), 128, 40, WeightType.Q4_K);
        Assert.Equal(WeightType.Q4_0, m.Type);
    }
}
