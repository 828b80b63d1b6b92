using System.Text;
using Sprinter.Models;
using Sprinter.Training;

namespace Sprinter.Tests.Training;

public class BpeTrainerTests
{
    [Fact]
    public void TrainingTwiceWritesByteIdenticalFiles()
    {
        var first = BpeTrainer.Train(TrainingTexts.Documents(), 400).Save(TestModels.TempDir());
        var second = BpeTrainer.Train(TrainingTexts.Documents(), 400).Save(TestModels.TempDir());
        Assert.Equal(File.ReadAllBytes(first.VocabPath), File.ReadAllBytes(second.VocabPath));
        Assert.Equal(File.ReadAllBytes(first.MergesPath), File.ReadAllBytes(second.MergesPath));
    }

    [Fact]
    public void IncrementalCountsGiveTheSameMergesAsRecountingEveryStep()
    {
        var texts = TrainingTexts.Documents(count: 15, seed: 3);
        var trained = BpeTrainer.Train(texts, 330);
        Assert.Equal(NaiveMerges(texts, trained.Merges.Count), trained.Merges);
    }

    [Theory]
    [InlineData("Hello, world! The union is strong.")]
    [InlineData("emoji 👋🏽🙂👩‍👩‍👧 and flags 🇺🇸")]
    [InlineData("CJK 你好世界，東京タワー、한국어")]
    [InlineData("combining e\u0301 a\u0308 z̷̢̛a̴l̸g̶o and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 outside the BMP")]
    [InlineData("controls \u0000\u0001\u001f\u007f\u0085 end")]
    [InlineData("mixed\twhite \r\n space\u00a0nbsp\u2003em  \n\n\n   trailing   ")]
    [InlineData("RTL مرحبا بالعالم and <|endoftext|> as plain text")]
    [InlineData("")]
    public void RoundTripIsExactThroughTheLoadedTokenizer(string text)
    {
        var files = BpeTrainer.Train(TrainingTexts.Documents(), 400).Save(TestModels.TempDir());
        var tokenizer = Tokenizer.Load(files.VocabPath, files.MergesPath);
        int[] ids = tokenizer.Encode(text);
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
    }

    [Fact]
    public void TrainedTokensCompressTheTrainingText()
    {
        var texts = TrainingTexts.Documents();
        var files = BpeTrainer.Train(texts, 400).Save(TestModels.TempDir());
        var tokenizer = Tokenizer.Load(files.VocabPath, files.MergesPath);
        string text = texts[0];
        Assert.True(tokenizer.Encode(text).Length * 2 < Encoding.UTF8.GetByteCount(text));
    }

    [Theory]
    [InlineData(257)]
    [InlineData(300)]
    [InlineData(400)]
    public void WrittenFilesLoadThroughTheEngineWithTheRequestedSize(int vocabSize)
    {
        var trained = BpeTrainer.Train(TrainingTexts.Documents(), vocabSize);
        string folder = TestModels.TempDir();
        var config = TestModels.TinyConfig(vocab: vocabSize);
        RandomModel.WriteFolder(folder, config, TestModels.Tensors(config),
            Encoding.UTF8.GetString(trained.VocabJson()), trained.MergesText());

        using var model = LanguageModel.Load(folder);
        Assert.Equal(vocabSize, model.Tokenizer.VocabSize);
        Assert.Equal(vocabSize - 1, model.Tokenizer.EndOfText);
        Assert.Equal(vocabSize - 257, trained.Merges.Count);
        Assert.StartsWith("#version: 0.2\n", File.ReadAllText(Path.Combine(folder, "merges.txt")));
        for (int b = 0; b < 256; b++) Assert.Equal([(byte)b], model.Tokenizer.TokenBytes(b).ToArray());
    }

    [Fact]
    public void EveryMergedTokenLiesInsideOneTrainingPreToken()
    {
        var texts = TrainingTexts.Documents();
        var preTokens = texts.SelectMany(Gpt2PreTokenizer.Split).Distinct()
            .Select(p => ByteLevel.Encode(Encoding.UTF8.GetBytes(p))).ToList();
        var trained = BpeTrainer.Train(texts, 2000);
        Assert.All(trained.Tokens.Skip(256).SkipLast(1), token => Assert.Contains(preTokens, p => p.Contains(token, StringComparison.Ordinal)));
        // This small text runs out of pairs before 2000 tokens: then every pre-token is one token.
        Assert.True(trained.VocabSize < 2000);
        Assert.Subset(trained.Tokens.ToHashSet(), preTokens.Where(p => p.Length > 1).ToHashSet());
    }

    [Fact]
    public void EncodedTokensNeverSpanAPreTokenBoundary()
    {
        var files = BpeTrainer.Train(TrainingTexts.Documents(), 600).Save(TestModels.TempDir());
        var tokenizer = Tokenizer.Load(files.VocabPath, files.MergesPath);
        string text = "It's  we'll 3,000 peace—war (applause)\n\n  The union's people.  Congress  trade!\t東京 naïve 🙂🙂 end ";
        var boundaries = new HashSet<int> { 0 };
        foreach (string piece in Gpt2PreTokenizer.Split(text)) boundaries.Add(boundaries.Max() + Encoding.UTF8.GetByteCount(piece));
        var tokenEnds = new HashSet<int> { 0 };
        int end = 0;
        foreach (int id in tokenizer.Encode(text)) tokenEnds.Add(end += tokenizer.TokenBytes(id).Length);
        Assert.Subset(tokenEnds, boundaries);
        Assert.Equal(Encoding.UTF8.GetByteCount(text), end);
    }

    [Fact]
    public void VocabularyBelowTheByteTokensIsInvalidInput()
    {
        var error = Assert.Throws<InvalidInputException>(() => BpeTrainer.Train(["text"], 256));
        Assert.Contains("vocab size 256", error.Message);
    }

    [Fact]
    public void MissingCorpusFileIsInvalidInput()
    {
        string path = Path.Combine(TestModels.TempDir(), "train.txt");
        var error = Assert.Throws<InvalidInputException>(() => BpeTrainer.TrainOnCorpusFile(path, 300));
        Assert.Contains(path, error.Message);
    }

    /// <summary>Textbook BPE: recount every pair over every word at each step, same tie rule.</summary>
    static List<(string, string)> NaiveMerges(IEnumerable<string> texts, int mergeCount)
    {
        var words = texts.SelectMany(Gpt2PreTokenizer.Split).GroupBy(w => w)
            .Select(g => (Symbols: Encoding.UTF8.GetBytes(g.Key).Select(b => ByteLevel.ByteToChar[b].ToString()).ToList(), Count: g.Count()))
            .ToList();
        var ids = Enumerable.Range(0, 256).ToDictionary(b => ByteLevel.ByteToChar[b].ToString(), b => b);
        var merges = new List<(string, string)>();
        while (merges.Count < mergeCount)
        {
            var counts = new Dictionary<(string, string), long>();
            foreach (var (symbols, count) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    counts[(symbols[i], symbols[i + 1])] = counts.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            var best = counts.OrderByDescending(kv => kv.Value)
                .ThenBy(kv => ids[kv.Key.Item1]).ThenBy(kv => ids[kv.Key.Item2]).First().Key;
            ids.TryAdd(best.Item1 + best.Item2, ids.Count);
            merges.Add(best);
            foreach (var (symbols, _) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                    {
                        symbols[i] += symbols[i + 1];
                        symbols.RemoveAt(i + 1);
                    }
        }
        return merges;
    }
}
