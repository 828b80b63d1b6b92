using Sprinter.Benchmarks;
using Sprinter.Decoding;
using Sprinter.Models;
using Sprinter.Verification;

namespace Sprinter.Tests.Benchmarks;

/// <summary>A benchmark whose sampling settings each run with their own verifier and its calibrated threshold.</summary>
public class PerSettingVerifierTests
{
    [Fact]
    public void EachSettingRunsAtItsOwnVerifiersCalibratedThreshold()
    {
        var c = TestModels.TinyConfig(positions: 96);
        using var draft = LanguageModel.Load(TestModels.Folder(c with { EmbeddingSize = 16, HeadCount = 2, InnerSize = 64, LayerCount = 1 }, seed: 1));
        using var target = LanguageModel.Load(TestModels.Folder(c, seed: 2));
        // Both verifiers score every token 0.5: at a calibrated 0.4 everything is accepted (rounds run
        // to the max-draft cap), at 0.6 nothing is (one drafted token per target call).
        var verifier = new ConstantVerifier(0.5f);
        var verifiers = new Dictionary<string, VerifierChoice>
        {
            ["greedy"] = new(verifier, 0.4f) { Description = "greedy verifier" },
            ["sample"] = new(verifier, 0.6f) { Description = "sample verifier" },
        };
        var method = new BenchMethod(DecodingMethod.SprinterPaper, Threshold: 0.4f, Calibrated: true);
        var config = new BenchConfig
        {
            Methods = [method], Settings = [SamplingSetting.Greedy, SamplingSetting.Sample], NewTokens = 12, MaxDraft = 6,
            CalibratedThresholds = new Dictionary<string, float> { ["greedy"] = 0.4f, ["sample"] = 0.6f },
        };
        var runner = new BenchRunner(draft.Model, target.Model, draft.Tokenizer, verifiers, config);
        var outcome = runner.Run([new BenchExample("t", 0, "the cat sat on", "the cat sat on the mat")]);
        var greedy = outcome.Runs.Single(r => r.Sampling.Name == "greedy").Stats;
        var sample = outcome.Runs.Single(r => r.Sampling.Name == "sample").Stats;
        Assert.True(greedy.TargetCalls * 3 <= sample.TargetCalls, $"greedy {greedy.TargetCalls} target calls, sample {sample.TargetCalls}");
        Assert.Equal("sprinter-paper-calibrated", method.Name);
        Assert.Equal(0.6f, config.ThresholdOf(method, "sample"));
        Assert.Throws<InvalidSettingException>(() => new BenchRunner(draft.Model, target.Model, draft.Tokenizer,
            new Dictionary<string, VerifierChoice> { ["greedy"] = verifiers["greedy"] }, config));
    }
}
