using Sprinter.Decoding;

namespace Sprinter.Tests.Decoding;

/// <summary>
/// Statistical checks of the acceptance rule on a 16-token pair whose draft and target
/// disagree a lot (unrelated random weights; a low temperature turns their small random logits
/// into distinct, peaked distributions), at fixed seeds.
/// </summary>
public class DistributionTests
{
    static readonly DecoderTestPair Pair = DecoderTestPair.Create(vocab: 16, perturbedCopy: false, seed: 4);
    static readonly SamplingOptions Sampling = new() { Temperature = 0.05f };
    static readonly int[] Prompt = [3, 7, 1];

    [Fact]
    public void PairDisagreesEnoughForTheTestsToHavePower()
    {
        var p = DecoderTestPair.NextDistribution(Pair.Target, Prompt, Sampling);
        var q = DecoderTestPair.NextDistribution(Pair.Draft, Prompt, Sampling);
        double tv = 0.5 * p.Zip(q, (a, b) => Math.Abs(a - b)).Sum();
        Assert.True(tv > 0.3, $"d_TV(p, q) = {tv:F3} is too small to tell p from q");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void SdFirstTokenFollowsTheTargetDistribution(int gamma)
    {
        var decoder = Pair.Speculative(new SpeculativeOptions { Gamma = gamma }, Sampling, seed: 11);
        var counts = new int[16];
        for (int run = 0; run < 6000; run++) counts[DecoderTestPair.Run(decoder, Prompt, 1)[0].Id]++;
        var p = DecoderTestPair.NextDistribution(Pair.Target, Prompt, Sampling).Select(x => (double)x).ToArray();
        ChiSquare.AssertFits(counts, p, $"SD gamma {gamma}, first token vs p");
        // Power: the same counts must not fit the draft's distribution.
        var q = DecoderTestPair.NextDistribution(Pair.Draft, Prompt, Sampling).Select(x => (double)x).ToArray();
        Assert.True(ChiSquare.Test(counts, q).Statistic > ChiSquare.Test(counts, q).Critical, "the test cannot tell p from q");
    }

    [Fact]
    public void SdTokenAfterARejectionFollowsTheTargetGivenTheResampledToken()
    {
        var decoder = Pair.Speculative(new SpeculativeOptions { Gamma = 1 }, Sampling, seed: 12);
        var second = new Dictionary<int, int[]>();
        for (int run = 0; run < 12000; run++)
        {
            var tokens = DecoderTestPair.Run(decoder, Prompt, 2);
            if (tokens[0].Origin != TokenOrigin.Resampled) continue;
            if (!second.TryGetValue(tokens[0].Id, out var c)) second[tokens[0].Id] = c = new int[16];
            c[tokens[1].Id]++;
        }
        var (first, counts) = second.MaxBy(kv => kv.Value.Sum());
        Assert.True(counts.Sum() > 500, $"only {counts.Sum()} runs resampled token {first}");
        var p = DecoderTestPair.NextDistribution(Pair.Target, [.. Prompt, first], Sampling).Select(x => (double)x).ToArray();
        ChiSquare.AssertFits(counts, p, $"token after resampled {first}");
    }

    /// <summary>Accepts every acceptable token (q(x) <= p(x)) and an unacceptable one with probability eta; rejects later tokens.</summary>
    sealed class LabelNoiseVerifier(float[] p, double eta, int seed) : IVerifier
    {
        readonly Random _random = new(seed);
        public int CallsThisRun;
        public string Name => $"label-noise({eta})";
        public int InputSize => 0;

        public float Score(in VerifierInput input)
        {
            if (CallsThisRun++ > 0) return 0f;
            bool acceptable = input.Q[input.Token] <= p[input.Token];
            return acceptable || _random.NextDouble() < eta ? 1f : 0f;
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.3)]
    [InlineData(1.0)]
    public void SprinterOneStepDistributionIsTheTheorysMixture(double eta)
    {
        var p = DecoderTestPair.NextDistribution(Pair.Target, Prompt, Sampling);
        var q = DecoderTestPair.NextDistribution(Pair.Draft, Prompt, Sampling);
        var verifier = new LabelNoiseVerifier(p, eta, seed: 5);
        var decoder = Pair.Speculative(new SpeculativeOptions { Method = DecodingMethod.SprinterPaper, Verifier = verifier, MaxDraft = 20 }, Sampling, seed: 13);
        var counts = new int[16];
        for (int run = 0; run < 6000; run++)
        {
            verifier.CallsThisRun = 0;
            counts[DecoderTestPair.Run(decoder, Prompt, 2)[0].Id]++;
        }
        var mixture = p.Zip(q, (a, b) => (1 - eta) * a + eta * b).ToArray();
        ChiSquare.AssertFits(counts, mixture, $"eta {eta}: first token vs (1 - eta) p + eta q");
    }
}
