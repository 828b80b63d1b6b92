using System.Numerics.Tensors;
using System.Text.Json.Nodes;

namespace Sprinter.Verification;

/// <summary>A trained verifier and its metrics on each split at threshold 0.5 (or the calibrated one).</summary>
public sealed record TrainedVerifier(VerifierModel Model, ClassifierMetrics Train, ClassifierMetrics Validation, ClassifierMetrics Test,
    int BestEpoch, double TestEtaTpAtFp10);

/// <summary>
/// Trains a verifier on collected labels: features built once, prompt-level splits, Adam on
/// (optionally class-weighted) binary cross-entropy, model selection on validation only.
/// Single-threaded and seeded: the same data and seed give the same file.
/// </summary>
public static class VerifierTrainer
{
    public static TrainedVerifier Train(LabelSet data, VerifierRecipe recipe, int seed, Func<int, float[]>? tokenEmbedding = null,
        double? maxFpRate = null, IProgress<JobProgress>? progress = null)
    {
        if (recipe.Features.HasFlag(FeatureSet.Token) && tokenEmbedding is null)
            throw new InvalidSettingException("draft", $"is needed: recipe '{recipe.Name}' reads the draft's token embeddings.");
        var train = PromptSplit.Indices(data, SplitPart.Train, seed);
        var val = PromptSplit.Indices(data, SplitPart.Validation, seed);
        var test = PromptSplit.Indices(data, SplitPart.Test, seed);
        if (train.Length == 0 || val.Length == 0 || test.Length == 0)
            throw new InvalidInputException($"the labels hold too few prompts for train/validation/test splits ({train.Length}/{val.Length}/{test.Length} examples); collect more prompts.");

        int d = data.HiddenSize, n = VerifierFeatures.Count(recipe.Features, d);
        var x = BuildFeatures(data, recipe.Features, tokenEmbedding);
        var (mean, invStd) = recipe.Standardize ? Moments(x, n, train) : (new float[n], Enumerable.Repeat(1f, n).ToArray());
        var model = VerifierModel.Create(recipe.Features, d, recipe.HiddenUnits, seed, mean, invStd);
        var y = data.Label;
        // Training targets are the soft labels (equal to the hard ones except for sample labels,
        // where they are SD's acceptance probability: cross-entropy on soft targets).
        var target = data.Soft;
        double positives = train.Sum(i => (double)target[i]);
        float wPos = recipe.ClassWeighting ? (float)(train.Length / (2 * Math.Max(1, positives))) : 1f;
        float wNeg = recipe.ClassWeighting ? (float)(train.Length / (2 * Math.Max(1, train.Length - positives))) : 1f;

        var optimizer = new Adam(model, recipe.LearningRate);
        var rng = new Random(seed);
        var order = (int[])train.Clone();
        var scratch = new float[n + recipe.HiddenUnits];
        double bestScore = double.NegativeInfinity;
        VerifierModel? best = null;
        int bestEpoch = 0;
        for (int epoch = 1; epoch <= recipe.Epochs; epoch++)
        {
            rng.Shuffle(order);
            for (int start = 0; start < order.Length; start += recipe.BatchSize)
            {
                optimizer.ZeroGrad();
                int end = Math.Min(order.Length, start + recipe.BatchSize);
                for (int b = start; b < end; b++)
                {
                    int i = order[b];
                    optimizer.Accumulate(x.AsSpan(i * n, n), target[i], wPos, wNeg, scratch);
                }
                optimizer.Step(end - start);
            }
            var valMetrics = Evaluate(model, x, n, y, val, 0.5f);
            double score = recipe.SelectByAccuracy ? valMetrics.Accuracy : valMetrics.Auroc;
            // AUROC is undefined (NaN) when the validation labels are all one class: keep the first epoch then.
            if (double.IsNaN(score)) score = double.NegativeInfinity;
            if (best is null || score > bestScore) { bestScore = score; best = optimizer.Snapshot(); bestEpoch = epoch; }
            progress?.Report(new JobProgress(epoch, recipe.Epochs, $"epoch {epoch}: validation accuracy {valMetrics.Accuracy:F3}, AUROC {valMetrics.Auroc:F3}"));
        }
        best!.Threshold = 0.5f;
        if (maxFpRate is double eps)
        {
            var valScores = Scores(best, x, n, val);
            best.Threshold = ClassifierMetrics.Calibrate(valScores, val.Select(i => y[i]).ToArray(), eps);
            if (!float.IsFinite(best.Threshold))
                throw new InvalidSettingException("max_fp_rate", $"{eps} is too low: no threshold keeps the validation eta_FP at or under it; raise it.");
        }
        var testScores = Scores(best, x, n, test);
        var testLabels = test.Select(i => y[i]).ToArray();
        var result = new TrainedVerifier(best, Evaluate(best, x, n, y, train, best.Threshold), Evaluate(best, x, n, y, val, best.Threshold),
            ClassifierMetrics.Compute(testScores, testLabels, best.Threshold), bestEpoch, ClassifierMetrics.EtaTpAtFpRate(testScores, testLabels, 0.1));
        var finalModel = new VerifierModel
        {
            Features = best.Features, HiddenSize = best.HiddenSize, HiddenUnits = best.HiddenUnits, Mean = best.Mean, InvStd = best.InvStd,
            W1 = best.W1, B1 = best.B1, W2 = best.W2, B2 = best.B2, Threshold = best.Threshold, Recipe = recipe.Name, LabelRatio = data.Ratio,
            Decoding = data.Decoding, LabelRule = data.LabelRuleName,
            DraftIdentity = data.DraftIdentity,
            Training = new JsonObject
            {
                ["recipe"] = recipe.Name, ["seed"] = seed, ["best_epoch"] = bestEpoch, ["epochs"] = recipe.Epochs,
                ["learning_rate"] = recipe.LearningRate, ["batch_size"] = recipe.BatchSize, ["class_weighting"] = recipe.ClassWeighting,
                ["max_fp_rate"] = maxFpRate, ["split"] = "by prompt id, seeded sha256: 70% train / 15% validation / 15% test",
                ["examples"] = new JsonObject { ["train"] = train.Length, ["validation"] = val.Length, ["test"] = test.Length },
                ["data"] = data.Summary.DeepClone(),
                ["test"] = result.Test.ToJson(), ["validation"] = result.Validation.ToJson(),
            },
        };
        return result with { Model = finalModel };
    }

