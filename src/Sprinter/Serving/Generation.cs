using System.Diagnostics;
using System.Threading.Channels;
using Sprinter.Decoding;

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
        int[] prompt, int maxTokens, long arrival, Action release)
    {
        var generation = new Generation(settings, prompt.Length, maxTokens);
        var tokens = decoder.GenerateAsync(prompt, maxTokens, (service.Target ?? service.Draft)!.StopTokens, generation._cancel.Token);
        generation._producer = Task.Factory.StartNew(() => generation.Produce(service, decoder, tokens, request.Stop, arrival, release),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return generation;
    }

    /// <summary>The pieces as they are decoded; throws what the decoder threw, if anything.</summary>
    public IAsyncEnumerable<GenerationPiece> ReadAllAsync(CancellationToken cancellationToken = default) => _pieces.Reader.ReadAllAsync(cancellationToken);

    void Produce(GenerationService service, IDecoder decoder, IAsyncEnumerable<EmittedToken> tokens, IReadOnlyList<string> stops, long arrival, Action release)
    {
        var stopTokens = (service.Target ?? service.Draft)!.StopTokens;
        var text = service.Tokenizer.CreateStreamingDecoder();
        var matcher = new StopSequenceMatcher(stops);
        var sent = new System.Text.StringBuilder();
        var held = new List<EmittedToken>();
        string finish = "length";
        Exception? failure = null;
        long last = 0;
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
                    service.AfterEachToken?.Invoke();
                    long now = Stopwatch.GetTimestamp();
                    if (last == 0) service.Metrics.FirstToken(Stopwatch.GetElapsedTime(arrival, now));
                    else service.Metrics.InterToken(Stopwatch.GetElapsedTime(last, now));
                    last = now;
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
            release();   // first: the slot and caches are free whatever happens below
            service.Metrics.Finished(stats, finish, Stopwatch.GetElapsedTime(arrival));
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
}
