using System.Collections.Concurrent;
using System.Diagnostics;
using Sprinter.Decoding;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Verification;

namespace Sprinter.Serving;

/// <summary>Limits and defaults of a <see cref="GenerationService"/>.</summary>
public sealed record ServingOptions
{
    /// <summary>Decoding when a request does not say: lossless unless the operator asks otherwise.</summary>
    public DecodingSettings Decoding { get; init; } = new() { Mode = DecodingMode.Sd };
    public int MaxConcurrent { get; init; } = 4;
    public int MaxQueue { get; init; } = 64;
    /// <summary>Prompts longer than this are refused; null: whatever the context allows.</summary>
    public int? MaxPromptTokens { get; init; }
    /// <summary>New tokens when a request gives no max_tokens (fewer when the context is shorter).</summary>
    public int DefaultMaxTokens { get; init; } = 256;
}

/// <summary>
/// Request to decoder to streamed text: one loaded copy of each model shared by every request,
/// KV caches from per-model pools, at most <see cref="ServingOptions.MaxConcurrent"/> generations
/// at once behind a bounded queue, and the metrics of each. Used by the HTTP server and by
/// <see cref="SprinterChatClient"/>.
/// </summary>
public sealed class GenerationService : IDisposable
{
    readonly Func<string, VerifierChoice>? _verifiers;
    readonly ConcurrentDictionary<string, Lazy<VerifierChoice>> _verifierByDecoding = new();
    readonly SessionPool? _targetSessions, _draftSessions;

    public LanguageModel? Target { get; }
    public LanguageModel? Draft { get; }
    public ServingOptions Options { get; }
    public AdmissionGate Gate { get; }
    public ServingMetrics Metrics { get; }
    public Tokenizer Tokenizer => (Target ?? Draft)!.Tokenizer;
    public ChatTemplate? Template { get; }
    /// <summary>The name clients see in /v1/models and responses: the target's folder name.</summary>
    public string ModelId => (Target ?? Draft)!.Name;
    /// <summary>Tokens a sequence may hold: the smaller KV cache of the models loaded.</summary>
    public int Context { get; }

    /// <summary>Test hook: runs on the decoding thread after each token (the tests' stand-in for a slow model).</summary>
    internal Action? AfterEachToken { get; set; }

    /// <param name="verifiers">The SPRINTER verifier for a decoding ("greedy" or "sample"); may throw
    /// <see cref="InvalidInputException"/> when there is none. Called once per decoding.</param>
    public GenerationService(LanguageModel? target, LanguageModel? draft, ServingOptions options, Func<string, VerifierChoice>? verifiers = null)
    {
        if (target is null && draft is null) throw new ArgumentException("a service needs at least one model");
        (Target, Draft, Options, _verifiers) = (target, draft, options, verifiers);
        if (options.MaxConcurrent < 1 || options.MaxQueue < 0) throw new InvalidInputException($"--max-concurrent must be >= 1 and --queue >= 0, got {options.MaxConcurrent} and {options.MaxQueue}.");
        if ((options.Decoding.NeedsTarget && target is null) || (options.Decoding.NeedsDraft && draft is null))
            throw new InvalidInputException($"--mode {DecodingSettings.Name(options.Decoding.Mode)} needs {(target is null ? "a target" : "a draft")} model.");
        if (target is not null) _targetSessions = new SessionPool(target.Model);
        if (draft is not null) _draftSessions = new SessionPool(draft.Model);
        Context = Math.Min(Capacity(target), Capacity(draft));
        Gate = new AdmissionGate(options.MaxConcurrent, options.MaxQueue);
        Metrics = new ServingMetrics(Gate);
        Template = (target ?? draft)!.ChatTemplate;
    }

    static int Capacity(LanguageModel? model) => model is null ? int.MaxValue : Math.Min(model.Config.MaxPositions, Engine.TransformerModel.DefaultMaxContext);

    /// <summary>The prompt ids of a chat request or a text completion.</summary>
    public int[] EncodePrompt(CompletionRequest request) => request.Messages is { } messages
        ? ChatPrompt.Encode(Tokenizer, Template, messages)
        : Tokenizer.EncodePrompt(request.Prompt ?? throw new ArgumentException("a request needs messages or a prompt"));

