using System.Security.Cryptography;

namespace Sprinter.Models;

/// <summary>
/// The files of a Hugging Face style GPT-2 model folder. <see cref="WeightsPath"/> is
/// model.safetensors, or model.safetensors.index.json for a sharded checkpoint.
/// </summary>
public sealed record ModelFolder(string Folder, string ConfigPath, string WeightsPath, string VocabPath, string MergesPath)
{
    public static ModelFolder Resolve(string folder)
    {
        if (!Directory.Exists(folder))
            throw new InvalidInputException($"{folder}: model folder not found; pass a folder holding config.json, model.safetensors (or sharded with model.safetensors.index.json), vocab.json and merges.txt.");
        string single = System.IO.Path.Combine(folder, "model.safetensors"), index = System.IO.Path.Combine(folder, SafeTensorsSet.IndexFileName);
        var f = new ModelFolder(folder, System.IO.Path.Combine(folder, "config.json"), File.Exists(single) || !File.Exists(index) ? single : index,
            System.IO.Path.Combine(folder, "vocab.json"), System.IO.Path.Combine(folder, "merges.txt"));
        foreach (var path in new[] { f.ConfigPath, f.WeightsPath, f.VocabPath, f.MergesPath })
            if (!File.Exists(path))
                throw new InvalidInputException($"{path}: file not found; a model folder needs config.json, model.safetensors (or model.safetensors.index.json and its shards), vocab.json and merges.txt.");
        return f;
    }

    /// <summary>Opens the weights: the single file or every shard.</summary>
    public SafeTensorsSet OpenWeights() => SafeTensorsSet.Open(WeightsPath);

    /// <summary>A short identity of the weights: sha256 over config.json and the weight files (the index and its shards).</summary>
    public string ComputeIdentity()
    {
        using var sha = SHA256.Create();
        var paths = new List<string> { ConfigPath, WeightsPath };
        if (WeightsPath.EndsWith(".index.json", StringComparison.Ordinal))
            paths.AddRange(SafeTensorsSet.ParseIndex(WeightsPath).Select(s => System.IO.Path.Combine(Folder, s.Shard)));
        foreach (var path in paths)
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
