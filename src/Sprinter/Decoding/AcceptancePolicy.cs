using System.Diagnostics;

namespace Sprinter.Decoding;

/// <summary>
/// The acceptance role: after the target pass, keeps or replaces a round's drafted tokens. A policy
/// chooses which drafted tokens the target tests; the tested ones go through speculative decoding's
/// rule in order (<see cref="AcceptanceRule"/>: accept, else resample from the residual and drop
/// the rest), and a round whose tested tokens all pass ends with a bonus token from the target.
/// Tokens before the first tested one stay unverified (lossy).
/// </summary>
public abstract class AcceptancePolicy
{
    /// <summary>Lossless rejection sampling over every drafted token: SD, SPRINTER strict-on-call, prompt lookup.</summary>
    public static AcceptancePolicy RejectionSampling { get; } = new TestEvery();
    /// <summary>SPRINTER as in the paper: only the round's last drafted token is tested.</summary>
    public static AcceptancePolicy SprinterPaper { get; } = new TestLast();

    public static AcceptancePolicy For(SpeculativeOptions options) =>
        options.Method == SpeculativeMethod.Sprinter && options.SprinterMode == SprinterMode.Paper ? SprinterPaper : RejectionSampling;

    /// <summary>The first of <paramref name="drafted"/> tokens the target tests.</summary>
    public abstract int FirstTested(int drafted);

    sealed class TestEvery : AcceptancePolicy { public override int FirstTested(int drafted) => 0; }
    sealed class TestLast : AcceptancePolicy { public override int FirstTested(int drafted) => Math.Max(0, drafted - 1); }

    /// <summary>Judges the round of <paramref name="s"/> against its target logits (row i - FirstTested
    /// holds drafted token i's position) into its round tokens, then rolls both caches back to what is kept.</summary>
    internal void Apply(DecodeSequence s)
    {
        var stats = s.Stats;
        var target = s.Target!;
        int k = s.DraftCount, first = s.FirstTested, n = s.Committed.Count;
        for (int i = 0; i < first; i++)
        {
            s.Round.Add(new EmittedToken(s.Drafted[i], 0, TokenOrigin.Unverified));
            stats.CountPosition(i, kept: true);
        }
        int kept = k;
        long s0 = Stopwatch.GetTimestamp();
        for (int i = first; i < k; i++)
        {
            stats.Tested++;
            var logits = target.Logits(i - first);
            s.Distribution.Compute(logits, s.P);
            int token = s.Drafted[i];
            s.Observer?.Tested(i, token, logits);
            if (AcceptanceRule.Accepts(s.P[token], s.Q[i][token], s.Sampler.NextUniform()))
            {
                s.Round.Add(new EmittedToken(token, 0, TokenOrigin.Accepted));
                stats.CountPosition(i, kept: true);
                continue;
            }
            stats.CountPosition(i, kept: false);
            AcceptanceRule.Residual(s.P, s.Q[i], s.Residual);
            s.Round.Add(new EmittedToken(s.Sampler.Sample(s.Residual), 0, TokenOrigin.Resampled));
            kept = i;
            for (int j = i + 1; j < k; j++) stats.CountPosition(j, kept: false); // discarded with the rejection
            break;
        }
        if (kept == k)
        {
            s.Distribution.Compute(target.Logits(k - first), s.P);
            s.Round.Add(new EmittedToken(s.Sampler.Sample(s.P), 0, TokenOrigin.Bonus));
        }
        stats.SamplingMs += Stopwatch.GetElapsedTime(s0).TotalMilliseconds;
        target.Truncate(n + kept);
        s.Draft!.Truncate(Math.Min(s.Draft.Length, n + kept));
    }
}
