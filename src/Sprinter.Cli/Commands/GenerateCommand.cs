using System.CommandLine;
using System.Text;
using System.Text.Json.Nodes;
using Sprinter.Decoding;
using Sprinter.Models;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter generate</c>: stream a continuation of a prompt.</summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<string?>("--model") { Description = "Model folder for autoregressive decoding. Default: the shipped target." };
        var prompt = new Option<string>("--prompt") { Description = "Text to continue.", Required = true };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Number of new tokens.", DefaultValueFactory = _ => 50 };
        var dtype = CliSupport.DtypeOption();
        var json = CliSupport.JsonOption();
        var sampling = new CliSupport.SamplingOptionSet();
        var command = new Command("generate", "Generate text after a prompt, streaming it as it is produced.") { model, prompt, maxTokens, dtype, json };
        sampling.AddTo(command);
        command.SetAction(async (r, ct) =>
        {
            var options = sampling.Read(r);
            int max = r.GetValue(maxTokens);
            if (max < 1) throw new InvalidInputException($"--max-tokens must be >= 1, got {max}.");
            string text = r.GetValue(prompt)!;
            if (text.Length == 0) throw new InvalidInputException("--prompt is empty; give some text to continue.");
            string folder = CliSupport.ResolveModel(r.GetValue(model), "target", "--model");
            using var lm = LanguageModel.Load(folder, CliSupport.ParseDtype(r.GetValue(dtype)!));
            int[] ids = lm.Tokenizer.Encode(text);
            var decoder = new AutoregressiveDecoder(lm.Model.CreateSession(), options, r.GetValue(sampling.Seed));
            var stream = lm.Tokenizer.CreateStreamingDecoder();
            bool asJson = r.GetValue(json);
            var tokens = new List<int>();
            var produced = new StringBuilder();
            if (!asJson) output.Write(text);
            await foreach (var token in decoder.GenerateAsync(ids, max, lm.Tokenizer.EndOfText, ct))
            {
                tokens.Add(token.Id);
                string piece = stream.Append(token.Id);
                produced.Append(piece);
                if (!asJson) { output.Write(piece); output.Flush(); }
            }
            string tail = stream.Flush();
            produced.Append(tail);
            var timing = decoder.LastTiming!;
            if (asJson)
            {
                CliSupport.WriteJson(output, new JsonObject
                {
                    ["mode"] = "ar",
                    ["lossless"] = true,
                    ["model"] = folder,
                    ["sampling"] = options.ToString(),
                    ["prompt"] = text,
                    ["text"] = produced.ToString(),
                    ["prompt_token_ids"] = new JsonArray(ids.Select(i => (JsonNode)i).ToArray()),
                    ["token_ids"] = new JsonArray(tokens.Select(i => (JsonNode)i).ToArray()),
                    ["new_tokens"] = tokens.Count,
                    ["prefill_ms"] = Math.Round(timing.PrefillMs, 3),
                    ["ms_per_token"] = Math.Round(timing.MsPerToken, 3),
                    ["tokens_per_second"] = Math.Round(timing.TokensPerSecond, 2),
                });
            }
            else
            {
                output.WriteLine(tail);
                error.WriteLine($"[mode ar (lossless), {lm.Name}, {options}] {tokens.Count} tokens, prompt {ids.Length} tokens in {timing.PrefillMs:F1} ms, " +
                                $"{timing.MsPerToken:F2} ms/token, {timing.TokensPerSecond:F1} tokens/s");
            }
            return 0;
        });
        return command;
    }
}
