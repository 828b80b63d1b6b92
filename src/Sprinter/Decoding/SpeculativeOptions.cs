namespace Sprinter.Decoding;

/// <summary>Settings of an SD or SPRINTER decoder.</summary>
public sealed record SpeculativeOptions
{
    /// <summary>SD, or SPRINTER in one of its modes (never AR: an AR loop has no speculative options).</summary>
    public DecodingMethod Method { get; init; } = DecodingMethod.Sd;
    /// <summary>SD: draft tokens per round.</summary>
    public int Gamma { get; init; } = 4;
    /// <summary>SPRINTER: keep drafting while the verifier's score is at least this.</summary>
    public float Threshold { get; init; } = 0.5f;
    /// <summary>SPRINTER: cap on drafted tokens per round.</summary>
    public int MaxDraft { get; init; } = 20;
    public IVerifier? Verifier { get; init; }
    /// <summary>SPRINTER: tokens the draft proposes after the verifier stops; the target tests them with SD's rule in the same call.</summary>
    public int Lookahead { get; init; }
    public SprinterStop Stop { get; init; } = SprinterStop.Threshold;
    /// <summary>SPRINTER with <see cref="SprinterStop.Cumulative"/>: stop when the product of scores since the last call is under this.</summary>
    public float CumulativeThreshold { get; init; } = 0.5f;
    /// <summary>SPRINTER: hold the verifier's false-positive rate at a budget by moving the threshold online (null: a fixed threshold).
    /// The decoder forks its own controller per generation from this one.</summary>
    public OnlineCalibration? Calibration { get; init; }
    /// <summary>Try prompt lookup before the draft model each round (SD only: copied tokens have no verifier score).</summary>
    public bool PromptLookup { get; init; }

    /// <summary>Most tokens drafted after the verifier stops.</summary>
    public const int MaxLookahead = 16;

    public bool Lossless => Method.Lossless;

    /// <summary>Most tokens a round can draft.</summary>
    public int RoundCap => Method.IsSprinter ? MaxDraft + Lookahead : Gamma;

    /// <exception cref="InvalidSettingException">A setting out of its range, naming it.</exception>
    public void Validate(int draftHiddenSize)
    {
        if (Method.Kind != SequenceKind.Speculative) throw new ArgumentException($"{Method} has no speculative rounds", nameof(Method));
        if (!Method.IsSprinter) InvalidSettingException.ThrowIfLessThan("gamma", Gamma, 1);
        if (PromptLookup && Method.IsSprinter) throw new InvalidSettingException("prompt_lookup", "works with mode sd only (copied tokens have no verifier score).");
        if (!Method.IsSprinter) return;
        InvalidSettingException.ThrowIfLessThan("max_draft", MaxDraft, 1);
        InvalidSettingException.ThrowIfNotProbability("threshold", Threshold);
        InvalidSettingException.ThrowIfOutside("lookahead", Lookahead, 0, MaxLookahead);
        InvalidSettingException.ThrowIfNotProbability("cumulative_threshold", CumulativeThreshold);
        if (Verifier is null) throw new InvalidSettingException("verifier", "is needed by SPRINTER: give a verifier file (or constant:S).");
        if (Verifier.InputSize != 0 && Verifier.InputSize != draftHiddenSize)
            throw new InvalidInputException($"the verifier '{Verifier.Name}' reads hidden states of size {Verifier.InputSize} but the draft's n_embd is {draftHiddenSize}; train a verifier for this draft.");
    }
}
