using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sprinter.Engine;

/// <summary>
/// y = x W + b for the 4-bit formats (<see cref="IQ4Format"/>: w = q s - o per 32-input
/// sub-block), generic over the format and the vector width like <see cref="MatMulKernels"/>.
/// One idea: nibbles widen to fp32 and meet fp32 activations in FMAs; the scale is applied once
/// per sub-block and the offset never touches the weights: sum_i (q_i s - o) x_i =
/// s (sum_i q_i x_i) - o (sum_i x_i), where sum_i x_i is the activations' block sum (what
/// llama.cpp's Q8_K block sums do for the K-quant mins), computed once per call.
/// <para>
/// Why fp32 FMAs and not 8-bit activations with integer dot products: .NET 10 exposes VNNI only as
/// <see cref="AvxVnni"/> (256-bit vpdpbusd; no 512-bit class, and Avx10v1 is absent on AMD Zen 4/5),
/// so on an AVX-512 host an integer kernel would run at half the vector width; and rounding the
/// activations to 8 bits moves the logits (llama.cpp's differ from the exact product by 0.5-2%,
/// GgufParityTests), where this kernel gives the dequantized file's fp32 logits within 1e-6. The
/// integer kernel was not built and timed (a time limit); the choice rests on interleaved PeerBench
/// runs beside llama.cpp's integer kernels (Llama-3.2-1B shape, Zen 5, AVX-512, README's GGUF
/// section, a host shared with other jobs): this kernel took 0.08-0.46x llama.cpp's time at k = 1
/// to 16 on Q4_0, Q4_K_M and Q6_K files in the table's run; at a quieter moment it took 0.74x
/// (Q4_0) and 1.20x (Q4_K_M, before its scales were widened to fp32) at k = 1, 0.83-0.87x at k = 4.
/// </para>
/// </summary>
internal static unsafe class Q4Kernels
{
    const int W = PackedMatrix.TileWidth;

    public static void Run<Q>(int n, int outCount, byte* data, float* x, float* y, float* bias, int rows, int tileStart, int tileEnd)
        where Q : IQ4Format
    {
        int blocks = n / Q.SubRows;
        float[] rented = ArrayPool<float>.Shared.Rent(rows * blocks);
        try
        {
            fixed (float* sums = rented)
            {
                for (int p = 0; p < rows; p++)
                    for (int b = 0; b < blocks; b++)
                        sums[p * blocks + b] = TensorPrimitives.Sum(new ReadOnlySpan<float>(x + (long)p * n + b * Q.SubRows, Q.SubRows));
                if (Vector512.IsHardwareAccelerated) Run<Q, Vec512>(n, outCount, data, x, sums, y, bias, rows, tileStart, tileEnd);
                else if (Vector256.IsHardwareAccelerated) Run<Q, Vec256>(n, outCount, data, x, sums, y, bias, rows, tileStart, tileEnd);
                else if (Vector128.IsHardwareAccelerated) Run<Q, Vec128>(n, outCount, data, x, sums, y, bias, rows, tileStart, tileEnd);
                else RunScalar<Q>(n, outCount, data, x, y, bias, rows, tileStart, tileEnd);
            }
        }
        finally { ArrayPool<float>.Shared.Return(rented); }
    }

