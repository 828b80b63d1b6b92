using Sprinter.Decoding;

namespace Sprinter.Benchmarks;

/// <summary>One goal: its name, the measured value, what it must reach and whether it did.</summary>
public sealed record Goal(string Name, double Value, string Target, bool Met);

/// <summary>
/// The default pair's goals (issue 19), per dataset and sampling setting, for SPRINTER at the
/// shipped default settings (<see cref="BenchConfig.GoalSprinter"/>; else the first paper row):
/// at least 1.3x faster than SD at gamma 4 (the paper-style baseline, <see cref="BenchConfig.Sd"/>)
/// and 2x faster than AR, at least 4 tokens per target call, ROUGE-L within 1 point of AR, a
/// target-likelihood win rate against SD of at least 0.45; lossless SPRINTER
/// (<see cref="BenchConfig.GoalLossless"/>; else strict-on-call at the same threshold) at least 1.15x
/// faster than SD. Ratios to SD at its best gamma of the run are reported beside them, so a weak
/// baseline is never mistaken for a strong method. When one is missed the report explains it from
/// the measured rates and costs.
/// </summary>
/// <param name="Audit">
/// Strict-on-call at the same threshold (or the lossless row): the unbiased online audit of the
/// verifier (the target tests every drafted token; paper mode's own audit sees mostly the
/// verifier's rejects). Null when the run had no such method.
/// </param>
/// <param name="Ar">The AR target run, whose target call is a one-position step.</param>
/// <param name="BestSd">The fastest SD row of the run (any gamma).</param>
/// <param name="Lossless">The lossless SPRINTER row, if the run had one.</param>
public sealed record GoalCheck(string Dataset, string Sampling, MethodSummary Sprinter, MethodSummary Sd, MethodSummary? Audit, MethodSummary? Ar,
    MethodSummary? BestSd = null, MethodSummary? Lossless = null)
{
    public const double SpeedupGoal = 1.3, SprinterVsArGoal = 2, TokensPerCallGoal = 4, RougeTolerance = 1, WinRateGoal = 0.45, LosslessGoal = 1.15;

    public double SdVsAr => Ar is null ? double.NaN : Ar.MsPerTokenMedian / Sd.MsPerTokenMedian;
    public double Speedup => Sd.MsPerTokenMedian / Sprinter.MsPerTokenMedian;
    public double SpeedupVsBestSd => BestSd is null ? double.NaN : BestSd.MsPerTokenMedian / Sprinter.MsPerTokenMedian;
    public double SprinterVsAr => Ar is null ? double.NaN : Ar.MsPerTokenMedian / Sprinter.MsPerTokenMedian;
    public double RougeLDifference => Ar is null ? double.NaN : Sprinter.RougeL - Ar.RougeL;
    public double LosslessVsSd => Lossless is null ? double.NaN : Sd.MsPerTokenMedian / Lossless.MsPerTokenMedian;
    public double LosslessVsBestSd => Lossless is null || BestSd is null ? double.NaN : BestSd.MsPerTokenMedian / Lossless.MsPerTokenMedian;

    /// <summary>Every goal, in the order the report lists them (NaN values, from a missing method, count as missed).</summary>
    public IReadOnlyList<Goal> Goals =>
    [
        new("SPRINTER vs SD", Speedup, $">= {SpeedupGoal}x", Speedup >= SpeedupGoal),
        new("SPRINTER vs AR", SprinterVsAr, $">= {SprinterVsArGoal}x", SprinterVsAr >= SprinterVsArGoal),
        new("SPRINTER tokens/call", Sprinter.TokensPerTargetCall, $">= {TokensPerCallGoal}", Sprinter.TokensPerTargetCall >= TokensPerCallGoal),
        new("ROUGE-L - AR", RougeLDifference, $"within {RougeTolerance}", Math.Abs(RougeLDifference) <= RougeTolerance),
        new("win rate vs SD", Sprinter.WinRateVsSd, $">= {WinRateGoal}", Sprinter.WinRateVsSd >= WinRateGoal),
        new("lossless vs SD", LosslessVsSd, $">= {LosslessGoal}x", LosslessVsSd >= LosslessGoal),
    ];

    /// <summary>Ratios that are reported, not goals: against SD at its best gamma, and SD against AR.</summary>
    public IReadOnlyList<(string Name, double Value)> Context =>
    [
        ("best SD gamma", BestSd?.Method.Gamma ?? double.NaN),
        ("SPRINTER vs best SD", SpeedupVsBestSd),
        ("lossless vs best SD", LosslessVsBestSd),
        ("SD vs AR", SdVsAr),
    ];

    public bool Met => Goals.All(g => g.Met);

    /// <summary>
    /// The verifier accept rate beta = a + (1 - a) eta_FP of a perfect verifier (eta_TP = 1) that
    /// spends the measured false-positive rate, from the unbiased audit.
    /// </summary>
    public double PerfectVerifierAcceptRate => Audit?.Audit is { } c ? c.AcceptableRate + (1 - c.AcceptableRate) * c.EtaFp : double.NaN;

    /// <summary>Tokens a paper-mode round would draft with such a verifier: about 1 / (1 - beta) (far below the max-draft cap here).</summary>
    public double PerfectVerifierRoundLength => 1 / (1 - PerfectVerifierAcceptRate);

    /// <summary>One check per dataset and sampling setting that has SD and the goal's SPRINTER row.</summary>
    public static List<GoalCheck> From(IReadOnlyList<MethodSummary> summaries, BenchConfig config)
    {
        var sprinter = config.GoalSprinter is { } g && config.Methods.Contains(g) ? g : config.Methods.FirstOrDefault(m => m.Kind == DecodingMethod.SprinterPaper);
        if (sprinter is null || config.Sd is null) return [];
        var lossless = config.GoalLossless is { } l && config.Methods.Contains(l) ? l : null;
        return summaries.GroupBy(s => (s.Dataset, s.Sampling))
            .Select(g => (g.Key, S: g.FirstOrDefault(s => s.Method == sprinter), D: g.FirstOrDefault(s => s.Method == config.Sd),
                A: g.FirstOrDefault(s => s.Method.Kind == DecodingMethod.SprinterStrictOnCall && s.Method.Threshold == sprinter.Threshold && s.Method.Calibrated == sprinter.Calibrated
                    && s.Method.Stop == SprinterStop.Threshold && s.Method.Lookahead == 0 && !s.Method.Online),
                Ar: g.FirstOrDefault(s => s.Method.Kind == DecodingMethod.Ar),
                Best: g.Where(s => s.Method.Kind == DecodingMethod.Sd && !s.Method.PromptLookup).MinBy(s => s.MsPerTokenMedian),
                L: lossless is null ? g.FirstOrDefault(s => s.Method.Kind == DecodingMethod.SprinterStrictOnCall && s.Method.Threshold == sprinter.Threshold && s.Method.Calibrated == sprinter.Calibrated)
                    : g.FirstOrDefault(s => s.Method == lossless)))
            .Where(x => x.S is not null && x.D is not null)
            .Select(x => new GoalCheck(x.Key.Dataset, x.Key.Sampling, x.S!, x.D!, x.A ?? x.L, x.Ar, x.Best, x.L))
            .ToList();
    }
}
