using Sprinter.Decoding;
using System.Text.Json.Nodes;

namespace Sprinter.Benchmarks;

/// <summary>A finished benchmark: the summaries, the theory table and the goal check, as results.json holds them.</summary>
public sealed class BenchResults
{
    public required BenchConfig Config { get; init; }
    public required BenchContext Context { get; init; }
    public required BenchOutcome Outcome { get; init; }
    public required IReadOnlyList<MethodSummary> Methods { get; init; }
    public required IReadOnlyList<TheorySummary> Theory { get; init; }
    public required IReadOnlyList<GoalCheck> Goals { get; init; }

    public static BenchResults From(BenchConfig config, BenchContext context, BenchOutcome outcome)
    {
        var methods = BenchSummary.Methods(outcome, config);
        return new BenchResults
        {
            Config = config, Context = context, Outcome = outcome, Methods = methods,
            Theory = BenchSummary.Theory(outcome, config), Goals = GoalCheck.From(methods, config),
        };
    }

    /// <summary>JSON numbers cannot be NaN: missing values become null.</summary>
    static JsonNode? N(double v, int digits = 4) => double.IsFinite(v) ? Math.Round(v, digits) : null;

    public JsonObject ToJson() => new()
    {
        ["command"] = Context.CommandLine,
        ["machine"] = Context.Machine.DeepClone(),
        ["models"] = new JsonObject { ["draft"] = Context.Draft.DeepClone(), ["target"] = Context.Target.DeepClone(), ["verifier"] = Context.Verifier },
        ["settings"] = new JsonObject
        {
            ["new_tokens"] = Config.NewTokens,
            ["max_draft"] = Config.MaxDraft,
            ["seed"] = Config.Seed,
            ["sampling"] = new JsonArray(Config.Settings.Select(s => (JsonNode)$"{s.Name}: {s.Options}").ToArray()),
            ["methods"] = new JsonArray(Config.Methods.Select(m => (JsonNode)m.Name).ToArray()),
        },
        ["datasets"] = new JsonArray(Outcome.Prompts.GroupBy(p => p.Example.Dataset).Select(g => (JsonNode)new JsonObject
        {
            ["name"] = g.Key,
            ["prompts"] = g.Count(),
            ["truncated_prompts"] = g.Count(p => p.Truncated),
            ["mean_prompt_tokens"] = N(g.Average(p => p.Tokens), 1),
        }).ToArray()),
        ["methods"] = new JsonArray(Methods.Select(m => (JsonNode)MethodJson(m, Config)).ToArray()),
        ["online_calibration"] = new JsonArray((Outcome.Calibrations ?? new Dictionary<string, Decoding.OnlineCalibration>()).Select(kv => (JsonNode)new JsonObject
        {
            ["method"] = kv.Key, ["budget"] = kv.Value.Budget, ["label"] = kv.Value.Label.ToString().ToLowerInvariant(), ["final_threshold"] = N(kv.Value.Threshold),
            ["eta_tp"] = N(kv.Value.EtaTp), ["eta_fp"] = N(kv.Value.EtaFp), ["labelled_decisions"] = N(kv.Value.TruePositives + kv.Value.FalseNegatives + kv.Value.FalsePositives + kv.Value.TrueNegatives, 1),
            ["threshold_path"] = new JsonArray(kv.Value.Path.Where((_, i) => i % Math.Max(1, kv.Value.Path.Count / 50) == 0).Select(t => N(t)).ToArray()),
        }).ToArray()),
        ["theory"] = new JsonArray(Theory.Select(t => (JsonNode)new JsonObject
        {
            ["dataset"] = t.Dataset, ["threshold"] = t.Threshold, ["prompts"] = t.Prompts,
            ["mean_dtv_p_q"] = N(t.MeanDtvPQ, 6), ["mean_eta_fp"] = N(t.MeanEtaFp, 6),
            ["mean_measured_dtv"] = N(t.MeanMeasuredDtv, 6), ["mean_theory_dtv"] = N(t.MeanTheoryDtv, 6), ["ratio"] = N(t.Ratio),
        }).ToArray()),
        ["goal_check"] = new JsonArray(Goals.Select(g => (JsonNode)new JsonObject
        {
            ["dataset"] = g.Dataset, ["sampling"] = g.Sampling, ["sprinter"] = g.Sprinter.Method.Name, ["sd"] = g.Sd.Method.Name,
            ["goals"] = new JsonArray(g.Goals.Select(x => (JsonNode)new JsonObject { ["name"] = x.Name, ["value"] = N(x.Value), ["target"] = x.Target, ["met"] = x.Met }).ToArray()),
            ["sprinter"] = g.Sprinter.Method.Name, ["lossless"] = g.Lossless?.Method.Name, ["sd"] = g.Sd.Method.Name, ["best_sd"] = g.BestSd?.Method.Name,
            ["context"] = new JsonObject(g.Context.Select(c => KeyValuePair.Create(c.Name, (JsonNode?)N(c.Value)))),
            ["met"] = g.Met,
            ["audit_method"] = g.Audit?.Method.Name, ["acceptable_rate"] = N(g.Audit?.Audit?.AcceptableRate ?? double.NaN),
            ["eta_tp"] = N(g.Audit?.Audit?.EtaTp ?? double.NaN), ["eta_fp"] = N(g.Audit?.Audit?.EtaFp ?? double.NaN),
            ["perfect_verifier_accept_rate"] = N(g.PerfectVerifierAcceptRate),
        }).ToArray()),
        ["wall_seconds"] = N(Outcome.WallSeconds, 1),
        ["theory_per_prompt"] = new JsonArray(Outcome.Prompts.SelectMany(p => p.Theory.Select((t, i) => (JsonNode)new JsonObject
        {
            ["dataset"] = p.Example.Dataset, ["id"] = p.Example.Id, ["threshold"] = Config.TheoryThresholds[i],
            ["dtv_p_q"] = N(t.DtvPQ, 6), ["eta_fp"] = N(t.EtaFp, 6), ["measured_dtv"] = N(t.MeasuredDtv, 6), ["theory_dtv"] = N(t.TheoryDtv, 6),
        })).ToArray()),
        ["runs"] = new JsonArray(Outcome.Runs.Select(r => (JsonNode)new JsonObject
        {
            ["dataset"] = r.Example.Dataset, ["id"] = r.Example.Id, ["sampling"] = r.Sampling.Name, ["method"] = r.Method.Name,
            ["ms_per_token"] = N(r.Stats.MsPerToken), ["new_tokens"] = r.Stats.NewTokens, ["target_calls"] = r.Stats.TargetCalls,
            ["unverified"] = r.Stats.Unverified, ["output_mean_nll"] = N(r.OutputNll.MeanNll), ["rouge_l"] = N(100 * r.Rouge.RougeL, 3),
            // The tokens themselves, so runs can be compared token for token (a remote target against a local one).
            ["output"] = new JsonArray(r.Output.Select(t => (JsonNode)t).ToArray()),
            ["http_calls"] = r.Stats.Remote?.Calls, ["http_retries"] = r.Stats.Remote?.Retries,
            ["http_bytes"] = r.Stats.Remote is { } rc ? rc.BytesSent + rc.BytesReceived : null,
        }).ToArray()),
    };

