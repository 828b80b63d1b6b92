using System.Globalization;
using Sprinter.Decoding;
using Sprinter.Models;
using Sprinter.Verification;

namespace Sprinter.Cli.Commands;

/// <summary>Turns --verifier into a verifier: constant:S, a verifier file, or the shipped one.</summary>
internal static class VerifierSource
{
    /// <returns>The verifier and its calibrated threshold when the file stores one.</returns>
    public static (IVerifier Verifier, float? Threshold) Resolve(string? spec, LanguageModel draft)
    {
        if (spec is not null && spec.StartsWith("constant:", StringComparison.OrdinalIgnoreCase))
        {
            string value = spec["constant:".Length..];
            if (!float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out float s) || s is < 0 or > 1)
                throw new InvalidInputException($"--verifier constant:S needs a score S in [0, 1], got '{value}'.");
            return (new ConstantVerifier(s), null);
        }
        string? path = spec ?? CliSupport.FindShipped("verifier.safetensors", folder: false);
        if (path is null)
            throw new InvalidInputException("SPRINTER needs a verifier and none is shipped (models/verifier.safetensors); pass --verifier FILE or --verifier constant:S.");
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: verifier file not found; train one with 'sprinter verifier train'.");
        var verifier = LearnedVerifier.Load(path, draft);
        return (verifier, verifier.Model.Threshold);
    }
}
