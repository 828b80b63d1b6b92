using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Sprinter.Decoding;
using Sprinter.Models;
using Sprinter.Verification;

namespace Sprinter.Tests.Verification;

public class VerifierTests
{
    /// <summary>Synthetic labels: hidden ~ N(0, 1)^d, label = sigmoid(w.h + b) > u (a planted logistic rule, noise set by <paramref name="sharpness"/>).</summary>
    internal static LabelSet Planted(int examples, int d, double sharpness, int seed, string draftIdentity = "draft-a")
    {
        var rng = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var w = Enumerable.Range(0, d).Select(_ => Normal()).ToArray();
        var hidden = new float[examples * d];
        var label = new bool[examples];
        for (int i = 0; i < examples; i++)
        {
            double z = 0.3;
            for (int j = 0; j < d; j++) { hidden[i * d + j] = (float)Normal(); z += w[j] * hidden[i * d + j]; }
            label[i] = 1 / (1 + Math.Exp(-sharpness * z)) > rng.NextDouble();
        }
        var zeros = new float[examples];
        return new LabelSet
        {
            HiddenSize = d, Hidden = hidden, Token = new int[examples], TargetToken = new int[examples], Q = zeros, P = zeros, Entropy = new float[examples], Margin = new float[examples], Label = label,
            Soft = label.Select(l => l ? 1f : 0f).ToArray(),
            PromptId = Enumerable.Range(0, examples).Select(i => i / 20).ToArray(), Step = Enumerable.Range(0, examples).Select(i => i % 20).ToArray(),
            Summary = new JsonObject { ["draft_identity"] = draftIdentity, ["ratio"] = 1.0, ["labels_sha256"] = "synthetic" },
        };
    }

    [Fact]
    public void PaperRecipeRecoversAPlantedLinearRule()
    {
        var data = Planted(4000, 16, sharpness: 4, seed: 1);
        var trained = VerifierTrainer.Train(data, VerifierRecipe.Paper, seed: 3);
        Assert.True(trained.Test.Auroc > 0.95, $"test AUROC {trained.Test.Auroc:F3}");
        Assert.InRange(trained.BestEpoch, 1, 20);
    }

    [Fact]
    public void MlpRecipeAlsoLearnsAndTrainingIsDeterministic()
    {
        var data = Planted(2000, 8, sharpness: 4, seed: 2);
        var recipe = VerifierRecipe.Mlp with { Features = FeatureSet.Hidden | FeatureSet.Stats, Epochs = 5 };
        var a = VerifierTrainer.Train(data, recipe, seed: 5);
        var b = VerifierTrainer.Train(data, recipe, seed: 5);
        Assert.True(a.Test.Auroc > 0.9, $"test AUROC {a.Test.Auroc:F3}");
        Assert.Equal(a.Model.W1, b.Model.W1);
        Assert.Equal(a.Model.W2, b.Model.W2);
    }

    [Fact]
    public void HistoryFeaturesAreTheSamePromptsPreviousStep()
    {
        var data = Planted(60, 4, 2, seed: 5);
        var rng = new Random(1);
        for (int i = 0; i < data.Count; i++) { data.Entropy[i] = (float)rng.NextDouble(); data.Margin[i] = (float)rng.NextDouble(); }
        var set = FeatureSet.Hidden | FeatureSet.History;
        int n = VerifierFeatures.Count(set, 4);
        Assert.Equal(4 + VerifierFeatures.HistoryCount, n);
        var x = VerifierTrainer.BuildFeatures(data, set, null);
        for (int i = 0; i < data.Count; i++)
        {
            var row = x.AsSpan(i * n + 4, 3).ToArray();
            if (data.Step[i] == 0) Assert.Equal([0f, 0f, 0f], row);
            else Assert.Equal([1f, data.Entropy[i - 1], data.Margin[i - 1]], row);
        }
        Assert.Equal("hidden+history", VerifierFeatures.Describe(set));
        Assert.Equal(set, VerifierFeatures.Parse("hidden+history"));
    }

    [Fact]
    public void PromptLevelSplitsShareNoPrompt()
    {
        var data = Planted(3000, 4, 1, seed: 3);
        var parts = Enum.GetValues<SplitPart>().Select(p => PromptSplit.Indices(data, p, seed: 7).Select(i => data.PromptId[i]).ToHashSet()).ToArray();
        Assert.Empty(parts[0].Intersect(parts[1]));
        Assert.Empty(parts[0].Intersect(parts[2]));
        Assert.Empty(parts[1].Intersect(parts[2]));
        Assert.Equal(data.PromptId.Distinct().Count(), parts.Sum(p => p.Count));
        Assert.InRange(parts[0].Count / (double)data.PromptId.Distinct().Count(), 0.6, 0.8);
    }

