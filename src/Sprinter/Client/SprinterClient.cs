using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Sprinter.Decoding;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Serving;
using Sprinter.Verification;

namespace Sprinter;

/// <summary>What <see cref="SprinterClient.Load"/> loads and how it decodes by default.</summary>
public sealed record SprinterClientOptions
{
    /// <summary>The target: a Hugging Face folder or a .gguf file; null: the shipped models/target.</summary>
    public string? Target { get; init; }
    /// <summary>The draft (same tokenizer as the target): a folder or a .gguf file; null: the shipped models/draft.</summary>
    public string? Draft { get; init; }
    /// <summary>
    /// The SPRINTER verifier file (trained for this draft) or constant:S; null: the shipped verifier made for each
    /// decoding (greedy or sample), when there is one. Only SPRINTER uses it.
    /// </summary>
    public string? Verifier { get; init; }
    /// <summary>Decoding when a call does not say: lossless speculative decoding (sd) unless set.</summary>
    public DecodingSettings Decoding { get; init; } = new() { Mode = DecodingMode.Sd };
    /// <summary>Run-time weight type; null: the file's own (bf16 for a bf16 folder, q8_0 for a quantized GGUF file, else fp32).</summary>
    public WeightType? WeightType { get; init; }
    /// <summary>Generations that decode at once; more wait in a queue of <see cref="MaxQueue"/>.</summary>
    public int MaxConcurrent { get; init; } = 4;
    public int MaxQueue { get; init; } = 64;
    /// <summary>New tokens when a call gives no maximum (fewer when the context is shorter).</summary>
    public int DefaultMaxTokens { get; init; } = 256;
}

/// <summary>Per-call settings of <see cref="SprinterClient.GenerateAsync"/>.</summary>
public sealed record GenerateOptions
{
    /// <summary>null: <see cref="SprinterClientOptions.DefaultMaxTokens"/>, or what the context leaves.</summary>
    public int? MaxTokens { get; init; }
    /// <summary>0 (the default) is greedy decoding.</summary>
    public float Temperature { get; init; }
    public float TopP { get; init; } = 1f;
    /// <summary>0: all tokens.</summary>
    public int TopK { get; init; }
    /// <summary>null: a fresh random seed.</summary>
    public int? Seed { get; init; }
    /// <summary>Text that ends the generation; it is not part of the output.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];
    /// <summary>Overrides of the client's decoding for this call (mode, gamma, threshold, ...).</summary>
    public DecodingOverrides Decoding { get; init; } = new();
}

/// <summary>
/// The front door: one call loads a draft/target pair (folders, GGUF files or the shipped default)
/// with an optional SPRINTER verifier, and gives an <see cref="IChatClient"/> and the lower-level
/// text generator. Both run on one <see cref="GenerationService"/> (shared models, KV-cache pools,
/// bounded concurrency), as the OpenAI-compatible server does.
/// </summary>
/// <example>
/// <code>
/// await using var client = SprinterClient.Load(new SprinterClientOptions { Target = "target.gguf", Draft = "draft.gguf" });
/// var reply = await client.ChatClient.GetResponseAsync("Say hello.");
/// await foreach (var piece in client.GenerateAsync("The President said that")) Console.Write(piece.Text);
/// </code>
/// </example>
public sealed class SprinterClient : IAsyncDisposable, IDisposable
{
    readonly LanguageModel? _target, _draft;

    /// <summary>An <see cref="IChatClient"/> over the pair (Microsoft.Extensions.AI); its ChatOptions and <c>sprinter.*</c> properties are described on <see cref="SprinterChatClient"/>.</summary>
    public IChatClient ChatClient { get; }
    /// <summary>The generator both entry points run on: admission, KV-cache pools, metrics.</summary>
    public GenerationService Service { get; }
    public Tokenizer Tokenizer => Service.Tokenizer;

    SprinterClient(LanguageModel? target, LanguageModel? draft, GenerationService service)
    {
        (_target, _draft, Service) = (target, draft, service);
        ChatClient = new SprinterChatClient(service);
    }

