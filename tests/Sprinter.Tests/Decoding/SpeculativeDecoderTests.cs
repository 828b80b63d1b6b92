using Sprinter.Decoding;

namespace Sprinter.Tests.Decoding;

public class SpeculativeDecoderTests
{
    static readonly DecoderTestPair Close = DecoderTestPair.Create(perturbedCopy: true);
    static readonly DecoderTestPair Far = DecoderTestPair.Create(perturbedCopy: false);
    static readonly int[][] Prompts = [[1, 2, 3], [200, 17, 5, 99, 42, 7], [64]];

    static int[] TargetGreedy(DecoderTestPair pair, int[] prompt, int n) =>
        DecoderTestPair.Ids(new AutoregressiveDecoder(pair.Target.CreateSession(), SamplingOptions.Greedy, 0), prompt, n);

    public static TheoryData<int, bool> GammaAndPair()
    {
        var data = new TheoryData<int, bool>();
        for (int g = 1; g <= 8; g++) { data.Add(g, true); data.Add(g, false); }
        return data;
    }

    [Theory]
    [MemberData(nameof(GammaAndPair))]
    public void GreedySdEqualsGreedyTargetTokenForToken(int gamma, bool close)
    {
        var pair = close ? Close : Far;
        foreach (var prompt in Prompts)
        {
            var sd = pair.Speculative(new SpeculativeOptions { Gamma = gamma }, SamplingOptions.Greedy);
            Assert.Equal(TargetGreedy(pair, prompt, 30), DecoderTestPair.Ids(sd, prompt, 30));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GreedyStrictOnCallEqualsGreedyTargetForAnyVerifier(bool close)
    {
        var pair = close ? Close : Far;
        foreach (var verifier in new[] { ConstantVerifier.AlwaysReject, ConstantVerifier.AlwaysAccept, new ConstantVerifier(0.6f) })
            foreach (var prompt in Prompts)
            {
                var options = new SpeculativeOptions { Method = DecodingMethod.SprinterStrictOnCall, Verifier = verifier, MaxDraft = 5 };
                Assert.Equal(TargetGreedy(pair, prompt, 25), DecoderTestPair.Ids(pair.Speculative(options, SamplingOptions.Greedy), prompt, 25));
            }
    }

    [Fact]
    public void AlwaysAcceptVerifierReproducesDraftOnlyOutputUntilTheTargetIsCalled()
    {
        var prompt = Prompts[1];
        int n = 12;
        var draftOnly = DecoderTestPair.Ids(new AutoregressiveDecoder(Far.Draft.CreateSession(), SamplingOptions.Greedy, 0, isTarget: false), prompt, n);
        var options = new SpeculativeOptions { Method = DecodingMethod.SprinterPaper, Verifier = ConstantVerifier.AlwaysAccept, MaxDraft = 20 };
        var decoder = Far.Speculative(options, SamplingOptions.Greedy);
        var tokens = DecoderTestPair.Run(decoder, prompt, n);
        // One round drafts all n tokens; only the last is tested by the target.
        Assert.Equal(1, decoder.LastStats!.TargetCalls);
        Assert.Equal(draftOnly[..(n - 1)], tokens.Take(n - 1).Select(t => t.Id).ToArray());
        Assert.All(tokens.Take(n - 1), t => Assert.Equal(TokenOrigin.Unverified, t.Origin));

        // With a cap of 5 the target is called once per 5 drafted tokens.
        var capped = Far.Speculative(options with { MaxDraft = 5 }, SamplingOptions.Greedy);
        var cappedTokens = DecoderTestPair.Run(capped, prompt, 10);
        Assert.Equal(draftOnly[..4], cappedTokens.Take(4).Select(t => t.Id).ToArray());
        Assert.True(capped.LastStats!.TargetCalls <= 2);
    }

    [Theory]
    [InlineData(SprinterMode.Paper, 0f)]
    [InlineData(SprinterMode.StrictOnCall, 0f)]
    [InlineData(SprinterMode.Paper, 1f)]
    [InlineData(SprinterMode.StrictOnCall, 1f)]
    public void AlwaysRejectVerifierBehavesAsSdWithGammaOne(SprinterMode mode, float temperature)
    {
        var sampling = temperature == 0 ? SamplingOptions.Greedy : new SamplingOptions { Temperature = temperature };
        foreach (var prompt in Prompts)
        {
            var sd = Far.Speculative(new SpeculativeOptions { Gamma = 1 }, sampling, seed: 5);
            var sprinter = Far.Speculative(new SpeculativeOptions { Method = new DecodingMethod(DecodingMode.Sprinter, mode), Verifier = ConstantVerifier.AlwaysReject }, sampling, seed: 5);
            var sdIds = DecoderTestPair.Ids(sd, prompt, 20);
            var spIds = DecoderTestPair.Ids(sprinter, prompt, 20);
            Assert.Equal(sdIds, spIds);
            var stats = sprinter.LastStats!;
            Assert.Equal(stats.Rounds, stats.Drafted);  // exactly one drafted token per round
            Assert.Equal(stats.Rounds, stats.TargetCalls);
            Assert.Equal(sd.LastStats!.TargetCalls, stats.TargetCalls);
        }
    }

    [Fact]
    public void CachesHoldExactlyTheCommittedSequenceAfterEveryRound()
    {
        foreach (var options in new[]
                 {
                     new SpeculativeOptions { Gamma = 3 },
                     new SpeculativeOptions { Method = DecodingMethod.SprinterPaper, Verifier = new ConstantVerifier(0.7f), MaxDraft = 4 },
                     new SpeculativeOptions { Method = DecodingMethod.SprinterStrictOnCall, Verifier = ConstantVerifier.AlwaysAccept, MaxDraft = 6 },
                 })
        {
            var decoder = Far.Speculative(options, new SamplingOptions { Temperature = 1 }, seed: 9);
            int rounds = 0;
            decoder.RoundCompleted = (committed, draft, target) =>
            {
                rounds++;
                foreach (var session in new[] { draft, target })
                {
                    int cached = session.Length;
                    Assert.True(cached < committed.Count, "a cache holds more than the committed sequence");
                    var fresh = session.Model.CreateSession();
                    fresh.Forward(committed.ToArray(), allLogits: false);
                    session.Forward(committed.Skip(cached).ToArray(), allLogits: false);
                    var a = session.Logits(0).ToArray();
                    var b = fresh.Logits(0).ToArray();
                    for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) < 1e-4, $"{options.Method.Name}: logit {i} differs after round {rounds}");
                    session.Truncate(cached);
                }
            };
            DecoderTestPair.Run(decoder, Prompts[1], 30);
            Assert.True(rounds > 3);
        }
    }

