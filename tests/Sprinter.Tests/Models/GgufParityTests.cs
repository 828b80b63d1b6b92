using System.Numerics.Tensors;
using LLama;
using LLama.Common;
using LLama.Native;
using Sprinter.Engine;
using Sprinter.Models;
using Xunit.Abstractions;

namespace Sprinter.Tests.Models;

/// <summary>
/// Quantized GGUF files made by llama.cpp's own quantizer (LLamaQuantizer, LLamaSharp 0.30.0) from a
/// random model of each family: our engine and llama.cpp, reading the same file, give the same
/// greedy continuation, and logits that differ only by what llama.cpp's quantized matmuls add.
/// </summary>
public class GgufParityTests(ITestOutputHelper output)
{
    const int PromptLength = 24, NewTokens = 16;

    // Tolerance, derived. We multiply by the file's weights dequantized bit-exactly (GgufDequantTests);
    // llama.cpp multiplies them by activations it first rounds to 8 bits per block (Q8_0 blocks of 32
    // for Q8_0/Q4_0 weights, Q8_K blocks of 256 for K-quants): each activation moves by up to half a
    // step, max|x_block| / 254, i.e. <= 0.4% of its block's largest value. Over the 7 quantized
    // matmuls a position passes through (q, k, v, o, gate/up, down, output) such errors add with
    // random signs, so logits should move by about 0.4% x sqrt(7) ~ 1% of their typical size, with
    // the largest of ~6,000 values a few times that. Bound: 5% of the logits' largest magnitude.
    // A wrong block layout, scale or row order moves logits by tens of percent (measured on a
    // deliberately wrong Q/K order: > 50%).
    const double RelativeTolerance = 0.05;

    [Theory]
    [InlineData("llama", LLamaFtype.MOSTLY_Q8_0)]
    [InlineData("llama", LLamaFtype.MOSTLY_Q4_K_M)]   // Q4_K with Q6_K for some tensors
    [InlineData("llama", LLamaFtype.MOSTLY_Q6_K)]
    [InlineData("llama", LLamaFtype.MOSTLY_Q5_K_M)]   // Q5_K with Q6_K for some tensors
    [InlineData("qwen2", LLamaFtype.MOSTLY_Q4_K_M)]
    [InlineData("qwen3", LLamaFtype.MOSTLY_Q6_K)]
    [InlineData("qwen2", LLamaFtype.MOSTLY_Q8_0)]
    public void OurEngineAndLlamaCppAgreeOnAQuantizedFile(string family, LLamaFtype quantization)
    {
        var c = GgufTests.Family(family, d: 256, inner: 512) with { HeadCount = 4, KeyValueHeadCount = 2, HeadDimension = 0, MaxPositions = 64 };
        string folder = GgufTests.Folder(c, 81);
        string f32 = Path.Combine(folder, "model-f32.gguf"), quantized = Path.Combine(folder, $"model-{quantization}.gguf");
        GgufWriter.Convert(folder, f32, GgufType.F32);
        LlamaParityTests.LoadNative();   // before the quantizer's first call
        Assert.True(LLamaQuantizer.Quantize(f32, quantized, quantization, 2), $"llama.cpp could not quantize to {quantization}");

        int[] prompt = TestModels.RandomTokens(PromptLength, c.VocabSize, seed: 82);
        var (llamaLogits, llamaContinuation) = LlamaCpp(quantized, prompt);
        using var exact = LanguageModel.Load(quantized, WeightType.F32);       // the file's weights, dequantized
        using var auto = LanguageModel.Load(quantized);                         // --dtype auto: Q4_K / Q5_K / Q6_K native, other types q8_0
        Assert.Equal(quantization switch
        {
            LLamaFtype.MOSTLY_Q4_K_M => WeightType.Q4_K, LLamaFtype.MOSTLY_Q5_K_M => WeightType.Q5_K, LLamaFtype.MOSTLY_Q6_K => WeightType.Q6_K, _ => WeightType.Q8_0,
        }, auto.Model.WeightType);
        if (quantization == LLamaFtype.MOSTLY_Q8_0)
        {
            // Q8_0 stays Q8_0 block for block: the file llama.cpp quantized runs exactly as our own
            // q8_0 packing of the original weights (the same reference rounding).
            using var ownQ8 = LanguageModel.Load(folder, WeightType.Q8_0);
            var fromFile = auto.Model.CreateSession();
            var fromFolder = ownQ8.Model.CreateSession();
            fromFile.Forward(prompt);
            fromFolder.Forward(prompt);
            for (int i = 0; i < prompt.Length; i++) Assert.Equal(fromFolder.Logits(i).ToArray(), fromFile.Logits(i).ToArray());
        }
        foreach (var (lm, name) in new[] { (exact, "fp32"), (auto, $"auto ({auto.Model.WeightType.Name()})") })
        {
            var session = lm.Model.CreateSession();
            session.Forward(prompt);
            double worst = 0, scale = 0;
            for (int i = 0; i < prompt.Length; i++)
            {
                var ours = session.Logits(i);
                scale = Math.Max(scale, TensorPrimitives.MaxMagnitude(llamaLogits[i]));
                for (int v = 0; v < ours.Length; v++) worst = Math.Max(worst, Math.Abs(ours[v] - llamaLogits[i][v]));
            }
            var (continuation, gaps) = Greedy(lm, prompt);
            int same = 0;
            while (same < NewTokens && continuation[same] == llamaContinuation[same]) same++;
            output.WriteLine($"{family} {quantization}, ours at {name}: max |logit diff| {worst:E2} = {worst / scale:P2} of max |logit| {scale:F2}; " +
                $"greedy equal for {same} of {NewTokens} tokens" + (same < NewTokens ? $", then a top-2 gap of {gaps[same]:E2}" : ""));
            Assert.True(worst <= RelativeTolerance * scale, $"{name}: max |logit diff| {worst:E3} > {RelativeTolerance:P0} of {scale:F3}");
            // The continuations may part only at a step where our two best tokens are closer than the
            // largest logit difference measured between the two implementations: a tie within the
            // quantization noise, after which the sequences are no longer comparable.
            if (same < NewTokens)
                Assert.True(gaps[same] <= 2 * worst, $"{name}: greedy parts at token {same} ({continuation[same]} vs llama.cpp's {llamaContinuation[same]}) with a top-2 gap of {gaps[same]:E3}, above twice the logit noise {worst:E3}");
        }
    }

