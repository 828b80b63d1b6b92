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
        options.Method == DecodingMethod.SprinterPaper ? SprinterPaper : RejectionSampling;

    /// <summary>The first drafted token of the round the target tests.</summary>
    public abstract int FirstTested(DecodeSequence s);

    sealed class TestEvery : AcceptancePolicy { public override int FirstTested(DecodeSequence s) => 0; }
    /// <summary>From the token where the verifier stopped (the round's last, unless lookahead followed it).</summary>
    sealed class TestLast : AcceptancePolicy { public override int FirstTested(DecodeSequence s) => Math.Max(0, s.StopIndex); }

    /// <summary>Judges the round of <paramref name="s"/> against its target logits (row i - FirstTested
    /// holds drafted token i's position) into its round tokens, then rolls both caches back to what is kept.</summary>
    internal void Apply(DecodeSequence s)
    {
        var stats = s.Stats;
        var target = s.Target!;
        int k = s.DraftCount, first = s.FirstTested, n = s.Committed.Count, r0 = s.LogitStart;
        bool sprinter = s.Options.Method.IsSprinter && !s.LookupRound;
        if (s.Calibration is { } calibration && sprinter) Calibrate(s, calibration, target);
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
            var logits = target.Logits(i - r0);
            s.Distribution.Compute(logits, s.P);
            int token = s.Drafted[i];
            s.Observer?.Tested(i, token, logits);
            if (AcceptanceRule.Accepts(s.P[token], s.Q[i][token], s.Sampler.NextUniform()))
            {
                s.Round.Add(new EmittedToken(token, 0, TokenOrigin.Accepted, s.LogprobsOf(logits, token), Lookahead: sprinter && i > s.StopIndex));
                stats.CountPosition(i, kept: true);
                continue;
            }
            stats.CountPosition(i, kept: false);
            AcceptanceRule.Residual(s.P, s.Q[i], s.Residual);
            int resampled = s.Sampler.Sample(s.Residual);
            s.Round.Add(new EmittedToken(resampled, 0, TokenOrigin.Resampled, s.LogprobsOf(logits, resampled)));
            kept = i;
            for (int j = i + 1; j < k; j++) stats.CountPosition(j, kept: false); // discarded with the rejection
            break;
        }
        // History for the next round's first verifier call: the rejected position's distribution predicted the
        // resampled token; after a bonus token the draft never saw the distribution that predicted it.
        s.StatsBeforeRound = sprinter && kept < k ? s.DraftStatsAt[kept] : null;
        if (kept == k)
        {
            var logits = target.Logits(k - r0);
            s.Distribution.Compute(logits, s.P);
            int bonus = s.Sampler.Sample(s.P);
            s.Round.Add(new EmittedToken(bonus, 0, TokenOrigin.Bonus, s.LogprobsOf(logits, bonus)));
        }
        stats.SamplingMs += Stopwatch.GetElapsedTime(s0).TotalMilliseconds;
        target.Truncate(n + kept);
        s.Calibration?.EndRound();
        s.Draft!.Truncate(Math.Min(s.Draft.Length, n + kept));
    }

    /// <summary>Labels every verifier decision of the round from this call's logits and feeds the online threshold.</summary>
    static void Calibrate(DecodeSequence s, OnlineCalibration calibration, ITargetSession target)
    {
        for (int i = 0; i <= s.StopIndex && i < s.DraftCount; i++)
        {
            var p = s.Residual.AsSpan(0, target.OutputVocabulary);
            System.Numerics.Tensors.TensorPrimitives.SoftMax(target.Logits(i - s.LogitStart), p);
            calibration.Observe(s.VerifierAccepted[i], Verification.Acceptability.Of(calibration.Label, s.DraftQx[i], p, s.Drafted[i]));
        }
    }
}
