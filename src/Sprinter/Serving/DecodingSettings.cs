using Sprinter.Decoding;
using Sprinter.Models;

namespace Sprinter.Serving;

/// <summary>Which decoding loop runs a generation.</summary>
public enum DecodingMode
{
    /// <summary>The target alone, one pass per token (lossless).</summary>
    Ar,
    /// <summary>The draft alone (lossy: the target never runs).</summary>
    ArDraft,
    /// <summary>Speculative decoding (lossless).</summary>
    Sd,
    /// <summary>SPRINTER: a learned verifier decides when the target runs (lossy in paper mode).</summary>
    Sprinter,
}

/// <summary>
/// The decoding knobs of one generation, shared by <c>sprinter generate</c>, the server's start
/// options and a request's <c>sprinter</c> object; <see cref="DecoderFactory"/> turns them into a decoder.
/// </summary>
public sealed record DecodingSettings
{
    public DecodingMode Mode { get; init; } = DecodingMode.Sd;
    /// <summary>SD: draft tokens per round.</summary>
    public int Gamma { get; init; } = 4;
    /// <summary>SPRINTER: verifier threshold; null takes the verifier's calibrated one, else 0.5.</summary>
    public float? Threshold { get; init; }
    /// <summary>SPRINTER: cap on drafted tokens per round.</summary>
    public int MaxDraft { get; init; } = 20;
    public SprinterMode SprinterMode { get; init; } = SprinterMode.Paper;
    /// <summary>SD: try prompt lookup (copy a continuation of the prompt or output) before the draft model.</summary>
    public bool PromptLookup { get; init; }
    /// <summary>SPRINTER: tokens drafted after the verifier stops, tested with SD's rule in the same call.</summary>
    public int Lookahead { get; init; }
    public SprinterStop Stop { get; init; } = SprinterStop.Threshold;
    public float CumulativeThreshold { get; init; } = 0.5f;
    /// <summary>SPRINTER: move the threshold online to hold the verifier's false-positive rate at its budget.</summary>
    public bool OnlineCalibration { get; init; }
    /// <summary>The budget for <see cref="OnlineCalibration"/>; null takes the verifier's (its file's max_fp_rate), else 0.1.</summary>
    public double? FpBudget { get; init; }

    /// <summary>SPRINTER as shipped: paper mode with the round settings chosen by measurement on the corpus's validation split (models/README.md).</summary>
    public static DecodingSettings SprinterDefaults { get; } = new() { Mode = DecodingMode.Sprinter };

    /// <summary>Lossless SPRINTER as shipped: every drafted token tested, the draft length set by the verifier's stop rule chosen by measurement.</summary>
    public static DecodingSettings LosslessSprinter { get; } = new() { Mode = DecodingMode.Sprinter, SprinterMode = SprinterMode.StrictOnCall, Stop = SprinterStop.Cumulative, CumulativeThreshold = 0.5f };

    public bool NeedsTarget => Mode != DecodingMode.ArDraft;
    public bool NeedsDraft => Mode != DecodingMode.Ar;

    /// <summary>Whether the output has the target's distribution (AR, SD, SPRINTER strict-on-call).</summary>
    public bool Lossless => Mode is DecodingMode.Ar or DecodingMode.Sd
        || (Mode == DecodingMode.Sprinter && SprinterMode == SprinterMode.StrictOnCall);

    /// <summary>threshold or cumulative; null for anything else.</summary>
    public static SprinterStop? ParseStop(string text) => text.Trim().ToLowerInvariant() switch
    {
        "threshold" => SprinterStop.Threshold,
        "cumulative" => SprinterStop.Cumulative,
        _ => null,
    };

    public static string Name(DecodingMode mode) => mode switch
    {
        DecodingMode.Ar => "ar", DecodingMode.ArDraft => "ar-draft", DecodingMode.Sd => "sd", _ => "sprinter",
    };

    /// <returns>The mode, or null when <paramref name="text"/> names none.</returns>
    public static DecodingMode? ParseMode(string text) => text.ToLowerInvariant() switch
    {
        "ar" => DecodingMode.Ar, "ar-draft" => DecodingMode.ArDraft, "sd" => DecodingMode.Sd, "sprinter" => DecodingMode.Sprinter, _ => null,
    };

    /// <returns>The SPRINTER mode, or null when <paramref name="text"/> names none.</returns>
    public static SprinterMode? ParseSprinterMode(string text) => text.ToLowerInvariant() switch
    {
        "paper" => SprinterMode.Paper, "strict-on-call" => SprinterMode.StrictOnCall, _ => null,
    };

    public static string Name(SprinterMode mode) => mode == SprinterMode.Paper ? "paper" : "strict-on-call";
}

