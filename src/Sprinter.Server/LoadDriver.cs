using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Sprinter.Server;

/// <summary>Settings of a load run against a running server.</summary>
public sealed record LoadOptions
{
    public required Uri Server { get; init; }
    public int Clients { get; init; } = 64;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Stop after this many requests in all, even before the duration is up (0: no cap).</summary>
    public int MaxRequests { get; init; }
    public int MaxTokens { get; init; } = 64;
    public float Temperature { get; init; }
    /// <summary>The request's sprinter.mode; null leaves the server's default.</summary>
    public string? Mode { get; init; }
}

/// <summary>What a load run measured. Latencies in milliseconds; memory as the server's /health reports it.</summary>
public sealed record LoadReport(int Clients, double Seconds, int Requests, int Errors, IReadOnlyDictionary<string, int> ErrorKinds, long Tokens,
    double[] TimeToFirstTokenMs, double[] InterTokenMs, string? Mode, bool? Lossless, JsonObject MemoryAtStart, JsonObject MemoryAfterWarmUp, JsonObject MemoryAtEnd)
{
    public double TokensPerSecond => Tokens / Seconds;
    public double RequestsPerSecond => Requests / Seconds;

    public static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    public JsonObject ToJson() => new()
    {
        ["clients"] = Clients, ["seconds"] = Math.Round(Seconds, 1), ["requests"] = Requests, ["errors"] = Errors,
        ["error_kinds"] = new JsonObject(ErrorKinds.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        ["mode"] = Mode, ["lossless"] = Lossless,
        ["tokens"] = Tokens, ["tokens_per_second"] = Math.Round(TokensPerSecond, 1), ["requests_per_second"] = Math.Round(RequestsPerSecond, 2),
        ["ttft_ms"] = new JsonObject { ["p50"] = R(Percentile(TimeToFirstTokenMs, 0.5)), ["p99"] = R(Percentile(TimeToFirstTokenMs, 0.99)) },
        ["inter_token_ms"] = new JsonObject { ["p50"] = R(Percentile(InterTokenMs, 0.5)), ["p99"] = R(Percentile(InterTokenMs, 0.99)), ["mean"] = R(InterTokenMs.Length == 0 ? double.NaN : InterTokenMs.Average()) },
        ["memory"] = new JsonObject { ["start"] = MemoryAtStart.DeepClone(), ["after_warm_up"] = MemoryAfterWarmUp.DeepClone(), ["end"] = MemoryAtEnd.DeepClone() },
    };

    static JsonNode? R(double v) => double.IsFinite(v) ? Math.Round(v, 2) : null;
}

/// <summary>
/// Many concurrent streaming chat clients against a server on loopback, bounded by time and count.
/// A C# driver rather than autocannon or wrk: those measure whole responses, not the time to the
/// first streamed token or the gaps between tokens, which are what a streaming client feels.
/// </summary>
public static class LoadDriver
{
    static readonly string[] Prompts =
    [
        "Tell me about the history of the city.", "What is the weather like in spring?", "Write a short story about a cat.",
        "Explain how a river forms.", "Describe your favourite meal.", "What happened in the war?", "Summarise the news of the day.",
        "How do trains work?",
    ];

    public static async Task<LoadReport> RunAsync(LoadOptions options, CancellationToken cancellationToken = default)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { Timeout = Timeout.InfiniteTimeSpan, BaseAddress = options.Server };
        var memoryAtStart = await Health(http, cancellationToken);
        var ttft = new List<double>();
        var gaps = new List<double>();
        var errors = new Dictionary<string, int>();
        long tokens = 0;
        int requests = 0, issued = 0;
        string? mode = null;
        bool? lossless = null;
        var clock = Stopwatch.StartNew();
        var warmUp = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromTicks(Math.Min(options.Duration.Ticks / 5, TimeSpan.FromSeconds(10).Ticks)), cancellationToken);
            return await Health(http, cancellationToken);
        }, cancellationToken);
        async Task Client(int index)
        {
            while (clock.Elapsed < options.Duration && !cancellationToken.IsCancellationRequested)
            {
                int n = Interlocked.Increment(ref issued);
                if (options.MaxRequests > 0 && n > options.MaxRequests) return;
                var outcome = await OneRequest(http, options, Prompts[(index + n) % Prompts.Length], cancellationToken);
                lock (errors)
                {
                    if (outcome.Error is string e) { errors[e] = errors.GetValueOrDefault(e) + 1; continue; }
                    requests++;
                    tokens += outcome.Tokens;
                    ttft.Add(outcome.FirstTokenMs);
                    gaps.AddRange(outcome.GapsMs);
                    (mode, lossless) = (outcome.Mode, outcome.Lossless);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(Client));
        double seconds = clock.Elapsed.TotalSeconds;
        var memoryAfterWarmUp = await warmUp;
        var memoryAtEnd = await Health(http, cancellationToken);
        ttft.Sort(); gaps.Sort();
        return new LoadReport(options.Clients, seconds, requests, errors.Values.Sum(), errors, tokens, [.. ttft], [.. gaps], mode, lossless,
            memoryAtStart, memoryAfterWarmUp, memoryAtEnd);
    }

    static async Task<JsonObject> Health(HttpClient http, CancellationToken ct)
    {
        var health = JsonNode.Parse(await http.GetStringAsync("health", ct))!.AsObject();
        return new JsonObject { ["working_set_bytes"] = health["working_set_bytes"]?.DeepClone(), ["gc_heap_bytes"] = health["gc_heap_bytes"]?.DeepClone() };
    }

    sealed record Outcome(string? Error, long Tokens = 0, double FirstTokenMs = 0, List<double>? Gaps = null, string? Mode = null, bool? Lossless = null)
    {
        public List<double> GapsMs => Gaps ?? [];
    }

    static async Task<Outcome> OneRequest(HttpClient http, LoadOptions options, string prompt, CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["model"] = "sprinter",
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }),
            ["max_tokens"] = options.MaxTokens, ["temperature"] = options.Temperature,
            ["stream"] = true, ["stream_options"] = new JsonObject { ["include_usage"] = true },
        };
        if (options.Mode is not null) body["sprinter"] = new JsonObject { ["mode"] = options.Mode };
        long start = Stopwatch.GetTimestamp(), last = 0;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/json")) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
            {
                if ((int)response.StatusCode == 429) await Task.Delay(TimeSpan.FromSeconds(1), ct);   // Retry-After
                return new Outcome($"http {(int)response.StatusCode}");
            }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
            var outcome = new Outcome(null, Gaps: []);
            double first = double.NaN;
            bool done = false;
            while (await reader.ReadLineAsync(ct) is string line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                if (line == "data: [DONE]") { done = true; break; }
                var chunk = JsonNode.Parse(line.AsSpan(6).ToString())!;
                if (chunk["error"] is not null) return new Outcome("stream error");
                if (chunk["choices"] is JsonArray { Count: > 0 } choices && choices[0]?["delta"]?["content"]?.GetValue<string>() is { Length: > 0 })
                {
                    long now = Stopwatch.GetTimestamp();
                    if (last == 0) first = Stopwatch.GetElapsedTime(start, now).TotalMilliseconds;
                    else outcome.GapsMs.Add(Stopwatch.GetElapsedTime(last, now).TotalMilliseconds);
                    last = now;
                }
                if (chunk["usage"] is JsonObject usage)
                    outcome = outcome with { Tokens = (long)usage["completion_tokens"]!, Mode = (string?)usage["mode"], Lossless = (bool?)usage["lossless"] };
            }
            if (!done) return new Outcome("stream cut");
            return outcome with { FirstTokenMs = double.IsNaN(first) ? Stopwatch.GetElapsedTime(start).TotalMilliseconds : first };
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { return new Outcome("cancelled"); }
        catch (Exception e) when (e is HttpRequestException or IOException or System.Text.Json.JsonException) { return new Outcome(e.GetType().Name); }
    }
}
