using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sprinter.Benchmarks;
using Sprinter.Decoding;
using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Cli.Commands;

/// <summary>Options and output helpers shared by the commands.</summary>
internal static class CliSupport
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void WriteJson(TextWriter output, JsonNode node) => output.WriteLine(node.ToJsonString(Json));

    public static Option<bool> JsonOption() => new("--json") { Description = "Print one JSON object instead of text." };

    public static Option<string> DtypeOption() => new("--dtype")
    {
        Description = "Weight type at run time: auto (bf16 for a bf16 file, where it is exact; else fp32), fp32, bf16, or q8_0 (int8 blocks of 32 with one scale each, quantized at load; lossy, about half the bytes of bf16).",
        DefaultValueFactory = _ => "auto",
    };

    /// <returns>The weight type, or null for auto.</returns>
    public static WeightType? ParseDtype(string text) => WeightTypes.Parse(text);

    /// <inheritdoc cref="ShippedModels.Find"/>
    public static string? FindShipped(string name, bool folder) => ShippedModels.Find(name, folder);

    public static Sprinter.Decoding.SprinterMode ParseSprinterMode(string text) =>
        Sprinter.Serving.DecodingSettings.ParseSprinterMode(text) ?? throw new InvalidInputException($"--sprinter-mode must be paper or strict-on-call, got '{text}'.");

    public static Option<string?> DataDirOption(params string[] aliases) => new("--data-dir", aliases)
    {
        Description = "Folder holding wikitext2/ and lm1b/ (the evaluation data). Default: the repository's data/ folder (carried beside an installed tool), else ../shared/data.",
    };

    public static string ResolveDataDir(string? given) =>
        given ?? BenchDatasets.DefaultDataDir(Environment.CurrentDirectory) ?? BenchDatasets.DefaultDataDir(AppContext.BaseDirectory)
        ?? Path.GetFullPath(Path.Combine("..", "shared", "data"));

    public static string ResolveModel(string? given, string shippedName, string option)
    {
        if (!string.IsNullOrEmpty(given)) return given;
        return FindShipped(shippedName, folder: true)
               ?? throw new InvalidInputException($"{option} was not given and no shipped model 'models/{shippedName}' was found; pass {option} DIR (a Hugging Face model folder) or FILE.gguf.");
    }

    public sealed class SamplingOptionSet
    {
        public Option<float> Temperature { get; } = new("--temperature") { Description = "Sampling temperature; 0 is greedy.", DefaultValueFactory = _ => 0f };
        public Option<int> TopK { get; } = new("--top-k") { Description = "Keep the k most likely tokens (0: all).", DefaultValueFactory = _ => 0 };
        public Option<float> TopP { get; } = new("--top-p") { Description = "Nucleus sampling mass in (0, 1] (1: all).", DefaultValueFactory = _ => 1f };
        public Option<int> Seed { get; } = new("--seed") { Description = "Random seed for sampling.", DefaultValueFactory = _ => 0 };

        public void AddTo(Command command)
        {
            command.Add(Temperature); command.Add(TopK); command.Add(TopP); command.Add(Seed);
        }

        public SamplingOptions Read(ParseResult r)
        {
            var options = new SamplingOptions { Temperature = r.GetValue(Temperature), TopK = r.GetValue(TopK), TopP = r.GetValue(TopP) };
            options.Validate();
            return options;
        }
    }

    /// <summary>SPRINTER's round options shared by generate, serve and bench: lookahead, stop rule, online calibration.</summary>
    public sealed class RoundOptionSet
    {
        public Option<int> Lookahead { get; } = new("--lookahead") { Description = "SPRINTER: tokens drafted after the verifier stops; the same target call tests them with SD's rule.", DefaultValueFactory = _ => 0 };
        public Option<string> StopRule { get; } = new("--stop-rule") { Description = "SPRINTER: threshold (stop at the first score under --threshold, the paper) or cumulative (stop when the product of scores since the last call is under --cumulative-threshold, SpecDec++).", DefaultValueFactory = _ => "threshold" };
        public Option<float> Cumulative { get; } = new("--cumulative-threshold") { Description = "SPRINTER with --stop-rule cumulative: h in [0, 1].", DefaultValueFactory = _ => 0.5f };
        public Option<bool> Online { get; } = new("--online-calibration") { Description = "SPRINTER: move the threshold online so the verifier's false-positive rate, labelled by every target call, holds at its budget." };
        public Option<double?> Budget { get; } = new("--fp-budget") { Description = "SPRINTER with --online-calibration: the false-positive budget. Default: the verifier's (its max_fp_rate), else 0.1." };

        public void AddTo(Command command)
        {
            command.Add(Lookahead); command.Add(StopRule); command.Add(Cumulative); command.Add(Online); command.Add(Budget);
        }

        public Sprinter.Serving.DecodingSettings Apply(ParseResult r, Sprinter.Serving.DecodingSettings settings)
        {
            int lookahead = r.GetValue(Lookahead);
            if (lookahead is < 0 or > 16) throw new InvalidInputException($"--lookahead must be in [0, 16], got {lookahead}.");
            float h = r.GetValue(Cumulative);
            if (!(h >= 0 && h <= 1)) throw new InvalidInputException($"--cumulative-threshold must be in [0, 1], got {h}.");
            double? budget = r.GetValue(Budget);
            if (budget is double b && !(b > 0 && b < 1)) throw new InvalidInputException($"--fp-budget must be in (0, 1), got {b}.");
            return settings with
            {
                Lookahead = lookahead, CumulativeThreshold = h, OnlineCalibration = r.GetValue(Online), FpBudget = budget,
                Stop = Sprinter.Serving.DecodingSettings.ParseStop(r.GetValue(StopRule)!) ?? throw new InvalidInputException($"--stop-rule must be threshold or cumulative, got '{r.GetValue(StopRule)}'."),
            };
        }
    }
}