    static JsonObject MethodJson(MethodSummary m, BenchConfig config) => new()
    {
        ["name"] = m.Method.Name,
        ["mode"] = m.Method.Mode,
        ["gamma"] = m.Method.Kind == DecodingMethod.Sd ? m.Method.Gamma : null,
        ["threshold"] = m.Method.IsSprinter ? config.ThresholdOf(m.Method, m.Sampling) : null,
        ["dataset"] = m.Dataset,
        ["sampling"] = m.Sampling,
        ["prompts"] = m.Prompts,
        ["ms_per_token"] = N(m.MsPerTokenMedian),
        ["ms_per_token_p90"] = N(m.MsPerTokenP90),
        ["speedup_vs_sd"] = N(m.SpeedupVsSd),
        ["speedup_vs_ar"] = N(m.SpeedupVsAr),
        ["target_calls_per_token"] = N(m.TargetCallsPerToken),
        ["tokens_per_target_call"] = N(m.TokensPerTargetCall),
        ["flops_per_token"] = N(m.FlopsPerToken, 0),
        ["rouge_1"] = N(m.Rouge1, 3),
        ["rouge_2"] = N(m.Rouge2, 3),
        ["rouge_l"] = N(m.RougeL, 3),
        ["perplexity"] = N(m.Perplexity, 3),
        ["win_rate_vs_sd"] = N(m.WinRateVsSd),
        ["eta_tp"] = m.Audit is null ? null : N(m.Audit.EtaTp),
        ["eta_fp"] = m.Audit is null ? null : N(m.Audit.EtaFp),
        ["audited_tokens"] = m.Audit?.Total,
        ["acceptable_rate"] = m.Audit is null ? null : N(m.Audit.AcceptableRate),
        ["unverified_fraction"] = N(m.UnverifiedFraction),
        ["acceptance_rate"] = N(m.AcceptanceRate),
        ["verifier_accept_rate"] = N(m.VerifierAcceptRate),
        ["acceptance_at_position"] = new JsonArray(m.AcceptanceAtPosition.Select(a => N(a)).ToArray()),
        ["draft_ms_per_step"] = N(m.DraftMsPerStep),
        ["target_ms_per_call"] = N(m.TargetMsPerCall),
        ["tokens_per_round_histogram"] = new JsonObject(m.TokensPerRound.GroupBy(n => n).OrderBy(g => g.Key)
            .Select(g => KeyValuePair.Create(g.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), (JsonNode?)g.Count()))),
    };
}
