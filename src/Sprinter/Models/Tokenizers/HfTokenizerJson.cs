using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sprinter.Models;

/// <summary>
/// What a byte-level BPE tokenizer needs from a Hugging Face <c>tokenizer.json</c> (GPT-2, Llama 3,
/// Qwen2, SmolLM2): the vocabulary, the merges, the pre-tokenizer's regex and the added tokens.
/// </summary>
/// <param name="Added">Added tokens (content -> id); matched verbatim in text before BPE.</param>
/// <param name="IgnoreMerges">A pre-token that is itself in the vocabulary is emitted whole (Llama 3).</param>
/// <param name="Nfc">The normalizer is Unicode NFC (Qwen2).</param>
/// <param name="BeginningOfSequence">The token the post-processor puts before every text (Llama 3's
/// TemplateProcessing), or that tokenizer_config.json asks for with add_bos_token; null for none.</param>
/// <param name="SentencePiece">Llama 2's SentencePiece-style BPE: spaces become U+2581 and a U+2581 is
/// prepended, the text is not pre-tokenized, and characters outside the vocabulary fall back to
/// &lt;0xXX&gt; byte tokens (Pattern is then unused).</param>
/// <param name="Metaspace">SentencePiece-style written with a Metaspace pre-tokenizer instead of a normalizer:
/// a segment that starts with a space gets no extra U+2581.</param>
/// <param name="PrefixFirstOnly">Metaspace's prepend_scheme "first": only the text's first segment gets the
/// U+2581 prefix, not the text after an added token.</param>
/// <param name="IndividualDigits">Every digit is cut out as its own piece before the regex runs on the rest
/// (a Digits pre-tokenizer with individual_digits before ByteLevel: SmolLM2, StarCoder).</param>
public sealed record HfTokenizerSpec(Dictionary<string, int> Vocab, List<string> Merges, string Pattern,
    Dictionary<string, int> Added, bool IgnoreMerges, bool Nfc, int? BeginningOfSequence = null, bool SentencePiece = false,
    bool Metaspace = false, bool PrefixFirstOnly = false, bool IndividualDigits = false);

/// <summary>
/// Reads tokenizer.json. Written here because Microsoft.ML.Tokenizers builds a BPE tokenizer from
/// a vocabulary, merges and a regex but does not read tokenizer.json itself; every shape outside
/// byte-level BPE gets one clear error naming the field.
/// </summary>
public static class HfTokenizerJson
{
    /// <summary>
    /// Added tokens are cut out of the text verbatim before a tokenizer model sees it: each segment
    /// between them goes to <paramref name="encodeSegment"/> (with its offset in the text), each added
    /// token becomes its id, in order.
    /// </summary>
    public static int[] EncodeAroundAddedTokens(string text, IReadOnlyDictionary<string, int>? added, Action<string, int, List<int>> encodeSegment)
    {
        var ids = new List<int>();
        for (int start = 0; start < text.Length;)
        {
            var (at, token) = NextAddedToken(text, start, added);
            if (at > start) encodeSegment(text[start..at], start, ids);
            if (token is null) break;
            ids.Add(added![token]);
            start = at + token.Length;
        }
        return [.. ids];
    }

    /// <summary>The first added token at or after <paramref name="from"/> (the longest at a tie), or the end of the text.</summary>
    static (int At, string? Token) NextAddedToken(string text, int from, IReadOnlyDictionary<string, int>? added)
    {
        int best = text.Length;
        string? found = null;
        if (added is not null)
            foreach (var token in added.Keys)
            {
                int i = text.IndexOf(token, from, StringComparison.Ordinal);
                if (i >= 0 && (i < best || (i == best && token.Length > found!.Length))) (best, found) = (i, token);
            }
        return (best, found);
    }

    public const string FileName = "tokenizer.json";

    public static HfTokenizerSpec Load(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: file not found.");
        var spec = Parse(File.ReadAllBytes(path), path);
        // tokenizer_config.json beside it may ask for a BOS token the post-processor does not add.
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (spec.BeginningOfSequence is null && TokenizerConfig.AddBos(folder) == true)
        {
            string? bos = TokenizerConfig.BosToken(folder);
            if (bos is null || !(spec.Added.TryGetValue(bos, out int id) || spec.Vocab.TryGetValue(bos, out id)))
                throw new InvalidInputException($"{Path.Combine(folder, TokenizerConfig.FileName)}: field 'bos_token' is {(bos is null ? "missing" : $"'{bos}'")}, not a token of {path}, while add_bos_token is true.");
            spec = spec with { BeginningOfSequence = id };
        }
        return spec;
    }

