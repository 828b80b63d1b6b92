using System.Text.Json.Nodes;

namespace Sprinter.Verification;

/// <summary>
/// How well verifier scores predict the labels. Positive = acceptable (q(x) &lt;= r p(x)); the
/// verifier accepts when score &gt;= threshold. eta_TP = accepted positives / positives,
/// eta_FP = accepted negatives / negatives (the quality budget: d_TV(p, p_SPRINTER) =
/// eta_FP * d_TV(p, q)), precision = accepted positives / accepted, Brier = mean (score - label)^2,
/// ECE = sum over 10 equal-width score bins of |bin share| * |mean score - positive rate|.
/// </summary>
public sealed record ClassifierMetrics(int Examples, double PositiveRate, float Threshold, double Accuracy, double Auroc,
    double EtaTp, double EtaFp, double Precision, double Brier, double Ece)
{
    public static ClassifierMetrics Compute(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels, float threshold)
    {
        int n = scores.Length, pos = 0, tp = 0, fp = 0, correct = 0;
        double brier = 0;
        for (int i = 0; i < n; i++)
        {
            bool accept = scores[i] >= threshold;
            if (labels[i]) { pos++; if (accept) tp++; } else if (accept) fp++;
            if (accept == labels[i]) correct++;
            double e = scores[i] - (labels[i] ? 1 : 0);
            brier += e * e;
        }
        int neg = n - pos;
        return new ClassifierMetrics(n, n == 0 ? 0 : (double)pos / n, threshold, n == 0 ? 0 : (double)correct / n, AreaUnderRoc(scores, labels),
            pos == 0 ? 0 : (double)tp / pos, neg == 0 ? 0 : (double)fp / neg, tp + fp == 0 ? 0 : (double)tp / (tp + fp),
            n == 0 ? 0 : brier / n, CalibrationError(scores, labels));
    }

    /// <summary>Area under the ROC curve: the Mann-Whitney statistic, ties counted half.</summary>
    public static double AreaUnderRoc(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels)
    {
        int n = scores.Length;
        var order = Enumerable.Range(0, n).ToArray();
        var keys = scores.ToArray();
        Array.Sort(keys, order);
        double rankSumPos = 0;
        long pos = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j < n && keys[j] == keys[i]) j++;
            double meanRank = (i + 1 + j) / 2.0; // ranks i+1..j
            for (int k = i; k < j; k++) if (labels[order[k]]) { rankSumPos += meanRank; pos++; }
            i = j;
        }
        long neg = n - pos;
        if (pos == 0 || neg == 0) return double.NaN;
        return (rankSumPos - pos * (pos + 1) / 2.0) / ((double)pos * neg);
    }

    public static double CalibrationError(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels, int bins = 10)
    {
        var count = new int[bins]; var sumScore = new double[bins]; var sumLabel = new double[bins];
        for (int i = 0; i < scores.Length; i++)
        {
            int b = Math.Clamp((int)(scores[i] * bins), 0, bins - 1);
            count[b]++; sumScore[b] += scores[i]; sumLabel[b] += labels[i] ? 1 : 0;
        }
        double ece = 0;
        for (int b = 0; b < bins; b++)
            if (count[b] > 0) ece += (double)count[b] / scores.Length * Math.Abs(sumScore[b] / count[b] - sumLabel[b] / count[b]);
        return ece;
    }

    /// <summary>
    /// The threshold with the highest eta_TP whose eta_FP is at most <paramref name="maxFpRate"/>
    /// (ties: the lower eta_FP). Candidates are the observed scores, plus one above them all.
    /// </summary>
    public static float Calibrate(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels, double maxFpRate)
    {
        var (thresholds, tpr, fpr) = Roc(scores, labels);
        int best = -1;
        for (int i = 0; i < thresholds.Length; i++)
        {
            if (fpr[i] > maxFpRate) continue;
            if (best < 0 || tpr[i] > tpr[best] || (tpr[i] == tpr[best] && fpr[i] < fpr[best])) best = i;
        }
        return best < 0 ? float.PositiveInfinity : thresholds[best];
    }

    /// <summary>eta_TP at the calibrated threshold for an eta_FP budget (the comparison table's "eta_TP at eta_FP = 0.1").</summary>
    public static double EtaTpAtFpRate(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels, double maxFpRate)
    {
        float t = Calibrate(scores, labels, maxFpRate);
        return Compute(scores, labels, t).EtaTp;
    }

    /// <summary>(threshold, eta_TP, eta_FP) for "accept when score >= threshold" at every distinct score.</summary>
    public static (float[] Thresholds, double[] Tpr, double[] Fpr) Roc(ReadOnlySpan<float> scores, ReadOnlySpan<bool> labels)
    {
        int n = scores.Length;
        var order = Enumerable.Range(0, n).ToArray();
        var keys = scores.ToArray().Select(s => -s).ToArray();
        Array.Sort(keys, order); // descending score
        int pos = 0; foreach (bool l in labels) if (l) pos++;
        int neg = n - pos;
        var th = new List<float> { float.PositiveInfinity }; var tpr = new List<double> { 0 }; var fpr = new List<double> { 0 };
        int tp = 0, fp = 0;
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j < n && keys[j] == keys[i]) { if (labels[order[j]]) tp++; else fp++; j++; }
            th.Add(-keys[i]); tpr.Add(pos == 0 ? 0 : (double)tp / pos); fpr.Add(neg == 0 ? 0 : (double)fp / neg);
            i = j;
        }
        return ([.. th], [.. tpr], [.. fpr]);
    }

    public JsonObject ToJson() => new()
    {
        ["examples"] = Examples, ["positive_rate"] = R(PositiveRate), ["threshold"] = float.IsFinite(Threshold) ? Math.Round(Threshold, 5) : null,
        ["accuracy"] = R(Accuracy), ["auroc"] = double.IsNaN(Auroc) ? null : R(Auroc), ["eta_tp"] = R(EtaTp), ["eta_fp"] = R(EtaFp),
        ["precision"] = R(Precision), ["brier"] = R(Brier), ["ece"] = R(Ece),
    };

    static JsonNode R(double v) => Math.Round(v, 5);
}
