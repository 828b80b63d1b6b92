using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sprinter.Engine;

/// <summary>
/// y = x W + b for the 4-, 5- and 6-bit formats (<see cref="IQ4Format"/>: w = q s - o per sub-block),
/// generic over the format and the vector width like <see cref="MatMulKernels"/>.
/// One idea: integer dot products against 8-bit activations. Each call's activations are rounded
/// once to 8-bit blocks of 32 (<see cref="ActivationBlocks"/>: x ~ d q8, as llama.cpp's Q8_0), and per
/// sub-block sum_i w_i x_i ~ d (s sum_i q_i q8_i - o sum_i q8_i): the quants (0..15, 0..31 or 0..63) meet
/// the 8-bit activations in vpmaddubsw (unsigned by signed bytes, pairs summed to int16), 4-bit
/// sub-blocks sum all 8 groups of 4 inputs in int16 and widen once (vpmaddwd by ones), 5- and 6-bit
/// ones widen every group; the offsets take the activations' block sums (llama.cpp's Q8_K bsums idea).
/// <para>
/// Why this and not the previous kernel (nibbles widened to fp32 for FMAs against fp32 activations):
/// that one was compute-bound from k = 2 (per 32 x 32 sub-block and position 64 FMAs and 32
/// broadcasts, against 16 vpmaddubsw, 16 adds and 8 broadcasts here). Measured on one core of this
/// host (Zen 5, AVX-512, a 2,048 x 49,152 matrix from llama.cpp-format blocks, larger than L3; best
/// of 21 calls in three alternating old/new processes, a host shared with other jobs, load 12-16 on
/// 2 vCPUs), ms at k = 1 / 2 / 4 / 8 / 16:
/// q4_0 2.47 / 3.12 / 5.03 / 8.38 / 17.50 widened, 1.71 / 1.84 / 2.75 / 4.59 / 9.03 integer;
/// q4_k 2.60 / 3.15 / 4.94 / 8.46 / 18.79 widened, 1.82 / 1.87 / 2.80 / 4.68 / 9.58 integer;
/// q6_k 4.37 / 5.04 / 7.30 / 12.70 / 25.33 widened, 2.51 / 3.07 / 4.48 / 7.62 / 15.21 integer
/// (1.4-1.7x faster at k = 1, where the old one did not keep up with memory either; 1.6-2.0x from k = 4).
/// Not chosen for k = 1 alone: a position's result must not depend on k (see below), so one kernel serves every k.
/// </para>
/// <para>
/// Why vpmaddubsw and not VNNI at 512 bits: .NET 10 has no 512-bit vpdpbusd for this host (Zen 5
/// has AVX512_VNNI, but <see cref="AvxVnni"/> is the VEX form, 128/256-bit only; Avx10v1 is false on
/// Zen 5 and its V512 class has no dot product; AvxVnniInt8.V512 is AVX10.2). vpmaddubsw plus an
/// int16 add per 64 bytes is the instruction count of two 256-bit vpdpbusd, without a 16-register
/// limit. Where the kernels run at 128/256 bits on a host with AVX-VNNI (AVX2 machines, or
/// DOTNET_EnableAVX512=0 here), one vpdpbusd per group replaces vpmaddubsw + add (<see cref="IVec{TSelf}.DotBytes"/>):
/// at 256 bits on the matrix above, k = 1 / 4 / 16, q4_k 2.89 / 4.59 / 17.93 ms against 3.08 / 5.30 /
/// 19.53 without it, q6_k 4.49 / 6.70 / 27.42 against 4.69 / 7.99 / 32.05 (load 16-22).
/// </para>
/// <para>
/// Position invariance: the integer sums are exact (no int16 lane can saturate: 8 x 2 x 15 x 127 =
/// 30,480 for 4 bits, 2 x 31 x 127 and 2 x 63 x 127 per group for 5 and 6 bits; a sub-block's int32
/// sum stays below 2^24, exact as a float), and every kernel folds each sub-block into a position's
/// float total the same way (<see cref="Fold"/>, sub-blocks in order), so a position's
/// result never depends on the positions or tiles beside it; the scalar kernel folds in the same order.
/// The rounding of the activations moves logits by ~5e-3 of their largest magnitude against the
/// file dequantized to fp32 (NativeGgufTests; the Q8_0 rounding llama.cpp's CPU kernels make too);
/// LM1B perplexity of the shipped target quantized by llama.cpp: Q4_K_M 285.2986 here against 285.279
/// dequantized to fp32 (+0.007%), Q4_0 285.3423 against 285.3378 (+0.002%).
/// </para>
/// </summary>
internal static unsafe class Q4Kernels
{
    const int W = PackedMatrix.TileWidth;

