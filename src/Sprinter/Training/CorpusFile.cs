using System.Text;

namespace Sprinter.Training;

/// <summary>
/// The corpus text format: UTF-8 without BOM, '\n' line ends, one paragraph per line, documents
/// separated by one blank line. Paragraphs never hold a line break, so the format needs no escaping.
/// </summary>
public static class CorpusFile
{
    public static void Write(string path, IEnumerable<IReadOnlyList<string>> documents)
    {
        using var writer = new StreamWriter(path, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        writer.NewLine = "\n";
        bool first = true;
        foreach (var document in documents)
        {
            if (!first) writer.WriteLine();
            first = false;
            foreach (string paragraph in document) writer.WriteLine(paragraph);
        }
    }

    /// <summary>The documents of a corpus file, each as its paragraphs.</summary>
    public static IEnumerable<IReadOnlyList<string>> ReadDocuments(string path)
    {
        if (!File.Exists(path))
            throw new InvalidInputException($"{path}: corpus file not found; build it first (sprinter corpus build) or pass the path to train.txt.");
        return ReadExisting(path);
    }

    static IEnumerable<IReadOnlyList<string>> ReadExisting(string path)
    {
        var document = new List<string>();
        foreach (string line in File.ReadLines(path, Encoding.UTF8))
        {
            if (line.Length > 0) { document.Add(line); continue; }
            if (document.Count > 0) yield return document;
            document = [];
        }
        if (document.Count > 0) yield return document;
    }

    /// <summary>A document as one text: its paragraphs joined by '\n' (how the tokenizer and the models see it).</summary>
    public static string Join(IReadOnlyList<string> document) => string.Join('\n', document);
}
