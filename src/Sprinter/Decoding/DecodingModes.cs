namespace Sprinter.Decoding;

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

/// <summary>Which drafted tokens the target tests when SPRINTER calls it.</summary>
public enum SprinterMode
{
    /// <summary>As in the released code: only the round's last drafted token; the others stay unverified (lossy).</summary>
    Paper,
    /// <summary>Every drafted token of the round, in order, stopping at the first rejection: SD with a verifier-chosen draft length (lossless).</summary>
    StrictOnCall,
    /// <summary>
    /// Lossless SPRINTER as shipped: strict-on-call whose draft stops by the cumulative rule (the product
    /// of the verifier's scores since the last call under <c>CumulativeThreshold</c>, as SpecDec++), the stop
    /// rule that measured best for it on the corpus's validation split (models/README.md).
    /// </summary>
    Lossless,
}

/// <summary>When SPRINTER's draft stops and the target is called.</summary>
public enum SprinterStop
{
    /// <summary>At the first drafted token whose verifier score is under the threshold (the paper).</summary>
    Threshold,
    /// <summary>When the product of the verifier's scores since the last call falls under the cumulative threshold (SpecDec++).</summary>
    Cumulative,
}

/// <summary>
/// A mode with its SPRINTER variant, as one value: what statistics, reports and bench rows call
/// "ar", "ar-draft", "sd", "sprinter-paper" or "sprinter-strict-on-call". Its names come from
/// <see cref="DecodingNames"/>; the SPRINTER variant is ignored for the other modes.
/// </summary>
public readonly record struct DecodingMethod
{
    public DecodingMode Mode { get; }
    public SprinterMode SprinterMode { get; }

    public DecodingMethod(DecodingMode mode, SprinterMode sprinterMode = SprinterMode.Paper) =>
        (Mode, SprinterMode) = (mode, mode == DecodingMode.Sprinter ? sprinterMode : SprinterMode.Paper);   // one value per method, so == compares methods

    public static DecodingMethod Ar => new(DecodingMode.Ar);
    public static DecodingMethod ArDraft => new(DecodingMode.ArDraft);
    public static DecodingMethod Sd => new(DecodingMode.Sd);
    public static DecodingMethod SprinterPaper => new(DecodingMode.Sprinter, SprinterMode.Paper);
    public static DecodingMethod SprinterStrictOnCall => new(DecodingMode.Sprinter, SprinterMode.StrictOnCall);
    public static DecodingMethod SprinterLossless => new(DecodingMode.Sprinter, SprinterMode.Lossless);

    public bool IsSprinter => Mode == DecodingMode.Sprinter;
    /// <summary>Whether the output has the target's distribution (AR, SD, SPRINTER strict-on-call).</summary>
    public bool Lossless => DecodingNames.Lossless(this);
    /// <summary>"ar", "ar-draft", "sd", or "sprinter-" and the SPRINTER mode's name.</summary>
    public string Name => IsSprinter ? $"{DecodingNames.Name(Mode)}-{DecodingNames.Name(SprinterMode)}" : DecodingNames.Name(Mode);
    /// <summary>The loop that runs it: the target alone, the draft alone, or draft and target in rounds.</summary>
    public SequenceKind Kind => Mode switch { DecodingMode.Ar => SequenceKind.Ar, DecodingMode.ArDraft => SequenceKind.ArDraft, _ => SequenceKind.Speculative };

    public override string ToString() => Name;
}

/// <summary>
/// The one table of names of the decoding vocabulary, read by every shell: the CLI's <c>--mode</c>,
/// <c>--sprinter-mode</c> and <c>--stop-rule</c>, the request's <c>sprinter</c> object, bench method
/// names and the <c>mode</c> of statistics and reports. A new SPRINTER variant (a preset such as a
/// lossless one: strict-on-call with the cumulative stop rule) is one <see cref="SprinterMode"/> value,
/// one row in <see cref="SprinterModes"/>, and its settings in <c>DecoderFactory.Plan</c>.
/// </summary>
public static class DecodingNames
{
    /// <param name="Served">Whether a server runs it (ar-draft needs no target, so a server does not offer it).</param>
    sealed record ModeRow(DecodingMode Mode, string Name, bool Lossless, bool Served);
    sealed record SprinterRow(SprinterMode Mode, string Name, bool Lossless);

    static readonly ModeRow[] Modes =
    [
        new(DecodingMode.Ar, "ar", Lossless: true, Served: true),
        new(DecodingMode.ArDraft, "ar-draft", Lossless: false, Served: false),
        new(DecodingMode.Sd, "sd", Lossless: true, Served: true),
        new(DecodingMode.Sprinter, "sprinter", Lossless: false, Served: true),   // lossless or not by its SPRINTER mode
    ];

    static readonly SprinterRow[] SprinterModes =
    [
        new(SprinterMode.Paper, "paper", Lossless: false),
        new(SprinterMode.StrictOnCall, "strict-on-call", Lossless: true),
        new(SprinterMode.Lossless, "lossless", Lossless: true),
    ];

    static readonly (SprinterStop Stop, string Name)[] Stops = [(SprinterStop.Threshold, "threshold"), (SprinterStop.Cumulative, "cumulative")];

    public static string Name(DecodingMode mode) => Modes.Single(r => r.Mode == mode).Name;
    public static string Name(SprinterMode mode) => SprinterModes.Single(r => r.Mode == mode).Name;
    public static string Name(SprinterStop stop) => Stops.Single(r => r.Stop == stop).Name;

    /// <param name="served">Only the modes a server runs.</param>
    /// <returns>The mode, or null when <paramref name="text"/> names none.</returns>
    public static DecodingMode? ParseMode(string text, bool served = false) =>
        Modes.FirstOrDefault(r => Same(r.Name, text) && (r.Served || !served))?.Mode;

    /// <returns>The SPRINTER mode, or null when <paramref name="text"/> names none.</returns>
    public static SprinterMode? ParseSprinterMode(string text) => SprinterModes.FirstOrDefault(r => Same(r.Name, text))?.Mode;

    /// <returns>The stop rule, or null when <paramref name="text"/> names none.</returns>
    public static SprinterStop? ParseStop(string text) => Stops.Where(r => Same(r.Name, text)).Select(r => (SprinterStop?)r.Stop).FirstOrDefault();

    /// <summary>"ar, ar-draft, sd or sprinter" (or the served ones), for messages and help.</summary>
    public static string ModeChoices(bool served = false) => Choices(Modes.Where(r => r.Served || !served).Select(r => r.Name));
    public static string SprinterModeChoices => Choices(SprinterModes.Select(r => r.Name));
    public static string StopChoices => Choices(Stops.Select(r => r.Name));

    internal static bool Lossless(DecodingMethod method) =>
        method.IsSprinter ? SprinterModes.Single(r => r.Mode == method.SprinterMode).Lossless : Modes.Single(r => r.Mode == method.Mode).Lossless;

    static bool Same(string name, string text) => string.Equals(name, text.Trim(), StringComparison.OrdinalIgnoreCase);

    static string Choices(IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Count == 1 ? list[0] : string.Join(", ", list.Take(list.Count - 1)) + " or " + list[^1];
    }
}