    // As in MatMulKernels, every kernel computes each (position, output) alike (per sub-block one
    // FMA chain over its inputs in order, folded into the running total), the 1- and 2-position
    // kernels taking their chains from neighbouring tiles: a position's result never depends on the
    // positions beside it, so batched passes over many sequences give each one its own pass's bits.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run<Q, V>(int n, int outCount, byte* data, float* x, float* sums, float* y, float* bias, int rows, int tileStart, int tileEnd)
        where Q : IQ4Format where V : struct, IVec<V>
    {
        int strip = 2 * V.Count, blocks = n / Q.SubRows;
        long tileBytes = Q.TileBytes(n);
        int maxBlock = V.ManyRegisters ? 8 : 4;
        float* acc = stackalloc float[Group * 8 * W];
        for (int t0 = tileStart; t0 < tileEnd; t0 += Group)
        {
            int g = Math.Min(Group, tileEnd - t0);
            byte* first = data + t0 * tileBytes;
            for (int p = 0; p < rows;)
            {
                int block = Math.Min(rows - p, maxBlock);
                float* xp = x + (long)p * n;
                float* sp = sums + p * blocks;
                if (block >= 3)
                    for (int k = 0; k < g; k++)
                        for (int lane = 0; lane < W; lane += strip)
                        {
                            byte* tile = first + k * tileBytes;
                            float* a = acc + k * 8 * W;
                            switch (block)
                            {
                                case 8: BlockRows<Q, V, Rows8>(tile, n, xp, sp, lane, a); break;
                                case 7: BlockRows<Q, V, Rows7>(tile, n, xp, sp, lane, a); break;
                                case 6: BlockRows<Q, V, Rows6>(tile, n, xp, sp, lane, a); break;
                                case 5: BlockRows<Q, V, Rows5>(tile, n, xp, sp, lane, a); break;
                                case 4: BlockRows<Q, V, Rows4>(tile, n, xp, sp, lane, a); break;
                                default: BlockRows<Q, V, Rows3>(tile, n, xp, sp, lane, a); break;
                            }
                        }
                else
                    for (int lane = 0; lane < W; lane += strip)
                    {
                        if (block == 2)
                            for (int k = 0; k < g; k += 2)
                            {
                                if (g - k >= 2) Rows2<Q, V, Tiles2>(first + k * tileBytes, tileBytes, n, xp, sp, lane, acc + k * 8 * W);
                                else Rows2<Q, V, Tiles1>(first + k * tileBytes, tileBytes, n, xp, sp, lane, acc + k * 8 * W);
                            }
                        else
                            switch (g)
                            {
                                case 4: Rows1<Q, V, Tiles4>(first, tileBytes, n, xp, sp, lane, acc); break;
                                case 3: Rows1<Q, V, Tiles3>(first, tileBytes, n, xp, sp, lane, acc); break;
                                case 2: Rows1<Q, V, Tiles2>(first, tileBytes, n, xp, sp, lane, acc); break;
                                default: Rows1<Q, V, Tiles1>(first, tileBytes, n, xp, sp, lane, acc); break;
                            }
                    }
                for (int k = 0; k < g; k++)
                {
                    int col = (t0 + k) * W, width = Math.Min(W, outCount - col);
                    MatMulKernels.WriteRows(acc + k * 8 * W, y + (long)p * outCount + col, outCount, bias == null ? null : bias + col, block, width);
                }
                p += block;
            }
        }
    }

    const int Group = 4;

    // Far enough ahead to cover memory latency at one core's bandwidth (as MatMulKernels).
    const int PrefetchDistance = 2048;

    /// <summary>Prefetches the sub-block PrefetchDistance ahead of this one, every cache line of it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Prefetch<Q>(byte* rows) where Q : IQ4Format
    {
        if (!Sse.IsSupported) return;
        for (int b = 0; b < Q.SubBytes; b += 64) Sse.Prefetch0(rows + PrefetchDistance + b);
    }

    /// <summary>One position over G neighbouring tiles (2 G chains), each as in <see cref="BlockRows"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows1<Q, V, G>(byte* tile, long tileBytes, int n, float* x, float* sums, int lane, float* acc)
        where Q : IQ4Format where V : struct, IVec<V> where G : struct, IRowCount
    {
        int offset = lane / (2 * V.Count) * V.Count, blocks = n / Q.SubRows, c = V.Count, t = 8 * W;
        for (int k = 0; k < G.Count; k++) { V.Store(acc + k * t + lane, V.Zero); V.Store(acc + k * t + lane + c, V.Zero); }
        for (int b = 0; b < blocks; b++)
        {
            byte* q0 = Q.SubBlock<V>(tile, b, lane, out var s0, out var h0, out var o0, out var p0);
            V s1 = default, h1 = default, o1 = default, p1 = default, s2 = default, h2 = default, o2 = default, p2 = default, s3 = default, h3 = default, o3 = default, p3 = default;
            byte* q1 = null, q2 = null, q3 = null;
            if (G.Count > 1) q1 = Q.SubBlock<V>(tile + tileBytes, b, lane, out s1, out h1, out o1, out p1);
            if (G.Count > 2) q2 = Q.SubBlock<V>(tile + 2 * tileBytes, b, lane, out s2, out h2, out o2, out p2);
            if (G.Count > 3) q3 = Q.SubBlock<V>(tile + 3 * tileBytes, b, lane, out s3, out h3, out o3, out p3);
            Prefetch<Q>(q0);
            if (G.Count > 1) Prefetch<Q>(q1);
            if (G.Count > 2) Prefetch<Q>(q2);
            if (G.Count > 3) Prefetch<Q>(q3);
            q0 += offset; q1 += offset; q2 += offset; q3 += offset;
            V a0 = V.Zero, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            float* xi = x + b * Q.SubRows;
            for (int r = 0; r < Q.SubRows; r++)
            {
                var v = V.Broadcast(xi[r]);
                Q.LoadRow(q0, r, out V lo, out V hi); a0 = V.MultiplyAdd(lo, v, a0); b0 = V.MultiplyAdd(hi, v, b0);
                if (G.Count > 1) { Q.LoadRow(q1, r, out lo, out hi); a1 = V.MultiplyAdd(lo, v, a1); b1 = V.MultiplyAdd(hi, v, b1); }
                if (G.Count > 2) { Q.LoadRow(q2, r, out lo, out hi); a2 = V.MultiplyAdd(lo, v, a2); b2 = V.MultiplyAdd(hi, v, b2); }
                if (G.Count > 3) { Q.LoadRow(q3, r, out lo, out hi); a3 = V.MultiplyAdd(lo, v, a3); b3 = V.MultiplyAdd(hi, v, b3); }
            }
            Fold(acc + lane, a0, b0, s0, h0, o0, p0, sums[b]);
            if (G.Count > 1) Fold(acc + t + lane, a1, b1, s1, h1, o1, p1, sums[b]);
            if (G.Count > 2) Fold(acc + 2 * t + lane, a2, b2, s2, h2, o2, p2, sums[b]);
            if (G.Count > 3) Fold(acc + 3 * t + lane, a3, b3, s3, h3, o3, p3, sums[b]);
        }
    }

