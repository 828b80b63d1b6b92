using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Training;

namespace Sprinter.Tests.Training;

public class ModelGradientTests
{
    static ModelConfig Tiny() => TestModels.TinyConfig(vocab: 50, d: 16, layers: 2, heads: 2, positions: 128);

    // 100 positions span three causal attention blocks (48 rows each), the last one partial.
    [Theory]
    [InlineData(2, 8, 0.0)]
    [InlineData(1, 100, 0.0)]
    [InlineData(2, 8, 0.6)]   // distillation: 0.4 cross-entropy + 0.6 KL to a teacher distribution
    [InlineData(1, 20, 1.0)]
    public void AnalyticGradientsMatchFiniteDifferencesForEveryTensor(int batch, int seqLen, double teacherWeight)
    {
        var c = Tiny();
        using var pool = new WorkerPool(2);
        // GPT-2's init (std 0.02) leaves attention almost uniform and the deep gradients tiny;
        // larger weights make every path, attention included, carry a clearly measurable gradient.
        var tensors = TestModels.Tensors(c, seed: 5);
        foreach (var (_, t) in tensors)
            if (t.Shape.Length == 2) for (int i = 0; i < t.Data.Length; i++) t.Data[i] *= 10;
        var model = new TrainableGpt2<double>(new ModelParameters<double>(c, tensors), new ParallelGemm<double>(pool));
        var tokens = TestModels.RandomTokens(batch * (seqLen + 1), c.VocabSize, seed: 6);
        var inputs = new int[batch * seqLen];
        var targets = new int[batch * seqLen];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seqLen; t++)
            {
                inputs[b * seqLen + t] = tokens[b * (seqLen + 1) + t];
                targets[b * seqLen + t] = tokens[b * (seqLen + 1) + t + 1];
            }
        // A random teacher distribution per row, with some exact zeros (skipped by the KL sum).
        double[]? teacher = null;
        if (teacherWeight > 0)
        {
            var trng = new Random(11);
            teacher = new double[batch * seqLen * c.VocabSize];
            for (int r = 0; r < batch * seqLen; r++)
            {
                var row = teacher.AsSpan(r * c.VocabSize, c.VocabSize);
                for (int i = 0; i < row.Length; i++) row[i] = i % 7 == 0 ? 0 : Math.Exp(3 * trng.NextDouble());
                double sum = 0;
                foreach (var v in row) sum += v;
                for (int i = 0; i < row.Length; i++) row[i] /= sum;
            }
        }
        double Loss() => model.Forward(inputs, targets, batch, seqLen, teacher, teacherWeight);
        model.Parameters.ZeroGradients();
        Loss();
        model.Backward(1.0);

        var rng = new Random(7);
        const double h = 1e-5;
        double worst = 0;
        foreach (var p in model.Parameters.All)
        {
            var indices = Enumerable.Range(0, 6).Select(_ => rng.Next(p.Value.Length)).ToList();
            if (p.Name == "wte.weight") indices.Add(inputs[0] * c.EmbeddingSize + 3);       // a row the embedding path uses
            if (p.Name == "wpe.weight") indices.Add(2 * c.EmbeddingSize + 1);               // a position in use
            foreach (int i in indices)
            {
                double saved = p.Value[i];
                p.Value[i] = saved + h;
                double plus = Loss();
                p.Value[i] = saved - h;
                double minus = Loss();
                p.Value[i] = saved;
                double numeric = (plus - minus) / (2 * h), analytic = p.Grad[i];
                double diff = Math.Abs(numeric - analytic);
                if (diff < 1e-9) continue;   // both essentially zero (e.g. an unused position row)
                double relative = diff / Math.Max(Math.Abs(numeric), Math.Abs(analytic));
                worst = Math.Max(worst, relative);
                Assert.True(relative <= 1e-3, $"{p.Name}[{i}]: analytic {analytic:E6} vs numeric {numeric:E6} (relative error {relative:E2})");
            }
        }
        Assert.True(worst < 1e-3);
    }

    [Theory]
    [InlineData(3, 12)]
    [InlineData(2, 101)]
    public void ForwardMatchesTheInferenceEngine(int batch, int seqLen)
    {
        var c = TestModels.TinyConfig(vocab: 70, d: 32, layers: 2, heads: 4, positions: 128);
        var tensors = TestModels.Tensors(c, seed: 8);
        using var pool = new WorkerPool(2);
        var model = new TrainableGpt2<float>(new ModelParameters<float>(c, tensors), new ParallelGemm<float>(pool));
        var inputs = TestModels.RandomTokens(batch * seqLen, c.VocabSize, seed: 9);
        model.Forward(inputs, ReadOnlySpan<int>.Empty, batch, seqLen);
        using var engine = TestModels.Model(c, tensors);
        double worst = 0;
        for (int b = 0; b < batch; b++)
        {
            var session = engine.CreateSession();
            session.Forward(inputs.AsSpan(b * seqLen, seqLen));
            for (int t = 0; t < seqLen; t++)
            {
                var expected = session.Logits(t);
                var actual = model.Logits(b * seqLen + t);
                for (int v = 0; v < c.VocabSize; v++) worst = Math.Max(worst, Math.Abs(expected[v] - actual[v]));
            }
        }
        Assert.True(worst <= 1e-4, $"max abs logit difference {worst}");
    }
}
