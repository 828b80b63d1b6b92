using System.ClientModel;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;

namespace Sprinter.Tests.Serving;

/// <summary>
/// vLLM's extensions (token-id prompts, prompt_logprobs, echo + logprobs) and OpenAI's logprobs on
/// generated tokens, checked against the target's own log-softmax; fields the server does not
/// honour are refused by name.
/// </summary>
public class LogprobsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    /// <summary>log_softmax of the local target's logits after each prefix of <paramref name="ids"/>.</summary>
    double[][] TargetLogSoftmax(int[] ids)
    {
        var session = fixture.Service.Target!.Model.CreateSession();
        session.Forward(ids, logitRows: ids.Length);
        return Enumerable.Range(0, ids.Length).Select(r =>
        {
            var row = session.Logits(r).ToArray();
            float max = row.Max();
            double logZ = max + Math.Log(row.Sum(x => Math.Exp(x - max)));
            return row.Select(x => x - logZ).ToArray();
        }).ToArray();
    }

    [Fact]
    public async Task PromptLogprobsOfATokenIdPromptAreTheTargetsLogSoftmaxAndTheTokenItsGreedyNext()
    {
        int[] ids = fixture.Service.Tokenizer.EncodePrompt("The city of");
        var body = new JsonObject
        {
            ["prompt"] = new JsonArray(ids.Select(i => (JsonNode)i).ToArray()), ["max_tokens"] = 1, ["temperature"] = 0,
            ["prompt_logprobs"] = 3, ["logprobs"] = 2, ["return_tokens_as_token_ids"] = true,
        };
        var (status, json) = await fixture.PostAsync("v1/completions", body.ToJsonString());
        Assert.True(status == 200, json.ToJsonString());
        var expected = TargetLogSoftmax(ids);
        var choice = json["choices"]![0]!;
        var prompt = choice["prompt_logprobs"]!.AsArray();
        Assert.Equal(ids.Length, prompt.Count);
        Assert.Null(prompt[0]);
        for (int p = 1; p < ids.Length; p++)
        {
            var position = prompt[p]!.AsObject();
            Assert.InRange(position.Count, 3, 4);   // the top 3, plus the prompt's own token when outside them
            Assert.Equal(expected[p - 1][ids[p]], (double)position[ids[p].ToString()]!["logprob"]!, 4);
            int best = Array.IndexOf(expected[p - 1], expected[p - 1].Max());
            Assert.Equal(1, (int)position[best.ToString()]!["rank"]!);
        }
        int next = Array.IndexOf(expected[^1], expected[^1].Max());
        var logprobs = choice["logprobs"]!;
        Assert.Equal($"token_id:{next}", (string)logprobs["tokens"]![0]!);
        Assert.Equal(expected[^1][next], (double)logprobs["token_logprobs"]![0]!, 4);
        Assert.Equal(2, logprobs["top_logprobs"]![0]!.AsObject().Count);
    }

    [Fact]
    public async Task EchoWithLogprobsScoresThePromptAndMaxTokensZeroGeneratesNothing()
    {
        string text = "A quick brown fox";
        int[] ids = fixture.Service.Tokenizer.EncodePrompt(text);
        var (status, json) = await fixture.PostAsync("v1/completions", new JsonObject { ["prompt"] = text, ["echo"] = true, ["logprobs"] = 1, ["max_tokens"] = 0 }.ToJsonString());
        Assert.True(status == 200, json.ToJsonString());
        var choice = json["choices"]![0]!;
        Assert.Equal(text, (string)choice["text"]!);
        var values = choice["logprobs"]!["token_logprobs"]!.AsArray();
        Assert.Equal(ids.Length, values.Count);
        Assert.Null(values[0]);
        var expected = TargetLogSoftmax(ids);
        for (int p = 1; p < ids.Length; p++) Assert.Equal(expected[p - 1][ids[p]], (double)values[p]!, 4);
        Assert.Equal(0, (int)json["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task TheOpenAiSdkReadsLogprobsAndTopLogprobsOfGeneratedTokens()
    {
        var chat = new ChatClient("tiny", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(fixture.Server.Address, "v1") });
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 8, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
        ChatCompletion reply = (await chat.CompleteChatAsync([new UserChatMessage("Tell me about the city.")], options)).Value;
        Assert.Equal(reply.Usage.OutputTokenCount, reply.ContentTokenLogProbabilities.Count);
        foreach (var token in reply.ContentTokenLogProbabilities)
        {
            Assert.True(token.LogProbability <= 0);
            Assert.Equal(3, token.TopLogProbabilities.Count);
            // Greedy (lossless SD): the chosen token is the target's most likely one.
            Assert.Equal(token.TopLogProbabilities[0].LogProbability, token.LogProbability, 4);
        }
    }

    [Fact]
    public async Task UnderSprintersPaperModeAnUnverifiedTokenHasNoLogprobAndSaysWhy()
    {
        var body = """{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 12, "temperature": 0, "logprobs": true, "sprinter": {"mode": "sprinter", "sprinter_mode": "paper", "max_draft": 4, "provenance": true}}""";
        var (status, json) = await fixture.PostAsync("v1/chat/completions", body);
        Assert.True(status == 200, json.ToJsonString());
        var content = json["choices"]![0]!["logprobs"]!["content"]!.AsArray();
        var provenance = json["sprinter"]!["provenance"]!.AsArray().Select(p => (string)p!).ToArray();
        Assert.Equal(provenance.Length, content.Count);
        Assert.Contains("unverified", provenance);   // the constant verifier (0.7) accepts up to max_draft
        for (int i = 0; i < content.Count; i++)
        {
            bool unverified = provenance[i] == "unverified";
            Assert.Equal(unverified, content[i]!["logprob"] is null);
            Assert.Equal(unverified, content[i]!["sprinter"] is not null);
        }
    }

    [Theory]
    [InlineData("\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]", "tools")]
    [InlineData("\"tool_choice\": \"auto\"", "tool_choice")]
    [InlineData("\"response_format\": {\"type\": \"json_object\"}", "response_format")]
    [InlineData("\"logit_bias\": {\"5\": 10}", "logit_bias")]
    [InlineData("\"presence_penalty\": 0.5", "presence_penalty")]
    [InlineData("\"functions\": [{\"name\": \"f\"}]", "functions")]
    [InlineData("\"top_logprobs\": 2", "top_logprobs")]
    [InlineData("\"logprobs\": true, \"top_logprobs\": 21", "top_logprobs")]
    [InlineData("\"echo\": true", "echo")]
    public async Task FieldsTheServerDoesNotHonourAre400NamingThem(string field, string param)
    {
        var (status, json) = await fixture.PostAsync("v1/chat/completions", $"{{\"messages\": [{{\"role\": \"user\", \"content\": \"hi\"}}], \"max_tokens\": 2, {field}}}");
        Assert.Equal(400, status);
        Assert.Equal(param, (string?)json["error"]!["param"]);
        Assert.Equal("invalid_request_error", (string)json["error"]!["type"]!);
    }

    [Theory]
    [InlineData("{\"prompt\": [1, -2], \"max_tokens\": 1}", "prompt")]
    [InlineData("{\"prompt\": [1, 99999], \"max_tokens\": 1}", "prompt")]
    [InlineData("{\"prompt\": [1, 2], \"max_tokens\": 3, \"prompt_logprobs\": 1}", "max_tokens")]
    [InlineData("{\"prompt\": [1, 2], \"max_tokens\": 0}", "max_tokens")]
    [InlineData("{\"prompt\": [1, 2], \"max_tokens\": 1, \"prompt_logprobs\": 1, \"stream\": true}", "stream")]
    [InlineData("{\"prompt\": \"x\", \"logprobs\": true}", "logprobs")]
    public async Task BadScoringRequestsAre400(string body, string param)
    {
        var (status, json) = await fixture.PostAsync("v1/completions", body);
        Assert.Equal(400, status);
        Assert.Equal(param, (string?)json["error"]!["param"]);
    }

    [Fact]
    public async Task TokenizeAnswersVllmsShape()
    {
        var (status, json) = await fixture.PostAsync("tokenize", "{\"prompt\": \"The city\"}");
        Assert.Equal(200, status);
        Assert.Equal(fixture.Service.Tokenizer.EncodePrompt("The city"), json["tokens"]!.AsArray().Select(t => (int)t!).ToArray());
        Assert.Equal(fixture.Service.Context, (int)json["max_model_len"]!);
    }
}