    /// <summary>Our greedy continuation, with the gap between the best two logits at each step.</summary>
    /// <summary>
    /// Every tensor of files llama.cpp's quantizer wrote (Q4_K_M mixes Q4_K and Q6_K; Q5_1, Q4_0, Q2_K
    /// and Q3_K_M cover the rest) decodes through our reader to exactly what libggml's
    /// dequantize_row_* gives for the same bytes.
    /// </summary>
    [LibggmlTheory]
    [InlineData(LLamaFtype.MOSTLY_Q4_K_M)]
    [InlineData(LLamaFtype.MOSTLY_Q5_1)]
    [InlineData(LLamaFtype.MOSTLY_Q4_0)]
    [InlineData(LLamaFtype.MOSTLY_Q5_K_M)]
    [InlineData(LLamaFtype.MOSTLY_Q3_K_M)]
    [InlineData(LLamaFtype.MOSTLY_Q2_K)]
    public void EveryTensorOfAQuantizedFileDecodesAsLibggmlDecodesIt(LLamaFtype quantization)
    {
        var c = GgufTests.Family("llama", d: 256, inner: 512) with { HeadCount = 4, KeyValueHeadCount = 2, HeadDimension = 0 };
        string folder = GgufTests.Folder(c, 85);
        string f32 = Path.Combine(folder, "model-f32.gguf"), quantized = Path.Combine(folder, $"model-{quantization}.gguf");
        GgufWriter.Convert(folder, f32, GgufType.F32);
        LlamaParityTests.LoadNative();
        Assert.True(LLamaQuantizer.Quantize(f32, quantized, quantization, 2), $"llama.cpp could not quantize to {quantization}");
        var libggml = Libggml.Load(output);
        using var file = Sprinter.Models.Gguf.GgufFile.Open(quantized);
        var types = new SortedSet<string>();
        foreach (var t in file.TensorList)
        {
            float[] ours = file.ReadFloats(t);
            float[] theirs = t.Type == Sprinter.Models.Gguf.GgmlType.F32   // libggml has no f32 "dequantize"
                ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(file.Bytes(t)).ToArray()
                : libggml.ToFloat(t.Type, file.Bytes(t).ToArray());
            Assert.Equal(theirs.Length, ours.Length);
            for (int i = 0; i < ours.Length; i++)
                if (BitConverter.SingleToInt32Bits(ours[i]) != BitConverter.SingleToInt32Bits(theirs[i]))
                    Assert.Fail($"{t.Name} ({t.Type}) value {i}: ours {ours[i]:R}, libggml {theirs[i]:R}");
            types.Add(t.Type.ToString());
        }
        output.WriteLine($"{quantization}: {file.TensorList.Count} tensors ({string.Join(", ", types)}) bit-identical to libggml");
        Assert.True(types.Count >= 2, "the file holds one type only: nothing quantized was compared");
    }

