using System.Security.Cryptography;

namespace Sprinter.Models;

/// <summary>The files of a Hugging Face style GPT-2 model folder.</summary>
public sealed record ModelFolder(string Folder, string ConfigPath, string WeightsPath, string VocabPath, string MergesPath)
{
    public static ModelFolder Resolve(string folder)
    {
        if (!Directory.Exists(folder))
            throw new InvalidInputException($"{folder}: model folder not found; pass a folder holding config.json, model.safetensors, vocab.json and merges.txt.");
        var f = new ModelFolder(folder, System.IO.Path.Combine(folder, "config.json"), System.IO.Path.Combine(folder, "model.safetensors"),
            System.IO.Path.Combine(folder, "vocab.json"), System.IO.Path.Combine(folder, "merges.txt"));
        foreach (var path in new[] { f.ConfigPath, f.WeightsPath, f.VocabPath, f.MergesPath })
            if (!File.Exists(path))
                throw new InvalidInputException($"{path}: file not found; a model folder needs config.json, model.safetensors, vocab.json and merges.txt.");
        return f;
    }

    /// <summary>A short identity of the weights: sha256 over config.json and model.safetensors.</summary>
    public string ComputeIdentity()
    {
        using var sha = SHA256.Create();
        foreach (var path in new[] { ConfigPath, WeightsPath })
        {
            using var stream = File.OpenRead(path);
            var buffer = new byte[1 << 20];
            int read;
            while ((read = stream.Read(buffer)) > 0) sha.TransformBlock(buffer, 0, read, null, 0);
        }
        sha.TransformFinalBlock([], 0, 0);
        return Convert.ToHexStringLower(sha.Hash!);
    }
}
