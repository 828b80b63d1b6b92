using System.Text.Json;
using Sprinter.Benchmarks;

namespace Sprinter.PeerBench;

/// <summary>The measuring end of both PeerBench modes: FMA peak, interleaved rounds over every timer, the table or JSON.</summary>
internal static class InterleavedRun
{
    public static void MeasureAndReport(IReadOnlyList<IPassTimer> timers, int[] ks, int runCount, int threads, string description, string? outFile, bool asJson)
    {
        Console.Error.WriteLine($"measuring the FMA peak, then {runCount} interleaved rounds of {timers.Count} engines/types x {ks.Length} k values...");
        double peak = EngineBenchmark.MeasureFmaPeakGflops();
        var timings = EngineBenchmark.RunInterleaved(timers, ks, runCount, round => Console.Error.Write($"\rround {round}/{runCount}"),
            new EngineBenchmark.BandwidthProbe(), out double bandwidth);
        Console.Error.WriteLine();
        var report = new EngineReport(description, EngineBenchmark.InstructionSet, threads, bandwidth, peak, timings);
        string table = report.ToMarkdown();
        if (outFile is not null) File.WriteAllText(outFile, table);
        Console.WriteLine(asJson ? report.ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) : table);
    }
}
