using System.Text.Json.Nodes;
using Sprinter.Models;
using Sprinter.Tests.Cli;
using Sprinter.Verification;

namespace Sprinter.Tests.Benchmarks;

public class BenchCommandTests
{
    static readonly Lazy<(string Draft, string Target)> Pair = new(() =>
        (TestModels.Folder(TestModels.TinyConfig(positions: 96), seed: 31), TestModels.Folder(TestModels.TinyConfig(d: 48, positions: 96), seed: 32)));

    static string DataFile()
    {
        string path = Path.Combine(TestModels.TempDir(), "texts.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, 6).Select(i =>
            $"{{\"text\": \"Sentence number {i} talks about the weather and the long river that runs past the old town {i}.\"}}"));
        return path;
    }

    [Fact]
    public void AgreementOfAModelWithItselfIsComplete()
    {
        // A draft identical to the target agrees everywhere: greedy agreement 1, q(x) = p(x), and
        // SD accepts every sampled token (min(1, p/q) = 1); a different draft agrees less.
        var (code, output, error) = CliTests.Run("agreement", "--draft", Pair.Value.Target, "--target", Pair.Value.Target,
            "--data", DataFile(), "--prompts", "3", "--tokens", "5", "--json");
        Assert.True(code == 0, error);
        var self = JsonNode.Parse(output)!;
        Assert.Equal(15, (int)self["positions"]!);
        foreach (var key in new[] { "greedy_agreement", "acceptable_rate", "sd_sample_acceptance" }) Assert.Equal(1.0, (double)self[key]!, 3);
        (code, output, error) = CliTests.Run("agreement", "--draft", Pair.Value.Draft, "--target", Pair.Value.Target,
            "--data", DataFile(), "--prompts", "3", "--tokens", "5", "--json");
        Assert.True(code == 0, error);
        Assert.InRange((double)JsonNode.Parse(output)!["sd_sample_acceptance"]!, 0.0, 0.999);
    }

    [Fact]
    public void TinyRunWritesWellFormedResultsReportAndPlots()
    {
        string outDir = TestModels.TempDir();
        var (code, output, error) = CliTests.Run("bench", "--draft", Pair.Value.Draft, "--target", Pair.Value.Target,
            "--dataset", DataFile(), "--prompts", "3", "--new-tokens", "6", "--verifier", "constant:0.7", "--threshold", "0.5,0.9",
            "--gamma", "2,3", "--out", outDir, "--json");
        Assert.True(code == 0, error);
        var json = JsonNode.Parse(output)!.AsObject();
        Assert.Equal(Sprinter.Benchmarks.EngineBenchmark.InstructionSet, (string)json["machine"]!["isa"]!); // every number names its instruction set
        var methods = json["methods"]!.AsArray();
        // (ar, ar-draft, sd x 2, paper x 2, strict x 2, the shipped SPRINTER defaults and lossless preset) x (greedy, sample);
        // the shipped rows run at t0.5 here (a constant verifier has no calibrated threshold).
        Assert.Equal(20, methods.Count);
        foreach (var m in methods)
        {
            foreach (var key in new[] { "name", "mode", "threshold", "ms_per_token", "speedup_vs_sd", "target_calls_per_token", "tokens_per_target_call", "flops_per_token", "rouge_l", "win_rate_vs_sd", "sampling", "dataset" })
                Assert.True(m!.AsObject().ContainsKey(key), $"{key} missing in {m}");
            Assert.True((double)m!["flops_per_token"]! > 0);
        }
        var sd = methods.Single(m => (string)m!["name"]! == "sd-g2" && (string)m["sampling"]! == "greedy")!;
        Assert.Equal(1.0, (double)sd["speedup_vs_sd"]!, 6);
        Assert.Equal(0.5, (double)sd["win_rate_vs_sd"]!, 6); // ties with itself
        // Constant score 0.7 accepts every token at threshold 0.5: the target tests only each round's last token.
        var paper = methods.Single(m => (string)m!["name"]! == "sprinter-paper-t0.5" && (string)m["sampling"]! == "sample")!;
        Assert.True((double)paper["unverified_fraction"]! > 0);
        Assert.Equal(2, json["theory"]!.AsArray().Count);
        Assert.Equal(3 * 2, json["theory_per_prompt"]!.AsArray().Count); // prompts x thresholds
        Assert.Equal(3 * 20, json["runs"]!.AsArray().Count);              // prompts x methods x settings
        Assert.Equal(2, json["goal_check"]!.AsArray().Count);
        // The goal check audits the verifier where the target tested every token: strict-on-call at the
        // same threshold. An accept-all verifier has eta_TP = eta_FP = 1, so even a perfect one accepts all.
        var goal = json["goal_check"]![0]!;
        Assert.Equal("sprinter-strict-on-call-t0.5", (string)goal["audit_method"]!);
        Assert.True(goal["eta_tp"] is null || (double)goal["eta_tp"]! == 1.0); // null: a random draft's tokens were never acceptable
        Assert.Equal(1.0, (double)goal["eta_fp"]!, 6);
        Assert.Equal(1.0, (double)goal["perfect_verifier_accept_rate"]!, 6);
        // Each goal of the default pair is named with its measured value; SD's own SPRINTER-vs-SD ratio is consistent.
        var goals = goal["goals"]!.AsArray();
        Assert.Equal(["SPRINTER vs SD", "SPRINTER vs AR", "SPRINTER tokens/call", "ROUGE-L - AR", "win rate vs SD", "lossless vs SD"],
            goals.Select(g => (string)g!["name"]!));
        Assert.Equal("sprinter-lossless-cum0.4", (string)goal["lossless"]!);
        Assert.Equal("sprinter-paper-t0.5-la1-online", (string)goal["sprinter"]!);
        // SD's best gamma of the run stands beside the goals (gamma 2 or 3 here).
        Assert.Contains((double)goal["context"]!["best SD gamma"]!, new[] { 2.0, 3.0 });
        double sdMs = (double)methods.Single(m => (string)m!["name"]! == "sd-g2" && (string)m["sampling"]! == (string)goal["sampling"]!)!["ms_per_token"]!;
        double paperMs = (double)methods.Single(m => (string)m!["name"]! == "sprinter-paper-t0.5-la1-online" && (string)m["sampling"]! == (string)goal["sampling"]!)!["ms_per_token"]!;
        // Within 2%: the JSON's ms values are rounded, and sub-millisecond ones move the ratio by ~0.5%
        // (comparing at one decimal place failed whenever the ratio sat near a rounding boundary).
        Assert.InRange((double)goals[0]!["value"]!, sdMs / paperMs * 0.98, sdMs / paperMs * 1.02);
        Assert.Equal(goals.All(g => (bool)g!["met"]!), (bool)goal["met"]!);
        // SD's per-position acceptance is reported for every position it drafts (gamma 2).
        Assert.Equal(2, sd["acceptance_at_position"]!.AsArray().Count);
        Assert.True(File.Exists(Path.Combine(outDir, "results.json")));
        string report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        Assert.Contains("## Goal check", report);
        Assert.Contains("## Theory check", report);
        var pngs = Directory.GetFiles(outDir, "*.png");
        Assert.Equal(4, pngs.Length); // speed-quality and tokens-per-call for greedy and sample
        foreach (var png in pngs)
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(png)[..4]);
    }

    [Fact]
    public void QuickModeRunsTheGoalMethodsOnly()
    {
        string outDir = TestModels.TempDir();
        var (code, output, error) = CliTests.Run("bench", "--quick", "--draft", Pair.Value.Draft, "--target", Pair.Value.Target,
            "--dataset", DataFile(), "--prompts", "2", "--new-tokens", "4", "--verifier", "constant:0.7", "--out", outDir, "--json");
        Assert.True(code == 0, error);
        var names = JsonNode.Parse(output)!["methods"]!.AsArray().Select(m => (string)m!["name"]! + "/" + (string)m["sampling"]!).ToList();
        Assert.Equal(["ar/greedy", "sd-g4/greedy", "sprinter-paper-t0.5/greedy", "sprinter-strict-on-call-t0.5/greedy", "sprinter-paper-t0.5-la1-online/greedy", "sprinter-lossless-cum0.4/greedy"], names);
    }

    [Theory]
    [InlineData("ar")]
    [InlineData("ar-draft")]
    [InlineData("sd-g7")]
    [InlineData("sd-lookup-g3")]
    [InlineData("sprinter-paper-calibrated")]
    [InlineData("sprinter-paper-t0.65-la2-online-fp0.2")]
    [InlineData("sprinter-strict-on-call-cum0.4")]
    [InlineData("sprinter-strict-on-call-t0.5-la1-online")]
    [InlineData("sprinter-lossless-cum0.3")]
    public void MethodNamesParseBackToTheSameMethod(string name)
    {
        var method = Sprinter.Benchmarks.BenchMethod.Parse(name);
        Assert.NotNull(method);
        Assert.Equal(name, method.Name);
    }

    [Theory]
    [InlineData("sd")]
    [InlineData("sd-g0")]
    [InlineData("sprinter-paper")]
    [InlineData("sprinter-paper-t1.5")]
    [InlineData("sprinter-paper-calibrated-la99")]
    [InlineData("sprinter-paper-calibrated-online-fp1")]
    [InlineData("sprinter-lossy")]
    [InlineData("sprinter-lossless-t0.5")]
    public void NonMethodsDoNotParse(string name) => Assert.Null(Sprinter.Benchmarks.BenchMethod.Parse(name));

    [Fact]
    public void MethodsOptionRunsTheNamedMethodsInOrder()
    {
        var (code, output, error) = CliTests.Run("bench", "--draft", Pair.Value.Draft, "--target", Pair.Value.Target,
            "--dataset", DataFile(), "--prompts", "2", "--new-tokens", "4", "--verifier", "constant:0.7", "--sampling", "greedy",
            "--methods", "ar,sd-g2,sd-g5,sprinter-paper-t0.5-la2,sprinter-strict-on-call-cum0.3", "--out", TestModels.TempDir(), "--json");
        Assert.True(code == 0, error);
        var methods = JsonNode.Parse(output)!["methods"]!.AsArray();
        Assert.Equal(["ar", "sd-g2", "sd-g5", "sprinter-paper-t0.5-la2", "sprinter-strict-on-call-cum0.3"], methods.Select(m => (string)m!["name"]!));
        // Constant score 0.7: the cumulative product 0.7, 0.49 stops every round after two drafted tokens, all tested.
        var cumulative = methods.Single(m => (string)m!["name"]! == "sprinter-strict-on-call-cum0.3")!;
        Assert.Equal(0.0, (double)cumulative["unverified_fraction"]!, 6);
    }

    [Fact]
    public void ALearnedVerifiersCalibratedThresholdComesFirst()
    {
        using var draft = LanguageModel.Load(Pair.Value.Draft);
        int d = draft.Config.EmbeddingSize;
        var rng = new Random(3);
        var model = new VerifierModel
        {
            Features = FeatureSet.Hidden, HiddenSize = d, HiddenUnits = 0, Mean = new float[d], InvStd = Enumerable.Repeat(1f, d).ToArray(),
            W1 = Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray(), B1 = [0.2f],
            Threshold = 0.45f, DraftIdentity = draft.ComputeIdentity(),
        };
        string path = Path.Combine(TestModels.TempDir(), "verifier.safetensors");
        model.Save(path);
        var (code, output, error) = CliTests.Run("bench", "--quick", "--draft", Pair.Value.Draft, "--target", Pair.Value.Target,
            "--dataset", DataFile(), "--prompts", "2", "--new-tokens", "5", "--verifier", path, "--out", TestModels.TempDir(), "--json");
        Assert.True(code == 0, error);
        var json = JsonNode.Parse(output)!;
        var paper = json["methods"]!.AsArray().Single(m => (string)m!["name"]! == "sprinter-paper-calibrated")!;
        Assert.Equal(0.45, (double)paper["threshold"]!, 4);
        Assert.Equal(0.45, (double)json["theory"]![0]!["threshold"]!, 4);
        Assert.Contains("calibrated threshold 0.45", (string)json["models"]!["verifier"]!);
    }

    [Theory]
    [InlineData("--draft", "/nonexistent/draft", "/nonexistent/draft")]
    [InlineData("--verifier", "/nonexistent/v.safetensors", "/nonexistent/v.safetensors")]
    [InlineData("--dataset", "wiki", "--data-dir holds no dataset 'wiki'")]
    [InlineData("--threshold", "1.5", "--threshold")]
    [InlineData("--sampling", "hot", "--sampling")]
    [InlineData("--methods", "ar,sprinter-paper-la2", "--methods")]
    public void MistakesExitWithCode2AndOneLine(string option, string value, string mentioned)
    {
        var args = new Dictionary<string, string>
        {
            ["--draft"] = Pair.Value.Draft, ["--target"] = Pair.Value.Target, ["--dataset"] = DataFile(),
            ["--verifier"] = "constant:0.7", ["--data"] = Path.Combine(TestModels.TempDir(), "no-data"), ["--out"] = TestModels.TempDir(),
        };
        args[option] = value;
        var (code, _, error) = CliTests.Run(["bench", "--prompts", "1", "--new-tokens", "2", .. args.SelectMany(kv => new[] { kv.Key, kv.Value })]);
        Assert.Equal(2, code);
        Assert.Contains(mentioned, error);
        Assert.Single(error.Trim().Split('\n'));
    }
}
