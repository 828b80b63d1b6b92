using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sprinter.Engine;

/// <summary>Reads one 32-wide row of a packed tile as floats. Generic so the JIT emits one kernel per weight type.</summary>
internal interface ITile
{
    static abstract int ElementBytes { get; }
    static abstract unsafe void Load(byte* row, out Vector512<float> lo, out Vector512<float> hi);
    static abstract unsafe void Load(byte* row, out Vector256<float> a, out Vector256<float> b, out Vector256<float> c, out Vector256<float> d);
    static abstract unsafe float Scalar(byte* row, int lane);
}

internal readonly struct F32Tile : ITile
{
    public static int ElementBytes => 4;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Load(byte* row, out Vector512<float> lo, out Vector512<float> hi)
    {
        lo = Vector512.Load((float*)row);
        hi = Vector512.Load((float*)row + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Load(byte* row, out Vector256<float> a, out Vector256<float> b, out Vector256<float> c, out Vector256<float> d)
    {
        a = Vector256.Load((float*)row); b = Vector256.Load((float*)row + 8);
        c = Vector256.Load((float*)row + 16); d = Vector256.Load((float*)row + 24);
    }

    public static unsafe float Scalar(byte* row, int lane) => ((float*)row)[lane];
}

/// <summary>bf16 widens to fp32 with a 16-bit shift: cheaper here than any fp16 path (no F16C in .NET).</summary>
internal readonly struct BF16Tile : ITile
{
    public static int ElementBytes => 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Load(byte* row, out Vector512<float> lo, out Vector512<float> hi)
    {
        var raw = Vector512.Load((ushort*)row);
        lo = Vector512.ShiftLeft(Vector512.WidenLower(raw), 16).AsSingle();
        hi = Vector512.ShiftLeft(Vector512.WidenUpper(raw), 16).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Load(byte* row, out Vector256<float> a, out Vector256<float> b, out Vector256<float> c, out Vector256<float> d)
    {
        var r0 = Vector256.Load((ushort*)row);
        var r1 = Vector256.Load((ushort*)row + 16);
        a = Vector256.ShiftLeft(Vector256.WidenLower(r0), 16).AsSingle();
        b = Vector256.ShiftLeft(Vector256.WidenUpper(r0), 16).AsSingle();
        c = Vector256.ShiftLeft(Vector256.WidenLower(r1), 16).AsSingle();
        d = Vector256.ShiftLeft(Vector256.WidenUpper(r1), 16).AsSingle();
    }

    public static unsafe float Scalar(byte* row, int lane) => BitConverter.UInt32BitsToSingle((uint)((ushort*)row)[lane] << 16);
}

/// <summary>
/// y = x W + b over a range of 32-column tiles. Vector512 where accelerated (4, 2 or 1 positions
/// per pass over a tile, up to 8 accumulators), Vector256 otherwise, a scalar loop as last resort.
/// </summary>
internal static unsafe class MatMulKernels
{
    const int W = PackedMatrix.TileWidth;

    // AggressiveOptimization: kernels must run fully optimized from the first call (tier-0 code
    // would make the first passes of a benchmark or a short generation several times slower).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<T>(PackedMatrix m, void* data, float* x, float* y, float* bias, int rows, int tileStart, int tileEnd) where T : ITile
    {
        int n = m.In, outCount = m.Out;
        long tileBytes = (long)n * W * T.ElementBytes;
        float* acc = stackalloc float[4 * W];
        for (int t = tileStart; t < tileEnd; t++)
        {
            byte* tile = (byte*)data + t * tileBytes;
            int col = t * W, width = Math.Min(W, outCount - col);
            int p = 0;
            while (p < rows)
            {
                int block = rows - p >= 4 ? 4 : rows - p >= 2 ? 2 : 1;
                float* xp = x + (long)p * n;
                if (Vector512.IsHardwareAccelerated)
                {
                    if (block == 4) Block4<T>(tile, n, xp, acc);
                    else if (block == 2) Block2<T>(tile, n, xp, acc);
                    else Block1<T>(tile, n, xp, acc);
                }
                else
                {
                    block = 1;
                    if (Vector256.IsHardwareAccelerated) Block1V256<T>(tile, n, xp, acc);
                    else Block1Scalar<T>(tile, n, xp, acc);
                }
                for (int r = 0; r < block; r++)
                {
                    float* dst = y + (long)(p + r) * outCount + col;
                    float* src = acc + r * W;
                    if (bias != null) for (int j = 0; j < width; j++) dst[j] = src[j] + bias[col + j];
                    else for (int j = 0; j < width; j++) dst[j] = src[j];
                }
                p += block;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block4<T>(byte* tile, int n, float* x, float* acc) where T : ITile
    {
        var a0 = Vector512<float>.Zero; var b0 = a0; var a1 = a0; var b1 = a0;
        var a2 = a0; var b2 = a0; var a3 = a0; var b3 = a0;
        int rowBytes = W * T.ElementBytes;
        float* x1 = x + n, x2 = x1 + n, x3 = x2 + n;
        for (int i = 0; i < n; i++)
        {
            T.Load(tile + (long)i * rowBytes, out var lo, out var hi);
            var v = Vector512.Create(x[i]); a0 = Vector512.FusedMultiplyAdd(lo, v, a0); b0 = Vector512.FusedMultiplyAdd(hi, v, b0);
            v = Vector512.Create(x1[i]); a1 = Vector512.FusedMultiplyAdd(lo, v, a1); b1 = Vector512.FusedMultiplyAdd(hi, v, b1);
            v = Vector512.Create(x2[i]); a2 = Vector512.FusedMultiplyAdd(lo, v, a2); b2 = Vector512.FusedMultiplyAdd(hi, v, b2);
            v = Vector512.Create(x3[i]); a3 = Vector512.FusedMultiplyAdd(lo, v, a3); b3 = Vector512.FusedMultiplyAdd(hi, v, b3);
        }
        a0.Store(acc); b0.Store(acc + 16); a1.Store(acc + 32); b1.Store(acc + 48);
        a2.Store(acc + 64); b2.Store(acc + 80); a3.Store(acc + 96); b3.Store(acc + 112);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block2<T>(byte* tile, int n, float* x, float* acc) where T : ITile
    {
        var a0 = Vector512<float>.Zero; var b0 = a0; var a1 = a0; var b1 = a0;
        int rowBytes = W * T.ElementBytes;
        float* x1 = x + n;
        for (int i = 0; i < n; i++)
        {
            T.Load(tile + (long)i * rowBytes, out var lo, out var hi);
            var v = Vector512.Create(x[i]); a0 = Vector512.FusedMultiplyAdd(lo, v, a0); b0 = Vector512.FusedMultiplyAdd(hi, v, b0);
            v = Vector512.Create(x1[i]); a1 = Vector512.FusedMultiplyAdd(lo, v, a1); b1 = Vector512.FusedMultiplyAdd(hi, v, b1);
        }
        a0.Store(acc); b0.Store(acc + 16); a1.Store(acc + 32); b1.Store(acc + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block1<T>(byte* tile, int n, float* x, float* acc) where T : ITile
    {
        // Two interleaved accumulator pairs (even and odd rows) hide the FMA latency.
        var a0 = Vector512<float>.Zero; var b0 = a0; var a1 = a0; var b1 = a0;
        int rowBytes = W * T.ElementBytes;
        int i = 0;
        for (; i + 1 < n; i += 2)
        {
            T.Load(tile + (long)i * rowBytes, out var lo, out var hi);
            T.Load(tile + (long)(i + 1) * rowBytes, out var lo1, out var hi1);
            var v = Vector512.Create(x[i]); a0 = Vector512.FusedMultiplyAdd(lo, v, a0); b0 = Vector512.FusedMultiplyAdd(hi, v, b0);
            v = Vector512.Create(x[i + 1]); a1 = Vector512.FusedMultiplyAdd(lo1, v, a1); b1 = Vector512.FusedMultiplyAdd(hi1, v, b1);
        }
        if (i < n)
        {
            T.Load(tile + (long)i * rowBytes, out var lo, out var hi);
            var v = Vector512.Create(x[i]); a0 = Vector512.FusedMultiplyAdd(lo, v, a0); b0 = Vector512.FusedMultiplyAdd(hi, v, b0);
        }
        (a0 + a1).Store(acc); (b0 + b1).Store(acc + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block1V256<T>(byte* tile, int n, float* x, float* acc) where T : ITile
    {
        var a = Vector256<float>.Zero; var b = a; var c = a; var d = a;
        int rowBytes = W * T.ElementBytes;
        for (int i = 0; i < n; i++)
        {
            T.Load(tile + (long)i * rowBytes, out var wa, out var wb, out var wc, out var wd);
            var v = Vector256.Create(x[i]);
            a = Vector256.FusedMultiplyAdd(wa, v, a); b = Vector256.FusedMultiplyAdd(wb, v, b);
            c = Vector256.FusedMultiplyAdd(wc, v, c); d = Vector256.FusedMultiplyAdd(wd, v, d);
        }
        a.Store(acc); b.Store(acc + 8); c.Store(acc + 16); d.Store(acc + 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block1Scalar<T>(byte* tile, int n, float* x, float* acc) where T : ITile
    {
        for (int j = 0; j < W; j++) acc[j] = 0;
        int rowBytes = W * T.ElementBytes;
        for (int i = 0; i < n; i++)
        {
            byte* row = tile + (long)i * rowBytes;
            float v = x[i];
            for (int j = 0; j < W; j++) acc[j] = MathF.FusedMultiplyAdd(T.Scalar(row, j), v, acc[j]);
        }
    }
}
