using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Sprinter.Decoding;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Remote;
using Sprinter.Server;
using Sprinter.Serving;
using Sprinter.Tests.Serving;

namespace Sprinter.Tests.Remote;

/// <summary>
/// The target behind HTTP: one Sprinter serves the tiny target (AR mode) on 127.0.0.1, and the
/// decoders here call it through <see cref="RemoteTargetSession"/> with the local draft.
/// </summary>
public sealed class RemoteTargetTests : IAsyncLifetime
{
    LanguageModel _target = null!, _draft = null!;
    SprinterServer _server = null!;

    public async Task InitializeAsync()
    {
        _target = LanguageModel.Load(ServerFixture.Folders.Value.Target);
        _draft = LanguageModel.Load(ServerFixture.Folders.Value.Draft);
        _server = await Start(new ServerOptions { Port = 0 });
    }

    async Task<SprinterServer> Start(ServerOptions options)
    {
        var service = new GenerationService(_target, null, new ServingOptions { Decoding = new DecodingSettings { Mode = DecodingMode.Ar }, MaxConcurrent = 2, MaxQueue = 8 });
        return await SprinterServer.StartAsync(service, options);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _server.Service.Dispose();
        _target.Dispose(); _draft.Dispose();
    }

    RemoteTarget.Connection Connect(SprinterServer server, int topLogprobs = 1, TimeSpan? timeout = null, int retries = 4) =>
        RemoteTarget.Connect(new RemoteTargetOptions { BaseUrl = new Uri(server.Address, "v1"), TopLogprobs = topLogprobs, Timeout = timeout ?? TimeSpan.FromSeconds(20), MaxRetries = retries, Backoff = TimeSpan.FromMilliseconds(5) },
            _draft.Tokenizer, _draft.Model.OutputVocabulary, 256);

    static readonly string[] Prompts = ["The city of", "In the morning the", "A quick brown fox", "Numbers 12 and 34"];

    int[] Local(IDecoder decoder, int[] prompt, int n) => Decoding.DecoderTestPair.Ids(decoder, prompt, n);

    static SpeculativeOptions Sd => new() { Gamma = 3 };
    static SpeculativeOptions StrictOnCall => new() { Method = DecodingMethod.SprinterStrictOnCall, Verifier = new ConstantVerifier(0.7f), Threshold = 0.5f, MaxDraft = 4 };

    [Fact]
    public void GreedyArSdAndStrictOnCallThroughHttpEqualLocalArTokenForToken()
    {
        var connection = Connect(_server);
        using var client = connection.Session.Client;
        Assert.Contains("same ids", connection.TokenizerCheck);
        foreach (string text in Prompts)
        {
            int[] prompt = _draft.Tokenizer.EncodePrompt(text);
            int[] reference = Local(new AutoregressiveDecoder(_target.Model.CreateSession(), SamplingOptions.Greedy, 0), prompt, 24);
            var remoteAr = new AutoregressiveDecoder(connection.Session, SamplingOptions.Greedy, 0);
            Assert.Equal(reference, Local(remoteAr, prompt, 24));
            Assert.Equal(24, remoteAr.LastStats!.Remote!.Calls);   // one call per token, no prefill call
            foreach (var options in new[] { Sd, StrictOnCall })
            {
                var decoder = new SpeculativeDecoder(_draft.Model.CreateSession(), connection.Session, options, SamplingOptions.Greedy, 0);
                Assert.Equal(reference, Local(decoder, prompt, 24));
                var stats = decoder.LastStats!;
                Assert.Equal(stats.TargetCalls, stats.Remote!.Calls);   // one HTTP call per target call
                Assert.True(stats.Remote.BytesSent > 0 && stats.Remote.BytesReceived > stats.Remote.BytesSent && stats.Remote.RoundTripMs > 0);
                Assert.Equal(0, stats.TargetFlops);                       // unknown for a remote model, not invented
            }
        }
    }

    [Fact]
    public void SampledSdWithTheWholeDistributionThroughHttpEqualsLocalSampledSd()
    {
        // Rows are log-softmax (logits minus a constant), so the sampling distribution and, with the
        // same seed, every draw are the local target's: sampled SD is exact with --target-logprobs -1.
        var connection = Connect(_server, topLogprobs: -1);
        using var client = connection.Session.Client;
        var sampling = new SamplingOptions { Temperature = 1 };
        foreach (string text in Prompts)
        {
            int[] prompt = _draft.Tokenizer.EncodePrompt(text);
            int[] local = Local(new SpeculativeDecoder(_draft.Model.CreateSession(), _target.Model.CreateSession(), Sd, sampling, 11), prompt, 16);
            Assert.Equal(local, Local(new SpeculativeDecoder(_draft.Model.CreateSession(), connection.Session, Sd, sampling, 11), prompt, 16));
        }
    }

