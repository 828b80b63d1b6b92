using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Sprinter.Models;

namespace Sprinter.Engine;

public enum WeightType { F32, BF16 }

/// <summary>
/// A weight matrix W[in, out] in the packed layout the kernels stream: outputs are grouped in
/// tiles of 32 columns and each tile stores its rows one after another
/// (tile t, row i, lane j at ((t * In + i) * 32 + j)), so a tile is read front to back exactly
/// once per block of positions and stays in L2 while further positions reuse it.
/// </summary>
public sealed unsafe class PackedMatrix : IDisposable
{
    public const int TileWidth = 32;

    readonly void* _data;
    public int In { get; }
    public int Out { get; }
    public int Tiles { get; }
    public WeightType Type { get; }
    public long Bytes => (long)Tiles * In * TileWidth * (Type == WeightType.F32 ? 4 : 2);

    PackedMatrix(int input, int output, WeightType type)
    {
        In = input; Out = output; Type = type;
        Tiles = (output + TileWidth - 1) / TileWidth;
        _data = NativeMemory.AlignedAlloc((nuint)Bytes, 64);
        NativeMemory.Clear(_data, (nuint)Bytes);
    }

    /// <summary>From a row-major [in, out] array (GPT-2's Conv1D layout).</summary>
    public static PackedMatrix FromInOut(ReadOnlySpan<float> w, int input, int output, WeightType type)
    {
        var m = new PackedMatrix(input, output, type);
        for (int i = 0; i < input; i++)
            for (int o = 0; o < output; o++) m.Set(i, o, w[i * output + o]);
        return m;
    }

    /// <summary>From a row-major [out, in] array (torch Linear layout, and the embedding table used as lm_head).</summary>
    public static PackedMatrix FromOutIn(ReadOnlySpan<float> w, int input, int output, WeightType type)
    {
        var m = new PackedMatrix(input, output, type);
        for (int o = 0; o < output; o++)
            for (int i = 0; i < input; i++) m.Set(i, o, w[o * input + i]);
        return m;
    }

    long Index(int i, int o) => ((long)(o / TileWidth) * In + i) * TileWidth + (o % TileWidth);

    void Set(int i, int o, float value)
    {
        if (Type == WeightType.F32) ((float*)_data)[Index(i, o)] = value;
        else ((ushort*)_data)[Index(i, o)] = BFloat16.FromFloat(value);
    }

    public float Get(int i, int o) => Type == WeightType.F32
        ? ((float*)_data)[Index(i, o)]
        : BFloat16.ToFloat(((ushort*)_data)[Index(i, o)]);

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
    public void Multiply(ReadOnlySpan<float> x, Span<float> y, int rows, ReadOnlySpan<float> bias, WorkerPool? pool = null)
    {
        if (x.Length < rows * In || y.Length < rows * Out) throw new ArgumentException("x or y is too small");
        if (!bias.IsEmpty && bias.Length < Out) throw new ArgumentException("bias is too small");
        fixed (float* xp = x) fixed (float* yp = y) fixed (float* bp = bias)
        {
            var job = new MatMulJob(this, xp, yp, bp, rows);
            pool ??= WorkerPool.Shared;
            // Small products are not worth waking the other core (a call costs a few microseconds).
            long work = (long)rows * In * Out;
            int parts = work < 64 * 1024 ? 1 : Math.Min(pool.ThreadCount, Tiles);
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

    readonly struct MatMulJob(PackedMatrix m, float* x, float* y, float* bias, int rows)
    {
        public void Run(int tileStart, int tileEnd)
        {
            if (tileEnd <= tileStart) return;
            if (m.Type == WeightType.F32) MatMulKernels.Run<F32Tile>(m, (float*)m._data, x, y, bias, rows, tileStart, tileEnd);
            else MatMulKernels.Run<BF16Tile>(m, (ushort*)m._data, x, y, bias, rows, tileStart, tileEnd);
        }
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_data);
        GC.SuppressFinalize(this);
    }

    ~PackedMatrix() => NativeMemory.AlignedFree(_data);
}
