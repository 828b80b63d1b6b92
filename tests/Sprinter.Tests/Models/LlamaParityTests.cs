using System.Numerics.Tensors;
using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Tests.Engine;
using Xunit.Abstractions;

namespace Sprinter.Tests.Models;

/// <summary>
/// Cross-checks the engine against llama.cpp (LLamaSharp 0.30.0, CPU backend) on a random GPT-2 with
/// the real 50257-token vocabulary, converted by <see cref="GgufWriter"/>. If the native library
/// cannot load, LLamaWeights.LoadFromFile throws and these tests fail; nothing here skips.
/// </summary>
public class LlamaParityTests(ITestOutputHelper output)
{
    const string PromptText = "Once upon a time, in a land far away, there lived a fox. 日本語 🤖 naïve — the end.\n\tdef f(x): return x";
    const int PromptLength = 32;

    static readonly ModelConfig Config = new()
    {
        EmbeddingSize = 64, LayerCount = 2, HeadCount = 4, MaxPositions = 64, VocabSize = Gpt2Vocabulary.Size, InnerSize = 256,
    };

    // Non-trivial LayerNorm gains/biases and linear biases (lnNoise), so that a misplaced one shows.
    static readonly Lazy<(Dictionary<string, (float[] Data, long[] Shape)> Tensors, string Folder)> RandomGpt2 = new(() =>
    {
        var tensors = RandomModel.CreateTensors(Config, seed: 17, lnNoise: 0.1f);
        string folder = TestModels.TempDir();
        RandomModel.WriteFolder(folder, Config, tensors, Gpt2Vocabulary.VocabJson, Gpt2Vocabulary.MergesTxt);
        return (tensors, folder);
    });

    static readonly StringBuilder NativeLog = new();

    /// <summary>
    /// Loads llama.cpp's library after this class's static constructor has set its log callback
    /// (LLamaSharp refuses configuration once loaded): every test that uses LLamaSharp calls this first.
    /// </summary>
    internal static void LoadNative() => NativeApi.llama_empty_call();

    static LlamaParityTests()
    {
        // llama.cpp's warnings and errors go into failure messages instead of the test console.
        NativeLibraryConfig.All.WithLogCallback((level, message) =>
        {
            if (level is LLamaLogLevel.Warning or LLamaLogLevel.Error)
                lock (NativeLog) NativeLog.Append(message);
        });
    }

