namespace Sprinter.Decoding;

/// <summary>What a verifier may look at for one drafted token: the draft's final hidden state
/// that produced q, the candidate token, the sampling distribution q it was drawn from and the
/// draft's raw logits (features use the temperature-1 softmax, which greedy decoding hides).</summary>
/// <param name="previous">The draft's temperature-1 statistics one position back, when known (for verifiers that read history).</param>
public readonly ref struct VerifierInput(ReadOnlySpan<float> hidden, int token, ReadOnlySpan<float> q, ReadOnlySpan<float> logits,
    Verification.VerifierFeatures.DraftStats? previous = null)
{
    public Verification.VerifierFeatures.DraftStats? Previous { get; } = previous;
    public ReadOnlySpan<float> Hidden { get; } = hidden;
    public int Token { get; } = token;
    public ReadOnlySpan<float> Q { get; } = q;
    public ReadOnlySpan<float> Logits { get; } = logits;
}

/// <summary>
/// SPRINTER's acceptance predictor: a score in [0, 1] that the target would accept the drafted
/// token. The decoder keeps drafting while the score is at least the threshold.
/// </summary>
public interface IVerifier
{
    string Name { get; }
    /// <summary>Hidden size the verifier was built for; 0 accepts any draft.</summary>
    int InputSize { get; }
    /// <summary>Whether <see cref="Score"/> reads <see cref="VerifierInput.Previous"/> (the decoder then keeps the draft's statistics per position).</summary>
    bool ReadsHistory => false;
    float Score(in VerifierInput input);
}

/// <summary>A fixed score: 1 accepts everything, 0 rejects everything. For tests and baselines.</summary>
public sealed class ConstantVerifier(float score) : IVerifier
{
    public static ConstantVerifier AlwaysAccept { get; } = new(1f);
    public static ConstantVerifier AlwaysReject { get; } = new(0f);
    public string Name => $"constant({score})";
    public int InputSize => 0;
    public float Score(in VerifierInput input) => score;
}