    internal static (int[] Tokens, float[] Gaps) Greedy(LanguageModel lm, int[] prompt)
    {
        var session = lm.Model.CreateSession();
        session.Forward(prompt);
        var tokens = new int[NewTokens];
        var gaps = new float[NewTokens];
        for (int i = 0; i < NewTokens; i++)
        {
            var logits = session.Logits(session.LogitRows - 1).ToArray();
            tokens[i] = TensorPrimitives.IndexOfMax(logits);
            float best = logits[tokens[i]];
            logits[tokens[i]] = float.NegativeInfinity;
            gaps[i] = best - TensorPrimitives.Max(logits);
            session.Forward([tokens[i]]);
        }
        return (tokens, gaps);
    }

    /// <summary>
    /// The shipped target (a trained GPT-2-layout model, d = 512) quantized by llama.cpp: on real text
    /// its greedy decisions are far apart, so both implementations must give the same continuation.
    /// </summary>
    [Theory]
    [InlineData(LLamaFtype.MOSTLY_Q8_0)]
    [InlineData(LLamaFtype.MOSTLY_Q4_K_M)]
    [InlineData(LLamaFtype.MOSTLY_Q5_K_M)]
    [InlineData(LLamaFtype.MOSTLY_Q6_K)]
    public void TheShippedTargetQuantizedByLlamaCppContinuesAsInLlamaCpp(LLamaFtype quantization)
    {
        string target = Path.Combine(TestModels.RepositoryRoot(), "models", "target");
        string dir = TestModels.TempDir();
        Directory.CreateDirectory(dir);
        string f32 = Path.Combine(dir, "target-f32.gguf"), quantized = Path.Combine(dir, $"target-{quantization}.gguf");
        GgufWriter.Convert(target, f32, GgufType.F32);
        LlamaParityTests.LoadNative();
        Assert.True(LLamaQuantizer.Quantize(f32, quantized, quantization, 2), $"llama.cpp could not quantize to {quantization}");
        File.Delete(f32);
        using var lm = LanguageModel.Load(quantized);
        int[] prompt = lm.Tokenizer.EncodePrompt("The President said on Tuesday that the government would");
        var (_, llamaContinuation) = LlamaCpp(quantized, prompt);
        var (continuation, gaps) = Greedy(lm, prompt);
        output.WriteLine($"shipped target {quantization} ({new FileInfo(quantized).Length / 1e6:F1} MB), ours at {lm.Model.WeightType.Name()}: " +
            $"'{lm.Tokenizer.Decode(continuation)}' vs llama.cpp '{lm.Tokenizer.Decode(llamaContinuation)}'; smallest top-2 gap {gaps.Min():F3}");
        Assert.Equal(llamaContinuation, continuation);
    }

    /// <summary>llama.cpp on the file: logits at every prompt position, then its greedy continuation.</summary>
    static (float[][] Logits, int[] Continuation) LlamaCpp(string gguf, int[] prompt)
    {
        var parameters = new ModelParams(gguf) { ContextSize = 64, BatchSize = 64, UBatchSize = 64, GpuLayerCount = 0, Threads = 2, BatchThreads = 2 };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Length; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, true);
        Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        var logits = new float[prompt.Length][];
        for (int i = 0; i < prompt.Length; i++) logits[i] = context.NativeHandle.GetLogitsIth(i).ToArray();
        var continuation = new int[NewTokens];
        int next = TensorPrimitives.IndexOfMax(logits[^1]);
        for (int i = 0; i < NewTokens; i++)
        {
            continuation[i] = next;
            batch.Clear();
            batch.Add(next, prompt.Length + i, LLamaSeqId.Zero, true);
            Assert.Equal(DecodeResult.Ok, context.Decode(batch));
            next = TensorPrimitives.IndexOfMax(context.NativeHandle.GetLogitsIth(0).ToArray());
        }
        return (logits, continuation);
    }
}
