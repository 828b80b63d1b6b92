using Sprinter.Engine;

namespace Sprinter.Tests.Engine;

/// <summary>
/// The packed kernels against a plain double-precision product of the weights as stored. CI also
/// runs this class with AVX-512, AVX2 and all hardware intrinsics switched off, so every vector
/// width's kernels are checked on any host (see .ci/run).
/// </summary>
public class MatMulKernelTests
{
    static float[] RandomArray(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    public static TheoryData<WeightType, int, int, int> Shapes()
    {
        var data = new TheoryData<WeightType, int, int, int>();
        foreach (var type in new[] { WeightType.F32, WeightType.BF16, WeightType.Q8_0, WeightType.Q4_0, WeightType.Q4_K })
        {
            // Inputs and outputs that are and are not multiples of the 32-row block and 32-lane tile;
            // every block size of positions (8, 4, 2, 1) and their remainders. The 4-bit types need
            // whole blocks of inputs (Q4_K 256, Q4_0 32; other shapes fall back to the next type).
            var shapes = type is WeightType.Q4_0 or WeightType.Q4_K ? new[] { (256, 96), (512, 45), (64, 33), (37, 45) } : new[] { (64, 96), (37, 45), (5, 7), (100, 300) };
            foreach (var (input, output) in shapes)
                foreach (int rows in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 17 })
                    if (input * output * rows < 200_000) data.Add(type, input, output, rows);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MultiplyMatchesTheStoredWeights(WeightType type, int input, int output, int rows)
    {
        var w = RandomArray(input * output, seed: input * 31 + output);
        var x = RandomArray(rows * input, seed: rows);
        var bias = RandomArray(output, seed: 5);
        using var m = PackedMatrix.FromInOut(w, input, output, type);
        var y = new float[rows * output];
        m.Multiply(x, y, rows, bias);
        // The 4-bit kernels multiply 8-bit blocks of the activations (ActivationBlocks): exactly those values here.
        var xs = m.Type is WeightType.Q4_0 or WeightType.Q4_K ? ActivationBlocks.RoundTrip(x, input) : x;
        for (int p = 0; p < rows; p++)
            for (int o = 0; o < output; o++)
            {
                double expected = bias[o];
                for (int i = 0; i < input; i++) expected += (double)m.Get(i, o) * xs[p * input + i];
                double tolerance = 1e-5 * input;
                Assert.True(Math.Abs(y[p * output + o] - expected) <= tolerance, $"{type} {input}x{output} rows={rows}: y[{p},{o}] = {y[p * output + o]}, expected {expected}");
            }
    }

    public static TheoryData<WeightType, int, int, int> FileOnlyShapes()
    {
        var data = new TheoryData<WeightType, int, int, int>();
        foreach (var type in new[] { WeightType.Q5_K, WeightType.Q6_K })
            foreach (var (input, output) in new[] { (256, 96), (512, 45), (256, 33) })
                foreach (int rows in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 11, 13, 17 })
                    if (input * output * rows < 200_000) data.Add(type, input, output, rows);
        return data;
    }

    /// <summary>As <see cref="MultiplyMatchesTheStoredWeights"/> for the types packed only from a file's blocks (random blocks here).</summary>
    [Theory]
    [MemberData(nameof(FileOnlyShapes))]
    public void FileBlocksMultiplyAsTheirStoredWeights(WeightType type, int input, int output, int rows)
    {
        var blocks = type == WeightType.Q5_K ? Q4FormatTests.RandomQ5K(input, output, input + output) : Q4FormatTests.RandomQ6K(input, output, input + output);
        var x = RandomArray(rows * input, seed: rows);
        var bias = RandomArray(output, seed: 5);
        using var m = PackedMatrix.FromParts([new MatrixPart { Outputs = output, Blocks = blocks, Type = type }], input, outIn: true);
        var y = new float[rows * output];
        m.Multiply(x, y, rows, bias);
        var xs = ActivationBlocks.RoundTrip(x, input);
        for (int p = 0; p < rows; p++)
            for (int o = 0; o < output; o++)
            {
                double expected = bias[o];
                for (int i = 0; i < input; i++) expected += (double)m.Get(i, o) * xs[p * input + i];
                Assert.True(Math.Abs(y[p * output + o] - expected) <= 1e-5 * input, $"{type} {input}x{output} rows={rows}: y[{p},{o}] = {y[p * output + o]}, expected {expected}");
            }
    }

    [Fact]
    public void PortableIntegerStepsMatchTheHardwareOnes()
    {
        // IntBits serves NEON and SSE2-only hosts; here it is checked lane for lane against
        // vpmaddubsw / vpmaddwd wherever this host has them, on the value ranges the kernels use.
        var rng = new Random(21);
        var u = new byte[64];
        var s = new sbyte[64];
        for (int trial = 0; trial < 200; trial++)
        {
            for (int i = 0; i < 64; i++) { u[i] = (byte)rng.Next(64); s[i] = (sbyte)rng.Next(-127, 128); }
            var u128 = System.Runtime.Intrinsics.Vector128.Create(u.AsSpan(0, 16));
            var s128 = System.Runtime.Intrinsics.Vector128.Create(s.AsSpan(0, 16));
            var portable = IntBits.MultiplyAddBytes(u128, s128);
            for (int i = 0; i < 8; i++) Assert.Equal(u[2 * i] * s[2 * i] + u[2 * i + 1] * s[2 * i + 1], portable[i]);
            var widened = IntBits.WidenPairs(portable);
            for (int i = 0; i < 4; i++) Assert.Equal(portable[2 * i] + portable[2 * i + 1], widened[i]);
            if (System.Runtime.Intrinsics.X86.Ssse3.IsSupported)
            {
                Assert.Equal(System.Runtime.Intrinsics.X86.Ssse3.MultiplyAddAdjacent(u128, s128), portable);
                Assert.Equal(System.Runtime.Intrinsics.X86.Sse2.MultiplyAddAdjacent(portable, System.Runtime.Intrinsics.Vector128<short>.One), widened);
            }
            var u256 = System.Runtime.Intrinsics.Vector256.Create(u.AsSpan(0, 32));
            var s256 = System.Runtime.Intrinsics.Vector256.Create(s.AsSpan(0, 32));
            if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
                Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.MultiplyAddAdjacent(u256, s256), IntBits.MultiplyAddBytes(u256, s256));
            var p256 = IntBits.MultiplyAddBytes(u256, s256);
            for (int i = 0; i < 16; i++) Assert.Equal(u[2 * i] * s[2 * i] + u[2 * i + 1] * s[2 * i + 1], p256[i]);
            var w256 = IntBits.WidenPairs(p256);
            for (int i = 0; i < 8; i++) Assert.Equal(p256[2 * i] + p256[2 * i + 1], w256[i]);
            if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported)
            {
                // vpdpbusd (the 128/256-bit kernels' step where AVX-VNNI exists) gives the same int32 sums.
                var acc = System.Runtime.Intrinsics.Vector256.Create(rng.Next(-1000, 1000));
                var dot = System.Runtime.Intrinsics.X86.AvxVnni.MultiplyWideningAndAdd(acc, u256, s256);
                for (int i = 0; i < 8; i++) Assert.Equal(acc[i] + w256[i], dot[i]);
            }
            var u512 = System.Runtime.Intrinsics.Vector512.Create(u.AsSpan());
            var s512 = System.Runtime.Intrinsics.Vector512.Create(s.AsSpan());
            var p512 = IntBits.MultiplyAddBytes(u512, s512);
            for (int i = 0; i < 32; i++) Assert.Equal(u[2 * i] * s[2 * i] + u[2 * i + 1] * s[2 * i + 1], p512[i]);
            var w512 = IntBits.WidenPairs(p512);
            for (int i = 0; i < 16; i++) Assert.Equal(p512[2 * i] + p512[2 * i + 1], w512[i]);
        }
    }

    [Fact]
    public void LargeProductSplitAcrossWorkersMatchesOneThread()
    {
        // Big enough for the pool to split tiles between threads.
        int input = 256, output = 1000, rows = 6;
        var w = RandomArray(input * output, seed: 1);
        var x = RandomArray(rows * input, seed: 2);
        foreach (var type in new[] { WeightType.F32, WeightType.BF16, WeightType.Q8_0 })
        {
            using var m = PackedMatrix.FromOutIn(w, input, output, type);
            var parallel = new float[rows * output];
            var serial = new float[rows * output];
            using var pool = new WorkerPool(2);
            using var one = new WorkerPool(1);
            m.Multiply(x, parallel, rows, ReadOnlySpan<float>.Empty, pool);
            m.Multiply(x, serial, rows, ReadOnlySpan<float>.Empty, one);
            Assert.Equal(serial, parallel);
        }
    }

    [Fact]
    public void Q8BlocksFollowGgufQ8_0Quantization()
    {
        // Reference: llama.cpp's quantize_row_q8_0 in words: for each run of 32 inputs of one
        // output, d = max|w| / 127, q = round-half-away(w / d) with the reciprocal of the fp32 d,
        // and d stored as fp16.
        int input = 70, output = 33;
        var w = RandomArray(input * output, seed: 9, scale: 0.3f);
        w[5 * output + 3] = 0;   // an all-zero run below checks the d = 0 case
        for (int i = 64; i < 70; i++) w[i * output + 32] = 0;
        using var m = PackedMatrix.FromInOut(w, input, output, WeightType.Q8_0);
        for (int o = 0; o < output; o++)
            for (int b = 0; b * 32 < input; b++)
            {
                int end = Math.Min(input, b * 32 + 32);
                float amax = 0;
                for (int i = b * 32; i < end; i++) amax = Math.Max(amax, Math.Abs(w[i * output + o]));
                float d = amax / 127f, id = d == 0 ? 0 : 1f / d;
                float stored = (float)(Half)d;
                for (int i = b * 32; i < end; i++)
                {
                    float q = MathF.Round(w[i * output + o] * id, MidpointRounding.AwayFromZero);
                    Assert.Equal(q * stored, m.Get(i, o));
                }
            }
        Assert.Equal(3L * 2 * (32 * 32 + 32 * 4), m.Bytes);   // 2 tiles of 3 blocks, int8 plus fp32 scales
    }

    [Fact]
    public void Q8ErrorIsWithinHalfAStepOfEachBlockScale()
    {
        int input = 128, output = 64;
        var w = RandomArray(input * output, seed: 4);
        using var m = PackedMatrix.FromInOut(w, input, output, WeightType.Q8_0);
        for (int i = 0; i < input; i++)
            for (int o = 0; o < output; o++)
            {
                float amax = 0;
                for (int r = i / 32 * 32; r < i / 32 * 32 + 32; r++) amax = Math.Max(amax, Math.Abs(w[r * output + o]));
                Assert.True(Math.Abs(m.Get(i, o) - w[i * output + o]) <= amax / 127f * 0.51f + 1e-3f * amax, $"w[{i},{o}]");
            }
    }

    [Fact]
    public void InstructionSetMatchesTheRuntimeSettings()
    {
        // The CI reruns set these documented runtime switches (.NET 10 names: EnableAVX512, not EnableAVX512F); the kernels must then really run narrower.
        string isa = MatMulKernels.InstructionSet;
        if (Environment.GetEnvironmentVariable("DOTNET_EnableHWIntrinsic") == "0") Assert.Equal("scalar", isa);
        else if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0") Assert.True(isa is "sse" or "scalar", isa);
        else if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0") Assert.NotEqual("avx512", isa);
        Assert.Contains(isa, new[] { "avx512", "avx2", "sse", "neon", "scalar" });
    }
}

