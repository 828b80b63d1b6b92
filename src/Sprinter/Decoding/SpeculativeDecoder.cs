using System.Diagnostics;
using System.Runtime.CompilerServices;
using Sprinter.Engine;

namespace Sprinter.Decoding;

/// <summary>
/// Speculative decoding (SD) and SPRINTER over a draft and a target session. One round:
/// the draft proposes tokens (SD: a fixed gamma; SPRINTER: while the verifier accepts, up to
/// max-draft), the target scores them all in one pass, the acceptance rule tests them (SD and
/// strict-on-call: each in order; paper: only the last), and the round ends with a resampled or
/// bonus token. Both caches are then rolled back to the committed sequence.
/// </summary>
public sealed class SpeculativeDecoder : IDecoder
{
    readonly ModelRunner<TransformerSession> _draft;
    readonly ModelRunner<ITargetSession> _target;
    readonly SpeculativeOptions _options;
    readonly DistributionBuilder _distribution;
    readonly TokenSampler _sampler;
    readonly float[][] _q;          // draft distribution of each drafted token of the round
    readonly float[] _p, _residual;
    readonly int[] _drafted, _targetInput;
    readonly int _vocab;

    /// <summary>Test hook: called after every round with the committed sequence.</summary>
    internal Action<IReadOnlyList<int>, TransformerSession, TransformerSession>? RoundCompleted { get; set; }

    /// <summary>Optional audit of SPRINTER's verifier decisions against the target (null: none).</summary>
    public IVerificationObserver? Observer { get; set; }

    public DecodingStats? LastStats { get; private set; }
    /// <summary>Null: no log-probabilities; else each target-scored token gets its own and this many top candidates (-1: all).</summary>
    public int? LogprobsTopK { get; set; }
    public SpeculativeOptions Options => _options;

    public SpeculativeDecoder(TransformerSession draft, ITargetSession target, SpeculativeOptions options, SamplingOptions sampling, int seed)
    {
        if (draft.Model.OutputVocabulary != target.OutputVocabulary)
            throw new InvalidInputException($"the draft emits {draft.Model.OutputVocabulary} tokens but the target {target.OutputVocabulary}; both models must share one tokenizer.");
        options.Validate(draft.Model.Config.EmbeddingSize);
        _draft = new ModelRunner<TransformerSession>(draft);
        _target = new ModelRunner<ITargetSession>(target);
        _options = options;
        _vocab = target.OutputVocabulary;
        _distribution = new DistributionBuilder(sampling, _vocab);
        _sampler = new TokenSampler(seed);
        _q = new float[options.RoundCap][];
        for (int i = 0; i < _q.Length; i++) _q[i] = new float[_vocab];
        _p = new float[_vocab];
        _residual = new float[_vocab];
        _drafted = new int[options.RoundCap];
        _targetInput = new int[options.RoundCap + 2]; // uncached committed tokens are at most 2 (see step 4)
    }

    /// <summary>Checks the arguments now (not at the first token), then streams the tokens.</summary>
    public IAsyncEnumerable<EmittedToken> GenerateAsync(int[] prompt, int maxTokens, IReadOnlySet<int>? stopTokens = null, CancellationToken cancellationToken = default)
    {
        // The target may hold up to one round of drafted tokens past the committed budget.
        DecoderChecks.Arguments(prompt, maxTokens, Math.Min(_draft.Session.Capacity, _target.Session.Capacity), 1);
        return Generate(prompt, maxTokens, stopTokens, cancellationToken);
    }

