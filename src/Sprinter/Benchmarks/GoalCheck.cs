using Sprinter.Decoding;
namespace Sprinter.Benchmarks;

/// <summary>One goal: its name, the measured value, what it must reach and whether it did.</summary>
public sealed record Goal(string Name, double Value, string Target, bool Met);

/// <summary>
/// The default pair's goals (issue 10), per dataset and sampling setting: SD at least 1.4x faster
/// per token than AR; SPRINTER (paper mode at the first threshold of the list, by default the
/// verifier's calibrated one) at least 1.3x faster than SD and 2x faster than AR, at least 4 tokens
/// per target call, ROUGE-L within 1 point of AR and a target-likelihood win rate against SD of at
/// least 0.45; strict-on-call (lossless, same threshold) faster than SD. When one is missed the
/// report explains it from the measured rates and costs.
/// </summary>
/// <param name="Audit">
/// Strict-on-call at the same threshold: lossless, and the unbiased online audit of the verifier
/// (the target tests every drafted token; paper mode's own audit sees mostly the verifier's
/// rejects). Null when the run had no such method.
/// </param>
/// <param name="Ar">The AR target run, whose target call is a one-position step.</param>
public sealed record GoalCheck(string Dataset, string Sampling, MethodSummary Sprinter, MethodSummary Sd, MethodSummary? Audit, MethodSummary? Ar)
{
    public const double SdVsArGoal = 1.4, SpeedupGoal = 1.3, SprinterVsArGoal = 2, TokensPerCallGoal = 4, RougeTolerance = 1, WinRateGoal = 0.45;

    public double SdVsAr => Ar is null ? double.NaN : Ar.MsPerTokenMedian / Sd.MsPerTokenMedian;
    public double Speedup => Sd.MsPerTokenMedian / Sprinter.MsPerTokenMedian;
    public double SprinterVsAr => Ar is null ? double.NaN : Ar.MsPerTokenMedian / Sprinter.MsPerTokenMedian;
    public double RougeLDifference => Ar is null ? double.NaN : Sprinter.RougeL - Ar.RougeL;
    public double StrictVsSd => Audit is null ? double.NaN : Sd.MsPerTokenMedian / Audit.MsPerTokenMedian;

    /// <summary>Every goal, in the order the report lists them (NaN values, from a missing method, count as missed).</summary>
    public IReadOnlyList<Goal> Goals =>
    [
        new("SD vs AR", SdVsAr, $">= {SdVsArGoal}x", SdVsAr >= SdVsArGoal),
        new("SPRINTER vs SD", Speedup, $">= {SpeedupGoal}x", Speedup >= SpeedupGoal),
        new("SPRINTER vs AR", SprinterVsAr, $">= {SprinterVsArGoal}x", SprinterVsAr >= SprinterVsArGoal),
        new("SPRINTER tokens/call", Sprinter.TokensPerTargetCall, $">= {TokensPerCallGoal}", Sprinter.TokensPerTargetCall >= TokensPerCallGoal),
        new("ROUGE-L - AR", RougeLDifference, $"within {RougeTolerance}", Math.Abs(RougeLDifference) <= RougeTolerance),
        new("win rate vs SD", Sprinter.WinRateVsSd, $">= {WinRateGoal}", Sprinter.WinRateVsSd >= WinRateGoal),
        new("strict-on-call vs SD", StrictVsSd, "> 1x", StrictVsSd > 1),
    ];

    public bool Met => Goals.All(g => g.Met);

    /// <summary>
    /// The verifier accept rate beta = a + (1 - a) eta_FP of a perfect verifier (eta_TP = 1) that
    /// spends the measured false-positive rate, from the unbiased audit.
    /// </summary>
    public double PerfectVerifierAcceptRate => Audit?.Audit is { } c ? c.AcceptableRate + (1 - c.AcceptableRate) * c.EtaFp : double.NaN;

    /// <summary>Tokens a paper-mode round would draft with such a verifier: about 1 / (1 - beta) (far below the max-draft cap here).</summary>
    public double PerfectVerifierRoundLength => 1 / (1 - PerfectVerifierAcceptRate);

    /// <summary>One check per dataset and sampling setting that has both SD and SPRINTER paper at the first threshold.</summary>
    public static List<GoalCheck> From(IReadOnlyList<MethodSummary> summaries, BenchConfig config)
    {
        var sprinter = config.Methods.FirstOrDefault(m => m.Kind == DecodingMethod.SprinterPaper);
        if (sprinter is null || config.Sd is null) return [];
        return summaries.GroupBy(s => (s.Dataset, s.Sampling))
            .Select(g => (g.Key, S: g.FirstOrDefault(s => s.Method == sprinter), D: g.FirstOrDefault(s => s.Method == config.Sd),
                A: g.FirstOrDefault(s => s.Method.Kind == DecodingMethod.SprinterStrictOnCall && s.Method.Threshold == sprinter.Threshold),
                Ar: g.FirstOrDefault(s => s.Method.Kind == DecodingMethod.Ar)))
            .Where(x => x.S is not null && x.D is not null)
            .Select(x => new GoalCheck(x.Key.Dataset, x.Key.Sampling, x.S!, x.D!, x.A, x.Ar))
            .ToList();
    }
}
