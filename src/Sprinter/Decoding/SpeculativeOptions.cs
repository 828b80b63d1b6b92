namespace Sprinter.Decoding;

public enum SpeculativeMethod { Sd, Sprinter }

/// <summary>Which drafted tokens the target tests when SPRINTER calls it.</summary>
public enum SprinterMode
{
    /// <summary>As in the released code: only the round's last drafted token; the others stay unverified (lossy).</summary>
    Paper,
    /// <summary>Every drafted token of the round, in order, stopping at the first rejection: SD with a verifier-chosen draft length (lossless).</summary>
    StrictOnCall,
}

/// <summary>When SPRINTER's draft stops and the target is called.</summary>
public enum SprinterStop
{
    /// <summary>At the first drafted token whose verifier score is under the threshold (the paper).</summary>
    Threshold,
    /// <summary>When the product of the verifier's scores since the last call falls under the cumulative threshold (SpecDec++).</summary>
    Cumulative,
}

/// <summary>Settings of an SD or SPRINTER decoder.</summary>
public sealed record SpeculativeOptions
{
    public SpeculativeMethod Method { get; init; } = SpeculativeMethod.Sd;
    /// <summary>SD: draft tokens per round.</summary>
    public int Gamma { get; init; } = 4;
    /// <summary>SPRINTER: keep drafting while the verifier's score is at least this.</summary>
    public float Threshold { get; init; } = 0.5f;
    /// <summary>SPRINTER: cap on drafted tokens per round.</summary>
    public int MaxDraft { get; init; } = 20;
    public SprinterMode SprinterMode { get; init; } = SprinterMode.Paper;
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

    public bool Lossless => Method == SpeculativeMethod.Sd || SprinterMode == SprinterMode.StrictOnCall;

    public string ModeName => Method == SpeculativeMethod.Sd ? "sd"
        : SprinterMode == SprinterMode.Paper ? "sprinter-paper" : "sprinter-strict-on-call";

    /// <summary>Most tokens a round can draft.</summary>
    public int RoundCap => Method == SpeculativeMethod.Sd ? Gamma : MaxDraft + Lookahead;

    public void Validate(int draftHiddenSize)
    {
        if (Method == SpeculativeMethod.Sd && Gamma < 1) throw new InvalidInputException($"--gamma must be >= 1, got {Gamma}.");
        if (PromptLookup && Method != SpeculativeMethod.Sd) throw new InvalidInputException("--prompt-lookup works with --mode sd only (copied tokens have no verifier score).");
        if (Method != SpeculativeMethod.Sprinter) return;
        if (MaxDraft < 1) throw new InvalidInputException($"--max-draft must be >= 1, got {MaxDraft}.");
        if (!(Threshold >= 0 && Threshold <= 1)) throw new InvalidInputException($"--threshold must be in [0, 1], got {Threshold}.");
        if (Lookahead is < 0 or > 16) throw new InvalidInputException($"--lookahead must be in [0, 16], got {Lookahead}.");
        if (!(CumulativeThreshold >= 0 && CumulativeThreshold <= 1)) throw new InvalidInputException($"--cumulative-threshold must be in [0, 1], got {CumulativeThreshold}.");
        if (Verifier is null) throw new InvalidInputException("SPRINTER needs a verifier; pass --verifier FILE.");
        if (Verifier.InputSize != 0 && Verifier.InputSize != draftHiddenSize)
            throw new InvalidInputException($"the verifier '{Verifier.Name}' reads hidden states of size {Verifier.InputSize} but the draft's n_embd is {draftHiddenSize}; train a verifier for this draft.");
    }
}
