using System.Diagnostics;
using System.Numerics.Tensors;
using Sprinter.Models;

namespace Sprinter.Engine;

/// <summary>Measurements behind <c>sprinter bench-engine</c>.</summary>
public static class EngineBenchmark
{
    public static ModelConfig Gpt2SmallConfig { get; } = new()
    {
        EmbeddingSize = 768, LayerCount = 12, HeadCount = 12, MaxPositions = 1024, VocabSize = 50257, InnerSize = 3072,
    };

    /// <summary>Read bandwidth: both cores summing halves of a 1 GiB array; the best of several sweeps.</summary>
    public static double MeasureBandwidthGBs(long bytes = 1L << 30, int sweeps = 5)
    {
        var data = new float[bytes / 4];
        data.AsSpan().Fill(1f);
        var pool = WorkerPool.Shared;
        int parts = pool.ThreadCount;
        var sums = new float[parts];
        void Part(int p)
        {
            long n = data.Length / parts;
            sums[p] = TensorPrimitives.Sum(data.AsSpan((int)(p * n), (int)n));
        }
        Action<int> job = Part;
        double best = 0;
        for (int s = 0; s < sweeps; s++)
        {
            var clock = Stopwatch.StartNew();
            pool.Run(parts, job);
            double seconds = clock.Elapsed.TotalSeconds;
            best = Math.Max(best, bytes / seconds / 1e9);
        }
        GC.KeepAlive(sums);
        return best;
    }

    /// <summary>Median ms of a forward pass over <paramref name="k"/> new positions after a 32-token context, all logits computed.</summary>
    public static double MedianForwardMs(Gpt2Model model, int k, int runs, int context = 32)
    {
        var session = model.CreateSession(Math.Min(model.Config.MaxPositions, context + k));
        var rng = new Random(k);
        var prefix = Enumerable.Range(0, context).Select(_ => rng.Next(model.Config.VocabSize)).ToArray();
        var tokens = Enumerable.Range(0, k).Select(_ => rng.Next(model.Config.VocabSize)).ToArray();
        session.Forward(prefix, allLogits: false);
        var times = new double[runs];
        for (int r = -2; r < runs; r++) // two warm-up passes
        {
            session.Truncate(context);
            long start = Stopwatch.GetTimestamp();
            session.Forward(tokens);
            if (r >= 0) times[r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[runs / 2];
    }
}
