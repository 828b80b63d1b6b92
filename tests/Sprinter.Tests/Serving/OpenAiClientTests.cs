using System.ClientModel;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;

namespace Sprinter.Tests.Serving;

/// <summary>The server as the official OpenAI .NET SDK and Microsoft.Extensions.AI's OpenAI client meet it.</summary>
public class OpenAiClientTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    ChatClient Sdk() => new("tiny", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(fixture.Server.Address, "v1") });

    static readonly OpenAI.Chat.ChatMessage[] Conversation = [new SystemChatMessage("Answer briefly."), new UserChatMessage("Tell me about the city.")];

    [Fact]
    public async Task SdkChatPlainAndStreamingGiveTheSameGreedyTextWithUsage()
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 };
        ChatCompletion whole = (await Sdk().CompleteChatAsync(Conversation, options)).Value;
        Assert.Equal(ChatMessageRole.Assistant, whole.Role);
        Assert.NotEmpty(whole.Content[0].Text);
        if (whole.FinishReason == ChatFinishReason.Length) Assert.Equal(12, whole.Usage.OutputTokenCount);
        else Assert.InRange(whole.Usage.OutputTokenCount, 1, 12);
        Assert.True(whole.Usage.InputTokenCount > 5);

        var streamed = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Sdk().CompleteChatStreamingAsync(Conversation, options))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            usage ??= update.Usage;
            finish ??= update.FinishReason;
        }
        Assert.Equal(whole.Content[0].Text, streamed.ToString());
        Assert.Equal(whole.FinishReason, finish);
        Assert.NotNull(usage);   // the SDK asks for stream_options.include_usage
        Assert.Equal(whole.Usage.OutputTokenCount, usage!.OutputTokenCount);
    }

    [Fact]
    public async Task MicrosoftExtensionsAiOverHttpMatchesTheSdk()
    {
        IChatClient client = Sdk().AsIChatClient();
        var messages = new List<Microsoft.Extensions.AI.ChatMessage> { new(ChatRole.System, "Answer briefly."), new(ChatRole.User, "Tell me about the city.") };
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };
        var response = await client.GetResponseAsync(messages, options);
        var streamed = await client.GetStreamingResponseAsync(messages, options).ToChatResponseAsync();
        string sdkText = (await Sdk().CompleteChatAsync(Conversation, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 })).Value.Content[0].Text;
        Assert.Equal(sdkText, response.Text);
        Assert.Equal(sdkText, streamed.Text);
        Assert.Equal(response.Usage!.OutputTokenCount, streamed.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task GreedyTextCompletionEqualsSprinterGenerate()
    {
        var (target, draft) = ServerFixture.Folders.Value;
        var (code, output, error) = Cli.CliTests.Run("generate", "--mode", "sd", "--target", target, "--draft", draft, "--prompt", "The river", "--max-tokens", "20", "--temperature", "0", "--json");
        Assert.True(code == 0, error);
        string expected = (string)JsonNode.Parse(output)!["text"]!;

        var (status, body) = await fixture.PostAsync("v1/completions", """{"model": "tiny", "prompt": "The river", "max_tokens": 20, "temperature": 0}""");
        Assert.Equal(200, status);
        string served = (string)body["choices"]![0]!["text"]!;
        // The end-of-text token's text is not content over HTTP; generate prints it.
        Assert.Equal(expected.Replace("<|endoftext|>", ""), served);
        Assert.Equal("sd", (string)body["usage"]!["mode"]!);
        Assert.True((bool)body["usage"]!["lossless"]!);

        var streamed = new StringBuilder();
        foreach (var chunk in await SseChunks("v1/completions", """{"prompt": "The river", "max_tokens": 20, "temperature": 0, "stream": true}"""))
            streamed.Append((string?)chunk["choices"]![0]!["text"]);
        Assert.Equal(served, streamed.ToString());
    }

    [Fact]
    public async Task SeededSamplingIsReproducible()
    {
        async Task<string> Text(int seed) => (string)(await fixture.PostAsync("v1/completions",
            $$"""{"prompt": "abc", "max_tokens": 16, "temperature": 1, "seed": {{seed}}}""")).Body["choices"]![0]!["text"]!;
        Assert.Equal(await Text(5), await Text(5));
        Assert.NotEqual(await Text(5), await Text(6));
    }

    [Fact]
    public async Task StopStringEndsTheTextBeforeIt()
    {
        string full = (string)(await fixture.PostAsync("v1/completions", """{"prompt": "abc", "max_tokens": 24, "temperature": 0}""")).Body["choices"]![0]!["text"]!;
        Assert.True(full.Length >= 8, full);
        string stop = full.Substring(4, 3);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        var (_, body) = await fixture.PostAsync("v1/completions", new JsonObject { ["prompt"] = "abc", ["max_tokens"] = 24, ["temperature"] = 0, ["stop"] = stop }.ToJsonString());
        Assert.Equal(expected, (string)body["choices"]![0]!["text"]!);
        Assert.Equal("stop", (string)body["choices"]![0]!["finish_reason"]!);
        var streamed = new StringBuilder();
        foreach (var chunk in await SseChunks("v1/completions", new JsonObject { ["prompt"] = "abc", ["max_tokens"] = 24, ["temperature"] = 0, ["stop"] = new JsonArray(stop), ["stream"] = true }.ToJsonString()))
            streamed.Append((string?)chunk["choices"]![0]!["text"]);
        Assert.Equal(expected, streamed.ToString());
    }

    /// <summary>The JSON of each <c>data:</c> event, after checking the stream ends with <c>data: [DONE]</c>.</summary>
    internal async Task<List<JsonNode>> SseChunks(string path, string json)
    {
        using var response = await fixture.Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        return events[..^1].Select(e => JsonNode.Parse(e["data: ".Length..])!).ToList();
    }
}
