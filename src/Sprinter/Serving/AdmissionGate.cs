namespace Sprinter.Serving;

/// <summary>The server is at its limit of running and queued generations (HTTP 429).</summary>
public sealed class ServerBusyException(string message) : Exception(message);

/// <summary>
/// At most <c>maxRunning</c> generations run at once; up to <c>maxWaiting</c> more wait in a
/// first-come queue behind them; any further one is refused at once rather than queued without
/// bound (the client sees 429 and retries).
/// </summary>
public sealed class AdmissionGate(int maxRunning, int maxWaiting)
{
    readonly SemaphoreSlim _slots = new(maxRunning, maxRunning);
    int _waiting;

    public int MaxRunning { get; } = maxRunning;
    public int MaxWaiting { get; } = maxWaiting;
    public int Running => MaxRunning - _slots.CurrentCount;
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Waits for a slot; the returned lease frees it when disposed.</summary>
    /// <exception cref="ServerBusyException">The queue is full.</exception>
    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        if (_slots.Wait(0)) return new Lease(this);
        if (Interlocked.Increment(ref _waiting) > MaxWaiting)
        {
            Interlocked.Decrement(ref _waiting);
            throw new ServerBusyException($"the server is busy: {MaxRunning} generations are running and {MaxWaiting} are queued; retry shortly.");
        }
        try { await _slots.WaitAsync(cancellationToken); }
        finally { Interlocked.Decrement(ref _waiting); }
        return new Lease(this);
    }

    sealed class Lease(AdmissionGate gate) : IDisposable
    {
        int _released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) gate._slots.Release();
        }
    }
}
