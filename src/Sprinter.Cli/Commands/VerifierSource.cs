using System.Globalization;
using Sprinter.Decoding;
using Sprinter.Models;
using Sprinter.Serving;
using Sprinter.Verification;

namespace Sprinter.Cli.Commands;

/// <summary>
/// Turns --verifier into a verifier: constant:S, a verifier file, or the shipped verifier made for
/// the run's decoding (greedy or sample): models/verifier-greedy.safetensors or
/// models/verifier-sample.safetensors, else models/verifier.safetensors when its labels match.
/// </summary>
internal static class VerifierSource
{
    /// <returns>The verifier and its calibrated threshold when the file stores one.</returns>
    /// <param name="decoding">greedy (temperature 0) or sample.</param>
    /// <param name="notes">Where a note goes when an explicitly given file was made for the other decoding.</param>
    /// <param name="fallBack">When no shipped verifier is made for the decoding, use one made for the other
    /// decoding with a note (the benchmark, which records which verifier served each row) instead of refusing.</param>
    public static (IVerifier Verifier, float? Threshold) Resolve(string? spec, LanguageModel draft, string decoding, TextWriter? notes = null, bool fallBack = false)
    {
        if (spec is not null && spec.StartsWith("constant:", StringComparison.OrdinalIgnoreCase))
        {
            string value = spec["constant:".Length..];
            if (!float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out float s) || s is < 0 or > 1)
                throw new InvalidInputException($"--verifier constant:S needs a score S in [0, 1], got '{value}'.");
            return (new ConstantVerifier(s), null);
        }
        if (spec is not null)
        {
            if (!File.Exists(spec)) throw new InvalidInputException($"{spec}: verifier file not found; train one with 'sprinter verifier train'.");
            var given = LearnedVerifier.Load(spec, draft);
            if (given.Model.Decoding != decoding)
                notes?.WriteLine($"note: {spec} was trained for {given.Model.Decoding} decoding but this run decodes {(decoding == "greedy" ? "greedily (temperature 0)" : "by sampling")}; its calibrated eta_FP does not carry over.");
            return (given, given.Model.Threshold);
        }
        if (ShippedModels.FindVerifier(decoding) is string path)
        {
            var shipped = LearnedVerifier.Load(path, draft);
            return (shipped, shipped.Model.Threshold);
        }
        if (fallBack)
            foreach (string name in new[] { "verifier-greedy.safetensors", "verifier-sample.safetensors", "verifier.safetensors" })
                if (CliSupport.FindShipped(name, folder: false) is string other)
                {
                    var model = VerifierModel.Load(other);
                    notes?.WriteLine($"note: no shipped verifier is made for {decoding} decoding; the {decoding} rows use {Path.GetFileName(other)}, made for {model.Decoding} decoding, whose calibrated eta_FP does not carry over.");
                    var used = LearnedVerifier.Load(other, draft);
                    return (used, used.Model.Threshold);
                }
        throw new InvalidInputException($"no shipped verifier is made for {decoding} decoding (models/verifier-{decoding}.safetensors); " +
            (decoding == "sample" ? "decode greedily with --temperature 0, or " : "") + "pass --verifier FILE (or constant:S).");
    }

    /// <summary><see cref="Resolve"/> as the decoder factory takes it.</summary>
    public static VerifierChoice Choose(string? spec, LanguageModel draft, string decoding, TextWriter? notes = null)
    {
        var (verifier, threshold) = Resolve(spec, draft, decoding, notes);
        if (verifier is not LearnedVerifier learned) return new VerifierChoice(verifier, threshold);
        double? budget = learned.Model.Training["max_fp_rate"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out double b) ? b : null;
        return new VerifierChoice(verifier, threshold, budget, Acceptability.Parse(learned.Model.LabelRule) ?? LabelRule.Paper);
    }

    public static string DecodingOf(SamplingOptions options) => options.IsGreedy ? "greedy" : "sample";
}
