using System.Text.Json.Nodes;
using Sprinter.Decoding;
using Sprinter.Models;
using Sprinter.Serving;

namespace Sprinter.Tests.Cli;

/// <summary><c>sprinter generate</c> turns tokens into text on the server's path: stop strings and the end-of-sequence token alike.</summary>
public class GenerateTextTests
{
    const string Prompt = "Hello";

    static JsonObject Generate(string folder, params string[] extra)
    {
        var (code, output, error) = CliTests.Run(["generate", "--model", folder, "--prompt", Prompt, "--max-tokens", "30", "--json", .. extra]);
        Assert.True(code == 0, error);
        return JsonNode.Parse(output)!.AsObject();
    }

    /// <summary>The same prompt through the server's <see cref="GenerationService"/> (greedy, AR as generate's default).</summary>
    static async Task<GenerationResult> Serve(string folder, params string[] stop)
    {
        using var model = LanguageModel.Load(folder);
        using var service = new GenerationService(model, null, new ServingOptions { Decoding = new DecodingSettings { Mode = DecodingMode.Ar } });
        var request = new CompletionRequest { Prompt = Prompt, MaxTokens = 30, Temperature = 0, Stop = stop };
        await using var generation = await service.StartAsync(request, service.EncodePrompt(request), CancellationToken.None);
        await foreach (var _ in generation.ReadAllAsync()) { }
        return await generation.Result;
    }

    [Fact]
    public async Task AStopStringStopsGenerateAsItStopsTheServer()
    {
        string folder = TestModels.Folder(TestModels.TinyConfig(positions: 128), seed: 21);
        string full = (string)Generate(folder)["text"]!;
        Assert.True(full.Length >= 6, $"the unstopped text is too short to cut: '{full}'");
        string stop = full.Substring(full.Length / 2, 2);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];

        var stopped = Generate(folder, "--stop", stop, "--stop", "never appears \u2603");
        Assert.Equal(expected, (string)stopped["text"]!);
        Assert.Equal("stop", (string)stopped["finish_reason"]!);
        var served = await Serve(folder, stop, "never appears \u2603");
        Assert.Equal(served.Text, (string)stopped["text"]!);
        Assert.Equal(served.FinishReason, (string)stopped["finish_reason"]!);

        var (code, output, error) = CliTests.Run("generate", "--model", folder, "--prompt", Prompt, "--max-tokens", "30", "--stop", stop);
        Assert.True(code == 0, error);
        Assert.Equal(Prompt + expected + Environment.NewLine, output);
    }

    [Fact]
    public async Task TheEndOfSequenceTokenEndsGenerateWithoutBeingPrinted()
    {
        // A random model whose greedy run reaches a token it had not emitted before (a small model
        // often repeats one token); that token becomes its end of sequence.
        string folder = "";
        int[] ids = [];
        int k = -1;
        for (int seed = 22; k < 0; seed++)
        {
            Assert.True(seed < 60, "no random model reached a new token");
            folder = TestModels.Folder(TestModels.TinyConfig(positions: 128), seed);
            ids = Generate(folder)["token_ids"]!.AsArray().Select(n => (int)n!).ToArray();
            k = Enumerable.Range(1, ids.Length - 1).FirstOrDefault(i => Array.IndexOf(ids, ids[i]) == i, -1);
        }
        File.WriteAllText(Path.Combine(folder, "generation_config.json"), $$"""{"eos_token_id": {{ids[k]}}}""");
        using var model = LanguageModel.Load(folder);
        string before = model.Tokenizer.Decode(ids[..k]);
        Assert.NotEqual(before, model.Tokenizer.Decode(ids[..(k + 1)]));   // the end token has text that must not show

        var ended = Generate(folder);
        Assert.Equal(ids[..(k + 1)], ended["token_ids"]!.AsArray().Select(n => (int)n!).ToArray());
        Assert.Equal(before, (string)ended["text"]!);
        Assert.Equal("stop", (string)ended["finish_reason"]!);
        Assert.Equal((await Serve(folder)).Text, (string)ended["text"]!);

        var (code, output, error) = CliTests.Run("generate", "--model", folder, "--prompt", Prompt, "--max-tokens", "30");
        Assert.True(code == 0, error);
        Assert.Equal(Prompt + before + Environment.NewLine, output);
    }

    [Fact]
    public void AnEmptyStopIsRefusedWithOneLine()
    {
        var (code, output, error) = CliTests.Run("generate", "--model", TestModels.Folder(TestModels.TinyConfig(positions: 128)), "--prompt", Prompt, "--stop", "");
        Assert.Equal(2, code);
        Assert.Contains("--stop", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Equal("", output);
    }
}