    [Fact]
    public void RowsMatchTheLocalTargetsLogSoftmaxWhenTheWholeDistributionIsAsked()
    {
        var connection = Connect(_server, topLogprobs: -1);
        using var client = connection.Session.Client;
        Assert.True(connection.Session.Remote!.FullDistribution);
        int[] prompt = _draft.Tokenizer.EncodePrompt("The city of");
        var local = _target.Model.CreateSession();
        local.Forward(prompt, logitRows: 3);
        connection.Session.Forward(prompt, 3, default);
        for (int row = 0; row < 3; row++)
        {
            var logits = local.Logits(row).ToArray();
            float max = logits.Max();
            double logZ = max + Math.Log(logits.Sum(x => Math.Exp(x - max)));
            var remote = connection.Session.Logits(row);
            for (int i = 0; i < logits.Length; i++) Assert.True(Math.Abs(remote[i] - (logits[i] - logZ)) < 1e-4, $"row {row}, token {i}");
        }
    }

    [Fact]
    public async Task InjectedFaultsAreRetriedWithoutLosingOrDuplicatingATokenAndGiveTheSameOutput()
    {
        await using var faulty = await Start(new ServerOptions { Port = 0, DebugFailRate = 0.25, DebugSeed = 3 });
        var clean = Connect(_server);
        var connection = Connect(faulty, retries: 8);
        using var a = clean.Session.Client;
        using var b = connection.Session.Client;
        int retries = 0;
        foreach (string text in Prompts)
        {
            int[] prompt = _draft.Tokenizer.EncodePrompt(text);
            foreach (var options in new[] { Sd, StrictOnCall })
            {
                int[] expected = Local(new SpeculativeDecoder(_draft.Model.CreateSession(), clean.Session, options, SamplingOptions.Greedy, 0), prompt, 20);
                var decoder = new SpeculativeDecoder(_draft.Model.CreateSession(), connection.Session, options, SamplingOptions.Greedy, 0);
                Assert.Equal(expected, Local(decoder, prompt, 20));
                retries += decoder.LastStats!.Remote!.Retries;
            }
        }
        Assert.True(retries > 3, $"only {retries} retries: the faults did not fire");
        await faulty.DisposeAsync();
        faulty.Service.Dispose();
    }

