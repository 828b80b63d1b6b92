using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Sprinter.Models;

namespace Sprinter.Engine;

/// <summary>Run-time weight types: fp32, bfloat16, and GGUF-style Q8_0 (int8 blocks of 32 with one scale each).</summary>
public enum WeightType { F32, BF16, Q8_0 }

public static class WeightTypes
{
    /// <summary>The name used by --dtype, reports and JSON: fp32, bf16, q8_0.</summary>
    public static string Name(this WeightType type) => type switch
    {
        WeightType.F32 => "fp32",
        WeightType.BF16 => "bf16",
        _ => "q8_0",
    };

    /// <summary>Parses a --dtype value; null for auto. Throws <see cref="InvalidInputException"/> naming <paramref name="option"/>.</summary>
    public static WeightType? Parse(string text, string option = "--dtype") => text.Trim().ToLowerInvariant() switch
    {
        "auto" => null,
        "fp32" or "f32" or "float32" => WeightType.F32,
        "bf16" or "bfloat16" => WeightType.BF16,
        "q8_0" or "q8" or "int8" => WeightType.Q8_0,
        _ => throw new InvalidInputException($"{option} must be auto, fp32, bf16 or q8_0, got '{text}'."),
    };
}

/// <summary>
/// A weight matrix W[in, out] in the packed layout the kernels stream: outputs are grouped in
/// tiles of 32 columns and each tile stores its input rows one after another in blocks of 32
/// rows (the layout of a block is the weight format's: see <see cref="IWeightFormat"/>), so a
/// tile is read front to back exactly once per block of positions and stays in L2 while further
/// positions reuse it.
/// </summary>
public sealed unsafe class PackedMatrix : IDisposable
{
    public const int TileWidth = 32;
    // Below this many multiply-adds a product runs on the calling thread: waking the other core
    // costs a few microseconds. Measured on the shipped draft (2 x 128, bf16, bench-engine, k = 1,
    // 101 passes, Zen 5): 0.035-0.037 ms per pass at 64 Ki, 0.030-0.031 at 256 Ki and at 1 Mi,
    // 0.040-0.041 all on one thread; the shipped target was unchanged (0.34-0.40 ms either way).
    const long ParallelThreshold = 256 * 1024;

    readonly byte* _data;
    readonly long _tileBytes;
    public int In { get; }
    public int Out { get; }
    public int Tiles { get; }
    public WeightType Type { get; }
    public long Bytes => Tiles * _tileBytes;

    PackedMatrix(int input, int output, WeightType type)
    {
        In = input; Out = output; Type = type;
        Tiles = (output + TileWidth - 1) / TileWidth;
        _tileBytes = type switch
        {
            WeightType.F32 => F32Format.TileBytes(input),
            WeightType.BF16 => BF16Format.TileBytes(input),
            WeightType.Q8_0 => Q8Format.TileBytes(input),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
        // Not cleared: Pack writes every byte, tile by tile on both cores, so the first touch of these
        // pages (the slow part of a load on this VM) is split between them.
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, 64);
    }

    /// <summary>From a row-major [in, out] array (GPT-2's Conv1D layout).</summary>
    public static PackedMatrix FromInOut(ReadOnlySpan<float> w, int input, int output, WeightType type)
    {
        var m = new PackedMatrix(input, output, type);
        fixed (float* p = w) m.Pack(p, outIn: false);
        return m;
    }

    /// <summary>From a row-major [out, in] array (torch Linear layout, and the embedding table used as lm_head).</summary>
    public static PackedMatrix FromOutIn(ReadOnlySpan<float> w, int input, int output, WeightType type)
    {
        var m = new PackedMatrix(input, output, type);
        fixed (float* p = w) m.Pack(p, outIn: true);
        return m;
    }

    /// <summary>
    /// Encodes every tile from its 32 columns gathered into a [row, 32 lanes] buffer; tiles are
    /// independent, so both cores pack (a 1B model's load was dominated by packing).
    /// </summary>
    void Pack(float* w, bool outIn)
    {
        long input = In, output = Out;
        var pool = WorkerPool.Shared;
        int parts = Math.Min(pool.ThreadCount, Tiles);
        void PackTiles(int part)
        {
            int start = (int)((long)Tiles * part / parts), end = (int)((long)Tiles * (part + 1) / parts);
            var buffer = new float[input * TileWidth];
            fixed (float* src = buffer)
                for (int t = start; t < end; t++)
                {
                    Array.Clear(buffer);
                    int col = t * TileWidth, width = Math.Min(TileWidth, Out - col);
                    if (outIn)
                        for (int j = 0; j < width; j++)
                        {
                            float* column = w + (col + j) * input;   // W[:, col + j] is row col + j of [out, in]
                            for (long i = 0; i < input; i++) src[i * TileWidth + j] = column[i];
                        }
                    else
                        for (long i = 0; i < input; i++) Buffer.MemoryCopy(w + i * output + col, src + i * TileWidth, TileWidth * 4, width * 4);
                    byte* tile = _data + t * _tileBytes;
                    switch (Type)
                    {
                        case WeightType.F32: F32Format.Pack(src, In, tile); break;
                        case WeightType.BF16: BF16Format.Pack(src, In, tile); break;
                        default: Q8Format.Pack(src, In, tile); break;
                    }
                }
        }
        if (parts > 1 && pool.TryAcquire())
        {
            try { pool.RunAcquired(parts, PackTiles); }
            finally { pool.Release(); }
        }
        else for (int part = 0; part < parts; part++) PackTiles(part);
    }

