using System.Net;
using System.Text;
using Sprinter.Serving;

namespace Sprinter.Tests.Serving;

/// <summary>
/// One slot and no queue, with each token slowed on the decoding thread (a stand-in for a slow
/// model), so a generation is still running while the test acts on it.
/// </summary>
/// <summary>Timing-dependent (a slowed generation must still be running when the client leaves), so
/// these run alone, not beside the rest of the suite on 2 cores.</summary>
[CollectionDefinition(nameof(AdmissionTests), DisableParallelization = true)]
public class AdmissionTestsCollection;

[Collection(nameof(AdmissionTests))]
public class AdmissionTests : IAsyncLifetime
{
    readonly ServerFixture _fixture = new();

    public async Task InitializeAsync()
    {
        await _fixture.StartAsync(ServerFixture.DefaultOptions with { MaxConcurrent = 1, MaxQueue = 0 });
        _fixture.Service.AfterEachToken = () => Thread.Sleep(50);
    }

    public Task DisposeAsync() => _fixture.DisposeAsync();

    const string LongStream = """{"prompt": "abc", "max_tokens": 200, "temperature": 0, "stream": true}""";

    [Fact]
    public async Task AFullServerAnswers429AndADisconnectedClientFreesItsSlotAtOnce()
    {
        using var cts = new CancellationTokenSource();
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(LongStream, Encoding.UTF8, "application/json") };
        var response = await _fixture.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        Assert.StartsWith("data: {", await reader.ReadLineAsync(cts.Token));   // streaming has begun
        Assert.Equal(1, _fixture.Service.Gate.Running);

        using (var busy = await _fixture.Http.PostAsync("v1/completions", new StringContent("""{"prompt": "x", "max_tokens": 2}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
            Assert.Equal("1", busy.Headers.GetValues("Retry-After").Single());
            Assert.Contains("\"rate_limit_error\"", await busy.Content.ReadAsStringAsync());
        }

        // The client goes away mid-stream: the generation (200 tokens x 50 ms) is cancelled, not finished.
        cts.Cancel();
        reader.Dispose();
        response.Dispose();
        for (int i = 0; i < 200 && _fixture.Service.Gate.Running > 0; i++) await Task.Delay(25);
        Assert.Equal(0, _fixture.Service.Gate.Running);
        Assert.Equal(1, await _fixture.MetricAsync("vllm:request_success_total{finished_reason=\"abort\"}"));

        _fixture.Service.AfterEachToken = null;
        using var next = await _fixture.Http.PostAsync("v1/completions", new StringContent("""{"prompt": "x", "max_tokens": 2}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
    }
}

public class AdmissionGateTests
{
    [Fact]
    public async Task WaitersQueueUpToTheLimitThenAreRefused()
    {
        var gate = new AdmissionGate(maxRunning: 1, maxWaiting: 1);
        var first = await gate.EnterAsync(CancellationToken.None);
        var second = gate.EnterAsync(CancellationToken.None);   // waits
        Assert.False(second.IsCompleted);
        Assert.Equal(1, gate.Waiting);
        await Assert.ThrowsAsync<ServerBusyException>(() => gate.EnterAsync(CancellationToken.None));
        first.Dispose();
        first.Dispose();   // a second dispose frees nothing more
        (await second).Dispose();
        Assert.Equal(0, gate.Running);
        Assert.Equal(0, gate.Waiting);
    }

    [Fact]
    public void StopStringsAreHeldBackAcrossPiecesAndCutBeforeTheMatch()
    {
        var matcher = new StopSequenceMatcher(["END", "xyz"]);
        Assert.Equal("hello ", matcher.Append("hello E"));   // "E" might start END
        Assert.Equal("", matcher.Append("N"));
        Assert.Equal("", matcher.Append("D and more"));
        Assert.True(matcher.Stopped);
        var open = new StopSequenceMatcher(["END"]);
        Assert.Equal("a", open.Append("aEN"));
        Assert.Equal("ENx", open.Append("x"));
        Assert.Equal("E", open.Append("E") + open.Flush());
        Assert.False(open.Stopped);
    }
}
