using System.CommandLine;
using System.Text.Json.Nodes;
using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter bench-engine</c>: memory bandwidth and forward-pass cost over 1..16 positions.</summary>
internal static class BenchEngineCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<string?>("--model") { Description = "Model folder to time. Default: a random GPT-2-small-sized model (12 layers, d=768, vocab 50257) built in memory." };
        var positions = new Option<int[]>("--positions") { Description = "Positions per pass to time.", DefaultValueFactory = _ => [1, 2, 4, 8, 16], AllowMultipleArgumentsPerToken = true };
        var runs = new Option<int>("--runs") { Description = "Timed passes per setting (the median is reported).", DefaultValueFactory = _ => 15 };
        var dtypes = new Option<string[]>("--dtypes") { Description = "Weight types to time.", DefaultValueFactory = _ => ["fp32", "bf16"], AllowMultipleArgumentsPerToken = true };
        var json = CliSupport.JsonOption();
        var command = new Command("bench-engine", "Measure memory bandwidth and ms per forward pass at k = 1, 2, 4, 8, 16 positions.") { model, positions, runs, dtypes, json };
        command.SetAction(r =>
        {
            int runCount = r.GetValue(runs);
            if (runCount < 1) throw new InvalidInputException($"--runs must be >= 1, got {runCount}.");
            var ks = r.GetValue(positions)!;
            if (ks.Length == 0 || ks.Any(k => k < 1 || k > 256)) throw new InvalidInputException("--positions must be integers in [1, 256].");
            var types = r.GetValue(dtypes)!.Select(t => CliSupport.ParseDtype(t) ?? throw new InvalidInputException("--dtypes takes fp32 and/or bf16 (each is timed; auto is not a type).")).Distinct().ToArray();
            string? folder = r.GetValue(model);
            bool asJson = r.GetValue(json);

            error.WriteLine("measuring memory read bandwidth (both cores)...");
            double bandwidth = EngineBenchmark.MeasureBandwidthGBs();
            if (!asJson) output.WriteLine($"memory read bandwidth: {bandwidth:F1} GB/s ({WorkerPool.Shared.ThreadCount} threads)");
            var results = new JsonArray();
            string description = folder ?? "random GPT-2-small (12 layers, d=768, 12 heads, vocab 50257)";
            foreach (var type in types)
            {
                error.WriteLine($"building {description} with {type} weights...");
                using var m = folder is null ? RandomModel.Create(EngineBenchmark.Gpt2SmallConfig, seed: 1, type) : Gpt2Model.Load(folder, type);
                double floorMs = m.WeightBytes / (bandwidth * 1e6);
                if (!asJson) output.WriteLine($"{TypeName(type)}: {m.WeightBytes / 1e6:F1} MB of weights, bandwidth floor {floorMs:F2} ms/pass");
                foreach (int k in ks)
                {
                    double ms = EngineBenchmark.MedianForwardMs(m, k, runCount);
                    double weightGbs = m.WeightBytes / (ms * 1e6);
                    results.Add(new JsonObject
                    {
                        ["dtype"] = TypeName(type), ["positions"] = k, ["ms"] = Math.Round(ms, 3),
                        ["weight_gbs"] = Math.Round(weightGbs, 2), ["vs_floor"] = Math.Round(ms / floorMs, 3),
                    });
                    if (!asJson) output.WriteLine($"  k={k,2}: {ms,8:F2} ms/pass  {weightGbs,6:F1} GB/s of weights  {ms / floorMs,5:F2}x the floor");
                }
            }
            if (asJson)
                CliSupport.WriteJson(output, new JsonObject { ["bandwidth_gbs"] = Math.Round(bandwidth, 2), ["model"] = description, ["threads"] = WorkerPool.Shared.ThreadCount, ["results"] = results });
            return 0;
        });
        return command;
    }

    static string TypeName(WeightType t) => t == WeightType.F32 ? "fp32" : "bf16";
}
