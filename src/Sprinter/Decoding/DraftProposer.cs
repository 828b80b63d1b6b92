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
            if (s.Kind == SequenceKind.Speculative && s.Options.PromptLookup && PromptLookup.Propose(s))
            {
                s.LookupRound = true;
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
                if (s.Kind == SequenceKind.ArDraft) { SampleOwnToken(s); continue; }
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
                s.FirstTested = s.Policy.FirstTested(s.DraftCount);
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
        if (s.Options.Method == SpeculativeMethod.Sprinter)
        {
            long v0 = Stopwatch.GetTimestamp();
            float score = s.Options.Verifier!.Score(new VerifierInput(session.Hidden(session.HiddenRows - 1), token, q, session.Logits(0)));
            s.Stats.VerifierMs += Stopwatch.GetElapsedTime(v0).TotalMilliseconds;
            s.Observer?.Drafted(k, token, session.Logits(0), score >= s.Options.Threshold);
            if (score < s.Options.Threshold) { s.Stats.VerifierRejects++; return false; }
            s.Stats.VerifierAccepts++;
        }
        return s.DraftCount < s.RoundCap;
    }

    /// <summary>AR on the draft alone: the sampled token is the round.</summary>
    static void SampleOwnToken(DecodeSequence s)
    {
        long t0 = Stopwatch.GetTimestamp();
        s.Distribution.Compute(s.Draft!.Logits(0), s.P);
        int token = s.Sampler.Sample(s.P);
        s.Stats.SamplingMs += Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        s.Round.Add(new EmittedToken(token, 0, TokenOrigin.Sampled));
    }
}
