using Sprinter.Benchmarks;

namespace Sprinter.Tests.Benchmarks;

public class RougeTests
{
    [Fact]
    public void ScoresMatchHandComputedValues()
    {
        // pred: the cat sat on the mat / ref: the cat is on the mat
        // unigrams: 5 of 6 overlap; bigrams: "the cat", "on the", "the mat" = 3 of 5; LCS "the cat on the mat" = 5 of 6.
        var s = Rouge.Score("The cat sat on the mat.", "the cat is on the mat");
        Assert.Equal(5.0 / 6, s.Rouge1, 9);
        Assert.Equal(3.0 / 5, s.Rouge2, 9);
        Assert.Equal(5.0 / 6, s.RougeL, 9);
    }

    [Fact]
    public void UnequalLengthsUseTheFMeasure()
    {
        // pred: a b c d (4), ref: a c (2): overlap 2, P = 1/2, R = 1, F = 2/3; no shared bigram; LCS 2.
        var s = Rouge.Score("a b c d", "a c");
        Assert.Equal(2.0 / 3, s.Rouge1, 9);
        Assert.Equal(0, s.Rouge2);
        Assert.Equal(2.0 / 3, s.RougeL, 9);
    }

    [Fact]
    public void TokensAreAlphanumericRunsAndLongTokensAreStemmed()
    {
        Assert.Equal(["run", "dog", "3", "14"], Rouge.Tokenize("Running dogs' 3.14"));
        // "running" -> "run", "dogs" -> "dog"; "runs" -> "run"; "dog" (3 letters) is left alone.
        Assert.Equal(1.0, Rouge.Score("Running dogs", "runs dog").Rouge1, 9);
        Assert.Equal(0, Rouge.Score("", "something").RougeL);
    }

    [Theory]
    [InlineData("running", "run")]
    [InlineData("generalization", "gener")]
    [InlineData("caresses", "caress")]
    [InlineData("ponies", "poni")]
    [InlineData("happily", "happili")]
    [InlineData("relational", "relat")]
    [InlineData("conditional", "condit")]
    [InlineData("electrical", "electr")]
    [InlineData("agreed", "agre")]
    [InlineData("feed", "feed")]
    [InlineData("hopping", "hop")]
    [InlineData("falling", "fall")]
    [InlineData("agreement", "agreement")]
    [InlineData("dying", "die")]     // NLTK's irregular forms, where Lucene's Snowball Porter gives "dy"
    [InlineData("news", "news")]     // Snowball Porter: "new"
    [InlineData("cry", "cri")]       // NLTK's step 1c extension; original Porter keeps "cry"
    public void PorterStemsLikeNltk(string word, string stem) => Assert.Equal(stem, PorterStemmer.Stem(word));
}
