namespace Sprinter.Benchmarks;

/// <summary>
/// The shipped pair's goal (issue 6): SPRINTER (paper mode, at the first threshold of the list,
/// by default the verifier's calibrated one) at least 1.5x faster per token than SD (first
/// gamma), at least 5x fewer target calls per token, and ROUGE-L within 1 point of SD. When a
/// target is missed, the diagnostics explain why: the acceptable-token rate a and eta_TP from the
/// online audit, the verifier's accept rate, and the draft/target cost ratio.
/// </summary>
public sealed record GoalCheck(string Dataset, string Sampling, MethodSummary Sprinter, MethodSummary Sd)
{
    public const double SpeedupGoal = 1.5, CallReductionGoal = 5, RougeTolerance = 1;

    public double Speedup => Sd.MsPerTokenMedian / Sprinter.MsPerTokenMedian;
    public double CallReduction => Sd.TargetCallsPerToken / Sprinter.TargetCallsPerToken;
    public double RougeLDifference => Sprinter.RougeL - Sd.RougeL;
    public bool SpeedupMet => Speedup >= SpeedupGoal;
    public bool CallsMet => CallReduction >= CallReductionGoal;
    public bool RougeMet => Math.Abs(RougeLDifference) <= RougeTolerance;
    public bool Met => SpeedupMet && CallsMet && RougeMet;

    /// <summary>One check per dataset and sampling setting that has both SD and SPRINTER paper at the first threshold.</summary>
    public static List<GoalCheck> From(IReadOnlyList<MethodSummary> summaries, BenchConfig config)
    {
        var sprinter = config.Methods.FirstOrDefault(m => m.Kind == BenchMethodKind.SprinterPaper);
        if (sprinter is null || config.Sd is null) return [];
        return summaries.GroupBy(s => (s.Dataset, s.Sampling))
            .Select(g => (g.Key, S: g.FirstOrDefault(s => s.Method == sprinter), D: g.FirstOrDefault(s => s.Method == config.Sd)))
            .Where(x => x.S is not null && x.D is not null)
            .Select(x => new GoalCheck(x.Key.Dataset, x.Key.Sampling, x.S!, x.D!))
            .ToList();
    }
}