    public static void Run<Q>(int n, int outCount, byte* data, ActivationBlocks act, float* y, float* bias, int rows, int tileStart, int tileEnd)
        where Q : IQ4Format
    {
        float* msum = Q.SubRows == 32 ? act.Sum32 : act.Sum16;
        if (Vector512.IsHardwareAccelerated) Run<Q, Vec512>(n, outCount, data, act.Q, act.Scale, msum, y, bias, rows, tileStart, tileEnd);
        else if (Vector256.IsHardwareAccelerated) Run<Q, Vec256>(n, outCount, data, act.Q, act.Scale, msum, y, bias, rows, tileStart, tileEnd);
        else if (Vector128.IsHardwareAccelerated) Run<Q, Vec128>(n, outCount, data, act.Q, act.Scale, msum, y, bias, rows, tileStart, tileEnd);
        else RunScalar<Q>(n, outCount, data, act.Q, act.Scale, msum, y, bias, rows, tileStart, tileEnd);
    }

    // As in MatMulKernels, the 1- and 2-position kernels take their independent chains from
    // neighbouring tiles, the larger blocks from the positions; all fold alike (see above).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Run<Q, V>(int n, int outCount, byte* data, sbyte* xq, float* scale, float* msum, float* y, float* bias, int rows, int tileStart, int tileEnd)
        where Q : IQ4Format where V : struct, IVec<V>
    {
        int strip = 2 * V.Count;
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
                var x = new Inputs(xq + (long)p * n, scale + (long)p * (n / 32), msum + (long)p * (n / Q.SubRows), n);
                if (block >= 3)
                    for (int k = 0; k < g; k++)
                        for (int lane = 0; lane < W; lane += strip)
                        {
                            byte* tile = first + k * tileBytes;
                            float* a = acc + k * 8 * W;
                            switch (block)
                            {
                                case 8: BlockRows<Q, V, Rows8>(tile, x, lane, a); break;
                                case 7: BlockRows<Q, V, Rows7>(tile, x, lane, a); break;
                                case 6: BlockRows<Q, V, Rows6>(tile, x, lane, a); break;
                                case 5: BlockRows<Q, V, Rows5>(tile, x, lane, a); break;
                                case 4: BlockRows<Q, V, Rows4>(tile, x, lane, a); break;
                                default: BlockRows<Q, V, Rows3>(tile, x, lane, a); break;
                            }
                        }
                else
                    for (int lane = 0; lane < W; lane += strip)
                    {
                        if (block == 2)
                            for (int k = 0; k < g; k += 2)
                            {
                                if (g - k >= 2) Rows2<Q, V, Tiles2>(first + k * tileBytes, tileBytes, x, lane, acc + k * 8 * W);
                                else Rows2<Q, V, Tiles1>(first + k * tileBytes, tileBytes, x, lane, acc + k * 8 * W);
                            }
                        else
                            switch (g)
                            {
                                case 4: Rows1<Q, V, Tiles4>(first, tileBytes, x, lane, acc); break;
                                case 3: Rows1<Q, V, Tiles3>(first, tileBytes, x, lane, acc); break;
                                case 2: Rows1<Q, V, Tiles2>(first, tileBytes, x, lane, acc); break;
                                default: Rows1<Q, V, Tiles1>(first, tileBytes, x, lane, acc); break;
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

    /// <summary>The 8-bit activations of a block of positions from its first: q8 (n bytes a position), d per 32, d sum(q8) per sub-block.</summary>
    readonly struct Inputs(sbyte* q, float* scale, float* msum, int n)
    {
        public readonly sbyte* Q = q;
        public readonly float* Scale = scale;
        public readonly float* MSum = msum;
        public readonly int N = n;

        /// <summary>The first position's inputs of sub-block b; position p's are <see cref="N"/> p bytes on.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public sbyte* SubBlock<F>(int b) where F : IQ4Format => Q + b * F.SubRows;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float D<F>(int p, int b) where F : IQ4Format => Scale[(long)p * (N / 32) + b * F.SubRows / 32];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float Sum<F>(int p, int b) where F : IQ4Format => MSum[(long)p * (N / F.SubRows) + b];
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

    /// <summary>
    /// One group's bytes times one position's 4 inputs, into its running sum: int32 lanes by vpdpbusd
    /// where this width has it; else int16 lanes for 4 bits, int32 for 5 and 6. Every form is exact.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static V Step<Q, V>(V sum, V bytes, V x) where Q : IQ4Format where V : struct, IVec<V>
        => V.DotProduct ? V.DotBytes(sum, bytes, x)
            : Q.ShortSums ? V.AddInt16(sum, V.MultiplyAddBytes(bytes, x)) : V.AddInt32(sum, V.WidenPairs(V.MultiplyAddBytes(bytes, x)));

    /// <summary>A sub-block's running sum as int32 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static V Finish<Q, V>(V sum) where Q : IQ4Format where V : struct, IVec<V> => !V.DotProduct && Q.ShortSums ? V.WidenPairs(sum) : sum;

    /// <summary>One position over G neighbouring tiles (2 G integer chains), each folded as in <see cref="BlockRows"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows1<Q, V, G>(byte* tile, long tileBytes, Inputs x, int lane, float* acc)
        where Q : IQ4Format where V : struct, IVec<V> where G : struct, IRowCount
    {
        int blocks = x.N / Q.SubRows, groups = Q.SubRows / 4, c = V.Count, t = 8 * W;
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
            V a0 = V.Zero, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            sbyte* xg = x.SubBlock<Q>(b);
            for (int g = 0; g < groups; g++, xg += 4)
            {
                var v = V.BroadcastInt(*(int*)xg);
                Q.LoadGroup(q0, lane, g, out V lo, out V hi); a0 = Step<Q, V>(a0, lo, v); b0 = Step<Q, V>(b0, hi, v);
                if (G.Count > 1) { Q.LoadGroup(q1, lane, g, out lo, out hi); a1 = Step<Q, V>(a1, lo, v); b1 = Step<Q, V>(b1, hi, v); }
                if (G.Count > 2) { Q.LoadGroup(q2, lane, g, out lo, out hi); a2 = Step<Q, V>(a2, lo, v); b2 = Step<Q, V>(b2, hi, v); }
                if (G.Count > 3) { Q.LoadGroup(q3, lane, g, out lo, out hi); a3 = Step<Q, V>(a3, lo, v); b3 = Step<Q, V>(b3, hi, v); }
            }
            float d = x.D<Q>(0, b), m = x.Sum<Q>(0, b);
            Fold<Q, V>(acc + lane, a0, b0, s0, h0, o0, p0, d, m);
            if (G.Count > 1) Fold<Q, V>(acc + t + lane, a1, b1, s1, h1, o1, p1, d, m);
            if (G.Count > 2) Fold<Q, V>(acc + 2 * t + lane, a2, b2, s2, h2, o2, p2, d, m);
            if (G.Count > 3) Fold<Q, V>(acc + 3 * t + lane, a3, b3, s3, h3, o3, p3, d, m);
        }
    }

    /// <summary>Two positions over G (1 or 2) neighbouring tiles (4 G integer chains), each folded as in <see cref="BlockRows"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows2<Q, V, G>(byte* tile, long tileBytes, Inputs x, int lane, float* acc)
        where Q : IQ4Format where V : struct, IVec<V> where G : struct, IRowCount
    {
        int blocks = x.N / Q.SubRows, groups = Q.SubRows / 4, c = V.Count, t = 8 * W;
        long n = x.N;
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
            V a0 = V.Zero, b0 = a0, c0 = a0, d0 = a0, a1 = a0, b1 = a0, c1 = a0, d1 = a0;
            sbyte* xg = x.SubBlock<Q>(b);
            for (int g = 0; g < groups; g++, xg += 4)
            {
                var v = V.BroadcastInt(*(int*)xg);
                var u = V.BroadcastInt(*(int*)(xg + n));
                Q.LoadGroup(q0, lane, g, out V lo, out V hi);
                a0 = Step<Q, V>(a0, lo, v); b0 = Step<Q, V>(b0, hi, v); c0 = Step<Q, V>(c0, lo, u); d0 = Step<Q, V>(d0, hi, u);
                if (G.Count > 1)
                {
                    Q.LoadGroup(q1, lane, g, out lo, out hi);
                    a1 = Step<Q, V>(a1, lo, v); b1 = Step<Q, V>(b1, hi, v); c1 = Step<Q, V>(c1, lo, u); d1 = Step<Q, V>(d1, hi, u);
                }
            }
            float dv = x.D<Q>(0, b), mv = x.Sum<Q>(0, b), du = x.D<Q>(1, b), mu = x.Sum<Q>(1, b);
            Fold<Q, V>(acc + lane, a0, b0, s0, h0, o0, p0, dv, mv);
            Fold<Q, V>(acc + W + lane, c0, d0, s0, h0, o0, p0, du, mu);
            if (G.Count > 1)
            {
                Fold<Q, V>(acc + t + lane, a1, b1, s1, h1, o1, p1, dv, mv);
                Fold<Q, V>(acc + t + W + lane, c1, d1, s1, h1, o1, p1, du, mu);
            }
        }
    }

    /// <summary>
    /// R.Count positions (3 to 8) per walk over the weights, one integer chain pair each; each group's
    /// bytes are loaded and unpacked once for all of them. The positions' float totals live in
    /// <paramref name="acc"/> and take each sub-block's scaled sum once (<see cref="Fold"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void BlockRows<Q, V, R>(byte* tile, Inputs x, int lane, float* acc)
        where Q : IQ4Format where V : struct, IVec<V> where R : struct, IRowCount
    {
        int blocks = x.N / Q.SubRows, groups = Q.SubRows / 4, c = V.Count;
        long n = x.N, n6 = 6 * n;
        for (int p = 0; p < R.Count; p++) { V.Store(acc + p * W + lane, V.Zero); V.Store(acc + p * W + lane + c, V.Zero); }
        for (int b = 0; b < blocks; b++)
        {
            byte* q = Q.SubBlock<V>(tile, b, lane, out var sLo, out var sHi, out var oLo, out var oHi);
            Prefetch<Q>(q);
            V a0 = V.Zero, b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            V a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0, a7 = a0, b7 = a0;
            sbyte* xg = x.SubBlock<Q>(b), xh = xg + n;   // two bases, so every position is a base plus a scaled n
            for (int g = 0; g < groups; g++, xg += 4, xh += 4)
            {
                Q.LoadGroup(q, lane, g, out V lo, out V hi);
                var v = V.BroadcastInt(*(int*)xg); a0 = Step<Q, V>(a0, lo, v); b0 = Step<Q, V>(b0, hi, v);
                v = V.BroadcastInt(*(int*)xh); a1 = Step<Q, V>(a1, lo, v); b1 = Step<Q, V>(b1, hi, v);
                v = V.BroadcastInt(*(int*)(xg + 2 * n)); a2 = Step<Q, V>(a2, lo, v); b2 = Step<Q, V>(b2, hi, v);
                if (R.Count > 3) { v = V.BroadcastInt(*(int*)(xh + 2 * n)); a3 = Step<Q, V>(a3, lo, v); b3 = Step<Q, V>(b3, hi, v); }
                if (R.Count > 4) { v = V.BroadcastInt(*(int*)(xg + 4 * n)); a4 = Step<Q, V>(a4, lo, v); b4 = Step<Q, V>(b4, hi, v); }
                if (R.Count > 5) { v = V.BroadcastInt(*(int*)(xh + 4 * n)); a5 = Step<Q, V>(a5, lo, v); b5 = Step<Q, V>(b5, hi, v); }
                if (R.Count > 6) { v = V.BroadcastInt(*(int*)(xg + n6)); a6 = Step<Q, V>(a6, lo, v); b6 = Step<Q, V>(b6, hi, v); }
                if (R.Count > 7) { v = V.BroadcastInt(*(int*)(xh + n6)); a7 = Step<Q, V>(a7, lo, v); b7 = Step<Q, V>(b7, hi, v); }
            }
            Fold<Q, V>(acc + lane, a0, b0, sLo, sHi, oLo, oHi, x.D<Q>(0, b), x.Sum<Q>(0, b));
            Fold<Q, V>(acc + W + lane, a1, b1, sLo, sHi, oLo, oHi, x.D<Q>(1, b), x.Sum<Q>(1, b));
            Fold<Q, V>(acc + 2 * W + lane, a2, b2, sLo, sHi, oLo, oHi, x.D<Q>(2, b), x.Sum<Q>(2, b));
            if (R.Count > 3) Fold<Q, V>(acc + 3 * W + lane, a3, b3, sLo, sHi, oLo, oHi, x.D<Q>(3, b), x.Sum<Q>(3, b));
            if (R.Count > 4) Fold<Q, V>(acc + 4 * W + lane, a4, b4, sLo, sHi, oLo, oHi, x.D<Q>(4, b), x.Sum<Q>(4, b));
            if (R.Count > 5) Fold<Q, V>(acc + 5 * W + lane, a5, b5, sLo, sHi, oLo, oHi, x.D<Q>(5, b), x.Sum<Q>(5, b));
            if (R.Count > 6) Fold<Q, V>(acc + 6 * W + lane, a6, b6, sLo, sHi, oLo, oHi, x.D<Q>(6, b), x.Sum<Q>(6, b));
            if (R.Count > 7) Fold<Q, V>(acc + 7 * W + lane, a7, b7, sLo, sHi, oLo, oHi, x.D<Q>(7, b), x.Sum<Q>(7, b));
        }
    }

    /// <summary>
    /// total = (s d) dot + total, then -(d sum(q8)) o + total, for one position's lanes: the one float
    /// step every kernel (and <see cref="RunScalar"/>) takes per sub-block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Fold<Q, V>(float* total, V dotLo, V dotHi, V sLo, V sHi, V oLo, V oHi, float d, float sum)
        where Q : IQ4Format where V : struct, IVec<V>
    {
        var dv = V.Broadcast(d);
        var negSum = V.Broadcast(-sum);
        V.Store(total, V.MultiplyAdd(oLo, negSum, V.MultiplyAdd(V.ConvertInt32(Finish<Q, V>(dotLo)), V.Multiply(sLo, dv), V.Load(total))));
        V.Store(total + V.Count, V.MultiplyAdd(oHi, negSum, V.MultiplyAdd(V.ConvertInt32(Finish<Q, V>(dotHi)), V.Multiply(sHi, dv), V.Load(total + V.Count))));
    }

    /// <summary>The plain loops every vector kernel must agree with (internal for the tests, which compare them bit for bit).</summary>
    internal static void RunScalar<Q>(int n, int outCount, byte* data, sbyte* xq, float* scale, float* msum, float* y, float* bias, int rows, int tileStart, int tileEnd)
        where Q : IQ4Format
    {
        long tileBytes = Q.TileBytes(n);
        int blocks = n / Q.SubRows;
        for (int t = tileStart; t < tileEnd; t++)
        {
            byte* tile = data + t * tileBytes;
            int col = t * W, width = Math.Min(W, outCount - col);
            for (int p = 0; p < rows; p++)
                for (int j = 0; j < width; j++)
                {
                    float total = 0;
                    for (int b = 0; b < blocks; b++)
                    {
                        Q.SubBlockScalar(tile, b, j, out float s, out float o);
                        int dot = 0;
                        for (int r = 0; r < Q.SubRows; r++) dot += Q.Quant(tile, b * Q.SubRows + r, j) * xq[(long)p * n + b * Q.SubRows + r];
                        float d = scale[(long)p * (n / 32) + b * Q.SubRows / 32], sum = msum[(long)p * blocks + b];
                        total = MathF.FusedMultiplyAdd(o, -sum, MathF.FusedMultiplyAdd(dot, s * d, total));
                    }
                    y[(long)p * outCount + col + j] = bias == null ? total : total + bias[col + j];
                }
        }
    }
}
