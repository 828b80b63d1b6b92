using Sprinter.Engine;
using Sprinter.Training;

namespace Sprinter.Tests.Training;

public class GemmTests
{
    static double[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
    }

    // The Vector256 fallback runs these too under DOTNET_EnableAVX512F=0.
    // Odd sizes on purpose: partial micro-tiles in both directions and more than one k block (KC = 256).
    [Theory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(7, 33, 5, false, false)]
    [InlineData(13, 45, 300, false, true)]
    [InlineData(29, 17, 263, true, false)]
    [InlineData(80, 530, 19, true, true)]
    public void MatchesNaiveProduct(int m, int n, int k, bool transA, bool transB)
    {
        var a = Random(m * k, 1);
        var b = Random(k * n, 2);
        var c0 = Random(m * n, 3);
        double A(int i, int p) => transA ? a[p * m + i] : a[i * k + p];
        double B(int p, int j) => transB ? b[j * k + p] : b[p * n + j];
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = accumulate ? c0[i * n + j] : 0;
                    for (int p = 0; p < k; p++) s += A(i, p) * B(p, j);
                    expected[i * n + j] = s;
                }
            foreach (int threads in new[] { 1, 2 })
            {
                using var pool = new WorkerPool(threads);
                var gemm = new ParallelGemm<double>(pool);
                var c = (double[])c0.Clone();
                gemm.Multiply(m, n, k, new Operand<double>(a, 0, transA ? m : k, transA), new Operand<double>(b, 0, transB ? k : n, transB), c, 0, n, accumulate);
                for (int i = 0; i < c.Length; i++) Assert.True(Math.Abs(c[i] - expected[i]) < 1e-12 * (1 + k), $"[{i}] {c[i]} vs {expected[i]}");

                var af = a.Select(x => (float)x).ToArray();
                var bf = b.Select(x => (float)x).ToArray();
                var cf = c0.Select(x => (float)x).ToArray();
                var gf = new ParallelGemm<float>(pool);
                gf.Multiply(m, n, k, new Operand<float>(af, 0, transA ? m : k, transA), new Operand<float>(bf, 0, transB ? k : n, transB), cf, 0, n, accumulate);
                for (int i = 0; i < cf.Length; i++) Assert.True(Math.Abs(cf[i] - expected[i]) < 1e-5 * (1 + k), $"float [{i}] {cf[i]} vs {expected[i]}");
            }
        }
    }

    [Fact]
    public void ResultDoesNotDependOnThreadCount()
    {
        int m = 97, n = 301, k = 520;
        var a = Random(m * k, 4).Select(x => (float)x).ToArray();
        var b = Random(k * n, 5).Select(x => (float)x).ToArray();
        float[] Run(int threads)
        {
            using var pool = new WorkerPool(threads);
            var c = new float[m * n];
            new ParallelGemm<float>(pool).Multiply(m, n, k, new Operand<float>(a, 0, k), new Operand<float>(b, 0, n), c, 0, n, false);
            return c;
        }
        Assert.Equal(Run(1), Run(2));
        Assert.Equal(Run(1), Run(3));
    }
}
