using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Sprinter.Decoding;
using Sprinter.Models;
using Sprinter.Server;
using Sprinter.Serving;
using Sprinter.Verification;

namespace Sprinter.Tests.Serving;

/// <summary>
/// A tiny random target and draft (made in the test, sharing the byte vocabulary) served by a real
/// Kestrel server on 127.0.0.1 with an ephemeral port; SPRINTER uses a constant verifier.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public static readonly Lazy<(string Target, string Draft)> Folders = new(() =>
        (TestModels.Folder(TestModels.TinyConfig(d: 48, positions: 256), seed: 31), TestModels.Folder(TestModels.TinyConfig(positions: 256), seed: 32)));

    public SprinterServer Server { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    LanguageModel _target = null!, _draft = null!;

    public GenerationService Service => Server.Service;

    // A fixed gamma: on these tiny models the cost model may rightly find drafting not worth it, and
    // the protocol tests read SD's statistics (BatchingTests cover the adaptive gamma).
    public static ServingOptions DefaultOptions => new() { MaxConcurrent = 4, MaxQueue = 16, MaxPromptTokens = 200, DefaultMaxTokens = 16, AdaptiveGamma = false };

    public async Task InitializeAsync() => await StartAsync(DefaultOptions);

    public async Task StartAsync(ServingOptions options, int maxBodyBytes = 64 * 1024)
    {
        _target = LanguageModel.Load(Folders.Value.Target);
        _draft = LanguageModel.Load(Folders.Value.Draft);
        var service = new GenerationService(_target, _draft, options, _ => new VerifierChoice(new ConstantVerifier(0.7f), null));
        Server = await SprinterServer.StartAsync(service, new ServerOptions { Port = 0, MaxBodyBytes = maxBodyBytes });
        Http = new HttpClient { BaseAddress = Server.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Server.Service.Dispose();
        _target.Dispose();
        _draft.Dispose();
    }

    public async Task<(int Status, JsonNode Body)> PostAsync(string path, string json)
    {
        using var response = await Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    public async Task<JsonNode> GetJsonAsync(string path) => (await Http.GetFromJsonAsync<JsonNode>(path))!;

    /// <summary>The value of one series in /metrics (0 when absent).</summary>
    public async Task<double> MetricAsync(string series)
    {
        string text = await Http.GetStringAsync("metrics");
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
