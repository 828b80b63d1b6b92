using System.Globalization;
using System.Text.Json.Nodes;
using Sprinter.Decoding;
using Sprinter.Models;

namespace Sprinter.Remote;

/// <summary>
/// A target behind an OpenAI-compatible server (vLLM, or another Sprinter): a session whose
/// forward pass is one HTTP call. The token list stays here; <see cref="Forward"/> sends the whole
/// sequence as a token-id prompt to <c>POST {url}/completions</c> with <c>max_tokens: 1</c>,
/// <c>prompt_logprobs: N</c> (vLLM's extension; left out when only the last row is read) and
/// <c>logprobs: N</c>, and fills the rows it was asked for with the returned log-probabilities:
/// <c>-inf</c> for tokens outside a position's top list; the last row comes from the generated
/// token's logprobs. <see cref="Truncate"/> only shortens the list. The list changes only after a
/// call succeeded, so a retried call never emits a token twice or drops one.
/// <para>Exactness: greedy SD and strict-on-call need only each position's top-1, so they are
/// exactly lossless with N = 1. Sampled SD needs the whole distribution: N = -1 (vLLM
/// <c>--max-logprobs -1</c>); with a top-N list it samples a truncated distribution.</para>
/// </summary>
public sealed class RemoteTargetSession : ITargetSession
{
    readonly RemoteTargetClient _client;
    readonly string _model;
    readonly List<int> _tokens = [];
    float[] _logits;
    int _rows;

    public int Length => _tokens.Count;
    public int Capacity { get; }
    public int OutputVocabulary { get; }
    public ModelConfig? Config => null;
    public RemoteCallStats? Remote => _client.Stats;
    /// <summary>Rows of the last call.</summary>
    public int LogitRows => _rows;
    public string ModelName => _model;
    public RemoteTargetClient Client => _client;

    public RemoteTargetSession(RemoteTargetClient client, string model, int vocabulary, int capacity)
    {
        (_client, _model, OutputVocabulary, Capacity) = (client, model, vocabulary, capacity);
        _logits = new float[vocabulary];
        _client.Stats.FullDistribution = client.Options.TopLogprobs < 0 || client.Options.TopLogprobs >= vocabulary;
    }

    public void Truncate(int length)
    {
        if (length < 0 || length > _tokens.Count) throw new ArgumentOutOfRangeException(nameof(length), $"length {length} is outside [0, {_tokens.Count}]");
        _tokens.RemoveRange(length, _tokens.Count - length);
    }

    /// <summary>Forgets the sequence and starts the call counters of a new generation.</summary>
    public void Reset()
    {
        _tokens.Clear();
        bool full = _client.Stats.FullDistribution;
        (_client.Stats.Calls, _client.Stats.Retries, _client.Stats.BytesSent, _client.Stats.BytesReceived, _client.Stats.RoundTripMs) = (0, 0, 0, 0, 0);
        _client.Stats.FullDistribution = full;
    }

    /// <summary>No call: the next <see cref="Forward"/> sends the whole sequence anyway.</summary>
    public void Prefill(ReadOnlySpan<int> tokens)
    {
        CheckRoom(tokens.Length);
        _tokens.AddRange(tokens);
    }

    public void Forward(ReadOnlySpan<int> tokens, int logitRows, CancellationToken cancellationToken)
    {
        if (tokens.Length == 0) throw new ArgumentException("no tokens to forward", nameof(tokens));
        if (logitRows < 1 || logitRows > tokens.Length) throw new ArgumentOutOfRangeException(nameof(logitRows), $"logit rows must be in [1, {tokens.Length}]");
        CheckRoom(tokens.Length);
        int[] sequence = [.. _tokens, .. tokens];
        int n = _client.Options.TopLogprobs;
        var body = new JsonObject
        {
            ["model"] = _model,
            ["prompt"] = new JsonArray(sequence.Select(t => (JsonNode)t).ToArray()),
            ["max_tokens"] = 1,
            ["temperature"] = 0,
            ["logprobs"] = n,
            ["return_tokens_as_token_ids"] = true,
        };
        if (logitRows > 1) body["prompt_logprobs"] = n;   // only the last row: the generated token's logprobs suffice
        var response = _client.Post("completions", body, cancellationToken);
        var rows = RemoteLogprobs.Parse(response, sequence.Length, logitRows, OutputVocabulary);
        // Only now, after a successful call, does the session change.
        if (_logits.Length < rows.Length) _logits = new float[rows.Length];
        rows.CopyTo(_logits, 0);
        _rows = logitRows;
        _tokens.AddRange(tokens);
    }

    public ReadOnlySpan<float> Logits(int row)
    {
        if ((uint)row >= (uint)_rows) throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is outside [0, {_rows})");
        return _logits.AsSpan(row * OutputVocabulary, OutputVocabulary);
    }

    void CheckRoom(int adding)
    {
        if (_tokens.Count + adding > Capacity)
            throw new InvalidInputException($"the sequence would be {_tokens.Count + adding} tokens but the remote target's context holds {Capacity}; use a shorter prompt or fewer new tokens.");
    }

