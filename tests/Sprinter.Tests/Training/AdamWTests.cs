using Sprinter.Training;

namespace Sprinter.Tests.Training;

public class AdamWTests
{
    [Fact]
    public void StepsMatchTheAdamWFormulasAndDecayOnlyMarkedTensors()
    {
        var matrix = new Parameter<float>("h.0.mlp.c_fc.weight", [2, 2], [0.5f, -1f, 2f, 0.25f], decay: true);
        var bias = new Parameter<float>("h.0.mlp.c_fc.bias", [2], [0.5f, -1f], decay: false);
        var parameters = new[] { matrix, bias };
        var optimizer = new AdamW([4, 2]);
        double lr = 0.01, wd = 0.1, scale = 0.5;
        var reference = parameters.Select(p => p.Value.Select(v => (double)v).ToArray()).ToArray();
        var m = parameters.Select(p => new double[p.Value.Length]).ToArray();
        var v = parameters.Select(p => new double[p.Value.Length]).ToArray();
        for (int t = 1; t <= 3; t++)
        {
            for (int i = 0; i < parameters.Length; i++)
                for (int j = 0; j < parameters[i].Grad.Length; j++) parameters[i].Grad[j] = (float)Math.Sin(t + 3 * i + j);
            optimizer.Step(parameters, lr, wd, scale);
            for (int i = 0; i < parameters.Length; i++)
                for (int j = 0; j < reference[i].Length; j++)
                {
                    double g = parameters[i].Grad[j] * scale;
                    m[i][j] = 0.9 * m[i][j] + 0.1 * g;
                    v[i][j] = 0.95 * v[i][j] + 0.05 * g * g;
                    double mHat = m[i][j] / (1 - Math.Pow(0.9, t)), vHat = v[i][j] / (1 - Math.Pow(0.95, t));
                    if (parameters[i].Decay) reference[i][j] *= 1 - lr * wd;
                    reference[i][j] -= lr * mHat / (Math.Sqrt(vHat) + 1e-8);
                    Assert.Equal(reference[i][j], parameters[i].Value[j], 5);
                }
        }
        Assert.Equal(3, optimizer.StepCount);
    }

    [Fact]
    public void GradientNormIsTheNormOfAllTensorsTogether()
    {
        var a = new Parameter<float>("a", [2], [0, 0], decay: false);
        var b = new Parameter<float>("b", [1], [0], decay: false);
        a.Grad[0] = 3; a.Grad[1] = 0; b.Grad[0] = 4;
        Assert.Equal(5.0, AdamW.GradientNorm([a, b]), 12);
    }
}
