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

    /// <summary>The SD method speedups are measured against (the first gamma), if any.</summary>
    public BenchMethod? Sd => Methods.FirstOrDefault(m => m.Kind == BenchMethodKind.Sd);
}
