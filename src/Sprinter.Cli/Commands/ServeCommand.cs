using System.CommandLine;
using Sprinter.Decoding;
using Sprinter.Server;
using Sprinter.Serving;
using Sprinter.Verification;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter serve</c>: the OpenAI-compatible HTTP server.</summary>
internal static class ServeCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var host = new Option<string>("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0: any free port).", DefaultValueFactory = _ => 8080 };
        var target = new Option<string?>("--target", "--model") { Description = "Target model folder, or the http(s):// URL of an OpenAI-compatible server serving it (vLLM, another Sprinter): this server is then a front end with the local draft and verifier. Default: the shipped target." };
        var remote = new RemoteTargetCli();
        var draft = new Option<string?>("--draft") { Description = "Draft model folder (sd, sprinter). Default: the shipped draft; not loaded with --mode ar." };
        var verifier = new Option<string?>("--verifier") { Description = "SPRINTER verifier file, or constant:S. Default: the shipped verifier for the request's decoding (greedy or sample)." };
        var mode = new Option<string>("--mode") { Description = "Decoding when a request does not say: sd (lossless, default), ar (lossless, target only) or sprinter (lossy in paper mode). Requests choose with their 'sprinter' object.", DefaultValueFactory = _ => "sd" };
        var gamma = new Option<int>("--gamma") { Description = "SD: draft tokens per round (default of requests).", DefaultValueFactory = _ => 4 };
        var threshold = new Option<float?>("--threshold") { Description = "SPRINTER: verifier threshold. Default: the verifier's calibrated one, else 0.5." };
        var maxDraft = new Option<int>("--max-draft") { Description = "SPRINTER: cap on drafted tokens per round.", DefaultValueFactory = _ => 20 };
        var sprinterMode = new Option<string>("--sprinter-mode") { Description = "paper (lossy), strict-on-call (lossless) or lossless (strict-on-call with the cumulative stop rule; the shipped lossless SPRINTER).", DefaultValueFactory = _ => "paper" };
        var maxConcurrent = new Option<int>("--max-batch", "--max-concurrent") { Description = "Generations that run at once, as one batch (sequences per pass); more wait in the queue.", DefaultValueFactory = _ => 16 };
        var noBatching = new Option<bool>("--no-batching") { Description = "Run each generation on a thread of its own instead of one continuous batch (the pre-batching server, for comparison)." };
        var fixedGamma = new Option<bool>("--fixed-gamma") { Description = "SD drafts its gamma at every load (default: a measured cost model lowers it, down to plain AR steps, when the batch makes the target pass compute-bound)." };
        var prefillChunk = new Option<int>("--prefill-chunk") { Description = "Prompt positions a joining request caches per step while the batch decodes.", DefaultValueFactory = _ => 32 };
        var promptLookup = new Option<bool>("--prompt-lookup") { Description = "SD: try prompt lookup (copy a continuation from the prompt or output) before the draft model (default of requests)." };
        var queue = new Option<int>("--queue") { Description = "Generations that may wait for a slot; beyond that a request gets 429 with Retry-After.", DefaultValueFactory = _ => 128 };
        var maxPrompt = new Option<int?>("--max-prompt-tokens") { Description = "Longest prompt accepted (400 beyond). Default: what the context allows." };
        var defaultMaxTokens = new Option<int>("--default-max-tokens") { Description = "New tokens when a request gives no max_tokens.", DefaultValueFactory = _ => 256 };
        var maxBody = new Option<int>("--max-body-bytes") { Description = "Largest request body accepted (400 beyond).", DefaultValueFactory = _ => 1 << 20 };
        var dtype = CliSupport.DtypeOption();
        var debugDelay = new Option<int>("--debug-delay-ms") { Description = "Testing aid: each completion call waits this many ms first (an added network round trip for remote-target measurements).", DefaultValueFactory = _ => 0 };
        var debugFail = new Option<double>("--debug-fail-rate") { Description = "Testing aid: this share of completion calls fails (a 503 or a dropped connection, alternately) to exercise clients' retries.", DefaultValueFactory = _ => 0 };
        var debugSeed = new Option<int>("--debug-seed") { Description = "Testing aid: seed of the injected faults.", DefaultValueFactory = _ => 0 };
        var command = new Command("serve", "Serve the models over an OpenAI-compatible HTTP API (chat and text completions, streaming, /v1/models, /health, Prometheus /metrics).")
            { host, port, target, draft, verifier, mode, gamma, threshold, maxDraft, sprinterMode, promptLookup, maxConcurrent, noBatching, fixedGamma, prefillChunk, queue, maxPrompt, defaultMaxTokens, maxBody, dtype, debugDelay, debugFail, debugSeed };
        var rounds = new CliSupport.RoundOptionSet();
        rounds.AddTo(command);
        remote.AddTo(command);
        command.SetAction(async (r, ct) =>
        {
            var settings = new DecodingSettings
            {
                Mode = CliSupport.ParseMode(r.GetValue(mode)!, served: true),
                Gamma = r.GetValue(gamma),
                Threshold = r.GetValue(threshold),
                MaxDraft = r.GetValue(maxDraft),
                SprinterMode = CliSupport.ParseSprinterMode(r.GetValue(sprinterMode)!),
                PromptLookup = r.GetValue(promptLookup),
            };
            settings = rounds.Apply(r, settings);
            var options = new ServingOptions
            {
                Decoding = settings,
                MaxConcurrent = Positive(r.GetValue(maxConcurrent), "--max-batch (--max-concurrent)"),
                Batching = !r.GetValue(noBatching),
                AdaptiveGamma = !r.GetValue(fixedGamma),
                PrefillChunk = Positive(r.GetValue(prefillChunk), "--prefill-chunk"),
                MaxQueue = r.GetValue(queue) is >= 0 and var q ? q : throw new InvalidInputException($"--queue must be >= 0, got {r.GetValue(queue)}."),
                MaxPromptTokens = r.GetValue(maxPrompt) is int mp ? Positive(mp, "--max-prompt-tokens") : null,
                DefaultMaxTokens = Positive(r.GetValue(defaultMaxTokens), "--default-max-tokens"),
            };
            var serverOptions = new ServerOptions
            {
                Host = r.GetValue(host)!, Port = r.GetValue(port), MaxBodyBytes = Positive(r.GetValue(maxBody), "--max-body-bytes"),
                DebugDelayMs = r.GetValue(debugDelay) is >= 0 and var dd ? dd : throw new InvalidInputException($"--debug-delay-ms must be >= 0, got {r.GetValue(debugDelay)}."),
                DebugFailRate = r.GetValue(debugFail) is >= 0 and < 1 and var fr ? fr : throw new InvalidInputException($"--debug-fail-rate must be in [0, 1), got {r.GetValue(debugFail)}."),
                DebugSeed = r.GetValue(debugSeed),
            };
            if (serverOptions.Port is < 0 or > 65535) throw new InvalidInputException($"--port must be in [0, 65535], got {serverOptions.Port}.");
            string? verifierSpec = r.GetValue(verifier);
            if (verifierSpec is not null) VerifierLocator.CheckFile(verifierSpec);

            // Lossless by default: the draft is loaded for SD, and SPRINTER is there for requests that ask.
            string? targetSpec = r.GetValue(target);
            bool remoteTarget = RemoteTargetCli.IsUrl(targetSpec);
            bool needsDraft = settings.Mode != DecodingMode.Ar || r.GetValue(draft) is not null || remoteTarget;
            using var pair = ModelPair.Load(needsTarget: !remoteTarget, targetSpec, needsDraft, r.GetValue(draft), CliSupport.ParseDtype(r.GetValue(dtype)!));
            Func<string, VerifierChoice>? verifiers = pair.Draft is null ? null : decoding => VerifierLocator.Locate(verifierSpec, pair.Draft, decoding, error);
            RemoteTargetSource? source = null;
            if (remoteTarget)
            {
                // One connection checks the tokenizer now; each generation then opens a session of its own.
                var connection = remote.Connect(r, targetSpec!, pair.Draft!, Sprinter.Decoding.SamplingOptions.Greedy, ct);
                source = new RemoteTargetSource(connection.Session.Client.Options, connection.Model, pair.Draft!.Model.OutputVocabulary, connection.Capacity);
                connection.Session.Client.Dispose();
                output.WriteLine($"target: {connection.Model} at {targetSpec} (tokenizer {connection.TokenizerCheck}; top-{source.Options.TopLogprobs} logprobs per position{(source.FullDistribution ? "" : ": greedy requests only are lossless")})");
            }
            using var service = new GenerationService(pair.Target, pair.Draft, options, verifiers, source);
            if (settings.Mode == DecodingMode.Sprinter) verifiers!("greedy");   // a bad verifier stops the start, not the first request
            await using var server = await StartServer(service, serverOptions);
            output.WriteLine($"sprinter serve: {service.ModelId} on {server.Address} (OpenAI API at {server.Address}v1); default mode {DecodingNames.Name(settings.Mode)} " +
                $"({(settings.Lossless ? "lossless" : "LOSSY")}), {options.MaxConcurrent} at once{(options.Batching ? " in one batch" : ", unbatched")}, queue {options.MaxQueue}" +
                (serverOptions.DebugDelayMs > 0 || serverOptions.DebugFailRate > 0 ? $"; TESTING AIDS ON: +{serverOptions.DebugDelayMs} ms per call, {serverOptions.DebugFailRate:P0} injected faults" : "") + ". Ctrl+C stops.");
            if (service.Scheduler is { } scheduler)
                output.WriteLine("pass cost model (ms, target / draft): " + string.Join(", ", scheduler.CostModel.Table().Take(8).Select(c => $"{c.Rows}: {c.TargetMs:0.00}/{c.DraftMs:0.00}")));
            output.Flush();
            try { await server.WaitAsync(ct); }
            catch (OperationCanceledException) { }
            return 0;
        });
        return command;
    }

    static async Task<SprinterServer> StartServer(GenerationService service, ServerOptions options)
    {
        try { return await SprinterServer.StartAsync(service, options); }
        catch (IOException e) { throw new InvalidInputException($"cannot listen on {options.Host}:{options.Port}: {e.Message.ReplaceLineEndings(" ")}"); }
    }

    static int Positive(int value, string option) => value >= 1 ? value : throw new InvalidInputException($"{option} must be >= 1, got {value}.");
}
