using System.Numerics;
using System.Numerics.Tensors;

namespace Sprinter.Training;

/// <summary>LayerNorm over one row, forward and backward; the parameter gradients are column sums done by the caller.</summary>
internal static class LayerNorm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>y = (x - mean) * rstd * gamma + beta; returns (mean, rstd) for the backward pass.</summary>
    public static (T Mean, T Rstd) Forward(ReadOnlySpan<T> x, Span<T> y, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, T epsilon)
    {
        T d = T.CreateChecked(x.Length);
        T mean = TensorPrimitives.Sum(x) / d;
        TensorPrimitives.Subtract(x, mean, y);
        T variance = TensorPrimitives.SumOfSquares<T>(y) / d;
        T rstd = T.One / T.Sqrt(variance + epsilon);
        TensorPrimitives.Multiply(y, rstd, y);
        TensorPrimitives.FusedMultiplyAdd(y, gamma, beta, y);
        return (mean, rstd);
    }

    /// <summary>
    /// dx (+)= rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma and xhat the
    /// normalised input. <paramref name="xhat"/> and <paramref name="g"/> are scratch rows.
    /// </summary>
    public static void Backward(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T mean, T rstd, ReadOnlySpan<T> gamma,
        Span<T> dx, bool accumulate, Span<T> xhat, Span<T> g)
    {
        T d = T.CreateChecked(x.Length);
        Normalize(x, mean, rstd, xhat);
        TensorPrimitives.Multiply(dy, gamma, g);
        T meanG = TensorPrimitives.Sum<T>(g) / d;
        T meanGx = TensorPrimitives.Dot<T>(g, xhat) / d;
        TensorPrimitives.Subtract(g, meanG, g);
        TensorPrimitives.MultiplyAdd(xhat, -meanGx, g, g);
        if (accumulate) TensorPrimitives.MultiplyAdd(g, rstd, dx, dx);
        else TensorPrimitives.Multiply(g, rstd, dx);
    }

    public static void Normalize(ReadOnlySpan<T> x, T mean, T rstd, Span<T> xhat)
    {
        TensorPrimitives.Subtract(x, mean, xhat);
        TensorPrimitives.Multiply(xhat, rstd, xhat);
    }
}
