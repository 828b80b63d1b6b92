using Microsoft.Extensions.AI;
using Sprinter.Decoding;
using Sprinter.Serving;

namespace Sprinter.Tests.Serving;

/// <summary>The front door: one call loads the shipped pair and serves the chat client and the generator.</summary>
public class SprinterClientTests
{
    [Fact]
    public async Task TheShippedPairLoadsInOneCallAndBothEntryPointsGenerate()
    {
        await using var client = SprinterClient.Load();
        var greedy = new GenerateOptions { MaxTokens = 12 };
        var pieces = new List<GenerationPiece>();
        await foreach (var piece in client.GenerateAsync("The President said that", greedy)) pieces.Add(piece);
        string streamed = string.Concat(pieces.Select(p => p.Text));
        Assert.NotEmpty(streamed);
        Assert.Contains(pieces.SelectMany(p => p.Tokens), t => t.Origin is TokenOrigin.Accepted or TokenOrigin.Bonus or TokenOrigin.Resampled);

        // Greedy SD is lossless: the target alone continues the same way.
        var ar = await client.CompleteAsync("The President said that", greedy with { Decoding = new DecodingOverrides { Mode = DecodingMode.Ar } });
        Assert.Equal(streamed, ar.Text);
        Assert.Equal("ar", ar.Stats.Mode);

        // SPRINTER finds the shipped verifier made for greedy decoding, and says it is lossy.
        var sprinter = await client.CompleteAsync("The President said that", greedy with { Decoding = new DecodingOverrides { Mode = DecodingMode.Sprinter } });
        Assert.False(sprinter.Stats.Lossless);

        var reply = await client.ChatClient.GetResponseAsync("Tell me about the city.", new ChatOptions { Temperature = 0, MaxOutputTokens = 8 });
        Assert.NotEmpty(reply.Text);
        Assert.Equal("sd", reply.AdditionalProperties!["sprinter.mode"]);
    }

    [Fact]
    public async Task CancellationStopsTheStream()
    {
        await using var client = SprinterClient.Load(new SprinterClientOptions { Decoding = new DecodingSettings { Mode = DecodingMode.Ar } });
        using var cancel = new CancellationTokenSource();
        int pieces = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GenerateAsync("The", new GenerateOptions { MaxTokens = 200 }, cancel.Token))
                if (++pieces == 2) cancel.Cancel();
        });
        Assert.Equal(2, pieces);
    }

    [Fact]
    public async Task TheVerifierIsFoundAsTheCommandsFindIt()
    {
        // constant:S works here as it does for --verifier (the same VerifierLocator); a score of 1 never calls the target in paper mode.
        var sprinter = new DecodingSettings { Mode = DecodingMode.Sprinter, MaxDraft = 4 };
        await using (var client = SprinterClient.Load(new SprinterClientOptions { Verifier = "constant:1", Decoding = sprinter }))
        {
            var result = await client.CompleteAsync("The President said that", new GenerateOptions { MaxTokens = 8 });
            Assert.Equal("sprinter-paper", result.Stats.Mode);
            Assert.True(result.Stats.Unverified > 0);
        }
        await using var bad = SprinterClient.Load(new SprinterClientOptions { Verifier = "constant:2", Decoding = sprinter });
        var e = await Assert.ThrowsAsync<InvalidRequestException>(() => bad.CompleteAsync("The", new GenerateOptions { MaxTokens = 2 }));
        Assert.Contains("verifier constant:S needs a score S in [0, 1], got '2'", e.Message);
    }

    [Fact]
    public void AMissingFileIsOneLineNamingIt()
    {
        string missing = Path.Combine(TestModels.TempDir(), "nope.gguf");
        var e = Assert.Throws<InvalidInputException>(() => SprinterClient.Load(new SprinterClientOptions { Target = missing }));
        Assert.Contains("nope.gguf", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
