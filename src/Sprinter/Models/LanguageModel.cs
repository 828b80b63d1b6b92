using Sprinter.Engine;

namespace Sprinter.Models;

/// <summary>A loaded model folder: the weights, the tokenizer and where they came from.</summary>
public sealed class LanguageModel : IDisposable
{
    public required ModelFolder Folder { get; init; }
    public required Gpt2Model Model { get; init; }
    public required Gpt2Tokenizer Tokenizer { get; init; }
    public ModelConfig Config => Model.Config;
    public string Name => System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(Folder.Folder)));

    /// <summary>Loads and cross-checks a model folder (tokenizer size must equal config vocab_size).</summary>
    public static LanguageModel Load(string folder, WeightType type = WeightType.F32)
    {
        var files = ModelFolder.Resolve(folder);
        var config = ModelConfig.Load(files.ConfigPath);
        var tokenizer = Gpt2Tokenizer.Load(files);
        if (tokenizer.VocabSize != config.VocabSize)
            throw new InvalidInputException($"{files.VocabPath}: the tokenizer has {tokenizer.VocabSize} tokens but config.json says vocab_size {config.VocabSize}; the files belong to different models.");
        using var st = SafeTensorsFile.Open(files.WeightsPath);
        return new LanguageModel { Folder = files, Model = Gpt2Model.FromSafeTensors(config, st, type), Tokenizer = tokenizer };
    }

    public void Dispose() => Model.Dispose();
}
