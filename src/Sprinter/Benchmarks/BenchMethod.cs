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
public sealed record BenchMethod(BenchMethodKind Kind, int Gamma = 4, float Threshold = 0.5f, bool Calibrated = false, bool PromptLookup = false)
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
        _ when IsSprinter && Calibrated => $"{Mode}-calibrated",
        _ when IsSprinter => $"{Mode}-t{Threshold:0.###}",
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
        },
    };
}

/// <summary>A verifier a benchmark runs with, its calibrated threshold (if its file stores one) and a description for the report.</summary>
public sealed record BenchVerifier(IVerifier Verifier, float? CalibratedThreshold, string Description, LabelRule Label = LabelRule.Paper);

/// <summary>A named sampling setting (greedy, or sampling at temperature 1).</summary>
public sealed record SamplingSetting(string Name, SamplingOptions Options)
{
    public static SamplingSetting Greedy { get; } = new("greedy", SamplingOptions.Greedy);
    public static SamplingSetting Sample { get; } = new("sample", new SamplingOptions { Temperature = 1f });

    /// <summary>The decoding a verifier must be made for: greedy at temperature 0, else sample.</summary>
    public string Decoding => Options.IsGreedy ? "greedy" : "sample";
}
