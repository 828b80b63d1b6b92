using System.Diagnostics;
using Sprinter.Benchmarks;
using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>What <see cref="TrainingBenchmark.Run"/> measured.</summary>
public sealed record TrainingThroughput(
    ModelConfig Config, int Batch, int Steps, int Threads, double TokensPerSecond, double FlopsPerToken,
    double Gflops, double FmaPeakGflops, double ForwardSeconds, double BackwardSeconds, double OptimizerSeconds)
{
    public double PeakFraction => Gflops / FmaPeakGflops;
}

/// <summary>
/// Training throughput of a configuration on random tokens (behind <c>sprinter bench-train</c>):
/// full optimizer steps of the real trainer, timed after one warm-up step, against the machine's
/// measured FMA peak. FLOPs per token are the usual analytic count: 6 x the parameters of the
/// matrix products (blocks and lm_head) plus 12 x layers x context x d for attention.
/// </summary>
public static class TrainingBenchmark
{
    public static double FlopsPerToken(ModelConfig c)
    {
        long d = c.EmbeddingSize, matrices = c.LayerCount * (4 * d * d + 2 * d * c.InnerSize) + d * c.VocabSize;
        return 6.0 * matrices + 12.0 * c.LayerCount * c.MaxPositions * d;
    }

    public static TrainingThroughput Run(ModelConfig c, int batch, int steps, IProgress<string>? progress = null)
    {
        InvalidSettingException.ThrowIfLessThan("steps", steps, 1);
        int seqLen = c.MaxPositions;
        var pool = WorkerPool.Shared;
        // The peak is measured before and after the steps and the higher kept: another tenant's burst
        // during one measurement would otherwise flatter the percentage.
        double peakBefore = EngineBenchmark.MeasureFmaPeakGflops();
        var parameters = new ModelParameters<float>(c, RandomModel.CreateTensors(c, 1));
        var model = new TrainableGpt2<float>(parameters, new ParallelGemm<float>(pool));
        var optimizer = new AdamW(parameters.All.Select(p => p.Value.Length).ToArray());
        var rng = new Random(2);
        var inputs = new int[batch * seqLen];
        var targets = new int[batch * seqLen];
        for (int i = 0; i < inputs.Length; i++) (inputs[i], targets[i]) = (rng.Next(c.VocabSize), rng.Next(c.VocabSize));

        double forward = 0, backward = 0, optimizerTime = 0;
        for (int step = 0; step <= steps; step++)   // step 0 warms up the buffers
        {
            var clock = Stopwatch.StartNew();
            parameters.ZeroGradients();
            model.Forward(inputs, targets, batch, seqLen);
            double f = clock.Elapsed.TotalSeconds;
            model.Backward(1.0);
            double b = clock.Elapsed.TotalSeconds - f;
            optimizer.Step(parameters.All, 3e-4, 0.1, 1.0);
            double total = clock.Elapsed.TotalSeconds;
            if (step > 0) { forward += f; backward += b; optimizerTime += total - f - b; }
            progress?.Report(step == 0 ? $"warm-up step: {total:F2} s" : $"step {step}/{steps}: {batch * seqLen / total:F0} tokens/s");
        }
        double perStep = (forward + backward + optimizerTime) / steps;
        double tokensPerSecond = batch * seqLen / perStep;
        double flops = FlopsPerToken(c);
        double peak = Math.Max(peakBefore, EngineBenchmark.MeasureFmaPeakGflops());
        return new TrainingThroughput(c, batch, steps, pool.ThreadCount, tokensPerSecond, flops, tokensPerSecond * flops / 1e9, peak,
            forward / steps, backward / steps, optimizerTime / steps);
    }
}
