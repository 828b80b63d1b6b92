using System.Runtime.InteropServices;
using Sprinter.Engine;

namespace Sprinter.Decoding;

/// <summary>Which loop a sequence runs: the target alone, the draft alone, or speculation (SD / SPRINTER).</summary>
public enum SequenceKind { Ar, ArDraft, Speculative }

/// <summary>
/// One sequence's whole decoding state inside a <see cref="BatchDecoder"/>: its settings, its own
/// KV caches, its own random generator (so its output is the same alone or in a batch), the
/// committed tokens, the round in flight and its statistics. The roles (proposer, scorer,
/// acceptance policy) read and write it; nothing here knows about other sequences.
/// </summary>
public sealed class DecodeSequence
{
    internal readonly List<int> Committed;
    internal readonly DistributionBuilder Distribution;
    internal readonly TokenSampler Sampler;
    internal readonly float[][] Q;          // draft distribution of each drafted token of the round
    internal readonly float[] P, Residual;
    internal readonly int[] Drafted;
    internal readonly List<EmittedToken> Round = [];
    readonly IReadOnlySet<int>? _stopTokens;
    int _prefilled;                         // prompt tokens (all but the last) already in the caches

    public SequenceKind Kind { get; }
    public SpeculativeOptions Options { get; }
    /// <summary>What runs, by name: ar, ar-draft, or the options' SD or SPRINTER method.</summary>
    public DecodingMethod Method => Kind switch { SequenceKind.Ar => DecodingMethod.Ar, SequenceKind.ArDraft => DecodingMethod.ArDraft, _ => Options.Method };
    /// <summary>The target: a local KV cache (batched with the others) or a remote target (one HTTP call per step).</summary>
    public ITargetSession? Target { get; }
    public TransformerSession? Draft { get; }
    public int PromptLength { get; }
    public int MaxTokens { get; }
    public DecodingStats Stats { get; }
    /// <summary>Tokens committed by the last step, after the max-tokens and stop-token rules.</summary>
    public List<EmittedToken> Emitted { get; } = [];
    public int Produced { get; private set; }
    public bool Finished { get; private set; }
    /// <summary>Drafted tokens of the round in flight, and the first of them the target tests.</summary>
    internal int DraftCount, FirstTested;
    /// <summary>SPRINTER: the drafted token at which the verifier stopped (or the cap was reached); tokens after it are lookahead.</summary>
    internal int StopIndex;
    /// <summary>SPRINTER: lookahead tokens still to draft this round, and the product of scores since the last call.</summary>
    internal int LookaheadLeft;
    internal double ScoreProduct;
    /// <summary>SPRINTER: the verifier's decision on each drafted token up to <see cref="StopIndex"/>.</summary>
    internal readonly bool[] VerifierAccepted;
    /// <summary>While calibrating: the draft's temperature-1 probability of each drafted token.</summary>
    internal readonly float[] DraftQx;
    /// <summary>For a verifier that reads history: the draft's temperature-1 statistics at each drafted position of the round,
    /// and those of the position before the round's first (null when the draft never saw that distribution).</summary>
    internal readonly Verification.VerifierFeatures.DraftStats[] DraftStatsAt;
    internal Verification.VerifierFeatures.DraftStats? StatsBeforeRound;
    /// <summary>First drafted token whose target logits the scorer asks for (all of them while calibrating).</summary>
    internal int LogitStart;
    /// <summary>SPRINTER: the online threshold controller of this generation (null: a fixed threshold).</summary>
    public OnlineCalibration? Calibration { get; init; }
    /// <summary>SPRINTER: the threshold the verifier's score is held against now.</summary>
    internal float Threshold => Calibration?.Threshold ?? Options.Threshold;
    /// <summary>Whether the round in flight drafted from the prompt (prompt lookup) rather than the draft model.</summary>
    internal bool LookupRound;
    /// <summary>Prompt tokens this step caches (0: the sequence decodes this step).</summary>
    internal int StepPrefill;
    internal readonly AcceptancePolicy Policy;
    /// <summary>Most tokens this step may draft (the scheduler's cost model lowers it under load; 0 makes the step plain AR).</summary>
    public int GammaLimit { get; set; } = int.MaxValue;
    /// <summary>Whether a scheduler may lower <see cref="GammaLimit"/>: SD whose output does not depend on it
    /// (greedy, or sampling without a fixed seed: a fixed seed's text must not change with the load).</summary>
    public bool AdaptiveGamma { get; init; }
    /// <summary>Prompt tokens the next step will cache (what the cost model sees before the step).</summary>
    internal int StepPrefillEstimate => Finished ? 0 : Math.Min(32, PrefillLeft);

    /// <summary>Null: no log-probabilities; else each target-scored token carries its own and this many top candidates (-1: all).</summary>
    public int? LogprobsTopK { get; init; }
    /// <summary>Stops a remote target's calls for this sequence.</summary>
    public CancellationToken Cancellation { get; init; }
    /// <summary>Optional audit of SPRINTER's verifier decisions against the target.</summary>
    public IVerificationObserver? Observer { get; set; }
    /// <summary>Test hook: called after every round with the committed sequence.</summary>
    internal Action<IReadOnlyList<int>, TransformerSession, TransformerSession>? RoundCompleted { get; set; }

