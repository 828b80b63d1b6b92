using System.Diagnostics;
using Sprinter.Engine;

namespace Sprinter.Decoding;

/// <summary>
/// The scorer role: one target pass per step over every sequence's new positions: a chunk of a
/// prompt, an AR sequence's last token, or a speculative round's uncached committed tokens plus
/// its drafted ones, with logits only for the rows its acceptance policy tests (and the bonus
/// position). AR sequences are sampled here; speculative ones are judged by their policy next.
/// </summary>
internal sealed class TargetScorer(TransformerModel target)
{
    readonly TransformerBatch _batch = new(target);
    readonly List<DecodeSequence> _scored = [];
    int[] _input = new int[64];

    public double LastPassMs { get; private set; }
    public int LastPassRows { get; private set; }

    public void Score(IReadOnlyList<DecodeSequence> sequences)
    {
        _batch.Clear();
        _scored.Clear();
        foreach (var s in sequences)
        {
            if (s.Finished || s.Target is null) continue;
            if (s.StepPrefill > 0) { _batch.Add(s.Target, s.PrefillChunk(s.StepPrefill), 1); continue; }
            if (s.Kind == SequenceKind.Ar) _batch.Add(s.Target, s.Uncached(s.Target), 1);
            else if (s.Kind == SequenceKind.Speculative)
            {
                var uncached = s.Uncached(s.Target);
                int rows = uncached.Length + s.DraftCount;
                if (_input.Length < rows) _input = new int[Math.Max(rows, 2 * _input.Length)];
                uncached.CopyTo(_input);
                s.Drafted.AsSpan(0, s.DraftCount).CopyTo(_input.AsSpan(uncached.Length));
                _batch.Add(s.Target, _input.AsSpan(0, rows), s.DraftCount - s.LogitStart + 1);
            }
            else continue;
            _scored.Add(s);
        }
        if (_batch.Count == 0) { LastPassMs = 0; LastPassRows = 0; return; }
        LastPassRows = _batch.Rows;
        long start = Stopwatch.GetTimestamp();
        _batch.Run();
        LastPassMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        foreach (var s in _scored)
        {
            var t = s.Target!;
            PassAccounting.Target(s, LastPassMs, t.Length - t.HiddenRows, t.HiddenRows, t.LogitRows);
            if (s.Kind == SequenceKind.Ar) SampleOwnToken(s);
        }
    }

    static void SampleOwnToken(DecodeSequence s)
    {
        long t0 = Stopwatch.GetTimestamp();
        s.Distribution.Compute(s.Target!.Logits(0), s.P);
        int token = s.Sampler.Sample(s.P);
        s.Stats.SamplingMs += Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        s.Round.Add(new EmittedToken(token, 0, TokenOrigin.Sampled));
    }
}
