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

    /// <summary>In place: logits become dLoss/dlogits = (softmax - onehot(target)) * scale.</summary>
    public static void Backward(Span<T> logits, int target, T logSumExp, T scale)
    {
        TensorPrimitives.Subtract(logits, logSumExp, logits);
        TensorPrimitives.Exp<T>(logits, logits);
        logits[target] -= T.One;
        TensorPrimitives.Multiply(logits, scale, logits);
    }
}
