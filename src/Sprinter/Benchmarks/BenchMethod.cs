using Sprinter.Decoding;

namespace Sprinter.Benchmarks;

/// <summary>The decoding methods the benchmark compares.</summary>
public enum BenchMethodKind { ArTarget, ArDraft, Sd, SprinterPaper, SprinterStrictOnCall }

/// <summary>One method with its parameter (gamma for SD, threshold for SPRINTER).</summary>
public sealed record BenchMethod(BenchMethodKind Kind, int Gamma = 4, float Threshold = 0.5f)
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
        BenchMethodKind.Sd => $"sd-g{Gamma}",
        _ when IsSprinter => $"{Mode}-t{Threshold:0.###}",
        _ => Mode,
    };

    public SpeculativeOptions SpeculativeOptions(IVerifier? verifier, int maxDraft) => Kind switch
    {
        BenchMethodKind.Sd => new SpeculativeOptions { Method = SpeculativeMethod.Sd, Gamma = Gamma },
        _ => new SpeculativeOptions
        {
            Method = SpeculativeMethod.Sprinter, Verifier = verifier, Threshold = Threshold, MaxDraft = maxDraft,
            SprinterMode = Kind == BenchMethodKind.SprinterPaper ? SprinterMode.Paper : SprinterMode.StrictOnCall,
        },
    };
}

/// <summary>A named sampling setting (greedy, or sampling at temperature 1).</summary>
public sealed record SamplingSetting(string Name, SamplingOptions Options)
{
    public static SamplingSetting Greedy { get; } = new("greedy", SamplingOptions.Greedy);
    public static SamplingSetting Sample { get; } = new("sample", new SamplingOptions { Temperature = 1f });
}