    /// <summary>
    /// Loads the models the default decoding needs (the target unless it is ar-draft, the draft unless
    /// it is ar) and checks that they share one tokenizer. Loading reads and packs the weights on this
    /// thread; <paramref name="cancellationToken"/> is checked between the models.
    /// </summary>
    /// <exception cref="InvalidInputException">A missing or unreadable file, or a pair that does not share a tokenizer (one line naming the file).</exception>
    public static SprinterClient Load(SprinterClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new();
        LanguageModel? target = null, draft = null;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (options.Decoding.NeedsTarget) target = LanguageModel.Load(Resolve(options.Target, "target", nameof(options.Target)), options.WeightType);
            cancellationToken.ThrowIfCancellationRequested();
            if (options.Decoding.NeedsDraft) draft = LanguageModel.Load(Resolve(options.Draft, "draft", nameof(options.Draft)), options.WeightType);
            if (target is not null && draft is not null) LanguageModel.CheckPair(draft, target);
            var serving = new ServingOptions
            {
                Decoding = options.Decoding, MaxConcurrent = options.MaxConcurrent, MaxQueue = options.MaxQueue, DefaultMaxTokens = options.DefaultMaxTokens,
            };
            var verifiers = draft is null ? null : Verifiers(options.Verifier, draft);
            return new SprinterClient(target, draft, new GenerationService(target, draft, serving, verifiers));
        }
        catch
        {
            target?.Dispose();
            draft?.Dispose();
            throw;
        }
    }

    /// <summary><see cref="Load"/> on a thread-pool thread, for callers that must not block.</summary>
    public static Task<SprinterClient> LoadAsync(SprinterClientOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.Run(() => Load(options, cancellationToken), cancellationToken);

    static string Resolve(string? given, string shipped, string setting) =>
        !string.IsNullOrEmpty(given) ? given
        : ShippedModels.Find(shipped, folder: true)
          ?? throw new InvalidInputException($"SprinterClientOptions.{setting} is not set and no shipped model 'models/{shipped}' was found; set it to a model folder or .gguf file.");

    /// <summary>The verifier of a decoding (greedy or sample): the given file or constant:S, else the shipped one made for it.</summary>
    static Func<string, VerifierChoice> Verifiers(string? spec, LanguageModel draft) => decoding => VerifierLocator.Locate(spec, draft, decoding);

    /// <summary>
    /// Continues <paramref name="prompt"/>, streaming text as tokens are committed. Each piece carries
    /// the tokens it came from (with their provenance: accepted, unverified, resampled, bonus, ...).
    /// Stopping the enumeration, or cancelling, stops decoding within one round.
    /// </summary>
    /// <exception cref="InvalidRequestException">A setting or limit this client cannot honour (the message names it).</exception>
    public async IAsyncEnumerable<GenerationPiece> GenerateAsync(string prompt, GenerateOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await using var generation = await StartAsync(prompt, options, cancellationToken).ConfigureAwait(false);
        await foreach (var piece in generation.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return piece;
            // Pieces already decoded are buffered; a cancelled caller gets no more of them.
            cancellationToken.ThrowIfCancellationRequested();
        }
        await generation.Result.ConfigureAwait(false);   // surfaces a decoder failure
    }

    /// <summary>The whole continuation of <paramref name="prompt"/>, with why it ended and the decoding statistics.</summary>
    public async Task<GenerationResult> CompleteAsync(string prompt, GenerateOptions? options = null, CancellationToken cancellationToken = default)
    {
        await using var generation = await StartAsync(prompt, options, cancellationToken).ConfigureAwait(false);
        await foreach (var _ in generation.ReadAllAsync(cancellationToken).ConfigureAwait(false)) { }
        return await generation.Result.ConfigureAwait(false);
    }

    Task<Generation> StartAsync(string prompt, GenerateOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        options ??= new();
        var request = new CompletionRequest
        {
            Prompt = prompt, MaxTokens = options.MaxTokens, Temperature = options.Temperature, TopP = options.TopP, TopK = options.TopK,
            Seed = options.Seed, Stop = options.Stop, Sprinter = options.Decoding,
        };
        request.Sampling.Validate();
        return Service.StartAsync(request, Service.EncodePrompt(request), cancellationToken);
    }

    public void Dispose()
    {
        Service.Dispose();
        _target?.Dispose();
        _draft?.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
