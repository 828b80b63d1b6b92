using System.Diagnostics;
using Sprinter.Engine;

namespace Sprinter.Decoding;

/// <summary>
/// The scorer role: one target pass per step over every sequence's new positions: a chunk of a
/// prompt, an AR sequence's last token, or a speculative round's uncached committed tokens plus
/// its drafted ones, with logits only for the rows its acceptance policy reads (and the bonus
/// position). Local sessions of the target model share one <see cref="TransformerBatch"/>; a
/// remote target (<see cref="ITargetSession"/> over HTTP) gets its own call, the remote ones of
/// a step running concurrently. AR sequences are sampled here; speculative ones are judged by
/// their policy next.
/// </summary>
internal sealed class TargetScorer(TransformerModel? target)
{
    readonly TransformerBatch? _batch = target is null ? null : new(target);
    readonly List<DecodeSequence> _scored = [], _remote = [];
    readonly List<(DecodeSequence Sequence, int[] Tokens, int LogitRows)> _remoteCalls = [];
    int[] _input = new int[64];

    public double LastPassMs { get; private set; }
    public int LastPassRows { get; private set; }

    public void Score(IReadOnlyList<DecodeSequence> sequences)
    {
        _batch?.Clear();
        _scored.Clear();
        _remoteCalls.Clear();
        foreach (var s in sequences)
        {
            if (s.Finished || s.Target is null) continue;
            if (s.StepPrefill > 0)
            {
                if (IsLocal(s)) _batch!.Add((TransformerSession)s.Target, s.PrefillChunk(s.StepPrefill), 1);
                else s.Target.Prefill(s.PrefillChunk(s.StepPrefill));
                continue;
            }
            if (s.Kind == SequenceKind.Ar) Add(s, s.Uncached(s.Target), 1);
            else if (s.Kind == SequenceKind.Speculative)
            {
                var uncached = s.Uncached(s.Target);
                int rows = uncached.Length + s.DraftCount;
                if (_input.Length < rows) _input = new int[Math.Max(rows, 2 * _input.Length)];
                uncached.CopyTo(_input);
                s.Drafted.AsSpan(0, s.DraftCount).CopyTo(_input.AsSpan(uncached.Length));
                Add(s, _input.AsSpan(0, rows), s.DraftCount - s.LogitStart + 1);
            }
            else continue;
            _scored.Add(s);
        }
        LastPassRows = _batch?.Rows ?? 0;
        long start = Stopwatch.GetTimestamp();
        if (_batch is { Count: > 0 }) _batch.Run();
        LastPassMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (_remoteCalls.Count > 0) CallRemote();
        foreach (var s in _scored)
        {
            if (!IsLocal(s)) continue;
            var t = (TransformerSession)s.Target!;
            PassAccounting.Target(s, LastPassMs, t.Length - t.HiddenRows, t.HiddenRows, t.LogitRows);
            if (s.Kind == SequenceKind.Ar) s.SampleOwnToken(s.Target!.Logits(0));
        }
    }

    bool IsLocal(DecodeSequence s) => s.Target is TransformerSession t && t.Model == target;

    void Add(DecodeSequence s, ReadOnlySpan<int> tokens, int logitRows)
    {
        if (IsLocal(s)) _batch!.Add((TransformerSession)s.Target!, tokens, logitRows);
        else _remoteCalls.Add((s, tokens.ToArray(), logitRows));
    }

    /// <summary>The remote calls of this step, concurrently (each waits on the network, not on the cores).</summary>
    void CallRemote()
    {
        Parallel.ForEach(_remoteCalls, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _remoteCalls.Count) }, call =>
        {
            var (s, tokens, logitRows) = call;
            var t = s.Target!;
            int startLength = t.Length;
            long start = Stopwatch.GetTimestamp();
            try { t.Forward(tokens, logitRows, s.Cancellation); }
            catch (Exception e)
            {
                s.Fail(e);   // this sequence's target failed (after its retries); the others of the step go on
                return;
            }
            PassAccounting.Target(s, Stopwatch.GetElapsedTime(start).TotalMilliseconds, startLength, tokens.Length, logitRows);
            if (s.Kind == SequenceKind.Ar) s.SampleOwnToken(s.Target!.Logits(0));
        });
    }
}
