using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sprinter.Models;

namespace Sprinter.Fuzzing;

/// <summary>The outcome of a fuzz campaign: inputs that parsed, were refused with one clear line, or crashed.</summary>
public sealed record FuzzResult(string Parser, int Iterations, int Accepted, int Refused, List<string> Crashes);

/// <summary>
/// Mutation fuzzing of the parsers that read user input: config.json, tokenizer.json, SentencePiece
/// tokenizer.model, chat templates, sharded-weight indexes, whole GGUF files and the server's
/// request bodies. Each input is a valid seed with a few bytes edited, truncated, or
/// spliced with its own bytes; a parser must accept it or throw an InvalidInputException with one
/// line. The tests run 10,000 inputs per parser; `sprinter fuzz` runs longer campaigns.
/// </summary>
public static class ParserFuzzer
{
    public static readonly string[] Parsers = ["config", "tokenizer", "spm", "template", "index", "gguf", "request", "remote"];

    /// <param name="kind">0: edit 1-3 bytes; 1: truncate; else: splice in up to 40 of its own bytes.</param>
    public static byte[] Mutate(byte[] valid, Random rng, int kind, bool printable = true)
    {
        byte[] bytes = (byte[])valid.Clone();
        switch (kind % 3)
        {
            case 0:
                for (int i = 0; i < 1 + rng.Next(3); i++) bytes[rng.Next(bytes.Length)] = (byte)(printable ? rng.Next(32, 127) : rng.Next(256));
                return bytes;
            case 1: return bytes[..rng.Next(bytes.Length)];
            default:
                int at = rng.Next(bytes.Length), length = rng.Next(1, 40);
                return [.. bytes[..at], .. valid.Skip(rng.Next(valid.Length)).Take(length), .. bytes[at..]];
        }
    }

    public static FuzzResult Run(string parser, int iterations, int seed, IProgress<int>? progress = null)
    {
        var (seeds, parse) = Target(parser);
        var rng = new Random(seed);
        int accepted = 0, refused = 0;
        var crashes = new List<string>();
        for (int i = 0; i < iterations; i++)
        {
            byte[] input = Mutate(seeds[i % seeds.Length], rng, i / seeds.Length, printable: parser is not ("index" or "spm" or "gguf"));
            try { parse(input); accepted++; }
            catch (InvalidInputException e) when (!e.Message.Contains('\n')) { refused++; }
            catch (Exception e) { if (crashes.Count < 20) crashes.Add($"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} (input: {Convert.ToBase64String(input)})"); }
            if ((i + 1) % 1000 == 0) progress?.Report(i + 1);
        }
        return new FuzzResult(parser, iterations, accepted, refused, crashes);
    }

    static (byte[][] Seeds, Action<byte[]> Parse) Target(string parser) => parser switch
    {
        "config" => (ConfigSeeds(), bytes => ModelConfig.Parse(Encoding.UTF8.GetString(bytes), "config.json")),
        "tokenizer" => (TokenizerSeeds(), bytes =>
        {
            var tokenizer = Tokenizer.FromSpec(HfTokenizerJson.Parse(bytes, "tokenizer.json"), "tokenizer.json");
            tokenizer.Decode(tokenizer.Encode("the cat <s> sat"));
        }),
        "spm" => ([SentencePieceSeed()], bytes =>
        {
            var tokenizer = Tokenizer.FromSentencePieceModel(SentencePieceModelFile.Parse(bytes, "tokenizer.model"), bytes, "tokenizer.model", addBos: true);
            tokenizer.Decode(tokenizer.EncodePrompt("the cat <s> sat é"));
        }),
        "template" => (TemplateSeeds(), bytes => new ChatTemplate(Encoding.UTF8.GetString(bytes), "<s>", "</s>").Render(
            [new ChatMessage("system", "S"), new ChatMessage("user", "hi"), new ChatMessage("assistant", "yo"), new ChatMessage("user", "x\ny")])),
        "index" => (IndexSeeds(out string dir), bytes =>
        {
            string path = Path.Combine(dir, SafeTensorsSet.IndexFileName);
            File.WriteAllBytes(path, bytes);
            SafeTensorsSet.ParseIndex(path);
        }),
        "gguf" => (GgufSeeds(out string ggufDir), bytes =>
        {
            string path = Path.Combine(ggufDir, "fuzz.gguf");
            File.WriteAllBytes(path, bytes);
            using var model = LanguageModel.Load(path);
            model.Tokenizer.Decode(model.Tokenizer.EncodePrompt("the cat <s> sat"));
        }),
        "request" => (RequestSeeds(), bytes =>
        {
            // The seeds with a prompt are text completions; the others chat.
            if (bytes.AsSpan().IndexOf("\"prompt\""u8) >= 0) Serving.RequestParser.ParseCompletion(bytes);
            else Serving.RequestParser.ParseChat(bytes);
        }),
        "remote" => (RemoteSeeds(), bytes =>
        {
            // A remote target's answer: not JSON or the wrong shape is one line (RemoteTargetException, shown as such).
            System.Text.Json.Nodes.JsonNode node;
            try { node = System.Text.Json.Nodes.JsonNode.Parse(bytes) ?? throw new InvalidInputException("null body"); }
            catch (System.Text.Json.JsonException e) { throw new InvalidInputException("not JSON: " + e.Message.ReplaceLineEndings(" ")); }
            try { Remote.RemoteLogprobs.Parse(node, length: 3, rows: 3, vocabulary: 64); }
            catch (Remote.RemoteTargetException e) { throw new InvalidInputException(e.Message); }
        }),
        _ => throw new InvalidSettingException("parser", $"takes {string.Join(", ", Parsers)} or all, got '{parser}'."),
    };

