using System.Text;
using Sprinter.Training;

namespace Sprinter.Tests.Training;

public class CorpusBuilderTests
{
    /// <summary>A source folder in fetch-corpus.sh's layout with two speeches and two Brown texts, plus evaluation files.</summary>
    static (string Sources, string[] Evaluation) SyntheticInputs()
    {
        string root = TestModels.TempDir();
        string sotu = Directory.CreateDirectory(Path.Combine(root, "sources", "sotu", "data")).FullName;
        File.WriteAllText(Path.Combine(sotu, "1790_george_washington_n.txt"),
            "Fellow-Citizens of the Senate.  We meet again. It was all my fault.\nThank you.\n");
        File.WriteAllText(Path.Combine(sotu, "1791_george_washington_n.txt"), "Thank you.\nA second   speech.");
        string brown = Directory.CreateDirectory(Path.Combine(root, "sources", "brown")).FullName;
        File.WriteAllText(Path.Combine(brown, "ca01"), "\n\n\tThe/at jury/nn said/vbd ./.\n");
        File.WriteAllText(Path.Combine(brown, "cb01"), "\n\n\tIt/pps was/bedz all/abn my/pp$ fault/nn ./.\n");
        File.WriteAllText(Path.Combine(brown, "cats.txt"), "ca01 news\n");
        string lm1b = Path.Combine(root, "lm1b.txt"), wiki = Path.Combine(root, "wiki.txt");
        File.WriteAllText(lm1b, "It was all my fault .\n");
        File.WriteAllText(wiki, " = Title = \n");
        return (Path.Combine(root, "sources"), [lm1b, wiki]);
    }

    [Fact]
    public void BuildCleansDeduplicatesRemovesOverlapAndSplits()
    {
        var (sources, evaluation) = SyntheticInputs();
        string output = TestModels.TempDir();
        var manifest = CorpusBuilder.Build(new CorpusOptions { SourceFolder = sources, OutputFolder = output, EvaluationFiles = evaluation, ValidationFraction = 0 });

        var documents = CorpusFile.ReadDocuments(Path.Combine(output, CorpusBuilder.TrainFileName)).ToList();
        Assert.Equal(
        [
            ["Fellow-Citizens of the Senate. We meet again.", "Thank you."],
            ["A second speech."],
            ["The jury said."],
        ], documents);
        Assert.Empty(File.ReadAllText(Path.Combine(output, CorpusBuilder.ValidFileName)));
        Assert.Equal(1, manifest.DuplicateParagraphsDropped);
        Assert.Equal(2, manifest.OverlapSentencesRemoved);
        Assert.Equal(1, manifest.OverlapParagraphsDropped);
        Assert.Equal(3, manifest.Train.Documents);
        Assert.Equal(File.ReadAllText(Path.Combine(output, CorpusBuilder.TrainFileName)).Length, manifest.Train.Chars);
        Assert.Equal([2, 1], manifest.Sources.Select(s => s.Documents));
        Assert.All(manifest.Sources, s => Assert.Null(s.Sha256)); // no tarballs in the synthetic folder
        Assert.Equal(manifest.Train, CorpusManifest.Load(Path.Combine(output, CorpusBuilder.ManifestFileName)).Train);
    }

    [Fact]
    public void BuildingTwiceWritesIdenticalFilesAndSplitsByDocument()
    {
        var (sources, evaluation) = SyntheticInputs();
        string first = TestModels.TempDir(), second = TestModels.TempDir();
        foreach (string output in new[] { first, second })
            CorpusBuilder.Build(new CorpusOptions { SourceFolder = sources, OutputFolder = output, EvaluationFiles = evaluation, ValidationFraction = 0.5 });
        foreach (string name in new[] { CorpusBuilder.TrainFileName, CorpusBuilder.ValidFileName, CorpusBuilder.ManifestFileName })
            Assert.Equal(File.ReadAllBytes(Path.Combine(first, name)), File.ReadAllBytes(Path.Combine(second, name)));

        var valid = CorpusFile.ReadDocuments(Path.Combine(first, CorpusBuilder.ValidFileName)).Select(d => d[0]).ToList();
        var expected = new Dictionary<string, string>
        {
            ["sotu/1790_george_washington_n"] = "Fellow-Citizens of the Senate. We meet again.",
            ["sotu/1791_george_washington_n"] = "A second speech.",
            ["brown/ca01"] = "The jury said.",
        }.Where(kv => DocumentSplit.IsValidation(kv.Key, 0.5)).Select(kv => kv.Value);
        Assert.Equal(expected, valid);
    }

    [Fact]
    public void MissingSourceFolderIsInvalidInput()
    {
        var (_, evaluation) = SyntheticInputs();
        string missing = Path.Combine(TestModels.TempDir(), "nowhere");
        var error = Assert.Throws<InvalidInputException>(() =>
            CorpusBuilder.Build(new CorpusOptions { SourceFolder = missing, OutputFolder = TestModels.TempDir(), EvaluationFiles = evaluation }));
        Assert.Contains(Path.Combine(missing, "sotu"), error.Message);
        Assert.Contains("fetch-corpus.sh", error.Message);
    }

    [Fact]
    public void MissingEvaluationFileIsInvalidInput()
    {
        var (sources, evaluation) = SyntheticInputs();
        string missing = evaluation[0] + ".missing";
        var error = Assert.Throws<InvalidInputException>(() =>
            CorpusBuilder.Build(new CorpusOptions { SourceFolder = sources, OutputFolder = TestModels.TempDir(), EvaluationFiles = [missing, evaluation[1]] }));
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void CorpusFileKeepsDocumentsAndParagraphs()
    {
        string path = Path.Combine(TestModels.TempDir(), "c.txt");
        IReadOnlyList<string>[] documents = [["a b", "c"], ["d"]];
        CorpusFile.Write(path, documents);
        Assert.Equal("a b\nc\n\nd\n", File.ReadAllText(path, Encoding.UTF8));
        Assert.Equal(documents, CorpusFile.ReadDocuments(path));
    }
}