    async IAsyncEnumerable<EmittedToken> Generate(int[] prompt, int maxTokens, IReadOnlySet<int>? stopTokens,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var stats = new DecodingStats { Mode = _options.ModeName, Lossless = _options.Lossless, PromptTokens = prompt.Length };
        LastStats = stats;
        var clock = Stopwatch.StartNew();
        _draft.Reset(); _target.Reset();
        _target.Cancellation = cancellationToken;
        _draft.Prefill(prompt); _target.Prefill(prompt);
        stats.PrefillMs = clock.Elapsed.TotalMilliseconds;

        var committed = new List<int>(prompt);
        var round = new List<EmittedToken>(_options.RoundCap + 1);
        int produced = 0;
        while (produced < maxTokens)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long roundStart = Stopwatch.GetTimestamp();
            round.Clear();
            RunRound(committed, Math.Min(_options.RoundCap, maxTokens - produced), stats, round);
            stats.DecodeMs += Stopwatch.GetElapsedTime(roundStart).TotalMilliseconds;
            // Kept current every round: a consumer that stops early (a stop string, a closed
            // connection) still reads true counts.
            stats.DraftMs = _draft.Milliseconds; stats.DraftFlops = _draft.Flops; stats.DraftSteps = _draft.Calls;
            stats.TargetMs = _target.Milliseconds; stats.TargetFlops = _target.Flops; stats.TargetCalls = _target.Calls;
            stats.Remote = _target.Session.Remote?.Copy();
            int emittedThisRound = 0;
            bool stop = false;
            foreach (var token in round)
            {
                if (produced == maxTokens) break;
                stats.CountOrigin(token.Origin);
                emittedThisRound++;
                yield return token with { Index = produced++ };
                if (stopTokens?.Contains(token.Id) == true) { stop = true; break; }
            }
            stats.TokensPerRound.Add(emittedThisRound);
            if (stop) break;
            await Task.CompletedTask;
        }
    }

    TokenLogprobs? Logprobs(int row, int token) => LogprobsTopK is int topK ? TokenLogprobs.From(_target.Session.Logits(row), token, topK) : null;

    /// <summary>One round; appends its tokens to <paramref name="committed"/> and to <paramref name="output"/>.</summary>
    void RunRound(List<int> committed, int cap, DecodingStats stats, List<EmittedToken> output)
    {
        int n = committed.Count;
        bool sprinter = _options.Method == SpeculativeMethod.Sprinter;

        // 1. Draft: feed what the draft has not seen, then propose one token at a time.
        _draft.CatchUp(committed);
        int k = 0;
        while (true)
        {
            long t0 = Stopwatch.GetTimestamp();
            var q = _q[k];
            _distribution.Compute(_draft.Session.Logits(0), q);
            int token = _sampler.Sample(q);
            stats.SamplingMs += Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            _drafted[k++] = token;
            if (sprinter)
            {
                long v0 = Stopwatch.GetTimestamp();
                float score = _options.Verifier!.Score(new VerifierInput(_draft.Session.Hidden(_draft.Session.HiddenRows - 1), token, q, _draft.Session.Logits(0)));
                stats.VerifierMs += Stopwatch.GetElapsedTime(v0).TotalMilliseconds;
                Observer?.Drafted(k - 1, token, _draft.Session.Logits(0), score >= _options.Threshold);
                if (score < _options.Threshold) { stats.VerifierRejects++; break; }
                stats.VerifierAccepts++;
            }
            if (k == cap) break;
            _draft.Feed(_drafted.AsSpan(k - 1, 1), logitRows: 1);
        }
        stats.Drafted += k;
        stats.Rounds++;

        // 2. Target: one pass over the uncached committed tokens and the k drafted ones.
        bool testAll = !sprinter || _options.SprinterMode == SprinterMode.StrictOnCall;
        int firstTested = testAll ? 0 : k - 1;
        int pending = n - _target.Length;
        var targetInput = _targetInput.AsSpan(0, pending + k);
        for (int i = 0; i < pending; i++) targetInput[i] = committed[_target.Length + i];
        _drafted.AsSpan(0, k).CopyTo(targetInput[pending..]);
        int rows = k - firstTested + 1; // logits for the tested positions and the bonus position
        _target.Feed(targetInput, rows);
        int rowOffset = -firstTested; // logits row of drafted token i is i + rowOffset

        // 3. Test: unverified tokens first (paper mode), then the tested ones in order.
        for (int i = 0; i < firstTested; i++)
        {
            output.Add(new EmittedToken(_drafted[i], 0, TokenOrigin.Unverified));
            stats.CountPosition(i, kept: true);
        }
        int kept = k;
        long s0 = Stopwatch.GetTimestamp();
        for (int i = firstTested; i < k; i++)
        {
            stats.Tested++;
            _distribution.Compute(_target.Session.Logits(i + rowOffset), _p);
            int token = _drafted[i];
            Observer?.Tested(i, token, _target.Session.Logits(i + rowOffset));
            if (AcceptanceRule.Accepts(_p[token], _q[i][token], _sampler.NextUniform()))
            {
                output.Add(new EmittedToken(token, 0, TokenOrigin.Accepted, Logprobs(i + rowOffset, token)));
                stats.CountPosition(i, kept: true);
                continue;
            }
            stats.CountPosition(i, kept: false);
            AcceptanceRule.Residual(_p, _q[i], _residual);
            int resampled = _sampler.Sample(_residual);
            output.Add(new EmittedToken(resampled, 0, TokenOrigin.Resampled, Logprobs(i + rowOffset, resampled)));
            kept = i;
            for (int j = i + 1; j < k; j++) stats.CountPosition(j, kept: false); // discarded with the rejection
            break;
        }
        if (kept == k)
        {
            _distribution.Compute(_target.Session.Logits(k + rowOffset), _p);
            int bonus = _sampler.Sample(_p);
            output.Add(new EmittedToken(bonus, 0, TokenOrigin.Bonus, Logprobs(k + rowOffset, bonus)));
        }
        stats.SamplingMs += Stopwatch.GetElapsedTime(s0).TotalMilliseconds;

        // 4. Commit and roll both caches back to the committed prefix they share.
        foreach (var t in output) committed.Add(t.Id);
        _target.Session.Truncate(n + kept);
        _draft.Session.Truncate(Math.Min(_draft.Length, n + kept));
        if (_target.Session is TransformerSession localTarget) RoundCompleted?.Invoke(committed, _draft.Session, localTarget);
    }
}