    static byte[][] ConfigSeeds() =>
    [
        .. new[]
        {
            new ModelConfig { EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, MaxPositions = 64, VocabSize = 257, InnerSize = 128 },
            new ModelConfig
            {
                ModelType = "qwen3", EmbeddingSize = 32, LayerCount = 2, HeadCount = 4, KeyValueHeadCount = 2, MaxPositions = 64, VocabSize = 320,
                InnerSize = 48, Norm = NormKind.RmsNorm, Positions = PositionKind.Rope, Mlp = MlpKind.SwiGlu, QkvBias = false, LinearBias = false,
                HeadDimension = 12, QueryKeyNorm = true, RopeScaling = new RopeScaling("llama3", 8, 1, 4, 512),
            },
        }.Select(c => Encoding.UTF8.GetBytes(c.ToJson().ToJsonString())),
        Encoding.UTF8.GetBytes("""{"model_type": "gpt_neo", "hidden_size": 32, "num_layers": 2, "num_heads": 4, "max_position_embeddings": 64, "vocab_size": 257, "window_size": 5, "attention_types": [[["global", "local"], 1]]}"""),
    ];

    static byte[][] TokenizerSeeds()
    {
        var (vocabJson, mergesTxt) = RandomModel.ByteVocabulary([("t", "h"), ("th", "e"), ("Ġ", "a")]);
        var vocab = JsonNode.Parse(vocabJson)!.AsObject();
        var merges = new JsonArray(mergesTxt.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(m => (JsonNode)m).ToArray());
        var byteLevel = new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 256, ["content"] = "<|endoftext|>", ["special"] = true }),
            ["pre_tokenizer"] = JsonNode.Parse("""{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "'s|'t| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+"}, "behavior": "Isolated"}, {"type": "ByteLevel", "use_regex": false}]}"""),
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = merges },
        };
        var spVocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++) spVocab[$"<0x{b:X2}>"] = 3 + b;
        spVocab["\u2581"] = 259; spVocab["t"] = 260; spVocab["h"] = 261; spVocab["\u2581t"] = 262; spVocab["\u2581th"] = 263;
        var sentencePiece = JsonNode.Parse("""
            {"added_tokens": [{"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}],
             "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
             "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
             "model": {"type": "BPE", "byte_fallback": true, "merges": ["\u2581 t", "\u2581t h"]}}
            """)!;
        sentencePiece["model"]!["vocab"] = spVocab;
        var metaspace = sentencePiece.DeepClone();
        metaspace["normalizer"] = null;
        metaspace["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "\u2581", ["prepend_scheme"] = "first", ["split"] = false };
        return [Encoding.UTF8.GetBytes(byteLevel.ToJsonString()), Encoding.UTF8.GetBytes(sentencePiece.ToJsonString()), Encoding.UTF8.GetBytes(metaspace.ToJsonString())];
    }

    /// <summary>A small BPE tokenizer.model: unk, bos, eos, the 256 byte pieces and a few merges.</summary>
    internal static byte[] SentencePieceSeed()
    {
        var pieces = new List<SentencePiece> { new("<unk>", 0, PieceType.Unknown), new("<s>", 0, PieceType.Control), new("</s>", 0, PieceType.Control) };
        for (int b = 0; b < 256; b++) pieces.Add(new($"<0x{b:X2}>", 0, PieceType.Byte));
        string[] merged = ["\u2581t", "he", "\u2581the", "at", "\u2581c", "\u2581cat", "\u2581s"];
        foreach (var (piece, i) in merged.Select((p, i) => (p, i))) pieces.Add(new(piece, -i, PieceType.Normal));
        foreach (string c in new[] { "\u2581", "t", "h", "e", "c", "a", "s" }) pieces.Add(new(c, -100, PieceType.Normal));
        return new SentencePieceModelFile(pieces, SentencePieceModelFile.Bpe, ByteFallback: true, AddDummyPrefix: true,
            RemoveExtraWhitespaces: false, EscapeWhitespaces: true, UnknownId: 0, BeginId: 1, EndId: 2, PadId: -1).ToBytes();
    }

    static byte[][] TemplateSeeds() =>
    [
        .. new[]
        {
            "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}",
            "{%- set ns = namespace(last=messages|length - 1) %}\n{%- for m in messages[::-1] %}{%- if m.role == 'user' and not m.content.startswith('<tool') %}{%- set ns.last = (messages|length - 1) - loop.index0 %}{%- endif %}{%- endfor %}\n{%- for m in messages %}\n  {{- '<|im_start|>' + m.role + '\\n' + m.content.split('</think>')[-1].lstrip('\\n') + '<|im_end|>\\n' }}\n{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}",
            "{{ messages | map(attribute='role') | join(',') }} {{ {'a': [1, 2.5, none, true]} | tojson }} {{ 7 // 2 }} {{ 'x' ~ 7 if messages is defined else 'y' }}{% for m in messages if m.role != 'system' %}{{ loop.index }}{% endfor %}",
        }.Select(Encoding.UTF8.GetBytes),
    ];

    /// <summary>Two tiny GGUF files written by <see cref="GgufWriter"/>: a Llama with a byte-level BPE vocabulary and a GPT-2.</summary>
    static byte[][] GgufSeeds(out string dir)
    {
        dir = Path.Combine(Path.GetTempPath(), "sprinter-fuzz", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var (vocab, merges) = RandomModel.ByteVocabulary([("t", "h"), ("th", "e")]);
        var llama = new ModelConfig
        {
            ModelType = "llama", EmbeddingSize = 16, LayerCount = 1, HeadCount = 2, KeyValueHeadCount = 1, MaxPositions = 16, VocabSize = 259,
            InnerSize = 16, Norm = NormKind.RmsNorm, Positions = PositionKind.Rope, Mlp = MlpKind.SwiGlu, QkvBias = false, LinearBias = false,
        };
        var gpt2 = new ModelConfig { EmbeddingSize = 16, LayerCount = 1, HeadCount = 2, MaxPositions = 16, VocabSize = 259, InnerSize = 32 };
        var seeds = new List<byte[]>();
        foreach (var (config, name) in new[] { (llama, "llama"), (gpt2, "gpt2") })
        {
            string folder = Path.Combine(dir, name), file = Path.Combine(dir, name + ".gguf");
            RandomModel.WriteFolder(folder, config, RandomModel.CreateTensors(config, 1, lnNoise: 0.1f), vocab, merges);
            GgufWriter.Convert(folder, file, GgufType.F16);
            seeds.Add(File.ReadAllBytes(file));
        }
        return [.. seeds];
    }

    static byte[][] RequestSeeds() =>
    [
        .. new[]
        {
            """{"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], "max_tokens": 16, "temperature": 0.7, "top_p": 0.9, "seed": 42, "stop": ["\n", "User:"], "stream": true, "stream_options": {"include_usage": true}, "n": 1}""",
            """{"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}], "max_completion_tokens": 8, "logprobs": false, "sprinter": {"mode": "sprinter", "gamma": 3, "threshold": 0.4, "max_draft": 8, "sprinter_mode": "paper", "provenance": true}}""",
            """{"model": "m", "prompt": "The city", "max_tokens": 5, "temperature": 0, "stop": "x", "top_k": 40, "seed": null, "sprinter": {"mode": "sd"}}""",
            """{"model": "m", "prompt": [12, 7, 300, 5], "max_tokens": 1, "temperature": 0, "prompt_logprobs": 20, "logprobs": 20, "return_tokens_as_token_ids": true, "echo": false}""",
            """{"prompt": [[1, 2, 3]], "max_tokens": 0, "echo": true, "logprobs": -1, "response_format": {"type": "text"}, "logit_bias": {}, "presence_penalty": 0}""",
            """{"messages": [{"role": "user", "content": "hi"}], "logprobs": true, "top_logprobs": 5, "tools": [], "tool_choice": "none"}""",
        }.Select(Encoding.UTF8.GetBytes),
    ];

    static byte[][] RemoteSeeds() =>
    [
        .. new[]
        {
            """{"id": "cmpl-1", "object": "text_completion", "choices": [{"index": 0, "text": "x", "prompt_logprobs": [null, {"5": {"logprob": -1.5, "rank": 2, "decoded_token": "a"}, "7": {"logprob": -0.3, "rank": 1, "decoded_token": "b"}}, {"9": {"logprob": -0.01, "rank": 1}}], "logprobs": {"tokens": ["token_id:12"], "token_logprobs": [-0.2], "top_logprobs": [{"token_id:12": -0.2, "token_id:3": -2.5}], "text_offset": [0]}, "finish_reason": "length"}]}""",
            """{"choices": [{"prompt_logprobs": [null, {"1": {"logprob": -0.5}}, {"2": {"logprob": -0.7}, "63": {"logprob": -9}}], "logprobs": {"tokens": ["token_id:0"], "token_logprobs": [0], "top_logprobs": [{"token_id:0": 0}]}}]}""",
        }.Select(Encoding.UTF8.GetBytes),
    ];

    static byte[][] IndexSeeds(out string dir)
    {
        dir = Path.Combine(Path.GetTempPath(), "sprinter-fuzz", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        foreach (var shard in new[] { "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors" }) File.WriteAllBytes(Path.Combine(dir, shard), []);
        var map = new JsonObject();
        for (int l = 0; l < 4; l++) map[$"h.{l}.attn.c_attn.weight"] = $"model-0000{1 + l / 2}-of-00002.safetensors";
        return [Encoding.UTF8.GetBytes(new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = 1234 }, ["weight_map"] = map }.ToJsonString())];
    }
}
