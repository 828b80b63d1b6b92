using Sprinter.Decoding;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Verification;

namespace Sprinter.Serving;

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
    // The SPRINTER defaults below were chosen by one quiet timing run on the corpus's validation split (never the
    // evaluation prompts; models/README.md): lookahead 1 was the fastest paper round (a target position costs
    // about a quarter of a one-position pass here, so longer lookahead costs what it saves), h = 0.4 the fastest
    // lossless preset; online calibration is on so the verifier's false-positive rate holds its budget on new
    // text, for 3-6% of speed (switch it off with OnlineCalibration = false).
    /// <summary>SPRINTER: tokens drafted after the verifier stops, tested with SD's rule in the same call (0: the paper's round).</summary>
    public int Lookahead { get; init; } = 1;
    public SprinterStop Stop { get; init; } = SprinterStop.Threshold;
    public float CumulativeThreshold { get; init; } = 0.4f;
    /// <summary>SPRINTER: move the threshold online to hold the verifier's false-positive rate at its budget (false: the paper's fixed threshold).</summary>
    public bool OnlineCalibration { get; init; } = true;
    /// <summary>The budget for <see cref="OnlineCalibration"/>; null takes the verifier's (its file's max_fp_rate), else 0.1.</summary>
    public double? FpBudget { get; init; }

    /// <summary>SPRINTER as shipped: paper mode with the round settings chosen by measurement on the corpus's validation split (models/README.md).</summary>
    public static DecodingSettings SprinterDefaults { get; } = new() { Mode = DecodingMode.Sprinter };

    /// <summary>Lossless SPRINTER as shipped: every drafted token tested, the draft length set by the verifier's stop rule chosen by measurement.</summary>
    public static DecodingSettings LosslessSprinter { get; } = new() { Mode = DecodingMode.Sprinter, SprinterMode = SprinterMode.Lossless };

    public bool NeedsTarget => Mode != DecodingMode.ArDraft;
    public bool NeedsDraft => Mode != DecodingMode.Ar;

    /// <summary>The mode and SPRINTER variant as one value (its name is what statistics and reports show).</summary>
    public DecodingMethod Method => new(Mode, SprinterMode);

    /// <summary>Whether the output has the target's distribution (AR, SD, SPRINTER strict-on-call).</summary>
    public bool Lossless => Method.Lossless;

    /// <summary>Refuses a value out of its range before any model loads (every value, whatever the mode:
    /// a server's defaults serve requests of every mode); the decoder checks again what it uses.</summary>
    /// <exception cref="InvalidSettingException">Naming the first bad setting.</exception>
    public void Validate()
    {
        InvalidSettingException.ThrowIfLessThan("gamma", Gamma, 1);
        if (Threshold is float t) InvalidSettingException.ThrowIfNotProbability("threshold", t);
        InvalidSettingException.ThrowIfLessThan("max_draft", MaxDraft, 1);
        InvalidSettingException.ThrowIfOutside("lookahead", Lookahead, 0, SpeculativeOptions.MaxLookahead);
        InvalidSettingException.ThrowIfNotProbability("cumulative_threshold", CumulativeThreshold);
        if (FpBudget is double b && !(b > 0 && b < 1)) throw new InvalidSettingException("fp_budget", $"must be in (0, 1), got {b}.");
    }
}