    [Fact]
    public void StatisticsAddUpOnRandomRuns()
    {
        var rng = new Random(3);
        for (int run = 0; run < 12; run++)
        {
            var mode = (SprinterMode)(run % 2);
            SpeculativeOptions options = run % 3 == 0
                ? new SpeculativeOptions { Gamma = 1 + rng.Next(6) }
                : new SpeculativeOptions { Method = new DecodingMethod(DecodingMode.Sprinter, mode), Verifier = new ConstantVerifier((float)rng.NextDouble()), Threshold = 0.5f, MaxDraft = 1 + rng.Next(8) };
            var decoder = (run % 4 < 2 ? Close : Far).Speculative(options, new SamplingOptions { Temperature = 1 }, seed: run);
            int n = 10 + rng.Next(30);
            var tokens = DecoderTestPair.Run(decoder, Prompts[run % 3], n);
            var s = decoder.LastStats!;
            Assert.Equal(n, tokens.Count);
            Assert.Equal(s.NewTokens, s.Accepted + s.Resampled + s.Bonus + s.Unverified);
            Assert.Equal(s.Rounds, s.TargetCalls);
            Assert.Equal(tokens.Count(t => t.Origin == TokenOrigin.Unverified), s.Unverified);
            Assert.Equal(s.Drafted, s.DraftedAtPosition.Sum());
            Assert.True(s.TargetFlops > 0 && s.DraftFlops > 0);
            if (options.Lossless) Assert.Equal(0, s.Unverified);
        }
    }

    [Fact]
    public void BadPairsAndOptionsAreRefusedBeforeGenerating()
    {
        var otherVocab = DecoderTestPair.Create(vocab: 300);
        Assert.Contains("share one tokenizer", Assert.Throws<InvalidInputException>(() =>
            new SpeculativeDecoder(otherVocab.Draft.CreateSession(), Close.Target.CreateSession(), new SpeculativeOptions(), SamplingOptions.Greedy, 0)).Message);
        Assert.Equal("gamma", Assert.Throws<InvalidSettingException>(() => Close.Speculative(new SpeculativeOptions { Gamma = 0 }, SamplingOptions.Greedy)).Setting);
        var sprinter = new SpeculativeOptions { Method = DecodingMethod.SprinterPaper, Verifier = ConstantVerifier.AlwaysAccept };
        Assert.Equal("max_draft", Assert.Throws<InvalidSettingException>(() => Close.Speculative(sprinter with { MaxDraft = 0 }, SamplingOptions.Greedy)).Setting);
        Assert.Equal("threshold must be in [0, 1], got 1.5.", Assert.Throws<InvalidSettingException>(() => Close.Speculative(sprinter with { Threshold = 1.5f }, SamplingOptions.Greedy)).Message);
        Assert.Equal("prompt_lookup", Assert.Throws<InvalidSettingException>(() => Close.Speculative(sprinter with { PromptLookup = true }, SamplingOptions.Greedy)).Setting);
        Assert.Contains("n_embd", Assert.Throws<InvalidInputException>(() => Close.Speculative(sprinter with { Verifier = new FixedSizeVerifier(7) }, SamplingOptions.Greedy)).Message);
    }

    sealed class FixedSizeVerifier(int size) : IVerifier
    {
        public string Name => "fixed";
        public int InputSize => size;
        public float Score(in VerifierInput input) => 1;
    }
}
