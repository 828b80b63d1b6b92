using System.Security.Cryptography;
using System.Text;

namespace Sprinter.Training;

/// <summary>
/// Builds the training corpus from the fetched sources: clean each text into paragraphs, drop
/// exact duplicate paragraphs, drop every sentence that also occurs in the evaluation text, split
/// whole documents into train and validation, and write train.txt, valid.txt and manifest.json.
/// </summary>
public static class CorpusBuilder
{
    public const string TrainFileName = "train.txt", ValidFileName = "valid.txt", ManifestFileName = "manifest.json";

    public static CorpusManifest Build(CorpusOptions options, IProgress<string>? progress = null) =>
        Build(options, CorpusSource.All, progress);

    /// <summary>The same with a chosen set of sources (tests use small synthetic ones).</summary>
    public static CorpusManifest Build(CorpusOptions options, IReadOnlyList<CorpusSource> sources, IProgress<string>? progress = null)
    {
        Validate(options, sources);
        progress?.Report($"reading {options.EvaluationFiles.Count} evaluation files");
        var overlap = EvaluationOverlap.FromFiles(options.EvaluationFiles);
        progress?.Report($"{overlap.SentenceCount:N0} distinct evaluation sentences to keep out");

        var seenParagraphs = new HashSet<string>(StringComparer.Ordinal);
        var train = new List<IReadOnlyList<string>>();
        var valid = new List<IReadOnlyList<string>>();
        var sourceRecords = new List<CorpusManifest.SourceRecord>();
        int duplicates = 0, overlapSentences = 0, overlapParagraphs = 0;
        foreach (var source in sources)
        {
            int documents = 0;
            foreach (var document in source.Read(Path.Combine(options.SourceFolder, source.Name)))
            {
                var kept = new List<string>();
                foreach (string paragraph in document.Paragraphs)
                {
                    if (!seenParagraphs.Add(paragraph)) { duplicates++; continue; }
                    var (cleaned, removed) = overlap.RemoveFrom(paragraph);
                    overlapSentences += removed;
                    if (cleaned.Length == 0) { overlapParagraphs++; continue; }
                    kept.Add(cleaned);
                }
                if (kept.Count == 0) continue;
                documents++;
                (DocumentSplit.IsValidation(document.Name, options.ValidationFraction) ? valid : train).Add(kept);
            }
            string tarball = Path.Combine(options.SourceFolder, source.Tarball);
            sourceRecords.Add(new(source.Name, source.Package, File.Exists(tarball) ? Sha256Of(tarball) : null, source.Licence, documents));
            progress?.Report($"{source.Name}: {documents:N0} documents");
        }

        Directory.CreateDirectory(options.OutputFolder);
        var manifest = new CorpusManifest
        {
            Format = "UTF-8, '\\n' line ends; one paragraph per line; documents separated by one blank line",
            Sources = sourceRecords,
            EvaluationFiles = options.EvaluationFiles.Select(p => new CorpusManifest.EvaluationFileRecord(
                Path.GetFullPath(p), Sha256Of(p), File.ReadLines(p).Count())).ToList(),
            SplitRule = "validation iff SHA-256(document name) read as a big-endian fraction of 2^64 < validation_fraction",
            ValidationFraction = options.ValidationFraction,
            Train = WriteSplit(Path.Combine(options.OutputFolder, TrainFileName), train),
            Valid = WriteSplit(Path.Combine(options.OutputFolder, ValidFileName), valid),
            DuplicateParagraphsDropped = duplicates,
            OverlapSentencesRemoved = overlapSentences,
            OverlapParagraphsDropped = overlapParagraphs,
        };
        manifest.Save(Path.Combine(options.OutputFolder, ManifestFileName));
        progress?.Report($"train {manifest.Train.Documents:N0} documents, {manifest.Train.Chars:N0} chars; valid {manifest.Valid.Documents:N0} documents, "
            + $"{manifest.Valid.Chars:N0} chars; {duplicates:N0} duplicate paragraphs dropped; {overlapSentences:N0} evaluation sentences removed");
        return manifest;
    }

    static void Validate(CorpusOptions options, IReadOnlyList<CorpusSource> sources)
    {
        foreach (var source in sources)
        {
            string folder = Path.Combine(options.SourceFolder, source.Name);
            if (!Directory.Exists(folder))
                throw new InvalidInputException($"{folder}: corpus source '{source.Name}' not found; run scripts/fetch-corpus.sh [CACHE_DIR] and pass that cache folder as the source folder.");
        }
        if (options.EvaluationFiles.Count == 0)
            throw new InvalidInputException("evaluation files: none given; pass the evaluation text so it can be kept out of the training text.");
        foreach (string path in options.EvaluationFiles)
            if (!File.Exists(path))
                throw new InvalidInputException($"{path}: evaluation file not found; pass the folder holding lm1b/ and wikitext2/ (default: the repository's data/ folder).");
        if (options.ValidationFraction is < 0 or >= 1 || double.IsNaN(options.ValidationFraction))
            throw new InvalidInputException($"validation fraction {options.ValidationFraction}: must be at least 0 and below 1, e.g. 0.02.");
    }

    static CorpusManifest.SplitCounts WriteSplit(string path, List<IReadOnlyList<string>> documents)
    {
        CorpusFile.Write(path, documents);
        string text = File.ReadAllText(path, Encoding.UTF8);
        return new(documents.Count, documents.Sum(d => d.Count), text.Length, new FileInfo(path).Length);
    }

    static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
