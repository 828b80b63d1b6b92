using Sprinter.Engine;

namespace Sprinter.Models;

/// <summary>A loaded model folder: the weights, the tokenizer and where they came from.</summary>
public sealed class LanguageModel : IDisposable
{
    public required ModelFolder Folder { get; init; }
    public required TransformerModel Model { get; init; }
    public required Gpt2Tokenizer Tokenizer { get; init; }
    public ModelConfig Config => Model.Config;
    public string Name => System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(System.IO.Path.GetFullPath(Folder.Folder)));

    /// <summary>Loads and cross-checks a model folder (tokenizer size must equal config vocab_size).</summary>
    /// <param name="type">Run-time weight type; null picks <see cref="NativeWeightType"/>.</param>
    public static LanguageModel Load(string folder, WeightType? type = null)
    {
        var files = ModelFolder.Resolve(folder);
        var config = ModelConfig.Load(files.ConfigPath);
        var tokenizer = Gpt2Tokenizer.Load(files);
        if (tokenizer.VocabSize != config.VocabSize && !IsPadding(tokenizer.VocabSize, config.VocabSize))
            throw new InvalidInputException($"{files.TokenizerFiles}: the tokenizer has {tokenizer.VocabSize} tokens but config.json says vocab_size {config.VocabSize}; the files belong to different models.");
        using var st = files.OpenWeights();
        var model = TransformerModel.FromSafeTensors(config, st, type ?? NativeWeightType(st));
        model.LimitOutputVocabulary(tokenizer.VocabSize);
        return new LanguageModel { Folder = files, Model = model, Tokenizer = tokenizer };
    }

    /// <summary>
    /// Embedding rows padded past the tokenizer to a multiple of 64 (Qwen: 151,665 tokens in 151,936
    /// or 152,064 rows) are accepted and hidden; any other size difference means mismatched files.
    /// </summary>
    static bool IsPadding(int tokens, int rows) => tokens < rows && rows % 64 == 0 && rows - tokens < 1024;

    /// <summary>
    /// BF16 when every tensor of the file is stored as bf16 (running them as bf16 is then exact and
    /// reads half the bytes per token), else F32 (fp16 has more mantissa than bf16 keeps).
    /// </summary>
    public static WeightType NativeWeightType(SafeTensorsSet file) =>
        file.Tensors.Values.All(t => t.DType == TensorDType.BF16) ? WeightType.BF16 : WeightType.F32;

    public void Dispose() => Model.Dispose();
}