    /// <summary>The stored weight W[i, o] as the kernels see it (after rounding or quantization).</summary>
    public float Get(int i, int o)
    {
        byte* tile = _data + (o / TileWidth) * _tileBytes;
        return Type switch
        {
            WeightType.F32 => F32Format.Get(tile, i, o % TileWidth),
            WeightType.BF16 => BF16Format.Get(tile, i, o % TileWidth),
            _ => Q8Format.Get(tile, i, o % TileWidth),
        };
    }

    /// <summary>Copies column o (all inputs) into dest: the embedding row of token o when this is lm_head.</summary>
    public void GetColumn(int o, Span<float> dest)
    {
        for (int i = 0; i < In; i++) dest[i] = Get(i, o);
    }

    /// <summary>Unpacks to a row-major [in, out] array.</summary>
    public float[] ToInOut()
    {
        var w = new float[(long)In * Out];
        for (int i = 0; i < In; i++)
            for (int o = 0; o < Out; o++) w[(long)i * Out + o] = Get(i, o);
        return w;
    }

    /// <summary>y[p, :] = x[p, :] W (+ bias) for p in [0, rows); x is [rows, In], y is [rows, Out], row-major.</summary>
    public void Multiply(ReadOnlySpan<float> x, Span<float> y, int rows, ReadOnlySpan<float> bias, WorkerPool? pool = null) =>
        Multiply(x, y, rows, bias, pool, []);

    /// <summary>
    /// As <see cref="Multiply(ReadOnlySpan{float}, Span{float}, int, ReadOnlySpan{float}, WorkerPool?)"/> over the rows of several
    /// sequences at once (<paramref name="segments"/>: each one's row count, in order; empty: one sequence). The
    /// weights are read once for all rows, and each segment's results are bit for bit those of its own call.
    /// </summary>
    public void Multiply(ReadOnlySpan<float> x, Span<float> y, int rows, ReadOnlySpan<float> bias, WorkerPool? pool, ReadOnlySpan<int> segments)
    {
        if (x.Length < rows * In || y.Length < rows * Out) throw new ArgumentException("x or y is too small");
        if (!bias.IsEmpty && bias.Length < Out) throw new ArgumentException("bias is too small");
        fixed (float* xp = x) fixed (float* yp = y) fixed (float* bp = bias) fixed (int* sp = segments)
        {
            var job = new MatMulJob(this, xp, yp, bp, rows, segments.Length > 1 ? sp : null);
            pool ??= WorkerPool.Shared;
            long work = (long)rows * In * Out;
            int parts = work < ParallelThreshold ? 1 : Math.Min(pool.ThreadCount, Tiles);
            // The job lives in fields (the cached delegate needs no closure), so it is written only
            // after this thread holds the pool; a thread that cannot get it runs the job inline.
            if (parts > 1 && pool.TryAcquire())
            {
                try
                {
                    _activeJob = job;
                    _activeParts = parts;
                    pool.RunAcquired(parts, _runPart ??= RunPart);
                    _activeJob = default;
                }
                finally { pool.Release(); }
            }
            else job.Run(0, Tiles);
        }
    }

    // The job for the call in flight, kept in a field so the cached delegate needs no closure.
    MatMulJob _activeJob;
    int _activeParts;
    Action<int>? _runPart;

    void RunPart(int part)
    {
        int start = (int)((long)Tiles * part / _activeParts), end = (int)((long)Tiles * (part + 1) / _activeParts);
        _activeJob.Run(start, end);
    }

    readonly struct MatMulJob(PackedMatrix m, float* x, float* y, float* bias, int rows, int* segments)
    {
        public void Run(int tileStart, int tileEnd)
        {
            if (tileEnd <= tileStart) return;
            switch (m.Type)
            {
                case WeightType.F32: MatMulKernels.Run<F32Format>(m, m._data, x, y, bias, rows, tileStart, tileEnd, segments); break;
                case WeightType.BF16: MatMulKernels.Run<BF16Format>(m, m._data, x, y, bias, rows, tileStart, tileEnd, segments); break;
                default: MatMulKernels.Run<Q8Format>(m, m._data, x, y, bias, rows, tileStart, tileEnd, segments); break;
            }
        }
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_data);
        GC.SuppressFinalize(this);
    }

    ~PackedMatrix() => NativeMemory.AlignedFree(_data);
}
