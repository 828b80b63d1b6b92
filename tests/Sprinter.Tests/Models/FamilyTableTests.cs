using Sprinter.Models;

namespace Sprinter.Tests.Models;

/// <summary>
/// The family table (Architectures.All, TensorLayout) is the one place a family is described: these
/// checks fail when an entry is added without everything the parser, builder, engine and GGUF need.
/// </summary>
public class FamilyTableTests
{
    public static TheoryData<string> Families => new(Architectures.All.Select(f => f.ModelType));

    /// <summary>A tiny model of the family, as its config.json would describe it.</summary>
    static ModelConfig Tiny(ModelFamily family)
    {
        var c = new ModelConfig
        {
            ModelType = family.ModelType, EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, MaxPositions = 16, VocabSize = 64, InnerSize = 48,
        };
        c = family.Layout switch
        {
            FamilyLayout.Llama => c with
            {
                KeyValueHeadCount = 2, Norm = NormKind.RmsNorm, Positions = PositionKind.Rope, Mlp = MlpKind.SwiGlu, LinearBias = false,
                QkvBias = family.QkvBias, QueryKeyNorm = family.QueryKeyNorm, LayerNormEpsilon = 1e-6f,
            },
            FamilyLayout.GptNeo => c with { QkvBias = false, ScaledAttention = false, LocalLayers = [1], LocalWindow = 4 },
            _ => c,
        };
        return ModelConfig.Parse(c.ToJson().ToJsonString(), "tiny config.json");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void EveryFamilyIsReadByTheParserTheBuilderTheEngineAndGguf(string modelType)
    {
        var family = Architectures.Find(modelType, "test");
        var config = Tiny(family);
        Assert.Same(family, Architectures.Of(config));
        Assert.Equal(config.ToJson().ToJsonString(), ModelConfig.Parse(config.ToJson().ToJsonString(), "again").ToJson().ToJsonString());

        var specs = family.Tensors(config);
        Assert.Equal(specs.Count, specs.Select(s => s.Hf).Distinct().Count());
        if (family.GgufArchitecture is null) Assert.All(specs, s => Assert.Null(s.Gguf));
        else
        {
            Assert.All(specs, s => Assert.NotNull(s.Gguf));
            Assert.Equal(specs.Count, specs.Select(s => s.Gguf).Distinct().Count());
            Assert.Equal(family.Layout, Architectures.FromGguf(family.GgufArchitecture)!.Layout);   // read back as the arch's first family
        }

        // The builder makes exactly the table's tensors, and the engine finds every one it needs.
        var tensors = RandomModel.CreateTensors(config, seed: 1);
        Assert.Equal(specs.Where(s => !s.Optional).Select(s => s.Hf), tensors.Keys);
        using var model = RandomModel.Create(config, seed: 1);
        var session = model.CreateSession();
        session.Forward([1, 2, 3]);
        Assert.All(session.Logits(2).ToArray(), x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void AnUnknownModelTypeNamesEverySupportedFamily()
    {
        var e = Assert.Throws<InvalidInputException>(() => ModelConfig.Parse("""{"model_type": "phi3"}""", "config.json"));
        Assert.Equal($"config.json: field 'model_type' is 'phi3'; supported: {string.Join(", ", Architectures.All.Select(f => f.ModelType))}.", e.Message);
    }

    [Fact]
    public void ThePairOrderAndItsInverseMoveTheRightRows()
    {
        const int headSize = 4, rows = 8, cols = 3;   // two heads
        float[] halves = Enumerable.Range(0, rows * cols).Select(i => (float)i).ToArray(), pairs = new float[halves.Length], back = new float[halves.Length];
        TensorLayout.HalvesToPairs(halves, pairs, rows, cols, headSize);
        // Within a head, rows (0, 1, 2, 3) in halves order sit at (0, 2, 1, 3) in pair order.
        int[] expectedRow = [0, 2, 1, 3, 4, 6, 5, 7];
        for (int r = 0; r < rows; r++)
            Assert.Equal(halves.AsSpan(r * cols, cols).ToArray(), pairs.AsSpan(expectedRow[r] * cols, cols).ToArray());
        TensorLayout.PairsToHalves(pairs, back, rows, cols, headSize);
        Assert.Equal(halves, back);
    }
}
