using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Sprinter.Engine;

namespace Sprinter.Training;

/// <summary>GPT-2's tanh GELU, gelu(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), vectorised in chunks.</summary>
internal static class Gelu<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    const int Chunk = 256;
    static readonly T C = T.CreateChecked(0.7978845608028654), K = T.CreateChecked(0.044715), Half = T.CreateChecked(0.5);

    public static void Forward(ReadOnlySpan<T> x, Span<T> y)
    {
        // float: the engine's fused vector GELU (training and inference agree); double (the
        // gradient checks): the exact chunked form below.
        if (typeof(T) == typeof(float))
        {
            FastTanh.Gelu(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y));
            return;
        }
        Span<T> t = stackalloc T[Chunk];
        for (int i = 0; i < x.Length; i += Chunk)
        {
            var xs = x.Slice(i, Math.Min(Chunk, x.Length - i));
            var ys = y.Slice(i, xs.Length);
            var ts = t[..xs.Length];
            Tanh(xs, ts);
            TensorPrimitives.Add(ts, T.One, ts);
            TensorPrimitives.Multiply(ts, xs, ts);
            TensorPrimitives.Multiply(ts, Half, ys);
        }
    }

    /// <summary>grad *= gelu'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(u).</summary>
    public static void Backward(ReadOnlySpan<T> x, Span<T> grad)
    {
        if (typeof(T) == typeof(float))
        {
            FastTanh.GeluBackward(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(grad));
            return;
        }
        Span<T> t = stackalloc T[Chunk], s = stackalloc T[Chunk], r = stackalloc T[Chunk];
        T k3 = T.CreateChecked(3) * K, halfC = Half * C;
        for (int i = 0; i < x.Length; i += Chunk)
        {
            int n = Math.Min(Chunk, x.Length - i);
            var xs = x.Slice(i, n);
            var gs = grad.Slice(i, n);
            var ts = t[..n]; var ss = s[..n]; var rs = r[..n];
            Tanh(xs, ts);
            TensorPrimitives.Multiply(xs, xs, ss);
            TensorPrimitives.Multiply(ss, k3, ss);
            TensorPrimitives.Add(ss, T.One, ss);               // 1 + 3k x^2
            TensorPrimitives.Multiply(ss, xs, ss);
            TensorPrimitives.Multiply(ss, halfC, ss);          // 0.5 c x (1 + 3k x^2)
            TensorPrimitives.Multiply(ts, ts, rs);
            TensorPrimitives.Subtract(T.One, rs, rs);          // 1 - t^2
            TensorPrimitives.Multiply(ss, rs, ss);
            TensorPrimitives.Add(ts, T.One, rs);
            TensorPrimitives.Multiply(rs, Half, rs);           // 0.5 (1 + t)
            TensorPrimitives.Add(ss, rs, ss);
            TensorPrimitives.Multiply(gs, ss, gs);
        }
    }

    /// <summary>t = tanh(sqrt(2/pi) (x + 0.044715 x^3)), in the engine's order of operations.</summary>
    static void Tanh(ReadOnlySpan<T> x, Span<T> t)
    {
        TensorPrimitives.Multiply(x, x, t);
        TensorPrimitives.Multiply(t, K, t);
        TensorPrimitives.Add(t, T.One, t);
        TensorPrimitives.Multiply(t, x, t);
        TensorPrimitives.Multiply(t, C, t);
        TensorPrimitives.Tanh<T>(t, t);
    }
}
