using System.CommandLine;
using Sprinter.Decoding;
using Sprinter.Models;
using Sprinter.Remote;

namespace Sprinter.Cli.Commands;

/// <summary>
/// The options of a remote target (<c>--target URL</c>): a target behind an OpenAI-compatible server
/// while the draft and the verifier stay here. The API key comes from SPRINTER_TARGET_API_KEY or
/// OPENAI_API_KEY, never from the command line (it would land in shell history and process lists).
/// </summary>
internal sealed class RemoteTargetCli
{
    public Option<string?> Model { get; } = new("--target-model") { Description = "With --target URL: the served model's name. Default: the first one /models lists." };
    public Option<int?> Logprobs { get; } = new("--target-logprobs") { Description = "With --target URL: candidates per position the target returns. Default 1 for greedy decoding (exact); -1 (the whole vocabulary, vLLM --max-logprobs -1) when sampling, the only exact choice there." };
    public Option<double> Timeout { get; } = new("--target-timeout") { Description = "With --target URL: seconds one HTTP call may take before it is retried.", DefaultValueFactory = _ => 30 };
    public Option<int> Retries { get; } = new("--target-retries") { Description = "With --target URL: retries of a call after a timeout, a 5xx or a refused connection (exponential backoff from 50 ms).", DefaultValueFactory = _ => 4 };

    public void AddTo(Command command) { command.Add(Model); command.Add(Logprobs); command.Add(Timeout); command.Add(Retries); }

    public static bool IsUrl(string? target) => target is not null && (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase));

    /// <summary>Connects to <paramref name="url"/> and checks its tokenizer against the draft's (a mismatch is one line, exit code 2).</summary>
    public RemoteTarget.Connection Connect(ParseResult r, string url, LanguageModel draft, SamplingOptions sampling, CancellationToken ct) =>
        Connect(r, url, draft, sampling.IsGreedy ? 1 : -1, ct);

    /// <param name="defaultLogprobs">Candidates per position when --target-logprobs is not given (1: what greedy needs; -1: all).</param>
    public RemoteTarget.Connection Connect(ParseResult r, string url, LanguageModel draft, int defaultLogprobs, CancellationToken ct)
    {
        double timeout = r.GetValue(Timeout);
        if (!(timeout > 0 && timeout <= 3600)) throw new InvalidInputException($"--target-timeout must be in (0, 3600] seconds, got {timeout}.");
        int retries = r.GetValue(Retries);
        if (retries is < 0 or > 20) throw new InvalidInputException($"--target-retries must be in [0, 20], got {retries}.");
        int logprobs = r.GetValue(Logprobs) ?? defaultLogprobs;
        if (logprobs is 0 or < -1) throw new InvalidInputException($"--target-logprobs must be -1 (all) or >= 1, got {logprobs}.");
        var options = new RemoteTargetOptions
        {
            BaseUrl = RemoteTargetOptions.ParseUrl(url),
            Model = r.GetValue(Model),
            ApiKey = RemoteTargetOptions.ApiKeyFromEnvironment(),
            Timeout = TimeSpan.FromSeconds(timeout),
            MaxRetries = retries,
            TopLogprobs = logprobs,
        };
        int capacity = Math.Min(draft.Config.MaxPositions, Engine.TransformerModel.DefaultMaxContext);
        return RemoteTarget.Connect(options, draft.Tokenizer, draft.Model.OutputVocabulary, capacity, ct);
    }

    /// <summary>What is exact with this target and decoding, in one line.</summary>
    public static string Exactness(RemoteTarget.Connection connection, SamplingOptions sampling, bool decodingLossless)
    {
        bool full = connection.Session.Remote!.FullDistribution;
        if (!decodingLossless) return "the decoding itself is lossy";
        if (sampling.IsGreedy) return "exact: greedy decoding needs only each position's top-1";
        return full ? "exact: the target returns the whole distribution"
            : $"APPROXIMATE: sampling from the target's top-{connection.Session.Client.Options.TopLogprobs} only; exact needs --target-logprobs -1 (vLLM --max-logprobs -1)";
    }

    public static bool Exact(RemoteTarget.Connection connection, SamplingOptions sampling) => sampling.IsGreedy || connection.Session.Remote!.FullDistribution;
}