    [Fact]
    public void CalibrationMeetsTheFalsePositiveBudgetOnHeldOutData()
    {
        var data = Planted(8000, 12, sharpness: 1, seed: 4); // noisy: no threshold is free of false positives
        const double eps = 0.1;
        var trained = VerifierTrainer.Train(data, VerifierRecipe.Paper with { Epochs = 5 }, seed: 1, maxFpRate: eps);
        Assert.True(trained.Validation.EtaFp <= eps + 1e-9, $"validation eta_FP {trained.Validation.EtaFp}");
        // Held-out test split: within three standard errors of the budget.
        int negatives = (int)Math.Round(trained.Test.Examples * (1 - trained.Test.PositiveRate));
        double se = Math.Sqrt(eps * (1 - eps) / negatives);
        Assert.True(trained.Test.EtaFp <= eps + 3 * se, $"test eta_FP {trained.Test.EtaFp:F3} over budget {eps} + 3 x {se:F3}");
        Assert.True(trained.Test.EtaTp > 0.2, "the calibrated verifier still accepts acceptable tokens");
    }

    [Fact]
    public void MetricsMatchHandComputedValues()
    {
        float[] scores = [0.9f, 0.8f, 0.4f, 0.3f, 0.6f];
        bool[] labels = [true, false, true, false, true];
        var m = ClassifierMetrics.Compute(scores, labels, 0.5f);
        Assert.Equal(3 / 5.0, m.Accuracy, 9);      // 0.9 T, 0.8 F(fp), 0.4 F(fn), 0.3 T, 0.6 T
        Assert.Equal(2 / 3.0, m.EtaTp, 9);
        Assert.Equal(1 / 2.0, m.EtaFp, 9);
        Assert.Equal(2 / 3.0, m.Precision, 9);
        Assert.Equal(4 / 6.0, m.Auroc, 9);          // positives beat negatives in 4 of 6 pairs
        Assert.Equal((0.01 + 0.64 + 0.36 + 0.09 + 0.16) / 5, m.Brier, 6);
        Assert.Equal(0.4f, ClassifierMetrics.Calibrate(scores, labels, 0.5)); // accept >= 0.4: eta_TP 1, eta_FP 1/2, the best within budget
        Assert.Equal(0.9f, ClassifierMetrics.Calibrate(scores, labels, 0.0)); // no false positive allowed: only 0.9 is accepted
    }

    [Fact]
    public void VerifierFileRoundTripsAndRefusesAnotherDraft()
    {
        var c = TestModels.TinyConfig(d: 16, layers: 1, heads: 2, positions: 64);
        string draftA = TestModels.Folder(c, seed: 1), draftB = TestModels.Folder(c, seed: 2);
        using var a = LanguageModel.Load(draftA);
        using var b = LanguageModel.Load(draftB);
        var data = Planted(1500, 16, 3, seed: 5, draftIdentity: a.ComputeIdentity());
        var trained = VerifierTrainer.Train(data, VerifierRecipe.Paper with { Epochs = 3 }, seed: 2);
        string path = Path.Combine(TestModels.TempDir(), "verifier.safetensors");
        trained.Model.Save(path);
        var loaded = LearnedVerifier.Load(path, a);
        var scratch = new float[16];
        var hidden = data.HiddenRow(3);
        float direct = VerifierModel.Sigmoid(trained.Model.Logit(hidden, scratch));
        var logits = new float[c.VocabSize];
        Assert.Equal(direct, loaded.Score(new VerifierInput(hidden, 0, logits, logits)));
        Assert.Equal(trained.Model.Threshold, loaded.Model.Threshold);
        Assert.Equal("paper", loaded.Model.Recipe);
        var e = Assert.Throws<InvalidInputException>(() => LearnedVerifier.Load(path, b));
        Assert.Contains("another draft", e.Message);
    }

