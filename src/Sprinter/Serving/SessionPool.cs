using System.Collections.Concurrent;
using Sprinter.Engine;

namespace Sprinter.Serving;

/// <summary>
/// KV caches of one model, reused across requests: a session is rented for a generation and
/// returned after it. The model's weights are shared (a <see cref="TransformerModel"/> holds no
/// per-sequence state); each running generation holds its own session, so the pool never grows
/// past the number of generations that ran at once.
/// </summary>
public sealed class SessionPool(TransformerModel model)
{
    readonly ConcurrentBag<TransformerSession> _idle = [];
    int _created;

    public TransformerModel Model { get; } = model;
    /// <summary>Sessions made so far (rented or idle).</summary>
    public int Created => Volatile.Read(ref _created);

    public TransformerSession Rent()
    {
        if (_idle.TryTake(out var session)) return session;
        Interlocked.Increment(ref _created);
        return Model.CreateSession();
    }

    public void Return(TransformerSession session)
    {
        session.Reset();
        _idle.Add(session);
    }
}
