using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sprinter.Models;

/// <summary>The fields of a folder's tokenizer_config.json that tokenizers read (add_bos_token, bos_token).</summary>
public static class TokenizerConfig
{
    public const string FileName = "tokenizer_config.json";

    /// <summary>add_bos_token of the folder's tokenizer_config.json; null when the file or the field is absent.</summary>
    public static bool? AddBos(string folder) => Read(folder) is { } o && o["add_bos_token"] is JsonValue v && v.TryGetValue(out bool yes) ? yes : null;

    /// <summary>The bos_token's text (a string, or an object with content), or null.</summary>
    public static string? BosToken(string folder) => Read(folder)?["bos_token"] switch
    {
        JsonValue v when v.TryGetValue(out string? s) => s,
        JsonObject t => (string?)t["content"],
        _ => null,
    };

    static JsonObject? Read(string folder)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllBytes(path)) as JsonObject; }
        catch (JsonException e) { throw new InvalidInputException($"{path}: not valid JSON ({e.Message.ReplaceLineEndings(" ")})."); }
    }
}