    [Theory]
    [InlineData(DraftTokenRule.Greedy, LabelRule.Paper)]
    [InlineData(DraftTokenRule.Sample, LabelRule.Paper)]
    [InlineData(DraftTokenRule.Sample, LabelRule.Greedy)]   // the greedy label forces greedy draft tokens
    [InlineData(DraftTokenRule.Greedy, LabelRule.Sample)]   // the sample label forces sampled draft tokens
    public void CollectedLabelsAgreeWithADirectComputation(DraftTokenRule requested, LabelRule labelRule)
    {
        var c = TestModels.TinyConfig(positions: 96);
        string draftDir = TestModels.Folder(c with { EmbeddingSize = 16, HeadCount = 2, InnerSize = 64, LayerCount = 1 }, seed: 3);
        string targetDir = TestModels.Folder(c, seed: 4);
        string dataFile = Path.Combine(TestModels.TempDir(), "texts.txt");
        File.WriteAllLines(dataFile, ["the quick brown fox jumps over the lazy dog again", "", "a b c d e f g h i j k l", "short", "one two three four five six seven eight nine ten"]);
        using var draft = LanguageModel.Load(draftDir);
        using var target = LanguageModel.Load(targetDir);
        const float ratio = 1.5f;
        var options = new CollectOptions { Prompts = 10, TokensPerPrompt = 6, Ratio = ratio, DraftToken = requested, Label = labelRule, Seed = 5 };
        var rule = options.EffectiveDraftToken;
        var set = LabelCollector.Collect(draft, target, dataFile, options);
        Assert.Equal(set.Token, LabelCollector.Collect(draft, target, dataFile, options).Token); // seeded
        // Prompts labelled one at a time or in lock step give the same labels, bit for bit.
        var alone = LabelCollector.Collect(draft, target, dataFile, options with { Lanes = 1 });
        var twoLanes = LabelCollector.Collect(draft, target, dataFile, options with { Lanes = 2 });
        foreach (var other in new[] { alone, twoLanes })
        {
            Assert.Equal(set.Token, other.Token); Assert.Equal(set.Label, other.Label); Assert.Equal(set.Soft, other.Soft);
            Assert.Equal(set.Hidden, other.Hidden); Assert.Equal(set.Q, other.Q); Assert.Equal(set.P, other.P); Assert.Equal(set.PromptId, other.PromptId);
        }
        Assert.Equal(3 * 6, set.Count); // "short" has too few words; the blank line is skipped
        var texts = PromptSource.ReadTexts(dataFile);
        int notArgmax = 0;
        foreach (int promptId in set.PromptId.Distinct())
        {
            var context = draft.Tokenizer.Encode(PromptSource.PromptOf(texts.Single(t => t.Id == promptId).Text)).ToList();
            var rows = Enumerable.Range(0, set.Count).Where(i => set.PromptId[i] == promptId).OrderBy(i => set.Step[i]).ToArray();
            foreach (int i in rows)
            {
                var ds = draft.Model.CreateSession(); ds.Forward(context.ToArray(), allLogits: false);
                var ts = target.Model.CreateSession(); ts.Forward(context.ToArray(), allLogits: false);
                var q = new float[c.VocabSize]; var p = new float[c.VocabSize];
                TensorPrimitives.SoftMax(ds.Logits(0), q);
                TensorPrimitives.SoftMax(ts.Logits(0), p);
                int x = set.Token[i];
                if (rule == DraftTokenRule.Greedy) Assert.Equal(TensorPrimitives.IndexOfMax(q), x);
                else if (x != TensorPrimitives.IndexOfMax(q)) notArgmax++;
                Assert.Equal(q[x], set.Q[i], 4);
                Assert.Equal(p[x], set.P[i], 4);
                int targetGreedy = TensorPrimitives.IndexOfMax(p);
                if (labelRule == LabelRule.Paper) Assert.Equal(q[x] <= ratio * p[x], set.Label[i]);
                if (labelRule == LabelRule.Greedy) Assert.Equal(targetGreedy == x, set.Label[i]);
                if (labelRule == LabelRule.Sample) Assert.Equal(Math.Min(1f, p[x] / q[x]), set.Soft[i], 4);
                else Assert.Equal(set.Label[i] ? 1f : 0f, set.Soft[i]);
                Assert.Equal(targetGreedy, set.TargetToken[i]);
                Assert.Equal(ds.Hidden(ds.HiddenRows - 1).ToArray(), set.HiddenRow(i).ToArray(), new FloatTolerance(1e-4f));
                if (i == rows[^1]) break;
                // The next drafted position's context: x when accepted; else the target's greedy token,
                // or for sample labels a draw from the residual, which only puts mass where p > q.
                int next = set.Label[i] ? x : targetGreedy;
                if (labelRule == LabelRule.Sample && !set.Label[i])
                {
                    var nextDs = draft.Model.CreateSession();
                    next = Enumerable.Range(0, c.VocabSize).First(y => ContextMatches(y));
                    Assert.True(p[next] > q[next], $"residual draw {next} has p {p[next]} <= q {q[next]}");
                    bool ContextMatches(int y)
                    {
                        // The stored hidden state of the next step identifies the token appended.
                        nextDs.Reset();
                        nextDs.Forward([.. context, y], allLogits: false);
                        return nextDs.Hidden(nextDs.HiddenRows - 1).ToArray().Zip(set.HiddenRow(i + 1).ToArray()).All(t => Math.Abs(t.First - t.Second) <= 1e-4f);
                    }
                }
                context.Add(next);
            }
        }
        if (rule == DraftTokenRule.Sample) Assert.True(notArgmax > set.Count / 2, $"{notArgmax} of {set.Count} draws differ from the argmax"); // a random draft's q is flat
        string outDir = TestModels.TempDir();
        set.Save(outDir);
        var loaded = LabelSet.Load(outDir);
        Assert.Equal(set.Label, loaded.Label);
        Assert.Equal(set.Hidden, loaded.Hidden);
        Assert.Equal(set.Token, loaded.Token);
        Assert.Equal(set.Soft, loaded.Soft);
        Assert.Equal(rule == DraftTokenRule.Greedy ? "greedy" : "sample", loaded.Decoding);
    }

