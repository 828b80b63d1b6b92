namespace Sprinter.Engine;

/// <summary>
/// A fixed set of worker threads that run one job split into parts, the caller running part 0.
/// Written by hand because Parallel.For allocates on every call and the decode loop must not;
/// workers spin briefly between calls (a token makes ~50 calls microseconds apart) then sleep.
/// </summary>
public sealed class WorkerPool : IDisposable
{
    public static WorkerPool Shared { get; } = new(Environment.ProcessorCount);

    readonly Thread[] _workers;
    readonly object _gate = new();
    Action<int>? _job;
    int _parts;
    long _generation;
    int _remaining;
    volatile bool _disposed;

    public int ThreadCount { get; }

    public WorkerPool(int threads)
    {
        ThreadCount = Math.Max(1, threads);
        _workers = new Thread[ThreadCount - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            int index = i + 1;
            _workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"sprinter-worker-{index}" };
            _workers[i].Start();
        }
    }

    int _busy;

    /// <summary>
    /// Claims the pool for one caller. Sessions on other threads that find it taken run their
    /// work inline instead of waiting, so concurrent sessions stay correct (each then uses one core).
    /// </summary>
    public bool TryAcquire() => _workers.Length > 0 && Interlocked.CompareExchange(ref _busy, 1, 0) == 0;

    public void Release() => Volatile.Write(ref _busy, 0);

    /// <summary>Runs job(0..parts-1) on the pool, or inline when another thread holds it.</summary>
    public void Run(int parts, Action<int> job)
    {
        if (parts > 1 && TryAcquire())
        {
            try { RunAcquired(parts, job); }
            finally { Release(); }
            return;
        }
        for (int p = 0; p < parts; p++) job(p);
    }

    /// <summary>Runs job(0..parts-1); the caller must hold the pool (<see cref="TryAcquire"/>).</summary>
    public void RunAcquired(int parts, Action<int> job)
    {
        if (parts <= 1 || _workers.Length == 0)
        {
            for (int p = 0; p < parts; p++) job(p);
            return;
        }
        parts = Math.Min(parts, ThreadCount);
        _job = job;
        _parts = parts;
        Volatile.Write(ref _remaining, parts - 1);
        lock (_gate)
        {
            Interlocked.Increment(ref _generation);
            Monitor.PulseAll(_gate);
        }
        job(0);
        var spin = new SpinWait();
        while (Volatile.Read(ref _remaining) > 0) spin.SpinOnce(-1);
        _job = null;
    }

    void WorkerLoop(int index)
    {
        long seen = 0;
        while (!_disposed)
        {
            // Spin a little for the next call before blocking: calls come in bursts.
            var spin = new SpinWait();
            long gen;
            while ((gen = Interlocked.Read(ref _generation)) == seen && spin.Count < 2000 && !_disposed) spin.SpinOnce(-1);
            if (gen == seen)
            {
                lock (_gate)
                {
                    while (Interlocked.Read(ref _generation) == seen && !_disposed) Monitor.Wait(_gate, 100);
                }
                continue;
            }
            seen = gen;
            if (index < _parts)
            {
                _job!(index);
                Interlocked.Decrement(ref _remaining);
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        lock (_gate) Monitor.PulseAll(_gate);
    }
}
