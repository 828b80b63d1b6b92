using Microsoft.Extensions.AI;
using Sprinter.Engine;
using Sprinter.Serving;

namespace Sprinter.Tests.Serving;

/// <summary>The in-process IChatClient: options mapped, Sprinter's knobs in AdditionalProperties, statistics in usage.</summary>
public class ChatClientTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    static readonly List<ChatMessage> Messages = [new(ChatRole.User, "Tell me about the city.")];

    [Fact]
    public async Task ResponseAndStreamAgreeAndUsageCarriesTheStatistics()
    {
        IChatClient client = new SprinterChatClient(fixture.Service);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 10 };
        var response = await client.GetResponseAsync(Messages, options);
        var streamed = await client.GetStreamingResponseAsync(Messages, options).ToChatResponseAsync();
        Assert.Equal(response.Text, streamed.Text);
        Assert.NotEmpty(response.Text);
        Assert.Equal(1, response.Usage!.AdditionalCounts!["sprinter.lossless"]);
        Assert.True(response.Usage.AdditionalCounts["sprinter.drafted"] > 0);
        Assert.Equal(response.Usage.OutputTokenCount, streamed.Usage!.OutputTokenCount);
        Assert.Equal("sd", response.AdditionalProperties!["sprinter.mode"]);

        // The same greedy request over HTTP gives the same text.
        var (_, body) = await fixture.PostAsync("v1/chat/completions", """{"messages": [{"role": "user", "content": "Tell me about the city."}], "max_tokens": 10, "temperature": 0}""");
        Assert.Equal(response.Text, (string)body["choices"]![0]!["message"]!["content"]!);
    }

    [Fact]
    public async Task SprinterKnobsComeFromAdditionalPropertiesAndAreChecked()
    {
        IChatClient client = new SprinterChatClient(fixture.Service);
        var options = new ChatOptions
        {
            Temperature = 0, MaxOutputTokens = 10,
            AdditionalProperties = new() { ["sprinter.mode"] = "sprinter", ["sprinter.max_draft"] = 3, ["sprinter.provenance"] = true },
        };
        var response = await client.GetResponseAsync(Messages, options);
        Assert.Equal(0, response.Usage!.AdditionalCounts!["sprinter.lossless"]);
        Assert.Equal(false, response.AdditionalProperties!["sprinter.lossless"]);
        Assert.True(response.Usage.AdditionalCounts["sprinter.unverified"] > 0);

        options.AdditionalProperties["sprinter.mode"] = "turbo";
        var e = await Assert.ThrowsAsync<InvalidRequestException>(() => client.GetResponseAsync(Messages, options));
        Assert.Equal("sprinter.mode", e.Param);
        await Assert.ThrowsAsync<InvalidRequestException>(() => client.GetResponseAsync(Messages, new ChatOptions { Temperature = -1 }));
    }

    [Fact]
    public async Task SeedStopAndServicesAreHonoured()
    {
        IChatClient client = new SprinterChatClient(fixture.Service);
        async Task<string> Sampled(long seed) => (await client.GetResponseAsync(Messages, new ChatOptions { Temperature = 1, Seed = seed, MaxOutputTokens = 12 })).Text;
        Assert.Equal(await Sampled(9), await Sampled(9));

        string full = (await client.GetResponseAsync(Messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 24 })).Text;
        Assert.True(full.Length > 6, full);
        string stop = full.Substring(3, 2);
        var cut = await client.GetResponseAsync(Messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 24, StopSequences = [stop] });
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);

        Assert.Same(fixture.Service, client.GetService<GenerationService>());
        Assert.Same(fixture.Service.Target!.Model, client.GetService<TransformerModel>());
        Assert.Equal(fixture.Service.ModelId, client.GetService<ChatClientMetadata>()!.DefaultModelId);
    }
}
