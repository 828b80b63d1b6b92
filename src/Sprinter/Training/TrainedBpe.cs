using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sprinter.Training;

/// <summary>A trained byte-level BPE vocabulary and its merges, in GPT-2's file formats.</summary>
public sealed class TrainedBpe(IReadOnlyList<string> tokens, IReadOnlyList<(string Left, string Right)> merges)
{
    public const string VocabFileName = "vocab.json", MergesFileName = "merges.txt";

    /// <summary>Byte-level token strings by id; the last is &lt;|endoftext|&gt;.</summary>
    public IReadOnlyList<string> Tokens { get; } = tokens;
    public IReadOnlyList<(string Left, string Right)> Merges { get; } = merges;
    public int VocabSize => Tokens.Count;

    /// <summary>Writes vocab.json and merges.txt into <paramref name="folder"/> (created if missing).</summary>
    public (string VocabPath, string MergesPath) Save(string folder)
    {
        Directory.CreateDirectory(folder);
        string vocabPath = Path.Combine(folder, VocabFileName), mergesPath = Path.Combine(folder, MergesFileName);
        File.WriteAllBytes(vocabPath, VocabJson());
        File.WriteAllBytes(mergesPath, Encoding.UTF8.GetBytes(MergesText()));
        return (vocabPath, mergesPath);
    }

    /// <summary>token → id, one entry per line in id order, UTF-8, '\n' line ends whatever the OS.</summary>
    public byte[] VocabJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions
               { Indented = true, NewLine = "\n", Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            for (int id = 0; id < Tokens.Count; id++) json.WriteNumber(Tokens[id], id);
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>"#version: 0.2", then "left right" per merge in the order learned.</summary>
    public string MergesText()
    {
        var sb = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in Merges) sb.Append(left).Append(' ').Append(right).Append('\n');
        return sb.ToString();
    }
}