    // Tolerances. llama.cpp's CPU backend approximates in fp16 (unit roundoff u = 2^-11 ~ 4.9e-4):
    //  - GELU reads a table indexed by the fp16-rounded input and holding fp16 outputs
    //    (GGML_GELU_FP16): each activation is off by up to ~2u relative;
    //  - flash attention (on by default) casts K and V, and Q for the dot products, to fp16;
    //  - with F16 weights, activations are also rounded to fp16 before every matmul.
    // The errors have random signs, so the O(1) final hidden states drift by under one u:
    // measured 3.2e-4 (F32 file) and 3.7e-4 (F16 file, engine given the same fp16-rounded
    // weights). Logits are the hidden state times wte columns of norm ~0.02*sqrt(64) = 0.16, hence
    // smaller: measured 9.5e-5 (F32) and 2.1e-4 (F16: the output matmul itself rounds the hidden
    // state). The bounds allow ~5x the measured drift; a layout or wiring bug (a transposed matrix,
    // a dropped bias of ~0.1) moves values by 1e-2 or more. The smallest top-2 logit gap of the
    // prompt is 1.8e-3, so argmax agreement is a real check, not luck.
    // LlamaCppDifferenceIsItsFp16Gelu checks that the drift has no other cause.
    [Theory]
    [InlineData(GgufType.F32, 5e-4, 2e-3)]
    [InlineData(GgufType.F16, 1e-3, 2e-3)]
    public void LlamaCppAgreesWithTheEngine(GgufType type, double logitTolerance, double hiddenTolerance)
    {
        var (tensors, folder) = RandomGpt2.Value;
        string gguf = Path.Combine(folder, $"model-{type}.gguf");
        GgufWriter.Convert(folder, gguf, type);

        // The engine runs the weights llama.cpp sees: fp16-rounded for an F16 file (its matrices).
        var engineTensors = type == GgufType.F32 ? tensors : tensors.ToDictionary(kv => kv.Key,
            kv => (kv.Value.Shape.Length == 2 ? kv.Value.Data.Select(x => (float)(Half)x).ToArray() : kv.Value.Data, kv.Value.Shape));
        using var model = TestModels.Model(Config, engineTensors);
        var session = model.CreateSession();
        int[] prompt = Prompt();
        session.Forward(prompt);

        using var llama = new LlamaRun(gguf, exactAttention: false);
        var (llamaLogits, llamaHidden) = llama.Forward(prompt);

        double logitDiff = 0, hiddenDiff = 0, smallestGap = double.MaxValue;
        for (int i = 0; i < prompt.Length; i++)
        {
            logitDiff = Math.Max(logitDiff, MaxAbsDifference(session.Logits(i), llamaLogits[i]));
            hiddenDiff = Math.Max(hiddenDiff, MaxAbsDifference(session.Hidden(i), llamaHidden[i]));
            Assert.True(TensorPrimitives.IndexOfMax(session.Logits(i)) == TensorPrimitives.IndexOfMax(llamaLogits[i]),
                $"position {i}: engine argmax {TensorPrimitives.IndexOfMax(session.Logits(i))}, llama.cpp {TensorPrimitives.IndexOfMax(llamaLogits[i])}");
            var top2 = session.Logits(i).ToArray().OrderDescending().Take(2).ToArray();
            smallestGap = Math.Min(smallestGap, top2[0] - top2[1]);
        }
        output.WriteLine($"{type}: max |logit diff| {logitDiff:E2}, max |hidden diff| {hiddenDiff:E2}, argmax agrees at all {prompt.Length} positions (smallest top-2 gap {smallestGap:E2}); {llama.Library}");
        Assert.True(logitDiff <= logitTolerance, $"max |logit diff| {logitDiff:E3} > {logitTolerance:E1}");
        Assert.True(hiddenDiff <= hiddenTolerance, $"max |hidden diff| {hiddenDiff:E3} > {hiddenTolerance:E1}");
    }

    /// <summary>
    /// With flash attention off and an F32 KV cache, llama.cpp should differ from exact arithmetic
    /// only by its fp16 GELU table: it must then match a double-precision reference that uses the
    /// same table (input and output rounded to fp16, identity/zero beyond +-10) much more closely
    /// than the exact reference. Measured: logits 1.2e-5 and hidden 4.5e-5 against the table,
    /// 5.5e-5 and 1.9e-4 against the exact GELU; what remains is float accumulation order and tanhf.
    /// </summary>
    [Fact]
    public void LlamaCppDifferenceIsItsFp16Gelu()
    {
        var (tensors, folder) = RandomGpt2.Value;
        string gguf = Path.Combine(folder, "model-exact-attention.gguf");
        GgufWriter.Convert(folder, gguf, GgufType.F32);
        int[] prompt = Prompt();
        using var llama = new LlamaRun(gguf, exactAttention: true);
        var (llamaLogits, llamaHidden) = llama.Forward(prompt);

        static double GgmlGelu(double x) => x <= -10 ? 0 : x >= 10 ? x : (double)(Half)ReferenceGpt2.GeluTanh((double)(Half)x);
        var (tabledLogits, tabledHidden) = Differences(ReferenceGpt2.Run(Config, tensors, prompt, GgmlGelu));
        var (exactLogits, exactHidden) = Differences(ReferenceGpt2.Run(Config, tensors, prompt));
        output.WriteLine($"llama.cpp (no flash attention, F32 KV) vs double-precision reference: with ggml's fp16 GELU logits {tabledLogits:E2}, hidden {tabledHidden:E2}; with the exact GELU logits {exactLogits:E2}, hidden {exactHidden:E2}");
        Assert.True(tabledLogits <= 3e-5 && tabledHidden <= 1e-4, $"llama.cpp differs from the fp16-GELU reference by {tabledLogits:E3} (logits), {tabledHidden:E3} (hidden)");
        Assert.True(2 * tabledHidden <= exactHidden, "the fp16 GELU table does not explain llama.cpp's difference");

        (double Logits, double Hidden) Differences((double[][] Logits, double[][] Hidden) reference)
        {
            double logits = 0, hidden = 0;
            for (int i = 0; i < prompt.Length; i++)
            {
                logits = Math.Max(logits, MaxAbsDifference(llamaLogits[i], reference.Logits[i]));
                hidden = Math.Max(hidden, MaxAbsDifference(llamaHidden[i], reference.Hidden[i]));
            }
            return (logits, hidden);
        }
    }

