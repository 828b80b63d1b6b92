using Sprinter.Engine;
using System.Text.Json.Nodes;
using Sprinter.Models;

namespace Sprinter.Benchmarks;

/// <summary>Where and how a benchmark ran: command line, machine, models and verifier.</summary>
public sealed record BenchContext(string CommandLine, JsonObject Machine, JsonObject Draft, JsonObject Target, string Verifier)
{
    public static JsonObject DescribeModel(string name, string folder, ModelConfig config, WeightType weights) => new()
    {
        ["name"] = name,
        ["folder"] = folder,
        ["parameters"] = config.ParameterCount(),
        ["weights"] = weights.Name(),
        ["config"] = config.ToJson(),
    };

    /// <summary>Cores, OS and the CPU model name from /proc/cpuinfo (what lscpu prints) where available.</summary>
    public static JsonObject DescribeMachine()
    {
        string? cpu = null;
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
        }
        catch (IOException) { }
        return new JsonObject
        {
            ["cores"] = Environment.ProcessorCount,
            ["cpu"] = cpu ?? "unknown",
            ["isa"] = EngineBenchmark.InstructionSet,
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        };
    }
}
