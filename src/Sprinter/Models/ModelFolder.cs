using System.Security.Cryptography;

namespace Sprinter.Models;

/// <summary>
/// The files of a Hugging Face model folder (any family). <see cref="WeightsPath"/> is
/// model.safetensors, or model.safetensors.index.json for a sharded checkpoint.
/// </summary>
/// <param name="TokenizerJsonPath">tokenizer.json when the folder has no vocab.json + merges.txt (null otherwise).</param>
/// <param name="TokenizerModelPath">SentencePiece tokenizer.model when the folder has neither of the above (null otherwise).</param>
public sealed record ModelFolder(string Folder, string ConfigPath, string WeightsPath, string VocabPath, string MergesPath, string? TokenizerJsonPath = null,
    string? TokenizerModelPath = null)
{
    /// <summary>The tokenizer file(s), for messages.</summary>
    public string TokenizerFiles => TokenizerJsonPath ?? TokenizerModelPath ?? $"{VocabPath} + merges.txt";

    public static ModelFolder Resolve(string folder)
    {
        if (!Directory.Exists(folder))
            throw new InvalidInputException($"{folder}: model folder not found; pass a folder holding config.json, model.safetensors (or sharded with model.safetensors.index.json), and vocab.json + merges.txt, tokenizer.json or tokenizer.model.");
        string single = System.IO.Path.Combine(folder, "model.safetensors"), index = System.IO.Path.Combine(folder, SafeTensorsSet.IndexFileName);
        string vocab = System.IO.Path.Combine(folder, "vocab.json"), merges = System.IO.Path.Combine(folder, "merges.txt");
        string tokenizerJson = System.IO.Path.Combine(folder, HfTokenizerJson.FileName);
        string tokenizerModel = System.IO.Path.Combine(folder, SentencePieceModelFile.FileName);
        bool hasVocab = File.Exists(vocab) && File.Exists(merges);
        bool useJson = !hasVocab && File.Exists(tokenizerJson);
        bool useModel = !hasVocab && !useJson && File.Exists(tokenizerModel);
        var f = new ModelFolder(folder, System.IO.Path.Combine(folder, "config.json"), File.Exists(single) || !File.Exists(index) ? single : index,
            vocab, merges, useJson ? tokenizerJson : null, useModel ? tokenizerModel : null);
        foreach (var path in useJson || useModel ? new[] { f.ConfigPath, f.WeightsPath } : [f.ConfigPath, f.WeightsPath, f.VocabPath, f.MergesPath])
            if (!File.Exists(path))
                throw new InvalidInputException($"{path}: file not found; a model folder needs config.json, model.safetensors (or model.safetensors.index.json and its shards), and vocab.json + merges.txt, tokenizer.json or tokenizer.model.");
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
