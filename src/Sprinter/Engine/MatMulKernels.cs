using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Sprinter.Engine;

/// <summary>
/// y = x W + b over a range of 32-column tiles of a <see cref="PackedMatrix"/>.
/// One kernel per block of positions (3 to 8 in one generic kernel, 2, 1), each generic over the weight format and the
/// vector width: every weight row is loaded and converted once per block of positions, and each
/// block keeps 4 to 16 independent FMA chains so the FMA latency stays hidden. A tile is walked in
/// strips of two vectors (32 lanes on AVX-512, 16 on AVX2, 8 on NEON/SSE); the tile stays in L2
/// while further blocks of positions and strips reuse it. A scalar loop is kept for correctness
/// on machines without vector hardware.
/// </summary>
internal static unsafe class MatMulKernels
{
    const int W = PackedMatrix.TileWidth;

    /// <summary>The instruction set the kernels run on in this process.</summary>
    public static string InstructionSet =>
        Vector512.IsHardwareAccelerated ? "avx512"
        : Vector256.IsHardwareAccelerated ? "avx2"
        : Vector128.IsHardwareAccelerated ? (AdvSimd.IsSupported ? "neon" : "sse")
        : "scalar";

    /// <summary>Floats per vector of the kernels in this process (4 for the scalar path, which reads any layout).</summary>
    public static int VectorCount =>
        Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4;

    /// <param name="segments">Null, or the row counts of consecutive segments (summing to <paramref name="rows"/>):
    /// a block of positions never spans two segments, so each segment's rows are summed in exactly the
    /// order they would be alone. That is what makes a batched pass over many sequences give each one
    /// the bits of its own pass (the blocks keep different numbers of accumulator chains).</param>
    public static void Run<T>(PackedMatrix m, byte* data, float* x, float* y, float* bias, int rows, int tileStart, int tileEnd, int* segments = null)
        where T : IWeightFormat
    {
        if (Vector512.IsHardwareAccelerated) Run<T, Vec512>(m, data, x, y, bias, rows, tileStart, tileEnd, segments);
        else if (Vector256.IsHardwareAccelerated) Run<T, Vec256>(m, data, x, y, bias, rows, tileStart, tileEnd, segments);
        else if (Vector128.IsHardwareAccelerated) Run<T, Vec128>(m, data, x, y, bias, rows, tileStart, tileEnd, segments);
        else RunScalar<T>(m, data, x, y, bias, rows, tileStart, tileEnd);
    }

    // AggressiveOptimization: kernels must run fully optimized from the first call (tier-0 code
    // would make the first passes of a benchmark or a short generation several times slower).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run<T, V>(PackedMatrix m, byte* data, float* x, float* y, float* bias, int rows, int tileStart, int tileEnd, int* segments)
        where T : IWeightFormat where V : struct, IVec<V>
    {
        int n = m.In, outCount = m.Out, strip = 2 * V.Count;
        long tileBytes = T.TileBytes(n);
        // 32-register ISAs keep up to 8 positions' accumulators (16 vectors); 16-register ones 4.
        int maxBlock = V.ManyRegisters ? 8 : 4;
        float* acc = stackalloc float[8 * W];
        for (int t = tileStart; t < tileEnd; t++)
        {
            byte* tile = data + t * tileBytes;
            int col = t * W, width = Math.Min(W, outCount - col);
            int p = 0, segment = 0, segmentEnd = segments == null ? rows : segments[0];
            while (p < rows)
            {
                while (p == segmentEnd) segmentEnd += segments[++segment];
                int left = segmentEnd - p;
                int block = Math.Min(left, maxBlock);
                float* xp = x + (long)p * n;
                for (int lane = 0; lane < width; lane += strip)
                {
                    switch (block)
                    {
                        case 8: BlockRows<T, V, Rows8>(tile, n, xp, lane, acc); break;
                        case 7: BlockRows<T, V, Rows7>(tile, n, xp, lane, acc); break;
                        case 6: BlockRows<T, V, Rows6>(tile, n, xp, lane, acc); break;
                        case 5: BlockRows<T, V, Rows5>(tile, n, xp, lane, acc); break;
                        case 4: BlockRows<T, V, Rows4>(tile, n, xp, lane, acc); break;
                        case 3: BlockRows<T, V, Rows3>(tile, n, xp, lane, acc); break;
                        case 2: Block2<T, V>(tile, n, xp, lane, acc); break;
                        default: Block1<T, V>(tile, n, xp, lane, acc); break;
                    }
                }
                WriteRows(acc, y + (long)p * outCount + col, outCount, bias == null ? null : bias + col, block, width);
                p += block;
            }
        }
    }

