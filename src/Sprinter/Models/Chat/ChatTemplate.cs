using System.Text.Json;
using Sprinter.Models.Jinja;
using Dict = System.Collections.Generic.OrderedDictionary<string, object?>;

namespace Sprinter.Models;

/// <summary>One message of a conversation.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// A model's chat template (tokenizer_config.json's <c>chat_template</c>, Jinja) with its special
/// tokens, rendered as Hugging Face renders it (trim_blocks, lstrip_blocks) by the Jinja subset in
/// <see cref="Sprinter.Models.Jinja"/>.
/// </summary>
public sealed class ChatTemplate
{
    readonly List<Node> _nodes;
    readonly string? _bos, _eos;

    public string Source { get; }

    public ChatTemplate(string source, string? bosToken = null, string? eosToken = null)
    {
        Source = source;
        _nodes = JinjaParser.Parse(source);
        (_bos, _eos) = (bosToken, eosToken);
    }

    /// <summary>The template of a model folder, or null when its tokenizer_config.json has none.</summary>
    public static ChatTemplate? Load(string folder)
    {
        string path = Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(path)) return null;
        JsonElement root;
        try { root = JsonDocument.Parse(File.ReadAllBytes(path)).RootElement; }
        catch (JsonException e) { throw new InvalidInputException($"{path}: not valid JSON ({e.Message.ReplaceLineEndings(" ")})."); }
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("chat_template", out var template)) return null;
        string? source = template.ValueKind switch
        {
            JsonValueKind.String => template.GetString(),
            // A list of named templates: the default one.
            JsonValueKind.Array => template.EnumerateArray().FirstOrDefault(t => t.ValueKind == JsonValueKind.Object && t.TryGetProperty("name", out var n) && n.ValueEquals("default")) is { ValueKind: JsonValueKind.Object } d
                && d.TryGetProperty("template", out var body) && body.ValueKind == JsonValueKind.String ? body.GetString() : null,
            _ => null,
        };
        if (source is null) throw new InvalidInputException($"{path}: field 'chat_template' is neither a string nor a list holding a 'default' template.");
        try { return new ChatTemplate(source, Token(root, "bos_token"), Token(root, "eos_token")); }
        catch (InvalidInputException e) { throw new InvalidInputException($"{path}: {e.Message}"); }
    }

    static string? Token(JsonElement root, string name) => root.TryGetProperty(name, out var t) ? t.ValueKind switch
    {
        JsonValueKind.String => t.GetString(),
        JsonValueKind.Object when t.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
        _ => null,
    } : null;

    /// <summary>The prompt text for <paramref name="messages"/>, ending with the assistant's turn when asked.</summary>
    public string Render(IEnumerable<ChatMessage> messages, bool addGenerationPrompt = true) =>
        JinjaRuntime.Render(_nodes, new Dictionary<string, object?>
        {
            ["messages"] = messages.Select(m => (object?)new Dict { ["role"] = m.Role, ["content"] = m.Content }).ToList(),
            ["add_generation_prompt"] = addGenerationPrompt,
            ["bos_token"] = _bos ?? "",
            ["eos_token"] = _eos ?? "",
        });

    /// <summary>Renders with an arbitrary JSON context (the tests' conformance cases).</summary>
    public static string Render(string template, JsonElement context) =>
        JinjaRuntime.Render(JinjaParser.Parse(template), context.EnumerateObject().ToDictionary(p => p.Name, p => JinjaRuntime.FromJson(p.Value)));
}
