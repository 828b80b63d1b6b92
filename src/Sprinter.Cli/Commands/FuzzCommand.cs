using System.CommandLine;
using System.Text.Json.Nodes;
using Sprinter.Fuzzing;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter fuzz</c>: a long mutation-fuzzing campaign over the parsers of user files.</summary>
internal static class FuzzCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var parser = new Option<string>("--parser") { Description = $"{string.Join(", ", ParserFuzzer.Parsers)} or all.", DefaultValueFactory = _ => "all" };
        var iterations = new Option<int>("--iterations") { Description = "Mutated inputs per parser.", DefaultValueFactory = _ => 1_000_000 };
        var seed = new Option<int>("--seed") { Description = "Seed of the mutations.", DefaultValueFactory = _ => 1 };
        var json = CliSupport.JsonOption();
        var command = new Command("fuzz", "Feed mutated config.json, tokenizer.json, chat templates, shard indexes and server request bodies to their parsers: each must parse or refuse with one line. Exit code 1 when any crashed.")
            { parser, iterations, seed, json };
        command.SetAction(r =>
        {
            int n = r.GetValue(iterations);
            if (n < 1) throw new InvalidInputException($"--iterations must be >= 1, got {n}.");
            string which = r.GetValue(parser)!;
            var parsers = which == "all" ? ParserFuzzer.Parsers : ParserFuzzer.Parsers.Contains(which) ? [which]
                : throw new InvalidInputException($"--parser takes {string.Join(", ", ParserFuzzer.Parsers)} or all, got '{which}'.");
            var results = new List<FuzzResult>();
            foreach (string p in parsers)
            {
                var progress = new ProgressLine(error, $"fuzz {p}");
                results.Add(ParserFuzzer.Run(p, n, r.GetValue(seed), new Progress<int>(done => progress.Report(new Sprinter.Verification.JobProgress(done, n, "inputs")))));
            }
            if (r.GetValue(json))
                CliSupport.WriteJson(output, new JsonObject
                {
                    ["seed"] = r.GetValue(seed),
                    ["results"] = new JsonArray(results.Select(x => (JsonNode)new JsonObject
                    {
                        ["parser"] = x.Parser, ["iterations"] = x.Iterations, ["accepted"] = x.Accepted, ["refused"] = x.Refused,
                        ["crashes"] = new JsonArray(x.Crashes.Select(c => (JsonNode)c).ToArray()),
                    }).ToArray()),
                });
            else
                foreach (var x in results)
                {
                    output.WriteLine($"{x.Parser}: {x.Iterations:N0} inputs, {x.Accepted:N0} accepted, {x.Refused:N0} refused with one line, {x.Crashes.Count} crashed");
                    foreach (var c in x.Crashes) output.WriteLine($"  {c}");
                }
            return results.Any(x => x.Crashes.Count > 0) ? 1 : 0;
        });
        return command;
    }
}
