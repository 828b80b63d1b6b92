using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Tests.Engine;

/// <summary>
/// A pass over many sessions gives each one exactly (bit for bit) what its own pass gives: batching
/// never changes an answer. Sessions sit at different positions and bring 1 to 9 new tokens, so
/// every block kernel (8 down to 1 positions) meets a neighbour in the batch.
/// </summary>
public class BatchTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var type in new[] { WeightType.F32, WeightType.BF16, WeightType.Q8_0 })
        {
            yield return ["gpt2", type];
            yield return ["llama", type];
        }
        yield return ["qwen3", WeightType.F32];
        yield return ["gpt_neo", WeightType.BF16];
        yield return ["gpt2", WeightType.Q4_0];
        yield return ["gpt2-256", WeightType.Q4_K];   // Q4_K needs inputs in multiples of 256
        yield return ["llama-256", WeightType.Q5_K];  // every matrix from random Q5_K blocks, as a file's
    }

    static ModelConfig Config(string family) => family switch
    {
        "gpt2" => TestModels.TinyConfig(vocab: 300, d: 64, heads: 4),
        "gpt2-256" => TestModels.TinyConfig(vocab: 300, d: 256, heads: 4, layers: 1),
        "llama-256" => ArchitectureTests.TinyLlama("llama", kvHeads: 2, vocab: 300) with { EmbeddingSize = 256, InnerSize = 256, LayerCount = 1 },
        "llama" => ArchitectureTests.TinyLlama("llama", kvHeads: 2, vocab: 300),
        "qwen3" => ArchitectureTests.TinyLlama("qwen3", kvHeads: 2, vocab: 300) with { QueryKeyNorm = true, HeadDimension = 16 },
        _ => ModelConfig.Parse("""
            {"model_type": "gpt_neo", "hidden_size": 32, "num_layers": 2, "num_heads": 4, "max_position_embeddings": 64,
             "vocab_size": 300, "attention_types": [[["global", "local"], 1]], "window_size": 5, "layer_norm_epsilon": 1e-5}
            """, "test"),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ABatchedPassGivesEachSessionTheBitsOfItsOwnPass(string family, WeightType type)
    {
        var c = Config(family);
        var tensors = RandomModel.CreateTensors(c, seed: 7, lnNoise: 0.1f);
        using var model = type == WeightType.Q5_K ? FromQ5KBlocks(c, tensors) : TestModels.Model(c, tensors, type);
        // (cached prefix, new tokens, logit rows) per sequence.
        (int Prefix, int New, int Logits)[] shapes = [(3, 1, 1), (0, 5, 5), (10, 9, 3), (1, 2, 1), (7, 1, 1), (4, 8, 8), (2, 3, 2)];
        var rng = new Random(11);
        int[][] prefixes = shapes.Select(s => Enumerable.Range(0, s.Prefix + 1).Select(_ => rng.Next(c.VocabSize)).ToArray()).ToArray();
        int[][] news = shapes.Select(s => Enumerable.Range(0, s.New).Select(_ => rng.Next(c.VocabSize)).ToArray()).ToArray();

        TransformerSession Prepared(int i)
        {
            var s = model.CreateSession();
            s.Forward(prefixes[i], logitRows: 1);
            return s;
        }
        var alone = shapes.Select((s, i) => { var x = Prepared(i); x.Forward(news[i], s.Logits); return x; }).ToArray();
        var batched = shapes.Select((_, i) => Prepared(i)).ToArray();
        var batch = new TransformerBatch(model);
        for (int i = 0; i < shapes.Length; i++) batch.Add(batched[i], news[i], shapes[i].Logits);
        Assert.Equal(shapes.Sum(s => s.New), batch.Rows);
        batch.Run();

        for (int i = 0; i < shapes.Length; i++)
        {
            Assert.Equal(alone[i].Length, batched[i].Length);
            Assert.Equal(alone[i].LogitRows, batched[i].LogitRows);
            for (int r = 0; r < shapes[i].Logits; r++)
                Assert.True(alone[i].Logits(r).SequenceEqual(batched[i].Logits(r)), $"{family} {type}: sequence {i}, logit row {r} differs");
            for (int r = 0; r < shapes[i].New; r++)
                Assert.True(alone[i].Hidden(r).SequenceEqual(batched[i].Hidden(r)), $"{family} {type}: sequence {i}, hidden row {r} differs");
        }
        // The caches hold the same keys and values: the next step agrees too.
        var next = new TransformerBatch(model);
        for (int i = 0; i < shapes.Length; i++) next.Add(batched[i], [i + 1], 1);
        next.Run();
        for (int i = 0; i < shapes.Length; i++)
        {
            alone[i].Forward([i + 1], 1);
            Assert.True(alone[i].Logits(0).SequenceEqual(batched[i].Logits(0)), $"{family} {type}: sequence {i}, next step differs");
        }
    }

    /// <summary>The model with every matrix (all [out, in] with inputs in multiples of 256) as random Q5_K blocks, the rest as given.</summary>
    static TransformerModel FromQ5KBlocks(ModelConfig c, Dictionary<string, (float[] Data, long[] Shape)> tensors)
    {
        var model = TransformerModel.FromTensors(c, n => tensors.TryGetValue(n, out var v) ? v : null, WeightType.Q8_0, "test", null,
            name => tensors.TryGetValue(name, out var t) && t.Shape is [var output, var input] && input % 256 == 0
                ? (new MatrixPart { Outputs = (int)output, Blocks = Q4FormatTests.RandomQ5K((int)input, (int)output, name.Sum(ch => ch)), Type = WeightType.Q5_K }, t.Shape)
                : null);
        var matrices = model.Layers.SelectMany(l => new[] { l.Qkv, l.AttnProj, l.Fc, l.FcProj }).Append(model.TokenEmbedding).Append(model.OutputProjection);
        Assert.All(matrices.SelectMany(m => m.Types), t => Assert.Equal(WeightType.Q5_K, t));
        return model;
    }

    [Fact]
    public void ABatchRefusesASessionTwiceAndOneOfAnotherModel()
    {
        var c = TestModels.TinyConfig();
        using var model = TestModels.Model(c, TestModels.Tensors(c));
        using var other = TestModels.Model(c, TestModels.Tensors(c, seed: 2));
        var s = model.CreateSession();
        var batch = new TransformerBatch(model);
        batch.Add(s, [1, 2], 1);
        Assert.Throws<ArgumentException>(() => batch.Add(s, [3], 1));
        Assert.Throws<ArgumentException>(() => batch.Add(other.CreateSession(), [3], 1));
        Assert.Throws<InvalidInputException>(() => batch.Add(model.CreateSession(), [c.VocabSize], 1));
    }
}
