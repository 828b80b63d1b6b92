using System.Diagnostics;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Training;
using Xunit.Abstractions;

namespace Sprinter.Tests.Training;

/// <summary>
/// A measurement, not a check: GFLOP/s of the trainer's GEMM at the shapes of a 6 x 384 model, on one
/// and two threads. Skipped unless SPRINTER_TRAIN_BENCH=1 (Release build):
/// SPRINTER_TRAIN_BENCH=1 dotnet test tests/Sprinter.Tests -c Release --filter FullyQualifiedName~GemmBenchmark --logger "console;verbosity=detailed"
/// Training tokens/s is the command <c>sprinter bench-train</c>.
/// </summary>
public class GemmBenchmark(ITestOutputHelper output)
{
    [BenchmarkFact]
    public void GemmGflops()
    {
        foreach (int threads in new[] { 1, 2 })
        {
            using var pool = new WorkerPool(threads);
            var gemm = new ParallelGemm<float>(pool);
            foreach (var (m, n, k, ta, tb) in new[] { (2048, 1152, 384, false, false), (2048, 384, 1536, false, true), (384, 1536, 2048, true, false), (2048, 8192, 384, false, true), (8192, 384, 2048, true, false) })
            {
                var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
                new Random(1).NextBytes(new byte[1]);
                for (int i = 0; i < a.Length; i++) a[i] = (i % 7) * 0.1f;
                for (int i = 0; i < b.Length; i++) b[i] = (i % 5) * 0.1f;
                var A = new Operand<float>(a, 0, ta ? m : k, ta); var B = new Operand<float>(b, 0, tb ? k : n, tb);
                gemm.Multiply(m, n, k, A, B, c, 0, n, false);
                var sw = Stopwatch.StartNew();
                int reps = 3;
                for (int r = 0; r < reps; r++) gemm.Multiply(m, n, k, A, B, c, 0, n, false);
                double s = sw.Elapsed.TotalSeconds / reps;
                output.WriteLine($"{threads} threads {m}x{n}x{k} tA={ta} tB={tb}: {s * 1000:F1} ms, {2.0 * m * n * k / s / 1e9:F1} GFLOP/s");
            }
        }
    }
}
