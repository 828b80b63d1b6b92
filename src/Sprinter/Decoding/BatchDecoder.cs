using System.Diagnostics;
using Sprinter.Engine;

namespace Sprinter.Decoding;

/// <summary>
/// Steps a batch of sequences through the roles of speculative decoding, as vLLM names them: the
/// <see cref="DraftProposer"/> drafts for every speculative sequence (the draft model batched
/// across sequences, the verifier as its stop rule, prompt lookup in front of it), the
/// <see cref="TargetScorer"/> runs one target pass over every sequence's new positions, and each
/// sequence's <see cref="AcceptancePolicy"/> keeps or replaces what was drafted. AR sequences
/// ride the same target pass with one position each. A new proposer or policy is a new class.
/// One sequence is a batch of one: <see cref="SequenceDecoder"/> runs generate and the benchmark
/// through this class, and the server steps all its requests through one instance.
/// </summary>
public sealed class BatchDecoder
{
    readonly DraftProposer? _proposer;
    readonly TargetScorer _scorer;

    /// <summary>Prompt tokens a sequence caches per step while others decode (chunked prefill).</summary>
    public int PrefillChunk { get; init; } = int.MaxValue;

    /// <summary>Wall time of the last step's target pass and its positions (the server's per-step timings).</summary>
    public double LastTargetPassMs => _scorer.LastPassMs;
    public int LastTargetPassRows => _scorer.LastPassRows;
    public double LastDraftMs => _proposer?.LastStepMs ?? 0;

    public BatchDecoder(TransformerModel? target, TransformerModel? draft)
    {
        if (draft is not null) _proposer = new DraftProposer(draft);
        _scorer = new TargetScorer(target);   // also scores remote targets, which bring no local model
    }

    /// <summary>
    /// One step for every unfinished sequence: afterwards each one's <see cref="DecodeSequence.Emitted"/>
    /// holds the tokens it committed in this step (none while it is still caching its prompt).
    /// </summary>
    public void Step(IReadOnlyList<DecodeSequence> sequences)
    {
        long start = Stopwatch.GetTimestamp();
        foreach (var s in sequences)
        {
            s.Emitted.Clear();
            s.StepPrefill = s.Finished ? 0 : Math.Min(PrefillChunk, s.PrefillLeft);
        }
        _proposer?.Propose(sequences);
        _scorer.Score(sequences);
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        foreach (var s in sequences)
        {
            if (s.Finished) continue;   // also a sequence whose remote target failed in this step
            if (s.StepPrefill > 0)
            {
                s.Prefilled(s.StepPrefill);
                s.Stats.PrefillMs += ms;
                continue;
            }
            if (s.Kind == SequenceKind.Speculative) s.Policy.Apply(s);
            s.Stats.Rounds++;
            s.CommitRound();
            s.Stats.DecodeMs += ms;
            if (s.Kind == SequenceKind.Speculative && s.Target is TransformerSession local) s.RoundCompleted?.Invoke(s.Committed, s.Draft!, local);
        }
    }
}

/// <summary>Adds one pass's cost to a sequence's statistics: the pass's wall time, a call, and the analytic FLOPs of its rows.</summary>
internal static class PassAccounting
{
    public static void Target(DecodeSequence s, double ms, int start, int rows, int logitRows)
    {
        s.Stats.TargetMs += ms;
        s.Stats.TargetCalls++;
        if (s.Target!.Config is { } config) s.Stats.TargetFlops += FlopCount.Forward(config, start, rows, logitRows);
        if (s.Target.Remote is { } remote) s.Stats.Remote = remote.Copy();
    }

    public static void Draft(DecodeSequence s, double ms, int start, int rows, int logitRows)
    {
        s.Stats.DraftMs += ms;
        s.Stats.DraftSteps++;
        s.Stats.DraftFlops += FlopCount.Forward(s.Draft!.Model.Config, start, rows, logitRows);
    }
}
