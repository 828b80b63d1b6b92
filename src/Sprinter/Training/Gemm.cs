using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sprinter.Training;

/// <summary>
/// A matrix operand: op(X)(i, k) = Transposed ? Data[Offset + k * Stride + i] : Data[Offset + i * Stride + k].
/// Offsets and strides let one call address a head's slice of a [rows, 3d] qkv buffer.
/// </summary>
internal readonly record struct Operand<T>(T[] Data, int Offset, int Stride, bool Transposed = false);

/// <summary>Packing buffers of one worker; a GEMM call on a worker uses only that worker's scratch.</summary>
internal sealed class GemmScratch<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public readonly T[] PackedA = new T[Gemm<T>.MC * Gemm<T>.KC];
    public readonly T[] PackedB = new T[Gemm<T>.KC * Gemm<T>.NC];
    public readonly T[] Tile = new T[Gemm<T>.MR * Gemm<T>.NR];
}

/// <summary>
/// C[m, n] (+)= op(A)[m, k] · op(B)[k, n], the three training products (X·W, dY·Wᵀ, Xᵀ·dY) being
/// transposition flags. BLIS-style: A and B are packed into MR-row and NR-column micro-panels
/// (zero-padded, which also absorbs the transposes), and a 6 x 2-vector register-blocked kernel
/// walks them; KC/MC/NC keep a B micro-panel in L1 and the packed A block in L2.
/// Every C element is accumulated in the same order (k blocks in order, k within a block in
/// order) whatever tile or thread computes it, so results do not depend on how work is split.
/// Generic so the gradient check runs this very code in double. The hot methods skip tiered
/// JIT (AggressiveOptimization): a training run calls them from its first step on.
/// </summary>
internal static unsafe class Gemm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public const int MR = 6;
    public static readonly int NR = 4 * Vector512<T>.Count;   // 64 floats or 32 doubles
    // KC keeps a B micro-panel (KC x NR: 32 KiB of floats) in L1; NC is a multiple of NR.
    public const int KC = 128, MC = 72, NC = 512;

    /// <summary>Computes rows [r0, r1) and columns [c0, c1) of C, single-threaded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(int k, Operand<T> a, Operand<T> b, T[] c, int cOffset, int ldc, bool accumulate,
        int r0, int r1, int c0, int c1, GemmScratch<T> scratch)
    {
        if (r1 <= r0 || c1 <= c0) return;
        if (k == 0)
        {
            if (!accumulate)
                for (int i = r0; i < r1; i++) c.AsSpan(cOffset + i * ldc + c0, c1 - c0).Clear();
            return;
        }
        int nr = NR;
        fixed (T* pa = scratch.PackedA, pb = scratch.PackedB, pTile = scratch.Tile, pc = c)
        {
            for (int jc = c0; jc < c1; jc += NC)
            {
                int nc = Math.Min(NC, c1 - jc);
                for (int pc0 = 0; pc0 < k; pc0 += KC)
                {
                    int kc = Math.Min(KC, k - pc0);
                    bool acc = accumulate || pc0 > 0;
                    PackB(b, pc0, kc, jc, nc, pb);
                    for (int ic = r0; ic < r1; ic += MC)
                    {
                        int mc = Math.Min(MC, r1 - ic);
                        PackA(a, ic, mc, pc0, kc, pa);
                        for (int jr = 0; jr < nc; jr += nr)
                        {
                            int cols = Math.Min(nr, nc - jr);
                            T* bPanel = pb + (long)jr * kc;
                            for (int ir = 0; ir < mc; ir += MR)
                            {
                                int rows = Math.Min(MR, mc - ir);
                                T* aPanel = pa + (long)ir * kc;
                                T* cTile = pc + cOffset + (long)(ic + ir) * ldc + jc + jr;
                                if (rows == MR && cols == nr) Kernel(kc, aPanel, bPanel, cTile, ldc, acc);
                                else
                                {
                                    Kernel(kc, aPanel, bPanel, pTile, nr, false);
                                    for (int i = 0; i < rows; i++)
                                        for (int j = 0; j < cols; j++)
                                            cTile[(long)i * ldc + j] = acc ? cTile[(long)i * ldc + j] + pTile[i * nr + j] : pTile[i * nr + j];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Packs op(A)[i0 .. i0+mc, p0 .. p0+kc) as MR-row panels: dst[panel][k][r], padded with zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackA(Operand<T> a, int i0, int mc, int p0, int kc, T* dst)
    {
        fixed (T* src = a.Data)
        {
            for (int ir = 0; ir < mc; ir += MR)
            {
                int rows = Math.Min(MR, mc - ir);
                T* panel = dst + (long)ir * kc;
                if (rows < MR) new Span<T>(panel, kc * MR).Clear();
                if (a.Transposed)
                {
                    // op(A)(i, k) = A[k, i]: rows of a panel are contiguous in memory.
                    for (int kk = 0; kk < kc; kk++)
                    {
                        T* s = src + a.Offset + (long)(p0 + kk) * a.Stride + i0 + ir;
                        for (int r = 0; r < rows; r++) panel[kk * MR + r] = s[r];
                    }
                }
                else
                {
                    for (int r = 0; r < rows; r++)
                    {
                        T* s = src + a.Offset + (long)(i0 + ir + r) * a.Stride + p0;
                        for (int kk = 0; kk < kc; kk++) panel[kk * MR + r] = s[kk];
                    }
                }
            }
        }
    }

    /// <summary>Packs op(B)[p0 .. p0+kc, j0 .. j0+nc) as NR-column panels: dst[panel][k][c], padded with zeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackB(Operand<T> b, int p0, int kc, int j0, int nc, T* dst)
    {
        int nr = NR;
        fixed (T* src = b.Data)
        {
            for (int jr = 0; jr < nc; jr += nr)
            {
                int cols = Math.Min(nr, nc - jr);
                T* panel = dst + (long)jr * kc;
                if (cols < nr) new Span<T>(panel, kc * nr).Clear();
                if (b.Transposed)
                {
                    // op(B)(k, j) = B[j, k]: walk each stored row along k.
                    for (int cc = 0; cc < cols; cc++)
                    {
                        T* s = src + b.Offset + (long)(j0 + jr + cc) * b.Stride + p0;
                        for (int kk = 0; kk < kc; kk++) panel[kk * nr + cc] = s[kk];
                    }
                }
                else
                {
                    for (int kk = 0; kk < kc; kk++)
                        new ReadOnlySpan<T>(src + b.Offset + (long)(p0 + kk) * b.Stride + j0 + jr, cols).CopyTo(new Span<T>(panel + kk * nr, cols));
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Kernel(int kc, T* a, T* b, T* c, int ldc, bool accumulate)
    {
        // With 32 vector registers (AVX-512) one 6 x 4-vector tile covers the panel: 24 accumulators,
        // 10 loads per 24 FMAs, enough to feed two 512-bit FMA pipes. With 16 (AVX2, SSE) the same
        // packed panel is walked as column strips of 6 x 2 vectors (AVX2: 4 strips, 128-bit: 8).
        if (Vector512.IsHardwareAccelerated) Kernel4<Simd512<T>>(kc, a, b, c, ldc, accumulate, NR);
        else if (Vector256.IsHardwareAccelerated) Strips<Simd256<T>>(kc, a, b, c, ldc, accumulate);
        else Strips<Simd128<T>>(kc, a, b, c, ldc, accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Strips<V>(int kc, T* a, T* b, T* c, int ldc, bool accumulate) where V : struct, ISimd<V, T>
    {
        for (int s = 0; s < NR; s += 2 * V.Count) Kernel<V>(kc, a, b + s, c + s, ldc, accumulate, NR);
    }

    /// <summary>6 x (4 vectors) tile: 24 accumulators, 4 B loads and 6 broadcasts per k step.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel4<V>(int kc, T* a, T* b, T* c, int ldc, bool accumulate, int nr) where V : struct, ISimd<V, T>
    {
        int w = V.Count;
        V c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default,
          c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default,
          c40 = default, c41 = default, c42 = default, c43 = default, c50 = default, c51 = default, c52 = default, c53 = default;
        for (int p = 0; p < kc; p++, a += MR, b += nr)
        {
            var b0 = V.Load(b); var b1 = V.Load(b + w); var b2 = V.Load(b + 2 * w); var b3 = V.Load(b + 3 * w);
            var x = V.Broadcast(a[0]); c00 = V.Fma(x, b0, c00); c01 = V.Fma(x, b1, c01); c02 = V.Fma(x, b2, c02); c03 = V.Fma(x, b3, c03);
            x = V.Broadcast(a[1]); c10 = V.Fma(x, b0, c10); c11 = V.Fma(x, b1, c11); c12 = V.Fma(x, b2, c12); c13 = V.Fma(x, b3, c13);
            x = V.Broadcast(a[2]); c20 = V.Fma(x, b0, c20); c21 = V.Fma(x, b1, c21); c22 = V.Fma(x, b2, c22); c23 = V.Fma(x, b3, c23);
            x = V.Broadcast(a[3]); c30 = V.Fma(x, b0, c30); c31 = V.Fma(x, b1, c31); c32 = V.Fma(x, b2, c32); c33 = V.Fma(x, b3, c33);
            x = V.Broadcast(a[4]); c40 = V.Fma(x, b0, c40); c41 = V.Fma(x, b1, c41); c42 = V.Fma(x, b2, c42); c43 = V.Fma(x, b3, c43);
            x = V.Broadcast(a[5]); c50 = V.Fma(x, b0, c50); c51 = V.Fma(x, b1, c51); c52 = V.Fma(x, b2, c52); c53 = V.Fma(x, b3, c53);
        }
        V.Store(c, c00, accumulate); V.Store(c + w, c01, accumulate); V.Store(c + 2 * w, c02, accumulate); V.Store(c + 3 * w, c03, accumulate); c += ldc;
        V.Store(c, c10, accumulate); V.Store(c + w, c11, accumulate); V.Store(c + 2 * w, c12, accumulate); V.Store(c + 3 * w, c13, accumulate); c += ldc;
        V.Store(c, c20, accumulate); V.Store(c + w, c21, accumulate); V.Store(c + 2 * w, c22, accumulate); V.Store(c + 3 * w, c23, accumulate); c += ldc;
        V.Store(c, c30, accumulate); V.Store(c + w, c31, accumulate); V.Store(c + 2 * w, c32, accumulate); V.Store(c + 3 * w, c33, accumulate); c += ldc;
        V.Store(c, c40, accumulate); V.Store(c + w, c41, accumulate); V.Store(c + 2 * w, c42, accumulate); V.Store(c + 3 * w, c43, accumulate); c += ldc;
        V.Store(c, c50, accumulate); V.Store(c + w, c51, accumulate); V.Store(c + 2 * w, c52, accumulate); V.Store(c + 3 * w, c53, accumulate);
    }

    /// <summary>6 x (2 vectors) tile: 12 accumulators, 2 B loads and 6 broadcasts per k step; B rows are <paramref name="nr"/> apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Kernel<V>(int kc, T* a, T* b, T* c, int ldc, bool accumulate, int nr) where V : struct, ISimd<V, T>
    {
        int w = V.Count;
        V c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
          c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, a += MR, b += nr)
        {
            var b0 = V.Load(b);
            var b1 = V.Load(b + w);
            var x = V.Broadcast(a[0]); c00 = V.Fma(x, b0, c00); c01 = V.Fma(x, b1, c01);
            x = V.Broadcast(a[1]); c10 = V.Fma(x, b0, c10); c11 = V.Fma(x, b1, c11);
            x = V.Broadcast(a[2]); c20 = V.Fma(x, b0, c20); c21 = V.Fma(x, b1, c21);
            x = V.Broadcast(a[3]); c30 = V.Fma(x, b0, c30); c31 = V.Fma(x, b1, c31);
            x = V.Broadcast(a[4]); c40 = V.Fma(x, b0, c40); c41 = V.Fma(x, b1, c41);
            x = V.Broadcast(a[5]); c50 = V.Fma(x, b0, c50); c51 = V.Fma(x, b1, c51);
        }
        V.Store(c, c00, accumulate); V.Store(c + w, c01, accumulate); c += ldc;
        V.Store(c, c10, accumulate); V.Store(c + w, c11, accumulate); c += ldc;
        V.Store(c, c20, accumulate); V.Store(c + w, c21, accumulate); c += ldc;
        V.Store(c, c30, accumulate); V.Store(c + w, c31, accumulate); c += ldc;
        V.Store(c, c40, accumulate); V.Store(c + w, c41, accumulate); c += ldc;
        V.Store(c, c50, accumulate); V.Store(c + w, c51, accumulate);
    }
}

/// <summary>The few vector operations the GEMM kernel needs, so one kernel serves both vector widths.</summary>
internal unsafe interface ISimd<TSelf, T> where TSelf : struct, ISimd<TSelf, T> where T : unmanaged
{
    static abstract int Count { get; }
    static abstract TSelf Load(T* p);
    static abstract TSelf Broadcast(T value);
    /// <summary>x * y + z with one rounding (FMA) for float and double.</summary>
    static abstract TSelf Fma(TSelf x, TSelf y, TSelf z);
    /// <summary>Stores v at p, adding what p holds first when accumulating.</summary>
    static abstract void Store(T* p, TSelf v, bool accumulate);
}

internal readonly unsafe struct Simd512<T>(Vector512<T> v) : ISimd<Simd512<T>, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    readonly Vector512<T> _v = v;
    public static int Count => Vector512<T>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd512<T> Load(T* p) => new(Vector512.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd512<T> Broadcast(T value) => new(Vector512.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Simd512<T> Fma(Simd512<T> x, Simd512<T> y, Simd512<T> z)
    {
        if (typeof(T) == typeof(float)) return new(Vector512.FusedMultiplyAdd(x._v.As<T, float>(), y._v.As<T, float>(), z._v.As<T, float>()).As<float, T>());
        if (typeof(T) == typeof(double)) return new(Vector512.FusedMultiplyAdd(x._v.As<T, double>(), y._v.As<T, double>(), z._v.As<T, double>()).As<double, T>());
        return new(x._v * y._v + z._v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T* p, Simd512<T> v, bool accumulate) => (accumulate ? v._v + Vector512.Load(p) : v._v).Store(p);
}

internal readonly unsafe struct Simd256<T>(Vector256<T> v) : ISimd<Simd256<T>, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    readonly Vector256<T> _v = v;
    public static int Count => Vector256<T>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd256<T> Load(T* p) => new(Vector256.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd256<T> Broadcast(T value) => new(Vector256.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Simd256<T> Fma(Simd256<T> x, Simd256<T> y, Simd256<T> z)
    {
        if (typeof(T) == typeof(float)) return new(Vector256.FusedMultiplyAdd(x._v.As<T, float>(), y._v.As<T, float>(), z._v.As<T, float>()).As<float, T>());
        if (typeof(T) == typeof(double)) return new(Vector256.FusedMultiplyAdd(x._v.As<T, double>(), y._v.As<T, double>(), z._v.As<T, double>()).As<double, T>());
        return new(x._v * y._v + z._v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T* p, Simd256<T> v, bool accumulate) => (accumulate ? v._v + Vector256.Load(p) : v._v).Store(p);
}

internal readonly unsafe struct Simd128<T>(Vector128<T> v) : ISimd<Simd128<T>, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    readonly Vector128<T> _v = v;
    public static int Count => Vector128<T>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd128<T> Load(T* p) => new(Vector128.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd128<T> Broadcast(T value) => new(Vector128.Create(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Simd128<T> Fma(Simd128<T> x, Simd128<T> y, Simd128<T> z)
    {
        if (typeof(T) == typeof(float)) return new(Vector128.FusedMultiplyAdd(x._v.As<T, float>(), y._v.As<T, float>(), z._v.As<T, float>()).As<float, T>());
        if (typeof(T) == typeof(double)) return new(Vector128.FusedMultiplyAdd(x._v.As<T, double>(), y._v.As<T, double>(), z._v.As<T, double>()).As<double, T>());
        return new(x._v * y._v + z._v);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T* p, Simd128<T> v, bool accumulate) => (accumulate ? v._v + Vector128.Load(p) : v._v).Store(p);
}
