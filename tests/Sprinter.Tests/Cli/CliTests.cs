using Sprinter.Benchmarks;
using Sprinter.Engine;
using System.Text.Json.Nodes;

namespace Sprinter.Tests.Cli;

/// <summary>The CLI as a user meets it: exit codes, one-line errors, JSON shape.</summary>
public class CliTests
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Sprinter.Cli.Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    static readonly Lazy<string> Model = new(() => TestModels.Folder(TestModels.TinyConfig(positions: 128), seed: 21));

    [Fact]
    public void GenerateJsonHasTextIdsAndTiming()
    {
        var (code, output, error) = Run("generate", "--model", Model.Value, "--prompt", "Hello there", "--max-tokens", "5", "--json");
        Assert.True(code == 0, error);
        var json = JsonNode.Parse(output)!.AsObject();
        Assert.Equal("ar", (string)json["mode"]!);
        Assert.Equal(5, json["token_ids"]!.AsArray().Count);
        Assert.True((double)json["ms_per_token"]! >= 0);
        Assert.NotNull(json["text"]);
    }

    [Fact]
    public void SeededSamplingIsReproducibleAndSeedsDiffer()
    {
        string[] Args(int seed) => ["generate", "--model", Model.Value, "--prompt", "abc", "--max-tokens", "12", "--temperature", "1", "--seed", seed.ToString(), "--json"];
        string Ids(int seed) => JsonNode.Parse(Run(Args(seed)).Out)!["token_ids"]!.ToJsonString();
        Assert.Equal(Ids(3), Ids(3));
        Assert.NotEqual(Ids(3), Ids(4));
    }

    [Fact]
    public void GenerateStreamsPromptAndContinuationThenStats()
    {
        var (code, output, error) = Run("generate", "--model", Model.Value, "--prompt", "Hi", "--max-tokens", "3");
        Assert.Equal(0, code);
        Assert.StartsWith("Hi", output);
        Assert.Contains("ms/token", error);
        Assert.Contains("mode ar", error);
    }

    [Theory]
    [InlineData("--temperature", "-1", "--temperature")]
    [InlineData("--top-p", "2", "--top-p")]
    [InlineData("--top-k", "-2", "--top-k")]
    [InlineData("--max-tokens", "0", "--max-tokens")]
    [InlineData("--max-tokens", "500", "n_positions")]
    [InlineData("--max-tokens", "many", "many")]
    [InlineData("--dtype", "int4", "--dtype")]
    [InlineData("--dtype", "q5_k", "--dtype q5_k")]   // no Q5_K quantizer: a folder is refused
    [InlineData("--mode", "turbo", "--mode must be ar, ar-draft, sd or sprinter, got 'turbo'.")]
    public void BadOptionsExitWithCode2AndOneLine(string option, string value, string mentioned)
    {
        var (code, output, error) = Run("generate", "--model", Model.Value, "--prompt", "Hi", option, value);
        Assert.Equal(2, code);
        Assert.Contains(mentioned, error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", error); // no stack trace
        Assert.Equal("", output); // refused before the prompt is echoed
    }

    [Theory]
    [InlineData("--lanes", "0", "--lanes must be >= 1, got 0.")]
    [InlineData("--prompts", "0", "--prompts must be >= 1, got 0.")]
    [InlineData("--tokens", "200", "--tokens 200 leaves no room for a prompt")]
    public void BadCollectOptionsNameTheFlag(string option, string value, string mentioned)
    {
        string data = Path.Combine(TestModels.TempDir(), "texts.txt");
        File.WriteAllLines(data, ["the quick brown fox jumps over the lazy dog again and again"]);
        var (code, _, error) = Run("verifier", "collect", "--draft", Model.Value, "--target", Model.Value, "--data", data,
            "--out", Path.Combine(TestModels.TempDir(), "labels"), option, value);
        Assert.Equal(2, code);
        Assert.Contains(mentioned, error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void MissingModelFolderExitsWithCode2()
    {
        var (code, _, error) = Run("info", "--model", "/nonexistent/model");
        Assert.Equal(2, code);
        Assert.Contains("/nonexistent/model", error);
    }

    [Fact]
    public void CorruptWeightsExitWithCode2NamingTheFile()
    {
        string dir = TestModels.Folder(TestModels.TinyConfig());
        string weights = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
        var (code, _, error) = Run("generate", "--model", dir, "--prompt", "x");
        Assert.Equal(2, code);
        Assert.Contains("model.safetensors", error);
    }

    [Fact]
    public void InfoReportsParametersAndDtype()
    {
        var (code, output, _) = Run("info", "--model", Model.Value, "--json");
        Assert.Equal(0, code);
        var json = JsonNode.Parse(output)!;
        Assert.Equal(TestModels.TinyConfig(positions: 128).ParameterCount(), (long)json["parameters"]!);
        Assert.Equal("F32", (string)json["dtype"]!);
    }

    [Fact]
    public void Q8_0RunsOnGenerateAndPerplexityAndIsCloseToFp32()
    {
        var (code, output, error) = Run("generate", "--model", Model.Value, "--prompt", "Hello", "--max-tokens", "4", "--dtype", "q8_0", "--json");
        Assert.True(code == 0, error);
        Assert.Equal(4, JsonNode.Parse(output)!["token_ids"]!.AsArray().Count);
        string text = Path.Combine(TestModels.TempDir(), "text.txt");
        File.WriteAllText(text, "the cat sat on the mat\nand the dog sat on the log\n");
        double Perplexity(string dtype)
        {
            var (c, o, e) = Run("perplexity", "--model", Model.Value, "--data", text, "--dtype", dtype, "--json");
            Assert.True(c == 0, e);
            return (double)JsonNode.Parse(o)!["perplexity"]!;
        }
        double fp32 = Perplexity("fp32"), q8 = Perplexity("q8_0");
        Assert.True(Math.Abs(q8 / fp32 - 1) < 0.01, $"q8_0 perplexity {q8} vs fp32 {fp32}");
    }

    [Fact]
    public void BenchTrainReportsThroughputAgainstThePeak()
    {
        var (code, output, error) = Run("bench-train", "--layers", "1", "--d", "16", "--heads", "2", "--context", "8", "--vocab", "50", "--batch", "1", "--steps", "1", "--json");
        Assert.True(code == 0, error);
        var json = JsonNode.Parse(output)!;
        Assert.True((double)json["tokens_per_second"]! > 0 && (double)json["fma_peak_gflops"]! > 0);
        Assert.Equal(EngineBenchmark.InstructionSet, (string)json["isa"]!);
        var (bad, _, err) = Run("bench-train", "--d", "10", "--heads", "3");
        Assert.Equal(2, bad);
        Assert.Contains("--heads", err);
    }

    [Fact]
    public void BenchEngineJsonHasTheDocumentedShape()
    {
        var (code, output, error) = Run("bench-engine", "--model", Model.Value, "--positions", "1", "2", "--runs", "2", "--json");
        Assert.True(code == 0, error);
        var json = JsonNode.Parse(output)!;
        Assert.True((double)json["bandwidth_gbs"]! > 0);
        Assert.True((double)json["fma_peak_gflops"]! > 0);
        Assert.Equal(EngineBenchmark.InstructionSet, (string)json["isa"]!);
        var results = json["results"]!.AsArray();
        Assert.Equal(6, results.Count); // fp32, bf16 and q8_0 at k = 1, 2
        Assert.All(results, r => Assert.True((double)r!["ms"]! > 0 && (string)r["dtype"]! is "fp32" or "bf16" or "q8_0" && (string)r["engine"]! == "sprinter"));
        Assert.All(results.Where(r => (int)r!["positions"]! == 1), r => Assert.Equal(1.0, (double)r!["vs_k1"]!));
    }

    [Fact]
    public void OutputDoesNotDependOnTheMachinesCulture()
    {
        var saved = System.Globalization.CultureInfo.CurrentCulture;
        try
        {
            System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
            var (code, output, error) = Run("info", "--model", Model.Value);
            Assert.True(code == 0, error);
            Assert.Matches(@"\d\.\d MB as fp32", output);
        }
        finally { System.Globalization.CultureInfo.CurrentCulture = saved; }
    }

    [Fact]
    public void BenchEngineTimesPassesAfterACachedContextThatFitsTheModel()
    {
        var (code, _, error) = Run("bench-engine", "--model", Model.Value, "--dtypes", "fp32", "--positions", "2", "--runs", "2", "--context", "40", "--json");
        Assert.True(code == 0, error);
        (code, _, error) = Run("bench-engine", "--model", Model.Value, "--dtypes", "fp32", "--positions", "2", "--runs", "2", "--context", "100000");
        Assert.Equal(2, code);
        Assert.Contains("--context 100000", error);
        Assert.Single(error.Trim().Split('\n'));
        (code, _, error) = Run("bench-engine", "--shape", "gpt5", "--runs", "1");
        Assert.Equal(2, code);
        Assert.Contains("--shape takes gpt2-small or llama-3.2-1b", error);
    }
}

public class GenerateModesCliTests
{
    static readonly Lazy<(string Draft, string Target)> Pair = new(() =>
        (TestModels.Folder(TestModels.TinyConfig(d: 16, layers: 1, heads: 2, positions: 128), seed: 31),
         TestModels.Folder(TestModels.TinyConfig(positions: 128), seed: 32)));

    [Theory]
    [InlineData("0", false)]
    [InlineData("0.8", true)]
    public void AVerifierMadeForTheOtherDecodingIsNamedInANote(string temperature, bool expectNote)
    {
        // A verifier trained on greedy labels (the default decoding of a label set) for this draft.
        using var draft = Sprinter.Models.LanguageModel.Load(Pair.Value.Draft);
        var labels = Sprinter.Tests.Verification.VerifierTests.Planted(600, 16, 3, seed: 2, draftIdentity: draft.ComputeIdentity());
        var trained = Sprinter.Verification.VerifierTrainer.Train(labels, Sprinter.Verification.VerifierRecipe.Paper with { Epochs = 1 }, seed: 1);
        string path = Path.Combine(TestModels.TempDir(), "greedy-verifier.safetensors");
        trained.Model.Save(path);
        Assert.Equal("greedy", Sprinter.Verification.VerifierModel.Load(path).Decoding);
        var (code, _, error) = CliTests.Run("generate", "--mode", "sprinter", "--draft", Pair.Value.Draft, "--target", Pair.Value.Target,
            "--verifier", path, "--temperature", temperature, "--prompt", "Once upon", "--max-tokens", "5", "--json");
        Assert.True(code == 0, error);
        Assert.Equal(expectNote, error.Contains("trained for greedy decoding but this run decodes by sampling"));
    }

    [Theory]
    [InlineData("sd", true)]
    [InlineData("sprinter", false)]
    public void SpeculativeModesPrintStatsAndProvenance(string mode, bool lossless)
    {
        var (code, output, error) = CliTests.Run("generate", "--mode", mode, "--draft", Pair.Value.Draft, "--target", Pair.Value.Target,
            "--verifier", "constant:0.9", "--prompt", "Once upon", "--max-tokens", "15", "--json");
        Assert.True(code == 0, error);
        var json = System.Text.Json.Nodes.JsonNode.Parse(output)!;
        var stats = json["stats"]!;
        Assert.Equal(lossless, (bool)json["lossless"]!);
        Assert.Equal(15, json["provenance"]!.AsArray().Count);
        Assert.Equal((int)stats["rounds"]!, (int)stats["target_calls"]!);
        Assert.True((double)stats["tokens_per_target_call"]! > 0);
        Assert.All(json["provenance"]!.AsArray(), p => Assert.Contains((string)p!, new[] { "unverified", "accepted", "resampled", "bonus" }));
    }

    [Fact]
    public void SprinterTextOutputSaysItIsLossy()
    {
        var (code, _, error) = CliTests.Run("generate", "--mode", "sprinter", "--draft", Pair.Value.Draft, "--target", Pair.Value.Target,
            "--verifier", "constant:1", "--prompt", "x", "--max-tokens", "5");
        Assert.Equal(0, code);
        Assert.Contains("LOSSY", error);
    }

    [Theory]
    [InlineData("--gamma", "0", "--gamma")]
    [InlineData("--max-draft", "0", "--max-draft")]
    [InlineData("--threshold", "1.5", "--threshold")]
    [InlineData("--sprinter-mode", "fast", "--sprinter-mode")]
    [InlineData("--verifier", "constant:2", "--verifier constant:S needs a score S in [0, 1]")]
    [InlineData("--lookahead", "17", "--lookahead must be in [0, 16], got 17.")]
    [InlineData("--cumulative-threshold", "1.1", "--cumulative-threshold must be in [0, 1], got 1.1.")]
    [InlineData("--prompt-lookup", null, "--prompt-lookup works with mode sd only")]
    [InlineData("--stop-rule", "sometimes", "--stop-rule must be threshold or cumulative, got 'sometimes'.")]
    public void BadSpeculativeOptionsExitWithCode2AndOneLineNamingTheFlag(string option, string? value, string mentioned)
    {
        string[] args = ["generate", "--mode", option == "--gamma" ? "sd" : "sprinter", "--draft", Pair.Value.Draft, "--target", Pair.Value.Target, "--prompt", "x"];
        if (option != "--verifier") args = [.. args, "--verifier", "constant:0.5"];
        var (code, output, error) = CliTests.Run([.. args, option, .. value is null ? Array.Empty<string>() : [value]]);
        Assert.Equal(2, code);
        Assert.Contains(mentioned, error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Equal("", output);
    }

    [Fact]
    public void PairWithDifferentVocabulariesIsRefused()
    {
        string other = TestModels.Folder(TestModels.TinyConfig(vocab: 300, positions: 128));
        var (vocab, merges) = Sprinter.Models.RandomModel.ByteVocabulary(Enumerable.Range(0, 43).Select(i => ("a", ((char)('A' + i % 26)).ToString() + i)).ToArray());
        File.WriteAllText(Path.Combine(other, "vocab.json"), vocab);
        File.WriteAllText(Path.Combine(other, "merges.txt"), merges);
        var (code, _, error) = CliTests.Run("generate", "--mode", "sd", "--draft", other, "--target", Pair.Value.Target, "--prompt", "x");
        Assert.Equal(2, code);
        Assert.Contains("vocab", error);
    }
}