/// <summary>A verifier and the threshold calibrated with it (null when the file stores none).</summary>
/// <param name="FpBudget">The false-positive rate the verifier was calibrated for (its file's max_fp_rate), if known.</param>
/// <param name="Label">The label rule the verifier was trained on (what its eta_FP counts).</param>
public sealed record VerifierChoice(IVerifier Verifier, float? CalibratedThreshold, double? FpBudget = null, Verification.LabelRule Label = Verification.LabelRule.Paper);

/// <summary>Builds the decoder of a generation from its settings: the one place the CLI, the server and the bench set one up.</summary>
public static class DecoderFactory
{
    /// <summary>The loop and the speculative options that <paramref name="settings"/> ask for.</summary>
    /// <param name="verifier">Needed for SPRINTER; must not be shared by two sequences running at once
    /// (a learned verifier has scratch buffers: give each its own <see cref="Verification.LearnedVerifier.Clone"/>).</param>
    public static (SequenceKind Kind, SpeculativeOptions Options) Plan(DecodingSettings settings, VerifierChoice? verifier)
    {
        if (settings.Mode is DecodingMode.Ar) return (SequenceKind.Ar, new SpeculativeOptions());
        if (settings.Mode is DecodingMode.ArDraft) return (SequenceKind.ArDraft, new SpeculativeOptions());
        var options = new SpeculativeOptions { Gamma = settings.Gamma, PromptLookup = settings.PromptLookup };
        if (settings.Mode == DecodingMode.Sprinter)
        {
            if (verifier is null) throw new InvalidInputException("SPRINTER needs a verifier; give one (a verifier file, or constant:S).");
            options = options with
            {
                Method = SpeculativeMethod.Sprinter,
                Verifier = verifier.Verifier,
                Threshold = settings.Threshold ?? verifier.CalibratedThreshold ?? 0.5f,
                MaxDraft = settings.MaxDraft,
                SprinterMode = settings.SprinterMode,
                Lookahead = settings.Lookahead,
                Stop = settings.Stop,
                CumulativeThreshold = settings.CumulativeThreshold,
            };
            if (settings.OnlineCalibration)
                options = options with { Calibration = new OnlineCalibration(options.Threshold, settings.FpBudget ?? verifier.FpBudget ?? 0.1, verifier.Label) };
        }
        return (SequenceKind.Speculative, options);
    }

    /// <param name="target">Needed unless the mode is ar-draft (or a target session is given).</param>
    /// <param name="draft">Needed unless the mode is ar.</param>
    /// <param name="verifier">Needed for SPRINTER (see <see cref="Plan"/>).</param>
    /// <param name="targetSession">The target: a local KV cache or a remote target; null makes a new local one.</param>
    /// <param name="draftSession">The draft's KV cache; null makes a new one.</param>
    /// <param name="logprobs">Null: no per-token log-probabilities; else the top candidates each token lists (-1: all).</param>
    /// <returns>The decoder and a one-line description of the models it runs.</returns>
    public static (SequenceDecoder Decoder, string Description) Create(DecodingSettings settings, LanguageModel? target, LanguageModel? draft,
        SamplingOptions sampling, int seed, VerifierChoice? verifier = null,
        ITargetSession? targetSession = null, Engine.TransformerSession? draftSession = null, int? logprobs = null)
    {
        if (settings.NeedsTarget && target is null && targetSession is null) throw new ArgumentException("this mode needs the target model", nameof(target));
        if (settings.NeedsDraft && draft is null) throw new ArgumentException("this mode needs the draft model", nameof(draft));
        var (kind, options) = Plan(settings, verifier);
        var targetRun = settings.NeedsTarget ? targetSession ?? target!.Model.CreateSession() : null;
        var draftRun = settings.NeedsDraft ? draftSession ?? draft!.Model.CreateSession() : null;
        var decoder = kind == SequenceKind.Speculative ? new SpeculativeDecoder(draftRun!, targetRun!, options, sampling, seed)
            : new SequenceDecoder(kind, options, sampling, seed, targetRun, draftRun);
        decoder.LogprobsTopK = logprobs;
        string targetName = target?.Name ?? (targetRun is null ? "target" : TargetName(targetRun));
        string description = kind switch
        {
            SequenceKind.Ar => targetName,
            SequenceKind.ArDraft => draft!.Name,
            _ when options.Method == SpeculativeMethod.Sd => $"draft {draft!.Name} -> target {targetName}, gamma {options.Gamma}{(options.PromptLookup ? ", prompt lookup first" : "")}",
            _ => $"draft {draft!.Name} -> target {targetName}, verifier {options.Verifier!.Name}, threshold {options.Threshold}, max-draft {options.MaxDraft}",
        };
        return (decoder, description);
    }

    static string TargetName(ITargetSession session) => session.ToString() ?? "target";
}
