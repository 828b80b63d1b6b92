using System.CommandLine;
using Sprinter.Benchmarks;
using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter bench-engine</c>: memory bandwidth, FMA peak and forward-pass cost over 1..16 positions.</summary>
internal static class BenchEngineCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<string?>("--model") { Description = "Model folder to time. Default: a random GPT-2-small-sized model (12 layers, d=768, vocab 50257) built in memory." };
        var positions = new Option<int[]>("--positions") { Description = "Positions per pass to time.", DefaultValueFactory = _ => [1, 2, 4, 8, 16], AllowMultipleArgumentsPerToken = true };
        var runs = new Option<int>("--runs") { Description = "Timed passes per setting (the median is reported).", DefaultValueFactory = _ => 15 };
        var dtypes = new Option<string[]>("--dtypes") { Description = "Weight types to time: fp32, bf16, q8_0, q4_0, q4_k.", DefaultValueFactory = _ => ["fp32", "bf16", "q8_0"], AllowMultipleArgumentsPerToken = true };
        var shape = new Option<string>("--shape") { Description = "Random-weight shape to time when no --model is given: gpt2-small or llama-3.2-1b.", DefaultValueFactory = _ => "gpt2-small" };
        var context = new Option<int>("--context") { Description = "Positions already in the KV cache before each timed pass (decoding late in a long prompt attends over all of them).", DefaultValueFactory = _ => 32 };
        var json = CliSupport.JsonOption();
        var command = new Command("bench-engine",
            "Measure memory bandwidth, FMA peak and ms per forward pass at k = 1, 2, 4, 8, 16 positions; weight types and k values are interleaved. " +
            "For llama.cpp timed in the same run, use the benchmark project bench/Sprinter.PeerBench.") { model, shape, positions, runs, dtypes, context, json };
        command.SetAction(r =>
        {
            int runCount = r.GetValue(runs);
            if (runCount < 1) throw new InvalidInputException($"--runs must be >= 1, got {runCount}.");
            var ks = r.GetValue(positions)!;
            if (ks.Length == 0 || ks.Any(k => k < 1 || k > 256)) throw new InvalidInputException("--positions must be integers in [1, 256].");
            int cached = r.GetValue(context);
            if (cached < 1) throw new InvalidInputException($"--context must be >= 1, got {cached}.");
            var types = r.GetValue(dtypes)!.Select(t => WeightTypes.Parse(t, "dtypes") ?? throw new InvalidInputException("--dtypes takes fp32, bf16, q8_0, q4_0 and/or q4_k (each is timed; auto is not a type).")).Distinct().ToArray();
            string? folder = r.GetValue(model);
            if (!EngineBenchmark.Shapes.TryGetValue(r.GetValue(shape)!, out var random))
                throw new InvalidInputException($"--shape takes {string.Join(" or ", EngineBenchmark.Shapes.Keys)}, got '{r.GetValue(shape)}'.");
            // A clear error before minutes of measuring.
            int maxPositions = folder is null ? random.Config.MaxPositions : LanguageModel.ReadConfig(folder).MaxPositions;
            if (cached + ks.Max() > maxPositions)
                throw new InvalidInputException($"--context {cached} plus {ks.Max()} positions exceeds the model's {maxPositions} positions; lower --context or --positions.");
            string description = folder ?? random.Description;

            error.WriteLine("measuring the FMA peak (all threads)...");
            double peak = EngineBenchmark.MeasureFmaPeakGflops();
            var timers = new List<IPassTimer>();
            try
            {
                foreach (var type in types)
                {
                    error.WriteLine($"building {description} with {type.Name()} weights...");
                    var m = folder is null ? RandomModel.Create(random.Config, seed: 1, type) : TransformerModel.Load(folder, type);
                    timers.Add(new SprinterPassTimer(m, ks.Max(), cached));
                }
                var progress = new ProgressLine(error, "bench-engine");
                var timings = EngineBenchmark.RunInterleaved(timers, ks, runCount,
                    round => progress.Report(new Sprinter.Verification.JobProgress(round, runCount, "rounds of every type and k")),
                    new EngineBenchmark.BandwidthProbe(), out double bandwidth);
                var report = new EngineReport(cached == 32 ? description : $"{description}, {cached} cached positions", EngineBenchmark.InstructionSet, WorkerPool.Shared.ThreadCount, bandwidth, peak, timings);
                if (asJson(r)) CliSupport.WriteJson(output, report.ToJson());
                else output.Write(report.ToMarkdown());
            }
            finally
            {
                foreach (var t in timers) t.Dispose();
            }
            return 0;
        });
        return command;

        bool asJson(ParseResult r) => r.GetValue(json);
    }
}