    /// <param name="sampler">The random generator to draw from; a decoder that runs many sequences one after
    /// another passes its own so that successive runs continue its stream (as one generator seeded once would).</param>
    public DecodeSequence(SequenceKind kind, SpeculativeOptions options, SamplingOptions sampling, TokenSampler sampler,
        ITargetSession? target, TransformerSession? draft, int[] prompt, int maxTokens, IReadOnlySet<int>? stopTokens)
    {
        if (kind != SequenceKind.ArDraft && target is null) throw new ArgumentException("this kind needs a target session", nameof(target));
        if (kind != SequenceKind.Ar && draft is null) throw new ArgumentException("this kind needs a draft session", nameof(draft));
        if (kind == SequenceKind.Speculative)
        {
            if (draft!.Model.OutputVocabulary != target!.OutputVocabulary)
                throw new InvalidInputException($"the draft emits {draft.Model.OutputVocabulary} tokens but the target {target.OutputVocabulary}; both models must share one tokenizer.");
            options.Validate(draft.Model.Config.EmbeddingSize);
        }
        int vocab = target?.OutputVocabulary ?? draft!.Model.OutputVocabulary;
        int capacity = Math.Min(target?.Capacity ?? int.MaxValue, draft?.Capacity ?? int.MaxValue);
        DecoderChecks.Arguments(prompt, maxTokens, capacity, kind == SequenceKind.Speculative ? 1 : 0);
        (Kind, Options, Target, Draft, PromptLength, MaxTokens, _stopTokens) = (kind, options, target, draft, prompt.Length, maxTokens, stopTokens);
        Distribution = new DistributionBuilder(sampling, vocab);
        Sampler = sampler;
        int cap = kind == SequenceKind.Speculative ? options.RoundCap : 1;
        Q = new float[cap][];
        for (int i = 0; i < cap; i++) Q[i] = new float[vocab];
        P = new float[vocab];
        Residual = kind == SequenceKind.Speculative ? new float[vocab] : [];
        Drafted = new int[cap];
        Policy = AcceptancePolicy.For(options);
        VerifierAccepted = new bool[cap];
        DraftQx = new float[cap];
        DraftStatsAt = new Verification.VerifierFeatures.DraftStats[cap];
        Calibration = kind == SequenceKind.Speculative ? options.Calibration?.Fork() : null;
        Committed = new List<int>(prompt.Length + maxTokens + cap + 1);
        Committed.AddRange(prompt);
        Stats = new DecodingStats
        {
            Mode = Method.Name,
            Lossless = Method.Lossless,
            PromptTokens = prompt.Length,
        };
        target?.Reset();
        draft?.Reset();
    }

    public IReadOnlyList<int> Tokens => Committed;

    /// <summary>Prompt tokens still to be cached before decoding starts (the last prompt token is fed by the first step).</summary>
    internal int PrefillLeft => Math.Max(0, PromptLength - 1 - _prefilled);
    internal ReadOnlySpan<int> PrefillChunk(int most) => CollectionsMarshal.AsSpan(Committed).Slice(_prefilled, Math.Min(most, PrefillLeft));
    internal void Prefilled(int count) => _prefilled += count;

    /// <summary>Committed tokens a session has not cached yet.</summary>
    internal ReadOnlySpan<int> Uncached(ITargetSession session) => CollectionsMarshal.AsSpan(Committed)[session.Length..];

    /// <summary>Most tokens this round may draft: the round cap, and no more than the tokens still wanted.</summary>
    internal int RoundCap => Math.Min(Math.Min(Q.Length, GammaLimit), MaxTokens - Produced);

    /// <summary>
    /// Commits the round's tokens under the max-tokens and stop-token rules, and moves them to
    /// <see cref="Emitted"/>. A round may produce one token past the budget; it is dropped.
    /// </summary>
    internal void CommitRound()
    {
        int emitted = 0;
        // All of the round joins the sequence (the caches hold it); only what fits the budget is emitted.
        foreach (var token in Round) Committed.Add(token.Id);
        foreach (var token in Round)
        {
            if (Produced == MaxTokens) break;
            Stats.CountOrigin(token.Origin);
            if (token.Lookahead) Stats.LookaheadTokens++;
            emitted++;
            Emitted.Add(token with { Index = Produced++ });
            if (_stopTokens?.Contains(token.Id) == true) { Finished = true; break; }
        }
        if (Produced == MaxTokens) Finished = true;
        Stats.TokensPerRound.Add(emitted);
        Stats.Calibration = Calibration;
        Round.Clear();
    }

    /// <summary>A one-model step (AR on the target or the draft): samples from <paramref name="logits"/> and makes it the round.</summary>
    internal void SampleOwnToken(ReadOnlySpan<float> logits)
    {
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        Distribution.Compute(logits, P);
        int token = Sampler.Sample(P);
        Stats.SamplingMs += System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        Round.Add(new EmittedToken(token, 0, TokenOrigin.Sampled, LogprobsOf(logits, token)));
    }

    /// <summary>The token's log-probabilities under <paramref name="logits"/> when this sequence asks for them.</summary>
    internal TokenLogprobs? LogprobsOf(ReadOnlySpan<float> logits, int token) => LogprobsTopK is int k ? TokenLogprobs.From(logits, token, k) : null;

    /// <summary>Ends the sequence early (a stop string, a closed connection).</summary>
    public void Stop() => Finished = true;

    /// <summary>Why the sequence ended in error (its remote target failed), else null; the others of the step go on.</summary>
    public Exception? Failure { get; private set; }

    internal void Fail(Exception failure)
    {
        Failure = failure;
        Finished = true;
    }
}
