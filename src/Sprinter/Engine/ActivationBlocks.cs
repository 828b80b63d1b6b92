using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sprinter.Engine;

/// <summary>
/// The activations of one matmul call as 8-bit blocks for the integer kernels (<see cref="Q4Kernels"/>):
/// per position and run of 32 inputs, x_i ~ d q_i with d = max|x| / 127 and q_i = round(x_i / d)
/// (to even) in -127..127, as llama.cpp's Q8_0 rounds activations (its scale kept in fp32 here).
/// Each position's blocks depend only on its own inputs, and every instruction set gives the same
/// bits (max, one multiply, round to even), so the kernels stay position-invariant.
/// Also kept: per block of 32 and of 16 inputs, d times the sum of its q (what the 4-bit formats'
/// offsets multiply, as llama.cpp's Q8_K block sums).
/// </summary>
internal readonly unsafe struct ActivationBlocks
{
    /// <summary>q, [rows, n].</summary>
    public readonly sbyte* Q;
    /// <summary>d per 32 inputs, [rows, n / 32].</summary>
    public readonly float* Scale;
    /// <summary>d sum(q) per 32 inputs, [rows, n / 32].</summary>
    public readonly float* Sum32;
    /// <summary>d sum(q) per 16 inputs (d of the enclosing 32), [rows, n / 16].</summary>
    public readonly float* Sum16;

    public ActivationBlocks(byte* buffer, int rows, int n)
    {
        long blocks = (long)rows * (n / 32);
        Scale = (float*)buffer;
        Sum32 = Scale + blocks;
        Sum16 = Sum32 + blocks;
        Q = (sbyte*)(Sum16 + 2 * blocks);
    }

    /// <summary>Bytes of the buffer for <paramref name="rows"/> positions of <paramref name="n"/> inputs (n a multiple of 32).</summary>
    public static long BufferBytes(int rows, int n) => (long)rows * n + 16L * rows * (n / 32);

    /// <summary>Fills the blocks from x, [rows, n].</summary>
    public void Quantize(float* x, int rows, int n)
    {
        int blocks = n / 32;
        for (long b = 0; b < (long)rows * blocks; b++)
        {
            float* src = x + b * 32;
            sbyte* q = Q + b * 32;
            float amax = MaxMagnitude(src);
            float d = amax / 127f, id = d == 0 ? 0f : 1f / d;
            if (float.IsInfinity(id)) id = 0;   // subnormal blocks: zeros
            int s0, s1;
            if (Vector256.IsHardwareAccelerated) Round256(src, id, q, out s0, out s1);
            else if (Vector128.IsHardwareAccelerated) Round128(src, id, q, out s0, out s1);
            else RoundScalar(src, id, q, out s0, out s1);
            Scale[b] = d;
            Sum32[b] = d * (s0 + s1);
            Sum16[2 * b] = d * s0;
            Sum16[2 * b + 1] = d * s1;
        }
    }

    /// <summary>x as the kernels see it: d q per element (for tests and references).</summary>
    public static float[] RoundTrip(ReadOnlySpan<float> x, int n)
    {
        int rows = x.Length / n;
        var buffer = new byte[BufferBytes(rows, n)];
        var result = new float[rows * n];
        fixed (byte* p = buffer) fixed (float* xp = x)
        {
            var a = new ActivationBlocks(p, rows, n);
            a.Quantize(xp, rows, n);
            for (int i = 0; i < rows * n; i++) result[i] = a.Scale[i / 32] * a.Q[i];
        }
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float MaxMagnitude(float* x)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256.Max(Vector256.Max(Vector256.Abs(Vector256.Load(x)), Vector256.Abs(Vector256.Load(x + 8))),
                                  Vector256.Max(Vector256.Abs(Vector256.Load(x + 16)), Vector256.Abs(Vector256.Load(x + 24))));
            var h = Vector128.Max(m.GetLower(), m.GetUpper());
            h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
            return MathF.Max(h.GetElement(0), h.GetElement(1));
        }
        float a = 0;
        for (int i = 0; i < 32; i++) a = MathF.Max(a, MathF.Abs(x[i]));
        return a;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Round256(float* x, float id, sbyte* q, out int s0, out int s1)
    {
        var scale = Vector256.Create(id);
        var a = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x) * scale));
        var b = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + 8) * scale));
        var c = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + 16) * scale));
        var d = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + 24) * scale));
        s0 = Vector256.Sum(a + b);
        s1 = Vector256.Sum(c + d);
        // Narrow keeps element order (the JIT fixes up the per-128-bit packs).
        var ab = Vector256.Narrow(a, b);
        var cd = Vector256.Narrow(c, d);
        Vector256.Narrow(ab, cd).Store(q);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Round128(float* x, float id, sbyte* q, out int s0, out int s1)
    {
        var scale = Vector128.Create(id);
        s0 = s1 = 0;
        for (int h = 0; h < 2; h++)
        {
            var a = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + 16 * h) * scale));
            var b = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + 16 * h + 4) * scale));
            var c = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + 16 * h + 8) * scale));
            var d = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + 16 * h + 12) * scale));
            int s = Vector128.Sum(a + b + c + d);
            if (h == 0) s0 = s; else s1 = s;
            Vector128.Narrow(Vector128.Narrow(a, b), Vector128.Narrow(c, d)).Store(q + 16 * h);
        }
    }

    static void RoundScalar(float* x, float id, sbyte* q, out int s0, out int s1)
    {
        s0 = s1 = 0;
        for (int i = 0; i < 32; i++)
        {
            int v = (int)MathF.Round(x[i] * id);   // to even, as Vector*.Round
            q[i] = (sbyte)v;
            if (i < 16) s0 += v; else s1 += v;
        }
    }
}
