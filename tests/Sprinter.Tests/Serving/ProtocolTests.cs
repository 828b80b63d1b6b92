using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Sprinter.Tests.Serving;

/// <summary>What a client relies on beyond the happy path: 400s in OpenAI's error shape, lossy only when asked, metrics, health.</summary>
public class ProtocolTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    const string Chat = "v1/chat/completions";

    [Theory]
    [InlineData("{\"messages\": [", null)]
    [InlineData("[1, 2]", null)]
    [InlineData("{}", "messages")]
    [InlineData("{\"messages\": \"hi\"}", "messages")]
    [InlineData("{\"messages\": []}", "messages")]
    [InlineData("{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}", "messages[0].role")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", "messages[0].content")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": -3}", "max_tokens")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": \"ten\"}", "max_tokens")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 1.5}", "max_tokens")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 100000}", "max_tokens")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": 7}", "temperature")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": \"hot\"}", "temperature")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"top_p\": 0}", "top_p")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": 2}", "n")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stream\": \"yes\"}", "stream")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stop\": [1]}", "stop")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"seed\": \"x\"}", "seed")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"logprobs\": \"yes\"}", "logprobs")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"sprinter\": {\"mode\": \"turbo\"}}", "sprinter.mode")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"sprinter\": {\"gamma\": 0}}", "sprinter.gamma")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"sprinter\": {\"threshold\": 2}}", "sprinter.threshold")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"sprinter\": {\"sprinter_mode\": \"fast\"}}", "sprinter.sprinter_mode")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"sprinter\": 3}", "sprinter")]
    public async Task BadRequestsAre400WithOpenAisErrorShape(string body, string? param)
    {
        var (status, json) = await fixture.PostAsync(Chat, body);
        Assert.Equal(400, status);
        var error = json["error"]!.AsObject();
        Assert.Equal("invalid_request_error", (string)error["type"]!);
        Assert.False(string.IsNullOrWhiteSpace((string?)error["message"]));
        Assert.Equal(param, (string?)error["param"]);
        Assert.True(error.ContainsKey("code"));
    }

    [Fact]
    public async Task ASettingTheDecoderRefusesIs400NamingItsRequestField()
    {
        // Each field is valid alone; the decoder refuses the pair and names its setting, which the server shows as the field.
        var (status, json) = await fixture.PostAsync(Chat, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"sprinter\": {\"mode\": \"sprinter\", \"prompt_lookup\": true}}");
        Assert.Equal(400, status);
        Assert.Equal("sprinter.prompt_lookup", (string?)json["error"]!["param"]);
        Assert.StartsWith("sprinter.prompt_lookup works with mode sd only", (string)json["error"]!["message"]!);
    }

    [Fact]
    public async Task OversizedBodyAndTooLongPromptAre400()
    {
        string huge = new JsonObject { ["prompt"] = new string('a', 100_000) }.ToJsonString();
        var (status, json) = await fixture.PostAsync("v1/completions", huge);
        Assert.Equal(400, status);
        Assert.Contains("at most", (string)json["error"]!["message"]!);
        (status, json) = await fixture.PostAsync("v1/completions", new JsonObject { ["prompt"] = new string('a', 5_000) }.ToJsonString());
        Assert.Equal(400, status);
        Assert.Equal("prompt", (string?)json["error"]!["param"]);
    }

    [Fact]
    public async Task DefaultIsLosslessAndSprinterOnlyWhenAskedWithProvenance()
    {
        var (_, plain) = await fixture.PostAsync(Chat, """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 12, "temperature": 0}""");
        Assert.True((bool)plain["usage"]!["lossless"]!);
        Assert.Equal("sd", (string)plain["usage"]!["mode"]!);
        Assert.Null(plain["sprinter"]);

        var (status, lossy) = await fixture.PostAsync(Chat, """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 12, "temperature": 0, "sprinter": {"mode": "sprinter", "max_draft": 4, "provenance": true}}""");
        Assert.Equal(200, status);
        var usage = lossy["usage"]!;
        Assert.False((bool)usage["lossless"]!);
        Assert.Equal("sprinter-paper", (string)usage["mode"]!);
        Assert.True((int)usage["sprinter"]!["unverified"]! > 0);   // the constant verifier (0.7) keeps every draft up to max_draft
        var provenance = lossy["sprinter"]!["provenance"]!.AsArray().Select(p => (string)p!).ToList();
        Assert.Equal((int)usage["completion_tokens"]!, provenance.Count);
        Assert.Contains("unverified", provenance);
        Assert.All(provenance, p => Assert.Contains(p, new[] { "unverified", "accepted", "resampled", "bonus" }));

        var (_, strict) = await fixture.PostAsync(Chat, """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 12, "temperature": 0, "sprinter": {"mode": "sprinter", "sprinter_mode": "strict-on-call"}}""");
        Assert.True((bool)strict["usage"]!["lossless"]!);
        Assert.Equal(0, (int)strict["usage"]!["sprinter"]!["unverified"]!);
        Assert.Equal(plain["choices"]![0]!["message"]!["content"]!.ToString(), strict["choices"]![0]!["message"]!["content"]!.ToString());   // lossless and greedy: the target's text
    }

    [Fact]
    public async Task MetricsCountSpeculationUnderVllmNames()
    {
        double drafts = await fixture.MetricAsync("vllm:spec_decode_num_drafts_total");
        double unverified = await fixture.MetricAsync("sprinter_unverified_tokens_total");
        await fixture.PostAsync(Chat, """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, "temperature": 0, "sprinter": {"gamma": 3}}""");
        await fixture.PostAsync(Chat, """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10, "temperature": 0, "sprinter": {"mode": "sprinter"}}""");
        Assert.True(await fixture.MetricAsync("vllm:spec_decode_num_drafts_total") > drafts);
        Assert.True(await fixture.MetricAsync("sprinter_unverified_tokens_total") > unverified);
        string text = await fixture.Http.GetStringAsync("metrics");
        foreach (string name in new[] { "vllm:spec_decode_num_draft_tokens_total", "vllm:spec_decode_num_accepted_tokens_total", "vllm:generation_tokens_total",
                     "vllm:time_to_first_token_seconds_bucket", "vllm:num_requests_running", "sprinter_target_calls_total", "sprinter_verifier_accepts_total",
                     "sprinter_http_requests_total{route=\"/v1/chat/completions\",status=\"200\"}" })
            Assert.Contains("\n" + name, text);
        // vLLM's invariant: accepted tokens are the sum over positions.
        double perPosition = text.Split('\n').Where(l => l.StartsWith("vllm:spec_decode_num_accepted_tokens_per_pos_total{position=", StringComparison.Ordinal))
            .Sum(l => double.Parse(l.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(await fixture.MetricAsync("vllm:spec_decode_num_accepted_tokens_total"), perPosition);
    }

    [Fact]
    public async Task ModelsAndHealthDescribeTheServer()
    {
        var models = await fixture.GetJsonAsync("v1/models");
        Assert.Equal("list", (string)models["object"]!);
        Assert.Equal(fixture.Service.ModelId, (string)models["data"]![0]!["id"]!);
        var health = await fixture.GetJsonAsync("health");
        Assert.Equal("ok", (string)health["status"]!);
        Assert.True((bool)health["lossless"]!);
        Assert.True((long)health["working_set_bytes"]! > 0);
        using var missing = await fixture.Http.GetAsync("v1/nothing");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task ChatStreamSendsRoleThenDeltasThenFinishThenUsage()
    {
        var chunks = await new OpenAiClientTests(fixture).SseChunks(Chat,
            """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 6, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}""");
        Assert.Equal("assistant", (string)chunks[0]["choices"]![0]!["delta"]!["role"]!);
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", (string)c["object"]!));
        var last = chunks[^2];
        Assert.NotNull((string?)last["choices"]![0]!["finish_reason"]);
        Assert.True((bool)last["sprinter"]!["lossless"]!);
        Assert.Empty(chunks[^1]["choices"]!.AsArray());
        int completion = (int)chunks[^1]["usage"]!["completion_tokens"]!;
        if ((string)last["choices"]![0]!["finish_reason"]! == "length") Assert.Equal(6, completion);
        else Assert.InRange(completion, 1, 6);
    }
}
