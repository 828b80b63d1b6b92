using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Sprinter.Engine;

namespace Sprinter.Benchmarks;

/// <summary>The table and JSON of an engine benchmark (ours alone, or beside llama.cpp).</summary>
public sealed record EngineReport(string Model, string InstructionSet, int Threads, double BandwidthGBs, double FmaPeakGflops, IReadOnlyList<PassTiming> Timings)
{
    /// <summary>The llama.cpp (GGUF) type that matches each of our run-time types.</summary>
    public static string? PeerType(string dtype) => dtype switch
    {
        "fp32" => "F32",
        "bf16" => "F16",
        "q8_0" => "Q8_0",
        "q4_0" => "Q4_0",
        "q4_k" => "Q4_K_M",
        "q5_k" => "Q5_K_M",
        "q6_k" => "Q6_K",
        _ => null,
    };

    public double FloorMs(PassTiming t) => t.WeightBytes / (BandwidthGBs * 1e6);

    double? SinglePositionMs(PassTiming t) =>
        Timings.FirstOrDefault(o => o.Engine == t.Engine && o.DType == t.DType && o.File == t.File && o.Positions == 1)?.MedianMs;

    /// <summary>Our time divided by llama.cpp's for the comparable type at the same k (below 1: we are faster).</summary>
    public double? VersusPeer(PassTiming t)
    {
        if (t.Engine != "sprinter") return null;
        // Timing one file: the peer that read that file; otherwise the peer type of ours.
        var other = t.File is not null ? Timings.FirstOrDefault(o => o.Engine != "sprinter" && o.File == t.File && o.Positions == t.Positions)
            : PeerType(t.DType) is string peer ? Timings.FirstOrDefault(o => o.Engine != "sprinter" && o.DType == peer && o.Positions == t.Positions) : null;
        return other is null ? null : t.MedianMs / other.MedianMs;
    }

    static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{Model}; instruction set {InstructionSet}, {Threads} threads; memory read bandwidth {F(BandwidthGBs, "F1")} GB/s; FMA peak {F(FmaPeakGflops, "F0")} GFLOP/s");
        sb.AppendLine();
        bool peers = Timings.Any(t => t.Engine != "sprinter");
        sb.AppendLine(peers
            ? "| engine | weights | MB | k | median ms | x floor | x k=1 | ours / llama.cpp |\n|---|---|---:|---:|---:|---:|---:|---:|"
            : "| weights | MB | k | median ms | x floor | x k=1 |\n|---|---:|---:|---:|---:|---:|");
        foreach (var t in Timings)
        {
            string k1 = SinglePositionMs(t) is double one ? F(t.MedianMs / one, "F2") : "";
            string weights = t.File is null || t.File == t.DType ? t.DType : $"{t.DType} ({t.File} file)";
            string row = $"{weights} | {F(t.WeightBytes / 1e6, "F1")} | {t.Positions} | {F(t.MedianMs, t.MedianMs < 1 ? "F3" : "F2")} | {F(t.MedianMs / FloorMs(t), "F2")} | {k1}";
            sb.AppendLine(peers ? $"| {t.Engine} | {row} | {(VersusPeer(t) is double v ? F(v, "F2") : "")} |" : $"| {row} |");
        }
        return sb.ToString();
    }

    public JsonObject ToJson()
    {
        var results = new JsonArray();
        foreach (var t in Timings)
        {
            var entry = new JsonObject
            {
                ["engine"] = t.Engine, ["dtype"] = t.DType, ["file"] = t.File, ["positions"] = t.Positions, ["ms"] = Math.Round(t.MedianMs, 3),
                ["weight_gbs"] = Math.Round(t.WeightBytes / (t.MedianMs * 1e6), 2), ["weight_bytes"] = t.WeightBytes,
                ["vs_floor"] = Math.Round(t.MedianMs / FloorMs(t), 3),
            };
            if (SinglePositionMs(t) is double one) entry["vs_k1"] = Math.Round(t.MedianMs / one, 3);
            if (VersusPeer(t) is double v) entry["vs_llama_cpp"] = Math.Round(v, 3);
            results.Add(entry);
        }
        return new JsonObject
        {
            ["isa"] = InstructionSet, ["model"] = Model, ["threads"] = Threads, ["bandwidth_gbs"] = Math.Round(BandwidthGBs, 2),
            ["fma_peak_gflops"] = Math.Round(FmaPeakGflops, 1), ["results"] = results,
        };
    }
}
