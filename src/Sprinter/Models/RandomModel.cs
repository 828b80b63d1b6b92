using System.Text.Json;
using Sprinter.Engine;

namespace Sprinter.Models;

/// <summary>
/// Randomly initialised weights in the family's Hugging Face naming (GPT-2's own init: N(0, 0.02),
/// residual projections scaled by 1/sqrt(2 n_layer), norms at identity; the tensors and their init
/// come from the family table, <see cref="TensorLayout"/>): for tests, benchmarks and the start of training.
/// </summary>
public static class RandomModel
{
    public static Dictionary<string, (float[] Data, long[] Shape)> CreateTensors(ModelConfig c, int seed, float lnNoise = 0f)
    {
        var rng = new Random(seed);
        var t = new Dictionary<string, (float[], long[])>();
        float[] Normal(long n, double std)
        {
            var a = new float[n];
            for (long i = 0; i < n; i++)
            {
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                a[i] = (float)(std * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            }
            return a;
        }
        float[] Constant(int n, float value, float noise)
        {
            var a = new float[n];
            for (int i = 0; i < n; i++) a[i] = value + (noise == 0 ? 0 : (float)((rng.NextDouble() * 2 - 1) * noise));
            return a;
        }
        // The family's tensors in the table's order, which is the order of the draws.
        foreach (var spec in Architectures.Of(c).Tensors(c))
        {
            if (spec.Optional) continue;
            t[spec.Hf] = (spec.Fill is float value ? Constant(checked((int)spec.ElementCount), value, lnNoise) : Normal(spec.ElementCount, spec.Std), spec.Shape);
        }
        return t;
    }

    public static TransformerModel Create(ModelConfig config, int seed, WeightType type = WeightType.F32)
    {
        var tensors = CreateTensors(config, seed);
        return TransformerModel.FromTensors(config, name => tensors.TryGetValue(name, out var v) ? v : null, type, "random model");
    }

    /// <summary>
    /// Writes a complete model folder (config, safetensors in <paramref name="dtype"/>, tokenizer files);
    /// the weights as Hugging Face shards of at most <paramref name="maxShardBytes"/> when they do not fit in one.
    /// </summary>
    public static void WriteFolder(string folder, ModelConfig config, IReadOnlyDictionary<string, (float[] Data, long[] Shape)> tensors,
        string vocabJson, string mergesTxt, TensorDType dtype = TensorDType.F32, IReadOnlyDictionary<string, string>? metadata = null,
        long maxShardBytes = long.MaxValue)
    {
        Directory.CreateDirectory(folder);
        config.Save(Path.Combine(folder, "config.json"));
        ShardedSafeTensorsWriter.Write(folder, tensors.Select(kv => new TensorToWrite(kv.Key, kv.Value.Shape, kv.Value.Data, dtype)).ToList(),
            maxShardBytes, metadata ?? new Dictionary<string, string> { ["format"] = "pt" });
        File.WriteAllText(Path.Combine(folder, "vocab.json"), vocabJson);
        File.WriteAllText(Path.Combine(folder, "merges.txt"), mergesTxt);
    }

    /// <summary>The smallest byte-level vocabulary: the 256 byte tokens, the given merges in order, then &lt;|endoftext|&gt;.</summary>
    public static (string VocabJson, string MergesTxt) ByteVocabulary(IEnumerable<(string Left, string Right)>? merges = null)
    {
        var vocab = new Dictionary<string, int>();
        for (int b = 0; b < 256; b++) vocab[ByteLevel.ByteToChar[b].ToString()] = b;
        var lines = new List<string> { "#version: 0.2" };
        foreach (var (left, right) in merges ?? [])
        {
            vocab.TryAdd(left + right, vocab.Count);
            lines.Add(left + " " + right);
        }
        vocab["<|endoftext|>"] = vocab.Count;
        return (JsonSerializer.Serialize(vocab), string.Join("\n", lines) + "\n");
    }
}
