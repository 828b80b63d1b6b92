using System.Text;
using Sprinter.Models;

namespace Sprinter.Tests.Models;

public class Gpt2TokenizerTests
{
    [Fact]
    public void PreTokenizationCutsLikeGpt2()
    {
        // Python GPT-2 (regex module) gives these pieces: a run of spaces leaves its last space to the next word.
        Assert.Equal(["It", "'s", " ", " we", "'ll", " 3", ",", "000", "\n\n  ", " x", "  "],
            Gpt2PreTokenizer.Split("It's  we'll 3,000\n\n   x  "));
    }

    [Theory]
    [InlineData("a  b   c\t\t d")]
    [InlineData("and <|endoftext|> as text")]
    public void WhitespaceRunsAndEndOfTextStayInsideTheVocabulary(string text)
    {
        // CodeGenTokenizer, used before, answered these with CodeGen's extra ids 50256-50290.
        string folder = TestModels.TempDir();
        var (vocabJson, mergesTxt) = RandomModel.ByteVocabulary();
        File.WriteAllText(Path.Combine(folder, "vocab.json"), vocabJson);
        File.WriteAllText(Path.Combine(folder, "merges.txt"), mergesTxt);
        var tokenizer = Tokenizer.Load(Path.Combine(folder, "vocab.json"), Path.Combine(folder, "merges.txt"));
        int[] ids = tokenizer.Encode(text);
        Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
        Assert.Equal(text, tokenizer.Decode(ids));
        // A literal <|endoftext|> is the special token, as in Hugging Face's GPT-2 tokenizer.
        Assert.Equal(text.Contains("<|endoftext|>"), ids.Contains(tokenizer.EndOfText!.Value));
    }
}
