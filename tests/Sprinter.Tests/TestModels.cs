using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Tests;

/// <summary>Tiny random models and folders made inside the tests.</summary>
public static class TestModels
{
    public static ModelConfig TinyConfig(int vocab = 257, int d = 32, int layers = 2, int heads = 4, int positions = 64) => new()
    {
        EmbeddingSize = d, LayerCount = layers, HeadCount = heads, MaxPositions = positions, VocabSize = vocab, InnerSize = 4 * d,
    };

    public static Dictionary<string, (float[] Data, long[] Shape)> Tensors(ModelConfig c, int seed = 1) =>
        RandomModel.CreateTensors(c, seed, lnNoise: 0.1f);

    public static TransformerModel Model(ModelConfig c, Dictionary<string, (float[] Data, long[] Shape)> tensors, WeightType type = WeightType.F32) =>
        TransformerModel.FromTensors(c, n => tensors.TryGetValue(n, out var v) ? v : null, type, "test");

    /// <summary>A model folder with the 257-token byte vocabulary, in a fresh temp directory.</summary>
    public static string Folder(ModelConfig c, int seed = 1, TensorDType dtype = TensorDType.F32)
    {
        string dir = TempDir();
        var (vocab, merges) = RandomModel.ByteVocabulary();
        RandomModel.WriteFolder(dir, c, Tensors(c, seed), vocab, merges, dtype);
        return dir;
    }

    /// <summary>The checkout the tests run in (the folder holding Sprinter.slnx).</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sprinter.slnx"))) return dir.FullName;
        throw new InvalidOperationException("the tests do not run inside a checkout");
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sprinter-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static int[] RandomTokens(int count, int vocab, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }
}
