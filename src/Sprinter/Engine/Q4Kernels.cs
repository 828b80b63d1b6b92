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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run<Q, V>(int n, int outCount, byte* data, float* x, float* sums, float* y, float* bias, int rows, int tileStart, int tileEnd)
        where Q : IQ4Format where V : struct, IVec<V>
    {
        int strip = 2 * V.Count, blocks = n / Q.SubRows;
        long tileBytes = Q.TileBytes(n);
        int maxBlock = V.ManyRegisters ? 8 : 4;
        float* acc = stackalloc float[8 * W];
        for (int t = tileStart; t < tileEnd; t++)
        {
            byte* tile = data + t * tileBytes;
            int col = t * W, width = Math.Min(W, outCount - col);
            for (int p = 0; p < rows;)
            {
                int block = Math.Min(rows - p, maxBlock);
                float* xp = x + (long)p * n;
                float* sp = sums + p * blocks;
                for (int lane = 0; lane < width; lane += strip)
                {
                    switch (block)
                    {
                        case 8: BlockRows<Q, V, Rows8>(tile, n, xp, sp, lane, acc); break;
                        case 7: BlockRows<Q, V, Rows7>(tile, n, xp, sp, lane, acc); break;
                        case 6: BlockRows<Q, V, Rows6>(tile, n, xp, sp, lane, acc); break;
                        case 5: BlockRows<Q, V, Rows5>(tile, n, xp, sp, lane, acc); break;
                        case 4: BlockRows<Q, V, Rows4>(tile, n, xp, sp, lane, acc); break;
                        case 3: BlockRows<Q, V, Rows3>(tile, n, xp, sp, lane, acc); break;
                        case 2: Block2<Q, V>(tile, n, xp, sp, lane, acc); break;
                        default: Block1<Q, V>(tile, n, xp, sp, lane, acc); break;
                    }
                }
                MatMulKernels.WriteRows(acc, y + (long)p * outCount + col, outCount, bias == null ? null : bias + col, block, width);
                p += block;
            }
        }
    }

    // Far enough ahead to cover memory latency at one core's bandwidth (as MatMulKernels).
    const int PrefetchDistance = 2048;

    /// <summary>Prefetches the sub-block PrefetchDistance ahead of this one, every cache line of it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Prefetch<Q>(byte* rows) where Q : IQ4Format
    {
        if (!Sse.IsSupported) return;
        for (int b = 0; b < Q.SubBytes; b += 64) Sse.Prefetch0(rows + PrefetchDistance + b);
    }

    /// <summary>One position: four rows at a time into separate accumulators (8 FMA chains).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block1<Q, V>(byte* tile, int n, float* x, float* sums, int lane, float* acc) where Q : IQ4Format where V : struct, IVec<V>
    {
        V totalLo = V.Zero, totalHi = V.Zero;
        int offset = lane / (2 * V.Count) * V.Count;
        for (int b = 0; b < n / Q.SubRows; b++)
        {
            byte* q = Q.SubBlock<V>(tile, b, lane, out var sLo, out var sHi, out var oLo, out var oHi);
            Prefetch<Q>(q);
            q += offset;
            V a0 = V.Zero, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            float* xi = x + b * Q.SubRows;
            for (int r = 0; r < Q.SubRows; r += 4)
            {
                Q.LoadRow(q, r, out V l0, out V h0);
                Q.LoadRow(q, r + 1, out V l1, out V h1);
                Q.LoadRow(q, r + 2, out V l2, out V h2);
                Q.LoadRow(q, r + 3, out V l3, out V h3);
                var v = V.Broadcast(xi[r]); a0 = V.MultiplyAdd(l0, v, a0); b0 = V.MultiplyAdd(h0, v, b0);
                v = V.Broadcast(xi[r + 1]); a1 = V.MultiplyAdd(l1, v, a1); b1 = V.MultiplyAdd(h1, v, b1);
                v = V.Broadcast(xi[r + 2]); a2 = V.MultiplyAdd(l2, v, a2); b2 = V.MultiplyAdd(h2, v, b2);
                v = V.Broadcast(xi[r + 3]); a3 = V.MultiplyAdd(l3, v, a3); b3 = V.MultiplyAdd(h3, v, b3);
            }
            var negSum = V.Broadcast(-sums[b]);
            totalLo = V.MultiplyAdd(oLo, negSum, V.MultiplyAdd(V.Add(V.Add(a0, a1), V.Add(a2, a3)), sLo, totalLo));
            totalHi = V.MultiplyAdd(oHi, negSum, V.MultiplyAdd(V.Add(V.Add(b0, b1), V.Add(b2, b3)), sHi, totalHi));
        }
        V.Store(acc + lane, totalLo);
        V.Store(acc + lane + V.Count, totalHi);
    }

    /// <summary>Two positions; even and odd rows into separate accumulators (8 chains).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block2<Q, V>(byte* tile, int n, float* x, float* sums, int lane, float* acc) where Q : IQ4Format where V : struct, IVec<V>
    {
        V t0 = V.Zero, u0 = t0, t1 = t0, u1 = t0;
        int offset = lane / (2 * V.Count) * V.Count, blocks = n / Q.SubRows;
        for (int b = 0; b < blocks; b++)
        {
            byte* q = Q.SubBlock<V>(tile, b, lane, out var sLo, out var sHi, out var oLo, out var oHi);
            Prefetch<Q>(q);
            q += offset;
            V a0 = V.Zero, b0 = a0, a1 = a0, b1 = a0, c0 = a0, d0 = a0, c1 = a0, d1 = a0;
            float* xi = x + b * Q.SubRows;
            for (int r = 0; r < Q.SubRows; r += 2)
            {
                Q.LoadRow(q, r, out V l0, out V h0);
                Q.LoadRow(q, r + 1, out V l1, out V h1);
                var v = V.Broadcast(xi[r]); a0 = V.MultiplyAdd(l0, v, a0); b0 = V.MultiplyAdd(h0, v, b0);
                v = V.Broadcast(xi[n + r]); a1 = V.MultiplyAdd(l0, v, a1); b1 = V.MultiplyAdd(h0, v, b1);
                v = V.Broadcast(xi[r + 1]); c0 = V.MultiplyAdd(l1, v, c0); d0 = V.MultiplyAdd(h1, v, d0);
                v = V.Broadcast(xi[n + r + 1]); c1 = V.MultiplyAdd(l1, v, c1); d1 = V.MultiplyAdd(h1, v, d1);
            }
            var n0 = V.Broadcast(-sums[b]);
            var n1 = V.Broadcast(-sums[blocks + b]);
            t0 = V.MultiplyAdd(oLo, n0, V.MultiplyAdd(V.Add(a0, c0), sLo, t0));
            u0 = V.MultiplyAdd(oHi, n0, V.MultiplyAdd(V.Add(b0, d0), sHi, u0));
            t1 = V.MultiplyAdd(oLo, n1, V.MultiplyAdd(V.Add(a1, c1), sLo, t1));
            u1 = V.MultiplyAdd(oHi, n1, V.MultiplyAdd(V.Add(b1, d1), sHi, u1));
        }
        float* o = acc + lane;
        V.Store(o, t0); V.Store(o + V.Count, u0); V.Store(o + W, t1); V.Store(o + W + V.Count, u1);
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
