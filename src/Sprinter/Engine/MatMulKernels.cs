using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Sprinter.Engine;

/// <summary>
/// y = x W + b over a range of 32-column tiles of a <see cref="PackedMatrix"/>.
/// One kernel per block of positions (3 to 8 in one generic kernel; 1 and 2 over several tiles at
/// once), each generic over the weight format and the vector width: every weight row is loaded and
/// converted once per block of positions, and each block keeps 8 to 16 independent FMA chains so
/// the FMA latency stays hidden. Every kernel computes each (position, output) the same way: one
/// chain of FMAs of the scaled weights over the inputs in order, from zero. So a position's
/// result never depends on which other positions share its block: a batched pass over many
/// sequences gives each one the bits of its own pass (the 1- and 2-position kernels get their
/// chains from neighbouring tiles instead of from splitting the inputs, which would change the sums). A tile is walked in
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

    public static void Run<T>(PackedMatrix m, byte* data, float* x, float* y, float* bias, int rows, int tileStart, int tileEnd)
        where T : IWeightFormat
    {
        if (Vector512.IsHardwareAccelerated) Run<T, Vec512>(m, data, x, y, bias, rows, tileStart, tileEnd);
        else if (Vector256.IsHardwareAccelerated) Run<T, Vec256>(m, data, x, y, bias, rows, tileStart, tileEnd);
        else if (Vector128.IsHardwareAccelerated) Run<T, Vec128>(m, data, x, y, bias, rows, tileStart, tileEnd);
        else RunScalar<T>(m, data, x, y, bias, rows, tileStart, tileEnd);
    }

    // AggressiveOptimization: kernels must run fully optimized from the first call (tier-0 code
    // would make the first passes of a benchmark or a short generation several times slower).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run<T, V>(PackedMatrix m, byte* data, float* x, float* y, float* bias, int rows, int tileStart, int tileEnd)
        where T : IWeightFormat where V : struct, IVec<V>
    {
        int n = m.In, outCount = m.Out, strip = 2 * V.Count;
        long tileBytes = T.TileBytes(n);
        // 32-register ISAs keep up to 8 positions' accumulators (16 vectors); 16-register ones 4.
        int maxBlock = V.ManyRegisters ? 8 : 4;
        float* acc = stackalloc float[Group * 8 * W];
        // Tiles in groups of 4: blocks of 1 or 2 positions walk the group's tiles together for their
        // FMA chains; larger blocks walk them one by one. The group stays in L2 across the blocks.
        for (int t0 = tileStart; t0 < tileEnd; t0 += Group)
        {
            int g = Math.Min(Group, tileEnd - t0);
            byte* first = data + t0 * tileBytes;
            int p = 0;
            while (p < rows)
            {
                int block = Math.Min(rows - p, maxBlock);
                float* xp = x + (long)p * n;
                if (block >= 3)
                    for (int k = 0; k < g; k++)
                    {
                        byte* tile = first + k * tileBytes;
                        for (int lane = 0; lane < W; lane += strip)
                        {
                            switch (block)
                            {
                                case 8: BlockRows<T, V, Rows8>(tile, n, xp, lane, acc + k * 8 * W); break;
                                case 7: BlockRows<T, V, Rows7>(tile, n, xp, lane, acc + k * 8 * W); break;
                                case 6: BlockRows<T, V, Rows6>(tile, n, xp, lane, acc + k * 8 * W); break;
                                case 5: BlockRows<T, V, Rows5>(tile, n, xp, lane, acc + k * 8 * W); break;
                                case 4: BlockRows<T, V, Rows4>(tile, n, xp, lane, acc + k * 8 * W); break;
                                default: BlockRows<T, V, Rows3>(tile, n, xp, lane, acc + k * 8 * W); break;
                            }
                        }
                    }
                else
                    for (int lane = 0; lane < W; lane += strip)
                    {
                        if (block == 2)
                            for (int k = 0; k < g; k += 2)
                            {
                                if (g - k >= 2) Rows2<T, V, Tiles2>(first + k * tileBytes, tileBytes, n, xp, lane, acc + k * 8 * W);
                                else Rows2<T, V, Tiles1>(first + k * tileBytes, tileBytes, n, xp, lane, acc + k * 8 * W);
                            }
                        else
                            switch (g)
                            {
                                case 4: Rows1<T, V, Tiles4>(first, tileBytes, n, xp, lane, acc); break;
                                case 3: Rows1<T, V, Tiles3>(first, tileBytes, n, xp, lane, acc); break;
                                case 2: Rows1<T, V, Tiles2>(first, tileBytes, n, xp, lane, acc); break;
                                default: Rows1<T, V, Tiles1>(first, tileBytes, n, xp, lane, acc); break;
                            }
                    }
                for (int k = 0; k < g; k++)
                {
                    int col = (t0 + k) * W, width = Math.Min(W, outCount - col);
                    WriteRows(acc + k * 8 * W, y + (long)p * outCount + col, outCount, bias == null ? null : bias + col, block, width);
                }
                p += block;
            }
        }
    }

    /// <summary>Tiles the 1- and 2-position kernels walk together.</summary>
    const int Group = 4;

    internal static void WriteRows(float* acc, float* y, int outCount, float* bias, int block, int width)
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

    /// <summary>
    /// One position over G neighbouring tiles at once (2 G FMA chains: each tile's two vectors), each
    /// chain summing its output's inputs in order exactly as <see cref="BlockRows"/> does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows1<T, V, G>(byte* tile, long tileBytes, int n, float* x, int lane, float* acc)
        where T : IWeightFormat where V : struct, IVec<V> where G : struct, IRowCount
    {
        V a0 = V.Zero, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
        V s0 = a0, h0 = a0, s1 = a0, h1 = a0, s2 = a0, h2 = a0, s3 = a0, h3 = a0;
        for (int i0 = 0; i0 < n; i0 += 32)
        {
            byte* k0 = tile + (long)(i0 / 32) * T.BlockBytes, k1 = k0 + tileBytes, k2 = k1 + tileBytes, k3 = k2 + tileBytes;
            T.Scales<V>(k0, lane, out s0, out h0);
            if (G.Count > 1) T.Scales<V>(k1, lane, out s1, out h1);
            if (G.Count > 2) T.Scales<V>(k2, lane, out s2, out h2);
            if (G.Count > 3) T.Scales<V>(k3, lane, out s3, out h3);
            int end = Math.Min(32, n - i0);
            float* xi = x + i0;
            for (int r = 0; r < end; r++)
            {
                int at = r * T.RowBytes;
                PrefetchRows<T>(k0 + at, 1);
                var v = V.Broadcast(xi[r]);
                T.Load(k0 + at, lane, s0, h0, out V lo, out V hi); a0 = V.MultiplyAdd(lo, v, a0); b0 = V.MultiplyAdd(hi, v, b0);
                if (G.Count > 1) { PrefetchRows<T>(k1 + at, 1); T.Load(k1 + at, lane, s1, h1, out lo, out hi); a1 = V.MultiplyAdd(lo, v, a1); b1 = V.MultiplyAdd(hi, v, b1); }
                if (G.Count > 2) { PrefetchRows<T>(k2 + at, 1); T.Load(k2 + at, lane, s2, h2, out lo, out hi); a2 = V.MultiplyAdd(lo, v, a2); b2 = V.MultiplyAdd(hi, v, b2); }
                if (G.Count > 3) { PrefetchRows<T>(k3 + at, 1); T.Load(k3 + at, lane, s3, h3, out lo, out hi); a3 = V.MultiplyAdd(lo, v, a3); b3 = V.MultiplyAdd(hi, v, b3); }
            }
        }
        float* o = acc + lane;
        int c = V.Count, t = 8 * W;   // each tile's accumulators are 8 x W floats apart
        V.Store(o, a0); V.Store(o + c, b0);
        if (G.Count > 1) { V.Store(o + t, a1); V.Store(o + t + c, b1); }
        if (G.Count > 2) { V.Store(o + 2 * t, a2); V.Store(o + 2 * t + c, b2); }
        if (G.Count > 3) { V.Store(o + 3 * t, a3); V.Store(o + 3 * t + c, b3); }
    }

    /// <summary>Two positions over G (1 or 2) neighbouring tiles (4 G chains), each chain as in <see cref="BlockRows"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows2<T, V, G>(byte* tile, long tileBytes, int n, float* x, int lane, float* acc)
        where T : IWeightFormat where V : struct, IVec<V> where G : struct, IRowCount
    {
        V a0 = V.Zero, b0 = a0, c0 = a0, d0 = a0, a1 = a0, b1 = a0, c1 = a0, d1 = a0;
        V s0 = a0, h0 = a0, s1 = a0, h1 = a0;
        for (int i0 = 0; i0 < n; i0 += 32)
        {
            byte* k0 = tile + (long)(i0 / 32) * T.BlockBytes, k1 = k0 + tileBytes;
            T.Scales<V>(k0, lane, out s0, out h0);
            if (G.Count > 1) T.Scales<V>(k1, lane, out s1, out h1);
            int end = Math.Min(32, n - i0);
            float* xi = x + i0;
            for (int r = 0; r < end; r++)
            {
                int at = r * T.RowBytes;
                PrefetchRows<T>(k0 + at, 1);
                var v = V.Broadcast(xi[r]);
                var u = V.Broadcast(xi[n + r]);
                T.Load(k0 + at, lane, s0, h0, out V lo, out V hi);
                a0 = V.MultiplyAdd(lo, v, a0); b0 = V.MultiplyAdd(hi, v, b0); c0 = V.MultiplyAdd(lo, u, c0); d0 = V.MultiplyAdd(hi, u, d0);
                if (G.Count > 1)
                {
                    PrefetchRows<T>(k1 + at, 1);
                    T.Load(k1 + at, lane, s1, h1, out lo, out hi);
                    a1 = V.MultiplyAdd(lo, v, a1); b1 = V.MultiplyAdd(hi, v, b1); c1 = V.MultiplyAdd(lo, u, c1); d1 = V.MultiplyAdd(hi, u, d1);
                }
            }
        }
        float* o = acc + lane;
        int c = V.Count, t = 8 * W;
        V.Store(o, a0); V.Store(o + c, b0); V.Store(o + W, c0); V.Store(o + W + c, d0);
        if (G.Count > 1) { V.Store(o + t, a1); V.Store(o + t + c, b1); V.Store(o + t + W, c1); V.Store(o + t + W + c, d1); }
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
internal struct Tiles1 : IRowCount { public static int Count => 1; }
internal struct Tiles2 : IRowCount { public static int Count => 2; }
internal struct Tiles3 : IRowCount { public static int Count => 3; }
internal struct Tiles4 : IRowCount { public static int Count => 4; }
internal struct Rows4 : IRowCount { public static int Count => 4; }
internal struct Rows5 : IRowCount { public static int Count => 5; }
internal struct Rows6 : IRowCount { public static int Count => 6; }
internal struct Rows7 : IRowCount { public static int Count => 7; }
internal struct Rows8 : IRowCount { public static int Count => 8; }
