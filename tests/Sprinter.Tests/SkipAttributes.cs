using Sprinter.Tests.Models;

namespace Sprinter.Tests;

// xunit 2.9 has no dynamic skip (Assert.Skip is xunit v3), so these attributes decide at discovery:
// a test that cannot check anything on this machine shows as skipped with the reason, never as passed.

/// <summary>A measurement, not a check: skipped unless SPRINTER_TRAIN_BENCH=1.</summary>
public sealed class BenchmarkFactAttribute : FactAttribute
{
    public BenchmarkFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("SPRINTER_TRAIN_BENCH") != "1")
            Skip = "a benchmark, not a check; set SPRINTER_TRAIN_BENCH=1 to run it";
    }
}

/// <summary>A comparison with libggml: skipped, saying why, where the LLamaSharp package ships no libggml-base for this platform.</summary>
public sealed class LibggmlFactAttribute : FactAttribute
{
    public LibggmlFactAttribute() => Skip = Libggml.MissingReason;
}

/// <inheritdoc cref="LibggmlFactAttribute"/>
public sealed class LibggmlTheoryAttribute : TheoryAttribute
{
    public LibggmlTheoryAttribute() => Skip = Libggml.MissingReason;
}