    public override string ToString() => $"{_model} at {_client.Options.BaseUrl}";
}

/// <summary>
/// Reads a completions answer into rows of log-probabilities. Every shape error is a
/// <see cref="RemoteTargetException"/> naming the field; nothing else escapes (fuzzed by
/// <see cref="Fuzzing.ParserFuzzer"/>, parser <c>remote</c>).
/// </summary>
public static class RemoteLogprobs
{
    /// <summary>Rows for the last <paramref name="rows"/> positions of a <paramref name="length"/>-token prompt: row r is the distribution after position length - rows + r.</summary>
    public static float[] Parse(JsonNode response, int length, int rows, int vocabulary)
    {
        // JsonObject throws ArgumentException on a duplicate key when it is first read (found by the fuzzer).
        try { return ParseRows(response, length, rows, vocabulary); }
        catch (ArgumentException e) { throw new RemoteTargetException($"the target's answer is not as expected: {e.Message.ReplaceLineEndings(" ")}."); }
    }

    static float[] ParseRows(JsonNode response, int length, int rows, int vocabulary)
    {
        var result = new float[rows * vocabulary];
        Array.Fill(result, float.NegativeInfinity);
        var choice = (response as JsonObject)?["choices"] is JsonArray { Count: > 0 } choices ? choices[0] as JsonObject : null;
        if (choice is null) throw Bad("choices[0]", "is missing");
        for (int r = 0; r < rows - 1; r++)
        {
            int position = length - rows + r + 1;   // prompt_logprobs[p] scores token p given the tokens before it
            if (choice["prompt_logprobs"] is not JsonArray prompt || prompt.Count != length)
                throw Bad("choices[0].prompt_logprobs", $"must be a list of {length} entries (the target does not support vLLM's prompt_logprobs?)");
            if (prompt[position] is not JsonObject entries) throw Bad($"choices[0].prompt_logprobs[{position}]", "must be an object");
            var row = result.AsSpan(r * vocabulary, vocabulary);
            foreach (var (key, value) in entries)
            {
                int id = Id(key, $"choices[0].prompt_logprobs[{position}]", vocabulary);
                float logprob = value is JsonObject o ? Logprob(o["logprob"], $"choices[0].prompt_logprobs[{position}].{key}.logprob") : Logprob(value, $"choices[0].prompt_logprobs[{position}].{key}");
                row[id] = logprob;
            }
        }
        // The last row: the generated token and its top list (completions logprobs, tokens as "token_id:N").
        var last = result.AsSpan((rows - 1) * vocabulary, vocabulary);
        if (choice["logprobs"] is not JsonObject logprobs) throw Bad("choices[0].logprobs", "is missing (the target ignored logprobs)");
        if (logprobs["top_logprobs"] is JsonArray { Count: > 0 } tops && tops[0] is JsonObject top)
            foreach (var (key, value) in top) last[Id(key, "choices[0].logprobs.top_logprobs[0]", vocabulary)] = Logprob(value, $"choices[0].logprobs.top_logprobs[0].{key}");
        if (logprobs["tokens"] is JsonArray { Count: > 0 } tokens && logprobs["token_logprobs"] is JsonArray { Count: > 0 } values)
        {
            string token = tokens[0] is JsonValue t && t.TryGetValue(out string? s) ? s : throw Bad("choices[0].logprobs.tokens[0]", "must be a string");
            last[Id(token, "choices[0].logprobs.tokens[0]", vocabulary)] = Logprob(values[0], "choices[0].logprobs.token_logprobs[0]");
        }
        else throw Bad("choices[0].logprobs.tokens", "must list the generated token");
        return result;
    }

    /// <summary>"token_id:N" (vLLM's return_tokens_as_token_ids) or a bare id (prompt_logprobs' keys).</summary>
    static int Id(string key, string at, int vocabulary)
    {
        string digits = key.StartsWith("token_id:", StringComparison.Ordinal) ? key["token_id:".Length..] : key;
        if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
            throw Bad(at, $"has the key '{Short(key)}', not a token id (the target must support return_tokens_as_token_ids)");
        if (id >= vocabulary) throw Bad(at, $"names token {id}, outside the draft's vocabulary of {vocabulary}: the tokenizers differ");
        return id;
    }

    static float Logprob(JsonNode? node, string at)
    {
        if (node is JsonValue v && v.TryGetValue(out double d) && !double.IsNaN(d) && d <= 1e-3) return (float)d;
        if (node is JsonValue s && s.TryGetValue(out string? text) && text is "-Infinity" or "-inf") return float.NegativeInfinity;
        throw Bad(at, "must be a log-probability (a number <= 0)");
    }

    static string Short(string text) => (text.Length > 40 ? text[..40] + "..." : text).ReplaceLineEndings(" ");

    static RemoteTargetException Bad(string at, string what) => new($"the target's answer is not as expected: {at} {what}.");
}
