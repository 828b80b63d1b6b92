using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Benchmarks;

/// <summary>One engine and weight type to time: a forward pass over k new positions after a fixed context.</summary>
public interface IPassTimer : IDisposable
{
    /// <summary>"sprinter" or a peer's name ("llama.cpp").</summary>
    string Engine { get; }
    /// <summary>The weight type as the engine names it (fp32, bf16, q8_0; F32, F16, Q8_0, Q4_0).</summary>
    string DType { get; }
    long WeightBytes { get; }
    /// <summary>Runs one pass over <paramref name="k"/> new positions (all logits) and rolls back; returns ms.</summary>
    double TimePass(int k);
}

/// <summary>Times this engine: a session holding a random context, rolled back after every pass.</summary>
public sealed class SprinterPassTimer : IPassTimer
{
    readonly TransformerModel _model;
    readonly TransformerSession _session;
    readonly int _context;
    readonly bool _ownsModel;

    public SprinterPassTimer(TransformerModel model, int maxPositions, int context = 32, bool ownsModel = true)
    {
        _model = model;
        _ownsModel = ownsModel;
        _context = context;
        _session = model.CreateSession(Math.Min(model.Config.MaxPositions, context + maxPositions));
        var rng = new Random(1);
        _session.Forward(Enumerable.Range(0, context).Select(_ => rng.Next(model.Config.VocabSize)).ToArray(), allLogits: false);
    }

    public string Engine => "sprinter";
    public string DType => _model.WeightType.Name();
    public long WeightBytes => _model.WeightBytes;

    public double TimePass(int k)
    {
        var rng = new Random(k);
        Span<int> tokens = stackalloc int[k];
        for (int i = 0; i < k; i++) tokens[i] = rng.Next(_model.Config.VocabSize);
        _session.Truncate(_context);
        long start = Stopwatch.GetTimestamp();
        _session.Forward(tokens);
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    public void Dispose()
    {
        if (_ownsModel) _model.Dispose();
    }
}

/// <summary>The median of one engine, type and number of positions.</summary>
public sealed record PassTiming(string Engine, string DType, int Positions, double MedianMs, long WeightBytes);

/// <summary>Measurements behind <c>sprinter bench-engine</c> and the llama.cpp side-by-side benchmark.</summary>
public static class EngineBenchmark
{
    public static ModelConfig Gpt2SmallConfig { get; } = new()
    {
        EmbeddingSize = 768, LayerCount = 12, HeadCount = 12, MaxPositions = 1024, VocabSize = 50257, InnerSize = 3072,
    };

    /// <summary>Llama-3.2-1B's shape (random weights): grouped-query attention, SwiGLU, a 128,256-token vocabulary.</summary>
    public static ModelConfig Llama32OneBConfig { get; } = new()
    {
        ModelType = "llama", EmbeddingSize = 2048, LayerCount = 16, HeadCount = 32, KeyValueHeadCount = 8, MaxPositions = 1024,
        VocabSize = 128256, InnerSize = 8192, LayerNormEpsilon = 1e-5f, TieWordEmbeddings = true, Norm = NormKind.RmsNorm,
        Positions = PositionKind.Rope, RopeTheta = 500000f, RopeScaling = new RopeScaling("llama3", 32, 1, 4, 8192),
        Mlp = MlpKind.SwiGlu, QkvBias = false, LinearBias = false,
    };

    /// <summary>Random-weight shapes that bench-engine builds in memory, by name.</summary>
    public static IReadOnlyDictionary<string, (ModelConfig Config, string Description)> Shapes { get; } = new Dictionary<string, (ModelConfig, string)>
    {
        ["gpt2-small"] = (Gpt2SmallConfig, "random GPT-2-small (12 layers, d=768, 12 heads, vocab 50257)"),
        ["llama-3.2-1b"] = (Llama32OneBConfig, "random Llama-3.2-1B shape (16 layers, d=2048, 32 heads, 8 key/value heads, SwiGLU 8192, vocab 128256, tied)"),
    };

    /// <summary>The instruction set the matmul kernels use in this process (avx512, avx2, sse, neon, scalar).</summary>
    public static string InstructionSet => MatMulKernels.InstructionSet;

    /// <summary>Read bandwidth: all worker threads summing parts of a 1 GiB array; the best of several sweeps.</summary>
    public static double MeasureBandwidthGBs(long bytes = 1L << 30, int sweeps = 5)
    {
        var probe = new BandwidthProbe(bytes);
        double best = 0;
        for (int s = 0; s < sweeps; s++) best = Math.Max(best, probe.Sweep());
        return best;
    }

    /// <summary>One read sweep over a fixed array on all worker threads; reused between rounds of a benchmark.</summary>
    public sealed class BandwidthProbe
    {
        readonly float[] _data;
        readonly float[] _sums;
        readonly Action<int> _job;
        readonly int _parts = WorkerPool.Shared.ThreadCount;

        public BandwidthProbe(long bytes = 256L << 20)
        {
            _data = new float[bytes / 4];
            _data.AsSpan().Fill(1f);
            _sums = new float[_parts];
            _job = p =>
            {
                long n = _data.Length / _parts;
                _sums[p] = TensorPrimitives.Sum(_data.AsSpan((int)(p * n), (int)n));
            };
        }

        /// <summary>GB/s of one sweep.</summary>
        public double Sweep()
        {
            long start = Stopwatch.GetTimestamp();
            WorkerPool.Shared.Run(_parts, _job);
            return _data.Length * 4.0 / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
        }
    }

