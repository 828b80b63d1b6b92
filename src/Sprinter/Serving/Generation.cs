using System.Diagnostics;
using System.Threading.Channels;
using Sprinter.Decoding;
using Sprinter.Models;

namespace Sprinter.Serving;

/// <summary>Text ready to send and the tokens it came from (an empty text can carry tokens: an
/// unfinished UTF-8 character, text held back by a stop string, or the end-of-sequence token).</summary>
public sealed record GenerationPiece(string Text, IReadOnlyList<EmittedToken> Tokens);

/// <summary>How a generation ended: OpenAI's finish reason (stop, length) or abort, the text and the statistics.</summary>
public sealed record GenerationResult(string FinishReason, string Text, DecodingStats Stats);

/// <summary>
/// One running generation. The decoder runs on a thread of its own (its rounds are CPU-bound and
/// would otherwise hold ASP.NET's pool threads) and hands pieces over a channel; the reader sends
/// them at its own pace. Disposing cancels the decoder, which stops within one round, and frees
/// the slot and the KV caches.
/// </summary>
public sealed class Generation : IAsyncDisposable
{
    readonly Channel<GenerationPiece> _pieces = Channel.CreateUnbounded<GenerationPiece>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    readonly CancellationTokenSource _cancel = new();
    readonly TaskCompletionSource<GenerationResult> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
    Task _producer = Task.CompletedTask;

    public string Id { get; } = Guid.NewGuid().ToString("N")[..24];
    public DateTimeOffset Created { get; } = DateTimeOffset.UtcNow;
    public DecodingSettings Settings { get; }
    public int PromptTokens { get; }
    public int MaxTokens { get; }
    /// <summary>Completes when decoding has ended (after the last piece).</summary>
    public Task<GenerationResult> Result => _result.Task;

    Generation(DecodingSettings settings, int promptTokens, int maxTokens) => (Settings, PromptTokens, MaxTokens) = (settings, promptTokens, maxTokens);

    internal static Generation Start(GenerationService service, IDecoder decoder, DecodingSettings settings, CompletionRequest request,
        int[] prompt, int maxTokens, long arrival, Action release) =>
        Start(decoder, service.Tokenizer, (service.Target ?? service.Draft)!.StopTokens, settings, prompt, maxTokens, request.Stop, new ServiceHooks(service, arrival, release));

    /// <summary>
    /// Decodes outside a <see cref="GenerationService"/> (<c>sprinter generate</c>), with the same rules
    /// as a served generation: the end-of-sequence token ends it and is not text, a stop string ends it
    /// and is not sent.
    /// </summary>
    /// <param name="stopTokens">The ids that end the generation (the model's end-of-sequence ids).</param>
    /// <param name="stop">Text that ends the generation.</param>
    /// <exception cref="InvalidInputException">The prompt does not fit (checked before this returns).</exception>
    public static Generation Start(IDecoder decoder, Tokenizer tokenizer, IReadOnlySet<int> stopTokens, DecodingSettings settings,
        int[] prompt, int maxTokens, IReadOnlyList<string> stop) =>
        Start(decoder, tokenizer, stopTokens, settings, prompt, maxTokens, stop, null);

    static Generation Start(IDecoder decoder, Tokenizer tokenizer, IReadOnlySet<int> stopTokens, DecodingSettings settings,
        int[] prompt, int maxTokens, IReadOnlyList<string> stop, ServiceHooks? hooks)
    {
        var generation = new Generation(settings, prompt.Length, maxTokens);
        var tokens = decoder.GenerateAsync(prompt, maxTokens, stopTokens, generation._cancel.Token);
        generation._producer = Task.Factory.StartNew(() => generation.Produce(decoder, tokens, tokenizer, stopTokens, stop, hooks),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return generation;
    }

    /// <summary>The pieces as they are decoded; throws what the decoder threw, if anything.</summary>
    public IAsyncEnumerable<GenerationPiece> ReadAllAsync(CancellationToken cancellationToken = default) => _pieces.Reader.ReadAllAsync(cancellationToken);

    void Produce(IDecoder decoder, IAsyncEnumerable<EmittedToken> tokens, Tokenizer tokenizer, IReadOnlySet<int> stopTokens, IReadOnlyList<string> stops, ServiceHooks? hooks)
    {
        var text = tokenizer.CreateStreamingDecoder();
        var matcher = new StopSequenceMatcher(stops);
        var sent = new System.Text.StringBuilder();
        var held = new List<EmittedToken>();
        string finish = "length";
        Exception? failure = null;
        void Send(string piece)
        {
            sent.Append(piece);
            _pieces.Writer.TryWrite(new GenerationPiece(piece, held.ToArray()));
            held.Clear();
        }
        try
        {
            // The decoder's enumerator completes synchronously (its awaits are of completed tasks), so this thread runs it.
            var e = tokens.GetAsyncEnumerator(_cancel.Token);
            try
            {
                while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult())
                {
                    var token = e.Current;
                    hooks?.Token();
                    held.Add(token);
                    bool endOfSequence = stopTokens.Contains(token.Id);
                    string safe = matcher.Append(endOfSequence ? "" : text.Append(token.Id));   // the end token's text is not content
                    if (safe.Length > 0 || endOfSequence || matcher.Stopped) Send(safe);
                    if (endOfSequence || matcher.Stopped) { finish = "stop"; break; }
                }
            }
            finally { e.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            if (finish != "stop")
            {
                string rest = matcher.Append(text.Flush()) + matcher.Flush();
                if (matcher.Stopped) finish = "stop";
                if (rest.Length > 0 || held.Count > 0) Send(rest);
            }
        }
        catch (OperationCanceledException) { finish = "abort"; }
        catch (Exception ex) { finish = "abort"; failure = ex; }
        finally
        {
            var stats = decoder.LastStats ?? new DecodingStats { Mode = Settings.Method.Name, Lossless = Settings.Lossless, PromptTokens = PromptTokens };
            hooks?.Finished(stats, finish);
            _pieces.Writer.TryComplete(failure);
            if (failure is null) _result.TrySetResult(new GenerationResult(finish, sent.ToString(), stats));
            else _result.TrySetException(failure);
        }
    }

    /// <summary>Cancels decoding if it is still running and waits until its slot and caches are free.</summary>
    public async ValueTask DisposeAsync()
    {
        _cancel.Cancel();
        await _producer.ConfigureAwait(false);
        _cancel.Dispose();
    }

    /// <summary>What a served generation reports to its service: the test hook, latencies, the slot to free.</summary>
    sealed class ServiceHooks(GenerationService service, long arrival, Action release)
    {
        long _last;

        public void Token()
        {
            service.AfterEachToken?.Invoke();
            long now = Stopwatch.GetTimestamp();
            if (_last == 0) service.Metrics.FirstToken(Stopwatch.GetElapsedTime(arrival, now));
            else service.Metrics.InterToken(Stopwatch.GetElapsedTime(_last, now));
            _last = now;
        }

        public void Finished(DecodingStats stats, string finish)
        {
            release();   // first: the slot and caches are free whatever happens below
            service.Metrics.Finished(stats, finish, Stopwatch.GetElapsedTime(arrival));
        }
    }
}
