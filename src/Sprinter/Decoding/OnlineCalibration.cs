using Sprinter.Verification;

namespace Sprinter.Decoding;

/// <summary>
/// Keeps SPRINTER's verifier threshold at its false-positive budget on the text being generated.
/// Every target call processes all of a round's drafted positions, so asking for their logits
/// labels every verifier decision of the round at almost no cost (in paper mode the labels of
/// unverified tokens arrive with that same call; they never change what was emitted, only the
/// threshold from then on). For each decision on an unacceptable token (the verifier's own label
/// rule) the threshold moves by step x (accepted - budget): an adaptive conformal update whose
/// long-run false-positive rate is the budget. One instance per generation (so a sequence's text
/// never depends on other requests); a decoder that runs many prompts keeps one across them.
/// </summary>
public sealed class OnlineCalibration(float threshold, double budget, LabelRule label, double step = 0.02)
{
    readonly List<float> _path = [threshold];

    public float Threshold { get; private set; } = threshold;
    public double Budget { get; } = budget;
    public LabelRule Label { get; } = label;
    public double TruePositives { get; private set; }
    public double FalseNegatives { get; private set; }
    public double FalsePositives { get; private set; }
    public double TrueNegatives { get; private set; }
    public double EtaTp => TruePositives + FalseNegatives == 0 ? double.NaN : TruePositives / (TruePositives + FalseNegatives);
    public double EtaFp => FalsePositives + TrueNegatives == 0 ? double.NaN : FalsePositives / (FalsePositives + TrueNegatives);
    /// <summary>The threshold after each round that brought a label.</summary>
    public IReadOnlyList<float> Path => _path;

    /// <summary>One verifier decision and its label's acceptability in [0, 1] (soft for the sample rule).</summary>
    public void Observe(bool verifierAccepted, double acceptable)
    {
        if (verifierAccepted) { TruePositives += acceptable; FalsePositives += 1 - acceptable; }
        else { FalseNegatives += acceptable; TrueNegatives += 1 - acceptable; }
        double unacceptable = 1 - acceptable;
        if (unacceptable > 0)
            Threshold = (float)Math.Clamp(Threshold + step * unacceptable * ((verifierAccepted ? 1 : 0) - Budget), 0, 1);
    }

    internal void EndRound() { if (_path[^1] != Threshold) _path.Add(Threshold); }

    /// <summary>A fresh controller at this one's settings and current threshold.</summary>
    public OnlineCalibration Fork() => new(Threshold, Budget, Label, step);
}
