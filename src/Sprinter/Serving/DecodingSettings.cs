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

    public bool NeedsTarget => Mode != DecodingMode.ArDraft;
    public bool NeedsDraft => Mode != DecodingMode.Ar;

    /// <summary>Whether the output has the target's distribution (AR, SD, SPRINTER strict-on-call).</summary>
    public bool Lossless => Mode is DecodingMode.Ar or DecodingMode.Sd
        || (Mode == DecodingMode.Sprinter && SprinterMode == SprinterMode.StrictOnCall);

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
public sealed record VerifierChoice(IVerifier Verifier, float? CalibratedThreshold);

/// <summary>Builds the decoder of a generation from its settings: the one place the CLI and the server set one up.</summary>
public static class DecoderFactory
{
    /// <param name="target">Needed unless the mode is ar-draft.</param>
    /// <param name="draft">Needed unless the mode is ar.</param>
    /// <param name="verifier">Needed for SPRINTER; must not be shared by two decoders running at once
    /// (a learned verifier has scratch buffers: give each decoder its own <see cref="Verification.LearnedVerifier.Clone"/>).</param>
    /// <param name="targetSession">The target's KV cache; null makes a new one.</param>
    /// <param name="draftSession">The draft's KV cache; null makes a new one.</param>
    /// <param name="logprobs">Null: no per-token log-probabilities; else the top candidates each token lists (-1: all).</param>
    /// <returns>The decoder and a one-line description of the models it runs.</returns>
    public static (IDecoder Decoder, string Description) Create(DecodingSettings settings, LanguageModel? target, LanguageModel? draft,
        SamplingOptions sampling, int seed, VerifierChoice? verifier = null,
        ITargetSession? targetSession = null, Engine.TransformerSession? draftSession = null, int? logprobs = null)
    {
        if (settings.NeedsTarget && target is null && targetSession is null) throw new ArgumentException("this mode needs the target model", nameof(target));
        if (settings.NeedsDraft && draft is null) throw new ArgumentException("this mode needs the draft model", nameof(draft));
        if (settings.Mode is DecodingMode.Ar or DecodingMode.ArDraft)
        {
            var lm = settings.Mode == DecodingMode.Ar ? target : draft!;
            ITargetSession session = (settings.Mode == DecodingMode.Ar ? targetSession : draftSession) ?? lm!.Model.CreateSession();
            return (new AutoregressiveDecoder(session, sampling, seed, isTarget: settings.Mode == DecodingMode.Ar) { LogprobsTopK = logprobs }, lm?.Name ?? TargetName(session));
        }
        var options = new SpeculativeOptions { Gamma = settings.Gamma };
        if (settings.Mode == DecodingMode.Sprinter)
        {
            if (verifier is null) throw new InvalidInputException("SPRINTER needs a verifier; pass --verifier FILE (or constant:S).");
            options = options with
            {
                Method = SpeculativeMethod.Sprinter,
                Verifier = verifier.Verifier,
                Threshold = settings.Threshold ?? verifier.CalibratedThreshold ?? 0.5f,
                MaxDraft = settings.MaxDraft,
                SprinterMode = settings.SprinterMode,
            };
        }
        var targetOf = targetSession ?? target!.Model.CreateSession();
        var decoder = new SpeculativeDecoder(draftSession ?? draft!.Model.CreateSession(), targetOf, options, sampling, seed) { LogprobsTopK = logprobs };
        string targetName = target?.Name ?? TargetName(targetOf);
        string description = options.Method == SpeculativeMethod.Sd
            ? $"draft {draft!.Name} -> target {targetName}, gamma {options.Gamma}"
            : $"draft {draft!.Name} -> target {targetName}, verifier {options.Verifier!.Name}, threshold {options.Threshold}, max-draft {options.MaxDraft}";
        return (decoder, description);
    }

    static string TargetName(ITargetSession session) => session.ToString() ?? "target";
}
