using Sprinter.Training;

namespace Sprinter.Tests.Training;

public class CorpusTextTests
{
    [Fact]
    public void BrownTagsAreStrippedAndPunctuationAttached()
    {
        string tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc (/( 1/cd )/) Atlanta's/np$ 1/2/cd "
            + "'/' pro/jj '/' letters/nns were/bed won/vbn by/in Ivan/np Allen/np Jr./np ./. ``/`` Yes/rb ''/'' ./.\n";
        Assert.Equal(["The jury said \"no evidence,\" and (1) Atlanta's 1/2 'pro' letters were won by Ivan Allen Jr. \"Yes.\""],
            BrownText.Paragraphs(tagged));
    }

    [Fact]
    public void BrownParagraphsFollowTabsBlankLinesAndHeadlines()
    {
        string tagged = "\n\n\tOne/cd ./.\nTwo/cd ./.\n\n\n\tThree/cd !/.\n\n\nMerger/nn-hl proposed/vbn-hl \nHowever/wrb ,/, four/cd ./.\n";
        Assert.Equal(["One. Two.", "Three!", "Merger proposed", "However, four."], BrownText.Paragraphs(tagged));
    }

    [Fact]
    public void WhitespaceAndControlCharactersCollapseToSingleSpaces()
    {
        Assert.Equal("4 1 2 per cent and more", CorpusText.CollapseWhitespace("  4 1\u00022 per\tcent\r\n and\u00a0 more \n"));
    }

    [Fact]
    public void SentencesSplitAtEndsButNotAtAbbreviationsOrInitials()
    {
        Assert.Equal(["Mr. J. Smith went to the U.S. Senate.", "\"Was it 3.5 per cent?\" he asked.", "(Applause.)", "Yes!"],
            SentenceSplitter.Split("Mr. J. Smith went to the U.S. Senate. \"Was it 3.5 per cent?\" he asked. (Applause.) Yes!"));
    }

    [Fact]
    public void EvaluationSentencesAreRemovedWhateverTheirTokenization()
    {
        var overlap = EvaluationOverlap.FromLines(
        [
            "^ 1 2 3 4 5 6 7 8 9 0 ß ´ ° ! \" § $ % & / ( ) = ? ` ² ³ { [ ] } \\ + * ~ # ' _ - : . , ; > < | @ € We 're vital to Wal-Mart 's future .",
            " = Robert Boulter = ",
            " He had a guest @-@ starring role in 2 @,@ 000 episodes . This was followed by a play . ",
        ]);
        string paragraph = "It began well. We're vital to Wal-Mart's future. He had a guest-starring role in 2,000 episodes! It ended.";
        var (cleaned, removed) = overlap.RemoveFrom(paragraph);
        Assert.Equal("It began well. It ended.", cleaned);
        Assert.Equal(2, removed);
        Assert.True(overlap.Contains("THIS WAS FOLLOWED BY A PLAY"));
        Assert.False(overlap.Contains("This was followed by a film."));
        Assert.Equal(("", 1), overlap.RemoveFrom("This was followed by a play."));
    }

    [Fact]
    public void SplitIsFixedByTheDocumentName()
    {
        var names = Enumerable.Range(0, 5000).Select(i => $"sotu/doc{i}").ToList();
        var first = names.Where(n => DocumentSplit.IsValidation(n, 0.02)).ToList();
        var second = names.Where(n => DocumentSplit.IsValidation(n, 0.02)).ToList();
        Assert.Equal(first, second);
        Assert.InRange(first.Count, 60, 140); // 2% of 5000 = 100
        Assert.DoesNotContain(names, n => DocumentSplit.IsValidation(n, 0));
        Assert.Subset(names.Where(n => DocumentSplit.IsValidation(n, 0.1)).ToHashSet(), first.ToHashSet());
    }
}
