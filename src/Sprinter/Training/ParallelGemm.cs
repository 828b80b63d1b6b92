using System.Numerics;
using Sprinter.Engine;

namespace Sprinter.Training;

/// <summary>
/// Runs <see cref="Gemm{T}"/> on a worker pool. The output is cut into a fixed number of
/// contiguous row (or column) ranges, one per worker, each reducing over all of k itself: no
/// cross-thread reduction exists, so the result is bit-identical for any thread count.
/// </summary>
internal sealed class ParallelGemm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // Below this many multiply-adds a second thread costs more to wake than it saves.
    const long MinParallelWork = 1 << 16;

    readonly GemmScratch<T>[] _scratch;
    readonly Action<int> _job;
    // The call in flight (one at a time: the pool is not reentrant).
    int _m, _n, _k, _parts, _cOffset, _ldc;
    bool _splitRows, _accumulate;
    Operand<T> _a, _b;
    T[] _c = [];

    public WorkerPool Pool { get; }
    public int ThreadCount => Pool.ThreadCount;

    public ParallelGemm(WorkerPool pool)
    {
        Pool = pool;
        _scratch = new GemmScratch<T>[pool.ThreadCount];
        for (int i = 0; i < _scratch.Length; i++) _scratch[i] = new GemmScratch<T>();
        _job = RunPart;
    }

    /// <summary>Packing buffers of worker <paramref name="part"/>, for serial GEMMs inside a parallel region.</summary>
    public GemmScratch<T> Scratch(int part) => _scratch[part];

    /// <summary>C[m, n] (+)= op(A) · op(B) with op(A) [m, k] and op(B) [k, n].</summary>
    public void Multiply(int m, int n, int k, Operand<T> a, Operand<T> b, T[] c, int cOffset, int ldc, bool accumulate)
    {
        (_m, _n, _k, _a, _b, _c, _cOffset, _ldc, _accumulate) = (m, n, k, a, b, c, cOffset, ldc, accumulate);
        _splitRows = m >= n;
        int tiles = _splitRows ? (m + Gemm<T>.MR - 1) / Gemm<T>.MR : (n + Gemm<T>.NR - 1) / Gemm<T>.NR;
        _parts = (long)m * n * k < MinParallelWork ? 1 : Math.Min(ThreadCount, tiles);
        Pool.Run(_parts, _job);
        _c = [];
    }

    void RunPart(int part)
    {
        // Split on tile boundaries so no micro-tile straddles two workers.
        if (_splitRows)
        {
            int tile = Gemm<T>.MR, tiles = (_m + tile - 1) / tile;
            int r0 = Math.Min(_m, tiles * part / _parts * tile), r1 = Math.Min(_m, tiles * (part + 1) / _parts * tile);
            Gemm<T>.Multiply(_k, _a, _b, _c, _cOffset, _ldc, _accumulate, r0, r1, 0, _n, _scratch[part]);
        }
        else
        {
            int tile = Gemm<T>.NR, tiles = (_n + tile - 1) / tile;
            int c0 = Math.Min(_n, tiles * part / _parts * tile), c1 = Math.Min(_n, tiles * (part + 1) / _parts * tile);
            Gemm<T>.Multiply(_k, _a, _b, _c, _cOffset, _ldc, _accumulate, 0, _m, c0, c1, _scratch[part]);
        }
    }
}
