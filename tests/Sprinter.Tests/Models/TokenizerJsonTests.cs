using System.Text.Json.Nodes;
using Sprinter.Models;

namespace Sprinter.Tests.Models;

/// <summary>
/// Hugging Face tokenizer.json (byte-level BPE): the same vocabulary and merges written as
/// tokenizer.json in each layout that Llama 3, Qwen2 and GPT-2 files use must give the ids that
/// vocab.json + merges.txt give; folders with only tokenizer.json load; bad files get one line.
/// </summary>
public class TokenizerJsonTests
{
    static string RepoFile(params string[] parts)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sprinter.slnx"))) return Path.Combine([dir.FullName, .. parts]);
        throw new InvalidOperationException("repository root not found");
    }

    static readonly string[] Texts =
    [
        "The President said that the Congress should act.",
        "  multiple   spaces\n\nand newlines\t tabs",
        "Ünïcödé — “quotes” Tōkyō 東京 🙂 naïve café",
        "numbers 12345 and 3.14159, it's they'll we've",
        "before<|endoftext|>after <|endoftext|>",
        "",
    ];

    /// <summary>tokenizer.json built from a vocab.json + merges.txt pair, in one of the layouts of real files.</summary>
    public static JsonObject Build(string vocabPath, string mergesPath, string layout)
    {
        var vocab = JsonNode.Parse(File.ReadAllText(vocabPath))!.AsObject();
        var merges = File.ReadAllLines(mergesPath).Where(l => l.Length > 0 && !l.StartsWith("#version")).ToList();
        var added = new JsonArray();
        if (vocab["<|endoftext|>"] is JsonNode eot)
        {
            added.Add(new JsonObject { ["id"] = (int)eot, ["content"] = "<|endoftext|>", ["special"] = true });
            vocab.Remove("<|endoftext|>");
        }
        JsonNode mergeList = layout == "array-merges"
            ? new JsonArray(merges.Select(m => (JsonNode)new JsonArray(m.Split(' ')[0], m.Split(' ')[1])).ToArray())
            : new JsonArray(merges.Select(m => (JsonNode)m).ToArray());
        JsonNode pre = layout is "split" or "array-merges" or "ignore-merges"
            ? new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Gpt2PreTokenizer.Pattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            }
            : new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = layout == "nfc" ? new JsonObject { ["type"] = "NFC" } : null,
            ["pre_tokenizer"] = pre,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["byte_fallback"] = false,
                ["ignore_merges"] = layout == "ignore-merges", ["vocab"] = vocab, ["merges"] = mergeList,
            },
        };
    }

    [Theory]
    [InlineData("byte-level")]      // GPT-2: ByteLevel with its own regex
    [InlineData("split")]           // Llama 3 / Qwen2: Split(regex) then ByteLevel
    [InlineData("array-merges")]    // newer files write merges as [left, right]
    [InlineData("ignore-merges")]   // Llama 3: a pre-token in the vocabulary is one token
    [InlineData("nfc")]             // Qwen2: NFC normalizer
    public void TokenizerJsonGivesTheIdsOfVocabAndMerges(string layout)
    {
        string vocab = RepoFile("models", "target", "vocab.json"), merges = RepoFile("models", "target", "merges.txt");
        var reference = Tokenizer.Load(vocab, merges);
        string path = Path.Combine(TestModels.TempDir(), "tokenizer.json");
        File.WriteAllText(path, Build(vocab, merges, layout).ToJsonString());
        var tokenizer = Tokenizer.LoadTokenizerJson(path);
        Assert.Equal(reference.VocabSize, tokenizer.VocabSize);
        Assert.Equal(reference.EndOfText, tokenizer.EndOfText);
        foreach (string text in Texts)
        {
            string input = layout == "nfc" ? text.Normalize(System.Text.NormalizationForm.FormC) : text;
            int[] ids = tokenizer.Encode(text);
            Assert.Equal(reference.Encode(input), ids);
            Assert.Equal(input, tokenizer.Decode(ids));
        }
    }

    [Theory]
    [InlineData("template")]      // the post-processor puts the special token first (Llama 3)
    [InlineData("config")]        // tokenizer_config.json: add_bos_token with bos_token
    public void PromptsStartWithTheBeginningOfSequenceTokenAndKeepItWhenCut(string source)
    {
        string vocab = RepoFile("models", "target", "vocab.json"), merges = RepoFile("models", "target", "merges.txt");
        var json = Build(vocab, merges, "split");
        string dir = TestModels.TempDir();
        if (source == "template")
            json["post_processor"] = JsonNode.Parse("""{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]}""");
        else
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"add_bos_token": true, "bos_token": {"content": "<|endoftext|>"}}""");
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        var tokenizer = Tokenizer.LoadTokenizerJson(Path.Combine(dir, "tokenizer.json"));
        int bos = tokenizer.EndOfText!.Value;
        Assert.Equal(bos, tokenizer.BeginningOfSequence);
        int[] text = tokenizer.Encode(Texts[0]);
        Assert.Equal([bos, .. text], tokenizer.EncodePrompt(Texts[0]));
        Assert.Equal([bos, .. text[^3..]], tokenizer.EncodePrompt(Texts[0], 4, out bool cut));
        Assert.True(cut);
    }

    [Fact]
    public void AFolderWithOnlyTokenizerJsonLoadsAndGenerates()
    {
        var c = TestModels.TinyConfig();
        string dir = TestModels.Folder(c);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), Build(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "merges.txt"), "split").ToJsonString());
        var viaVocab = LanguageModel.Load(dir);
        File.Delete(Path.Combine(dir, "vocab.json"));
        File.Delete(Path.Combine(dir, "merges.txt"));
        using var viaJson = LanguageModel.Load(dir);
        Assert.NotNull(viaJson.Folder!.TokenizerJsonPath);
        Assert.Equal(viaVocab.Tokenizer.Encode(Texts[0]), viaJson.Tokenizer.Encode(Texts[0]));
        viaVocab.Dispose();
        var (code, output, error) = Cli.CliTests.Run("generate", "--target", dir, "--mode", "ar", "--prompt", "abc", "--max-tokens", "5", "--temperature", "0");
        Assert.True(code == 0, error);
        Assert.StartsWith("abc", output);
    }

    [Theory]
    [InlineData("""{"model": {"type": "WordPiece", "vocab": {"a": 0}}}""", "model.type")]
    [InlineData("""{"model": {"type": "BPE", "byte_fallback": true, "vocab": {"a": 0}, "merges": []}}""", "normalizer")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": -3}, "merges": []}}""", "model.vocab")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a"]}, "pre_tokenizer": {"type": "ByteLevel"}}""", "model.merges")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}}""", "pre_tokenizer")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "ByteLevel"}}""", "normalizer")]
    [InlineData("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(("}, "behavior": "Isolated"}, {"type": "ByteLevel", "use_regex": false}]}}""", "pattern.Regex")]
    [InlineData("""{"model": """, "not valid JSON")]
    public void BadTokenizerJsonGetsOneLineNamingTheField(string json, string field)
    {
        string dir = TestModels.Folder(TestModels.TinyConfig());
        File.Delete(Path.Combine(dir, "vocab.json"));
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json);
        var (code, _, error) = Cli.CliTests.Run("generate", "--target", dir, "--mode", "ar", "--prompt", "abc", "--max-tokens", "2");
        Assert.Equal(2, code);
        Assert.Contains("tokenizer.json", error);
        Assert.Contains(field, error);
        Assert.Single(error.Trim().Split('\n'));
    }

    /// <summary>A small tokenizer.json in Llama 2's SentencePiece-style layout (byte fallback).</summary>
    static JsonObject SentencePieceJson()
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = 3 + b;
        vocab["\u2581"] = 259; vocab["t"] = 260; vocab["h"] = 261; vocab["\u2581t"] = 262; vocab["\u2581th"] = 263;
        return JsonNode.Parse($$$"""
            {"added_tokens": [{"id": 0, "content": "<unk>", "special": true}, {"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}],
             "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
             "pre_tokenizer": null,
             "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
             "model": {"type": "BPE", "byte_fallback": true, "fuse_unk": true, "unk_token": "<unk>", "vocab": {{{vocab.ToJsonString()}}}, "merges": ["▁ t", "▁t h"]}}
            """)!.AsObject();
    }

    [Fact]
    public void SentencePieceStyleBpeMergesByRankAndFallsBackToBytes()
    {
        string path = Path.Combine(TestModels.TempDir(), "tokenizer.json");
        File.WriteAllText(path, SentencePieceJson().ToJsonString());
        var tokenizer = Tokenizer.LoadTokenizerJson(path);
        // "th th" -> U+2581 t h U+2581 t h -> merges "U+2581 t" then "U+2581t h": two tokens; "é" is
        // not in the vocabulary: its two UTF-8 bytes become <0xC3> <0xA9>.
        Assert.Equal([263, 263, 259, 3 + 0xC3, 3 + 0xA9], tokenizer.Encode("th th é"));
        Assert.Equal("th th é", tokenizer.Decode(tokenizer.Encode("th th é")));
        Assert.Equal(1, tokenizer.BeginningOfSequence);
        Assert.Equal(2, tokenizer.EndOfText);
    }

}
