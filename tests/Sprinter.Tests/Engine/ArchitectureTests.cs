using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Tests.Engine;

/// <summary>
/// The Llama family (Llama, Mistral, Qwen2) as configurations of the one engine: logits against an
/// independent double-precision reference, grouped-query attention, the KV cache and rollback,
/// folder loading through config.json, and speculative decoding on a random pair.
/// </summary>
public class ArchitectureTests
{
    public static ModelConfig TinyLlama(string type = "llama", int kvHeads = 2, bool tied = false, int vocab = 257, int seedPositions = 64) => new()
    {
        ModelType = type, EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, KeyValueHeadCount = kvHeads, MaxPositions = seedPositions,
        VocabSize = vocab, InnerSize = 48, LayerNormEpsilon = 1e-6f, TieWordEmbeddings = tied, Norm = NormKind.RmsNorm,
        Positions = PositionKind.Rope, RopeTheta = 500000f, Mlp = MlpKind.SwiGlu, QkvBias = type == "qwen2", LinearBias = false,
    };

    /// <summary>A model folder with the 257-token byte vocabulary and random weights of <paramref name="c"/>.</summary>
    static string Folder(ModelConfig c, int seed)
    {
        var (vocab, merges) = RandomModel.ByteVocabulary();
        string dir = TestModels.TempDir();
        RandomModel.WriteFolder(dir, c, RandomModel.CreateTensors(c, seed, lnNoise: 0.1f), vocab, merges);
        return dir;
    }

