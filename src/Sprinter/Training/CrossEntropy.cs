using System.Numerics;
using System.Numerics.Tensors;

namespace Sprinter.Training;

/// <summary>Next-token cross-entropy over one row of logits.</summary>
internal static class CrossEntropy<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Returns (loss, log-sum-exp); <paramref name="scratch"/> is a vocab-sized row.</summary>
    public static (T Loss, T LogSumExp) Forward(ReadOnlySpan<T> logits, int target, Span<T> scratch)
    {
        T max = TensorPrimitives.Max(logits);
        TensorPrimitives.Subtract(logits, max, scratch);
        TensorPrimitives.Exp<T>(scratch, scratch);
        T lse = max + T.Log(TensorPrimitives.Sum<T>(scratch));
        return (lse - logits[target], lse);
    }

    /// <summary>
    /// Distillation loss of one row: (1 - w) x the cross-entropy of the data token plus w x
    /// KL(teacher || model), with <paramref name="teacher"/> the teacher's probabilities. Returns (loss, log-sum-exp).
    /// </summary>
    public static (T Loss, T LogSumExp) ForwardSoft(ReadOnlySpan<T> logits, int target, ReadOnlySpan<T> teacher, T weight, Span<T> scratch)
    {
        var (hard, lse) = Forward(logits, target, scratch);
        // KL = sum p (log p - log q) with log q = z - lse; terms with p = 0 contribute nothing.
        T kl = T.Zero;
        for (int i = 0; i < teacher.Length; i++)
            if (teacher[i] > T.Zero) kl += teacher[i] * (T.Log(teacher[i]) - (logits[i] - lse));
        return ((T.One - weight) * hard + weight * kl, lse);
    }

    /// <summary>In place: dLoss/dlogits of <see cref="ForwardSoft"/> = (softmax - (1 - w) onehot(target) - w teacher) * scale.</summary>
    public static void BackwardSoft(Span<T> logits, int target, ReadOnlySpan<T> teacher, T weight, T logSumExp, T scale)
    {
        TensorPrimitives.Subtract(logits, logSumExp, logits);
        TensorPrimitives.Exp<T>(logits, logits);
        logits[target] -= T.One - weight;
        for (int i = 0; i < logits.Length; i++) logits[i] -= weight * teacher[i];
        TensorPrimitives.Multiply(logits, scale, logits);
    }

    /// <summary>In place: logits become dLoss/dlogits = (softmax - onehot(target)) * scale.</summary>
    public static void Backward(Span<T> logits, int target, T logSumExp, T scale)
    {
        TensorPrimitives.Subtract(logits, logSumExp, logits);
        TensorPrimitives.Exp<T>(logits, logits);
        logits[target] -= T.One;
        TensorPrimitives.Multiply(logits, scale, logits);
    }
}