    /// <summary>Two positions over G (1 or 2) neighbouring tiles (4 G chains), each as in <see cref="BlockRows"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows2<Q, V, G>(byte* tile, long tileBytes, int n, float* x, float* sums, int lane, float* acc)
        where Q : IQ4Format where V : struct, IVec<V> where G : struct, IRowCount
    {
        int offset = lane / (2 * V.Count) * V.Count, blocks = n / Q.SubRows, c = V.Count, t = 8 * W;
        for (int k = 0; k < G.Count; k++)
            for (int p = 0; p < 2; p++) { V.Store(acc + k * t + p * W + lane, V.Zero); V.Store(acc + k * t + p * W + lane + c, V.Zero); }
        for (int b = 0; b < blocks; b++)
        {
            byte* q0 = Q.SubBlock<V>(tile, b, lane, out var s0, out var h0, out var o0, out var p0);
            V s1 = default, h1 = default, o1 = default, p1 = default;
            byte* q1 = null;
            if (G.Count > 1) q1 = Q.SubBlock<V>(tile + tileBytes, b, lane, out s1, out h1, out o1, out p1);
            Prefetch<Q>(q0);
            if (G.Count > 1) Prefetch<Q>(q1);
            q0 += offset; q1 += offset;
            V a0 = V.Zero, b0 = a0, c0 = a0, d0 = a0, a1 = a0, b1 = a0, c1 = a0, d1 = a0;
            float* xi = x + b * Q.SubRows;
            for (int r = 0; r < Q.SubRows; r++)
            {
                var v = V.Broadcast(xi[r]);
                var u = V.Broadcast(xi[n + r]);
                Q.LoadRow(q0, r, out V lo, out V hi);
                a0 = V.MultiplyAdd(lo, v, a0); b0 = V.MultiplyAdd(hi, v, b0); c0 = V.MultiplyAdd(lo, u, c0); d0 = V.MultiplyAdd(hi, u, d0);
                if (G.Count > 1)
                {
                    Q.LoadRow(q1, r, out lo, out hi);
                    a1 = V.MultiplyAdd(lo, v, a1); b1 = V.MultiplyAdd(hi, v, b1); c1 = V.MultiplyAdd(lo, u, c1); d1 = V.MultiplyAdd(hi, u, d1);
                }
            }
            Fold(acc + lane, a0, b0, s0, h0, o0, p0, sums[b]);
            Fold(acc + W + lane, c0, d0, s0, h0, o0, p0, sums[blocks + b]);
            if (G.Count > 1)
            {
                Fold(acc + t + lane, a1, b1, s1, h1, o1, p1, sums[b]);
                Fold(acc + t + W + lane, c1, d1, s1, h1, o1, p1, sums[blocks + b]);
            }
        }
    }

