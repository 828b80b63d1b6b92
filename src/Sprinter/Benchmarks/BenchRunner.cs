using System.Diagnostics;
using Sprinter.Decoding;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Serving;
using Sprinter.Verification;

namespace Sprinter.Benchmarks;

/// <summary>One method's generation for one prompt under one sampling setting, with its scores.</summary>
public sealed record BenchRun(BenchExample Example, SamplingSetting Sampling, BenchMethod Method, DecodingStats Stats,
    int[] Output, LikelihoodTotal OutputNll, RougeScores Rouge, VerifierConfusion? Audit);

/// <summary>A prompt as the models saw it: its token count after cutting, and whether it was cut.</summary>
public sealed record BenchPrompt(BenchExample Example, int Tokens, bool Truncated, OneStepTheory[] Theory);

/// <summary>Everything a benchmark run measured.</summary>
/// <param name="Calibrations">The online threshold controller of each calibrated (method, setting, dataset), kept across the dataset's prompts, by "method/setting/dataset".</param>
public sealed record BenchOutcome(IReadOnlyList<BenchRun> Runs, IReadOnlyList<BenchPrompt> Prompts, double WallSeconds,
    IReadOnlyDictionary<string, OnlineCalibration>? Calibrations = null);

/// <summary>
/// Runs every method on the same prompts. Per prompt and sampling setting the methods run back to
/// back, in an order rotated from prompt to prompt, so machine noise hits all of them alike; a
/// warm-up pass first lets the JIT and caches settle. Each (prompt, method, setting) gets its own
/// seed derived from the base seed, so runs are reproducible and methods do not share draws.
/// Prompts longer than the context minus the new tokens (and one token of lookahead) keep their end.
/// </summary>
public sealed class BenchRunner
{
    readonly TransformerModel _draft, _target;
    readonly Tokenizer _tokenizer;
    readonly IReadOnlyDictionary<string, VerifierChoice> _verifiers;   // by sampling setting name
    readonly IVerifier? _verifier;                                    // the first setting's (theory check)
    readonly BenchConfig _config;
    readonly TransformerSession _draftSession, _targetSession;
    readonly ITargetSession _decodingTarget;   // the target the decoders call: the local session, or a remote one
    readonly LikelihoodScorer _scorer;
    readonly Dictionary<string, OnlineCalibration> _calibrations = [];

    public BenchRunner(TransformerModel draft, TransformerModel target, Tokenizer tokenizer, IVerifier? verifier, BenchConfig config)
        : this(draft, target, tokenizer, verifier is null ? null : config.Settings.ToDictionary(s => s.Name, _ => VerifierChoice.Of(verifier, null)), config) { }

    /// <param name="verifiers">The verifier of each sampling setting, by setting name (SPRINTER methods need one for every setting).</param>
    /// <param name="remoteTarget">A remote target the decoders call instead of <paramref name="target"/>; the local
    /// <paramref name="target"/> then only scores outputs (perplexity, win rate, theory check).</param>
    public BenchRunner(TransformerModel draft, TransformerModel target, Tokenizer tokenizer, IReadOnlyDictionary<string, VerifierChoice>? verifiers, BenchConfig config,
        ITargetSession? remoteTarget = null)
    {
        _draft = draft; _target = target; _tokenizer = tokenizer; _config = config;
        _verifiers = verifiers ?? new Dictionary<string, VerifierChoice>();
        if (config.Methods.Any(m => m.IsSprinter) && config.Settings.Any(s => !_verifiers.ContainsKey(s.Name)))
            throw new InvalidSettingException("verifier", "is needed by the SPRINTER methods for every sampling setting: give a verifier file (or constant:S).");
        _verifier = config.Settings.Select(s => _verifiers.GetValueOrDefault(s.Name)?.Verifier).FirstOrDefault(v => v is not null);
        _draftSession = draft.CreateSession();
        _targetSession = target.CreateSession();
        _decodingTarget = remoteTarget ?? _targetSession;
        _scorer = new LikelihoodScorer(target);
    }

    /// <summary>Most prompt tokens that leave room for the new tokens and one token of lookahead.</summary>
    public int PromptBudget => Math.Min(_draftSession.Capacity, _decodingTarget.Capacity) - _config.NewTokens - 1;

