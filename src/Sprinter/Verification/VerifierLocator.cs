using System.Globalization;
using Sprinter.Decoding;
using Sprinter.Models;

namespace Sprinter.Verification;

/// <summary>A verifier as a decoder takes it, with what its file says about it.</summary>
/// <param name="CalibratedThreshold">The threshold calibrated with it (null when its file stores none).</param>
/// <param name="FpBudget">The false-positive rate it was calibrated for (its file's max_fp_rate), if known.</param>
/// <param name="Label">The label rule it was trained on (what its eta_FP counts).</param>
public sealed record VerifierChoice(IVerifier Verifier, float? CalibratedThreshold, double? FpBudget = null, LabelRule Label = LabelRule.Paper)
{
    /// <summary>How reports name it: the verifier and its calibrated threshold.</summary>
    public string Description { get; init; } = CalibratedThreshold is float t ? $"{Verifier.Name}, calibrated threshold {t:0.###}" : Verifier.Name;

    /// <summary>A verifier with what its file stores (threshold, budget, label rule); a constant one has none of them.</summary>
    public static VerifierChoice Of(IVerifier verifier, float? threshold)
    {
        if (verifier is not LearnedVerifier learned) return new VerifierChoice(verifier, threshold);
        double? budget = learned.Model.Training["max_fp_rate"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out double b) ? b : null;
        return new VerifierChoice(verifier, threshold, budget, Acceptability.Parse(learned.Model.LabelRule) ?? LabelRule.Paper);
    }
}

/// <summary>
/// Finds the SPRINTER verifier of a run, for every shell (generate, serve, bench, <c>SprinterClient</c>):
/// <c>constant:S</c>, a verifier file, or the shipped verifier made for the run's decoding (greedy or
/// sample): models/verifier-greedy.safetensors or models/verifier-sample.safetensors, else
/// models/verifier.safetensors when its labels match.
/// </summary>
public static class VerifierLocator
{
    /// <param name="spec">The <c>verifier</c> setting: a file, <c>constant:S</c>, or null for the shipped one.</param>
    /// <param name="decoding">greedy (temperature 0) or sample (<see cref="DecodingOf"/>).</param>
    /// <param name="notes">Where a note goes when a given file was made for the other decoding.</param>
    /// <param name="fallBack">When no shipped verifier is made for the decoding, use one made for the other
    /// decoding with a note (the benchmark, which records which verifier served each row) instead of refusing.</param>
    /// <exception cref="InvalidSettingException">A bad <c>constant:S</c>, or no verifier where one is needed (setting <c>verifier</c>).</exception>
    public static VerifierChoice Locate(string? spec, LanguageModel draft, string decoding, TextWriter? notes = null, bool fallBack = false)
    {
        if (spec is not null && spec.StartsWith("constant:", StringComparison.OrdinalIgnoreCase))
        {
            string value = spec["constant:".Length..];
            if (!float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out float s) || s is < 0 or > 1)
                throw new InvalidSettingException("verifier", $"constant:S needs a score S in [0, 1], got '{value}'.");
            return VerifierChoice.Of(new ConstantVerifier(s), null);
        }
        if (spec is not null)
        {
            CheckFile(spec);
            var given = LearnedVerifier.Load(spec, draft);
            if (given.Model.Decoding != decoding)
                notes?.WriteLine($"note: {spec} was trained for {given.Model.Decoding} decoding but this run decodes {(decoding == "greedy" ? "greedily (temperature 0)" : "by sampling")}; its calibrated eta_FP does not carry over.");
            return VerifierChoice.Of(given, given.Model.Threshold);
        }
        if (ShippedModels.FindVerifier(decoding) is string path)
        {
            var shipped = LearnedVerifier.Load(path, draft);
            return VerifierChoice.Of(shipped, shipped.Model.Threshold);
        }
        if (fallBack)
            foreach (string name in new[] { "verifier-greedy.safetensors", "verifier-sample.safetensors", "verifier.safetensors" })
                if (ShippedModels.Find(name, folder: false) is string other)
                {
                    var model = VerifierModel.Load(other);
                    notes?.WriteLine($"note: no shipped verifier is made for {decoding} decoding; the {decoding} rows use {Path.GetFileName(other)}, made for {model.Decoding} decoding, whose calibrated eta_FP does not carry over.");
                    var used = LearnedVerifier.Load(other, draft);
                    return VerifierChoice.Of(used, used.Model.Threshold);
                }
        throw new InvalidSettingException("verifier", $"is not set and no shipped verifier is made for {decoding} decoding (models/verifier-{decoding}.safetensors); " +
            "give a verifier file (or constant:S)" + (decoding == "sample" ? ", or decode greedily (temperature 0)." : "."));
    }

    /// <summary>Refuses a verifier file that is not there, before any model loads.</summary>
    public static void CheckFile(string spec)
    {
        if (!spec.StartsWith("constant:", StringComparison.OrdinalIgnoreCase) && !File.Exists(spec))
            throw new InvalidInputException($"{spec}: verifier file not found; train one with 'sprinter verifier train'.");
    }

    /// <summary>The decoding a verifier must be made for: greedy at temperature 0, else sample.</summary>
    public static string DecodingOf(SamplingOptions options) => options.IsGreedy ? "greedy" : "sample";
}
