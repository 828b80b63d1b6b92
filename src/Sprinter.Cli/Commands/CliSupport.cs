using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sprinter.Benchmarks;
using Sprinter.Decoding;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Serving;

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
        Description = "Weight type at run time: auto (bf16 for a bf16 file, where it is exact; else fp32; a quantized GGUF file runs each tensor in its own block type, Q8_0/Q4_0/Q4_K/Q5_K/Q6_K natively, other types as q8_0), fp32, bf16, q8_0 (int8 blocks of 32 with one scale each, quantized at load; lossy, about half the bytes of bf16), q4_0 or q4_k (4-bit blocks quantized at load by llama.cpp's reference quantizer, about a quarter of the bytes of bf16; lossy; q4_k needs inputs in multiples of 256, else q4_0, else q8_0), or q5_k (a GGUF file's Q5_K tensors as they are, the others as q8_0; there is no q5_k quantizer, so a folder is refused).",
        DefaultValueFactory = _ => "auto",
    };

    /// <returns>The weight type, or null for auto.</returns>
    public static WeightType? ParseDtype(string text) => WeightTypes.Parse(text);

    /// <inheritdoc cref="ShippedModels.Find"/>
    public static string? FindShipped(string name, bool folder) => ShippedModels.Find(name, folder);

    /// <summary>The flag of a library setting (<see cref="InvalidSettingException.Setting"/>): max_draft is --max-draft.</summary>
    public static string Flag(string setting) => "--" + setting.Replace('_', '-');

    /// <param name="served">Only the modes a server runs (serve, load).</param>
    public static DecodingMode ParseMode(string text, bool served = false) => DecodingNames.ParseMode(text, served)
        ?? throw new InvalidSettingException("mode", $"must be {DecodingNames.ModeChoices(served)}, got '{text}'.");

    public static SprinterMode ParseSprinterMode(string text) => DecodingNames.ParseSprinterMode(text)
        ?? throw new InvalidSettingException("sprinter_mode", $"must be {DecodingNames.SprinterModeChoices}, got '{text}'.");

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
        public Option<int> Lookahead { get; } = new("--lookahead") { Description = "SPRINTER: tokens drafted after the verifier stops; the same target call tests them with SD's rule (0: the paper's round).", DefaultValueFactory = _ => DecodingSettings.SprinterDefaults.Lookahead };
        public Option<string> StopRule { get; } = new("--stop-rule") { Description = "SPRINTER: threshold (stop at the first score under --threshold, the paper) or cumulative (stop when the product of scores since the last call is under --cumulative-threshold, SpecDec++).", DefaultValueFactory = _ => "threshold" };
        public Option<float> Cumulative { get; } = new("--cumulative-threshold") { Description = "SPRINTER with --stop-rule cumulative or --sprinter-mode lossless: h in [0, 1].", DefaultValueFactory = _ => DecodingSettings.SprinterDefaults.CumulativeThreshold };
        public Option<bool> Online { get; } = new("--online-calibration") { Description = "SPRINTER: move the threshold online so the verifier's false-positive rate, labelled by every target call, holds at its budget (on by default; --online-calibration false keeps a fixed threshold, as the paper).", DefaultValueFactory = _ => DecodingSettings.SprinterDefaults.OnlineCalibration };
        public Option<double?> Budget { get; } = new("--fp-budget") { Description = "SPRINTER with --online-calibration: the false-positive budget. Default: the verifier's (its max_fp_rate), else 0.1." };

        public void AddTo(Command command)
        {
            command.Add(Lookahead); command.Add(StopRule); command.Add(Cumulative); command.Add(Online); command.Add(Budget);
        }

        /// <summary><paramref name="settings"/> with these options, every value checked (a mistake names its flag, exit code 2).</summary>
        public DecodingSettings Apply(ParseResult r, DecodingSettings settings)
        {
            var applied = settings with
            {
                Lookahead = r.GetValue(Lookahead), CumulativeThreshold = r.GetValue(Cumulative), OnlineCalibration = r.GetValue(Online), FpBudget = r.GetValue(Budget),
                Stop = DecodingNames.ParseStop(r.GetValue(StopRule)!) ?? throw new InvalidSettingException("stop_rule", $"must be {DecodingNames.StopChoices}, got '{r.GetValue(StopRule)}'."),
            };
            applied.Validate();
            return applied;
        }
    }
}