    public BenchOutcome Run(IReadOnlyList<BenchExample> examples, IProgress<JobProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (PromptBudget < 1)
            throw new InvalidSettingException("new_tokens", $"{_config.NewTokens} leaves no room for a prompt in the models' context of {Math.Min(_draftSession.Capacity, _targetSession.Capacity)} tokens.");
        var clock = Stopwatch.StartNew();
        var prompts = examples.Select(Prepare).ToList();
        WarmUp(prompts[0]);
        var theory = _verifier is not null && _config.TheoryThresholds.Count > 0 ? new TheoryCheck(_draft, _target, _verifier) : null;
        var runs = new List<BenchRun>();
        int total = prompts.Count * _config.Settings.Count * _config.Methods.Count, done = 0;
        var promptResults = new List<BenchPrompt>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var (example, ids, truncated) = prompts[i];
            foreach (var setting in _config.Settings)
                for (int j = 0; j < _config.Methods.Count; j++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var method = _config.Methods[(i + j) % _config.Methods.Count];
                    runs.Add(RunOne(example, ids, setting, method, Seed(i, setting, method)));
                    progress?.Report(new JobProgress(++done, total, $"{example.Dataset} #{example.Id} {setting.Name} {method.Name}"));
                }
            promptResults.Add(new BenchPrompt(example, ids.Length, truncated, theory?.Evaluate(ids, _config.TheoryThresholds) ?? []));
        }
        return new BenchOutcome(runs, promptResults, clock.Elapsed.TotalSeconds, _calibrations);
    }

    (BenchExample Example, int[] Ids, bool Truncated) Prepare(BenchExample example)
    {
        int[] ids = _tokenizer.EncodePrompt(example.Prompt, PromptBudget, out bool truncated);
        if (ids.Length == 0) throw new InvalidInputException($"{example.Dataset} #{example.Id}: the prompt encodes to no tokens.");
        return (example, ids, truncated);
    }

    void WarmUp((BenchExample Example, int[] Ids, bool Truncated) prompt)
    {
        foreach (var setting in _config.Settings)
            foreach (var method in _config.Methods)
                Generate(Decoder(method, setting, 0, null, warmUp: true), prompt.Ids, Math.Min(_config.NewTokens, 4));
    }

    BenchRun RunOne(BenchExample example, int[] prompt, SamplingSetting setting, BenchMethod method, int seed)
    {
        var audit = method.IsSprinter ? new VerifierAudit(_target.OutputVocabulary, _verifiers.GetValueOrDefault(setting.Name)?.Label ?? LabelRule.Paper) : null;
        var decoder = Decoder(method, setting, seed, audit, dataset: example.Dataset);
        int[] output = Generate(decoder, prompt, _config.NewTokens);
        var stats = decoder.LastStats!;
        int[] all = [.. prompt, .. output];
        var nll = _scorer.Score(all, from: prompt.Length);
        var rouge = Rouge.Score(_tokenizer.Decode(all), example.Reference);
        return new BenchRun(example, setting, method, stats, output, nll, rouge, audit?.Confusion);
    }

    IDecoder Decoder(BenchMethod method, SamplingSetting setting, int seed, VerifierAudit? audit, bool warmUp = false, string dataset = "")
    {
        var verifier = _verifiers.GetValueOrDefault(setting.Name);
        var decoder = DecoderFactory.ForSessions(method.Settings(verifier, _config.MaxDraft), setting.Options, seed, verifier, _decodingTarget, _draftSession);
        decoder.Observer = audit;
        // Online calibration runs on across a dataset's prompts, as it would across a user's requests; each dataset
        // starts afresh from the offline threshold, so each shows whether the budget holds on its text (the warm-up keeps its own).
        if (decoder.Calibration is { } fresh && !warmUp)
        {
            string key = $"{method.Name}/{setting.Name}/{dataset}";
            if (!_calibrations.TryGetValue(key, out var kept)) _calibrations[key] = kept = fresh;
            decoder.Calibration = kept;
        }
        return decoder;
    }

    static int[] Generate(IDecoder decoder, int[] prompt, int maxTokens)
    {
        var output = new List<int>(maxTokens);
        var e = decoder.GenerateAsync(prompt, maxTokens).GetAsyncEnumerator();
        while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult()) output.Add(e.Current.Id);
        return [.. output];
    }

    /// <summary>A seed for (prompt, setting, method) that does not depend on the process (unlike string.GetHashCode).</summary>
    int Seed(int prompt, SamplingSetting setting, BenchMethod method)
    {
        uint h = 2166136261;
        foreach (char c in $"{_config.Seed}/{prompt}/{setting.Name}/{method.Name}") h = (h ^ c) * 16777619;
        return (int)(h & 0x7fffffff);
    }
}
