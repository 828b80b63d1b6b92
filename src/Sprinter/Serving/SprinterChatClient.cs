using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Sprinter.Decoding;
using SprinterMessage = Sprinter.Models.ChatMessage;

namespace Sprinter.Serving;

/// <summary>
/// <see cref="IChatClient"/> over a <see cref="GenerationService"/>, in process. ChatOptions map to
/// the request (Temperature, TopP, TopK, MaxOutputTokens, StopSequences, Seed); Sprinter's knobs
/// come from AdditionalProperties keys <c>sprinter.mode</c>, <c>sprinter.gamma</c>,
/// <c>sprinter.threshold</c>, <c>sprinter.max_draft</c>, <c>sprinter.sprinter_mode</c> and
/// <c>sprinter.provenance</c>, checked as the HTTP body's <c>sprinter</c> object is. Usage carries
/// the speculative counts in AdditionalCounts (<c>sprinter.*</c>, <c>sprinter.lossless</c> 1 or 0);
/// the response's AdditionalProperties hold <c>sprinter.mode</c>, <c>sprinter.lossless</c> and the
/// full <see cref="DecodingStats"/> as <c>sprinter.stats</c>.
/// </summary>
public sealed class SprinterChatClient(GenerationService service) : IChatClient
{
    readonly ChatClientMetadata _metadata = new("sprinter", null, service.ModelId);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in GetStreamingResponseAsync(messages, options, cancellationToken)) updates.Add(update);
        var response = updates.ToChatResponse();
        // Set outright rather than left to the merge of updates, which keeps neither the usage's extra counts nor these properties.
        response.Usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Last().Details;
        response.AdditionalProperties = new(updates[^1].AdditionalProperties!);
        var provenance = updates.Where(u => u.AdditionalProperties?.ContainsKey("sprinter.provenance") == true)
            .SelectMany(u => (string[])u.AdditionalProperties!["sprinter.provenance"]!).ToArray();
        if (provenance.Length > 0) response.AdditionalProperties["sprinter.provenance"] = provenance;
        return response;
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = ToRequest(messages, options);
        await using var generation = await service.StartAsync(request, service.EncodePrompt(request), cancellationToken);
        string messageId = "chatcmpl-" + generation.Id;
        await foreach (var piece in generation.ReadAllAsync(cancellationToken))
        {
            var update = new ChatResponseUpdate(ChatRole.Assistant, piece.Text) { MessageId = messageId, ResponseId = messageId, ModelId = service.ModelId };
            if (request.Sprinter.Provenance)
                update.AdditionalProperties = new() { ["sprinter.provenance"] = piece.Tokens.Select(t => t.Provenance).ToArray() };
            yield return update;
        }
        var result = await generation.Result;
        var stats = result.Stats;
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Usage(stats))])
        {
            MessageId = messageId, ResponseId = messageId, ModelId = service.ModelId,
            FinishReason = result.FinishReason == "length" ? ChatFinishReason.Length : ChatFinishReason.Stop,
            AdditionalProperties = new() { ["sprinter.mode"] = stats.Mode, ["sprinter.lossless"] = stats.Lossless, ["sprinter.stats"] = stats },
        };
    }


    static UsageDetails Usage(DecodingStats stats) => new()
    {
        InputTokenCount = stats.PromptTokens,
        OutputTokenCount = stats.NewTokens,
        TotalTokenCount = stats.PromptTokens + stats.NewTokens,
        AdditionalCounts = new()
        {
            ["sprinter.lossless"] = stats.Lossless ? 1 : 0,
            ["sprinter.rounds"] = stats.Rounds,
            ["sprinter.target_calls"] = stats.TargetCalls,
            ["sprinter.drafted"] = stats.Drafted,
            ["sprinter.accepted"] = stats.Accepted,
            ["sprinter.unverified"] = stats.Unverified,
            ["sprinter.resampled"] = stats.Resampled,
            ["sprinter.bonus"] = stats.Bonus,
            ["sprinter.verifier_accepts"] = stats.VerifierAccepts,
            ["sprinter.verifier_rejects"] = stats.VerifierRejects,
        },
    };

    static CompletionRequest ToRequest(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var list = messages.Select(m => new SprinterMessage(m.Role.Value, m.Text)).ToList();
        if (options?.Instructions is { Length: > 0 } instructions) list.Insert(0, new SprinterMessage("system", instructions));
        if (list.Count == 0) throw new InvalidRequestException("messages", "messages is empty; give at least one message.");
        var sampling = new SamplingOptions { Temperature = options?.Temperature ?? 1f, TopP = options?.TopP ?? 1f, TopK = options?.TopK ?? 0 };
        try { sampling.Validate(); }
        catch (InvalidInputException e) { throw new InvalidRequestException(null, e.Message.Replace("--", "ChatOptions.").Replace("top-", "Top")); }
        if (options?.MaxOutputTokens is < 1) throw new InvalidRequestException("MaxOutputTokens", $"MaxOutputTokens must be >= 1, got {options.MaxOutputTokens}.");
        return new CompletionRequest
        {
            Messages = list,
            MaxTokens = options?.MaxOutputTokens,
            Temperature = sampling.Temperature, TopP = sampling.TopP, TopK = sampling.TopK,
            Seed = options?.Seed is long seed ? unchecked((int)seed ^ (int)(seed >> 32)) : null,
            Stop = options?.StopSequences?.Where(s => s.Length > 0).ToArray() ?? [],
            Sprinter = Overrides(options?.AdditionalProperties),
        };
    }

    /// <summary>The <c>sprinter.*</c> entries, read by the same parser as the HTTP body's <c>sprinter</c> object.</summary>
    static DecodingOverrides Overrides(AdditionalPropertiesDictionary? properties)
    {
        var knobs = new JsonObject();
        foreach (var (key, value) in properties ?? [])
            if (key.StartsWith("sprinter.", StringComparison.Ordinal))
                knobs[key["sprinter.".Length..]] = value is null ? null : JsonSerializer.SerializeToNode(value, value.GetType());
        using var document = JsonDocument.Parse(knobs.ToJsonString());
        return RequestParser.ParseOverrides(document.RootElement);
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        if (serviceKey is not null) return null;
        object?[] candidates = [this, _metadata, service, service.Target, service.Draft, service.Target?.Model, service.Draft?.Model, service.Tokenizer];
        return candidates.FirstOrDefault(serviceType.IsInstanceOfType);
    }

    public void Dispose() { }   // the service belongs to whoever made it
}
