using Sprinter.Decoding;
using Sprinter.Models;

namespace Sprinter.Serving;

/// <summary>
/// A client's mistake in a request, naming the field (OpenAI's <c>param</c>); the server answers
/// 400 with OpenAI's error object.
/// </summary>
public sealed class InvalidRequestException(string? param, string message) : InvalidInputException(message)
{
    public string? Param { get; } = param;
}

/// <summary>Request-level overrides of the server's decoding: the body's <c>sprinter</c> object.</summary>
public sealed record DecodingOverrides
{
    public DecodingMode? Mode { get; init; }
    public int? Gamma { get; init; }
    public float? Threshold { get; init; }
    public int? MaxDraft { get; init; }
    public SprinterMode? SprinterMode { get; init; }
    public bool? PromptLookup { get; init; }
    public int? Lookahead { get; init; }
    public SprinterStop? Stop { get; init; }
    public float? CumulativeThreshold { get; init; }
    public bool? OnlineCalibration { get; init; }
    /// <summary>Whether the response lists each token's provenance (unverified, accepted, resampled, bonus, sampled).</summary>
    public bool Provenance { get; init; }

    /// <summary>The server's defaults with these overrides on top.</summary>
    public DecodingSettings ApplyTo(DecodingSettings defaults) => defaults with
    {
        Mode = Mode ?? defaults.Mode,
        Gamma = Gamma ?? defaults.Gamma,
        Threshold = Threshold ?? defaults.Threshold,
        MaxDraft = MaxDraft ?? defaults.MaxDraft,
        SprinterMode = SprinterMode ?? defaults.SprinterMode,
        PromptLookup = PromptLookup ?? defaults.PromptLookup,
        Lookahead = Lookahead ?? defaults.Lookahead,
        Stop = Stop ?? defaults.Stop,
        CumulativeThreshold = CumulativeThreshold ?? defaults.CumulativeThreshold,
        OnlineCalibration = OnlineCalibration ?? defaults.OnlineCalibration,
    };
}

/// <summary>A parsed <c>/v1/chat/completions</c> or <c>/v1/completions</c> body.</summary>
public sealed record CompletionRequest
{
    /// <summary>Chat: the conversation (formatted by the chat template); null for a text completion.</summary>
    public IReadOnlyList<ChatMessage>? Messages { get; init; }
    /// <summary>Text completion: the text to continue (null when the prompt came as token ids).</summary>
    public string? Prompt { get; init; }
    /// <summary>Text completion: the prompt as token ids (vLLM's and OpenAI's list-of-integers prompt).</summary>
    public int[]? PromptTokens { get; init; }
    /// <summary>Completions: return the prompt before the generated text (and its logprobs with <see cref="Logprobs"/>).</summary>
    public bool Echo { get; init; }
    /// <summary>vLLM's prompt_logprobs: per prompt position the prompt token's logprob and this many top candidates (-1: all); null: not asked.</summary>
    public int? PromptLogprobs { get; init; }
    /// <summary>Top candidates per generated token (chat top_logprobs, completions logprobs; -1: all); null: no logprobs.</summary>
    public int? Logprobs { get; init; }
    /// <summary>vLLM's return_tokens_as_token_ids: tokens in logprobs are written "token_id:N".</summary>
    public bool TokensAsIds { get; init; }
    /// <summary>Whether the request scores its prompt (echo or prompt_logprobs): one target pass, at most one new token.</summary>
    public bool Scoring => Echo || PromptLogprobs is not null;
    public string? Model { get; init; }
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    /// <summary>max_completion_tokens, else max_tokens; null: as many as the context and the server allow.</summary>
    public int? MaxTokens { get; init; }
    /// <summary>OpenAI's default is 1 (sampling); 0 is greedy.</summary>
    public float Temperature { get; init; } = 1f;
    public float TopP { get; init; } = 1f;
    public int TopK { get; init; }
    /// <summary>null: a fresh random seed.</summary>
    public int? Seed { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public DecodingOverrides Sprinter { get; init; } = new();

    public SamplingOptions Sampling => new() { Temperature = Temperature, TopP = TopP, TopK = TopK };
}
