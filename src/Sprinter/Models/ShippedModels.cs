using Sprinter.Verification;

namespace Sprinter.Models;

/// <summary>
/// The default models of the repository's models/ folder (target, draft, verifiers), which the
/// command-line tool also carries beside its executable.
/// </summary>
public static class ShippedModels
{
    /// <summary>
    /// A shipped path under models/ (a model folder or a verifier file): models/ beside the
    /// executable (the installed tool carries it) or in a parent of the working directory (a clone).
    /// </summary>
    public static string? Find(string name, bool folder)
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "models", name);
                if (folder ? File.Exists(Path.Combine(candidate, "config.json")) : File.Exists(candidate)) return candidate;
            }
        return null;
    }

    /// <summary>
    /// The shipped verifier made for <paramref name="decoding"/> (greedy or sample):
    /// verifier-{decoding}.safetensors, else the older verifier.safetensors when its labels match; null when none is.
    /// </summary>
    public static string? FindVerifier(string decoding)
    {
        foreach (string name in new[] { $"verifier-{decoding}.safetensors", "verifier.safetensors" })
            if (Find(name, folder: false) is string path && VerifierModel.Load(path).Decoding == decoding) return path;
        return null;
    }
}
