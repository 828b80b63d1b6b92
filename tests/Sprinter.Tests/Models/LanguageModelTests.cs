using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Tests.Models;

public class LanguageModelTests
{
    [Fact]
    public void AutoWeightTypeRunsABf16FileAsBf16WithTheSameLogitsAsFp32()
    {
        var c = TestModels.TinyConfig();
        string bf16 = TestModels.Folder(c, seed: 8, dtype: TensorDType.BF16);
        string fp32 = TestModels.Folder(c, seed: 8);
        using var auto = LanguageModel.Load(bf16);
        using var wide = LanguageModel.Load(bf16, WeightType.F32);
        Assert.Equal(WeightType.BF16, auto.Model.WeightType);
        using (var f32File = LanguageModel.Load(fp32)) Assert.Equal(WeightType.F32, f32File.Model.WeightType);

        // bf16 values are exact in either packing and the kernels accumulate alike: identical logits.
        int[] tokens = TestModels.RandomTokens(12, c.VocabSize, seed: 2);
        var a = auto.Model.CreateSession(); a.Forward(tokens, logitRows: tokens.Length);
        var b = wide.Model.CreateSession(); b.Forward(tokens, logitRows: tokens.Length);
        for (int i = 0; i < tokens.Length; i++) Assert.Equal(b.Logits(i).ToArray(), a.Logits(i).ToArray());
    }
}