    // The Llama layout on llama.cpp's own architectures: arch llama (whose q/k rows GgufWriter reorders
    // for its adjacent-pair rotation), qwen2 (q/k/v biases) and qwen3 (head_dim 32 > d / heads, q/k
    // norms), each with grouped-query attention (4 heads, 2 key/value heads). Attention runs in fp32
    // on llama.cpp's side (no flash attention, F32 KV cache) and SwiGLU has no fp16 table, so the
    // remaining difference is float32 summation order: measured 3.0e-7 to 3.6e-7 on logits of
    // magnitude ~0.1 (a few fp32 ulps after two layers). The bound allows ~30x that; a wrong row
    // order, a missing bias or norm moves logits by 1e-3 or more.
    [Theory]
    [InlineData("llama")]
    [InlineData("mistral")]   // written as arch llama
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    [InlineData("llama3-scaled")]   // Llama 3.1's rope_scaling, written as rope_freqs.weight
    public void LlamaCppAgreesWithTheEngineOnEachFamily(string family)
    {
        bool scaled = family == "llama3-scaled";
        if (scaled) family = "llama";
        var c = new ModelConfig
        {
            ModelType = family, EmbeddingSize = 64, LayerCount = 2, HeadCount = 4, KeyValueHeadCount = 2, MaxPositions = 64,
            VocabSize = Gpt2Vocabulary.Size, InnerSize = 128, LayerNormEpsilon = 1e-6f, TieWordEmbeddings = family != "llama",
            Norm = NormKind.RmsNorm, Positions = PositionKind.Rope, RopeTheta = 10000f, Mlp = MlpKind.SwiGlu,
            QkvBias = family == "qwen2", LinearBias = false, HeadDimension = family == "qwen3" ? 32 : 0, QueryKeyNorm = family == "qwen3",
            RopeScaling = scaled ? new RopeScaling("llama3", 8, 1, 4, 16) : null,
        };
        var tensors = RandomModel.CreateTensors(c, seed: 23, lnNoise: 0.1f);
        string folder = TestModels.TempDir();
        RandomModel.WriteFolder(folder, c, tensors, Gpt2Vocabulary.VocabJson, Gpt2Vocabulary.MergesTxt);
        string gguf = Path.Combine(folder, "model.gguf");
        GgufWriter.Convert(folder, gguf, GgufType.F32);

        using var model = TestModels.Model(c, tensors);
        var session = model.CreateSession();
        int[] prompt = Prompt();
        session.Forward(prompt);
        using var llama = new LlamaRun(gguf, exactAttention: true);
        var (llamaLogits, _) = llama.Forward(prompt);
        double worst = 0;
        for (int i = 0; i < prompt.Length; i++)
        {
            worst = Math.Max(worst, MaxAbsDifference(session.Logits(i), llamaLogits[i]));
            Assert.Equal(TensorPrimitives.IndexOfMax(llamaLogits[i]), TensorPrimitives.IndexOfMax(session.Logits(i)));
        }
        output.WriteLine($"{family}{(scaled ? " with llama3 rope_scaling" : "")}: max logit difference {worst:E3} over {prompt.Length} positions ({llama.Library})");
        Assert.True(worst <= 1e-5, $"{family}: llama.cpp's logits differ by up to {worst:E3}");
        if (scaled)
        {
            // The scaling must matter here, or agreement would not show that llama.cpp applied it.
            using var unscaled = TestModels.Model(c with { RopeScaling = null }, tensors);
            var plain = unscaled.CreateSession();
            plain.Forward(prompt);
            double effect = Enumerable.Range(0, prompt.Length).Max(i => MaxAbsDifference(session.Logits(i), plain.Logits(i)));
            output.WriteLine($"  the scaling itself moves logits by up to {effect:E3}");
            Assert.True(effect > 100 * worst, $"the scaling moves logits by only {effect:E3}");
        }
    }

