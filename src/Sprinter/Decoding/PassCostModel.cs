using System.Diagnostics;
using Sprinter.Engine;

namespace Sprinter.Decoding;

/// <summary>
/// How long a pass takes as a function of its positions, measured: calibrated at start on scratch
/// sessions (1 to 256 positions), then kept current from every step's target pass (moving
/// average). From it each step picks the gamma that maximises the batch's expected tokens per
/// second, so speculation steps aside when the target pass turns compute-bound: with B
/// speculative sequences at acceptance a_i, gamma g yields sum_i (1 - a_i^(g+1)) / (1 - a_i)
/// tokens for g draft passes of B rows plus one target pass of B (g + 1) rows (plus the rows of
/// the AR and prefilling sequences riding along); g = 0 is a plain AR step through the SD rule.
/// </summary>
public sealed class PassCostModel
{
    const int Buckets = 10;   // 1, 2, 4, ..., 512 positions
    readonly double[] _target = new double[Buckets], _draft = new double[Buckets];
    readonly object _gate = new();

    public PassCostModel(TransformerModel? target, TransformerModel? draft)
    {
        if (target is not null) Calibrate(target, _target);
        if (draft is not null) Calibrate(draft, _draft);
        HasTarget = target is not null;
    }

    /// <summary>Whether the target runs here (a remote target's passes are not modelled, and gamma is not adapted).</summary>
    public bool HasTarget { get; }

    /// <summary>Milliseconds of a target pass over <paramref name="rows"/> positions.</summary>
    public double TargetMs(int rows) => Interpolate(_target, rows);
    /// <summary>Milliseconds of a draft pass over <paramref name="rows"/> positions.</summary>
    public double DraftMs(int rows) => Interpolate(_draft, rows);

    /// <summary>The table, for reports: (positions, target ms, draft ms).</summary>
    public IReadOnlyList<(int Rows, double TargetMs, double DraftMs)> Table()
    {
        lock (_gate) return Enumerable.Range(0, Buckets).Select(b => (1 << b, _target[b], _draft[b])).ToList();
    }

    static void Calibrate(TransformerModel model, double[] table)
    {
        int capacity = Math.Min(model.Config.MaxPositions, 1024);
        var session = model.CreateSession(capacity);
        var rng = new Random(1);
        for (int b = 0; b < Buckets; b++)
        {
            int rows = 1 << b;
            // Past the context, or once a pass takes long (a big model at startup), the rest is
            // extrapolated as compute-bound (twice the positions, twice the time) and then learned online.
            if (rows + 16 > capacity || (b > 0 && table[b - 1] > 100)) { table[b] = table[b - 1] * 2; continue; }
            var tokens = Enumerable.Range(0, rows).Select(_ => rng.Next(model.OutputVocabulary)).ToArray();
            var times = new double[6];
            for (int r = 0; r < times.Length; r++)   // the first is a warm-up (JIT, caches)
            {
                session.Reset();
                session.Forward(tokens.AsSpan(0, Math.Min(16, rows)), 1);   // a little context, as in decoding
                if (rows > 16) session.Reset();
                long start = Stopwatch.GetTimestamp();
                session.Forward(tokens, 1);
                times[r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
            Array.Sort(times, 1, times.Length - 1);
            table[b] = times[3];
        }
    }

    double Interpolate(double[] table, int rows)
    {
        if (rows <= 1) return table[0];
        double at = Math.Log2(rows);
        int b = Math.Min((int)at, Buckets - 2);
        double f = at - b;
        lock (_gate) return table[b] + (table[b + 1] - table[b]) * f;
    }

    /// <summary>Folds the last step's target pass into the table (moving average of its bucket).</summary>
    public void Observe(BatchDecoder decoder)
    {
        int rows = decoder.LastTargetPassRows;
        if (rows < 1) return;
        double at = Math.Log2(rows);
        int b = (int)Math.Round(at);
        if (b >= Buckets || Math.Abs(at - b) > 0.05) return;   // only passes close to a bucket's size
        lock (_gate) _target[b] = 0.9 * _target[b] + 0.1 * decoder.LastTargetPassMs;
    }

    /// <summary>
    /// Sets the gamma of this step for every adaptive SD sequence (see the class) and returns it
    /// (-1 when none is adaptive).
    /// </summary>
    public int ChooseGamma(IReadOnlyList<DecodeSequence> sequences)
    {
        int riding = 0, speculative = 0, most = 0;
        foreach (var s in sequences)
        {
            if (s.Finished) continue;
            if (s.StepPrefillEstimate > 0) { riding += s.StepPrefillEstimate; continue; }
            if (s.Kind == SequenceKind.Speculative && s.AdaptiveGamma) { speculative++; most = Math.Max(most, s.Options.RoundCap); }
            else if (s.Kind == SequenceKind.Speculative) riding += s.Options.RoundCap + 1;
            else if (s.Kind == SequenceKind.Ar) riding++;
        }
        if (speculative == 0 || !HasTarget) return -1;
        int best = 0;
        double bestRate = 0;
        for (int g = 0; g <= most; g++)
        {
            double tokens = 0;
            foreach (var s in sequences)
                if (!s.Finished && s.StepPrefillEstimate == 0 && s.Kind == SequenceKind.Speculative && s.AdaptiveGamma)
                {
                    double a = (s.Stats.Accepted + 3.0) / (s.Stats.Tested + 5.0);
                    int gs = Math.Min(g, s.Options.RoundCap);
                    tokens += a >= 1 ? gs + 1 : (1 - Math.Pow(a, gs + 1)) / (1 - a);
                }
            double ms = g * DraftMs(speculative) + TargetMs(riding + speculative * (g + 1));
            double rate = tokens / ms;
            if (rate > bestRate * 1.0001) (best, bestRate) = (g, rate);
        }
        foreach (var s in sequences)
            if (s.Kind == SequenceKind.Speculative && s.AdaptiveGamma) s.GammaLimit = best;
        return best;
    }
}