    internal static void AssertClose(ReadOnlySpan<float> actual, double[] expected, double tolerance, string what)
    {
        double scale = Math.Max(1, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * scale, $"{what}[{i}]: {actual[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData("llama", 2, false)]   // grouped-query: two query heads per key/value head
    [InlineData("llama", 4, true)]    // multi-head, tied embeddings
    [InlineData("qwen2", 1, false)]   // q/k/v biases, one key/value head
    [InlineData("mistral", 2, false)]
    [InlineData("qwen3", 2, true)]    // its own head size (12 x 4 heads = 48 > d = 32) and q/k norms
    public void LogitsMatchTheIndependentReference(string type, int kvHeads, bool tied)
    {
        var c = TinyLlama(type, kvHeads, tied);
        if (type == "qwen3") c = c with { HeadDimension = 12, QueryKeyNorm = true };
        var tensors = RandomModel.CreateTensors(c, seed: 7, lnNoise: 0.1f);
        using var model = TestModels.Model(c, tensors);
        var tokens = TestModels.RandomTokens(14, c.VocabSize, seed: 8);
        var (logits, hidden) = ReferenceLlama.Run(c, tensors, tokens);
        var s = model.CreateSession();
        s.Forward(tokens);
        for (int p = 0; p < tokens.Length; p++)
        {
            AssertClose(s.Logits(p), logits[p], 1e-4, $"{type} logits[{p}]");
            AssertClose(s.Hidden(p), hidden[p], 1e-4, $"{type} hidden[{p}]");
        }
        Assert.Equal(tensors.Values.Sum(t => (long)t.Data.Length), c.ParameterCount(separateLmHead: !tied));
    }

    [Theory]
    [InlineData("llama3")]   // Llama 3.1 / 3.2: the head's 4 frequencies fall in all three regimes
    [InlineData("linear")]
    public void ScaledRotaryPositionsMatchTheReference(string type)
    {
        var scaling = type == "linear" ? new RopeScaling("linear", 4) : new RopeScaling("llama3", 8, 1, 4, 512);
        var c = TinyLlama() with { RopeScaling = scaling };
        var tensors = RandomModel.CreateTensors(c, seed: 17, lnNoise: 0.1f);
        using var model = TestModels.Model(c, tensors);
        var tokens = TestModels.RandomTokens(30, c.VocabSize, seed: 18);
        var (logits, _) = ReferenceLlama.Run(c, tensors, tokens);
        var unscaled = ReferenceLlama.Run(c with { RopeScaling = null }, tensors, tokens).Logits;
        var s = model.CreateSession();
        s.Forward(tokens);
        for (int p = 0; p < tokens.Length; p++) AssertClose(s.Logits(p), logits[p], 1e-4, $"{type} logits[{p}]");
        Assert.True(Math.Abs(logits[^1][0] - unscaled[^1][0]) > 1e-6, "the scaling changed nothing: the test would not see a missing scaling");
        // config.json round trip
        string path = Path.Combine(TestModels.TempDir(), "config.json");
        c.Save(path);
        Assert.Equal(c, ModelConfig.Load(path));
    }

    /// <summary>
    /// Dynamic NTK scaling raises the rotary base only past max_position_embeddings, which the
    /// engine's context never passes: a dynamic model gives the unscaled logits, and its config
    /// round-trips.
    /// </summary>
    [Fact]
    public void DynamicRotaryScalingChangesNothingWithinTheContext()
    {
        var c = TinyLlama() with { RopeScaling = new RopeScaling("dynamic", 4) };
        var tensors = RandomModel.CreateTensors(c, seed: 17, lnNoise: 0.1f);
        using var model = TestModels.Model(c, tensors);
        var tokens = TestModels.RandomTokens(c.MaxPositions, c.VocabSize, seed: 18);
        var unscaled = ReferenceLlama.Run(c with { RopeScaling = null }, tensors, tokens).Logits;
        var s = model.CreateSession();
        s.Forward(tokens);
        for (int p = 0; p < tokens.Length; p += 7) AssertClose(s.Logits(p), unscaled[p], 1e-4, $"dynamic logits[{p}]");
        Assert.Throws<InvalidInputException>(() => s.Forward([1]));   // the context ends at max_position_embeddings
        string path = Path.Combine(TestModels.TempDir(), "config.json");
        c.Save(path);
        Assert.Equal(c, ModelConfig.Load(path));
    }

    [Fact]
    public void GptNeoMatchesItsReferenceWithLocalLayersAndUnscaledScores()
    {
        // attention_types [[["global", "local"], 1]] and a window of 5 over 16 tokens: the local
        // layer's mask matters; the config round-trips through config.json.
        string path = Path.Combine(TestModels.TempDir(), "config.json");
        File.WriteAllText(path, """
            {"model_type": "gpt_neo", "hidden_size": 32, "num_layers": 2, "num_heads": 4, "max_position_embeddings": 64,
             "vocab_size": 257, "window_size": 5, "attention_types": [[["global", "local"], 1]], "activation_function": "gelu_new"}
            """);
        var c = ModelConfig.Load(path);
        Assert.Equal([1], c.LocalLayers);
        var tensors = RandomModel.CreateTensors(c, seed: 19, lnNoise: 0.1f);
        Assert.Equal(tensors.Values.Sum(t => (long)t.Data.Length), c.ParameterCount());
        using var model = TestModels.Model(c, tensors);
        var tokens = TestModels.RandomTokens(16, c.VocabSize, seed: 20);
        var expected = ReferenceGptNeo.Logits(c, tensors, tokens);
        var whole = model.CreateSession();
        whole.Forward(tokens);
        var stepwise = model.CreateSession();
        for (int p = 0; p < tokens.Length; p++)
        {
            AssertClose(whole.Logits(p), expected[p], 1e-4, $"gpt_neo logits[{p}]");
            stepwise.Forward(tokens.AsSpan(p, 1));
            AssertClose(stepwise.Logits(0), expected[p], 1e-4, $"gpt_neo step {p}");
        }
        var global = ReferenceGptNeo.Logits(c with { LocalLayers = [] }, tensors, tokens);
        Assert.True(Math.Abs(global[^1][0] - expected[^1][0]) > 1e-6, "the window changed nothing: the test would not see a missing mask");
        c.Save(path);
        Assert.Equal(c.LocalLayers, ModelConfig.Load(path).LocalLayers);
    }

    [Theory]
    [InlineData(WeightType.F32)]
    [InlineData(WeightType.BF16)]
    public void CachedStepsAndRollbackMatchOneFullPass(WeightType type)
    {
        var c = TinyLlama();
        using var model = TestModels.Model(c, RandomModel.CreateTensors(c, seed: 9, lnNoise: 0.1f), type);
        var tokens = TestModels.RandomTokens(18, c.VocabSize, seed: 10);
        var full = model.CreateSession();
        full.Forward(tokens);
        var s = model.CreateSession();
        s.Forward(tokens.AsSpan(0, 5));
        s.Forward(tokens.AsSpan(5, 7));
        s.Truncate(9);   // roll back 3 positions, then redo them in other chunks
        for (int p = 9; p < tokens.Length; p += 3)
        {
            int n = Math.Min(3, tokens.Length - p);
            s.Forward(tokens.AsSpan(p, n));
            for (int r = 0; r < n; r++)
            {
                var expected = full.Logits(p + r).ToArray();
                var actual = s.Logits(r);
                for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-4f * Math.Max(1, Math.Abs(expected[i])), $"[{p + r}, {i}]");
            }
        }
    }

    [Fact]
    public void AFolderLoadsThroughItsConfigAndSpeculativeDecodingStaysLossless()
    {
        // A random Llama pair written as Hugging Face folders: greedy SD must equal the target alone.
        var target = TinyLlama("llama", kvHeads: 2);
        var draft = TinyLlama("llama", kvHeads: 1, tied: true) with { LayerCount = 1 };
        string targetDir = Folder(target, 11), draftDir = Folder(draft, 12);
        Assert.Equal(target, ModelConfig.Load(Path.Combine(targetDir, "config.json")));
        var ar = Cli.CliTests.Run("generate", "--target", targetDir, "--mode", "ar", "--prompt", "abc", "--max-tokens", "12", "--temperature", "0");
        var sd = Cli.CliTests.Run("generate", "--target", targetDir, "--draft", draftDir, "--mode", "sd", "--prompt", "abc", "--max-tokens", "12", "--temperature", "0");
        Assert.True(ar.Code == 0, ar.Err);
        Assert.True(sd.Code == 0, sd.Err);
        Assert.Equal(FirstLine(ar.Out), FirstLine(sd.Out));
    }

    [Fact]
    public void EmbeddingRowsPaddedPastTheTokenizerAreHiddenAndThePairStillMatches()
    {
        // Qwen pads its embedding rows past the tokenizer to a multiple of 64: a target with 320 rows
        // and a draft with 257, both over the 257-token byte tokenizer, form a pair; no padded id is
        // ever produced, and greedy SD still equals the target alone.
        string targetDir = Folder(TinyLlama("qwen2", kvHeads: 2, vocab: 320), 21), draftDir = Folder(TinyLlama("qwen2", kvHeads: 1, vocab: 257) with { LayerCount = 1 }, 22);
        using (var target = LanguageModel.Load(targetDir))
        {
            Assert.Equal(320, target.Config.VocabSize);
            Assert.Equal(257, target.Model.OutputVocabulary);
            var s = target.Model.CreateSession();
            s.Forward([1, 2, 3]);
            Assert.Equal(257, s.Logits(0).Length);
        }
        var ar = Cli.CliTests.Run("generate", "--target", targetDir, "--mode", "ar", "--prompt", "xyz", "--max-tokens", "12", "--temperature", "0");
        var sd = Cli.CliTests.Run("generate", "--target", targetDir, "--draft", draftDir, "--mode", "sd", "--prompt", "xyz", "--max-tokens", "12", "--temperature", "0");
        Assert.True(ar.Code == 0, ar.Err);
        Assert.True(sd.Code == 0, sd.Err);
        Assert.Equal(FirstLine(ar.Out), FirstLine(sd.Out));
        // Rows that are not padding to a multiple of 64 still mean mismatched files.
        string odd = Folder(TinyLlama(vocab: 300), 23);
        var e = Assert.Throws<InvalidInputException>(() => LanguageModel.Load(odd));
        Assert.Contains("vocab_size 300", e.Message);
    }

    [Fact]
    public void TheWholePipelineRunsOnALlamaPair()
    {
        // Verifier labels, a trained verifier, SPRINTER generation and the engine benchmark on a
        // random Llama pair written as Hugging Face folders: nothing on the way assumes GPT-2.
        string target = Folder(TinyLlama("llama", kvHeads: 2), 41), draft = Folder(TinyLlama("llama", kvHeads: 1, tied: true) with { LayerCount = 1 }, 42);
        string data = Path.Combine(TestModels.TempDir(), "texts.txt");
        File.WriteAllLines(data, Enumerable.Range(0, 30).Select(i => $"line {i} of plain text about the river and the town number {i * 7}"));
        string labels = TestModels.TempDir(), verifier = Path.Combine(TestModels.TempDir(), "verifier.safetensors");
        var run = Cli.CliTests.Run("verifier", "collect", "--draft", draft, "--target", target, "--data", data, "--prompts", "30", "--tokens", "6", "--label", "greedy", "--out", labels);
        Assert.True(run.Code == 0, run.Err);
        run = Cli.CliTests.Run("verifier", "train", "--data", labels, "--out", verifier, "--recipe", "mlp", "--seed", "0", "--draft", draft);
        Assert.True(run.Code == 0, run.Err);
        run = Cli.CliTests.Run("generate", "--draft", draft, "--target", target, "--mode", "sprinter", "--verifier", verifier, "--prompt", "line 3", "--max-tokens", "8", "--temperature", "0");
        Assert.True(run.Code == 0, run.Err);
        Assert.StartsWith("line 3", run.Out);
        run = Cli.CliTests.Run("bench-engine", "--model", target, "--dtypes", "bf16", "q8_0", "--positions", "1", "3", "--runs", "2", "--json");
        Assert.True(run.Code == 0, run.Err);
        Assert.Equal(4, System.Text.Json.Nodes.JsonNode.Parse(run.Out)!["results"]!.AsArray().Count);
    }

    /// <summary>
    /// A Mistral-style folder whose only tokenizer is a SentencePiece tokenizer.model: it loads, its
    /// prompts start with &lt;s&gt;, and greedy SD with a draft of the same tokenizer equals the target alone.
    /// </summary>
    [Fact]
    public void AFolderWithOnlyATokenizerModelLoadsAndRunsSpeculativeDecoding()
    {
        byte[] proto = Sprinter.Fuzzing.ParserFuzzer.SentencePieceSeed();
        int vocab = SentencePieceModelFile.Parse(proto, "seed").Pieces.Count;
        string Write(ModelConfig c, int seed)
        {
            string dir = TestModels.TempDir();
            Directory.CreateDirectory(dir);
            c.Save(Path.Combine(dir, "config.json"));
            ShardedSafeTensorsWriter.Write(dir, RandomModel.CreateTensors(c, seed, lnNoise: 0.1f).Select(kv => new TensorToWrite(kv.Key, kv.Value.Shape, kv.Value.Data, TensorDType.F32)).ToList(),
                long.MaxValue, new Dictionary<string, string> { ["format"] = "pt" });
            File.WriteAllBytes(Path.Combine(dir, SentencePieceModelFile.FileName), proto);
            return dir;
        }
        string target = Write(TinyLlama("mistral", kvHeads: 2, vocab: vocab), 51), draft = Write(TinyLlama("mistral", kvHeads: 1, vocab: vocab) with { LayerCount = 1 }, 52);
        using (var lm = LanguageModel.Load(target))
        {
            Assert.EndsWith(SentencePieceModelFile.FileName, lm.TokenizerFiles);
            Assert.Equal(1, lm.Tokenizer.EncodePrompt("the cat")[0]);
            Assert.Contains(2, lm.StopTokens);
            Assert.Equal("the cat sat", lm.Tokenizer.Decode(lm.Tokenizer.Encode("the cat sat")));
        }
        var ar = Cli.CliTests.Run("generate", "--target", target, "--mode", "ar", "--prompt", "the cat", "--max-tokens", "12", "--temperature", "0", "--json");
        var sd = Cli.CliTests.Run("generate", "--draft", draft, "--target", target, "--mode", "sd", "--prompt", "the cat", "--max-tokens", "12", "--temperature", "0", "--json");
        Assert.True(ar.Code == 0 && sd.Code == 0, ar.Err + sd.Err);
        Assert.Equal(System.Text.Json.Nodes.JsonNode.Parse(ar.Out)!["token_ids"]!.ToJsonString(), System.Text.Json.Nodes.JsonNode.Parse(sd.Out)!["token_ids"]!.ToJsonString());
    }

    [Fact]
    public void GenerationStopsAtTheEndOfSequenceIdsOfGenerationConfig()
    {
        var (vocab, merges) = RandomModel.ByteVocabulary();
        var c = TinyLlama();
        string dir = TestModels.TempDir();
        RandomModel.WriteFolder(dir, c, RandomModel.CreateTensors(c, 31, lnNoise: 0.1f), vocab, merges);
        int[] prompt = [10, 20, 30];
        List<int> Generate()
        {
            using var lm = LanguageModel.Load(dir);
            var decoder = new Sprinter.Decoding.AutoregressiveDecoder(lm.Model.CreateSession(), Sprinter.Decoding.SamplingOptions.Greedy, 0);
            var ids = new List<int>();
            var e = decoder.GenerateAsync(prompt, 10, lm.StopTokens).GetAsyncEnumerator();
            while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult()) ids.Add(e.Current.Id);
            return ids;
        }
        var free = Generate();   // no eos_token_id anywhere: the byte vocabulary has no end-of-text token
        Assert.Equal(10, free.Count);
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), $$"""{"eos_token_id": [{{(free[2] + 1) % 257}}, {{free[2]}}]}""");
        Assert.Equal(free.Take(free.IndexOf(free[2]) + 1), Generate());   // stops at (and emits) the first end-of-sequence id
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), """{"eos_token_id": 999}""");
        var error = Assert.Throws<InvalidInputException>(Generate);
        Assert.Contains("generation_config.json: field 'eos_token_id' holds 999", error.Message);
    }

    static string FirstLine(string text) => text.Split('\n')[0];
}
