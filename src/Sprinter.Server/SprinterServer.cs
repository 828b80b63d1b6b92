using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sprinter.Serving;

namespace Sprinter.Server;

/// <summary>Where and how the HTTP server listens.</summary>
public sealed record ServerOptions
{
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>0 picks a free port (the tests).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>Request bodies larger than this are refused with 400.</summary>
    public int MaxBodyBytes { get; init; } = 1 << 20;
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;
    /// <summary>Testing aid: every completion request waits this long before it is served (an added network round trip).</summary>
    public int DebugDelayMs { get; init; }
    /// <summary>Testing aid: this share of completion requests fails (alternately a 503 and a dropped connection) before it is served.</summary>
    public double DebugFailRate { get; init; }
    /// <summary>Seed of the fault draws (reproducible runs).</summary>
    public int DebugSeed { get; init; }
}

/// <summary>
/// The OpenAI-compatible HTTP shell around a <see cref="GenerationService"/> (ASP.NET Core minimal
/// API on Kestrel): routes, error mapping, SSE. The generation logic itself is in the library.
/// </summary>
public sealed class SprinterServer : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly PrometheusExporter _metrics;

    public GenerationService Service { get; }
    /// <summary>The address it listens on, e.g. http://127.0.0.1:41234 (the real port when 0 was asked).</summary>
    public Uri Address { get; private set; } = null!;

    SprinterServer(WebApplication app, GenerationService service, PrometheusExporter metrics) => (_app, Service, _metrics) = (app, service, metrics);

    public static async Task<SprinterServer> StartAsync(GenerationService service, ServerOptions options, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // One byte over our own limit, so that our check (a 400 in OpenAI's shape) answers first, not Kestrel's 413.
            k.Limits.MaxRequestBodySize = (long)options.MaxBodyBytes * CompletionEndpoints.DrainFactor;
        });
        builder.WebHost.UseUrls($"http://{options.Host}:{options.Port}");
        var app = builder.Build();
        var metrics = new PrometheusExporter(service.Metrics.Meter);
        var server = new SprinterServer(app, service, metrics);
        server.Map(options);
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address.Replace("[::]", "127.0.0.1").Replace("0.0.0.0", "127.0.0.1"));
        return server;
    }

    void Map(ServerOptions options)
    {
        _app.Use(async (context, next) =>
        {
            long start = Stopwatch.GetTimestamp();
            try { await next(context); }
            catch (Exception e) when (!context.Response.HasStarted) { await WriteError(context, e); }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested) { }   // the client left mid-stream
            finally
            {
                string route = context.GetEndpoint()?.DisplayName is { } name ? name.Split(' ')[^1] : "unmatched";
                Service.Metrics.HttpRequest(route, context.Response.StatusCode, Stopwatch.GetElapsedTime(start));
            }
        });
        if (options.DebugDelayMs > 0 || options.DebugFailRate > 0) _app.Use(DebugFaults(options));
        var endpoints = new CompletionEndpoints(Service, options.MaxBodyBytes);
        _app.MapPost("/v1/chat/completions", context => endpoints.Handle(context, chat: true)).WithDisplayName("/v1/chat/completions");
        _app.MapPost("/v1/completions", context => endpoints.Handle(context, chat: false)).WithDisplayName("/v1/completions");
        // vLLM's /tokenize (the remote-target client compares tokenizers with it); at the root as vLLM serves it, and under /v1.
        foreach (var path in new[] { "/tokenize", "/v1/tokenize" })
            _app.MapPost(path, context => endpoints.Tokenize(context)).WithDisplayName(path);
        _app.MapGet("/v1/models", context => Json(context, 200, new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject { ["id"] = Service.ModelId, ["object"] = "model", ["created"] = 0, ["owned_by"] = "sprinter" }),
        })).WithDisplayName("/v1/models");
        _app.MapGet("/health", context => Json(context, 200, new JsonObject
        {
            ["status"] = "ok",
            ["model"] = Service.ModelId,
            ["mode"] = Sprinter.Decoding.DecodingNames.Name(Service.Options.Decoding.Mode),
            ["lossless"] = Service.Options.Decoding.Lossless,
            ["running"] = Service.Gate.Running,
            ["waiting"] = Service.Gate.Waiting,
            ["max_concurrent"] = Service.Gate.MaxRunning,
            ["queue"] = Service.Gate.MaxWaiting,
            ["working_set_bytes"] = Environment.WorkingSet,
            ["gc_heap_bytes"] = GC.GetTotalMemory(false),
        })).WithDisplayName("/health");
        _app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await context.Response.WriteAsync(_metrics.Write(), context.RequestAborted);
        }).WithDisplayName("/metrics");
    }

    /// <summary>
    /// Testing aids for remote-target measurements (<c>serve --debug-delay-ms / --debug-fail-rate</c>):
    /// completion calls wait the delay, then a seeded share of them fails before any work, alternately
    /// with a 503 and with a dropped connection, the two faults a client must retry.
    /// </summary>
    static Func<HttpContext, Func<Task>, Task> DebugFaults(ServerOptions options)
    {
        var random = new Random(options.DebugSeed);
        long faults = 0;
        return async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/v1/completions") && !context.Request.Path.StartsWithSegments("/v1/chat/completions")) { await next(); return; }
            if (options.DebugDelayMs > 0) await Task.Delay(options.DebugDelayMs, context.RequestAborted);
            bool fail;
            lock (random) fail = random.NextDouble() < options.DebugFailRate;
            if (!fail) { await next(); return; }
            if (Interlocked.Increment(ref faults) % 2 == 0) { context.Abort(); return; }
            await Json(context, 503, OpenAiJson.Error("injected fault (--debug-fail-rate)", "server_error", null, "debug_fault"));
        };
    }

    /// <summary>Client mistakes are 400 in OpenAI's error shape, a full queue 429 with Retry-After; anything else is ours (500).</summary>
    static Task WriteError(HttpContext context, Exception e)
    {
        switch (e)
        {
            case InvalidRequestException r: return Json(context, 400, OpenAiJson.Error(r.Message, "invalid_request_error", r.Param));
            case InvalidSettingException s when RequestParser.FieldOf(s.Setting) is { } field:
                return Json(context, 400, OpenAiJson.Error(s.MessageFor(field), "invalid_request_error", field));
            case InvalidInputException i: return Json(context, 400, OpenAiJson.Error(i.Message, "invalid_request_error", null));
            case BadHttpRequestException b: return Json(context, 400, OpenAiJson.Error($"bad request: {b.Message}", "invalid_request_error", null));
            case ServerBusyException busy:
                context.Response.Headers.RetryAfter = "1";
                return Json(context, 429, OpenAiJson.Error(busy.Message, "rate_limit_error", null, "server_busy"));
            case OperationCanceledException when context.RequestAborted.IsCancellationRequested: return Task.CompletedTask;
            case Sprinter.Remote.RemoteTargetException remote: return Json(context, 502, OpenAiJson.Error("the remote target failed: " + remote.Message, "server_error", null, "remote_target_error"));
            default:
                context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger<SprinterServer>().LogError(e, "request failed");
                return Json(context, 500, OpenAiJson.Error("internal error: " + e.Message.ReplaceLineEndings(" "), "server_error", null));
        }
    }

    internal static async Task Json(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _metrics.Dispose();
    }

    /// <summary>Runs until <paramref name="cancellationToken"/> is cancelled (Ctrl+C in the CLI).</summary>
    public Task WaitAsync(CancellationToken cancellationToken) => _app.WaitForShutdownAsync(cancellationToken);
}
