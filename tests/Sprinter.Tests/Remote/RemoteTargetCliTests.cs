using System.Text.Json.Nodes;
using Sprinter.Decoding;
using Sprinter.Models;
using Sprinter.Server;
using Sprinter.Serving;
using Sprinter.Tests.Cli;
using Sprinter.Tests.Serving;

namespace Sprinter.Tests.Remote;

/// <summary><c>--target URL</c> on the command line: the same tokens as the local target, and one-line refusals.</summary>
public sealed class RemoteTargetCliTests : IAsyncLifetime
{
    LanguageModel _target = null!;
    SprinterServer _server = null!;
    string Url => new Uri(_server.Address, "v1").ToString();
    static string TargetFolder => ServerFixture.Folders.Value.Target;
    static string DraftFolder => ServerFixture.Folders.Value.Draft;

    public async Task InitializeAsync()
    {
        _target = LanguageModel.Load(TargetFolder);
        var service = new GenerationService(_target, null, new ServingOptions { Decoding = new DecodingSettings { Mode = DecodingMode.Ar } });
        _server = await SprinterServer.StartAsync(service, new ServerOptions { Port = 0 });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _server.Service.Dispose();
        _target.Dispose();
    }

    static JsonNode Json(string output) => JsonNode.Parse(output)!;

    [Fact]
    public void GenerateWithARemoteTargetGivesTheLocalTargetsTokensAndSaysWhatIsExact()
    {
        string[] common = ["generate", "--draft", DraftFolder, "--prompt", "The city of", "--max-tokens", "16", "--json"];
        var (code, output, error) = CliTests.Run([.. common, "--mode", "ar", "--target", TargetFolder]);
        Assert.True(code == 0, error);
        var reference = Json(output)["token_ids"]!.ToJsonString();
        foreach (var mode in new[] { new[] { "--mode", "ar" }, ["--mode", "sd", "--gamma", "3"], ["--mode", "sprinter", "--sprinter-mode", "strict-on-call", "--verifier", "constant:0.7"] })
        {
            (code, output, error) = CliTests.Run([.. common, .. mode, "--target", Url]);
            Assert.True(code == 0, error);
            var json = Json(output);
            Assert.Equal(reference, json["token_ids"]!.ToJsonString());
            Assert.True((bool)json["lossless"]!);
            Assert.Contains("exact", (string)json["target"]!["exactness"]!);
            Assert.True((int)json["stats"]!["remote"]!["http_calls"]! >= 1);
        }
        // Sampling from a top-1 list is approximate, and the output says so.
        (code, output, error) = CliTests.Run([.. common, "--mode", "sd", "--temperature", "1", "--target-logprobs", "5", "--target", Url]);
        Assert.True(code == 0, error);
        Assert.False((bool)Json(output)["lossless"]!);
        Assert.Contains("APPROXIMATE", (string)Json(output)["target"]!["exactness"]!);
    }

    [Fact]
    public void AgreementAndVerifierLabelsWithARemoteTargetEqualTheLocalTargets()
    {
        string data = Path.Combine(TestModels.TempDir(), "texts.txt");
        File.WriteAllLines(data, ["the city of the river is big and old", "a quick brown fox jumps over the lazy dog again", "numbers like 12 and 34 appear in the text here"]);
        string[] common = ["agreement", "--draft", DraftFolder, "--data", data, "--prompts", "3", "--tokens", "5", "--json"];
        var (code, local, error) = CliTests.Run([.. common, "--target", TargetFolder]);
        Assert.True(code == 0, error);
        (code, var remote, error) = CliTests.Run([.. common, "--target", Url]);
        Assert.True(code == 0, error);
        foreach (var key in new[] { "greedy_agreement", "acceptable_rate", "sd_sample_acceptance", "mean_p" })
            Assert.Equal((double)Json(local)[key]!, (double)Json(remote)[key]!, 3);
        Assert.Equal(-1, (int)Json(remote)["target"]!["top_logprobs"]!);   // p(x) of any token: the whole distribution

        string outLocal = Path.Combine(TestModels.TempDir(), "labels-local"), outRemote = Path.Combine(TestModels.TempDir(), "labels-remote");
        (code, _, error) = CliTests.Run("verifier", "collect", "--draft", DraftFolder, "--target", TargetFolder, "--data", data, "--prompts", "3", "--tokens", "5", "--label", "greedy", "--out", outLocal);
        Assert.True(code == 0, error);
        (code, var collected, error) = CliTests.Run("verifier", "collect", "--draft", DraftFolder, "--target", Url, "--data", data, "--prompts", "3", "--tokens", "5", "--label", "greedy", "--out", outRemote);
        Assert.True(code == 0, error);
        Assert.Contains("15 examples", collected);
    }

    [Fact]
    public void ADraftWithAnotherTokenizerABadUrlAndADeadTargetAreOneLine()
    {
        // The shipped draft (8,192 BPE tokens) against the tiny byte-level target.
        var (code, _, error) = CliTests.Run("generate", "--mode", "sd", "--prompt", "The city", "--target", Url);
        Assert.Equal(2, code);
        Assert.Contains("tokenizes differently from the draft", error);
        Assert.Single(error.Trim().Split('\n'));

        (code, _, error) = CliTests.Run("generate", "--mode", "sd", "--draft", DraftFolder, "--prompt", "x", "--target", "http://");
        Assert.Equal(2, code);
        Assert.Contains("not an http:// or https:// URL", error);

        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)) { listener.Start(); port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port; }
        (code, _, error) = CliTests.Run("generate", "--mode", "sd", "--draft", DraftFolder, "--prompt", "x", "--target", $"http://127.0.0.1:{port}/v1", "--target-retries", "1");
        Assert.Equal(1, code);
        Assert.Contains("failed 2 times", error);
        Assert.Single(error.Trim().Split('\n'));
    }
}
