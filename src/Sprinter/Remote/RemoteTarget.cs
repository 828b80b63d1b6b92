using System.Text.Json.Nodes;
using Sprinter.Models;

namespace Sprinter.Remote;

/// <summary>
/// Connects to a remote target and checks it can pair with the local draft: the served model's
/// name, its context, and its tokenizer (vLLM's and Sprinter's <c>POST /tokenize</c> on probe
/// strings must give the draft's ids). A tokenizer mismatch is refused with one line.
/// </summary>
public static class RemoteTarget
{
    /// <summary>Probe strings: words, spaces, digits, punctuation, accents and an emoji, so that two
    /// tokenizers agreeing on all of them almost surely share vocabulary and merges.</summary>
    public static readonly string[] Probes =
    [
        "The President said that the city would", "  two  spaces and\ttabs\n", "1234567 + 89 = 1234656",
        "naïve café, Zürich; \"quotes\" (brackets) [x]", "emoji 🙂 and CJK 東京", "don't won't it's",
    ];

    public sealed record Connection(RemoteTargetSession Session, string Model, int Capacity, string TokenizerCheck);

    /// <param name="draftTokenizer">The local draft's tokenizer: the remote's must give the same ids.</param>
    /// <param name="vocabulary">The draft's output vocabulary: the width of every logits row.</param>
    /// <param name="localCapacity">The draft's context; the session holds at most the smaller of it and the remote's.</param>
    public static Connection Connect(RemoteTargetOptions options, Tokenizer draftTokenizer, int vocabulary, int localCapacity,
        CancellationToken cancellationToken = default, HttpMessageHandler? handler = null)
    {
        var client = new RemoteTargetClient(options, handler);
        try
        {
            string model = options.Model ?? FirstModel(client, cancellationToken);
            int? remoteContext = null;
            string check;
            var tokenize = TryTokenize(client, model, Probes[0], cancellationToken);
            if (tokenize is null)
            {
                // No /tokenize (OpenAI, llama.cpp's /tokenize has another shape): the last id of the
                // draft's vocabulary must at least be accepted as a prompt token.
                client.Post("completions", new JsonObject { ["model"] = model, ["prompt"] = new JsonArray(vocabulary - 1), ["max_tokens"] = 1, ["temperature"] = 0 }, cancellationToken);
                check = $"not compared: the target has no /tokenize; it accepts token id {vocabulary - 1} (the draft's last)";
            }
            else
            {
                foreach (string probe in Probes)
                {
                    var (ids, context) = probe == Probes[0] ? tokenize.Value : TryTokenize(client, model, probe, cancellationToken)
                        ?? throw new RemoteTargetException($"the target at {options.BaseUrl} answered /tokenize once and then not.");
                    remoteContext = context ?? remoteContext;
                    int[] ours = draftTokenizer.EncodePrompt(probe);
                    if (!ids.SequenceEqual(ours))
                        throw new InvalidInputException($"the remote target {model} at {options.BaseUrl} tokenizes differently from the draft " +
                            $"('{probe.ReplaceLineEndings(" ")}': {ids.Length} tokens [{string.Join(' ', ids.Take(8))}...] vs the draft's {ours.Length} [{string.Join(' ', ours.Take(8))}...]); pick a draft with the target's tokenizer.");
                }
                check = $"same ids on {Probes.Length} probe strings (/tokenize)";
            }
            int capacity = Math.Min(localCapacity, remoteContext ?? int.MaxValue);
            client.Stats.Calls = 0; client.Stats.BytesSent = 0; client.Stats.BytesReceived = 0; client.Stats.RoundTripMs = 0; client.Stats.Retries = 0;
            return new Connection(new RemoteTargetSession(client, model, vocabulary, capacity), model, capacity, check);
        }
        catch (ArgumentException e)   // a duplicate key in an answer (JsonObject throws on first read)
        {
            client.Dispose();
            throw new RemoteTargetException($"the target at {options.BaseUrl} answered malformed JSON: {e.Message.ReplaceLineEndings(" ")}.");
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    static string FirstModel(RemoteTargetClient client, CancellationToken cancellationToken)
    {
        var models = client.Get("models", cancellationToken);
        if (models["data"] is JsonArray { Count: > 0 } data && data[0]?["id"] is JsonValue id && id.TryGetValue(out string? name)) return name;
        throw new InvalidSettingException("target_model", $"is needed: the target at {client.Options.BaseUrl} lists no model under /models; name the model it serves.");
    }

    /// <returns>The ids and max_model_len, or null when the server has no vLLM-style /tokenize.</returns>
    static (int[] Ids, int? Context)? TryTokenize(RemoteTargetClient client, string model, string text, CancellationToken cancellationToken)
    {
        foreach (string path in new[] { "/tokenize", "tokenize" })   // vLLM serves it at the root; some proxies under /v1
        {
            JsonNode answer;
            try { answer = client.Post(path, new JsonObject { ["model"] = model, ["prompt"] = text, ["add_special_tokens"] = true }, cancellationToken); }
            catch (RemoteTargetException e) when (e.Message.Contains(" 404 ") || e.Message.Contains(" 405 ")) { continue; }
            if (answer["tokens"] is not JsonArray tokens) continue;
            var ids = tokens.Select(t => t is JsonValue v && v.TryGetValue(out int i) ? i : throw new RemoteTargetException($"the target's /tokenize answered a token that is not an id: {t?.ToJsonString()}")).ToArray();
            int? context = answer["max_model_len"] is JsonValue m && m.TryGetValue(out int c) && c > 0 ? c : null;
            return (ids, context);
        }
        return null;
    }
}
