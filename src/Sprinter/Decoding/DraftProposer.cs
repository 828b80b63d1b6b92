using System.Diagnostics;
using Sprinter.Engine;

namespace Sprinter.Decoding;

/// <summary>
/// The proposer role: drafts a round for every speculative sequence of a step. Prompt lookup
/// goes first where a sequence asks for it (a copied continuation costs no draft pass); the
/// others draft with the draft model, all sequences in one batched pass per drafted position,
/// each stopping by its own rule (SD: its gamma; SPRINTER: the verifier's score under the
/// threshold, or the round cap). The first pass of a step also carries every sequence's prompt
/// chunk and the committed tokens the draft has not seen, and samples AR-draft sequences.
/// </summary>
internal sealed class DraftProposer(TransformerModel draft)
{
    readonly TransformerBatch _batch = new(draft);
    readonly List<DecodeSequence> _drafting = [], _continuing = [];

    public double LastStepMs { get; private set; }

    public void Propose(IReadOnlyList<DecodeSequence> sequences)
    {
        long stepStart = Stopwatch.GetTimestamp();
        _drafting.Clear();
        _batch.Clear();
        foreach (var s in sequences)
        {
            if (s.Finished || s.Draft is null) continue;
            if (s.StepPrefill > 0) { _batch.Add(s.Draft, s.PrefillChunk(s.StepPrefill), 1); continue; }
            if (s.Kind == SequenceKind.Ar) continue;
            s.DraftCount = 0;
            s.LookupRound = false;
            s.LookaheadLeft = 0;
            s.ScoreProduct = 1;
            if (s.Kind == SequenceKind.Speculative && s.Options.PromptLookup && PromptLookup.Propose(s))
            {
                s.StatsBeforeRound = null;
                s.LookupRound = true;
                s.Stats.LookupRounds++;
                continue;   // the draft reads the copied tokens with the next round's catch-up
            }
            if (s.Kind == SequenceKind.Speculative && s.RoundCap == 0) continue;   // a plain AR step this time
            _batch.Add(s.Draft, s.Uncached(s.Draft), 1);
            _drafting.Add(s);
        }
        while (_batch.Count > 0)
        {
            double ms = RunTimed(_batch);
            _continuing.Clear();
            foreach (var s in _drafting)
            {
                PassAccounting.Draft(s, ms, s.Draft!.Length - s.Draft.HiddenRows, s.Draft.HiddenRows, 1);
                if (s.Kind == SequenceKind.ArDraft) { s.SampleOwnToken(s.Draft!.Logits(0)); continue; }
                if (DraftOne(s)) _continuing.Add(s);
            }
            _batch.Clear();
            _drafting.Clear();
            foreach (var s in _continuing)
            {
                _batch.Add(s.Draft!, s.Drafted.AsSpan(s.DraftCount - 1, 1), 1);
                _drafting.Add(s);
            }
        }
        foreach (var s in sequences)
            if (!s.Finished && s.StepPrefill == 0 && s.Kind == SequenceKind.Speculative)
            {
                s.Stats.Drafted += s.DraftCount;
                if (!s.Options.Method.IsSprinter || s.LookupRound || s.DraftCount == 0) s.StopIndex = s.DraftCount - 1;
                s.FirstTested = s.Policy.FirstTested(s);
                s.LogitStart = s.Calibration is not null && s.Options.Method.IsSprinter ? 0 : s.FirstTested;
            }
        LastStepMs = Stopwatch.GetElapsedTime(stepStart).TotalMilliseconds;
    }

    static double RunTimed(TransformerBatch batch)
    {
        long start = Stopwatch.GetTimestamp();
        batch.Run();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>Samples the next drafted token from the draft's last logits and asks the stop rule; true to draft on.</summary>
    static bool DraftOne(DecodeSequence s)
    {
        var session = s.Draft!;
        long t0 = Stopwatch.GetTimestamp();
        var q = s.Q[s.DraftCount];
        s.Distribution.Compute(session.Logits(0), q);
        int token = s.Sampler.Sample(q);
        s.Stats.SamplingMs += Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        int k = s.DraftCount;
        s.Drafted[s.DraftCount++] = token;
        if (!s.Options.Method.IsSprinter) return s.DraftCount < s.RoundCap;
        var verifier = s.Options.Verifier!;
        if (verifier.ReadsHistory) s.DraftStatsAt[k] = Verification.VerifierFeatures.FromLogits(session.Logits(0), token, s.Residual);
        if (s.LookaheadLeft > 0) return --s.LookaheadLeft > 0 && s.DraftCount < s.RoundCap;
        long v0 = Stopwatch.GetTimestamp();
        Verification.VerifierFeatures.DraftStats? previous = !verifier.ReadsHistory ? null : k > 0 ? s.DraftStatsAt[k - 1] : s.StatsBeforeRound;
        float score = verifier.Score(new VerifierInput(session.Hidden(session.HiddenRows - 1), token, q, session.Logits(0), previous));
        s.Stats.VerifierMs += Stopwatch.GetElapsedTime(v0).TotalMilliseconds;
        bool accepts = s.Options.Stop == SprinterStop.Cumulative ? (s.ScoreProduct *= score) >= s.Options.CumulativeThreshold : score >= s.Threshold;
        s.VerifierAccepted[k] = accepts;
        if (s.Calibration is not null) s.DraftQx[k] = TemperatureOne(session.Logits(0), token, s.Residual);
        s.Observer?.Drafted(k, token, session.Logits(0), accepts);
        if (accepts) s.Stats.VerifierAccepts++;
        else s.Stats.VerifierRejects++;
        bool capped = s.DraftCount >= Math.Min(s.RoundCap, s.Options.MaxDraft);
        if (accepts && !capped) return true;
        s.StopIndex = k;
        // Lookahead: a few more tokens for the same target call, tested with SD's rule.
        s.LookaheadLeft = accepts ? 0 : Math.Min(s.Options.Lookahead, s.RoundCap - s.DraftCount);
        return s.LookaheadLeft > 0;
    }

    /// <summary>softmax(logits)[token] at temperature 1 (the verifier's labels are defined on it), using a scratch row.</summary>
    internal static float TemperatureOne(ReadOnlySpan<float> logits, int token, float[] scratch)
    {
        var probs = scratch.AsSpan(0, logits.Length);
        System.Numerics.Tensors.TensorPrimitives.SoftMax(logits, probs);
        return probs[token];
    }
}
