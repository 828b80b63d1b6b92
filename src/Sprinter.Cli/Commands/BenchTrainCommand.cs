using System.CommandLine;
using System.Text.Json.Nodes;
using Sprinter.Benchmarks;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Training;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter bench-train</c>: training tokens/s and GFLOP/s of a configuration against the FMA peak.</summary>
internal static class BenchTrainCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 6 };
        var d = new Option<int>("--d") { Description = "n_embd.", DefaultValueFactory = _ => 384 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 6 };
        var context = new Option<int>("--context") { DefaultValueFactory = _ => 256 };
        var vocab = new Option<int>("--vocab") { DefaultValueFactory = _ => 8192 };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 8 };
        var steps = new Option<int>("--steps") { Description = "Timed optimizer steps after one warm-up step.", DefaultValueFactory = _ => 3 };
        var json = CliSupport.JsonOption();
        var command = new Command("bench-train", "Measure training throughput (tokens/s, GFLOP/s and the share of the FMA peak) on random tokens.")
            { layers, d, heads, context, vocab, batch, steps, json };
        command.SetAction(r =>
        {
            int dm = r.GetValue(d), h = r.GetValue(heads);
            if (r.GetValue(layers) < 1 || dm < 1 || h < 1 || dm % h != 0) throw new InvalidInputException($"--d ({dm}) must be a positive multiple of --heads ({h}), and --layers >= 1.");
            if (r.GetValue(context) < 2 || r.GetValue(vocab) < 2 || r.GetValue(batch) < 1) throw new InvalidInputException("--context and --vocab must be >= 2 and --batch >= 1.");
            var c = new ModelConfig
            {
                LayerCount = r.GetValue(layers), EmbeddingSize = dm, HeadCount = h, MaxPositions = r.GetValue(context),
                VocabSize = r.GetValue(vocab), InnerSize = 4 * dm,
            };
            var result = TrainingBenchmark.Run(c, r.GetValue(batch), r.GetValue(steps), new Progress<string>(error.WriteLine));
            string shape = $"{c.LayerCount}x{c.EmbeddingSize} ({c.HeadCount} heads, context {c.MaxPositions}, vocab {c.VocabSize}, batch {result.Batch})";
            if (r.GetValue(json))
                CliSupport.WriteJson(output, new JsonObject
                {
                    ["isa"] = EngineBenchmark.InstructionSet, ["config"] = shape, ["threads"] = result.Threads,
                    ["tokens_per_second"] = Math.Round(result.TokensPerSecond, 1), ["flops_per_token"] = result.FlopsPerToken,
                    ["gflops"] = Math.Round(result.Gflops, 1), ["fma_peak_gflops"] = Math.Round(result.FmaPeakGflops, 1),
                    ["peak_fraction"] = Math.Round(result.PeakFraction, 3),
                    ["seconds_per_step"] = new JsonObject { ["forward"] = Math.Round(result.ForwardSeconds, 4), ["backward"] = Math.Round(result.BackwardSeconds, 4), ["optimizer"] = Math.Round(result.OptimizerSeconds, 4) },
                });
            else
                output.WriteLine($"{shape}, {result.Threads} threads, {EngineBenchmark.InstructionSet}: {result.TokensPerSecond:F0} tokens/s, " +
                                 $"{result.Gflops:F1} GFLOP/s = {100 * result.PeakFraction:F0}% of the measured FMA peak ({result.FmaPeakGflops:F0} GFLOP/s); " +
                                 $"per step forward {result.ForwardSeconds:F3} s, backward {result.BackwardSeconds:F3} s, optimizer {result.OptimizerSeconds:F3} s");
            return 0;
        });
        return command;
    }
}