    [Fact]
    public void SoftLabelsTrainTowardsTheAcceptanceProbabilityAndRecordTheDecoding()
    {
        // Soft targets a = sigmoid(w.h): the verifier should learn the probabilities themselves.
        var data = Planted(3000, 8, sharpness: 1, seed: 9);
        var soft = new float[data.Count];
        var rng = new Random(4);
        var w = Enumerable.Range(0, 8).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        for (int i = 0; i < data.Count; i++)
        {
            double z = 0;
            for (int j = 0; j < 8; j++) z += w[j] * data.HiddenRow(i)[j];
            soft[i] = (float)(1 / (1 + Math.Exp(-z)));
        }
        var summary = (JsonObject)data.Summary.DeepClone();
        summary["decoding"] = "sample";
        summary["label"] = "sample";
        var softData = new LabelSet
        {
            HiddenSize = 8, Hidden = data.Hidden, Token = data.Token, TargetToken = data.TargetToken, Q = data.Q, P = data.P, Entropy = data.Entropy, Margin = data.Margin,
            Label = soft.Select(a => a >= 0.5f).ToArray(), Soft = soft, PromptId = data.PromptId, Step = data.Step, Summary = summary,
        };
        var trained = VerifierTrainer.Train(softData, VerifierRecipe.Paper with { Epochs = 40, LearningRate = 3e-3f }, seed: 1);
        var scratch = new float[8];
        double gap = 0;
        for (int i = 0; i < softData.Count; i++) gap += Math.Abs(VerifierModel.Sigmoid(trained.Model.Logit(softData.HiddenRow(i), scratch)) - soft[i]);
        gap /= softData.Count;
        Assert.True(gap < 0.03, $"mean gap between score and soft label {gap:F4}");
        string path = Path.Combine(TestModels.TempDir(), "v.safetensors");
        trained.Model.Save(path);
        Assert.Equal("sample", VerifierModel.Load(path).Decoding);
        Assert.Equal("sample", VerifierModel.Load(path).LabelRule);
    }

    sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(float value) => 0;
    }

    [Fact]
    public void DraftStatsMatchTheirDefinitions()
    {
        var rng = new Random(4);
        var logits = Enumerable.Range(0, 3000).Select(_ => (float)(rng.NextDouble() * 12 - 6)).ToArray();
        logits[17] = logits[99] = 9f; // a tied top-2: margin 0
        var probs = new float[logits.Length];
        var stats = VerifierFeatures.FromLogits(logits, 5, probs);
        double entropy = -probs.Where(p => p > 0).Sum(p => p * Math.Log(p));
        Assert.Equal(entropy, stats.Entropy, 4);
        Assert.Equal(0f, stats.Margin);
        Assert.Equal(probs[5], stats.Q);
        logits[99] = 8f;
        stats = VerifierFeatures.FromLogits(logits, 5, probs);
        var sorted = probs.OrderByDescending(p => p).ToArray();
        Assert.Equal(sorted[0] - sorted[1], stats.Margin, 6);
    }
}
