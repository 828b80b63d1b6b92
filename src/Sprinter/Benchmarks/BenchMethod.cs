using Sprinter.Decoding;
using Sprinter.Serving;
using Sprinter.Verification;

namespace Sprinter.Benchmarks;

/// <summary>
/// One method with its parameter (gamma for SD, threshold for SPRINTER). With
/// <paramref name="Calibrated"/>, each sampling setting runs at the calibrated threshold of its own
/// verifier (the benchmark then uses one verifier per decoding); Threshold holds the first setting's.
/// </summary>
/// <param name="Kind">The decoding method (ar, ar-draft, sd, sprinter-paper, sprinter-strict-on-call).</param>
/// <param name="Lookahead">SPRINTER: tokens drafted after the verifier stops.</param>
/// <param name="Stop">SPRINTER's stop rule; <paramref name="Cumulative"/> is its h for <see cref="SprinterStop.Cumulative"/>.</param>
/// <param name="Online">SPRINTER: online threshold calibration at the verifier's false-positive budget.</param>
/// <param name="Budget">SPRINTER with <paramref name="Online"/>: the false-positive budget held (null: the verifier's own).</param>
public sealed record BenchMethod(DecodingMethod Kind, int Gamma = 4, float Threshold = 0.5f, bool Calibrated = false, bool PromptLookup = false,
    int Lookahead = 0, SprinterStop Stop = SprinterStop.Threshold, float Cumulative = 0.5f, bool Online = false, double? Budget = null)
{
    /// <summary>The method's name in statistics and reports (<see cref="DecodingMethod.Name"/>).</summary>
    public string Mode => Kind.Name;

    public bool IsSprinter => Kind.IsSprinter;

    public string Name => Kind.Mode switch
    {
        DecodingMode.Sd => PromptLookup ? $"sd-lookup-g{Gamma}" : $"sd-g{Gamma}",
        DecodingMode.Sprinter => (Stop == SprinterStop.Cumulative ? $"{Mode}-cum{Number(Cumulative)}" : Calibrated ? $"{Mode}-calibrated" : $"{Mode}-t{Number(Threshold)}")
            + (Lookahead > 0 ? $"-la{Lookahead}" : "") + (Online ? "-online" : "") + (Online && Budget is double b ? $"-fp{Number(b)}" : ""),
        _ => Mode,
    };

    /// <summary>Names read the same in every culture (Parse reads them back).</summary>
    static string Number(double value) => value.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The method a <see cref="Name"/> names (the inverse of <see cref="Name"/>): <c>ar</c>, <c>ar-draft</c>,
    /// <c>sd-g4</c>, <c>sd-lookup-g4</c>, or <c>sprinter-paper</c> / <c>sprinter-strict-on-call</c> / <c>sprinter-lossless</c> followed by
    /// <c>-calibrated</c>, <c>-t0.5</c> or <c>-cum0.5</c>, then optionally <c>-la2</c>, <c>-online</c> and <c>-fp0.2</c>.
    /// </summary>
    /// <returns>The method, or null when <paramref name="name"/> is not one.</returns>
    public static BenchMethod? Parse(string name)
    {
        var n = name.Trim().ToLowerInvariant();
        if (n == "ar") return new(DecodingMethod.Ar);
        if (n == "ar-draft") return new(DecodingMethod.ArDraft);
        var sd = System.Text.RegularExpressions.Regex.Match(n, @"^sd-(lookup-)?g(\d+)$");
        if (sd.Success) return int.TryParse(sd.Groups[2].Value, out int g) && g >= 1 ? new(DecodingMethod.Sd, Gamma: g, PromptLookup: sd.Groups[1].Success) : null;
        var sp = System.Text.RegularExpressions.Regex.Match(n,
            @"^sprinter-(paper|strict-on-call|lossless)-(calibrated|t(?<t>[0-9.]+)|cum(?<h>[0-9.]+))(-la(?<la>\d+))?(?<online>-online(-fp(?<fp>[0-9.]+))?)?$");
        if (!sp.Success) return null;
        static float? Unit(System.Text.RegularExpressions.Group grp) =>
            grp.Success && float.TryParse(grp.Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out float v) && v is >= 0 and <= 1 ? v : null;
        var kind = new DecodingMethod(DecodingMode.Sprinter, DecodingNames.ParseSprinterMode(sp.Groups[1].Value)!.Value);
        float? t = Unit(sp.Groups["t"]), h = Unit(sp.Groups["h"]);
        double? fp = sp.Groups["fp"].Success && double.TryParse(sp.Groups["fp"].Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double b) ? b : null;
        if ((sp.Groups["t"].Success && t is null) || (sp.Groups["h"].Success && h is null) || (sp.Groups["fp"].Success && fp is not (> 0 and < 1))) return null;
        if (kind == DecodingMethod.SprinterLossless && h is null) return null;   // the lossless preset stops by the cumulative rule
        int lookahead = sp.Groups["la"].Success && int.TryParse(sp.Groups["la"].Value, out int la) && la <= 16 ? la : sp.Groups["la"].Success ? -1 : 0;
        if (lookahead < 0) return null;
        return new(kind, Threshold: t ?? 0.5f, Calibrated: sp.Groups[2].Value == "calibrated" || h is not null, Lookahead: lookahead,
            Stop: h is null ? SprinterStop.Threshold : SprinterStop.Cumulative, Cumulative: h ?? 0.5f, Online: sp.Groups["online"].Success, Budget: fp);
    }

    /// <summary>The SPRINTER method that <paramref name="settings"/> run (its mode, stop rule, lookahead and calibration); a null threshold is the calibrated one.</summary>
    public static BenchMethod ForSettings(Sprinter.Serving.DecodingSettings settings)
    {
        bool lossless = settings.SprinterMode == SprinterMode.Lossless;   // its round rules are fixed (DecoderFactory.Plan)
        var stop = lossless ? SprinterStop.Cumulative : settings.Stop;
        bool online = settings.OnlineCalibration && stop == SprinterStop.Threshold;
        return new(new DecodingMethod(DecodingMode.Sprinter, settings.SprinterMode), Threshold: settings.Threshold ?? 0.5f, Calibrated: settings.Threshold is null,
            Lookahead: lossless ? 0 : settings.Lookahead, Stop: stop, Cumulative: settings.CumulativeThreshold, Online: online, Budget: online ? settings.FpBudget : null);
    }

    /// <summary>The threshold a run uses: its verifier's calibrated one for a <see cref="Calibrated"/> method.</summary>
    public float ThresholdFor(VerifierChoice? verifier) => Calibrated && verifier?.CalibratedThreshold is float t ? t : Threshold;

    /// <summary>The method as the settings every shell decodes with (<see cref="DecoderFactory"/> builds its decoder).</summary>
    public DecodingSettings Settings(VerifierChoice? verifier, int maxDraft) => new()
    {
        Mode = Kind.Mode, SprinterMode = Kind.SprinterMode, Gamma = Gamma, PromptLookup = PromptLookup,
        Threshold = ThresholdFor(verifier), MaxDraft = maxDraft, Lookahead = Lookahead, Stop = Stop, CumulativeThreshold = Cumulative,
        OnlineCalibration = Online, FpBudget = Online ? Budget : null,
    };
}

/// <summary>A named sampling setting (greedy, or sampling at temperature 1).</summary>
public sealed record SamplingSetting(string Name, SamplingOptions Options)
{
    public static SamplingSetting Greedy { get; } = new("greedy", SamplingOptions.Greedy);
    public static SamplingSetting Sample { get; } = new("sample", new SamplingOptions { Temperature = 1f });

    /// <summary>The decoding a verifier must be made for: greedy at temperature 0, else sample.</summary>
    public string Decoding => VerifierLocator.DecodingOf(Options);
}
