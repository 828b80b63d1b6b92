using System.Diagnostics;
using LLama;
using LLama.Common;
using LLama.Native;
using Sprinter.Benchmarks;
using Sprinter.Engine;

namespace Sprinter.PeerBench;

/// <summary>
/// Times llama.cpp (through LLamaSharp) the way <see cref="SprinterPassTimer"/> times us: a fixed
/// random context in the KV cache, then one decode of k new positions with logits for all of
/// them, rolled back with llama_memory_seq_rm so the next pass starts from the same context.
/// </summary>
sealed class LlamaPassTimer : IPassTimer
{
    readonly LLamaWeights _weights;
    readonly LLamaContext _context;
    readonly LLamaBatch _batch = new();
    readonly int _contextLength, _vocab;

    public LlamaPassTimer(string gguf, string type, int maxPositions, int threads, int context = 32)
    {
        var parameters = new ModelParams(gguf)
        {
            ContextSize = (uint)(context + maxPositions + 8), BatchSize = (uint)Math.Max(context, maxPositions), UBatchSize = (uint)Math.Max(context, maxPositions),
            GpuLayerCount = 0, Threads = threads, BatchThreads = threads,
        };
        _weights = LLamaWeights.LoadFromFile(parameters);
        _context = _weights.CreateContext(parameters);
        _vocab = _weights.Vocab.Count;
        _contextLength = context;
        DType = type;
        WeightBytes = new FileInfo(gguf).Length;
        var rng = new Random(1);
        _batch.Clear();
        for (int i = 0; i < context; i++) _batch.Add(rng.Next(_vocab), i, LLamaSeqId.Zero, i == context - 1);
        Decode();
    }

    public string Engine => "llama.cpp";
    public string DType { get; }
    public long WeightBytes { get; }

    public double TimePass(int k)
    {
        var rng = new Random(k);
        _batch.Clear();
        for (int i = 0; i < k; i++) _batch.Add(rng.Next(_vocab), _contextLength + i, LLamaSeqId.Zero, true);
        long start = Stopwatch.GetTimestamp();
        Decode();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        _context.NativeHandle.MemorySequenceRemove(LLamaSeqId.Zero, _contextLength, -1);
        return ms;
    }

    void Decode()
    {
        var result = _context.Decode(_batch);
        if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {result}");
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
