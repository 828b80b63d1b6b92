using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Tests.Engine;

public class EngineTests
{
    static void AssertClose(ReadOnlySpan<float> actual, double[] expected, double relTol, string what)
    {
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(actual[i] - expected[i]);
            Assert.True(diff <= relTol * Math.Max(1, scale), $"{what}[{i}]: {actual[i]} vs {expected[i]} (diff {diff})");
        }
    }

    static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double relTol, string what)
    {
        float scale = 1;
        foreach (var e in expected) scale = Math.Max(scale, Math.Abs(e));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= relTol * scale, $"{what}[{i}]: {actual[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(32, 4, 2, 257)]
    [InlineData(48, 3, 1, 100)]   // vocab not a multiple of the 32-wide tile, odd head count
    public void FullPassMatchesDoublePrecisionReference(int d, int heads, int layers, int vocab)
    {
        var c = TestModels.TinyConfig(vocab, d, layers, heads);
        var tensors = TestModels.Tensors(c, seed: 3);
        using var model = TestModels.Model(c, tensors);
        var tokens = TestModels.RandomTokens(12, vocab, seed: 4);
        var (refLogits, refHidden) = ReferenceGpt2.Run(c, tensors, tokens);
        var s = model.CreateSession();
        s.Forward(tokens);
        for (int p = 0; p < tokens.Length; p++)
        {
            AssertClose(s.Logits(p), refLogits[p], 1e-4, $"logits[{p}]");
            AssertClose(s.Hidden(p), refHidden[p], 1e-4, $"hidden[{p}]");
        }
    }

    [Theory]
    [InlineData(WeightType.F32)]
    [InlineData(WeightType.BF16)]
    [InlineData(WeightType.Q8_0)]
    public void IncrementalAndChunkedPassesMatchOneFullPass(WeightType type)
    {
        // Chunks of 1..7 positions run every block kernel (8, 4, 2, 1 positions) and their remainders.
        var c = TestModels.TinyConfig();
        using var model = TestModels.Model(c, TestModels.Tensors(c, seed: 5), type);
        var tokens = TestModels.RandomTokens(20, c.VocabSize, seed: 6);
        var full = model.CreateSession();
        full.Forward(tokens);

        var one = model.CreateSession();
        for (int p = 0; p < tokens.Length; p++)
        {
            one.Forward(tokens.AsSpan(p, 1));
            AssertClose(one.Logits(0), full.Logits(p), 1e-4, $"incremental[{p}]");
        }

        foreach (int k in new[] { 2, 3, 4, 7, 9, 20 })
        {
            var chunked = model.CreateSession();
            for (int p = 0; p < tokens.Length; p += k)
            {
                int n = Math.Min(k, tokens.Length - p);
                chunked.Forward(tokens.AsSpan(p, n));
                for (int r = 0; r < n; r++) AssertClose(chunked.Logits(r), full.Logits(p + r), 1e-4, $"k={k}[{p + r}]");
            }
        }
    }

    [Fact]
    public void TruncateThenRedecodeGivesIdenticalLogits()
    {
        var c = TestModels.TinyConfig();
        using var model = TestModels.Model(c, TestModels.Tensors(c, seed: 7));
        var s = model.CreateSession();
        var prefix = TestModels.RandomTokens(10, c.VocabSize, 8);
        var tail = TestModels.RandomTokens(5, c.VocabSize, 9);
        s.Forward(prefix);
        s.Forward(tail);
        var first = s.Logits(4).ToArray();
        s.Forward(TestModels.RandomTokens(6, c.VocabSize, 10)); // junk that must be forgotten
        s.Truncate(prefix.Length);
        Assert.Equal(prefix.Length, s.Length);
        s.Forward(tail);
        Assert.Equal(first, s.Logits(4).ToArray());
    }

    [Fact]
    public void LastOnlyLogitsEqualTheLastRowOfAllLogits()
    {
        var c = TestModels.TinyConfig();
        using var model = TestModels.Model(c, TestModels.Tensors(c, seed: 11));
        var tokens = TestModels.RandomTokens(9, c.VocabSize, 12);
        var a = model.CreateSession(); a.Forward(tokens);
        var b = model.CreateSession(); b.Forward(tokens, allLogits: false);
        Assert.Equal(1, b.LogitRows);
        Assert.Equal(a.Logits(8).ToArray(), b.Logits(0).ToArray());
    }

    [Fact]
    public void Bf16WeightsMatchFp32OnBf16RoundedWeights()
    {
        var c = TestModels.TinyConfig();
        var tensors = TestModels.Tensors(c, seed: 13);
        var rounded = tensors.ToDictionary(kv => kv.Key, kv => (kv.Value.Data.Select(BFloat16.Round).ToArray(), kv.Value.Shape));
        using var bf = TestModels.Model(c, tensors, WeightType.BF16);
        using var fp = TestModels.Model(c, rounded, WeightType.F32);
        var tokens = TestModels.RandomTokens(8, c.VocabSize, 14);
        var a = bf.CreateSession(); a.Forward(tokens);
        var b = fp.CreateSession(); b.Forward(tokens);
        // Only the small LayerNorm/bias vectors stay fp32 in the bf16 model, so the match is close, not exact.
        for (int p = 0; p < tokens.Length; p++) AssertClose(a.Logits(p), b.Logits(p), 2e-2, $"bf16[{p}]");
    }

    [Fact]
    public void Q8WeightsMatchFp32OnDequantizedWeights()
    {
        // Each matrix quantized the way the model packs it (blocks of 32 along its input), then
        // dequantized: a q8_0 model must equal an fp32 model of those weights up to fp32 rounding.
        var c = TestModels.TinyConfig(d: 64, layers: 2, heads: 4);
        var tensors = TestModels.Tensors(c, seed: 21);
        var dequantized = tensors.ToDictionary(kv => kv.Key, kv =>
        {
            var (data, shape) = kv.Value;
            if (shape.Length != 2 || kv.Key == "wpe.weight") return (data, shape);
            int rows = (int)shape[0], cols = (int)shape[1];
            bool outIn = kv.Key == "wte.weight";   // [vocab, d]: the input is the second axis
            using var q = outIn ? PackedMatrix.FromOutIn(data, cols, rows, WeightType.Q8_0) : PackedMatrix.FromInOut(data, rows, cols, WeightType.Q8_0);
            var back = new float[data.Length];
            for (int r = 0; r < rows; r++)
                for (int col = 0; col < cols; col++) back[r * cols + col] = outIn ? q.Get(col, r) : q.Get(r, col);
            return (back, shape);
        });
        using var q8 = TestModels.Model(c, tensors, WeightType.Q8_0);
        using var fp = TestModels.Model(c, dequantized, WeightType.F32);
        var tokens = TestModels.RandomTokens(11, c.VocabSize, 22);
        var a = q8.CreateSession(); a.Forward(tokens);
        var b = fp.CreateSession(); b.Forward(tokens);
        for (int p = 0; p < tokens.Length; p++) AssertClose(a.Logits(p), b.Logits(p), 1e-4, $"q8_0[{p}]");
        Assert.True(q8.WeightBytes < fp.WeightBytes / 3, $"q8_0 holds {q8.WeightBytes} bytes against fp32's {fp.WeightBytes}");
    }

    [Fact]
    public void ContextOverflowIsAClearError()
    {
        var c = TestModels.TinyConfig(positions: 8);
        using var model = TestModels.Model(c, TestModels.Tensors(c));
        var s = model.CreateSession();
        var e = Assert.Throws<InvalidInputException>(() => s.Forward(new int[9]));
        Assert.Contains("n_positions", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(6)]
    public void PackedMultiplyMatchesNaiveProduct(int rows)
    {
        var rng = new Random(rows);
        int input = 70, output = 45;
        var w = Enumerable.Range(0, input * output).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var bias = Enumerable.Range(0, output).Select(_ => (float)rng.NextDouble()).ToArray();
        var x = Enumerable.Range(0, rows * input).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        using var m = PackedMatrix.FromInOut(w, input, output, WeightType.F32);
        var y = new float[rows * output];
        m.Multiply(x, y, rows, bias);
        for (int p = 0; p < rows; p++)
            for (int o = 0; o < output; o++)
            {
                double s = bias[o];
                for (int i = 0; i < input; i++) s += x[p * input + i] * w[i * output + o];
                Assert.True(Math.Abs(s - y[p * output + o]) < 1e-4, $"y[{p},{o}] = {y[p * output + o]}, expected {s}");
            }
    }

    [Fact]
    public void SessionsOnOneModelRunConcurrentlyWithoutInterfering()
    {
        // Big enough that matmuls and attention use the worker pool.
        var c = TestModels.TinyConfig(vocab: 2000, d: 128, layers: 2, heads: 4, positions: 96);
        using var model = TestModels.Model(c, TestModels.Tensors(c, seed: 15));
        var inputs = Enumerable.Range(0, 4).Select(i => TestModels.RandomTokens(80, c.VocabSize, 100 + i)).ToArray();
        float[] Last(int[] tokens) { var s = model.CreateSession(); s.Forward(tokens, allLogits: false); return s.Logits(0).ToArray(); }
        var sequential = inputs.Select(Last).ToArray();
        for (int round = 0; round < 3; round++)
        {
            var parallel = new float[inputs.Length][];
            Parallel.For(0, inputs.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = Last(inputs[i]));
            for (int i = 0; i < inputs.Length; i++) Assert.Equal(sequential[i], parallel[i]);
        }
    }
}

public class LikelihoodTests
{
    [Fact]
    public void ScorerMatchesLogSoftmaxOfAFullPassAndSplitsLongSequencesIntoWindows()
    {
        var c = TestModels.TinyConfig(positions: 16);
        var tensors = TestModels.Tensors(c, seed: 8);
        using var model = TestModels.Model(c, tensors);
        var tokens = TestModels.RandomTokens(12, c.VocabSize, 9);
        var reference = ReferenceGpt2.Logits(c, tensors, tokens);
        double expected = 0;
        for (int t = 3; t < tokens.Length; t++)
        {
            var row = reference[t - 1];
            double max = row.Max(), logSum = Math.Log(row.Sum(v => Math.Exp(v - max))) + max;
            expected += logSum - row[tokens[t]];
        }
        var scored = new Sprinter.Benchmarks.LikelihoodScorer(model, chunk: 5).Score(tokens, from: 3);
        Assert.Equal(9, scored.Tokens);
        Assert.Equal(expected, scored.Nll, 3);

        var longer = TestModels.RandomTokens(40, c.VocabSize, 10); // 3 windows of 16: 15 + 15 + 7 scored tokens
        Assert.Equal(37, new Sprinter.Benchmarks.LikelihoodScorer(model).Score(longer).Tokens);
    }
}