    /// <summary>
    /// Checks the request against the limits, waits for a slot, and starts decoding on a thread of
    /// its own. Dispose the generation to cancel it and free its slot.
    /// </summary>
    /// <exception cref="InvalidRequestException">A limit or a decoding setting the server cannot honour.</exception>
    /// <exception cref="ServerBusyException">The queue is full.</exception>
    public async Task<Generation> StartAsync(CompletionRequest request, int[] prompt, CancellationToken cancellationToken)
    {
        long arrival = Stopwatch.GetTimestamp();
        var settings = request.Sprinter.ApplyTo(Options.Decoding);
        int maxTokens = CheckLimits(request, prompt, settings);
        var verifier = settings.Mode == DecodingMode.Sprinter ? Verifier(request.Sampling) : null;
        var lease = await Gate.EnterAsync(cancellationToken);
        TransformerSession? target = null, draft = null;
        void Release()
        {
            if (target is not null) _targetSessions!.Return(target);
            if (draft is not null) _draftSessions!.Return(draft);
            lease.Dispose();
        }
        try
        {
            Metrics.QueueTime(Stopwatch.GetElapsedTime(arrival));
            if (settings.NeedsTarget) target = _targetSessions!.Rent();
            if (settings.NeedsDraft) draft = _draftSessions!.Rent();
            var (decoder, _) = DecoderFactory.Create(settings, Target, Draft, request.Sampling, request.Seed ?? Random.Shared.Next(), verifier, target, draft);
            return Generation.Start(this, decoder, settings, request, prompt, maxTokens, arrival, Release);
        }
        catch
        {
            Release();
            throw;
        }
    }

    int CheckLimits(CompletionRequest request, int[] prompt, DecodingSettings settings)
    {
        string promptParam = request.Messages is null ? "prompt" : "messages";
        if ((settings.NeedsTarget && Target is null) || (settings.NeedsDraft && Draft is null))
            throw new InvalidRequestException("sprinter.mode", $"mode {DecodingSettings.Name(settings.Mode)} needs a {(Target is null ? "target" : "draft")} model, and this server has none loaded.");
        if (prompt.Length == 0) throw new InvalidRequestException(promptParam, "the prompt is empty.");
        if (Options.MaxPromptTokens is int most && prompt.Length > most)
            throw new InvalidRequestException(promptParam, $"the prompt has {prompt.Length} tokens; this server takes at most {most}.");
        int lookahead = settings.Mode is DecodingMode.Sd or DecodingMode.Sprinter ? 1 : 0;   // a round may hold one token past the budget
        int room = Context - lookahead - prompt.Length;
        if (room < 1) throw new InvalidRequestException(promptParam, $"the prompt has {prompt.Length} tokens, which fills the model's context of {Context}.");
        if (request.MaxTokens is int asked && asked > room)
            throw new InvalidRequestException("max_tokens", $"the prompt ({prompt.Length} tokens) plus max_tokens ({asked}) exceeds the model's context of {Context - lookahead} tokens; ask for at most {room}.");
        return request.MaxTokens ?? Math.Min(room, Options.DefaultMaxTokens);
    }

    /// <summary>A verifier of its own for one decoder (a learned verifier's scratch buffers are not shared).</summary>
    VerifierChoice Verifier(SamplingOptions sampling)
    {
        if (_verifiers is null) throw new InvalidRequestException("sprinter.mode", "this server has no SPRINTER verifier; start it with --verifier FILE (or constant:S).");
        string decoding = sampling.IsGreedy ? "greedy" : "sample";
        VerifierChoice shared;
        try { shared = _verifierByDecoding.GetOrAdd(decoding, d => new Lazy<VerifierChoice>(() => _verifiers(d))).Value; }
        catch (InvalidInputException e)
        {
            _verifierByDecoding.TryRemove(decoding, out _);
            throw new InvalidRequestException("sprinter.mode", $"SPRINTER is not available for {decoding} decoding here: {e.Message}");
        }
        return shared.Verifier is LearnedVerifier learned ? shared with { Verifier = learned.Clone() } : shared;
    }

    public void Dispose() => Metrics.Dispose();
}