    /// <summary>
    /// R.Count positions (3 to 8) per walk over the weights, one accumulator pair each; the
    /// positions' running totals live in <paramref name="acc"/> and take each sub-block's scaled
    /// sum once per 32 rows (the registers hold the unscaled sums).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BlockRows<Q, V, R>(byte* tile, int n, float* x, float* sums, int lane, float* acc)
        where Q : IQ4Format where V : struct, IVec<V> where R : struct, IRowCount
    {
        int offset = lane / (2 * V.Count) * V.Count, blocks = n / Q.SubRows, c = V.Count;
        for (int p = 0; p < R.Count; p++) { V.Store(acc + p * W + lane, V.Zero); V.Store(acc + p * W + lane + c, V.Zero); }
        for (int b = 0; b < blocks; b++)
        {
            byte* q = Q.SubBlock<V>(tile, b, lane, out var sLo, out var sHi, out var oLo, out var oHi);
            Prefetch<Q>(q);
            q += offset;
            V a0 = V.Zero, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            V a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0, a7 = a0, b7 = a0;
            float* xi = x + b * Q.SubRows;
            for (int r = 0; r < Q.SubRows; r++, xi++)
            {
                Q.LoadRow(q, r, out V lo, out V hi);
                var v = V.Broadcast(xi[0]); a0 = V.MultiplyAdd(lo, v, a0); b0 = V.MultiplyAdd(hi, v, b0);
                v = V.Broadcast(xi[n]); a1 = V.MultiplyAdd(lo, v, a1); b1 = V.MultiplyAdd(hi, v, b1);
                v = V.Broadcast(xi[2 * n]); a2 = V.MultiplyAdd(lo, v, a2); b2 = V.MultiplyAdd(hi, v, b2);
                if (R.Count > 3) { v = V.Broadcast(xi[3 * n]); a3 = V.MultiplyAdd(lo, v, a3); b3 = V.MultiplyAdd(hi, v, b3); }
                if (R.Count > 4) { v = V.Broadcast(xi[4 * n]); a4 = V.MultiplyAdd(lo, v, a4); b4 = V.MultiplyAdd(hi, v, b4); }
                if (R.Count > 5) { v = V.Broadcast(xi[5 * n]); a5 = V.MultiplyAdd(lo, v, a5); b5 = V.MultiplyAdd(hi, v, b5); }
                if (R.Count > 6) { v = V.Broadcast(xi[6 * n]); a6 = V.MultiplyAdd(lo, v, a6); b6 = V.MultiplyAdd(hi, v, b6); }
                if (R.Count > 7) { v = V.Broadcast(xi[7 * n]); a7 = V.MultiplyAdd(lo, v, a7); b7 = V.MultiplyAdd(hi, v, b7); }
            }
            Fold(acc + lane, a0, b0, sLo, sHi, oLo, oHi, sums[b]);
            Fold(acc + W + lane, a1, b1, sLo, sHi, oLo, oHi, sums[blocks + b]);
            Fold(acc + 2 * W + lane, a2, b2, sLo, sHi, oLo, oHi, sums[2 * blocks + b]);
            if (R.Count > 3) Fold(acc + 3 * W + lane, a3, b3, sLo, sHi, oLo, oHi, sums[3 * blocks + b]);
            if (R.Count > 4) Fold(acc + 4 * W + lane, a4, b4, sLo, sHi, oLo, oHi, sums[4 * blocks + b]);
            if (R.Count > 5) Fold(acc + 5 * W + lane, a5, b5, sLo, sHi, oLo, oHi, sums[5 * blocks + b]);
            if (R.Count > 6) Fold(acc + 6 * W + lane, a6, b6, sLo, sHi, oLo, oHi, sums[6 * blocks + b]);
            if (R.Count > 7) Fold(acc + 7 * W + lane, a7, b7, sLo, sHi, oLo, oHi, sums[7 * blocks + b]);
        }
    }

    /// <summary>total += s * sum(q x) - o * sum(x) for one position's lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Fold<V>(float* total, V lo, V hi, V sLo, V sHi, V oLo, V oHi, float sum) where V : struct, IVec<V>
    {
        var negSum = V.Broadcast(-sum);
        V.Store(total, V.MultiplyAdd(oLo, negSum, V.MultiplyAdd(lo, sLo, V.Load(total))));
        V.Store(total + V.Count, V.MultiplyAdd(oHi, negSum, V.MultiplyAdd(hi, sHi, V.Load(total + V.Count))));
    }

    static void RunScalar<Q>(int n, int outCount, byte* data, float* x, float* y, float* bias, int rows, int tileStart, int tileEnd) where Q : IQ4Format
    {
        long tileBytes = Q.TileBytes(n);
        for (int t = tileStart; t < tileEnd; t++)
        {
            byte* tile = data + t * tileBytes;
            int col = t * W, width = Math.Min(W, outCount - col);
            for (int p = 0; p < rows; p++)
                for (int j = 0; j < width; j++)
                {
                    float sum = 0;
                    for (int i = 0; i < n; i++) sum = MathF.FusedMultiplyAdd(Q.Get(tile, i, j), x[(long)p * n + i], sum);
                    y[(long)p * outCount + col + j] = bias == null ? sum : sum + bias[col + j];
                }
        }
    }
}
