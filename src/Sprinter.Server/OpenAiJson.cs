using System.Text.Json.Nodes;
using Sprinter.Decoding;
using Sprinter.Serving;

namespace Sprinter.Server;

/// <summary>The JSON bodies of OpenAI's chat and text completion APIs, with Sprinter's additions.</summary>
internal static class OpenAiJson
{
    public static JsonObject Error(string message, string type, string? param, string? code = null) => new()
    {
        ["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = param, ["code"] = code },
    };

    /// <summary>
    /// OpenAI's usage plus the decoding's <c>mode</c> and <c>lossless</c> flag, and every speculative
    /// statistic under <c>sprinter</c> (<see cref="DecodingStats.ToJson"/>).
    /// </summary>
    public static JsonObject Usage(DecodingStats stats) => new()
    {
        ["prompt_tokens"] = stats.PromptTokens,
        ["completion_tokens"] = stats.NewTokens,
        ["total_tokens"] = stats.PromptTokens + stats.NewTokens,
        ["mode"] = stats.Mode,
        ["lossless"] = stats.Lossless,
        ["sprinter"] = stats.ToJson(),
    };

    public static JsonArray Provenance(IEnumerable<EmittedToken> tokens) =>
        new(tokens.Select(t => (JsonNode)t.Provenance).ToArray());

    /// <summary>The envelope shared by every response and chunk of one generation.</summary>
    public static JsonObject Envelope(bool chat, bool chunk, Generation generation, string model) => new()
    {
        ["id"] = (chat ? "chatcmpl-" : "cmpl-") + generation.Id,
        ["object"] = chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion",
        ["created"] = generation.Created.ToUnixTimeSeconds(),
        ["model"] = model,
        ["system_fingerprint"] = null,
    };

    /// <summary>One choice: a message (chat), a delta (chat stream) or text (completions).</summary>
    public static JsonObject Choice(bool chat, bool chunk, string? text, string? finishReason, bool withRole = false)
    {
        var choice = new JsonObject { ["index"] = 0 };
        if (!chat) choice["text"] = text ?? "";
        else if (chunk)
        {
            var delta = new JsonObject();
            if (withRole) delta["role"] = "assistant";
            if (text is not null) delta["content"] = text;
            choice["delta"] = delta;
        }
        else choice["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text ?? "" };
        choice["logprobs"] = null;
        choice["finish_reason"] = finishReason;
        return choice;
    }

    /// <summary>OpenAI's finish reasons: an aborted generation never reaches a client, so only stop and length.</summary>
    public static string FinishReason(GenerationResult result) => result.FinishReason == "length" ? "length" : "stop";
}
