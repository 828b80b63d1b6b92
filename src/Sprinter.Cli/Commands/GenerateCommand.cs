using System.CommandLine;
using System.Text.Json.Nodes;
using Sprinter.Decoding;
using Sprinter.Models;
using Sprinter.Serving;
using Sprinter.Verification;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter generate</c>: stream a continuation with AR, SD or SPRINTER decoding.</summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var mode = new Option<string>("--mode") { Description = "ar (target only), ar-draft, sd (lossless speculative decoding) or sprinter (approximate verification, lossy in paper mode).", DefaultValueFactory = _ => "ar" };
        var model = new Option<string?>("--model", "--target") { Description = "Target model folder (the only model for --mode ar), or the http(s):// URL of an OpenAI-compatible server that serves it (vLLM, another Sprinter). Default: the shipped target." };
        var draft = new Option<string?>("--draft") { Description = "Draft model folder for sd/sprinter. Default: the shipped draft." };
        var verifier = new Option<string?>("--verifier") { Description = "SPRINTER verifier file, or constant:S for a fixed score S in [0,1]. Default: the shipped verifier." };
        var gamma = new Option<int>("--gamma") { Description = "SD: draft tokens per round.", DefaultValueFactory = _ => 4 };
        var threshold = new Option<float?>("--threshold") { Description = "SPRINTER: keep drafting while the verifier's score >= this. Default: the verifier's calibrated threshold, else 0.5." };
        var maxDraft = new Option<int>("--max-draft") { Description = "SPRINTER: cap on drafted tokens per round.", DefaultValueFactory = _ => 20 };
        var promptLookup = new Option<bool>("--prompt-lookup") { Description = "SD: try prompt lookup (copy a continuation from the prompt or output) before the draft model; lossless." };
        var sprinterMode = new Option<string>("--sprinter-mode") { Description = "paper (target tests only the round's last token; lossy), strict-on-call (tests every drafted token when called; lossless) or lossless (the shipped lossless SPRINTER: strict-on-call whose draft stops when the product of verifier scores since the last call is under --cumulative-threshold).", DefaultValueFactory = _ => "paper" };
        var prompt = new Option<string>("--prompt") { Description = "Text to continue.", Required = true };
        var chat = new Option<bool>("--chat") { Description = "Treat --prompt as a user message and format it with the target's chat template (tokenizer_config.json); only the reply is printed." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Number of new tokens.", DefaultValueFactory = _ => 50 };
        var stop = new Option<string[]>("--stop") { Description = "Text that ends the generation (not printed); repeat for several, as the server's 'stop'." };
        var dtype = CliSupport.DtypeOption();
        var json = CliSupport.JsonOption();
        var sampling = new CliSupport.SamplingOptionSet();
        var command = new Command("generate", "Generate text after a prompt, streaming it as tokens are committed.")
            { mode, model, draft, verifier, gamma, threshold, maxDraft, sprinterMode, promptLookup, prompt, chat, maxTokens, stop, dtype, json };
        sampling.AddTo(command);
        var rounds = new CliSupport.RoundOptionSet();
        rounds.AddTo(command);
        var remote = new RemoteTargetCli();
        remote.AddTo(command);
        command.SetAction(async (r, ct) =>
        {
            var samplingOptions = sampling.Read(r);
            int max = r.GetValue(maxTokens);
            if (max < 1) throw new InvalidInputException($"--max-tokens must be >= 1, got {max}.");
            string text = r.GetValue(prompt)!;
            if (text.Length == 0) throw new InvalidInputException("--prompt is empty; give some text to continue.");
            string[] stopTexts = r.GetValue(stop) ?? [];
            if (stopTexts.Any(t => t.Length == 0)) throw new InvalidInputException("--stop is empty; give the text that ends the generation.");
            var settings = new DecodingSettings
            {
                Mode = CliSupport.ParseMode(r.GetValue(mode)!),
                Gamma = r.GetValue(gamma),
                Threshold = r.GetValue(threshold),
                MaxDraft = r.GetValue(maxDraft),
                SprinterMode = CliSupport.ParseSprinterMode(r.GetValue(sprinterMode)!),
                PromptLookup = r.GetValue(promptLookup),
            };
            settings = rounds.Apply(r, settings);
            var weightType = CliSupport.ParseDtype(r.GetValue(dtype)!);
            int seed = r.GetValue(sampling.Seed);

            string? targetSpec = r.GetValue(model);
            bool remoteTarget = RemoteTargetCli.IsUrl(targetSpec) && settings.NeedsTarget;
            // A remote target: the draft is loaded here (its tokenizer also encodes the prompt), the target is an HTTP session.
            using var pair = ModelPair.Load(settings.NeedsTarget && !remoteTarget, targetSpec, settings.NeedsDraft || remoteTarget, r.GetValue(draft), weightType);
            var tokenizer = pair.Tokenizer;
            var verifierChoice = settings.Mode == DecodingMode.Sprinter
                ? VerifierLocator.Locate(r.GetValue(verifier), pair.Draft!, VerifierLocator.DecodingOf(samplingOptions), error) : null;
            var connection = remoteTarget ? remote.Connect(r, targetSpec!, pair.Draft!, samplingOptions, ct) : null;
            using var remoteClient = connection?.Session.Client;
            var (decoder, description) = DecoderFactory.Create(settings, pair.Target, settings.NeedsDraft ? pair.Draft : null, samplingOptions, seed, verifierChoice, connection?.Session);
            bool exact = connection is null || RemoteTargetCli.Exact(connection, samplingOptions);

            bool asChat = r.GetValue(chat);
            int[] ids;
            if (asChat)
            {
                var owner = (pair.Target ?? pair.Draft)!;
                var template = owner.ChatTemplate
                    ?? throw new InvalidInputException($"{owner.Source}: the model has no chat template (no 'chat_template' in tokenizer_config.json or tokenizer.chat_template in GGUF); drop --chat to continue plain text.");
                ids = ChatPrompt.Encode(tokenizer, template, [new ChatMessage("user", text)]);
            }
            else ids = tokenizer.EncodePrompt(text);
            bool asJson = r.GetValue(json);
            var emitted = new List<EmittedToken>();
            // The server's path from tokens to text: stop strings, and the end-of-sequence token ends the text without being printed.
            await using var generation = Generation.Start(decoder, tokenizer, pair.StopTokens, settings, ids, max, stopTexts); // checks the prompt length before anything is printed
            if (!asJson && !asChat) output.Write(text);
            await foreach (var piece in generation.ReadAllAsync(ct))
            {
                emitted.AddRange(piece.Tokens);
                if (!asJson) { output.Write(piece.Text); output.Flush(); }
            }
            var result = await generation.Result;
            var stats = result.Stats;
            if (asJson)
            {
                CliSupport.WriteJson(output, new JsonObject
                {
                    ["mode"] = stats.Mode,
                    ["lossless"] = stats.Lossless && exact,
                    ["target"] = connection is null ? null : new JsonObject { ["url"] = targetSpec, ["model"] = connection.Model, ["tokenizer_check"] = connection.TokenizerCheck, ["exactness"] = RemoteTargetCli.Exactness(connection, samplingOptions, stats.Lossless) },
                    ["models"] = description,
                    ["sampling"] = samplingOptions.ToString(),
                    ["prompt"] = text,
                    ["text"] = result.Text,
                    ["finish_reason"] = result.FinishReason,
                    ["prompt_token_ids"] = new JsonArray(ids.Select(i => (JsonNode)i).ToArray()),
                    ["token_ids"] = new JsonArray(emitted.Select(t => (JsonNode)t.Id).ToArray()),
                    ["provenance"] = new JsonArray(emitted.Select(t => (JsonNode)t.Provenance).ToArray()),
                    ["ms_per_token"] = Math.Round(stats.MsPerToken, 3),
                    ["tokens_per_second"] = Math.Round(stats.TokensPerSecond, 2),
                    ["stats"] = stats.ToJson(),
                });
            }
            else
            {
                output.WriteLine();
                string lossy = stats.Lossless && !exact ? "LOSSY: the remote target returned only a top list; sampling from it is approximate"
                    : stats.Lossless ? "lossless"
                    : stats.Mode == DecodingMethod.ArDraft.Name ? "LOSSY: every token is the draft's; the target never ran"
                    : "LOSSY: unverified tokens were never checked by the target";
                error.WriteLine($"[mode {stats.Mode} ({lossy}); {description}; {samplingOptions}]");
                error.WriteLine($"[{stats.Summary()}, {stats.TokensPerSecond:F1} tokens/s]");
                if (connection is not null && stats.Remote is { } rc)
                    error.WriteLine($"[remote target {connection.Model} at {targetSpec}: tokenizer {connection.TokenizerCheck}; {rc.Calls} HTTP calls ({rc.Retries} retried), " +
                        $"{(double)rc.Calls / Math.Max(1, stats.NewTokens):F2} calls/token, {rc.BytesSent / 1024.0:F1} KiB sent, {rc.BytesReceived / 1024.0:F1} KiB received, round trips {rc.RoundTripMs:F0} ms; {RemoteTargetCli.Exactness(connection, samplingOptions, stats.Lossless)}]");
            }
            return 0;
        });
        return command;
    }

}
