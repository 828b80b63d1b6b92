using System.Security.Cryptography;
using Sprinter.Benchmarks;

namespace Sprinter.Tests.Benchmarks;

/// <summary>The evaluation data the repository carries (data/README.md): byte-identical to its sources, and the default.</summary>
public class DataFolderTests
{
    static readonly (string File, string Sha256)[] Files =
    [
        ("lm1b/news.en.heldout-00000-of-00050", "3097005d1aa979644d20bb9920c02c8c0f78ffb532f8658ab79b3ddd44e3db9f"),
        ("wikitext2/wiki.test.raw", "4f3e427e4aff23acff917a8a51aeae21bf12832256e26914c8fc250dcef4103c"),
    ];

    static string RepositoryRoot() => TestModels.RepositoryRoot();

    static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void CarriedFilesHaveTheirPublishedSha256AndEqualSharedData()
    {
        string root = RepositoryRoot();
        foreach (var (file, sha) in Files)
        {
            string carried = Path.Combine(root, "data", file);
            Assert.Equal(sha, Sha256(carried));
            string shared = Path.Combine(root, "..", "shared", "data", file);
            if (File.Exists(shared)) Assert.Equal(File.ReadAllBytes(shared), File.ReadAllBytes(carried));
        }
    }

    [Fact]
    public void TheDefaultDataFolderIsTheCarriedOne()
    {
        string root = RepositoryRoot();
        Assert.Equal(Path.Combine(root, "data"), BenchDatasets.DefaultDataDir(Path.Combine(root, "src", "Sprinter")));
        // An installed tool finds the copy beside its executable (the test output holds the CLI and its data/).
        Assert.Equal(Path.Combine(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar), "data"), BenchDatasets.DefaultDataDir(AppContext.BaseDirectory));
    }
}
