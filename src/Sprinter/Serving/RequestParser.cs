using System.Text.Json;
using Sprinter.Decoding;
using Sprinter.Models;

namespace Sprinter.Serving;

/// <summary>
/// Reads an OpenAI chat or text completion body. Every mistake (malformed JSON, a wrong type, an
/// absurd value, an unknown mode) throws <see cref="InvalidRequestException"/> naming the field;
/// nothing else escapes (fuzzed by <see cref="Fuzzing.ParserFuzzer"/>). A field that would change the
/// output and that this server does not honour (tools, response_format json, logit_bias, penalties,
/// ...) is refused with a 400 naming it, never silently ignored; fields that change nothing (user,
/// metadata, store, ...) are ignored.
/// </summary>
public static class RequestParser
{
    /// <summary>Largest max_tokens accepted before the model's context is even consulted.</summary>
    public const int MaxTokensCeiling = 1_000_000;

    static readonly JsonDocumentOptions Options = new() { MaxDepth = 32 };

    public static CompletionRequest ParseChat(ReadOnlySpan<byte> body) => Parse(body, chat: true);

    public static CompletionRequest ParseCompletion(ReadOnlySpan<byte> body) => Parse(body, chat: false);

    static CompletionRequest Parse(ReadOnlySpan<byte> body, bool chat)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(body.ToArray(), Options); }
        catch (JsonException e) { throw new InvalidRequestException(null, $"the body is not valid JSON ({OneLine(e.Message)})."); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidRequestException(null, $"the body must be a JSON object, got {Kind(root)}.");
            int? n = OptionalInt(root, "n", 1, int.MaxValue);
            if (n is not null and not 1) throw new InvalidRequestException("n", $"n must be 1 (one choice per request), got {n}.");
            RefuseUnhonoured(root, chat);
            var streamOptions = Optional(root, "stream_options", JsonValueKind.Object);
            var (text, ids) = chat ? (null, null) : Prompt(root);
            bool echo = !chat && (OptionalBool(root, "echo") ?? false);
            int? promptLogprobs = OptionalInt(root, "prompt_logprobs", -1, MaxTokensCeiling);
            bool scoring = echo || promptLogprobs is not null;
            return new CompletionRequest
            {
                Messages = chat ? Messages(root) : null,
                Prompt = text,
                PromptTokens = ids,
                Echo = echo,
                PromptLogprobs = promptLogprobs,
                Logprobs = Logprobs(root, chat),
                TokensAsIds = OptionalBool(root, "return_tokens_as_token_ids") ?? false,
                Model = OptionalString(root, "model"),
                Stream = OptionalBool(root, "stream") ?? false,
                IncludeUsage = streamOptions is { } so && (OptionalBool(so, "include_usage", "stream_options.include_usage") ?? false),
                // max_tokens 0 only scores the prompt (echo or prompt_logprobs), as in vLLM.
                MaxTokens = OptionalInt(root, "max_completion_tokens", scoring ? 0 : 1, MaxTokensCeiling) ?? OptionalInt(root, "max_tokens", scoring ? 0 : 1, MaxTokensCeiling),
                Temperature = (float)(OptionalNumber(root, "temperature", 0, 2, "[0, 2]; 0 is greedy") ?? 1),
                TopP = (float)(OptionalNumber(root, "top_p", double.Epsilon, 1, "(0, 1]") ?? 1),
                // vLLM's extension; -1 (its "off") is taken as 0.
                TopK = Math.Max(0, OptionalInt(root, "top_k", -1, int.MaxValue) ?? 0),
                Seed = OptionalSeed(root),
                Stop = Stop(root),
                Sprinter = Overrides(root),
            };
        }
    }

    static IReadOnlyList<ChatMessage> Messages(JsonElement root)
    {
        if (!root.TryGetProperty("messages", out var messages)) throw new InvalidRequestException("messages", "messages is required: a list of {role, content} objects.");
        if (messages.ValueKind != JsonValueKind.Array) throw new InvalidRequestException("messages", $"messages must be a list, got {Kind(messages)}.");
        var list = new List<ChatMessage>();
        int i = 0;
        foreach (var m in messages.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object) throw new InvalidRequestException(at, $"{at} must be an object with role and content, got {Kind(m)}.");
            string role = OptionalString(m, "role", $"{at}.role") ?? throw new InvalidRequestException($"{at}.role", $"{at}.role is required.");
            role = role switch
            {
                "system" or "user" or "assistant" or "tool" => role,
                "developer" => "system",   // OpenAI's newer name for the system role
                _ => throw new InvalidRequestException($"{at}.role", $"{at}.role must be system, developer, user, assistant or tool, got '{Short(role)}'."),
            };
            list.Add(new ChatMessage(role, Content(m, $"{at}.content")));
        }
        if (list.Count == 0) throw new InvalidRequestException("messages", "messages is empty; give at least one message.");
        return list;
    }

    /// <summary>A string, null (an assistant turn that only called tools), or a list of text parts.</summary>
    static string Content(JsonElement message, string at)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null) return "";
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array) throw new InvalidRequestException(at, $"{at} must be a string or a list of text parts, got {Kind(content)}.");
        var text = new System.Text.StringBuilder();
        int i = 0;
        foreach (var part in content.EnumerateArray())
        {
            string partAt = $"{at}[{i++}]";
            if (part.ValueKind != JsonValueKind.Object || OptionalString(part, "type", partAt + ".type") != "text")
                throw new InvalidRequestException(partAt, $"{partAt} must be a text part {{\"type\": \"text\", \"text\": ...}}; this server reads text only.");
            text.Append(OptionalString(part, "text", partAt + ".text") ?? throw new InvalidRequestException(partAt + ".text", $"{partAt}.text is required."));
        }
        return text.ToString();
    }

    /// <summary>Text, a list of one text, token ids (a list of integers, as vLLM and OpenAI take), or a list of one list of ids.</summary>
    static (string? Text, int[]? Ids) Prompt(JsonElement root)
    {
        if (!root.TryGetProperty("prompt", out var prompt)) throw new InvalidRequestException("prompt", "prompt is required: the text to continue.");
        if (prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() == 1 && prompt[0].ValueKind is JsonValueKind.String or JsonValueKind.Array) prompt = prompt[0];
        if (prompt.ValueKind == JsonValueKind.Array)
        {
            if (prompt.GetArrayLength() == 0) throw new InvalidRequestException("prompt", "prompt is empty; give some text or token ids to continue.");
            var ids = new int[prompt.GetArrayLength()];
            int i = 0;
            foreach (var id in prompt.EnumerateArray())
            {
                if (id.ValueKind != JsonValueKind.Number || !id.TryGetInt32(out int v) || v < 0)
                    throw new InvalidRequestException("prompt", $"prompt[{i}] must be a token id (an integer >= 0), got {Describe(id)}; one prompt per request.");
                ids[i++] = v;
            }
            return (null, ids);
        }
        if (prompt.ValueKind != JsonValueKind.String) throw new InvalidRequestException("prompt", $"prompt must be a string or a list of token ids, got {Kind(prompt)}.");
        string text = prompt.GetString()!;
        if (text.Length == 0) throw new InvalidRequestException("prompt", "prompt is empty; give some text to continue.");
        return (text, null);
    }

    static IReadOnlyList<string> Stop(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out var stop) || stop.ValueKind == JsonValueKind.Null) return [];
        var list = stop.ValueKind switch
        {
            JsonValueKind.String => [stop.GetString()!],
            JsonValueKind.Array => stop.EnumerateArray().Select(s => s.ValueKind == JsonValueKind.String ? s.GetString()!
                : throw new InvalidRequestException("stop", $"stop must hold strings, got {Kind(s)}.")).ToList(),
            _ => throw new InvalidRequestException("stop", $"stop must be a string or a list of strings, got {Kind(stop)}."),
        };
        if (list.Count > 4) throw new InvalidRequestException("stop", $"stop holds at most 4 sequences, got {list.Count}.");
        if (list.Any(s => s.Length == 0)) throw new InvalidRequestException("stop", "stop sequences must not be empty.");
        return list;
    }

    static DecodingOverrides Overrides(JsonElement root) =>
        Optional(root, "sprinter", JsonValueKind.Object) is { } s ? ParseOverrides(s) : new DecodingOverrides();

    /// <summary>The fields of a request's <c>sprinter</c> object (the decoding settings a request can choose).</summary>
    static readonly HashSet<string> SprinterFields =
        ["mode", "gamma", "threshold", "max_draft", "sprinter_mode", "prompt_lookup", "lookahead", "stop_rule", "cumulative_threshold", "online_calibration", "provenance"];

    /// <summary>The request field of a library setting (<see cref="InvalidSettingException.Setting"/>): <c>sprinter.gamma</c>,
    /// <c>temperature</c>; null for a setting a request cannot hold (the server's own).</summary>
    public static string? FieldOf(string setting) =>
        SprinterFields.Contains(setting) ? "sprinter." + setting
        : setting is "temperature" or "top_p" or "top_k" or "max_tokens" or "seed" or "stop" or "logprobs" ? setting : null;

    /// <summary>A <c>sprinter</c> object: mode, gamma, threshold, max_draft, sprinter_mode, prompt_lookup, lookahead, stop_rule, cumulative_threshold, online_calibration, provenance.</summary>
    public static DecodingOverrides ParseOverrides(JsonElement s)
    {
        string? mode = OptionalString(s, "mode", "sprinter.mode"), sprinterMode = OptionalString(s, "sprinter_mode", "sprinter.sprinter_mode");
        string? stopRule = OptionalString(s, "stop_rule", "sprinter.stop_rule");
        return new DecodingOverrides
        {
            Mode = mode is null ? null : DecodingNames.ParseMode(mode, served: true)
                ?? throw new InvalidRequestException("sprinter.mode", $"sprinter.mode must be {DecodingNames.ModeChoices(served: true)}, got '{Short(mode)}'."),
            Gamma = OptionalInt(s, "gamma", 1, 64, "sprinter.gamma"),
            Threshold = (float?)OptionalNumber(s, "threshold", 0, 1, "[0, 1]", "sprinter.threshold"),
            MaxDraft = OptionalInt(s, "max_draft", 1, 64, "sprinter.max_draft"),
            SprinterMode = sprinterMode is null ? null : DecodingNames.ParseSprinterMode(sprinterMode)
                ?? throw new InvalidRequestException("sprinter.sprinter_mode", $"sprinter.sprinter_mode must be {DecodingNames.SprinterModeChoices}, got '{Short(sprinterMode)}'."),
            Provenance = OptionalBool(s, "provenance", "sprinter.provenance") ?? false,
            PromptLookup = OptionalBool(s, "prompt_lookup", "sprinter.prompt_lookup"),
            Lookahead = OptionalInt(s, "lookahead", 0, SpeculativeOptions.MaxLookahead, "sprinter.lookahead"),
            Stop = stopRule is null ? null : DecodingNames.ParseStop(stopRule)
                ?? throw new InvalidRequestException("sprinter.stop_rule", $"sprinter.stop_rule must be {DecodingNames.StopChoices}, got '{Short(stopRule)}'."),
            CumulativeThreshold = (float?)OptionalNumber(s, "cumulative_threshold", 0, 1, "[0, 1]", "sprinter.cumulative_threshold"),
            OnlineCalibration = OptionalBool(s, "online_calibration", "sprinter.online_calibration"),
        };
    }

    /// <summary>
    /// Top candidates per generated token, or null when log-probabilities are not asked for. Chat:
    /// <c>logprobs: true</c> with <c>top_logprobs</c> (0-20, OpenAI's range); completions:
    /// <c>logprobs: k</c> (-1 lists the whole vocabulary, as vLLM's -1).
    /// </summary>
    static int? Logprobs(JsonElement root, bool chat)
    {
        if (chat)
        {
            bool asked = OptionalBool(root, "logprobs") ?? false;
            int? top = OptionalInt(root, "top_logprobs", 0, 20);
            if (top is not null && !asked) throw new InvalidRequestException("top_logprobs", "top_logprobs needs logprobs: true.");
            return asked ? top ?? 0 : null;
        }
        if (root.TryGetProperty("logprobs", out var lp) && lp.ValueKind is JsonValueKind.True or JsonValueKind.False)
            throw new InvalidRequestException("logprobs", "logprobs of a text completion is an integer (the number of top candidates), not a boolean.");
        return OptionalInt(root, "logprobs", -1, MaxTokensCeiling);
    }

    /// <summary>Fields that would change the output and that this server does not implement: a 400 naming the field, never a silent no-op.</summary>
    static void RefuseUnhonoured(JsonElement root, bool chat)
    {
        static bool Present(JsonElement root, string name, out JsonElement v) => root.TryGetProperty(name, out v) && v.ValueKind != JsonValueKind.Null;
        foreach (var name in new[] { "tools", "functions", "tool_choice", "function_call", "guided_json", "guided_regex", "guided_choice", "guided_grammar", "structured_outputs", "suffix" })
            if (Present(root, name, out var v) && !(v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0) && !(name is "tool_choice" && v.ValueKind == JsonValueKind.String && v.GetString() == "none"))
                throw new InvalidRequestException(name, $"{name} is not supported by this server (no tool calls or constrained decoding yet); leave it out.");
        if (Present(root, "response_format", out var format))
        {
            string? type = format.ValueKind == JsonValueKind.Object && format.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (type != "text") throw new InvalidRequestException("response_format", $"response_format {(type is null ? "must be an object with a type" : $"'{Short(type)}' is not supported")}; this server produces plain text only (type text).");
        }
        if (Present(root, "logit_bias", out var bias) && !(bias.ValueKind == JsonValueKind.Object && !bias.EnumerateObject().Any()))
            throw new InvalidRequestException("logit_bias", "logit_bias is not supported by this server; leave it out.");
        foreach (var (name, neutral) in new[] { ("presence_penalty", 0.0), ("frequency_penalty", 0.0), ("repetition_penalty", 1.0) })
            if (Present(root, name, out var p) && !(p.ValueKind == JsonValueKind.Number && p.TryGetDouble(out double d) && d == neutral))
                throw new InvalidRequestException(name, $"{name} is not supported by this server; leave it out or {neutral}.");
        foreach (var name in new[] { "best_of", "min_tokens" })
            if (Present(root, name, out var v) && !(v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int k) && k == (name == "best_of" ? 1 : 0)))
                throw new InvalidRequestException(name, $"{name} is not supported by this server; leave it out.");
        if (Present(root, "ignore_eos", out var eos) && eos.ValueKind != JsonValueKind.False)
            throw new InvalidRequestException("ignore_eos", "ignore_eos is not supported by this server; leave it out or false.");
        if (chat && Present(root, "echo", out _)) throw new InvalidRequestException("echo", "echo is a text completion field; use /v1/completions.");
        if (chat && Present(root, "prompt_logprobs", out _)) throw new InvalidRequestException("prompt_logprobs", "prompt_logprobs is served on /v1/completions here.");
    }

    static int? OptionalSeed(JsonElement root)
    {
        if (!root.TryGetProperty("seed", out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long seed)) throw new InvalidRequestException("seed", $"seed must be an integer, got {Describe(v)}.");
        return unchecked((int)seed ^ (int)(seed >> 32));   // OpenAI's seeds are 64-bit; the sampler takes 32
    }

    static JsonElement? Optional(JsonElement obj, string name, JsonValueKind kind, string? param = null)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != kind) throw new InvalidRequestException(param ?? name, $"{param ?? name} must be {Article(kind)}, got {Kind(v)}.");
        return v;
    }

    static string? OptionalString(JsonElement obj, string name, string? param = null) => Optional(obj, name, JsonValueKind.String, param)?.GetString();

    static bool? OptionalBool(JsonElement obj, string name, string? param = null)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true, JsonValueKind.False => false,
            _ => throw new InvalidRequestException(param ?? name, $"{param ?? name} must be true or false, got {Kind(v)}."),
        };
    }

    static int? OptionalInt(JsonElement obj, string name, int min, int max, string? param = null)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        param ??= name;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || d != Math.Floor(d))
            throw new InvalidRequestException(param, $"{param} must be an integer, got {Describe(v)}.");
        if (d < min || d > max) throw new InvalidRequestException(param, $"{param} must be in [{min}, {max}], got {Describe(v)}.");
        return (int)d;
    }

    static double? OptionalNumber(JsonElement obj, string name, double min, double max, string range, string? param = null)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        param ??= name;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
            throw new InvalidRequestException(param, $"{param} must be a number, got {Describe(v)}.");
        if (d < min || d > max) throw new InvalidRequestException(param, $"{param} must be in {range}, got {Describe(v)}.");
        return d;
    }

    static string Kind(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => "an object", JsonValueKind.Array => "a list", JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number", JsonValueKind.True or JsonValueKind.False => "a boolean", _ => "null",
    };

    static string Article(JsonValueKind kind) => kind == JsonValueKind.Object ? "an object" : kind == JsonValueKind.String ? "a string" : kind.ToString().ToLowerInvariant();

    static string Describe(JsonElement v) => v.ValueKind == JsonValueKind.Number ? Short(v.GetRawText()) : Kind(v);

    static string Short(string text) => OneLine(text.Length > 40 ? text[..40] + "..." : text);

    static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
