using Sprinter.Decoding;
using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Tests.Decoding;

/// <summary>Draft/target pairs made in the tests, and helpers to run decoders to completion.</summary>
public sealed class DecoderTestPair
{
    public required TransformerModel Draft { get; init; }
    public required TransformerModel Target { get; init; }

    /// <summary>A target and a draft that is the target plus noise (high acceptance), or an unrelated model.</summary>
    public static DecoderTestPair Create(int vocab = 257, bool perturbedCopy = true, float noise = 0.02f, int seed = 1, float logitScale = 1f)
    {
        var c = TestModels.TinyConfig(vocab, positions: 128);
        var targetTensors = TestModels.Tensors(c, seed);
        Scale(targetTensors, "wte.weight", logitScale);
        var draftTensors = perturbedCopy ? Perturb(targetTensors, noise, seed + 100) : TestModels.Tensors(c, seed + 1);
        if (!perturbedCopy) Scale(draftTensors, "wte.weight", logitScale);
        return new DecoderTestPair { Target = TestModels.Model(c, targetTensors), Draft = TestModels.Model(c, draftTensors) };
    }

    static void Scale(Dictionary<string, (float[] Data, long[] Shape)> t, string name, float factor)
    {
        if (factor == 1f) return;
        var (data, shape) = t[name];
        t[name] = (data.Select(v => v * factor).ToArray(), shape);
    }

    static Dictionary<string, (float[] Data, long[] Shape)> Perturb(Dictionary<string, (float[] Data, long[] Shape)> t, float noise, int seed)
    {
        var rng = new Random(seed);
        return t.ToDictionary(kv => kv.Key, kv => (kv.Value.Data.Select(v => v + noise * (float)(rng.NextDouble() * 2 - 1)).ToArray(), kv.Value.Shape));
    }

    public SpeculativeDecoder Speculative(SpeculativeOptions options, SamplingOptions sampling, int seed = 0) =>
        new(Draft.CreateSession(), Target.CreateSession(), options, sampling, seed);

    public static List<EmittedToken> Run(IDecoder decoder, int[] prompt, int maxTokens)
    {
        var list = new List<EmittedToken>();
        var e = decoder.GenerateAsync(prompt, maxTokens).GetAsyncEnumerator();
        while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult()) list.Add(e.Current);
        return list;
    }

    public static int[] Ids(IDecoder decoder, int[] prompt, int maxTokens) => Run(decoder, prompt, maxTokens).Select(t => t.Id).ToArray();

    /// <summary>The sampling distribution of a model's next token after <paramref name="context"/>.</summary>
    public static float[] NextDistribution(TransformerModel model, int[] context, SamplingOptions sampling)
    {
        var s = model.CreateSession();
        s.Forward(context, allLogits: false);
        var probs = new float[model.Config.VocabSize];
        new DistributionBuilder(sampling, probs.Length).Compute(s.Logits(0), probs);
        return probs;
    }
}

/// <summary>Pearson's chi-square goodness of fit, merging rare categories so every expected count is at least 5.</summary>
public static class ChiSquare
{
    public static (double Statistic, int DegreesOfFreedom, double Critical) Test(int[] observed, double[] expectedProbs, double alpha = 1e-3)
    {
        int total = observed.Sum();
        double stat = 0, pooledE = 0, pooledO = 0;
        int categories = 0;
        for (int i = 0; i < observed.Length; i++)
        {
            double e = expectedProbs[i] * total;
            if (e < 5) { pooledE += e; pooledO += observed[i]; continue; }
            stat += (observed[i] - e) * (observed[i] - e) / e;
            categories++;
        }
        if (pooledE > 0)
        {
            if (pooledE < 1e-9) { if (pooledO > 0) return (double.PositiveInfinity, categories, 0); }
            else { stat += (pooledO - pooledE) * (pooledO - pooledE) / pooledE; categories++; }
        }
        int df = Math.Max(1, categories - 1);
        return (stat, df, Critical(df, alpha));
    }

    /// <summary>Wilson-Hilferty approximation of the chi-square quantile.</summary>
    static double Critical(int df, double alpha)
    {
        double z = alpha switch { <= 1e-4 => 3.719, <= 1e-3 => 3.090, <= 1e-2 => 2.326, _ => 1.645 };
        double a = 2.0 / (9 * df);
        return df * Math.Pow(1 - a + z * Math.Sqrt(a), 3);
    }

    public static void AssertFits(int[] observed, double[] expectedProbs, string what)
    {
        var (stat, df, critical) = Test(observed, expectedProbs);
        Assert.True(stat < critical, $"{what}: chi-square {stat:F1} with {df} df exceeds {critical:F1} (alpha 0.001)");
    }
}
