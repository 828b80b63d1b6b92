using Sprinter.Decoding;

namespace Sprinter.Tests.Decoding;

public class SamplingTests
{
    static float[] Logits(params double[] probs) => probs.Select(p => (float)Math.Log(p)).ToArray();

    static float[] Distribution(SamplingOptions o, float[] logits)
    {
        var probs = new float[logits.Length];
        new DistributionBuilder(o, logits.Length).Compute(logits, probs);
        return probs;
    }

    [Fact]
    public void GreedyIsOneHotOnTheArgmaxWithLowestIdOnTies()
    {
        var p = Distribution(SamplingOptions.Greedy, [0.1f, 3f, 3f, -1f]);
        Assert.Equal(new float[] { 0, 1, 0, 0 }, p);
    }

    [Fact]
    public void TopKKeepsExactlyTheKMostLikely()
    {
        var p = Distribution(new SamplingOptions { Temperature = 1, TopK = 2 }, Logits(0.1, 0.4, 0.2, 0.3));
        Assert.Equal(0, p[0]); Assert.Equal(0, p[2]);
        Assert.Equal(0.4 / 0.7, p[1], 5); Assert.Equal(0.3 / 0.7, p[3], 5);
    }

    [Theory]
    [InlineData(0.4, new[] { 1 })]            // the top token alone reaches 0.4
    [InlineData(0.5, new[] { 1, 3 })]         // 0.4 < 0.5 <= 0.7
    [InlineData(0.7, new[] { 1, 3 })]         // exactly reaching p keeps the set
    [InlineData(0.71, new[] { 1, 3, 2 })]
    [InlineData(1.0, new[] { 0, 1, 2, 3 })]
    public void TopPKeepsTheSmallestSetReachingP(double topP, int[] kept)
    {
        var p = Distribution(new SamplingOptions { Temperature = 1, TopP = (float)topP }, Logits(0.1, 0.4, 0.2, 0.3));
        for (int i = 0; i < 4; i++) Assert.Equal(kept.Contains(i), p[i] > 0);
        Assert.Equal(1.0, p.Sum(), 5);
    }

    [Fact]
    public void TopKThenTopPApplyInOrderAndTiesBreakByLowerId()
    {
        // Four equal tokens: top-k 3 keeps ids 0..2, top-p 0.5 of those keeps ids 0 and 1.
        var p = Distribution(new SamplingOptions { Temperature = 1, TopK = 3, TopP = 0.5f }, Logits(0.25, 0.25, 0.25, 0.25));
        Assert.Equal(new[] { 0.5f, 0.5f, 0f, 0f }, p.Select(x => MathF.Round(x, 5)).ToArray());
    }

    [Fact]
    public void TemperatureSharpensAndFlattens()
    {
        var logits = Logits(0.2, 0.8);
        var cold = Distribution(new SamplingOptions { Temperature = 0.5f }, logits);
        var hot = Distribution(new SamplingOptions { Temperature = 2f }, logits);
        Assert.Equal(0.64 / 0.68, cold[1], 4);   // p^2 normalised
        Assert.Equal(Math.Sqrt(0.8) / (Math.Sqrt(0.8) + Math.Sqrt(0.2)), hot[1], 4);
    }

    [Fact]
    public void SameSeedSameDrawsDifferentSeedDifferentDraws()
    {
        float[] probs = [0.1f, 0.2f, 0.3f, 0.4f];
        int[] Draw(int seed) { var s = new TokenSampler(seed); return Enumerable.Range(0, 50).Select(_ => s.Sample(probs)).ToArray(); }
        Assert.Equal(Draw(7), Draw(7));
        Assert.NotEqual(Draw(7), Draw(8));
    }

    [Fact]
    public void SamplesFollowTheDistribution()
    {
        float[] probs = [0.1f, 0f, 0.6f, 0.3f];
        var s = new TokenSampler(1);
        var counts = new int[4];
        for (int i = 0; i < 20000; i++) counts[s.Sample(probs)]++;
        Assert.Equal(0, counts[1]);
        Assert.InRange(counts[2] / 20000.0, 0.58, 0.62);
    }

    [Theory]
    [InlineData(-1f, 0, 1f, "temperature")]
    [InlineData(float.NaN, 0, 1f, "temperature")]
    [InlineData(1f, -3, 1f, "top_k")]
    [InlineData(1f, 0, 0f, "top_p")]
    [InlineData(1f, 0, 1.5f, "top_p")]
    public void InvalidSamplingParametersAreRejectedNamingTheSetting(float t, int k, float p, string setting)
    {
        var e = Assert.Throws<InvalidSettingException>(() => new SamplingOptions { Temperature = t, TopK = k, TopP = p }.Validate());
        Assert.Equal(setting, e.Setting);
        Assert.StartsWith(setting + " must be", e.Message);
    }
}