    static void WriteRows(float* acc, float* y, int outCount, float* bias, int block, int width)
    {
        for (int r = 0; r < block; r++)
        {
            float* dst = y + (long)r * outCount;
            float* src = acc + r * W;
            if (bias != null) for (int j = 0; j < width; j++) dst[j] = src[j] + bias[j];
            else for (int j = 0; j < width; j++) dst[j] = src[j];
        }
    }

    /// <summary>
    /// R.Count positions (3 to 8) in one walk over the weights: one accumulator pair per position.
    /// R is a struct type, so the JIT compiles one copy per count with the unused positions' code
    /// removed; a pass over 5 positions thus reads each weight row once, not once for a block of 4
    /// and again for the fifth (which made SD's 5-position verification cost 1.6x one position).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BlockRows<T, V, R>(byte* tile, int n, float* x, int lane, float* acc)
        where T : IWeightFormat where V : struct, IVec<V> where R : struct, IRowCount
    {
        V a0 = V.Zero, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
        V a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0, a7 = a0, b7 = a0;
        for (int i0 = 0; i0 < n; i0 += 32)
        {
            byte* block = tile + (long)(i0 / 32) * T.BlockBytes;
            T.Scales<V>(block, lane, out var sLo, out var sHi);
            int end = Math.Min(32, n - i0);
            float* xi = x + i0;
            for (int r = 0; r < end; r++, xi++)
            {
                PrefetchRows<T>(block + r * T.RowBytes, 1);
                T.Load(block + r * T.RowBytes, lane, sLo, sHi, out V lo, out V hi);
                var v = V.Broadcast(xi[0]); a0 = V.MultiplyAdd(lo, v, a0); b0 = V.MultiplyAdd(hi, v, b0);
                v = V.Broadcast(xi[n]); a1 = V.MultiplyAdd(lo, v, a1); b1 = V.MultiplyAdd(hi, v, b1);
                v = V.Broadcast(xi[2 * n]); a2 = V.MultiplyAdd(lo, v, a2); b2 = V.MultiplyAdd(hi, v, b2);
                if (R.Count > 3) { v = V.Broadcast(xi[3 * n]); a3 = V.MultiplyAdd(lo, v, a3); b3 = V.MultiplyAdd(hi, v, b3); }
                if (R.Count > 4) { v = V.Broadcast(xi[4 * n]); a4 = V.MultiplyAdd(lo, v, a4); b4 = V.MultiplyAdd(hi, v, b4); }
                if (R.Count > 5) { v = V.Broadcast(xi[5 * n]); a5 = V.MultiplyAdd(lo, v, a5); b5 = V.MultiplyAdd(hi, v, b5); }
                if (R.Count > 6) { v = V.Broadcast(xi[6 * n]); a6 = V.MultiplyAdd(lo, v, a6); b6 = V.MultiplyAdd(hi, v, b6); }
                if (R.Count > 7) { v = V.Broadcast(xi[7 * n]); a7 = V.MultiplyAdd(lo, v, a7); b7 = V.MultiplyAdd(hi, v, b7); }
            }
        }
        float* o = acc + lane;
        int c = V.Count;
        V.Store(o, a0); V.Store(o + c, b0); V.Store(o + W, a1); V.Store(o + W + c, b1); V.Store(o + 2 * W, a2); V.Store(o + 2 * W + c, b2);
        if (R.Count > 3) { V.Store(o + 3 * W, a3); V.Store(o + 3 * W + c, b3); }
        if (R.Count > 4) { V.Store(o + 4 * W, a4); V.Store(o + 4 * W + c, b4); }
        if (R.Count > 5) { V.Store(o + 5 * W, a5); V.Store(o + 5 * W + c, b5); }
        if (R.Count > 6) { V.Store(o + 6 * W, a6); V.Store(o + 6 * W + c, b6); }
        if (R.Count > 7) { V.Store(o + 7 * W, a7); V.Store(o + 7 * W + c, b7); }
    }

