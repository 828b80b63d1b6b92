using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sprinter.Training;

/// <summary>manifest.json: where the corpus came from and what the cleaning did to it.</summary>
public sealed record CorpusManifest
{
    public required string Format { get; init; }
    public required IReadOnlyList<SourceRecord> Sources { get; init; }
    public required IReadOnlyList<EvaluationFileRecord> EvaluationFiles { get; init; }
    public required string SplitRule { get; init; }
    public required double ValidationFraction { get; init; }
    public required SplitCounts Train { get; init; }
    public required SplitCounts Valid { get; init; }
    public required int DuplicateParagraphsDropped { get; init; }
    public required int OverlapSentencesRemoved { get; init; }
    public required int OverlapParagraphsDropped { get; init; }

    /// <param name="Sha256">of the npm tarball; null when the tarball is not next to the extracted source</param>
    public sealed record SourceRecord(string Name, string Package, string? Sha256, string Licence, int Documents);

    public sealed record EvaluationFileRecord(string Path, string Sha256, int Lines);

    /// <param name="Chars">UTF-16 chars of the written file; <paramref name="Bytes"/> its UTF-8 size</param>
    public sealed record SplitCounts(int Documents, int Paragraphs, long Chars, long Bytes);

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, JsonOptions) + "\n");

    public static CorpusManifest Load(string path) =>
        JsonSerializer.Deserialize<CorpusManifest>(File.ReadAllText(path), JsonOptions)
        ?? throw new InvalidInputException($"{path}: not a corpus manifest; rebuild the corpus.");
}
