using Sprinter.Models;

namespace Sprinter.Serving;

/// <summary>
/// Turns a conversation into prompt ids: with the model's chat template when its
/// tokenizer_config.json has one, else with the plain format below.
/// </summary>
public static class ChatPrompt
{
    /// <summary>
    /// The plain format, for models without a template (the shipped GPT-2 pair): each message as
    /// "Role: content" followed by a blank line, then "Assistant:" for the reply to follow.
    /// Roles are capitalised (System, User, Assistant, Tool).
    /// </summary>
    public static string Plain(IEnumerable<ChatMessage> messages)
    {
        var text = new System.Text.StringBuilder();
        foreach (var m in messages)
            text.Append(char.ToUpperInvariant(m.Role[0])).Append(m.Role.AsSpan(1)).Append(": ").Append(m.Content).Append("\n\n");
        return text.Append("Assistant:").ToString();
    }

    /// <param name="template">The model's template, or null for the plain format.</param>
    public static int[] Encode(Tokenizer tokenizer, ChatTemplate? template, IReadOnlyList<ChatMessage> messages) =>
        template is null
            ? tokenizer.EncodePrompt(Plain(messages))
            : tokenizer.Encode(template.Render(messages));   // the template writes the BOS token itself
}
