namespace Sprinter.Decoding;

/// <summary>
/// Optional listener on SPRINTER's verifier, for audits that need the raw logits (the benchmark's
/// online eta_TP / eta_FP). The decoder calls it only when one is attached, so the normal path pays
/// a null check. Positions are draft positions within the current round.
/// </summary>
public interface IVerificationObserver
{
    /// <summary>A drafted token and the verifier's decision; <paramref name="draftLogits"/> produced it.</summary>
    void Drafted(int position, int token, ReadOnlySpan<float> draftLogits, bool verifierAccepts);

    /// <summary>The target is about to test the token drafted at <paramref name="position"/>.</summary>
    void Tested(int position, int token, ReadOnlySpan<float> targetLogits);
}