    /// <summary>Feature rows [examples, n] built from the stored examples.</summary>
    public static float[] BuildFeatures(LabelSet data, FeatureSet set, Func<int, float[]>? tokenEmbedding)
    {
        int n = VerifierFeatures.Count(set, data.HiddenSize);
        var x = new float[(long)data.Count * n];
        for (int i = 0; i < data.Count; i++)
        {
            var stats = new VerifierFeatures.DraftStats(data.Q[i], data.Entropy[i], data.Margin[i]);
            var embedding = set.HasFlag(FeatureSet.Token) ? tokenEmbedding!(data.Token[i]) : [];
            // One position back in the same prompt, as the decoder sees it (unknown at a prompt's first step).
            VerifierFeatures.DraftStats? previous = i > 0 && data.PromptId[i - 1] == data.PromptId[i] && data.Step[i - 1] == data.Step[i] - 1
                ? new VerifierFeatures.DraftStats(data.Q[i - 1], data.Entropy[i - 1], data.Margin[i - 1]) : null;
            VerifierFeatures.Write(set, data.HiddenRow(i), stats, embedding, x.AsSpan(i * n, n), previous);
        }
        return x;
    }

    static (float[] Mean, float[] InvStd) Moments(float[] x, int n, int[] rows)
    {
        var mean = new double[n]; var sq = new double[n];
        foreach (int r in rows)
            for (int j = 0; j < n; j++) { double v = x[r * n + j]; mean[j] += v; sq[j] += v * v; }
        var m = new float[n]; var inv = new float[n];
        for (int j = 0; j < n; j++)
        {
            double mu = mean[j] / rows.Length, variance = Math.Max(0, sq[j] / rows.Length - mu * mu);
            m[j] = (float)mu;
            inv[j] = (float)(1 / Math.Sqrt(variance + 1e-8));
        }
        return (m, inv);
    }

