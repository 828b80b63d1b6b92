using System.Numerics.Tensors;
using Sprinter.Decoding;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Verification;

namespace Sprinter.Tests.Models;

/// <summary>
/// The models every command uses by default (models/ in the repository): they load through the
/// ordinary loader, form a valid pair, and the shipped verifier is bound to the shipped draft.
/// A broken commit of models/ (a stale verifier, a draft retrained alone) fails here, not at a user.
/// </summary>
public class ShippedModelsTests
{
    static string ModelsDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sprinter.slnx"))) return Path.Combine(dir.FullName, "models");
        throw new InvalidOperationException("repository root (Sprinter.slnx) not found above the test binaries");
    }

    [Fact]
    public void ShippedPairSharesATokenizerAndTheDraftIsAtMostAnEighthOfTheTarget()
    {
        using var target = LanguageModel.Load(Path.Combine(ModelsDir(), "target"));
        using var draft = LanguageModel.Load(Path.Combine(ModelsDir(), "draft"));
        Assert.Equal(target.Tokenizer.Identity, draft.Tokenizer.Identity);
        Assert.Equal(8192, target.Config.VocabSize);
        Assert.Equal(target.Config.VocabSize, draft.Config.VocabSize);
        Assert.True(8 * draft.Config.ParameterCount() <= target.Config.ParameterCount(),
            $"draft {draft.Config.ParameterCount():N0} parameters, target {target.Config.ParameterCount():N0}");
    }

    [Theory]
    [InlineData("greedy")]
    [InlineData("sample")]
    public void EachDecodingHasAShippedVerifierForTheShippedDraftWithACalibratedThreshold(string decoding)
    {
        using var draft = LanguageModel.Load(Path.Combine(ModelsDir(), "draft"));
        var verifier = LearnedVerifier.Load(Path.Combine(ModelsDir(), $"verifier-{decoding}.safetensors"), draft);
        Assert.Equal(draft.Config.EmbeddingSize, verifier.InputSize);
        Assert.Equal(decoding, verifier.Model.Decoding);
        Assert.Equal(decoding, verifier.Model.LabelRule); // the label matched to the decoding, not the paper's
        Assert.InRange(verifier.Model.Threshold, 0f, 1f);
    }

    [Fact]
    public void ShippedTargetIsMemoryBoundAndShippedAsHuggingFaceShards()
    {
        // Speculation pays when verifying k positions costs about one pass: the target's run-time
        // weights must be at least twice a 32 MiB L3. Shards stay under 45 MB each.
        string dir = Path.Combine(ModelsDir(), "target");
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors.index.json")));
        var shards = Directory.GetFiles(dir, "model-*-of-*.safetensors");
        Assert.True(shards.Length >= 2, $"{shards.Length} shard(s)");
        foreach (var shard in shards) Assert.True(new FileInfo(shard).Length <= 45_000_000, $"{shard}: {new FileInfo(shard).Length:N0} bytes");
        using var target = LanguageModel.Load(dir);
        Assert.Equal(WeightType.BF16, target.Model.WeightType);
        Assert.True(2 * target.Config.ParameterCount() >= 64L << 20, $"{2 * target.Config.ParameterCount():N0} bytes of bf16 weights");
    }

    [Fact]
    public void ShippedTargetContinuesEnglishBetterThanTheDraft()
    {
        // A trained pair, not random weights: on an ordinary sentence the target's mean NLL is lower
        // than the draft's, and both are far below the uniform distribution's log(8192) = 9.0.
        const string text = "The President said that the Congress should pass the bill before the end of the year, and that the people of the United States would support it.";
        using var target = LanguageModel.Load(Path.Combine(ModelsDir(), "target"));
        using var draft = LanguageModel.Load(Path.Combine(ModelsDir(), "draft"));
        int[] ids = target.Tokenizer.Encode(text);
        double targetNll = MeanNll(target, ids), draftNll = MeanNll(draft, ids);
        Assert.True(targetNll < draftNll, $"target NLL {targetNll:F3} >= draft NLL {draftNll:F3}");
        Assert.True(draftNll < 6.0, $"draft NLL {draftNll:F3}: the shipped draft looks untrained");
    }

    static double MeanNll(LanguageModel lm, int[] ids)
    {
        var session = lm.Model.CreateSession();
        session.Forward(ids, logitRows: ids.Length);
        var probs = new float[lm.Config.VocabSize];
        double nll = 0;
        for (int i = 0; i + 1 < ids.Length; i++)
        {
            TensorPrimitives.SoftMax(session.Logits(i), probs);
            nll -= Math.Log(probs[ids[i + 1]]);
        }
        return nll / (ids.Length - 1);
    }

    [Fact]
    public void SprinterUsesTheShippedVerifierMadeForTheDecodingOrSaysNoneMatches()
    {
        bool sampleShipped = File.Exists(Path.Combine(ModelsDir(), "verifier-sample.safetensors"));
        var greedy = Cli.CliTests.Run("generate", "--mode", "sprinter", "--prompt", "The President said", "--max-tokens", "4", "--temperature", "0");
        Assert.True(greedy.Code == 0, greedy.Err);
        var sampled = Cli.CliTests.Run("generate", "--mode", "sprinter", "--prompt", "The President said", "--max-tokens", "4", "--temperature", "0.8");
        if (sampleShipped) Assert.True(sampled.Code == 0, sampled.Err);
        else
        {
            Assert.Equal(2, sampled.Code);
            Assert.Contains("no shipped verifier is made for sample decoding", sampled.Err);
        }
    }

    [Fact]
    public void BenchNamesTheVerifierServingEachDecoding()
    {
        bool sampleShipped = File.Exists(Path.Combine(ModelsDir(), "verifier-sample.safetensors"));
        string outDir = TestModels.TempDir();
        var (code, _, error) = Cli.CliTests.Run("bench", "--dataset", "lm1b", "--prompts", "1", "--new-tokens", "4", "--sampling", "greedy,sample",
            "--gamma", "2", "--threshold", "calibrated", "--out", outDir, "--json");
        Assert.True(code == 0, error);
        if (!sampleShipped) Assert.Contains("no shipped verifier is made for sample decoding; the sample rows use", error);
        var verifierText = (string)System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!["models"]!["verifier"]!;
        Assert.Contains(sampleShipped ? "sample rows" : "calibrated threshold", verifierText);
    }
}
