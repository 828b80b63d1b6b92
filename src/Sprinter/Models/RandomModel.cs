using System.Text.Json;
using Sprinter.Engine;

namespace Sprinter.Models;

/// <summary>
/// Randomly initialised weights in the family's Hugging Face naming (GPT-2's own init: N(0, 0.02),
/// residual projections scaled by 1/sqrt(2 n_layer), norms at identity): for tests, benchmarks and
/// the start of training.
/// </summary>
public static class RandomModel
{
    public static Dictionary<string, (float[] Data, long[] Shape)> CreateTensors(ModelConfig c, int seed, float lnNoise = 0f)
    {
        var rng = new Random(seed);
        int d = c.EmbeddingSize, f = c.InnerSize;
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
        void Add(string name, float[] data, params long[] shape) => t[name] = (data, shape);
        double residualStd = 0.02 / Math.Sqrt(2 * c.LayerCount);
        if (c.ModelType is not ("gpt2" or "gpt_neo"))
        {
            // The Llama layout: nn.Linear weights [out, in], RMSNorm scales only, no position table.
            int kv = c.KeyValueSize, q = c.QuerySize, hs = c.HeadSize;
            Add("model.embed_tokens.weight", Normal((long)c.VocabSize * d, 0.02), c.VocabSize, d);
            for (int l = 0; l < c.LayerCount; l++)
            {
                string h = $"model.layers.{l}.";
                Add(h + "input_layernorm.weight", Constant(d, 1, lnNoise), d);
                Add(h + "self_attn.q_proj.weight", Normal((long)q * d, 0.02), q, d);
                Add(h + "self_attn.k_proj.weight", Normal((long)kv * d, 0.02), kv, d);
                Add(h + "self_attn.v_proj.weight", Normal((long)kv * d, 0.02), kv, d);
                if (c.QkvBias)
                {
                    Add(h + "self_attn.q_proj.bias", Constant(q, 0, lnNoise), q);
                    Add(h + "self_attn.k_proj.bias", Constant(kv, 0, lnNoise), kv);
                    Add(h + "self_attn.v_proj.bias", Constant(kv, 0, lnNoise), kv);
                }
                Add(h + "self_attn.o_proj.weight", Normal((long)d * q, residualStd), d, q);
                if (c.QueryKeyNorm)
                {
                    Add(h + "self_attn.q_norm.weight", Constant(hs, 1, lnNoise), hs);
                    Add(h + "self_attn.k_norm.weight", Constant(hs, 1, lnNoise), hs);
                }
                Add(h + "post_attention_layernorm.weight", Constant(d, 1, lnNoise), d);
                Add(h + "mlp.gate_proj.weight", Normal((long)f * d, 0.02), f, d);
                Add(h + "mlp.up_proj.weight", Normal((long)f * d, 0.02), f, d);
                Add(h + "mlp.down_proj.weight", Normal((long)d * f, residualStd), d, f);
            }
            Add("model.norm.weight", Constant(d, 1, lnNoise), d);
            if (!c.TieWordEmbeddings) Add("lm_head.weight", Normal((long)c.VocabSize * d, 0.02), c.VocabSize, d);
            return t;
        }
        // GPT-2, and GPT-Neo with its names: separate bias-free q/k/v and nn.Linear [out, in] weights.
        bool neo = c.ModelType == "gpt_neo";
        Add("wte.weight", Normal((long)c.VocabSize * d, 0.02), c.VocabSize, d);
        Add("wpe.weight", Normal((long)c.MaxPositions * d, 0.01), c.MaxPositions, d);
        for (int l = 0; l < c.LayerCount; l++)
        {
            string h = $"h.{l}.";
            Add(h + "ln_1.weight", Constant(d, 1, lnNoise), d); Add(h + "ln_1.bias", Constant(d, 0, lnNoise), d);
            if (neo)
            {
                foreach (var proj in new[] { "q_proj", "k_proj", "v_proj" }) Add(h + "attn.attention." + proj + ".weight", Normal((long)d * d, 0.05), d, d);
                Add(h + "attn.attention.out_proj.weight", Normal((long)d * d, residualStd), d, d); Add(h + "attn.attention.out_proj.bias", Constant(d, 0, lnNoise), d);
            }
            else
            {
                Add(h + "attn.c_attn.weight", Normal((long)d * 3 * d, 0.02), d, 3 * d); Add(h + "attn.c_attn.bias", Constant(3 * d, 0, lnNoise), 3 * d);
                Add(h + "attn.c_proj.weight", Normal((long)d * d, residualStd), d, d); Add(h + "attn.c_proj.bias", Constant(d, 0, lnNoise), d);
            }
            Add(h + "ln_2.weight", Constant(d, 1, lnNoise), d); Add(h + "ln_2.bias", Constant(d, 0, lnNoise), d);
            long[] fcShape = neo ? [f, d] : [d, f], projShape = neo ? [d, f] : [f, d];
            Add(h + "mlp.c_fc.weight", Normal((long)d * f, 0.02), fcShape); Add(h + "mlp.c_fc.bias", Constant(f, 0, lnNoise), f);
            Add(h + "mlp.c_proj.weight", Normal((long)f * d, residualStd), projShape); Add(h + "mlp.c_proj.bias", Constant(d, 0, lnNoise), d);
        }
        Add("ln_f.weight", Constant(d, 1, lnNoise), d); Add("ln_f.bias", Constant(d, 0, lnNoise), d);
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
