using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>
/// Reads a trained model folder's weights as the starting point of a training run (continued
/// training). The folder must have the run's exact shape: every tensor the trainer owns, with the
/// same dimensions, so a mismatch is one clear error rather than a silent partial load.
/// </summary>
internal static class InitialWeights
{
    public static (Dictionary<string, (float[] Data, long[] Shape)> Tensors, string Identity) Read(string folder, ModelConfig config)
    {
        var model = ModelFolder.Resolve(folder);
        var saved = ModelConfig.Load(model.ConfigPath);
        if (saved.LayerCount != config.LayerCount || saved.EmbeddingSize != config.EmbeddingSize || saved.HeadCount != config.HeadCount
            || saved.VocabSize != config.VocabSize || saved.MaxPositions != config.MaxPositions)
            throw new InvalidInputException(
                $"{folder}: the initial model has {saved.LayerCount} layers, d = {saved.EmbeddingSize}, {saved.HeadCount} heads, context {saved.MaxPositions}, " +
                $"vocabulary {saved.VocabSize}; the run asks for {config.LayerCount}, {config.EmbeddingSize}, {config.HeadCount}, {config.MaxPositions}, {config.VocabSize}. " +
                "Pass --layers/--d/--heads/--context and a --tokenizer that match it.");
        using var weights = model.OpenWeights();
        var tensors = new Dictionary<string, (float[], long[])>();
        foreach (var spec in Architectures.Of(config).Tensors(config))
        {
            if (spec.Optional) continue;
            if (!weights.Tensors.TryGetValue(spec.Hf, out var info) || !info.Shape.SequenceEqual(spec.Shape))
                throw new InvalidInputException($"{model.WeightsPath}: tensor '{spec.Hf}' is missing or not of shape [{string.Join(", ", spec.Shape)}]; " +
                                                "the initial model must be a GPT-2 folder of the run's shape (one written by train-lm).");
            tensors[spec.Hf] = (weights.ReadFloats(info), spec.Shape);
        }
        return (tensors, model.ComputeIdentity());
    }
}
