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
    /// <summary>Run all generations as one batch (continuous batching, <see cref="BatchScheduler"/>); false runs
    /// each on a thread of its own, as before batching existed (kept for comparison).</summary>
    public bool Batching { get; init; } = true;
    /// <summary>Prompt tokens a joining request caches per step while the others decode.</summary>
    public int PrefillChunk { get; init; } = 32;
    /// <summary>Let the cost model lower SD's gamma under load (greedy, or unseeded sampling only).</summary>
    public bool AdaptiveGamma { get; init; } = true;
}

/// <summary>
/// Request to decoder to streamed text: one loaded copy of each model shared by every request,
/// KV caches from per-model pools, at most <see cref="ServingOptions.MaxConcurrent"/> generations
/// at once behind a bounded queue, and the metrics of each. Used by the HTTP server and by
/// <see cref="SprinterChatClient"/>.
/// </summary>
public sealed partial class GenerationService : IDisposable
{
    readonly Func<string, VerifierChoice>? _verifiers;
    readonly ConcurrentDictionary<string, Lazy<VerifierChoice>> _verifierByDecoding = new();
    readonly SessionPool? _targetSessions, _draftSessions;
    readonly BatchScheduler? _scheduler;

    public LanguageModel? Target { get; }
    public LanguageModel? Draft { get; }
    public ServingOptions Options { get; }
    public AdmissionGate Gate { get; }
    public ServingMetrics Metrics { get; }
    public Tokenizer Tokenizer => (Target ?? Draft)!.Tokenizer;
    public ChatTemplate? Template { get; }
    /// <summary>The name clients see in /v1/models and responses: the target's folder name.</summary>
    public string ModelId => Target?.Name ?? RemoteTarget?.Name ?? Draft!.Name;
    /// <summary>A target behind another server (<c>serve --target URL</c>): each generation gets a session of its own; null when the target is local.</summary>
    public RemoteTargetSource? RemoteTarget { get; }
    /// <summary>Tokens a sequence may hold: the smaller KV cache of the models loaded.</summary>
    public int Context { get; }

    /// <summary>Test hook: runs on the decoding thread after each token (the tests' stand-in for a slow model).</summary>
    internal Action? AfterEachToken { get; set; }

    /// <param name="verifiers">The SPRINTER verifier for a decoding ("greedy" or "sample"); may throw
    /// <see cref="InvalidInputException"/> when there is none. Called once per decoding.</param>
    /// <param name="remoteTarget">A target behind another server, in place of <paramref name="target"/> (which must then be null).</param>
    public GenerationService(LanguageModel? target, LanguageModel? draft, ServingOptions options, Func<string, VerifierChoice>? verifiers = null,
        RemoteTargetSource? remoteTarget = null)
    {
        if (target is null && draft is null) throw new ArgumentException("a service needs at least one model");
        if (remoteTarget is not null && (target is not null || draft is null)) throw new ArgumentException("a remote target replaces the local one and needs a local draft");
        (Target, Draft, Options, _verifiers, RemoteTarget) = (target, draft, options, verifiers, remoteTarget);
        if (options.MaxConcurrent < 1) throw new InvalidSettingException("max_concurrent", $"must be >= 1, got {options.MaxConcurrent}.");
        if (options.MaxQueue < 0) throw new InvalidSettingException("queue", $"must be >= 0, got {options.MaxQueue}.");
        if ((options.Decoding.NeedsTarget && target is null && remoteTarget is null) || (options.Decoding.NeedsDraft && draft is null))
            throw new InvalidSettingException("mode", $"{DecodingNames.Name(options.Decoding.Mode)} needs {(target is null ? "a target" : "a draft")} model.");
        if (target is not null) _targetSessions = new SessionPool(target.Model);
        if (draft is not null) _draftSessions = new SessionPool(draft.Model);
        Context = Math.Min(Math.Min(Capacity(target), Capacity(draft)), remoteTarget?.Capacity ?? int.MaxValue);
        Gate = new AdmissionGate(options.MaxConcurrent, options.MaxQueue);
        Metrics = new ServingMetrics(Gate);
        Template = (target ?? draft)!.ChatTemplate;
        if (options.Batching)
        {
            _scheduler = new BatchScheduler(target?.Model, draft?.Model, options.PrefillChunk) { Adaptive = options.AdaptiveGamma };
            Metrics.Observe(_scheduler);
        }
    }

    /// <summary>The continuous-batching scheduler (null when <see cref="ServingOptions.Batching"/> is off).</summary>
    public BatchScheduler? Scheduler => _scheduler;

    static int Capacity(LanguageModel? model) => model is null ? int.MaxValue : Math.Min(model.Config.MaxPositions, Engine.TransformerModel.DefaultMaxContext);