    public static HfTokenizerSpec Parse(byte[] bytes, string source)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(bytes) as JsonObject ?? throw new InvalidInputException($"{source}: expected a JSON object.");
            return FromJson(root, source);
        }
        catch (JsonException e) { throw new InvalidInputException($"{source}: not valid JSON ({Flat(e.Message)})."); }
        catch (InvalidOperationException e) { throw new InvalidInputException($"{source}: a field has the wrong JSON type ({Flat(e.Message)})."); }
        catch (ArgumentException e) { throw new InvalidInputException($"{source}: not a valid tokenizer ({Flat(e.Message)})."); }
    }

    static string Flat(string message) => message.ReplaceLineEndings(" ");

    static HfTokenizerSpec FromJson(JsonObject root, string source)
    {
        InvalidInputException Error(string field, string what) => new($"{source}: field '{field}' {Flat(what)}.");
        var model = root["model"] as JsonObject ?? throw Error("model", "is missing or not an object");
        string type = (string?)model["type"] ?? "BPE";
        if (type != "BPE") throw Error("model.type", $"is '{type}'; only BPE tokenizers are supported (for a unigram SentencePiece model there is no support yet)");
        bool sentencePiece = (bool?)model["byte_fallback"] == true;
        var vocabNode = model["vocab"] as JsonObject ?? throw Error("model.vocab", "is missing or not an object");
        var vocab = new Dictionary<string, int>(vocabNode.Count);
        foreach (var (token, id) in vocabNode)
        {
            if (id is not JsonValue v || !v.TryGetValue(out int n) || n < 0) throw Error("model.vocab", $"maps '{token}' to {id?.ToJsonString() ?? "null"}, not a non-negative integer id");
            vocab[token] = n;
        }
        if (vocab.Count == 0) throw Error("model.vocab", "is empty");
        var merges = new List<string>();
        foreach (var merge in model["merges"] as JsonArray ?? throw Error("model.merges", "is missing or not an array"))
        {
            string? pair = merge switch
            {
                JsonValue s when s.TryGetValue(out string? text) && text.Split(' ').Length == 2 => text,
                JsonArray { Count: 2 } a when a[0] is JsonValue l && l.TryGetValue(out string? left) && a[1] is JsonValue r && r.TryGetValue(out string? right) => $"{left} {right}",
                _ => null,
            };
            merges.Add(pair ?? throw Error("model.merges", $"holds {merge?.ToJsonString() ?? "null"}, not a pair of tokens"));
        }
        var added = new Dictionary<string, int>();
        if (root["added_tokens"] is JsonArray addedTokens)
            foreach (var token in addedTokens)
            {
                string? content = (string?)token?["content"];
                int? id = (int?)token?["id"];
                if (string.IsNullOrEmpty(content) || id is not >= 0) throw Error("added_tokens", $"holds {token?.ToJsonString() ?? "null"}, not an object with content and id");
                added[content] = id.Value;
            }
        bool nfc = false, metaspace = false, firstOnly = false, digits = false;
        string pattern = "";
        if (sentencePiece && root["normalizer"] is null && root["pre_tokenizer"] is JsonObject { } meta && (string?)meta["type"] == "Metaspace")
        {
            // The newer layout of the same tokenizer: no normalizer, a Metaspace pre-tokenizer that
            // writes spaces as U+2581 and prepends one ("always": every segment, as the layout below;
            // "first": only the text's start), without splitting.
            if ((string?)meta["replacement"] != "\u2581") throw Error("pre_tokenizer.replacement", $"is {Short(meta["replacement"])}; only U+2581 is supported");
            if ((bool?)meta["split"] == true) throw Error("pre_tokenizer.split", "is true; a splitting Metaspace is not supported");
            string scheme = (string?)meta["prepend_scheme"] ?? ((bool?)meta["add_prefix_space"] == false ? "never" : "always");
            if (scheme is not ("always" or "first")) throw Error("pre_tokenizer.prepend_scheme", $"is '{scheme}'; supported: always, first");
            (metaspace, firstOnly) = (true, scheme == "first");
        }
        else if (sentencePiece)
        {
            // Llama 2's layout: normalizer Prepend(U+2581) + Replace(" " -> U+2581), no pre-tokenizer.
            if (root["normalizer"] is not JsonObject { } n || (string?)n["type"] != "Sequence" || n["normalizers"] is not JsonArray { Count: 2 } steps
                || (string?)steps[0]?["type"] != "Prepend" || (string?)steps[0]?["prepend"] != "\u2581"
                || (string?)steps[1]?["type"] != "Replace" || (string?)steps[1]?["pattern"]?["String"] != " " || (string?)steps[1]?["content"] != "\u2581")
                throw Error("normalizer", $"is {Short(root["normalizer"])}; with byte_fallback only Llama 2's Prepend + Replace normalizer, or none with a Metaspace pre-tokenizer, is supported");
            if (root["pre_tokenizer"] is not null) throw Error("pre_tokenizer", $"is {Short(root["pre_tokenizer"])}; with byte_fallback only none is supported");
        }
        else
        {
            nfc = root["normalizer"] switch
            {
                null => false,
                JsonObject n when (string?)n["type"] == "NFC" => true,
                var n => throw Error("normalizer", $"is {Short(n)}; only none or NFC is supported"),
            };
            (pattern, digits) = PreTokenizerPattern(root["pre_tokenizer"], Error);
        }
        int maxId = Math.Max(vocab.Values.Max(), added.Count == 0 ? 0 : added.Values.Max());
        if (maxId >= 4 * (vocab.Count + added.Count) + 1024) throw Error("model.vocab", $"has ids up to {maxId} for {vocab.Count + added.Count} tokens; ids must be dense");
        return new HfTokenizerSpec(vocab, merges, pattern, added, (bool?)model["ignore_merges"] == true, nfc,
            TemplateBos(root["post_processor"], vocab, added, Error), sentencePiece, metaspace, firstOnly, digits);
    }

    /// <summary>The special token a TemplateProcessing post-processor (alone or in a Sequence) puts first.</summary>
    static int? TemplateBos(JsonNode? node, Dictionary<string, int> vocab, Dictionary<string, int> added, Func<string, string, InvalidInputException> error)
    {
        var template = node switch
        {
            JsonObject o when (string?)o["type"] == "TemplateProcessing" => o,
            JsonObject o when (string?)o["type"] == "Sequence" && o["processors"] is JsonArray list =>
                list.OfType<JsonObject>().FirstOrDefault(p => (string?)p["type"] == "TemplateProcessing"),
            _ => null,
        };
        if (template?["single"] is not JsonArray { Count: > 0 } single || single[0]?["SpecialToken"] is not JsonObject first) return null;
        string? content = (string?)first["id"];
        if (content is not null && (added.TryGetValue(content, out int id) || vocab.TryGetValue(content, out id))) return id;
        throw error("post_processor.single[0].SpecialToken.id", $"is {first["id"]?.ToJsonString() ?? "missing"}, not a token of the vocabulary");
    }

    static string Short(JsonNode? node)
    {
        string text = node?.ToJsonString() ?? "null";
        return text.Length <= 80 ? text : text[..80] + "...";
    }

    /// <summary>
    /// The regex that cuts text into pre-tokens: ByteLevel with use_regex (GPT-2's pattern), or a
    /// Sequence of one Split (its Regex, Isolated) and a ByteLevel without its own regex.
    /// </summary>
    static (string Pattern, bool IndividualDigits) PreTokenizerPattern(JsonNode? node, Func<string, string, InvalidInputException> error)
    {
        if (node is not JsonObject pre) throw error("pre_tokenizer", "is missing; byte-level BPE needs a ByteLevel pre-tokenizer");
        static bool IsByteLevel(JsonObject o) => (string?)o["type"] == "ByteLevel";
        void CheckByteLevel(JsonObject o)
        {
            if ((bool?)o["add_prefix_space"] == true) throw error("pre_tokenizer.add_prefix_space", "is true; not supported");
        }
        if (IsByteLevel(pre))
        {
            CheckByteLevel(pre);
            if ((bool?)pre["use_regex"] == false) throw error("pre_tokenizer.use_regex", "is false with no Split before it; the text would not be cut at all");
            return (Gpt2PreTokenizer.Pattern, false);
        }
        // SmolLM2's layout: Digits (each digit alone), then ByteLevel with its own GPT-2 regex.
        if ((string?)pre["type"] == "Sequence" && pre["pretokenizers"] is JsonArray { Count: 2 } pair && pair[0] is JsonObject d
            && (string?)d["type"] == "Digits" && pair[1] is JsonObject b && IsByteLevel(b))
        {
            if ((bool?)d["individual_digits"] != true) throw error("pre_tokenizer.pretokenizers[0].individual_digits", "is not true; only digits cut one by one are supported");
            CheckByteLevel(b);
            if ((bool?)b["use_regex"] == false) throw error("pre_tokenizer.pretokenizers[1].use_regex", "is false after Digits; not supported");
            return (Gpt2PreTokenizer.Pattern, true);
        }
        if ((string?)pre["type"] != "Sequence" || pre["pretokenizers"] is not JsonArray { Count: 2 } steps
            || steps[0] is not JsonObject split || steps[1] is not JsonObject byteLevel || !IsByteLevel(byteLevel))
            throw error("pre_tokenizer", $"is {Short(pre)}; supported: ByteLevel, or a Sequence of one Split and a ByteLevel");
        CheckByteLevel(byteLevel);
        if ((bool?)byteLevel["use_regex"] == true) throw error("pre_tokenizer.pretokenizers[1].use_regex", "is true after a Split; not supported");
        if ((string?)split["type"] != "Split" || (string?)split["behavior"] != "Isolated" || (bool?)split["invert"] == true)
            throw error("pre_tokenizer.pretokenizers[0]", $"is {Short(split)}; a Split with behavior Isolated is supported");
        string pattern = (string?)split["pattern"]?["Regex"] ?? throw error("pre_tokenizer.pretokenizers[0].pattern.Regex", "is missing");
        try { _ = new System.Text.RegularExpressions.Regex(pattern); }
        catch (ArgumentException e) { throw error("pre_tokenizer.pretokenizers[0].pattern.Regex", $"is not a regex .NET accepts ({Flat(e.Message)})"); }
        return (pattern, false);
    }
}
