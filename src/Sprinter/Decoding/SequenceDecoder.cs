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
        if (maxTokens < 1) throw new InvalidInputException($"max tokens must be >= 1, got {maxTokens}.");
        if (prompt.Length + maxTokens + lookahead > capacity)
            throw new InvalidInputException($"the prompt ({prompt.Length} tokens) plus max tokens ({maxTokens}) exceeds the model's context of {capacity} tokens (n_positions); shorten one of them.");
    }
}

/// <summary>
/// One sequence decoded as a batch of one through <see cref="BatchDecoder"/>: the same roles and
/// the same code as a batch of many, so a sequence's output never depends on its company.
/// </summary>
public class SequenceDecoder : IDecoder
{
    readonly SequenceKind _kind;
    readonly SpeculativeOptions _options;
    readonly SamplingOptions _sampling;
    readonly TokenSampler _sampler;
    readonly ITargetSession? _target;
    readonly TransformerSession? _draft;
    readonly BatchDecoder _batch;
    readonly DecodeSequence[] _one = new DecodeSequence[1];

    public DecodingStats? LastStats { get; private set; }
    public SpeculativeOptions Options => _options;
    /// <summary>SPRINTER's online threshold controller, kept across the generations of this decoder (null: a fixed threshold).</summary>
    public OnlineCalibration? Calibration { get; set; }
    /// <summary>Optional audit of SPRINTER's verifier decisions against the target (null: none).</summary>
    public IVerificationObserver? Observer { get; set; }
    /// <summary>Test hook: called after every round with the committed sequence.</summary>
    internal Action<IReadOnlyList<int>, TransformerSession, TransformerSession>? RoundCompleted { get; set; }

    /// <summary>Null: no log-probabilities; else each token carries its own and this many top candidates (-1: all).</summary>
    public int? LogprobsTopK { get; set; }

    public SequenceDecoder(SequenceKind kind, SpeculativeOptions options, SamplingOptions sampling, int seed, ITargetSession? target, TransformerSession? draft)
    {
        (_kind, _options, _sampling, _sampler, _target, _draft) = (kind, options, sampling, new TokenSampler(seed), target, draft);
        Calibration = options.Calibration?.Fork();
        _batch = new BatchDecoder(kind == SequenceKind.ArDraft ? null : (target as TransformerSession)?.Model, kind == SequenceKind.Ar ? null : draft?.Model);
    }

    /// <summary>Checks the arguments now (not at the first token), then streams the tokens.</summary>
    public IAsyncEnumerable<EmittedToken> GenerateAsync(int[] prompt, int maxTokens, IReadOnlySet<int>? stopTokens = null, CancellationToken cancellationToken = default)
    {
        var sequence = new DecodeSequence(_kind, _options, _sampling, _sampler, _kind == SequenceKind.ArDraft ? null : _target,
            _kind == SequenceKind.Ar ? null : _draft, prompt, maxTokens, stopTokens) { Observer = Observer, RoundCompleted = RoundCompleted, Calibration = Calibration, LogprobsTopK = LogprobsTopK, Cancellation = cancellationToken };
        LastStats = sequence.Stats;
        return Generate(sequence, cancellationToken);
    }

    async IAsyncEnumerable<EmittedToken> Generate(DecodeSequence sequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        _one[0] = sequence;
        while (!sequence.Finished)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _batch.Step(_one);
            if (sequence.Failure is { } failure) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            foreach (var token in sequence.Emitted) yield return token;
            await Task.CompletedTask;
        }
    }
}

/// <summary>Plain autoregressive decoding with one model: one forward pass per token.</summary>
/// <param name="session">The target (local or remote), or with <paramref name="isTarget"/> false the draft's local session.</param>
public sealed class AutoregressiveDecoder(ITargetSession session, SamplingOptions options, int seed, bool isTarget = true)
    : SequenceDecoder(isTarget ? SequenceKind.Ar : SequenceKind.ArDraft, new SpeculativeOptions(), options, seed,
        isTarget ? session : null, isTarget ? null : session as TransformerSession ?? throw new ArgumentException("the draft runs locally", nameof(session)));

/// <summary>
/// Speculative decoding (SD) and SPRINTER over a draft and a target session. One round: the draft
/// proposes tokens (SD: a fixed gamma; SPRINTER: while the verifier accepts, up to max-draft), the
/// target scores them all in one pass, the acceptance policy tests them (SD and strict-on-call:
/// each in order; paper: only the last), and the round ends with a resampled or bonus token.
/// </summary>
public sealed class SpeculativeDecoder : SequenceDecoder
{
    public SpeculativeDecoder(TransformerSession draft, ITargetSession target, SpeculativeOptions options, SamplingOptions sampling, int seed)
        : base(SequenceKind.Speculative, Checked(draft, target, options), sampling, seed, target, draft) { }

    static SpeculativeOptions Checked(TransformerSession draft, ITargetSession target, SpeculativeOptions options)
    {
        if (draft.Model.OutputVocabulary != target.OutputVocabulary)
            throw new InvalidInputException($"the draft emits {draft.Model.OutputVocabulary} tokens but the target {target.OutputVocabulary}; both models must share one tokenizer.");
        options.Validate(draft.Model.Config.EmbeddingSize);
        return options;
    }
}
