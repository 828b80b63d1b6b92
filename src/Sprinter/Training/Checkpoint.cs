using System.Text.Json;
using System.Text.Json.Nodes;
using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>Where a run stood at a checkpoint, besides the tensors.</summary>
internal sealed record CheckpointState(int Step, long Tokens, double ElapsedSeconds, string Fingerprint);

/// <summary>
/// A training checkpoint: one safetensors file holding the fp32 parameters (under their own
/// names), the AdamW moments ("adam_m." and "adam_v." + name) and, in the metadata, the step,
/// tokens seen, the optimizer step count and the fingerprint of the options that shape the run.
/// The data cursor is the step itself (windows are a hash of seed and step). Written to a
/// temporary file and renamed, so a kill leaves the previous checkpoint intact.
/// </summary>
internal static class Checkpoint
{
    public const string FileName = "checkpoint.safetensors";
    const string MetadataKey = "sprinter_training_state";

    public static void Save(string path, ModelParameters<float> parameters, AdamW optimizer, CheckpointState state)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tensors = new List<TensorToWrite>();
        for (int i = 0; i < parameters.All.Length; i++)
        {
            var p = parameters.All[i];
            tensors.Add(new TensorToWrite(p.Name, p.Shape, p.Value));
            tensors.Add(new TensorToWrite("adam_m." + p.Name, p.Shape, optimizer.M[i]));
            tensors.Add(new TensorToWrite("adam_v." + p.Name, p.Shape, optimizer.V[i]));
        }
        var meta = new JsonObject
        {
            ["step"] = state.Step,
            ["tokens"] = state.Tokens,
            ["elapsed_seconds"] = state.ElapsedSeconds,
            ["adam_steps"] = optimizer.StepCount,
            ["fingerprint"] = state.Fingerprint,
        };
        SafeTensorsWriter.Write(path, tensors, new Dictionary<string, string> { [MetadataKey] = meta.ToJsonString() });
    }

    /// <summary>
    /// Loads the checkpoint into <paramref name="parameters"/> and <paramref name="optimizer"/>.
    /// Throws when it was made with options that would make a different run.
    /// </summary>
    public static CheckpointState Load(string path, ModelParameters<float> parameters, AdamW optimizer, string fingerprint)
    {
        using var file = SafeTensorsFile.Open(path);
        if (!file.Metadata.TryGetValue(MetadataKey, out var json))
            throw new InvalidInputException($"{path}: not a sprinter training checkpoint (no '{MetadataKey}' metadata); delete it or choose another checkpoint folder.");
        JsonObject meta;
        try { meta = JsonNode.Parse(json) as JsonObject ?? throw new InvalidInputException($"{path}: corrupt training state; delete the checkpoint."); }
        catch (JsonException) { throw new InvalidInputException($"{path}: corrupt training state; delete the checkpoint."); }
        string saved = meta["fingerprint"]?.GetValue<string>() ?? "";
        if (saved != fingerprint)
            throw new InvalidInputException($"{path}: the checkpoint was made with different options ({Difference(saved, fingerprint)}); rerun with the same options, or delete the checkpoint folder to start over.");
        for (int i = 0; i < parameters.All.Length; i++)
        {
            var p = parameters.All[i];
            Read(file, p.Name, p.Value);
            Read(file, "adam_m." + p.Name, optimizer.M[i]);
            Read(file, "adam_v." + p.Name, optimizer.V[i]);
        }
        optimizer.StepCount = meta["adam_steps"]!.GetValue<long>();
        return new CheckpointState(meta["step"]!.GetValue<int>(), meta["tokens"]!.GetValue<long>(), meta["elapsed_seconds"]!.GetValue<double>(), saved);
    }

    static void Read(SafeTensorsFile file, string name, float[] destination)
    {
        if (!file.Tensors.TryGetValue(name, out var info) || info.DType != TensorDType.F32 || info.ElementCount != destination.Length)
            throw new InvalidInputException($"{file.Path}: tensor '{name}' is missing or has the wrong shape; the checkpoint is corrupt, delete it.");
        file.ReadFloats(info).CopyTo(destination, 0);
    }

    /// <summary>The options that determine a run's trajectory, as a canonical JSON string.</summary>
    public static string Fingerprint(TrainingOptions o, ModelConfig config, int totalSteps, string tokenizerIdentity, int[] trainTokens, string? teacherIdentity = null, string? initIdentity = null)
    {
        var fingerprint = new JsonObject
        {
            ["n_layer"] = config.LayerCount, ["n_embd"] = config.EmbeddingSize, ["n_head"] = config.HeadCount,
            ["context"] = config.MaxPositions, ["vocab_size"] = config.VocabSize, ["tokenizer"] = tokenizerIdentity,
            ["train_tokens"] = trainTokens.Length,
            ["train_sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(trainTokens.AsSpan())))[..16], ["batch"] = o.BatchSize, ["micro_batch"] = o.MicroBatchSize, ["steps"] = totalSteps,
            ["lr"] = o.LearningRate, ["min_lr_fraction"] = o.MinLearningRateFraction, ["warmup"] = o.WarmupSteps,
            ["weight_decay"] = o.WeightDecay, ["clip"] = o.GradientClip, ["seed"] = o.Seed,
        };
        // Only distillation runs carry these, so fingerprints of plain runs stay as they were.
        if (teacherIdentity is not null) { fingerprint["teacher"] = teacherIdentity[..16]; fingerprint["teacher_weight"] = o.TeacherWeight; }
        if (initIdentity is not null) fingerprint["init"] = initIdentity[..16];
        return fingerprint.ToJsonString();
    }

    static string Difference(string saved, string current)
    {
        try
        {
            var a = JsonNode.Parse(saved) as JsonObject;
            var b = JsonNode.Parse(current) as JsonObject;
            if (a is null || b is null) return "unreadable options";
            var diffs = b.Where(kv => a[kv.Key]?.ToJsonString() != kv.Value?.ToJsonString())
                         .Select(kv => $"{kv.Key} {a[kv.Key]?.ToJsonString() ?? "?"} -> {kv.Value?.ToJsonString()}");
            return string.Join(", ", diffs);
        }
        catch (JsonException) { return "unreadable options"; }
    }
}
