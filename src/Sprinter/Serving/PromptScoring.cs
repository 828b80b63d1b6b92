using System.Diagnostics;
using Sprinter.Decoding;

namespace Sprinter.Serving;

/// <summary>
/// What a scoring request (echo or prompt_logprobs) returns: the target's log-probabilities of each
/// prompt token given the ones before it (the first has none), and at most one new token from the
/// distribution after the whole prompt, with its own log-probabilities.
/// </summary>
public sealed record ScoredPrompt(int[] Prompt, TokenLogprobs?[] PromptLogprobs, int? Generated, TokenLogprobs? GeneratedLogprobs,
    string FinishReason, DecodingStats Stats);

public sealed partial class GenerationService
{
    /// <summary>
    /// Scores a prompt with one target pass over all of it (what vLLM does for prompt_logprobs, which
    /// likewise skips its prefix cache) and, for max_tokens 1, draws the next token from the last
    /// position with the request's sampling. This is how one Sprinter serves as another's remote target.
    /// </summary>
    public async Task<ScoredPrompt> ScoreAsync(CompletionRequest request, int[] prompt, CancellationToken cancellationToken)
    {
        long arrival = Stopwatch.GetTimestamp();
        if (Target is null) throw new InvalidRequestException(request.Echo ? "echo" : "prompt_logprobs", "scoring a prompt needs a target model, and this server has none loaded.");
        if (request.Stream) throw new InvalidRequestException("stream", "echo and prompt_logprobs are answered whole here; leave stream out or false.");
        int maxTokens = request.MaxTokens ?? 1;
        if (maxTokens > 1) throw new InvalidRequestException("max_tokens", "with echo or prompt_logprobs this server scores the prompt and generates at most 1 token; ask for max_tokens 0 or 1.");
        if (prompt.Length == 0) throw new InvalidRequestException("prompt", "the prompt is empty.");
        if (Options.MaxPromptTokens is int most && prompt.Length > most)
            throw new InvalidRequestException("prompt", $"the prompt has {prompt.Length} tokens; this server takes at most {most}.");
        if (prompt.Length + maxTokens > Context)
            throw new InvalidRequestException("prompt", $"the prompt ({prompt.Length} tokens) plus max_tokens ({maxTokens}) exceeds the model's context of {Context} tokens.");
        using var lease = await Gate.EnterAsync(cancellationToken);
        Metrics.QueueTime(Stopwatch.GetElapsedTime(arrival));
        var session = _targetSessions!.Rent();
        try
        {
            // CPU-bound: off ASP.NET's pool threads, as generations are.
            var scored = await Task.Factory.StartNew(() => Score(session, request, prompt, maxTokens), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            Metrics.Finished(scored.Stats, scored.FinishReason, Stopwatch.GetElapsedTime(arrival));
            return scored;
        }
        finally { _targetSessions!.Return(session); }
    }

    ScoredPrompt Score(Engine.TransformerSession session, CompletionRequest request, int[] prompt, int maxTokens)
    {
        var stats = new DecodingStats { Mode = "ar", Lossless = true, PromptTokens = prompt.Length };
        long start = Stopwatch.GetTimestamp();
        session.Reset();
        // Logits for every position: row i is the distribution after prompt token i (rows are the last
        // positions of a call, so asking for fewer would shift them).
        session.Forward(prompt, prompt.Length);
        var promptLogprobs = new TokenLogprobs?[prompt.Length];
        int? promptTop = request.PromptLogprobs ?? (request.Echo ? request.Logprobs : null);
        if (promptTop is int k)
            for (int i = 1; i < prompt.Length; i++) promptLogprobs[i] = TokenLogprobs.From(session.Logits(i - 1), prompt[i], k);
        int? generated = null;
        TokenLogprobs? generatedLogprobs = null;
        string finish = "length";
        if (maxTokens == 1)
        {
            var last = session.Logits(prompt.Length - 1);
            var probs = new float[last.Length];
            new DistributionBuilder(request.Sampling, last.Length).Compute(last, probs);
            int token = new TokenSampler(request.Seed ?? Random.Shared.Next()).Sample(probs);
            generated = token;
            generatedLogprobs = request.Logprobs is int top ? TokenLogprobs.From(last, token, top) : null;
            stats.CountOrigin(TokenOrigin.Sampled);
            stats.Rounds = 1;
            if (Target!.StopTokens.Contains(token)) finish = "stop";
        }
        stats.TargetCalls = 1;
        stats.TargetMs = stats.DecodeMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return new ScoredPrompt(prompt, promptLogprobs, generated, generatedLogprobs, finish, stats);
    }
}