    public static float[] Scores(VerifierModel model, float[] x, int n, int[] rows)
    {
        var scratch = new float[n + model.HiddenUnits];
        return rows.Select(i => VerifierModel.Sigmoid(model.Logit(x.AsSpan(i * n, n), scratch))).ToArray();
    }

    static ClassifierMetrics Evaluate(VerifierModel model, float[] x, int n, bool[] y, int[] rows, float threshold) =>
        ClassifierMetrics.Compute(Scores(model, x, n, rows), rows.Select(i => y[i]).ToArray(), threshold);

    /// <summary>Adam (torch defaults: betas 0.9/0.999, eps 1e-8) on a verifier's parameters, with backprop of weighted BCE.</summary>
    sealed class Adam(VerifierModel m, float lr)
    {
        readonly float[] _gW1 = new float[m.W1.Length], _gB1 = new float[m.B1.Length], _gW2 = new float[m.W2.Length];
        float _gB2;
        readonly float[][] _m1 = [new float[m.W1.Length], new float[m.B1.Length], new float[m.W2.Length], new float[1]];
        readonly float[][] _m2 = [new float[m.W1.Length], new float[m.B1.Length], new float[m.W2.Length], new float[1]];
        int _t;

        public void ZeroGrad() { Array.Clear(_gW1); Array.Clear(_gB1); Array.Clear(_gW2); _gB2 = 0; }

        /// <summary>
        /// Adds the gradient of the class-weighted cross-entropy with soft target a:
        /// -(wPos a log s + wNeg (1 - a) log(1 - s)), whose derivative in the logit is wPos a (s - 1) + wNeg (1 - a) s.
        /// </summary>
        public void Accumulate(ReadOnlySpan<float> features, float target, float wPos, float wNeg, Span<float> scratch)
        {
            int n = m.InputCount, h = m.HiddenUnits;
            float z = m.Logit(features, scratch);   // leaves standardised x in scratch[..n] and ReLU(h) in scratch[n..]
            float sig = VerifierModel.Sigmoid(z);
            float dz = wPos * target * (sig - 1) + wNeg * (1 - target) * sig;
            var x = scratch[..n];
            if (h == 0)
            {
                TensorPrimitives.MultiplyAdd(x, dz, _gW1, _gW1);
                _gB1[0] += dz;
                return;
            }
            var r = scratch.Slice(n, h);
            TensorPrimitives.MultiplyAdd(r, dz, _gW2, _gW2);
            _gB2 += dz;
            Span<float> da = stackalloc float[h];
            for (int k = 0; k < h; k++) da[k] = r[k] > 0 ? dz * m.W2[k] : 0;
            TensorPrimitives.Add(_gB1, da, _gB1);
            for (int i = 0; i < n; i++) TensorPrimitives.MultiplyAdd(da, x[i], _gW1.AsSpan(i * h, h), _gW1.AsSpan(i * h, h));
        }

        public void Step(int batch)
        {
            _t++;
            float scale = 1f / batch;
            Update(m.W1, _gW1, 0, scale);
            Update(m.B1, _gB1, 1, scale);
            Update(m.W2, _gW2, 2, scale);
            if (m.HiddenUnits > 0)
            {
                float[] b2 = [m.B2];
                Update(b2, [_gB2], 3, scale);
                m.B2 = b2[0];
            }
        }

        void Update(float[] p, float[] g, int slot, float scale)
        {
            const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
            float c1 = 1 - MathF.Pow(b1, _t), c2 = 1 - MathF.Pow(b2, _t);
            var m1 = _m1[slot]; var m2 = _m2[slot];
            for (int i = 0; i < p.Length; i++)
            {
                float gi = g[i] * scale;
                m1[i] = b1 * m1[i] + (1 - b1) * gi;
                m2[i] = b2 * m2[i] + (1 - b2) * gi * gi;
                p[i] -= lr * (m1[i] / c1) / (MathF.Sqrt(m2[i] / c2) + eps);
            }
        }

        public VerifierModel Snapshot() => new()
        {
            Features = m.Features, HiddenSize = m.HiddenSize, HiddenUnits = m.HiddenUnits, Mean = m.Mean, InvStd = m.InvStd,
            W1 = (float[])m.W1.Clone(), B1 = (float[])m.B1.Clone(), W2 = (float[])m.W2.Clone(), B2 = m.B2,
        };
    }
}
