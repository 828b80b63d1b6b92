using System.Numerics.Tensors;

namespace Sprinter.Training;

/// <summary>
/// AdamW (Loshchilov and Hutter) as in PyTorch: decoupled weight decay p *= 1 - lr * wd on the
/// parameters marked for decay, then p -= lr * m̂ / (sqrt(v̂) + eps), with bias-corrected moments.
/// Moments are fp32 arrays in parameter order; serial loops, so updates are deterministic.
/// </summary>
internal sealed class AdamW
{
    public const double Beta1 = 0.9, Beta2 = 0.95, Epsilon = 1e-8;

    /// <summary>First and second moments, one array per parameter tensor (checkpointed).</summary>
    public float[][] M { get; }
    public float[][] V { get; }
    /// <summary>Updates applied so far (the t of the bias correction).</summary>
    public long StepCount { get; set; }

    public AdamW(IReadOnlyList<int> sizes)
    {
        M = sizes.Select(n => new float[n]).ToArray();
        V = sizes.Select(n => new float[n]).ToArray();
    }

    /// <summary>The L2 norm of all gradients together, summed in double in parameter order.</summary>
    public static double GradientNorm(IReadOnlyList<Parameter<float>> parameters)
    {
        double sum = 0;
        foreach (var p in parameters) sum += TensorPrimitives.SumOfSquares<float>(p.Grad);
        return Math.Sqrt(sum);
    }

    /// <summary>
    /// One update. Gradients are multiplied by <paramref name="gradScale"/> as they are read: global-norm
    /// clipping passes clip / norm when the norm exceeds the clip, so no separate pass rescales them.
    /// </summary>
    public void Step(IReadOnlyList<Parameter<float>> parameters, double learningRate, double weightDecay, double gradScale)
    {
        StepCount++;
        float b1 = (float)Beta1, b2 = (float)Beta2, eps = (float)Epsilon, scale = (float)gradScale;
        float corr1 = (float)(1 / (1 - Math.Pow(Beta1, StepCount)));
        float corr2 = (float)(1 / (1 - Math.Pow(Beta2, StepCount)));
        float lr = (float)learningRate;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            float decay = p.Decay ? (float)(1 - learningRate * weightDecay) : 1f;
            Update(p.Value, p.Grad, M[i], V[i], b1, b2, eps, scale, corr1, corr2, lr, decay);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    static void Update(Span<float> value, ReadOnlySpan<float> grad, Span<float> m, Span<float> v,
        float b1, float b2, float eps, float scale, float corr1, float corr2, float lr, float decay)
    {
        for (int j = 0; j < value.Length; j++)
        {
            float g = grad[j] * scale;
            float mj = m[j] = b1 * m[j] + (1 - b1) * g;
            float vj = v[j] = b2 * v[j] + (1 - b2) * g * g;
            value[j] = value[j] * decay - lr * (mj * corr1) / (MathF.Sqrt(vj * corr2) + eps);
        }
    }
}
