using Sprinter.Decoding;
using Sprinter.Serving;
using Sprinter.Verification;

namespace Sprinter.Benchmarks;

/// <summary>
/// One method with its parameter (gamma for SD, threshold for SPRINTER). With
/// <paramref name="Calibrated"/>, each sampling setting runs at the calibrated threshold of its own
/// verifier (the benchmark then uses one verifier per decoding); Threshold holds the first setting's.
/// </summary>
/// <param name="Kind">The decoding method (ar, ar-draft, sd, sprinter-paper, sprinter-strict-on-call).</param>
/// <param name="Lookahead">SPRINTER: tokens drafted after the verifier stops.</param>
/// <param name="Stop">SPRINTER's stop rule; <paramref name="Cumulative"/> is its h for <see cref="SprinterStop.Cumulative"/>.</param>
/// <param name="Online">SPRINTER: online threshold calibration at the verifier's false-positive budget.</param>
public sealed record BenchMethod(DecodingMethod Kind, int Gamma = 4, float Threshold = 0.5f, bool Calibrated = false, bool PromptLookup = false,
    int Lookahead = 0, SprinterStop Stop = SprinterStop.Threshold, float Cumulative = 0.5f, bool Online = false)
{
    /// <summary>The method's name in statistics and reports (<see cref="DecodingMethod.Name"/>).</summary>
    public string Mode => Kind.Name;

    public bool IsSprinter => Kind.IsSprinter;

    public string Name => Kind.Mode switch
    {
        DecodingMode.Sd => PromptLookup ? $"sd-lookup-g{Gamma}" : $"sd-g{Gamma}",
        DecodingMode.Sprinter => (Stop == SprinterStop.Cumulative ? $"{Mode}-cum{Cumulative:0.###}" : Calibrated ? $"{Mode}-calibrated" : $"{Mode}-t{Threshold:0.###}")
            + (Lookahead > 0 ? $"-la{Lookahead}" : "") + (Online ? "-online" : ""),
        _ => Mode,
    };

    /// <summary>The threshold a run uses: its verifier's calibrated one for a <see cref="Calibrated"/> method.</summary>
    public float ThresholdFor(VerifierChoice? verifier) => Calibrated && verifier?.CalibratedThreshold is float t ? t : Threshold;

    /// <summary>The method as the settings every shell decodes with (<see cref="DecoderFactory"/> builds its decoder).</summary>
    public DecodingSettings Settings(VerifierChoice? verifier, int maxDraft) => new()
    {
        Mode = Kind.Mode, SprinterMode = Kind.SprinterMode, Gamma = Gamma, PromptLookup = PromptLookup,
        Threshold = ThresholdFor(verifier), MaxDraft = maxDraft, Lookahead = Lookahead, Stop = Stop, CumulativeThreshold = Cumulative,
        OnlineCalibration = Online,
    };
}

/// <summary>A named sampling setting (greedy, or sampling at temperature 1).</summary>
public sealed record SamplingSetting(string Name, SamplingOptions Options)
{
    public static SamplingSetting Greedy { get; } = new("greedy", SamplingOptions.Greedy);
    public static SamplingSetting Sample { get; } = new("sample", new SamplingOptions { Temperature = 1f });

    /// <summary>The decoding a verifier must be made for: greedy at temperature 0, else sample.</summary>
    public string Decoding => VerifierLocator.DecodingOf(Options);
}
