using System.Numerics.Tensors;
using Sprinter.Decoding;

namespace Sprinter.Benchmarks;

/// <summary>Confusion counts of verifier decisions against the acceptability label q(x) &lt;= p(x).</summary>
public sealed record VerifierConfusion(long TruePositives, long FalseNegatives, long FalsePositives, long TrueNegatives)
{
    public long Acceptable => TruePositives + FalseNegatives;
    public long Unacceptable => FalsePositives + TrueNegatives;
    public long Total => Acceptable + Unacceptable;
    /// <summary>eta_TP: share of acceptable tokens the verifier accepted (NaN when none were seen).</summary>
    public double EtaTp => Acceptable == 0 ? double.NaN : (double)TruePositives / Acceptable;
    /// <summary>eta_FP: share of unacceptable tokens the verifier accepted.</summary>
    public double EtaFp => Unacceptable == 0 ? double.NaN : (double)FalsePositives / Unacceptable;
    /// <summary>Share of tested tokens that were acceptable (the label's base rate a).</summary>
    public double AcceptableRate => Total == 0 ? double.NaN : (double)Acceptable / Total;

    public static VerifierConfusion operator +(VerifierConfusion a, VerifierConfusion b) =>
        new(a.TruePositives + b.TruePositives, a.FalseNegatives + b.FalseNegatives, a.FalsePositives + b.FalsePositives, a.TrueNegatives + b.TrueNegatives);

    public static VerifierConfusion Empty { get; } = new(0, 0, 0, 0);
}

/// <summary>
/// Online audit of SPRINTER's verifier: for every drafted token that the target tested, the
/// verifier's decision and the label q(x) &lt;= p(x) on temperature-1 softmaxes (the training
/// label, whatever the sampling setting). Only tested tokens get a label, so in paper mode the
/// sample is mostly the rounds' last tokens (the verifier's rejects, or accepts at the cap).
/// </summary>
public sealed class VerifierAudit : IVerificationObserver
{
    readonly float[] _scratch;
    readonly Dictionary<int, (int Token, float Q, bool Accepts)> _round = [];
    long _tp, _fn, _fp, _tn;

    public VerifierAudit(int vocabSize) => _scratch = new float[vocabSize];

    public VerifierConfusion Confusion => new(_tp, _fn, _fp, _tn);

    public void Drafted(int position, int token, ReadOnlySpan<float> draftLogits, bool verifierAccepts)
    {
        if (position == 0) _round.Clear();
        _round[position] = (token, SoftmaxAt(draftLogits, token), verifierAccepts);
    }

    public void Tested(int position, int token, ReadOnlySpan<float> targetLogits)
    {
        if (!_round.TryGetValue(position, out var drafted) || drafted.Token != token) return;
        bool acceptable = drafted.Q <= SoftmaxAt(targetLogits, token);
        if (acceptable) { if (drafted.Accepts) _tp++; else _fn++; }
        else if (drafted.Accepts) _fp++;
        else _tn++;
    }

    /// <summary>softmax(logits)[token] at temperature 1.</summary>
    float SoftmaxAt(ReadOnlySpan<float> logits, int token)
    {
        var probs = _scratch.AsSpan(0, logits.Length);
        TensorPrimitives.SoftMax(logits, probs);
        return probs[token];
    }
}