    /// <summary>The prompt ids of a chat request or a text completion.</summary>
    public int[] EncodePrompt(CompletionRequest request)
    {
        if (request.Messages is { } messages) return ChatPrompt.Encode(Tokenizer, Template, messages);
        if (request.PromptTokens is { } ids)
        {
            int vocab = (Target ?? Draft)!.Model.OutputVocabulary;
            foreach (int id in ids)
                if (id >= vocab) throw new InvalidRequestException("prompt", $"token id {id} is outside this model's vocabulary [0, {vocab}).");
            return ids;
        }
        return Tokenizer.EncodePrompt(request.Prompt ?? throw new ArgumentException("a request needs messages or a prompt"));
    }

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
        Remote.RemoteTargetSession? remote = null;
        void Release()
        {
            if (target is not null) _targetSessions!.Return(target);
            remote?.Client.Dispose();
            if (draft is not null) _draftSessions!.Return(draft);
            lease.Dispose();
        }
        try
        {
            Metrics.QueueTime(Stopwatch.GetElapsedTime(arrival));
            if (settings.NeedsTarget && RemoteTarget is not null) remote = RemoteTarget.Open();
            else if (settings.NeedsTarget) target = _targetSessions!.Rent();
            if (settings.NeedsDraft) draft = _draftSessions!.Rent();
            int seed = request.Seed ?? Random.Shared.Next();
            ITargetSession? targetSession = (ITargetSession?)remote ?? target;
            IDecoder decoder = _scheduler is null
                ? DecoderFactory.Create(settings, Target, Draft, request.Sampling, seed, verifier, targetSession, draft, request.Logprobs).Decoder
                : new ScheduledDecoder(_scheduler, settings, verifier, request.Sampling, seed, targetSession, draft,
                    adaptive: request.Sampling.IsGreedy || request.Seed is null, logprobs: request.Logprobs);
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
        if ((settings.NeedsTarget && Target is null && RemoteTarget is null) || (settings.NeedsDraft && Draft is null))
            throw new InvalidRequestException("sprinter.mode", $"mode {DecodingNames.Name(settings.Mode)} needs a {(Target is null ? "target" : "draft")} model, and this server has none loaded.");
        if (RemoteTarget is not null && !request.Sampling.IsGreedy && !RemoteTarget.FullDistribution && settings.Lossless)
            throw new InvalidRequestException("temperature", $"this server's target is remote and returns only its top-{RemoteTarget.Options.TopLogprobs} logprobs, so sampling (temperature > 0) would not be lossless; use temperature 0, or restart it with --target-logprobs -1 (vLLM --max-logprobs -1).");
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
        if (_verifiers is null) throw new InvalidRequestException("sprinter.mode", "this server was started without a SPRINTER verifier (a verifier file, or constant:S).");
        string decoding = VerifierLocator.DecodingOf(sampling);
        VerifierChoice shared;
        try { shared = _verifierByDecoding.GetOrAdd(decoding, d => new Lazy<VerifierChoice>(() => _verifiers(d))).Value; }
        catch (InvalidInputException e)
        {
            _verifierByDecoding.TryRemove(decoding, out _);
            throw new InvalidRequestException("sprinter.mode", $"SPRINTER is not available for {decoding} decoding here: {e.Message}");
        }
        return shared.Verifier is LearnedVerifier learned ? shared with { Verifier = learned.Clone() } : shared;
    }

    public void Dispose()
    {
        _scheduler?.Dispose();
        Metrics.Dispose();
    }
}

/// <summary>A generation run by the shared <see cref="BatchScheduler"/>: its tokens come from the batch's steps.</summary>
internal sealed class ScheduledDecoder(BatchScheduler scheduler, DecodingSettings settings, VerifierChoice? verifier, SamplingOptions sampling, int seed,
    ITargetSession? target, TransformerSession? draft, bool adaptive, int? logprobs) : IDecoder
{
    public DecodingStats? LastStats { get; private set; }

    public IAsyncEnumerable<EmittedToken> GenerateAsync(int[] prompt, int maxTokens, IReadOnlySet<int>? stopTokens = null, CancellationToken cancellationToken = default)
    {
        var (kind, options) = DecoderFactory.Plan(settings, verifier);
        var sequence = new DecodeSequence(kind, options, sampling, new TokenSampler(seed), target, draft, prompt, maxTokens, stopTokens)
        {
            AdaptiveGamma = adaptive && options.Method == DecodingMethod.Sd && kind == SequenceKind.Speculative,
            LogprobsTopK = logprobs,
            Cancellation = cancellationToken,
        };
        LastStats = sequence.Stats;
        return scheduler.Run(sequence, cancellationToken);
    }
}

/// <summary>Where a front-end server's remote target is: opens one session (with its own HTTP client) per generation.</summary>
public sealed class RemoteTargetSource(Remote.RemoteTargetOptions options, string model, int vocabulary, int capacity)
{
    public Remote.RemoteTargetOptions Options => options;
    public string Name => model;
    public int Capacity => capacity;
    public bool FullDistribution => options.TopLogprobs < 0 || options.TopLogprobs >= vocabulary;
    public Remote.RemoteTargetSession Open() => new(new Remote.RemoteTargetClient(options), model, vocabulary, capacity);
}
