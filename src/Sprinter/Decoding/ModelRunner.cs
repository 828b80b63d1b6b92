using System.Diagnostics;

namespace Sprinter.Decoding;

/// <summary>
/// A session plus bookkeeping: feeds tokens, adds the analytic FLOPs and wall time of each call,
/// and counts calls. Decoders talk to models only through this.
/// </summary>
internal sealed class ModelRunner<TSession>(TSession session) where TSession : ITargetSession
{
    public TSession Session { get; } = session;
    public int Length => Session.Length;
    public double Flops { get; private set; }
    public double Milliseconds { get; private set; }
    public int Calls { get; private set; }
    /// <summary>Passed to every call (a remote target's HTTP calls stop when it fires).</summary>
    public CancellationToken Cancellation { get; set; }

    public void Reset() { Session.Reset(); Flops = 0; Milliseconds = 0; Calls = 0; }

    public void Feed(ReadOnlySpan<int> tokens, int logitRows)
    {
        if (Session.Config is { } config) Flops += FlopCount.Forward(config, Session.Length, tokens.Length, logitRows);
        long start = Stopwatch.GetTimestamp();
        Session.Forward(tokens, logitRows, Cancellation);
        Milliseconds += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        Calls++;
    }

    /// <summary>Caches all but the last prompt token (untimed in the decode statistics).</summary>
    public void Prefill(int[] prompt)
    {
        Session.Reset();
        if (prompt.Length > 1) Session.Prefill(prompt.AsSpan(0, prompt.Length - 1));
    }

    /// <summary>Feeds the committed tokens this model has not cached yet (at least one).</summary>
    public void CatchUp(List<int> committed, int logitRows = 1) =>
        Feed(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(committed)[Session.Length..], logitRows);
}
