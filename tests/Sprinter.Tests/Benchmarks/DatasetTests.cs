using Sprinter.Benchmarks;

namespace Sprinter.Tests.Benchmarks;

public class DatasetTests
{
    // Imitates wiki.test.raw: CRLF, blank lines holding one space, " = Title = ", " = = Sub = = ", @-@ artefacts.
    const string Wiki =
        " \r\n = Robert Boulter = \r\n \r\n Robert Boulter is an English film , television and theatre actor . He had a guest @-@ starring role in 2 @,@ 000 episodes . \r\n \r\n" +
        " = = Career = = \r\n \r\n In 2004 Boulter landed a role as \" Craig \" in the episode \" Teddy 's Story \" ( 2004 ) . \r\n It cost 1 @.@ 5 million . \r\n" +
        " = 1 henry and C = \r\n 1 farad . \r\n" + // a formula line that looks like a title (as in "Constant k filter")
        " \r\n = Lonely Article = \r\n \r\n Only a lead here . \r\n";

    [Fact]
    public void WikiTextSplitsArticlesLeadAndBodyAndUndoesArtefacts()
    {
        var articles = WikiTextArticles.Parse(Wiki);
        var a = Assert.Single(articles); // the second article has no body after its lead
        Assert.Equal("Robert Boulter", a.Title);
        Assert.Equal("Robert Boulter is an English film, television and theatre actor. He had a guest-starring role in 2,000 episodes.", a.Lead);
        Assert.Equal("In 2004 Boulter landed a role as \"Craig\" in the episode \"Teddy's Story\" (2004). It cost 1.5 million. = 1 henry and C = 1 farad.", a.Body);
    }

    [Fact]
    public void Lm1bStripsTheJunkPrefixAndDropsEmptyLines()
    {
        string[] lines =
        [
            "^ 1 2 3 4 5 6 7 8 9 0 ß ´ ° ! \" § $ % & / ( ) = ? ` ² ³ { [ ] } \\ + * ~ # ' _ - : . , ; > < | @ € Having a little flexibility would go a long way .",
            "A spokesman said the company has been affected , he said .",
            "^ 1 2 3 4 5 6 7 8 9 0 ß ´ ° ! \" § $ % & / ( ) = ? ` ² ³ { [ ] } \\ + * ~ # ' _ - : . , ; > < | @ €",
            "We 're here .",
        ];
        var s = Lm1bSentences.Parse(lines);
        Assert.Equal([0, 1, 3], s.Select(x => x.Line));
        Assert.Equal("Having a little flexibility would go a long way.", s[0].Text);
        Assert.Equal("A spokesman said the company has been affected, he said.", s[1].Text);
        Assert.Equal("We're here.", s[2].Text);
    }

    [Fact]
    public void LoadTakesThirtyPercentPromptsAndTheRightReferences()
    {
        string dir = DataDir(["one two three four five six seven eight nine ten", "too short"]);

        var wiki = Assert.Single(BenchDatasets.Load("wiki", dir, 10, seed: 1));
        Assert.StartsWith("Robert Boulter is", wiki.Reference);
        Assert.Equal("In 2004 Boulter landed a role as \"Craig\"", wiki.Prompt); // ceil(0.3 * 26 body words) = 8
        var lm1b = Assert.Single(BenchDatasets.Load("lm1b", dir, 10, seed: 1));
        Assert.Equal("one two three", lm1b.Prompt);
        Assert.Equal("one two three four five six seven eight nine ten", lm1b.Reference);
        var e = Assert.Throws<InvalidSettingException>(() => BenchDatasets.Load("wiki", Path.Combine(dir, "missing"), 10, 1));
        Assert.Equal("data_dir", e.Setting);
    }

    [Fact]
    public void TextsGiveWholeArticlesAndCleanSentencesForScoring()
    {
        string dir = DataDir(["^ 1 2 3 4 5 6 7 8 9 0 ß ´ ° ! \" § $ % & / ( ) = ? ` ² ³ { [ ] } \\ + * ~ # ' _ - : . , ; > < | @ € We 're here .", "", "Two ."]);

        var (wiki, wikiFile) = BenchDatasets.Texts("wiki", dir);
        var article = Assert.Single(wiki);
        Assert.StartsWith("Robert Boulter is an English film", article.Text);
        Assert.Contains("\nIn 2004 Boulter landed", article.Text);
        Assert.Equal(Path.Combine(dir, BenchDatasets.WikiFile), wikiFile);
        var (lm1b, _) = BenchDatasets.Texts("lm1b", dir);
        Assert.Equal(["We're here.", "Two."], lm1b.Select(t => t.Text));
        var e = Assert.Throws<InvalidSettingException>(() => BenchDatasets.Texts("lm1b", Path.Combine(dir, "missing")));
        Assert.Equal("data_dir", e.Setting);
        Assert.Contains(Path.Combine(dir, "missing"), e.Message);
    }

    /// <summary>A folder laid out like ../shared/data: the wiki snippet and the given LM1B lines.</summary>
    static string DataDir(string[] lm1bLines)
    {
        string dir = TestModels.TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "wikitext2"));
        Directory.CreateDirectory(Path.Combine(dir, "lm1b"));
        File.WriteAllText(Path.Combine(dir, BenchDatasets.WikiFile), Wiki);
        File.WriteAllLines(Path.Combine(dir, BenchDatasets.Lm1bFile), lm1bLines);
        return dir;
    }
}
