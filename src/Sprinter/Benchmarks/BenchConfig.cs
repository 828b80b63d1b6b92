using Sprinter.Decoding;
namespace Sprinter.Benchmarks;

/// <summary>What one benchmark run measures.</summary>
public sealed record BenchConfig
{
    public required IReadOnlyList<BenchMethod> Methods { get; init; }
    public required IReadOnlyList<SamplingSetting> Settings { get; init; }
    public int NewTokens { get; init; } = 20;
    public int MaxDraft { get; init; } = 20;
    public int Seed { get; init; }
    /// <summary>Thresholds for the theory table (the SPRINTER thresholds); empty skips it.</summary>
    public IReadOnlyList<float> TheoryThresholds { get; init; } = [];

    /// <summary>Each sampling setting's verifier's calibrated threshold, by setting name, for <see cref="BenchMethod.Calibrated"/> methods.</summary>
    public IReadOnlyDictionary<string, float> CalibratedThresholds { get; init; } = new Dictionary<string, float>();

    /// <summary>The threshold a SPRINTER method ran at under a sampling setting.</summary>
    public float ThresholdOf(BenchMethod method, string sampling) =>
        method.Calibrated && CalibratedThresholds.TryGetValue(sampling, out float t) ? t : method.Threshold;

    /// <summary>SPRINTER at the shipped default settings, whose goals the report checks (null: the first paper row).</summary>
    public BenchMethod? GoalSprinter { get; init; }
    /// <summary>The shipped lossless SPRINTER (null: strict-on-call at the goal row's threshold).</summary>
    public BenchMethod? GoalLossless { get; init; }

    /// <summary>The SD method speedups are measured against (the first gamma), if any.</summary>
    public BenchMethod? Sd => Methods.FirstOrDefault(m => m.Kind == DecodingMethod.Sd && !m.PromptLookup);
}
