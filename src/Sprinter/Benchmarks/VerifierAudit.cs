using System.Numerics.Tensors;
using Sprinter.Decoding;
using Sprinter.Verification;

namespace Sprinter.Benchmarks;

/// <summary>
/// Confusion of verifier decisions against the acceptability label. Counts are sums of label
/// weights: a soft label (the sample rule's min(1, p/q)) adds its value to the acceptable side and
/// the rest to the unacceptable side, so the rates are expectations over SD's acceptance draw.
/// </summary>
public sealed record VerifierConfusion(double TruePositives, double FalseNegatives, double FalsePositives, double TrueNegatives)
{
    public double Acceptable => TruePositives + FalseNegatives;
    public double Unacceptable => FalsePositives + TrueNegatives;
    public double Total => Acceptable + Unacceptable;
    /// <summary>eta_TP: share of acceptable tokens the verifier accepted (NaN when none were seen).</summary>
    public double EtaTp => Acceptable == 0 ? double.NaN : TruePositives / Acceptable;
    /// <summary>eta_FP: share of unacceptable tokens the verifier accepted.</summary>
    public double EtaFp => Unacceptable == 0 ? double.NaN : FalsePositives / Unacceptable;
    /// <summary>Share of tested tokens that were acceptable (the label's base rate a).</summary>
    public double AcceptableRate => Total == 0 ? double.NaN : Acceptable / Total;

    public static VerifierConfusion operator +(VerifierConfusion a, VerifierConfusion b) =>
        new(a.TruePositives + b.TruePositives, a.FalseNegatives + b.FalseNegatives, a.FalsePositives + b.FalsePositives, a.TrueNegatives + b.TrueNegatives);

    public static VerifierConfusion Empty { get; } = new(0, 0, 0, 0);
}

/// <summary>
/// Online audit of SPRINTER's verifier: for every drafted token that the target tested, the
/// verifier's decision and the label the verifier was trained for (<see cref="Acceptability"/>,
/// on temperature-1 softmaxes whatever the sampling setting). Only tested tokens get a label, so in
/// paper mode the sample is mostly the rounds' last tokens (the verifier's rejects, or accepts at
/// the cap).
/// </summary>
public sealed class VerifierAudit(int vocabSize, LabelRule label = LabelRule.Paper) : IVerificationObserver
{
    readonly float[] _scratch = new float[vocabSize];
    readonly Dictionary<int, (int Token, float Q, bool Accepts)> _round = [];
    double _tp, _fn, _fp, _tn;

    public LabelRule Label => label;
    public VerifierConfusion Confusion => new(_tp, _fn, _fp, _tn);

    public void Drafted(int position, int token, ReadOnlySpan<float> draftLogits, bool verifierAccepts)
    {
        if (position == 0) _round.Clear();
        _round[position] = (token, Softmax(draftLogits)[token], verifierAccepts);
    }

    public void Tested(int position, int token, ReadOnlySpan<float> targetLogits)
    {
        if (!_round.TryGetValue(position, out var drafted) || drafted.Token != token) return;
        double acceptable = Acceptability.Of(label, drafted.Q, Softmax(targetLogits), token);
        if (drafted.Accepts) { _tp += acceptable; _fp += 1 - acceptable; }
        else { _fn += acceptable; _tn += 1 - acceptable; }
    }

    /// <summary>softmax(logits) at temperature 1, in a scratch buffer.</summary>
    ReadOnlySpan<float> Softmax(ReadOnlySpan<float> logits)
    {
        var probs = _scratch.AsSpan(0, logits.Length);
        TensorPrimitives.SoftMax(logits, probs);
        return probs;
    }
}