public class FastTanhTests
{
    [Fact]
    public void MatchesMathTanhWithinTwoTenMillionthsEverywhere()
    {
        // Dense near 0, where tanh bends, then out to where it saturates, plus the special values.
        var xs = new List<float> { 0f, -0f, 1e-30f, -1e-30f, 1e-7f, 88f, -88f, 1000f, -1000f, float.MaxValue, float.MinValue };
        for (int i = -200000; i <= 200000; i++) xs.Add(i * 1e-4f);
        for (int i = 0; i < 1000; i++) xs.Add(MathF.Pow(1.05f, i) * 1e-8f);
        var x = xs.ToArray();
        var y = new float[x.Length];
        FastTanh.Apply(x, y);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double error = Math.Abs(y[i] - Math.Tanh(x[i]));
            worst = Math.Max(worst, error);
            Assert.True(error <= 2e-7, $"tanh({x[i]}) = {y[i]}, expected {Math.Tanh(x[i])}");
            Assert.True(Math.Sign(y[i]) == Math.Sign(x[i]) || y[i] == 0, $"sign of tanh({x[i]})");
        }
        Assert.True(worst > 0 || !System.Numerics.Vector.IsHardwareAccelerated, "the vector path did not run");
    }
}

public class FastGeluTests
{
    static double Gelu(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    static double GeluSlope(double x)
    {
        double c = Math.Sqrt(2 / Math.PI), t = Math.Tanh(c * (x + 0.044715 * x * x * x));
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
    }

    [Fact]
    public void ForwardAndGradientMatchDoublePrecision()
    {
        // 1001 values (not a multiple of any vector width, so the scalar tail runs too) over [-12, 12].
        var x = Enumerable.Range(0, 1001).Select(i => -12f + i * 0.024f).ToArray();
        var y = new float[x.Length];
        FastTanh.Gelu(x, y);
        var grad = Enumerable.Repeat(2f, x.Length).ToArray();
        FastTanh.GeluBackward(x, grad);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(Math.Abs(y[i] - Gelu(x[i])) <= 4e-6 * Math.Max(1, Math.Abs(x[i])), $"gelu({x[i]}) = {y[i]}, expected {Gelu(x[i])}");
            Assert.True(Math.Abs(grad[i] - 2 * GeluSlope(x[i])) <= 1e-5, $"gelu'({x[i]}) x 2 = {grad[i]}, expected {2 * GeluSlope(x[i])}");
        }
    }
}