/// <summary>Builds the decoder of a generation from its settings: the one place the CLI, the server and the bench set one up.</summary>
public static class DecoderFactory
{
    /// <summary>The loop and the speculative options that <paramref name="settings"/> ask for.</summary>
    /// <param name="verifier">Needed for SPRINTER; must not be shared by two sequences running at once
    /// (a learned verifier has scratch buffers: give each its own <see cref="LearnedVerifier.Clone"/>).</param>
    public static (SequenceKind Kind, SpeculativeOptions Options) Plan(DecodingSettings settings, VerifierChoice? verifier)
    {
        var method = settings.Method;
        if (method.Kind != SequenceKind.Speculative) return (method.Kind, new SpeculativeOptions());
        var options = new SpeculativeOptions { Method = method, Gamma = settings.Gamma, PromptLookup = settings.PromptLookup };
        if (method.IsSprinter)
        {
            if (verifier is null) throw new InvalidSettingException("verifier", "is needed by SPRINTER: give a verifier file (or constant:S).");
            bool lossless = settings.SprinterMode == SprinterMode.Lossless;
            options = options with
            {
                Verifier = verifier.Verifier,
                Threshold = settings.Threshold ?? verifier.CalibratedThreshold ?? 0.5f,
                MaxDraft = settings.MaxDraft,
                // The lossless preset: every token tested (the acceptance policy), drafted until the cumulative rule stops.
                Lookahead = lossless ? 0 : settings.Lookahead,
                Stop = lossless ? SprinterStop.Cumulative : settings.Stop,
                CumulativeThreshold = settings.CumulativeThreshold,
            };
            // Online calibration moves the per-token threshold; the cumulative rule does not read it.
            if (settings.OnlineCalibration && options.Stop == SprinterStop.Threshold)
                options = options with { Calibration = new OnlineCalibration(options.Threshold, settings.FpBudget ?? verifier.FpBudget ?? 0.1, verifier.Label) };
        }
        return (SequenceKind.Speculative, options);
    }

    /// <summary>A decoder over sessions the caller owns (the bench keeps one pair across its runs).</summary>
    /// <param name="target">The target (local or remote); needed unless the mode is ar-draft.</param>
    /// <param name="draft">The draft; needed unless the mode is ar.</param>
    /// <param name="verifier">Needed for SPRINTER (see <see cref="Plan"/>).</param>
    /// <param name="logprobs">Null: no per-token log-probabilities; else the top candidates each token lists (-1: all).</param>
    public static SequenceDecoder ForSessions(DecodingSettings settings, SamplingOptions sampling, int seed, VerifierChoice? verifier,
        ITargetSession? target, TransformerSession? draft, int? logprobs = null)
    {
        var (kind, options) = Plan(settings, verifier);
        if (settings.NeedsTarget && target is null) throw new ArgumentException("this mode needs the target", nameof(target));
        if (settings.NeedsDraft && draft is null) throw new ArgumentException("this mode needs the draft", nameof(draft));
        var decoder = kind == SequenceKind.Speculative ? new SpeculativeDecoder(draft!, target!, options, sampling, seed)
            : new SequenceDecoder(kind, options, sampling, seed, settings.NeedsTarget ? target : null, settings.NeedsDraft ? draft : null);
        decoder.LogprobsTopK = logprobs;
        return decoder;
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
        ITargetSession? targetSession = null, TransformerSession? draftSession = null, int? logprobs = null)
    {
        if (settings.NeedsTarget && target is null && targetSession is null) throw new ArgumentException("this mode needs the target model", nameof(target));
        if (settings.NeedsDraft && draft is null) throw new ArgumentException("this mode needs the draft model", nameof(draft));
        var targetRun = settings.NeedsTarget ? targetSession ?? target!.Model.CreateSession() : null;
        var draftRun = settings.NeedsDraft ? draftSession ?? draft!.Model.CreateSession() : null;
        var decoder = ForSessions(settings, sampling, seed, verifier, targetRun, draftRun, logprobs);
        var options = decoder.Options;
        string targetName = target?.Name ?? (targetRun is null ? "target" : TargetName(targetRun));
        string description = settings.Method.Kind switch
        {
            SequenceKind.Ar => targetName,
            SequenceKind.ArDraft => draft!.Name,
            _ when !options.Method.IsSprinter => $"draft {draft!.Name} -> target {targetName}, gamma {options.Gamma}{(options.PromptLookup ? ", prompt lookup first" : "")}",
            _ => $"draft {draft!.Name} -> target {targetName}, verifier {options.Verifier!.Name}, threshold {options.Threshold}, max-draft {options.MaxDraft}",
        };
        return (decoder, description);
    }

    static string TargetName(ITargetSession session) => session.ToString() ?? "target";
}
