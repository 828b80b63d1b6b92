using System.Diagnostics;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Training;
using Xunit.Abstractions;

namespace Sprinter.Tests.Training;

/// <summary>
/// Not a timed test: measures training tokens/s for the target shape (6 layers, d 384, 6 heads,
/// context 256, vocab 8192, batch 8 x 256) only when SPRINTER_TRAIN_BENCH=1. Run it on a Release build:
/// SPRINTER_TRAIN_BENCH=1 dotnet test tests/Sprinter.Tests -c Release --filter FullyQualifiedName~ThroughputBenchmark --logger "console;verbosity=detailed"
/// </summary>
public class ThroughputBenchmark(ITestOutputHelper output)
{
    [Fact]
    public void TrainingStepTokensPerSecond()
    {
        if (Environment.GetEnvironmentVariable("SPRINTER_TRAIN_BENCH") != "1") return;
        var c = new ModelConfig { EmbeddingSize = 384, LayerCount = 6, HeadCount = 6, MaxPositions = 256, VocabSize = 8192, InnerSize = 4 * 384 };
        int batch = 8, seqLen = 256, steps = int.TryParse(Environment.GetEnvironmentVariable("SPRINTER_TRAIN_BENCH_STEPS"), out int s) ? s : 4;
        using var pool = new WorkerPool(Environment.ProcessorCount);
        var parameters = new ModelParameters<float>(c, RandomModel.CreateTensors(c, 1));
        var model = new TrainableGpt2<float>(parameters, new ParallelGemm<float>(pool));
        var optimizer = new AdamW(parameters.All.Select(p => p.Value.Length).ToArray());
        var tokens = TestModels.RandomTokens(batch * (seqLen + 1), c.VocabSize, seed: 2);
        var inputs = new int[batch * seqLen];
        var targets = new int[batch * seqLen];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < seqLen; t++) (inputs[b * seqLen + t], targets[b * seqLen + t]) = (tokens[b * (seqLen + 1) + t], tokens[b * (seqLen + 1) + t + 1]);

        var phases = new double[3];
        for (int step = 0; step <= steps; step++)   // step 0 warms up the JIT and the buffers
        {
            var sw = Stopwatch.StartNew();
            parameters.ZeroGradients();
            double loss = model.Forward(inputs, targets, batch, seqLen);
            double forward = sw.Elapsed.TotalSeconds;
            model.Backward(1.0);
            double backward = sw.Elapsed.TotalSeconds - forward;
            optimizer.Step(parameters.All, 3e-4, 0.1, 1.0);
            double total = sw.Elapsed.TotalSeconds;
            if (step > 0) { phases[0] += forward; phases[1] += backward; phases[2] += total - forward - backward; }
            output.WriteLine($"step {step}: loss {loss:F4}, {total:F3} s ({batch * seqLen / total:F0} tokens/s; forward {forward:F3}, backward {backward:F3})");
        }
        double perStep = phases.Sum() / steps;
        output.WriteLine($"mean over {steps} steps: {perStep:F3} s/step = {batch * seqLen / perStep:F0} tokens/s " +
                         $"(forward {phases[0] / steps:F3}, backward {phases[1] / steps:F3}, optimizer {phases[2] / steps:F3}), {pool.ThreadCount} threads, " +
                         $"working set {Environment.WorkingSet / 1e6:F0} MB");
    }
}

public class GemmBenchmark(ITestOutputHelper output)
{
    [Fact]
    public void GemmGflops()
    {
        if (Environment.GetEnvironmentVariable("SPRINTER_TRAIN_BENCH") != "1") return;
        foreach (int threads in new[] { 1, 2 })
        {
            using var pool = new WorkerPool(threads);
            var gemm = new ParallelGemm<float>(pool);
            foreach (var (m, n, k, ta, tb) in new[] { (2048, 1152, 384, false, false), (2048, 384, 1536, false, true), (384, 1536, 2048, true, false), (2048, 8192, 384, false, true), (8192, 384, 2048, true, false) })
            {
                var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
                new Random(1).NextBytes(new byte[1]);
                for (int i = 0; i < a.Length; i++) a[i] = (i % 7) * 0.1f;
                for (int i = 0; i < b.Length; i++) b[i] = (i % 5) * 0.1f;
                var A = new Operand<float>(a, 0, ta ? m : k, ta); var B = new Operand<float>(b, 0, tb ? k : n, tb);
                gemm.Multiply(m, n, k, A, B, c, 0, n, false);
                var sw = Stopwatch.StartNew();
                int reps = 3;
                for (int r = 0; r < reps; r++) gemm.Multiply(m, n, k, A, B, c, 0, n, false);
                double s = sw.Elapsed.TotalSeconds / reps;
                output.WriteLine($"{threads} threads {m}x{n}x{k} tA={ta} tB={tb}: {s * 1000:F1} ms, {2.0 * m * n * k / s / 1e9:F1} GFLOP/s");
            }
        }
    }
}