    /// <summary>Two positions; even and odd rows feed separate accumulators (8 chains).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block2<T, V>(byte* tile, int n, float* x, int lane, float* acc) where T : IWeightFormat where V : struct, IVec<V>
    {
        V a0 = V.Zero, b0 = a0, a1 = a0, b1 = a0, c0 = a0, d0 = a0, c1 = a0, d1 = a0;
        for (int i0 = 0; i0 < n; i0 += 32)
        {
            byte* block = tile + (long)(i0 / 32) * T.BlockBytes;
            T.Scales<V>(block, lane, out var sLo, out var sHi);
            int end = Math.Min(32, n - i0), r = 0;
            float* xi = x + i0;
            for (; r + 1 < end; r += 2)
            {
                PrefetchRows<T>(block + r * T.RowBytes, 2);
                T.Load(block + r * T.RowBytes, lane, sLo, sHi, out V lo, out V hi);
                T.Load(block + (r + 1) * T.RowBytes, lane, sLo, sHi, out V lo1, out V hi1);
                var v = V.Broadcast(xi[r]); a0 = V.MultiplyAdd(lo, v, a0); b0 = V.MultiplyAdd(hi, v, b0);
                v = V.Broadcast(xi[n + r]); a1 = V.MultiplyAdd(lo, v, a1); b1 = V.MultiplyAdd(hi, v, b1);
                v = V.Broadcast(xi[r + 1]); c0 = V.MultiplyAdd(lo1, v, c0); d0 = V.MultiplyAdd(hi1, v, d0);
                v = V.Broadcast(xi[n + r + 1]); c1 = V.MultiplyAdd(lo1, v, c1); d1 = V.MultiplyAdd(hi1, v, d1);
            }
            if (r < end)
            {
                T.Load(block + r * T.RowBytes, lane, sLo, sHi, out V lo, out V hi);
                var v = V.Broadcast(xi[r]); a0 = V.MultiplyAdd(lo, v, a0); b0 = V.MultiplyAdd(hi, v, b0);
                v = V.Broadcast(xi[n + r]); a1 = V.MultiplyAdd(lo, v, a1); b1 = V.MultiplyAdd(hi, v, b1);
            }
        }
        float* o = acc + lane;
        int c = V.Count;
        V.Store(o, V.Add(a0, c0)); V.Store(o + c, V.Add(b0, d0)); V.Store(o + W, V.Add(a1, c1)); V.Store(o + W + c, V.Add(b1, d1));
    }

