using Sprinter.Decoding;
using Sprinter.Verification;

namespace Sprinter.Benchmarks;

/// <summary>The decoding methods the benchmark compares.</summary>
public enum BenchMethodKind { ArTarget, ArDraft, Sd, SprinterPaper, SprinterStrictOnCall }

/// <summary>
/// One method with its parameter (gamma for SD, threshold for SPRINTER). With
/// <paramref name="Calibrated"/>, each sampling setting runs at the calibrated threshold of its own
/// verifier (the benchmark then uses one verifier per decoding); Threshold holds the first setting's.
/// </summary>
/// <param name="Lookahead">SPRINTER: tokens drafted after the verifier stops.</param>
/// <param name="Stop">SPRINTER's stop rule; <paramref name="Cumulative"/> is its h for <see cref="SprinterStop.Cumulative"/>.</param>
/// <param name="Online">SPRINTER: online threshold calibration at the verifier's false-positive budget.</param>
public sealed record BenchMethod(BenchMethodKind Kind, int Gamma = 4, float Threshold = 0.5f, bool Calibrated = false, bool PromptLookup = false,
    int Lookahead = 0, SprinterStop Stop = SprinterStop.Threshold, float Cumulative = 0.5f, bool Online = false)
{
    /// <summary>The mode name used by decoders and <c>generate --mode</c>.</summary>
    public string Mode => Kind switch
    {
        BenchMethodKind.ArTarget => "ar",
        BenchMethodKind.ArDraft => "ar-draft",
        BenchMethodKind.Sd => "sd",
        BenchMethodKind.SprinterPaper => "sprinter-paper",
        _ => "sprinter-strict-on-call",
    };

    public bool IsSprinter => Kind is BenchMethodKind.SprinterPaper or BenchMethodKind.SprinterStrictOnCall;

    public string Name => Kind switch
    {
        BenchMethodKind.Sd => PromptLookup ? $"sd-lookup-g{Gamma}" : $"sd-g{Gamma}",
        _ when IsSprinter => (Stop == SprinterStop.Cumulative ? $"{Mode}-cum{Cumulative:0.###}" : Calibrated ? $"{Mode}-calibrated" : $"{Mode}-t{Threshold:0.###}")
            + (Lookahead > 0 ? $"-la{Lookahead}" : "") + (Online ? "-online" : ""),
        _ => Mode,
    };

    /// <summary>The threshold a run uses: its verifier's calibrated one for a <see cref="Calibrated"/> method.</summary>
    public float ThresholdFor(BenchVerifier? verifier) => Calibrated && verifier?.CalibratedThreshold is float t ? t : Threshold;

    public SpeculativeOptions SpeculativeOptions(BenchVerifier? verifier, int maxDraft) => Kind switch
    {
        BenchMethodKind.Sd => new SpeculativeOptions { Method = SpeculativeMethod.Sd, Gamma = Gamma, PromptLookup = PromptLookup },
        _ => new SpeculativeOptions
        {
            Method = SpeculativeMethod.Sprinter, Verifier = verifier?.Verifier, Threshold = ThresholdFor(verifier), MaxDraft = maxDraft,
            SprinterMode = Kind == BenchMethodKind.SprinterPaper ? SprinterMode.Paper : SprinterMode.StrictOnCall,
            Lookahead = Lookahead, Stop = Stop, CumulativeThreshold = Cumulative,
            Calibration = Online && verifier is not null ? new OnlineCalibration(ThresholdFor(verifier), verifier.FpBudget, verifier.Label) : null,
        },
    };
}

/// <summary>A verifier a benchmark runs with, its calibrated threshold (if its file stores one) and a description for the report.</summary>
public sealed record BenchVerifier(IVerifier Verifier, float? CalibratedThreshold, string Description, LabelRule Label = LabelRule.Paper)
{
    /// <summary>The false-positive rate the verifier was calibrated for (its file's max_fp_rate), else 0.1.</summary>
    public double FpBudget => Verifier is LearnedVerifier l && l.Model.Training["max_fp_rate"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out double b) ? b : 0.1;
}

/// <summary>A named sampling setting (greedy, or sampling at temperature 1).</summary>
public sealed record SamplingSetting(string Name, SamplingOptions Options)
{
    public static SamplingSetting Greedy { get; } = new("greedy", SamplingOptions.Greedy);
    public static SamplingSetting Sample { get; } = new("sample", new SamplingOptions { Temperature = 1f });

    /// <summary>The decoding a verifier must be made for: greedy at temperature 0, else sample.</summary>
    public string Decoding => Options.IsGreedy ? "greedy" : "sample";
}
