using LLama.Native;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Models.Gguf;
using Sprinter.Tests.Models;
using Xunit.Abstractions;

namespace Sprinter.Tests.Engine;

/// <summary>
/// Files llama.cpp quantized, run at <c>--dtype auto</c> (Q4_0, Q4_K, Q5_K and Q6_K tensors kept as their
/// blocks) against the same file dequantized to fp32: the weights are the same numbers, so the
/// logits may differ only by the 8-bit rounding of the activations and fp32 summation order.
/// </summary>
public class NativeGgufTests(ITestOutputHelper output)
{
    // Bound, measured: both runs multiply the same weights, but the native kernels round each
    // matmul's activations to 8-bit blocks of 32 (ActivationBlocks, as llama.cpp's Q8_0), which
    // moves logits by ~5e-3 of their scale after 2 layers (4.8e-3 to 5.6e-3, AVX-512; the kernels
    // against the rounded activations exactly are checked in Q4FormatTests and MatMulKernelTests).
    // A wrong nibble order or scale moves them by > 10%.
    const double RelativeTolerance = 2e-2;

    [Theory]
    [InlineData(LLamaFtype.MOSTLY_Q4_0, WeightType.Q4_0)]
    [InlineData(LLamaFtype.MOSTLY_Q4_K_M, WeightType.Q4_K)]
    [InlineData(LLamaFtype.MOSTLY_Q6_K, WeightType.Q6_K)]
    [InlineData(LLamaFtype.MOSTLY_Q5_K_M, WeightType.Q5_K)]   // Q5_K with Q6_K for some tensors
    public void NativeBlocksGiveTheLogitsOfTheDequantizedFile(LLamaFtype quantization, WeightType expected)
    {
        // Tied embeddings: llama.cpp leaves a separate output matrix of this tiny vocabulary (260) in F32,
        // which would run as q8_0; the tied token_embd is quantized.
        var c = GgufTests.Family("llama", d: 256, inner: 512) with { HeadCount = 4, KeyValueHeadCount = 2, HeadDimension = 0, MaxPositions = 64, TieWordEmbeddings = true };
        string folder = GgufTests.Folder(c, 91);
        string f32 = Path.Combine(folder, "model-f32.gguf"), quantized = Path.Combine(folder, $"model-{quantization}.gguf");
        GgufWriter.Convert(folder, f32, GgufType.F32);
        LlamaParityTests.LoadNative();
        Assert.True(LLama.LLamaQuantizer.Quantize(f32, quantized, quantization, 2), $"llama.cpp could not quantize to {quantization}");
        using (var file = GgufFile.Open(quantized))
            output.WriteLine($"{quantization}: {string.Join(", ", GgufModel.TypeCounts(file).Select(kv => $"{kv.Value} {kv.Key}"))}; float matrices: " +
                string.Join(", ", file.TensorList.Where(t => t.Dimensions.Length == 2 && t.Type == GgmlType.F32).Select(t => t.Name + t.ShapeText)));

        using var exact = LanguageModel.Load(quantized, WeightType.F32);
        using var native = LanguageModel.Load(quantized);
        Assert.Equal(expected, native.Model.WeightType);
        var types = native.Model.Layers.SelectMany(l => new[] { l.Qkv, l.AttnProj, l.Fc, l.FcProj }).Append(native.Model.OutputProjection)
            .SelectMany(m => m.Types).Distinct().ToList();
        output.WriteLine($"run-time types: {string.Join(", ", types.Select(t => t.Name()))}");
        Assert.DoesNotContain(WeightType.Q8_0, types);   // every quantized tensor ran in its own type

        int[] prompt = TestModels.RandomTokens(12, c.VocabSize, seed: 92);
        var a = exact.Model.CreateSession();
        var b = native.Model.CreateSession();
        a.Forward(prompt);
        b.Forward(prompt);
        double worst = 0, scale = 0;
        for (int i = 0; i < prompt.Length; i++)
        {
            var x = a.Logits(i);
            var y = b.Logits(i);
            for (int v = 0; v < x.Length; v++)
            {
                scale = Math.Max(scale, Math.Abs(x[v]));
                worst = Math.Max(worst, Math.Abs(x[v] - y[v]));
            }
        }
        output.WriteLine($"max |logit diff| {worst:E2} = {worst / scale:E2} of max |logit| {scale:F3} ({MatMulKernels.InstructionSet})");
        Assert.True(worst <= RelativeTolerance * scale, $"max |logit diff| {worst:E3} > {RelativeTolerance:E0} of {scale:F3}");
        if (expected == WeightType.Q5_K)
        {
            // An explicit q5_k keeps the Q5_K tensors and runs the others (here the Q6_K ones) as q8_0.
            using var explicitQ5K = LanguageModel.Load(quantized, WeightType.Q5_K);
            var kept = explicitQ5K.Model.Layers.SelectMany(l => new[] { l.Qkv, l.AttnProj, l.Fc, l.FcProj }).SelectMany(m => m.Types).Distinct().ToList();
            Assert.Contains(WeightType.Q5_K, kept);
            Assert.DoesNotContain(WeightType.Q6_K, kept);
            Assert.Equal(WeightType.Q5_K, explicitQ5K.Model.WeightType);
        }
    }

    [Fact]
    public void Q5KIsRefusedWithOneLineWhereNoFileBlocksAreQ5K()
    {
        // There is no Q5_K quantizer at load: a folder, or a GGUF file without Q5_K tensors, cannot run as q5_k.
        var c = GgufTests.Family("llama", d: 256, inner: 512) with { HeadCount = 4, KeyValueHeadCount = 2, HeadDimension = 0, MaxPositions = 64 };
        string folder = GgufTests.Folder(c, 93);
        var e = Assert.Throws<InvalidInputException>(() => LanguageModel.Load(folder, WeightType.Q5_K));
        Assert.Contains("--dtype q5_k", e.Message);
        Assert.DoesNotContain("\n", e.Message);
        string f32 = Path.Combine(folder, "model-f32.gguf");
        GgufWriter.Convert(folder, f32, GgufType.F32);
        e = Assert.Throws<InvalidInputException>(() => LanguageModel.Load(f32, WeightType.Q5_K));
        Assert.Contains("--dtype q5_k", e.Message);
        Assert.Equal(WeightType.Q5_K, WeightTypes.Parse("q5_k"));
        Assert.Equal("q5_k", WeightType.Q5_K.Name());
    }
}