    /// <summary>
    /// One position; four rows at a time feed separate accumulators (8 chains). For a scaled format
    /// the four partial sums of a block are scaled once at the block's end, not every row: with
    /// one position each row would otherwise cost a multiply per FMA.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block1<T, V>(byte* tile, int n, float* x, int lane, float* acc) where T : IWeightFormat where V : struct, IVec<V>
    {
        V a0 = V.Zero, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, totalLo = a0, totalHi = a0;
        for (int i0 = 0; i0 < n; i0 += 32)
        {
            byte* block = tile + (long)(i0 / 32) * T.BlockBytes;
            T.Scales<V>(block, lane, out var sLo, out var sHi);
            int end = Math.Min(32, n - i0), r = 0;
            float* xi = x + i0;
            for (; r + 3 < end; r += 4)
            {
                byte* row = block + r * T.RowBytes;
                PrefetchRows<T>(row, 4);
                V l0, h0, l1, h1, l2, h2, l3, h3;
                if (T.Scaled)
                {
                    Q8Format.LoadUnscaled(row, lane, out l0, out h0);
                    Q8Format.LoadUnscaled(row + T.RowBytes, lane, out l1, out h1);
                    Q8Format.LoadUnscaled(row + 2 * T.RowBytes, lane, out l2, out h2);
                    Q8Format.LoadUnscaled(row + 3 * T.RowBytes, lane, out l3, out h3);
                }
                else
                {
                    T.Load(row, lane, sLo, sHi, out l0, out h0);
                    T.Load(row + T.RowBytes, lane, sLo, sHi, out l1, out h1);
                    T.Load(row + 2 * T.RowBytes, lane, sLo, sHi, out l2, out h2);
                    T.Load(row + 3 * T.RowBytes, lane, sLo, sHi, out l3, out h3);
                }
                var v = V.Broadcast(xi[r]); a0 = V.MultiplyAdd(l0, v, a0); b0 = V.MultiplyAdd(h0, v, b0);
                v = V.Broadcast(xi[r + 1]); a1 = V.MultiplyAdd(l1, v, a1); b1 = V.MultiplyAdd(h1, v, b1);
                v = V.Broadcast(xi[r + 2]); a2 = V.MultiplyAdd(l2, v, a2); b2 = V.MultiplyAdd(h2, v, b2);
                v = V.Broadcast(xi[r + 3]); a3 = V.MultiplyAdd(l3, v, a3); b3 = V.MultiplyAdd(h3, v, b3);
            }
            for (; r < end; r++)
            {
                V lo, hi;
                if (T.Scaled) Q8Format.LoadUnscaled(block + r * T.RowBytes, lane, out lo, out hi);
                else T.Load(block + r * T.RowBytes, lane, sLo, sHi, out lo, out hi);
                var v = V.Broadcast(xi[r]); a0 = V.MultiplyAdd(lo, v, a0); b0 = V.MultiplyAdd(hi, v, b0);
            }
            if (T.Scaled)
            {
                totalLo = V.MultiplyAdd(V.Add(V.Add(a0, a1), V.Add(a2, a3)), sLo, totalLo);
                totalHi = V.MultiplyAdd(V.Add(V.Add(b0, b1), V.Add(b2, b3)), sHi, totalHi);
                a0 = b0 = a1 = b1 = a2 = b2 = a3 = b3 = V.Zero;
            }
        }
        float* o = acc + lane;
        if (T.Scaled)
        {
            V.Store(o, totalLo);
            V.Store(o + V.Count, totalHi);
        }
        else
        {
            V.Store(o, V.Add(V.Add(a0, a1), V.Add(a2, a3)));
            V.Store(o + V.Count, V.Add(V.Add(b0, b1), V.Add(b2, b3)));
        }
    }

    // Far enough ahead to cover memory latency at one core's bandwidth (~100 ns x 25 GB/s): when
    // several positions make the loop compute-bound the hardware prefetcher alone falls behind.
    const int PrefetchDistance = 2048;

    /// <summary>Prefetches every cache line of <paramref name="rows"/> rows, PrefetchDistance ahead.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void PrefetchRows<T>(byte* row, int rows) where T : IWeightFormat
    {
        if (!Sse.IsSupported) return;
        for (int b = 0; b < rows * T.RowBytes; b += 64) Sse.Prefetch0(row + PrefetchDistance + b);
    }

    static void RunScalar<T>(PackedMatrix m, byte* data, float* x, float* y, float* bias, int rows, int tileStart, int tileEnd) where T : IWeightFormat
    {
        int n = m.In, outCount = m.Out;
        long tileBytes = T.TileBytes(n);
        for (int t = tileStart; t < tileEnd; t++)
        {
            byte* tile = data + t * tileBytes;
            int col = t * W, width = Math.Min(W, outCount - col);
            for (int p = 0; p < rows; p++)
                for (int j = 0; j < width; j++)
                {
                    float sum = 0;
                    for (int i = 0; i < n; i++) sum = MathF.FusedMultiplyAdd(T.Get(tile, i, j), x[(long)p * n + i], sum);
                    y[(long)p * outCount + col + j] = bias == null ? sum : sum + bias[col + j];
                }
        }
    }
}

/// <summary>A block's position count as a type, so each count gets its own compiled kernel.</summary>
internal interface IRowCount { static abstract int Count { get; } }
internal struct Rows3 : IRowCount { public static int Count => 3; }
internal struct Rows4 : IRowCount { public static int Count => 4; }
internal struct Rows5 : IRowCount { public static int Count => 5; }
internal struct Rows6 : IRowCount { public static int Count => 6; }
internal struct Rows7 : IRowCount { public static int Count => 7; }
internal struct Rows8 : IRowCount { public static int Count => 8; }
