using Sprinter.Decoding;
using Sprinter.Verification;

namespace Sprinter.Tests.Decoding;

/// <summary>SPRINTER's round rules on the batched roles: lookahead after the verifier stops, the cumulative stop rule, and online calibration.</summary>
public class RoundRulesTests
{
    static readonly DecoderTestPair Close = DecoderTestPair.Create(perturbedCopy: true);
    static readonly DecoderTestPair Far = DecoderTestPair.Create(perturbedCopy: false);
    static readonly int[][] Prompts = [[1, 2, 3], [200, 17, 5, 99, 42, 7], [64]];

    static int[] TargetGreedy(DecoderTestPair pair, int[] prompt, int n) =>
        DecoderTestPair.Ids(new AutoregressiveDecoder(pair.Target.CreateSession(), SamplingOptions.Greedy, 0), prompt, n);

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 3)]
    public void LookaheadAfterARejectingVerifierIsTestedSoGreedyOutputIsTheTargets(bool close, int lookahead)
    {
        // A verifier that rejects every token stops at the first; everything after it is lookahead,
        // which the target tests with SD's rule: paper mode then leaves nothing unverified.
        var pair = close ? Close : Far;
        foreach (var prompt in Prompts)
        {
            var options = new SpeculativeOptions { Method = DecodingMethod.SprinterPaper, Verifier = ConstantVerifier.AlwaysReject, Lookahead = lookahead };
            var decoder = pair.Speculative(options, SamplingOptions.Greedy);
            var tokens = DecoderTestPair.Run(decoder, prompt, 24);
            Assert.Equal(TargetGreedy(pair, prompt, 24), tokens.Select(t => t.Id).ToArray());
            Assert.DoesNotContain(tokens, t => t.Origin == TokenOrigin.Unverified);
            Assert.Equal(decoder.LastStats!.LookaheadTokens, tokens.Count(t => t.Lookahead));
            if (close) Assert.Contains(tokens, t => t.Provenance == "accepted-lookahead");
        }
    }

    [Fact]
    public void LookaheadKeepsStrictOnCallLossless()
    {
        foreach (var verifier in new IVerifier[] { ConstantVerifier.AlwaysReject, new ConstantVerifier(0.6f) })
            foreach (var prompt in Prompts)
            {
                var options = new SpeculativeOptions { Method = DecodingMethod.SprinterStrictOnCall, Verifier = verifier, MaxDraft = 4, Lookahead = 2 };
                Assert.Equal(TargetGreedy(Far, prompt, 25), DecoderTestPair.Ids(Far.Speculative(options, SamplingOptions.Greedy), prompt, 25));
            }
    }

    /// <summary>Records what a history-reading verifier is shown, and the statistics of the token it scores.</summary>
    sealed class HistoryRecorder : IVerifier
    {
        readonly float[] _scratch = new float[4096];
        public readonly List<(VerifierFeatures.DraftStats? Previous, VerifierFeatures.DraftStats Own)> Calls = [];
        public string Name => "history recorder";
        public int InputSize => 0;
        public bool ReadsHistory => true;
        public float Score(in VerifierInput input)
        {
            Calls.Add((input.Previous, VerifierFeatures.FromLogits(input.Logits, input.Token, _scratch)));
            return 0.9f;
        }
    }

    [Fact]
    public void AHistoryReadingVerifierSeesTheDistributionOnePositionBack()
    {
        // Rounds of exactly 3 drafted tokens (score 0.9 never stops them before the cap), all tested.
        var recorder = new HistoryRecorder();
        var options = new SpeculativeOptions { Method = DecodingMethod.SprinterStrictOnCall, Verifier = recorder, MaxDraft = 3 };
        DecoderTestPair.Run(Far.Speculative(options, SamplingOptions.Greedy), Prompts[1], 60);
        var calls = recorder.Calls;
        Assert.True(calls.Count >= 9);
        Assert.Null(calls[0].Previous);   // the prompt's last position: the draft never drafted it
        int known = 0;
        for (int i = 1; i < calls.Count; i++)
        {
            if (i % 3 != 0) { Assert.Equal(calls[i - 1].Own, calls[i].Previous); continue; }   // inside a round: the token before
            // A round's first token: the previous round's rejected position predicted the resampled token; after a bonus, unknown.
            if (calls[i].Previous is { } p) { Assert.Contains(p, calls.Skip(i - 3).Take(3).Select(c => c.Own)); known++; }
        }
        Assert.True(known > 0);   // a far draft gets rejected
    }

    [Fact]
    public void TheLosslessPresetTestsEveryTokenAndStopsByTheCumulativeRule()
    {
        var settings = Sprinter.Serving.DecodingSettings.LosslessSprinter with { CumulativeThreshold = 0.5f, Lookahead = 3, OnlineCalibration = true };
        Assert.True(settings.Lossless);
        Assert.Equal("sprinter-lossless", settings.Method.Name);
        var (_, options) = Sprinter.Serving.DecoderFactory.Plan(settings, new VerifierChoice(new ConstantVerifier(0.8f), null));
        // The preset fixes its round rules: the cumulative stop, no lookahead, no threshold controller.
        Assert.Equal(SprinterStop.Cumulative, options.Stop);
        Assert.Equal(0, options.Lookahead);
        Assert.Null(options.Calibration);
        foreach (var prompt in Prompts)
        {
            var decoder = Far.Speculative(options, SamplingOptions.Greedy);
            Assert.Equal(TargetGreedy(Far, prompt, 30), DecoderTestPair.Ids(decoder, prompt, 30));
            // 0.8, 0.64, 0.512 stay at or above 0.5 and 0.4096 does not: rounds draft 4 tokens; all are tested.
            var stats = decoder.LastStats!;
            Assert.Equal(0, stats.Unverified);
            // Every stopped round is 3 accepts then the stop; a round cut short by the token budget has at most 3 accepts and no stop.
            Assert.InRange(stats.VerifierAccepts - 3 * stats.VerifierRejects, 0, 3 * (stats.Rounds - stats.VerifierRejects));
        }
    }

    [Fact]
    public void TheCumulativeRuleStopsWhenTheProductOfScoresFallsUnderH()
    {
        // 0.8, 0.64, 0.512 stay at or above 0.5; 0.4096 does not: every round drafts 4 tokens, the 4th is tested.
        var options = new SpeculativeOptions
        {
            Method = DecodingMethod.SprinterPaper, Verifier = new ConstantVerifier(0.8f), Stop = SprinterStop.Cumulative, CumulativeThreshold = 0.5f, MaxDraft = 20,
        };
        var decoder = Close.Speculative(options, SamplingOptions.Greedy);
        DecoderTestPair.Run(decoder, Prompts[1], 40);
        var stats = decoder.LastStats!;
        Assert.True(stats.Rounds >= 5);
        Assert.Equal(3 * stats.VerifierRejects, stats.VerifierAccepts);
        Assert.Equal(stats.Rounds, stats.Tested);   // paper mode: one tested token per round
        Assert.All(stats.DraftedAtPosition.Skip(4), n => Assert.Equal(0, n));
    }

    [Fact]
    public void OnlineCalibrationRaisesTheThresholdWhenTheVerifierAcceptsBadTokens()
    {
        // The far pair disagrees on most tokens, and a constant 0.6 accepts them all at threshold 0.5:
        // the false-positive rate is far above the 0.1 budget, so the threshold climbs past 0.6 and the
        // verifier starts to reject.
        var calibration = new OnlineCalibration(0.5f, budget: 0.1, LabelRule.Greedy);
        var options = new SpeculativeOptions { Method = DecodingMethod.SprinterPaper, Verifier = new ConstantVerifier(0.6f), Threshold = 0.5f, MaxDraft = 6, Calibration = calibration };
        var decoder = Far.Speculative(options, SamplingOptions.Greedy);
        var first = DecoderTestPair.Run(decoder, Prompts[1], 60);
        var c = decoder.Calibration!;
        Assert.NotSame(calibration, c);                // each decoder keeps its own controller
        Assert.Equal(0.5f, calibration.Threshold);
        Assert.True(c.FalsePositives > 0 && c.TrueNegatives + c.FalseNegatives > 0, "the target labelled accepts and rejects");
        Assert.True(c.Path.Max() > 0.6f, $"the threshold never passed the verifier's score (max {c.Path.Max()})");
        Assert.Same(c, decoder.LastStats!.Calibration);
        // The labels never change what was emitted: the same run without calibration differs only where the threshold moved.
        Assert.Contains(first, t => t.Origin == TokenOrigin.Unverified);
    }
}
