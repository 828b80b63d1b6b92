namespace Sprinter.Benchmarks;

/// <summary>
/// One method's metrics over the prompts of one dataset under one sampling setting. Times are
/// decode times (prefill excluded, the same for every method). Ratios over prompts are
/// ratios of totals (calls, tokens, FLOPs, NLL). ROUGE is in points (F-measure x 100), averaged
/// over prompts.
/// </summary>
public sealed record MethodSummary
{
    public required string Dataset { get; init; }
    public required string Sampling { get; init; }
    public required BenchMethod Method { get; init; }
    public int Prompts { get; init; }
    public double MsPerTokenMedian { get; init; }
    public double MsPerTokenP90 { get; init; }
    public double SpeedupVsSd { get; set; } = double.NaN;
    public double SpeedupVsAr { get; set; } = double.NaN;
    public double TargetCallsPerToken { get; init; }
    public double TokensPerTargetCall { get; init; }
    public double FlopsPerToken { get; init; }
    public double Rouge1 { get; init; }
    public double Rouge2 { get; init; }
    public double RougeL { get; init; }
    public double Perplexity { get; init; }
    /// <summary>Stand-in for the paper's GPT-4 judge: share of prompts where the target scores this continuation higher per token than SD's (ties count half).</summary>
    public double WinRateVsSd { get; set; } = double.NaN;
    public VerifierConfusion? Audit { get; init; }
    public double UnverifiedFraction { get; init; }
    /// <summary>accepted / drafted (DecodingStats.AcceptanceRate over all prompts).</summary>
    public double AcceptanceRate { get; init; }
    /// <summary>SPRINTER: share of drafted tokens the verifier accepted (beta in SPRINTER.md).</summary>
    public double VerifierAcceptRate { get; init; }
    public double DraftMsPerStep { get; init; }
    public double TargetMsPerCall { get; init; }
    public required IReadOnlyList<int> TokensPerRound { get; init; }
    /// <summary>Kept / drafted at each position of a round (SD: the per-position acceptance rate; empty for AR).</summary>
    public IReadOnlyList<double> AcceptanceAtPosition { get; init; } = [];

    /// <summary>ms of a draft step / ms of a target call (NaN where a model did not run).</summary>
    public double DraftTargetCostRatio => DraftMsPerStep / TargetMsPerCall;
}
