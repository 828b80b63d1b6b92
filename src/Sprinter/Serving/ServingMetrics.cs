using System.Diagnostics;
using System.Diagnostics.Metrics;
using Sprinter.Decoding;

namespace Sprinter.Serving;

/// <summary>
/// The server's metrics as .NET <see cref="Meter"/> instruments. Names follow vLLM's where it has
/// one (its speculative-decoding counters and request histograms), so dashboards built for vLLM
/// read them; Sprinter's own (target calls, unverified tokens, verifier decisions, provenance) are
/// <c>sprinter_*</c>. Counters are named without the <c>_total</c> that Prometheus exposition adds.
/// One instance (one <see cref="Meter"/>) per service, so two servers in one process never mix counts.
/// </summary>
public sealed class ServingMetrics : IDisposable
{
    public const string MeterName = "Sprinter.Serving";

    static readonly double[] SecondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];

    public Meter Meter { get; } = new(MeterName);

    readonly Counter<long> _requests, _promptTokens, _generationTokens, _drafts, _draftTokens, _acceptedTokens, _acceptedPerPosition;
    readonly Counter<long> _targetCalls, _unverified, _verifierAccepts, _verifierRejects, _tokensByOrigin, _httpRequests;
    readonly Histogram<double> _timeToFirstToken, _interTokenLatency, _e2eLatency, _queueTime, _httpDuration;

    public ServingMetrics(AdmissionGate gate)
    {
        _requests = Meter.CreateCounter<long>("vllm:request_success", description: "Finished generations by finish reason (stop, length, abort).");
        _promptTokens = Meter.CreateCounter<long>("vllm:prompt_tokens", description: "Prompt tokens prefilled.");
        _generationTokens = Meter.CreateCounter<long>("vllm:generation_tokens", description: "Tokens generated.");
        _drafts = Meter.CreateCounter<long>("vllm:spec_decode_num_drafts", description: "Rounds in which the draft proposed tokens.");
        _draftTokens = Meter.CreateCounter<long>("vllm:spec_decode_num_draft_tokens", description: "Tokens the draft proposed.");
        _acceptedTokens = Meter.CreateCounter<long>("vllm:spec_decode_num_accepted_tokens",
            description: "Drafted tokens kept: accepted by the target, or (SPRINTER paper mode) kept unverified on the verifier's word; the unverified share is sprinter_unverified_tokens.");
        _acceptedPerPosition = Meter.CreateCounter<long>("vllm:spec_decode_num_accepted_tokens_per_pos", description: "Drafted tokens kept, by position in the round (label position, from 0).");
        _targetCalls = Meter.CreateCounter<long>("sprinter_target_calls", description: "Forward passes of the target model during decoding.");
        _unverified = Meter.CreateCounter<long>("sprinter_unverified_tokens", description: "Tokens emitted that the target never tested (lossy SPRINTER).");
        _verifierAccepts = Meter.CreateCounter<long>("sprinter_verifier_accepts", description: "Drafted tokens the SPRINTER verifier scored at or above the threshold.");
        _verifierRejects = Meter.CreateCounter<long>("sprinter_verifier_rejects", description: "Drafted tokens the SPRINTER verifier scored below the threshold.");
        _tokensByOrigin = Meter.CreateCounter<long>("sprinter_tokens", description: "Tokens emitted, by provenance (sampled, unverified, accepted, resampled, bonus).");
        _httpRequests = Meter.CreateCounter<long>("sprinter_http_requests", description: "HTTP requests by route and status code.");
        _timeToFirstToken = Seconds("vllm:time_to_first_token_seconds", "From the request's arrival (queue included) to its first token.");
        _interTokenLatency = Seconds("vllm:inter_token_latency_seconds", "Between consecutive tokens of a generation (tokens of one speculative round arrive together).");
        _e2eLatency = Seconds("vllm:e2e_request_latency_seconds", "From a generation's arrival to its last token.");
        _queueTime = Seconds("vllm:request_queue_time_seconds", "Time a generation waited for a free slot.");
        _httpDuration = Seconds("sprinter_http_request_duration_seconds", "HTTP request durations by route and status code.");
        Meter.CreateObservableGauge("vllm:num_requests_running", () => gate.Running, description: "Generations running.");
        Meter.CreateObservableGauge("vllm:num_requests_waiting", () => gate.Waiting, description: "Generations waiting for a slot.");
        Meter.CreateObservableGauge("sprinter_process_working_set_bytes", () => Environment.WorkingSet, unit: "By", description: "The server process's working set.");
        Meter.CreateObservableGauge("sprinter_gc_heap_bytes", () => GC.GetTotalMemory(false), unit: "By", description: "Bytes allocated on the managed heap.");
    }

    /// <summary>The batch's gauges: sequences per step, the last step's time and target positions, and the gamma the cost model chose.</summary>
    public void Observe(BatchScheduler scheduler)
    {
        Meter.CreateObservableGauge("sprinter_batch_size", () => scheduler.BatchSize, description: "Sequences in the last batched step.");
        Meter.CreateObservableGauge("sprinter_step_milliseconds", () => scheduler.LastStepMs, unit: "ms", description: "Wall time of the last batched step (draft passes, target pass, acceptance).");
        Meter.CreateObservableGauge("sprinter_step_target_positions", () => scheduler.LastTargetPassRows, description: "Positions in the last step's target pass.");
        Meter.CreateObservableGauge("sprinter_step_target_milliseconds", () => scheduler.LastTargetPassMs, unit: "ms", description: "Wall time of the last step's target pass.");
        Meter.CreateObservableGauge("sprinter_spec_gamma", () => scheduler.LastGamma, description: "Draft tokens per round the cost model allowed SD in the last step (-1: no adaptive sequence).");
        Meter.CreateObservableCounter("sprinter_steps", () => scheduler.Steps, description: "Batched steps run.");
    }

    Histogram<double> Seconds(string name, string description) =>
        Meter.CreateHistogram(name, "s", description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

    public void QueueTime(TimeSpan waited) => _queueTime.Record(waited.TotalSeconds);
    public void FirstToken(TimeSpan sinceArrival) => _timeToFirstToken.Record(sinceArrival.TotalSeconds);
    public void InterToken(TimeSpan gap) => _interTokenLatency.Record(gap.TotalSeconds);

    public void HttpRequest(string route, int status, TimeSpan duration)
    {
        var tags = new TagList { { "route", route }, { "status", status.ToString(System.Globalization.CultureInfo.InvariantCulture) } };
        _httpRequests.Add(1, tags);
        _httpDuration.Record(duration.TotalSeconds, tags);
    }

    /// <summary>Counts a finished (or aborted) generation and its decoding statistics.</summary>
    public void Finished(DecodingStats stats, string finishReason, TimeSpan sinceArrival)
    {
        _requests.Add(1, new KeyValuePair<string, object?>("finished_reason", finishReason));
        _e2eLatency.Record(sinceArrival.TotalSeconds);
        _promptTokens.Add(stats.PromptTokens);
        _generationTokens.Add(stats.NewTokens);
        _targetCalls.Add(stats.TargetCalls);
        _unverified.Add(stats.Unverified);
        _verifierAccepts.Add(stats.VerifierAccepts);
        _verifierRejects.Add(stats.VerifierRejects);
        foreach (var (origin, count) in new[] { ("sampled", stats.Sampled), ("unverified", stats.Unverified), ("accepted", stats.Accepted), ("resampled", stats.Resampled), ("bonus", stats.Bonus) })
            if (count > 0) _tokensByOrigin.Add(count, new KeyValuePair<string, object?>("origin", origin));
        if (stats.DraftedAtPosition.Count == 0) return;   // autoregressive: nothing drafted
        _drafts.Add(stats.DraftedAtPosition[0]);          // every drafting round drafts at position 0
        _draftTokens.Add(stats.Drafted);
        _acceptedTokens.Add(stats.KeptAtPosition.Sum());
        for (int i = 0; i < stats.KeptAtPosition.Count; i++)
            _acceptedPerPosition.Add(stats.KeptAtPosition[i], new KeyValuePair<string, object?>("position", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    public void Dispose() => Meter.Dispose();
}