    /// <summary>
    /// Peak fp32 FMA rate of all worker threads, GFLOP/s: 12 independent FMA chains per thread at the
    /// widest accelerated vector width (enough to hide a 4-cycle latency on two FMA pipes); best of 5.
    /// </summary>
    public static double MeasureFmaPeakGflops(int sweeps = 5)
    {
        if (Vector512.IsHardwareAccelerated) return MeasureFmaPeak<Vec512>(sweeps);
        if (Vector256.IsHardwareAccelerated) return MeasureFmaPeak<Vec256>(sweeps);
        if (Vector128.IsHardwareAccelerated) return MeasureFmaPeak<Vec128>(sweeps);
        return MeasureFmaPeak<Vec128>(sweeps);
    }

    static unsafe double MeasureFmaPeak<V>(int sweeps) where V : struct, IVec<V>
    {
        const int iterations = 4_000_000;
        var pool = WorkerPool.Shared;
        int parts = pool.ThreadCount;
        var sink = new float[parts * V.Count];
        void Part(int p)
        {
            fixed (float* s = &sink[p * V.Count]) FmaChains<V>(iterations, s);
        }
        Action<int> job = Part;
        job(0);   // compile and warm up
        double best = 0;
        for (int i = 0; i < sweeps; i++)
        {
            var clock = Stopwatch.StartNew();
            pool.Run(parts, job);
            best = Math.Max(best, (double)parts * iterations * 12 * 2 * V.Count / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    static unsafe void FmaChains<V>(int iterations, float* sink) where V : struct, IVec<V>
    {
        V a = V.Broadcast(0.999f), b = V.Broadcast(1e-7f);
        V c0 = V.Zero, c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < iterations; i++)
        {
            c0 = V.MultiplyAdd(c0, a, b); c1 = V.MultiplyAdd(c1, a, b); c2 = V.MultiplyAdd(c2, a, b); c3 = V.MultiplyAdd(c3, a, b);
            c4 = V.MultiplyAdd(c4, a, b); c5 = V.MultiplyAdd(c5, a, b); c6 = V.MultiplyAdd(c6, a, b); c7 = V.MultiplyAdd(c7, a, b);
            c8 = V.MultiplyAdd(c8, a, b); c9 = V.MultiplyAdd(c9, a, b); c10 = V.MultiplyAdd(c10, a, b); c11 = V.MultiplyAdd(c11, a, b);
        }
        V.Store(sink, V.Add(V.Add(V.Add(c0, c1), V.Add(c2, c3)), V.Add(V.Add(V.Add(c4, c5), V.Add(c6, c7)), V.Add(V.Add(c8, c9), V.Add(c10, c11)))));
    }

    /// <summary>
    /// Times every timer at every k, interleaved so that noise from other tenants hits all of them
    /// alike: each round visits the timers in a shuffled order (seeded) and runs each one's k values
    /// back to back in a shuffled order, after one untimed pass. The untimed pass absorbs whatever
    /// the previous engine left behind (llama.cpp's OpenMP workers busy-wait for milliseconds
    /// after a decode; our workers spin briefly too) and wakes this engine's threads, so every
    /// timed pass runs warm, as in decoding. Two warm-up rounds are dropped. With a
    /// <paramref name="probe"/>, memory is swept three times before the first round and after the
    /// last; <paramref name="bandwidthGBs"/> is the best sweep (sweeping between rounds would evict
    /// a cache-sized model and charge the reload to the next pass).
    /// </summary>
    public static List<PassTiming> RunInterleaved(IReadOnlyList<IPassTimer> timers, IReadOnlyList<int> positions, int runs,
        Action<int>? roundDone, BandwidthProbe? probe, out double bandwidthGBs)
    {
        var times = new double[timers.Count, positions.Count, runs];
        var timerOrder = Enumerable.Range(0, timers.Count).ToArray();
        var kOrder = Enumerable.Range(0, positions.Count).ToArray();
        var rng = new Random(12345);
        bandwidthGBs = double.NaN;
        void Sweeps(ref double best)
        {
            for (int i = 0; probe is not null && i < 3; i++)
            {
                double gbs = probe.Sweep();
                best = double.IsNaN(best) ? gbs : Math.Max(best, gbs);
            }
        }
        Sweeps(ref bandwidthGBs);
        for (int r = -2; r < runs; r++)
        {
            rng.Shuffle(timerOrder);
            foreach (int t in timerOrder)
            {
                rng.Shuffle(kOrder);
                timers[t].TimePass(positions[kOrder[0]]);
                foreach (int j in kOrder)
                {
                    double ms = timers[t].TimePass(positions[j]);
                    if (r >= 0) times[t, j, r] = ms;
                }
            }
            if (r >= 0) roundDone?.Invoke(r + 1);
        }
        Sweeps(ref bandwidthGBs);
        var results = new List<PassTiming>();
        for (int t = 0; t < timers.Count; t++)
            for (int j = 0; j < positions.Count; j++)
            {
                var sample = new double[runs];
                for (int r = 0; r < runs; r++) sample[r] = times[t, j, r];
                results.Add(new PassTiming(timers[t].Engine, timers[t].DType, positions[j], Median(sample), timers[t].WeightBytes));
            }
        return results;
    }

    static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>Median ms of a forward pass over <paramref name="k"/> new positions after a 32-token context, all logits computed.</summary>
    public static double MedianForwardMs(TransformerModel model, int k, int runs, int context = 32)
    {
        using var timer = new SprinterPassTimer(model, k, context, ownsModel: false);
        return RunInterleaved([timer], [k], runs, null, null, out _)[0].MedianMs;
    }
}
