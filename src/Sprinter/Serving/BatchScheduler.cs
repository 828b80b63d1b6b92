using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Sprinter.Decoding;
using Sprinter.Engine;

namespace Sprinter.Serving;

/// <summary>
/// Continuous batching: every running generation is a <see cref="DecodeSequence"/> in one
/// <see cref="BatchDecoder"/>, stepped on one thread. Requests join between steps and leave when
/// they finish or their client goes away (within one step); a new request's prompt is cached in
/// chunks so the running streams keep their pace. Each sequence keeps its own mode, settings and
/// random generator, so its text is the same alone or in a batch. Speculative sequences draft at
/// most the gamma the <see cref="PassCostModel"/> picks for the step's load.
/// </summary>
public sealed class BatchScheduler : IDisposable
{
    sealed class Entry(DecodeSequence sequence, CancellationToken cancellation)
    {
        public readonly DecodeSequence Sequence = sequence;
        public readonly CancellationToken Cancellation = cancellation;
        public readonly Channel<EmittedToken> Tokens = Channel.CreateUnbounded<EmittedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        public readonly TaskCompletionSource Removed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public volatile bool StopRequested;
    }

    readonly BatchDecoder _decoder;
    readonly ConcurrentQueue<Entry> _incoming = new();
    readonly List<Entry> _running = [];
    readonly List<DecodeSequence> _sequences = [];
    readonly SemaphoreSlim _wake = new(0);
    readonly Thread _thread;
    readonly CancellationTokenSource _shutdown = new();
    volatile int _batchSize;
    long _steps;

    public PassCostModel CostModel { get; }
    /// <summary>Sequences in the last step.</summary>
    public int BatchSize => _batchSize;
    public long Steps => Interlocked.Read(ref _steps);
    /// <summary>The most sequences one step has held.</summary>
    public int LargestBatch { get; private set; }
    /// <summary>The gamma the cost model allowed speculative sequences in the last step.</summary>
    public int LastGamma { get; private set; }
    public double LastStepMs { get; private set; }
    public double LastTargetPassMs => _decoder.LastTargetPassMs;
    public int LastTargetPassRows => _decoder.LastTargetPassRows;
    /// <summary>Adapt speculation to the load (false: every sequence drafts its own gamma).</summary>
    public bool Adaptive { get; init; } = true;

    public BatchScheduler(TransformerModel? target, TransformerModel? draft, int prefillChunk = 32)
    {
        _decoder = new BatchDecoder(target, draft) { PrefillChunk = prefillChunk };
        CostModel = new PassCostModel(target, draft);
        _thread = new Thread(Loop) { IsBackground = true, Name = "sprinter-batch" };
        _thread.Start();
    }

    /// <summary>
    /// Adds a sequence to the batch from the next step on and streams its tokens. Ending the
    /// enumeration early (or cancelling) takes it out of the batch; the enumerator's disposal
    /// returns only once the scheduler no longer touches its sessions.
    /// </summary>
    public IAsyncEnumerable<EmittedToken> Run(DecodeSequence sequence, CancellationToken cancellationToken)
    {
        var entry = new Entry(sequence, cancellationToken);
        _incoming.Enqueue(entry);
        _wake.Release();
        return Read(entry, cancellationToken);
    }

    static async IAsyncEnumerable<EmittedToken> Read(Entry entry, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            // Checked per token: tokens already buffered must not outlive a cancelled request.
            await foreach (var token in entry.Tokens.Reader.ReadAllAsync(cancellationToken))
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return token;
            }
        }
        finally
        {
            entry.StopRequested = true;
            await entry.Removed.Task.ConfigureAwait(false);
        }
    }

    void Loop()
    {
        while (!_shutdown.IsCancellationRequested)
        {
            while (_incoming.TryDequeue(out var e)) _running.Add(e);
            if (_running.Count == 0)
            {
                _batchSize = 0;
                try { _wake.Wait(_shutdown.Token); } catch (OperationCanceledException) { break; }
                continue;
            }
            _sequences.Clear();
            for (int i = _running.Count - 1; i >= 0; i--)
            {
                var e = _running[i];
                if (e.StopRequested || e.Cancellation.IsCancellationRequested || e.Sequence.Finished) Remove(i, null);
            }
            foreach (var e in _running) _sequences.Add(e.Sequence);
            if (_sequences.Count == 0) continue;
            _batchSize = _sequences.Count;
            LargestBatch = Math.Max(LargestBatch, _batchSize);
            if (Adaptive) LastGamma = CostModel.ChooseGamma(_sequences);
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            try { _decoder.Step(_sequences); }
            catch (Exception ex)
            {
                // A failing step fails every sequence in it: none of their caches can be trusted.
                for (int i = _running.Count - 1; i >= 0; i--) Remove(i, ex);
                continue;
            }
            LastStepMs = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            CostModel.Observe(_decoder);
            Interlocked.Increment(ref _steps);
            for (int i = _running.Count - 1; i >= 0; i--)
            {
                var e = _running[i];
                if (e.Sequence.Failure is { } failure) { Remove(i, failure); continue; }
                foreach (var token in e.Sequence.Emitted) e.Tokens.Writer.TryWrite(token);
            }
        }
        for (int i = _running.Count - 1; i >= 0; i--) Remove(i, new ObjectDisposedException(nameof(BatchScheduler)));
        while (_incoming.TryDequeue(out var e)) { e.Tokens.Writer.TryComplete(new ObjectDisposedException(nameof(BatchScheduler))); e.Removed.TrySetResult(); }
    }

    void Remove(int index, Exception? failure)
    {
        var e = _running[index];
        _running.RemoveAt(index);
        e.Tokens.Writer.TryComplete(failure);
        e.Removed.TrySetResult();
    }

    public void Dispose()
    {
        _shutdown.Cancel();
        _thread.Join();
    }
}
