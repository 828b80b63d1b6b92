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
    public static JsonObject Choice(bool chat, bool chunk, string? text, string? finishReason, bool withRole = false, JsonObject? logprobs = null)
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
        choice["logprobs"] = logprobs;
        choice["finish_reason"] = finishReason;
        return choice;
    }

    /// <summary>A token as a logprobs entry names it: its text, or vLLM's "token_id:N" when asked.</summary>
    public static string TokenName(Sprinter.Models.Tokenizer tokenizer, int id, bool asIds) => asIds ? $"token_id:{id}" : tokenizer.Decode([id]);

    /// <summary>JSON has no -Infinity: a token outside a remote target's top list is written as vLLM writes it, -9999.</summary>
    static double Finite(float logprob) => float.IsFinite(logprob) ? Math.Round(logprob, 6) : -9999.0;

    const string UnverifiedNote = "unverified: SPRINTER emitted this token on the verifier's word and the target never scored it, so it has no target logprob";

    /// <summary>
    /// Chat's <c>logprobs: {content: [{token, logprob, bytes, top_logprobs}]}</c>. A token the target
    /// never tested (SPRINTER's paper mode) gets <c>logprob: null</c> and a <c>sprinter</c> note, never an invented value.
    /// </summary>
    public static JsonObject ChatLogprobs(Sprinter.Models.Tokenizer tokenizer, IEnumerable<EmittedToken> tokens, bool asIds)
    {
        var content = new JsonArray();
        foreach (var t in tokens)
        {
            var entry = new JsonObject { ["token"] = TokenName(tokenizer, t.Id, asIds), ["logprob"] = t.Logprobs is { } lp ? Finite(lp.Logprob) : null, ["bytes"] = Bytes(tokenizer, t.Id) };
            entry["top_logprobs"] = new JsonArray((t.Logprobs?.Top ?? []).Select(c => (JsonNode)new JsonObject
            {
                ["token"] = TokenName(tokenizer, c.Id, asIds), ["logprob"] = Finite(c.Logprob), ["bytes"] = Bytes(tokenizer, c.Id),
            }).ToArray());
            if (t.Logprobs is null) entry["sprinter"] = UnverifiedNote;
            content.Add(entry);
        }
        return new JsonObject { ["content"] = content };
    }

    static JsonArray Bytes(Sprinter.Models.Tokenizer tokenizer, int id) => new(tokenizer.TokenBytes(id).ToArray().Select(b => (JsonNode)(int)b).ToArray());

    /// <summary>The text API's <c>logprobs: {tokens, token_logprobs, top_logprobs, text_offset}</c>; null entries for a
    /// position without a logprob (the first prompt token, an unverified token, listed in <c>sprinter.unverified</c>).</summary>
    public static JsonObject TextLogprobs(Sprinter.Models.Tokenizer tokenizer, IEnumerable<(int Id, TokenLogprobs? Logprobs)> tokens, bool asIds, int textOffset, IEnumerable<int>? unverified = null)
    {
        JsonArray names = [], values = [], tops = [], offsets = [];
        int offset = textOffset;
        foreach (var (id, lp) in tokens)
        {
            string name = TokenName(tokenizer, id, asIds);
            names.Add(name);
            values.Add(lp is null ? null : (JsonNode)Finite(lp.Logprob));
            if (lp is null) tops.Add(null);
            else
            {
                var top = new JsonObject();
                foreach (var c in lp.Top) top[TokenName(tokenizer, c.Id, asIds)] = Finite(c.Logprob);   // same-text tokens share a key, as in OpenAI's format
                tops.Add(top);
            }
            offsets.Add(offset);
            offset += tokenizer.Decode([id]).Length;
        }
        var result = new JsonObject { ["tokens"] = names, ["token_logprobs"] = values, ["top_logprobs"] = tops, ["text_offset"] = offsets };
        if (unverified?.ToArray() is { Length: > 0 } u) result["sprinter"] = new JsonObject { ["note"] = UnverifiedNote, ["unverified"] = new JsonArray(u.Select(i => (JsonNode)i).ToArray()) };
        return result;
    }

    /// <summary>vLLM's <c>prompt_logprobs</c>: null for the first position, then per position a map from token id to {logprob, rank, decoded_token} holding the prompt's token and the top candidates.</summary>
    public static JsonArray PromptLogprobs(Sprinter.Models.Tokenizer tokenizer, int[] prompt, TokenLogprobs?[] logprobs)
    {
        var list = new JsonArray();
        for (int i = 0; i < prompt.Length; i++)
        {
            if (logprobs[i] is not { } lp) { list.Add(null); continue; }
            var position = new JsonObject();
            for (int r = 0; r < lp.Top.Length; r++)
                position[lp.Top[r].Id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = Entry(lp.Top[r].Logprob, r + 1, lp.Top[r].Id);
            string own = prompt[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!position.ContainsKey(own)) position[own] = Entry(lp.Logprob, lp.Rank, prompt[i]);
            list.Add(position);
        }
        return list;
        JsonObject Entry(float logprob, int rank, int id) => new() { ["logprob"] = Finite(logprob), ["rank"] = rank, ["decoded_token"] = tokenizer.Decode([id]) };
    }

    /// <summary>OpenAI's finish reasons: an aborted generation never reaches a client, so only stop and length.</summary>
    public static string FinishReason(GenerationResult result) => result.FinishReason == "length" ? "length" : "stop";
}