    [Fact]
    public void ARefusedConnectionIsRetriedThenOneClearErrorAndTheSessionIsUnchanged()
    {
        var connection = Connect(_server);
        using var client = connection.Session.Client;
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0)) { listener.Start(); port = ((IPEndPoint)listener.LocalEndpoint).Port; }
        using var dead = new RemoteTargetClient(new RemoteTargetOptions { BaseUrl = new Uri($"http://127.0.0.1:{port}/v1"), MaxRetries = 2, Backoff = TimeSpan.FromMilliseconds(5) });
        var session = new RemoteTargetSession(dead, "m", _draft.Model.OutputVocabulary, 256);
        session.Prefill([1, 2, 3]);
        var e = Assert.Throws<RemoteTargetException>(() => session.Forward([4, 5], 2, default));
        Assert.Contains("failed 3 times", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(3, session.Length);      // the failed call changed nothing
        Assert.Equal(2, dead.Stats.Retries);
    }

    [Fact]
    public async Task ATimeoutIsRetriedAndCancellationStopsTheCallInFlight()
    {
        await using var slow = await Start(new ServerOptions { Port = 0, DebugDelayMs = 2000 });
        using var client = new RemoteTargetClient(new RemoteTargetOptions { BaseUrl = new Uri(slow.Address, "v1"), Timeout = TimeSpan.FromMilliseconds(100), MaxRetries = 1, Backoff = TimeSpan.FromMilliseconds(5) });
        var session = new RemoteTargetSession(client, "tiny", _draft.Model.OutputVocabulary, 256);
        var e = Assert.Throws<RemoteTargetException>(() => session.Forward([1, 2], 1, default));
        Assert.Contains("no answer within 0.1 s", e.Message);
        Assert.Equal(1, client.Stats.Retries);

        using var patient = new RemoteTargetClient(new RemoteTargetOptions { BaseUrl = new Uri(slow.Address, "v1"), Timeout = TimeSpan.FromSeconds(30) });
        var waiting = new RemoteTargetSession(patient, "tiny", _draft.Model.OutputVocabulary, 256);
        using var cancel = new CancellationTokenSource(150);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => waiting.Forward([1, 2], 1, cancel.Token));
        Assert.True(clock.ElapsedMilliseconds < 1500, $"cancellation took {clock.ElapsedMilliseconds} ms");
        Assert.Equal(0, waiting.Length);
        slow.Service.Dispose();
    }

    [Fact]
    public void ATargetWithAnotherTokenizerIsRefusedWithOneLine()
    {
        // A fake server whose /tokenize gives other ids than the draft's tokenizer.
        var handler = new FakeHandler(request => request.RequestUri!.AbsolutePath.EndsWith("tokenize")
            ? """{"tokens": [5, 6, 7], "count": 3, "max_model_len": 128}""" : """{"data": [{"id": "other"}]}""");
        var e = Assert.Throws<InvalidInputException>(() => RemoteTarget.Connect(new RemoteTargetOptions { BaseUrl = new Uri("http://remote.test/v1") },
            _draft.Tokenizer, _draft.Model.OutputVocabulary, 256, default, handler));
        Assert.Contains("tokenizes differently from the draft", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AnAnswerOfTheWrongShapeIsOneClearError()
    {
        var handler = new FakeHandler(_ => """{"choices": [{"text": "x", "logprobs": null}]}""");
        using var client = new RemoteTargetClient(new RemoteTargetOptions { BaseUrl = new Uri("http://remote.test/v1") }, handler);
        var session = new RemoteTargetSession(client, "m", 257, 256);
        var e = Assert.Throws<RemoteTargetException>(() => session.Forward([1, 2, 3], 2, default));
        Assert.Contains("prompt_logprobs", e.Message);
        e = Assert.Throws<RemoteTargetException>(() => session.Forward([1, 2, 3], 1, default));
        Assert.Contains("choices[0].logprobs", e.Message);
        Assert.Equal(0, session.Length);
    }

    [Fact]
    public async Task ASprinterFrontEndWithARemoteTargetAnswersAsTheTargetItselfAndMapsItsFailureTo502()
    {
        var connection = Connect(_server);
        connection.Session.Client.Dispose();
        var source = new RemoteTargetSource(connection.Session.Client.Options, connection.Model, _draft.Model.OutputVocabulary, connection.Capacity);
        var frontService = new GenerationService(null, _draft, new ServingOptions { Decoding = new DecodingSettings { Mode = DecodingMode.Sd, Gamma = 3 } }, null, source);
        await using var front = await SprinterServer.StartAsync(frontService, new ServerOptions { Port = 0 });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        async Task<(int, JsonNode)> Post(Uri server, string body)
        {
            using var response = await http.PostAsync(new Uri(server, "v1/completions"), new StringContent(body, Encoding.UTF8, "application/json"));
            return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
        }
        string request = """{"prompt": "The city of", "max_tokens": 16, "temperature": 0}""";
        var (status, direct) = await Post(_server.Address, request);
        Assert.Equal(200, status);
        (status, var viaFront) = await Post(front.Address, request);
        Assert.True(status == 200, viaFront.ToJsonString());
        Assert.Equal((string)direct["choices"]![0]!["text"]!, (string)viaFront["choices"]![0]!["text"]!);
        Assert.Equal("sd", (string)viaFront["usage"]!["mode"]!);
        Assert.True((int)viaFront["usage"]!["sprinter"]!["remote"]!["http_calls"]! >= 1);

        // Top-1 logprobs cannot sample losslessly: refused by name, not silently approximated.
        (status, var refused) = await Post(front.Address, """{"prompt": "x", "max_tokens": 4, "temperature": 1}""");
        Assert.Equal(400, status);
        Assert.Equal("temperature", (string?)refused["error"]!["param"]);

        await _server.DisposeAsync();   // the target goes away: the front end answers 502 with one line
        _server.Service.Dispose();
        (status, var failed) = await Post(front.Address, request);
        Assert.Equal(502, status);
        Assert.Contains("remote target failed", (string)failed["error"]!["message"]!);
        _server = await Start(new ServerOptions { Port = 0 });
        frontService.Dispose();
    }

    sealed class FakeHandler(Func<HttpRequestMessage, string> answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(Send(request, cancellationToken));

        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
            new(HttpStatusCode.OK) { Content = new StringContent(answer(request), Encoding.UTF8, "application/json") };
    }
}
