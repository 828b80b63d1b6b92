using Microsoft.ML.Tokenizers;
using Sprinter.Models;

namespace Sprinter.Tests.Models;

/// <summary>Our tokenizer on the real GPT-2 vocabulary (rebuilt by <see cref="Gpt2Vocabulary"/>).</summary>
public class Gpt2VocabularyTests
{
    static readonly Lazy<Sprinter.Models.Tokenizer> Tokenizer = new(() => Sprinter.Models.Tokenizer.Load(Gpt2Vocabulary.VocabPath, Gpt2Vocabulary.MergesPath));

    const string UnicodeText = "Héllo, wörld! Ça va? naïve façade — “quotes” ‘x’ 1,234.5%\n" +
        "日本語のテキスト、中文文本，한국어 텍스트\tТекст по-русски; Ελληνικά; עברית; العربية\r\n" +
        "emoji: 🤖🚀👩‍💻🇫🇷 ✓ ∑∫√ ½ ¼\n\n  indented\t\ttabs   and trailing spaces   ";

    [Fact]
    public void HelloWorldHasTheGpt2Ids()
    {
        Assert.Equal([15496, 995], Tokenizer.Value.Encode("Hello world"));
        Assert.Equal(Gpt2Vocabulary.Size, Tokenizer.Value.VocabSize);
        Assert.Equal(Gpt2Vocabulary.EndOfText, Tokenizer.Value.EndOfText);
    }

    [Fact]
    public void RebuiltMergesEncodeExactlyLikeTiktoken()
    {
        // Any merge out of order would change some encoding of this mixed text.
        var tiktoken = TiktokenTokenizer.CreateForModel("gpt2");
        string text = UnicodeText + " The quick brown fox jumps over the lazy dog. def f(x):\n    return x**2  # comment";
        Assert.Equal(tiktoken.EncodeToIds(text), Tokenizer.Value.Encode(text));
    }

    [Fact]
    public void UnicodeTextRoundTripsExactly()
    {
        var ids = Tokenizer.Value.Encode(UnicodeText);
        Assert.Equal(UnicodeText, Tokenizer.Value.Decode(ids));
    }

    [Fact]
    public void EndOfTextLiteralIsEncodedAsTheSpecialToken()
    {
        // The library treats the literal "<|endoftext|>" in text as the special token (one id,
        // 50256), not as the 7 ordinary tokens "<", "|", "end"...; decoding gives the literal back.
        var ids = Tokenizer.Value.Encode("a<|endoftext|>b");
        Assert.Contains(Gpt2Vocabulary.EndOfText, ids);
        Assert.Equal("a<|endoftext|>b", Tokenizer.Value.Decode(ids));
    }

    [Fact]
    public void StreamingNeverEmitsAReplacementCharacterForASplitCharacter()
    {
        var tokenizer = Tokenizer.Value;
        var ids = tokenizer.Encode(UnicodeText);
        // The test only means something if some character is really split across tokens.
        Assert.Contains(ids, id => tokenizer.Decode([id]).Contains('\uFFFD'));

        var stream = tokenizer.CreateStreamingDecoder();
        var pieces = ids.Select(stream.Append).ToList();
        pieces.Add(stream.Flush());
        Assert.DoesNotContain(pieces, piece => piece.Contains('\uFFFD'));
        Assert.Equal(tokenizer.Decode(ids), string.Concat(pieces));
    }
}
