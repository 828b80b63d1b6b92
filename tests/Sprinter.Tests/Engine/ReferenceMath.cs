namespace Sprinter.Tests.Engine;

/// <summary>Plain double-precision pieces shared by the reference forward passes (never by the engine).</summary>
public static class ReferenceMath
{
    /// <summary>y = W x + b with W stored [out, in] (nn.Linear).</summary>
    public static double[] Linear(double[] x, float[] weight, float[]? bias, int outputs)
    {
        var y = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double sum = bias?[o] ?? 0;
            for (int i = 0; i < x.Length; i++) sum += weight[o * x.Length + i] * x[i];
            y[o] = sum;
        }
        return y;
    }
}
