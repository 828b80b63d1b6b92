namespace Sprinter.Benchmarks;

/// <summary>
/// The shipped pair's goal (issue 6): SPRINTER (paper mode, at the first threshold of the list,
/// by default the verifier's calibrated one) at least 1.5x faster per token than SD (first
/// gamma), at least 5x fewer target calls per token, and ROUGE-L within 1 point of SD. When a
/// target is missed, the diagnostics explain why: the acceptable-token rate a and eta_TP from the
/// online audit, the verifier's accept rate, and the draft/target cost ratio.
/// </summary>
/// <param name="Audit">
/// The unbiased online audit of the verifier: strict-on-call at the same threshold, where the
/// target tests every drafted token (paper mode's own audit sees mostly the verifier's rejects).
/// Null when the run had no such method.
/// </param>
/// <param name="Ar">The AR target run, whose target call is a one-position step.</param>
public sealed record GoalCheck(string Dataset, string Sampling, MethodSummary Sprinter, MethodSummary Sd, MethodSummary? Audit, MethodSummary? Ar)
{
    public const double SpeedupGoal = 1.5, CallReductionGoal = 5, RougeTolerance = 1;

    public double Speedup => Sd.MsPerTokenMedian / Sprinter.MsPerTokenMedian;
    public double CallReduction => Sd.TargetCallsPerToken / Sprinter.TargetCallsPerToken;
    public double RougeLDifference => Sprinter.RougeL - Sd.RougeL;
    public bool SpeedupMet => Speedup >= SpeedupGoal;
    public bool CallsMet => CallReduction >= CallReductionGoal;
    public bool RougeMet => Math.Abs(RougeLDifference) <= RougeTolerance;
    public bool Met => SpeedupMet && CallsMet && RougeMet;

    /// <summary>
    /// The verifier accept rate beta = a eta_TP + (1 - a) eta_FP of a perfect verifier (eta_TP = 1)
    /// that spends the measured false-positive rate, from the unbiased audit.
    /// </summary>
    public double PerfectVerifierAcceptRate => Audit?.Audit is { } c ? c.AcceptableRate + (1 - c.AcceptableRate) * c.EtaFp : double.NaN;

    /// <summary>Tokens a paper-mode round would draft with such a verifier: about 1 / (1 - beta) (far below the max-draft cap here).</summary>
    public double PerfectVerifierRoundLength => 1 / (1 - PerfectVerifierAcceptRate);

    /// <summary>One check per dataset and sampling setting that has both SD and SPRINTER paper at the first threshold.</summary>
    public static List<GoalCheck> From(IReadOnlyList<MethodSummary> summaries, BenchConfig config)
    {
        var sprinter = config.Methods.FirstOrDefault(m => m.Kind == BenchMethodKind.SprinterPaper);
        if (sprinter is null || config.Sd is null) return [];
        return summaries.GroupBy(s => (s.Dataset, s.Sampling))
            .Select(g => (g.Key, S: g.FirstOrDefault(s => s.Method == sprinter), D: g.FirstOrDefault(s => s.Method == config.Sd),
                A: g.FirstOrDefault(s => s.Method.Kind == BenchMethodKind.SprinterStrictOnCall && s.Method.Threshold == sprinter.Threshold),
                Ar: g.FirstOrDefault(s => s.Method.Kind == BenchMethodKind.ArTarget)))
            .Where(x => x.S is not null && x.D is not null)
            .Select(x => new GoalCheck(x.Key.Dataset, x.Key.Sampling, x.S!, x.D!, x.A, x.Ar))
            .ToList();
    }
}
