using System.Diagnostics;
using System.Runtime.CompilerServices;
using Sprinter.Engine;

namespace Sprinter.Decoding;

/// <summary>A decoding loop: streams committed tokens and keeps the statistics of the last run.</summary>
public interface IDecoder
{
    DecodingStats? LastStats { get; }
    IAsyncEnumerable<EmittedToken> GenerateAsync(int[] prompt, int maxTokens, IReadOnlySet<int>? stopTokens = null, CancellationToken cancellationToken = default);
}

internal static class DecoderChecks
{
    public static void Arguments(int[] prompt, int maxTokens, int capacity, int lookahead)
    {
        if (prompt.Length == 0) throw new InvalidInputException("the prompt is empty; give at least one token of text.");
        if (maxTokens < 1) throw new InvalidInputException($"--max-tokens must be >= 1, got {maxTokens}.");
        if (prompt.Length + maxTokens + lookahead > capacity)
            throw new InvalidInputException($"prompt ({prompt.Length} tokens) plus --max-tokens ({maxTokens}) exceeds the model's context of {capacity} tokens (n_positions); shorten one of them.");
    }
}

/// <summary>Plain autoregressive decoding with one model: one forward pass per token.</summary>
public sealed class AutoregressiveDecoder : IDecoder
{
    readonly ModelRunner<ITargetSession> _model;
    readonly DistributionBuilder _distribution;
    readonly TokenSampler _sampler;
    readonly float[] _probs;
    readonly bool _isTarget;

    public DecodingStats? LastStats { get; private set; }
    /// <summary>Null: no log-probabilities; else each token gets its own and this many top candidates (-1: all).</summary>
    public int? LogprobsTopK { get; set; }

    /// <param name="isTarget">Whether this model plays the target (its passes count as target calls) or the draft.</param>
    public AutoregressiveDecoder(ITargetSession session, SamplingOptions options, int seed, bool isTarget = true)
    {
        _model = new ModelRunner<ITargetSession>(session);
        int vocab = session.OutputVocabulary;
        _distribution = new DistributionBuilder(options, vocab);
        _sampler = new TokenSampler(seed);
        _probs = new float[vocab];
        _isTarget = isTarget;
    }

    /// <summary>Checks the arguments now (not at the first token), then streams the tokens.</summary>
    public IAsyncEnumerable<EmittedToken> GenerateAsync(int[] prompt, int maxTokens, IReadOnlySet<int>? stopTokens = null, CancellationToken cancellationToken = default)
    {
        DecoderChecks.Arguments(prompt, maxTokens, _model.Session.Capacity, 0);
        return Generate(prompt, maxTokens, stopTokens, cancellationToken);
    }

    async IAsyncEnumerable<EmittedToken> Generate(int[] prompt, int maxTokens, IReadOnlySet<int>? stopTokens,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var stats = new DecodingStats { Mode = _isTarget ? "ar" : "ar-draft", Lossless = _isTarget, PromptTokens = prompt.Length };
        LastStats = stats;
        var clock = Stopwatch.StartNew();
        _model.Reset();
        _model.Cancellation = cancellationToken;
        _model.Prefill(prompt);
        stats.PrefillMs = clock.Elapsed.TotalMilliseconds;
        var committed = new List<int>(prompt);
        long decodeStart = Stopwatch.GetTimestamp();
        for (int i = 0; i < maxTokens; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _model.CatchUp(committed);
            long sampleStart = Stopwatch.GetTimestamp();
            _distribution.Compute(_model.Session.Logits(0), _probs);
            int token = _sampler.Sample(_probs);
            stats.SamplingMs += Stopwatch.GetElapsedTime(sampleStart).TotalMilliseconds;
            committed.Add(token);
            stats.Rounds++;
            stats.CountOrigin(TokenOrigin.Sampled);
            stats.TokensPerRound.Add(1);
            Record(stats, decodeStart);
            var logprobs = LogprobsTopK is int topK ? TokenLogprobs.From(_model.Session.Logits(0), token, topK) : null;
            yield return new EmittedToken(token, i, TokenOrigin.Sampled, logprobs);
            if (stopTokens?.Contains(token) == true) break;
            decodeStart = Stopwatch.GetTimestamp();
            await Task.CompletedTask;
        }
    }

    void Record(DecodingStats stats, long decodeStart)
    {
        stats.DecodeMs += Stopwatch.GetElapsedTime(decodeStart).TotalMilliseconds;
        if (_isTarget) { stats.TargetCalls = _model.Calls; stats.TargetMs = _model.Milliseconds; stats.TargetFlops = _model.Flops; stats.Remote = _model.Session.Remote?.Copy(); }
        else { stats.DraftSteps = _model.Calls; stats.DraftMs = _model.Milliseconds; stats.DraftFlops = _model.Flops; }
    }
}