    /// <summary>The first 32 ids of the prompt text, after checking that llama.cpp tokenizes it as we do.</summary>
    int[] Prompt()
    {
        var tokenizer = Tokenizer.Load(Gpt2Vocabulary.VocabPath, Gpt2Vocabulary.MergesPath);
        int[] ids = tokenizer.Encode(PromptText);
        Assert.True(ids.Length >= PromptLength, $"the prompt text has only {ids.Length} tokens");
        return ids[..PromptLength];
    }

    static double MaxAbsDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    static double MaxAbsDifference(ReadOnlySpan<float> a, double[] b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    /// <summary>One llama.cpp model + context on the CPU: 2 threads, logits and final hidden states for every position.</summary>
    internal sealed class LlamaRun : IDisposable
    {
        readonly LLamaWeights _weights;
        readonly LLamaContext _context;

        public string Library { get; }

        /// <param name="exactAttention">Flash attention off and an F32 KV cache: attention in fp32 throughout.</param>
        public LlamaRun(string gguf, bool exactAttention)
        {
            var parameters = new ModelParams(gguf)
            {
                ContextSize = 64, BatchSize = 64, UBatchSize = 64, GpuLayerCount = 0, Threads = 2, BatchThreads = 2,
                // Embeddings with no pooling expose each position's hidden state after output_norm.
                Embeddings = true, PoolingType = LLamaPoolingType.None,
            };
            if (exactAttention)
            {
                parameters.FlashAttention = false;
                parameters.TypeK = GGMLType.GGML_TYPE_F32;
                parameters.TypeV = GGMLType.GGML_TYPE_F32;
            }
            _weights = LLamaWeights.LoadFromFile(parameters);
            _context = _weights.CreateContext(parameters);
            Library = NativeApi.GetLoadedNativeLibrary(NativeLibraryName.LLama)?.Metadata?.ToString()
                      ?? throw new InvalidOperationException("LLamaSharp reports no loaded llama native library");
        }

        public (float[][] Logits, float[][] Hidden) Forward(int[] tokens)
        {
            var tokenizerIds = _weights.Tokenize(PromptText, false, false, Encoding.UTF8).Select(t => (int)t).Take(tokens.Length);
            Assert.Equal(tokens, tokenizerIds);   // llama.cpp reads the GGUF's tokenizer as GPT-2's

            var batch = new LLamaBatch();
            for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, true);
            var result = _context.Decode(batch);
            if (result != DecodeResult.Ok)
                lock (NativeLog) throw new InvalidOperationException($"llama_decode returned {result}: {NativeLog}");
            var logits = new float[tokens.Length][];
            var hidden = new float[tokens.Length][];
            for (int i = 0; i < tokens.Length; i++)
            {
                logits[i] = _context.NativeHandle.GetLogitsIth(i).ToArray();
                hidden[i] = _context.NativeHandle.GetEmbeddingsIth(i).ToArray();
            }
            return (logits, hidden);
        }

        public void Dispose()
        {
            _context.Dispose();
            _weights.Dispose();
        }
    }
}
