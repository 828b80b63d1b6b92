using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sprinter.Decoding;

namespace Sprinter.Remote;

/// <summary>A remote target that could not be reached or answered wrongly, after the retries allowed.</summary>
public sealed class RemoteTargetException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Where the remote target is and how to call it.</summary>
public sealed record RemoteTargetOptions
{
    /// <summary>The OpenAI-compatible base URL, e.g. http://host:8000/v1.</summary>
    public required Uri BaseUrl { get; init; }
    /// <summary>The served model's name; null asks /models for the first one.</summary>
    public string? Model { get; init; }
    /// <summary>Bearer token (SPRINTER_TARGET_API_KEY or OPENAI_API_KEY); null sends none.</summary>
    public string? ApiKey { get; init; }
    /// <summary>Deadline of one HTTP call.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Retries after a timeout, a 5xx, a 429 or a refused or dropped connection.</summary>
    public int MaxRetries { get; init; } = 4;
    /// <summary>First backoff; it doubles after each retry.</summary>
    public TimeSpan Backoff { get; init; } = TimeSpan.FromMilliseconds(50);
    /// <summary>Candidates per position the target returns: 1 is exact for greedy decoding; -1 (the
    /// whole vocabulary, vLLM <c>--max-logprobs -1</c>) is exact for sampling too.</summary>
    public int TopLogprobs { get; init; } = 1;

    /// <summary>Parses the target's URL (http or https); anything else is one line naming the <c>target</c> setting.</summary>
    public static Uri ParseUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
            throw new InvalidSettingException("target", $"'{text}' is not an http:// or https:// URL (for example http://127.0.0.1:8000/v1).");
        return uri;
    }

    /// <summary>The API key from SPRINTER_TARGET_API_KEY, else OPENAI_API_KEY, else none.</summary>
    public static string? ApiKeyFromEnvironment() =>
        Environment.GetEnvironmentVariable("SPRINTER_TARGET_API_KEY") is { Length: > 0 } key ? key
        : Environment.GetEnvironmentVariable("OPENAI_API_KEY") is { Length: > 0 } openai ? openai : null;
}

/// <summary>
/// The HTTP side of a remote target: JSON POSTs and GETs with a timeout per call, bounded retries with
/// exponential backoff on faults that may pass (timeouts, 5xx, 429, refused or dropped connections),
/// and counters of calls, bytes and round-trip time. A 4xx other than 429 is the request's fault and
/// is not retried. Cancellation stops the call in flight (the token goes to HttpClient).
/// </summary>
public sealed class RemoteTargetClient : IDisposable
{
    readonly HttpClient _http;
    readonly RemoteTargetOptions _options;

    public RemoteCallStats Stats { get; } = new();
    public RemoteTargetOptions Options => _options;

    public RemoteTargetClient(RemoteTargetOptions options, HttpMessageHandler? handler = null)
    {
        _options = options;
        // The per-call deadline is ours (a linked token), so HttpClient's own is off.
        _http = handler is null ? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) : new HttpClient(handler);
        _http.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
        if (options.ApiKey is { } key) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }

    /// <summary>A URL relative to the base (<c>completions</c>) or to its root (<c>/tokenize</c>).</summary>
    public Uri Resolve(string path)
    {
        if (path.StartsWith('/')) return new Uri(_options.BaseUrl, path);
        string b = _options.BaseUrl.AbsoluteUri;
        return new Uri(new Uri(b.EndsWith('/') ? b : b + "/", UriKind.Absolute), path);
    }

    public JsonNode Post(string path, JsonObject body, CancellationToken cancellationToken) =>
        Send(() => new HttpRequestMessage(HttpMethod.Post, Resolve(path)) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body.ToJsonString())) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } } }, path, cancellationToken);

    public JsonNode Get(string path, CancellationToken cancellationToken) => Send(() => new HttpRequestMessage(HttpMethod.Get, Resolve(path)), path, cancellationToken);

    /// <summary>One logical call: tries until a 2xx or a non-retryable answer, then parses the body.
    /// Blocking by design: the decoders' rounds are synchronous and run on threads of their own.</summary>
    JsonNode Send(Func<HttpRequestMessage> make, string path, CancellationToken cancellationToken)
    {
        var backoff = _options.Backoff;
        for (int attempt = 0; ; attempt++)
        {
            string fault;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(_options.Timeout);
            long start = Stopwatch.GetTimestamp();
            try
            {
                using var request = make();
                long sent = request.Content?.Headers.ContentLength ?? 0;
                using var response = _http.Send(request, HttpCompletionOption.ResponseContentRead, deadline.Token);
                byte[] bytes = response.Content.ReadAsByteArrayAsync(deadline.Token).GetAwaiter().GetResult();
                Stats.Calls++;
                Stats.BytesSent += sent;
                Stats.BytesReceived += bytes.Length;
                Stats.RoundTripMs += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                int status = (int)response.StatusCode;
                if (response.IsSuccessStatusCode)
                {
                    try { return JsonNode.Parse(bytes) ?? throw new JsonException("null body"); }
                    catch (JsonException e) { throw new RemoteTargetException($"the target at {Resolve(path)} answered {status} with a body that is not JSON ({e.Message.ReplaceLineEndings(" ")})."); }
                }
                string message = ErrorMessage(bytes);
                if (status != 429 && status < 500)
                    throw new RemoteTargetException($"the target at {Resolve(path)} refused the call: {status} {message}");
                fault = $"{status} {message}";
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { throw; }
            catch (OperationCanceledException) { fault = $"no answer within {_options.Timeout.TotalSeconds:0.###} s"; Stats.Calls++; }
            catch (HttpRequestException e) { fault = e.Message.ReplaceLineEndings(" "); Stats.Calls++; }
            catch (IOException e) { fault = e.Message.ReplaceLineEndings(" "); Stats.Calls++; }
            if (attempt >= _options.MaxRetries)
                throw new RemoteTargetException($"the target at {Resolve(path)} failed {attempt + 1} times (last: {fault}); giving up.");
            Stats.Retries++;
            cancellationToken.WaitHandle.WaitOne(backoff);
            cancellationToken.ThrowIfCancellationRequested();
            backoff *= 2;
        }
    }

    static string ErrorMessage(byte[] body)
    {
        try
        {
            var node = JsonNode.Parse(body);
            if (node?["error"]?["message"] is JsonValue v && v.TryGetValue(out string? m)) return m.ReplaceLineEndings(" ");
            if (node?["message"] is JsonValue v2 && v2.TryGetValue(out string? m2)) return m2.ReplaceLineEndings(" ");
        }
        catch (JsonException) { }
        string text = Encoding.UTF8.GetString(body).ReplaceLineEndings(" ");
        return text.Length > 200 ? text[..200] + "..." : text;
    }

    public void Dispose() => _http.Dispose();
}
