using System.Globalization;
using System.Text;

namespace Sprinter.Benchmarks;

/// <summary>Writes report.md: method, setup, the tables, the theory check, the goal check and the plots.</summary>
public static class ReportWriter
{
    public static string Write(BenchResults results, IReadOnlyList<string> plots)
    {
        var sb = new StringBuilder();
        var ctx = results.Context;
        var cfg = results.Config;
        sb.AppendLine("# Sprinter benchmark: AR, SD and SPRINTER on the same prompts\n");
        sb.AppendLine($"Command: `{ctx.CommandLine}`  ");
        sb.AppendLine($"Wall time: {results.Outcome.WallSeconds:F0} s. Machine: {ctx.Machine["cpu"]}, {ctx.Machine["cores"]} cores, kernels {ctx.Machine["isa"]}, {ctx.Machine["os"]}, {ctx.Machine["runtime"]}.\n");

        sb.AppendLine("## Models\n");
        sb.AppendLine("| role | name | parameters | n_layer | n_embd | n_head | n_positions | vocab | weights at run time |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var (role, m) in new[] { ("draft", ctx.Draft), ("target", ctx.Target) })
        {
            var c = m["config"]!;
            sb.AppendLine($"| {role} | {m["name"]} | {(long)m["parameters"]!:N0} | {c["n_layer"]} | {c["n_embd"]} | {c["n_head"]} | {c["n_positions"]} | {c["vocab_size"]} | {m["weights"]} |");
        }
        sb.AppendLine($"\nVerifier: {ctx.Verifier}.\n");

        sb.AppendLine("## Method\n");
        sb.AppendLine($"- Methods: {string.Join(", ", cfg.Methods.Select(m => $"`{m.Name}`"))}; sampling settings: {string.Join("; ", cfg.Settings.Select(s => $"{s.Name} ({s.Options})"))}.");
        sb.AppendLine($"- {cfg.NewTokens} new tokens per prompt, SPRINTER max-draft {cfg.MaxDraft}, base seed {cfg.Seed}; each (prompt, setting, method) has its own derived seed. Methods run back to back per prompt in a rotating order after a warm-up pass.");
        sb.AppendLine("- Prompts: the first ceil(30%) of the words (wiki: of the article body after the lead; lm1b and files: of the text). Prompts longer than the context minus the new tokens keep their end.");
        sb.AppendLine("- ROUGE reference: wiki = the article's lead paragraph (as Wiki-Summaries); lm1b and files = the sentence itself, so the prompt's 30% always overlaps it (only differences between methods are meaningful).");
        sb.AppendLine("- ms/token: decode time / new tokens per prompt (prefill excluded, equal for all methods); median and p90 over prompts. Speedups are ratios of medians.");
        sb.AppendLine("- FLOPs/token: analytic (DecodingStats.FlopsPerToken: draft + target forward FLOPs excluding the prompt prefill, / new tokens). Per call appending k positions after s cached ones with r logit rows: `k * 2M + 4 * n_layer * d * (k*s + k(k+1)/2) + 2 * d * vocab * r`, M = n_layer * (4d^2 + 2 d n_inner) block matmul parameters.");
        sb.AppendLine("- ROUGE-1/2/L: F-measure x 100 of prompt + output against the reference, rouge-score rules (lowercase, tokens = runs of [a-z0-9], NLTK Porter stemming of tokens longer than 3 characters).");
        sb.AppendLine("- Perplexity: the target's perplexity of the generated tokens given the prompt. Win rate vs SD: stand-in for the paper's GPT-4 judge, the share of prompts where the target gives the method's continuation a lower mean NLL per token than SD's (ties count half).");
        sb.AppendLine("- eta_TP / eta_FP (online): over the drafted tokens the target tested in SPRINTER runs, the verifier's accept rate among acceptable and unacceptable tokens, under the label the setting's verifier was trained for (paper: q(x) <= p(x); greedy: x is the target's greedy token; sample: min(1, p(x)/q(x)) as a weight), on temperature-1 softmaxes. In paper mode the target tests mostly the verifier's rejects, so these are biased; strict-on-call tests whole rounds. Unverified: share of output tokens the target never tested.\n");

        sb.AppendLine("## Datasets\n");
        sb.AppendLine("| dataset | prompts | cut to the context | mean prompt tokens |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var g in results.Outcome.Prompts.GroupBy(p => p.Example.Dataset))
            sb.AppendLine($"| {g.Key} | {g.Count()} | {g.Count(p => p.Truncated)} | {g.Average(p => p.Tokens):F1} |");

        foreach (var group in results.Methods.GroupBy(m => (m.Dataset, m.Sampling)))
        {
            sb.AppendLine($"\n## Results: {group.Key.Dataset}, {group.Key.Sampling}\n");
            sb.AppendLine("| method | ms/token (median) | p90 | speedup vs SD | speedup vs AR | target calls/token | tokens/target call | GFLOPs/token | ROUGE-1 | ROUGE-2 | ROUGE-L | perplexity | win rate vs SD | eta_TP | eta_FP | unverified |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var m in group)
                sb.AppendLine($"| {m.Method.Name} | {F(m.MsPerTokenMedian, 2)} | {F(m.MsPerTokenP90, 2)} | {F(m.SpeedupVsSd, 2)} | {F(m.SpeedupVsAr, 2)} | {F(m.TargetCallsPerToken, 3)} | {F(m.TokensPerTargetCall, 2)} | {F(m.FlopsPerToken / 1e9, 4)} | {F(m.Rouge1, 2)} | {F(m.Rouge2, 2)} | {F(m.RougeL, 2)} | {F(m.Perplexity, 2)} | {F(m.WinRateVsSd, 2)} | {F(m.Audit?.EtaTp ?? double.NaN, 3)} | {F(m.Audit?.EtaFp ?? double.NaN, 3)} | {F(m.UnverifiedFraction, 3)} |");
        }

        sb.AppendLine("\n## Theory check: one-step d_TV (SPRINTER.md section 2)\n");
        if (results.Theory.Count == 0) sb.AppendLine("Not run (no SPRINTER method).");
        else
        {
            sb.AppendLine("At each prompt's end, p and q are the target's and the draft's temperature-1 distributions and the verifier's decision is computed for every candidate token. Measured: d_TV(p, p_S) with p_S the exact distribution of the first token of a paper-mode round, `p_S(x) = q(x) a(x) + (1 - a(x)) min(p(x), q(x)) + R r(x)`, `R = sum_y (1 - a(y)) max(q(y) - p(y), 0)`, `r = norm(max(p - q, 0))`. Theory: eta_FP * d_TV(p, q) with eta_FP the share of unacceptable mass (q > p) the verifier accepts. Per-prompt means:\n");
            sb.AppendLine("| dataset | threshold | prompts | mean d_TV(p,q) | mean eta_FP | mean measured d_TV(p,p_S) | mean eta_FP*d_TV(p,q) | measured / theory |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var t in results.Theory)
                sb.AppendLine($"| {t.Dataset} | {t.Threshold:0.###} | {t.Prompts} | {F(t.MeanDtvPQ, 4)} | {F(t.MeanEtaFp, 4)} | {F(t.MeanMeasuredDtv, 4)} | {F(t.MeanTheoryDtv, 4)} | {F(t.Ratio, 3)} |");
            sb.AppendLine("\nA verifier that reads only the hidden state accepts all candidates or none at a given context, so per prompt the two agree exactly (ratio 1); with token-dependent features they differ where the verifier's accepts are not spread evenly over the unacceptable mass, which the theory assumes.");
        }

        WriteGoalCheck(sb, results);
        WriteCalibration(sb, results);

        if (plots.Count > 0)
        {
            sb.AppendLine("\n## Plots\n");
            foreach (var p in plots) sb.AppendLine($"![{p}]({p})\n");
        }
        return sb.ToString();
    }

    /// <summary>Online calibration: the verifier's rates over every decision the target labelled, and where the threshold went.</summary>
    static void WriteCalibration(StringBuilder sb, BenchResults results)
    {
        if (results.Outcome.Calibrations is not { Count: > 0 } calibrations) return;
        sb.AppendLine("\n## Online calibration\n");
        sb.AppendLine("Every target call of a calibrated SPRINTER row asks for the logits of all the round's drafted positions, labels each verifier decision (the verifier's own label rule) and moves the threshold by 0.02 x (accepted - budget) on each unacceptable token; the controller runs on across a dataset's prompts in bench order and starts from the offline threshold on each dataset. eta_TP / eta_FP here count every labelled decision (not only tested tokens). The fixed threshold's eta_FP beside it is the unbiased audit of the strict-on-call row at the offline threshold (the target tests every drafted token there), on the same dataset and decoding.\n");
        sb.AppendLine("| method / sampling / dataset | budget | labelled decisions | eta_TP | eta_FP | eta_FP - budget | fixed threshold's eta_FP | threshold: start -> min / max -> end |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var (key, c) in calibrations)
        {
            var parts = key.Split('/');
            var fixedRow = results.Methods.FirstOrDefault(m => parts.Length == 3 && m.Sampling == parts[1] && m.Dataset == parts[2]
                && m.Method.Kind == Decoding.DecodingMethod.SprinterStrictOnCall && m.Method is { Online: false, Lookahead: 0, Stop: Decoding.SprinterStop.Threshold }
                && results.Config.ThresholdOf(m.Method, m.Sampling) == c.Path[0]);
            sb.AppendLine($"| {key} | {c.Budget:0.###} | {c.TruePositives + c.FalseNegatives + c.FalsePositives + c.TrueNegatives:F0} | {c.EtaTp:F3} | {c.EtaFp:F3} | {c.EtaFp - c.Budget:+0.000;-0.000} | {(fixedRow?.Audit is { } a ? a.EtaFp.ToString("F3", System.Globalization.CultureInfo.InvariantCulture) : "n/a")} | {c.Path[0]:F3} -> {c.Path.Min():F3} / {c.Path.Max():F3} -> {c.Threshold:F3} |");
        }
    }

    static void WriteGoalCheck(StringBuilder sb, BenchResults results)
    {
        sb.AppendLine("\n## Goal check\n");
        var goalRow = results.Goals.Count > 0 ? results.Goals[0].Sprinter.Method.Name : "n/a";
        var losslessRow = results.Goals.Count > 0 ? results.Goals[0].Lossless?.Method.Name ?? "n/a" : "n/a";
        sb.AppendLine($"Goals for the default pair, per dataset and decoding, against SD at gamma {results.Config.Sd?.Gamma.ToString(CultureInfo.InvariantCulture) ?? "n/a"} (the paper-style baseline): SPRINTER at the shipped settings (`{goalRow}`) >= 1.3x faster than SD and >= 2x faster than AR, >= 4 tokens per target call, ROUGE-L within 1 point of AR, target-likelihood win rate against SD >= 0.45; lossless SPRINTER (`{losslessRow}`) >= 1.15x faster than SD. Budgets and thresholds were fixed on the corpus's validation split, never on these prompts. The ratios to SD at the run's best gamma stand beside them.\n");
        if (results.Goals.Count == 0) { sb.AppendLine("Not computed: the run had no SD or no SPRINTER paper method."); return; }
        var names = results.Goals[0].Goals.Select(g => g.Name).ToList();
        var context = results.Goals[0].Context.Select(c => c.Name).ToList();
        sb.AppendLine($"| dataset | decoding | {string.Join(" | ", results.Goals[0].Goals.Select(g => $"{g.Name} ({g.Target})"))} | all met | {string.Join(" | ", context)} |");
        sb.AppendLine($"|---|---|{string.Concat(names.Select(_ => "---:|"))}---|{string.Concat(context.Select(_ => "---:|"))}");
        foreach (var g in results.Goals)
            sb.AppendLine($"| {g.Dataset} | {g.Sampling} | {string.Join(" | ", g.Goals.Select(x => $"{F(x.Value, 2)} {Mark(x.Met)}"))} | {(g.Met ? "yes" : "**no**")} | {string.Join(" | ", g.Context.Select(c => F(c.Value, 2)))} |");
        foreach (var g in results.Goals.Where(g => !g.Met))
        {
            var s = g.Sprinter;
            var audit = g.Audit?.Audit;
            sb.AppendLine($"\n**{g.Dataset}, {g.Sampling}: missed {string.Join(", ", g.Goals.Where(x => !x.Met).Select(x => x.Name))}.** Why, from the measurements: " +
                $"SD ({g.Sd.Method.Name}) keeps {P(g.Sd.AcceptanceRate)} of drafted tokens (per position {string.Join(" / ", g.Sd.AcceptanceAtPosition.Select(P))}), " +
                $"{F(g.Sd.TokensPerTargetCall, 2)} tokens per call; SPRINTER's verifier accepted {P(s.VerifierAcceptRate)} of drafted tokens, {F(s.TokensPerTargetCall, 2)} tokens per call.");
            if (audit is not null)
                sb.AppendLine($"Where the target tested every drafted token ({g.Audit!.Method.Name}), {P(audit.AcceptableRate)} of them were acceptable (the rate a, under the verifier's own label), " +
                    $"and the verifier's online eta_TP = {F(audit.EtaTp, 3)}, eta_FP = {F(audit.EtaFp, 3)}. Even a perfect verifier (eta_TP = 1) at that eta_FP would accept " +
                    $"beta = a + (1 - a) eta_FP = {P(g.PerfectVerifierAcceptRate)} of drafted tokens: rounds of about {F(g.PerfectVerifierRoundLength, 2)} tokens per target call, " +
                    $"against the {GoalCheck.TokensPerCallGoal} of the goal.");
            sb.AppendLine($"Cost: a draft step takes {F(s.DraftMsPerStep, 3)} ms and a SPRINTER target call {F(s.TargetMsPerCall, 3)} ms (ratio c = {F(s.DraftTargetCostRatio, 3)})" +
                (g.Ar is null ? "" : $"; a one-position target step (AR) takes {F(g.Ar.TargetMsPerCall, 3)} ms and SD's call over its drafted positions {F(g.Sd.TargetMsPerCall, 3)} ms ({F(g.Sd.TargetMsPerCall / g.Ar.TargetMsPerCall, 2)}x)") +
                ". Speed needs many acceptable tokens (a high), a small c and multi-position target passes nearly as cheap as one.");
        }
    }

    static string Mark(bool ok) => ok ? "(ok)" : "(missed)";
    static string P(double v) => double.IsFinite(v) ? (100 * v).ToString("F1", CultureInfo.InvariantCulture) + "%" : "n/a";
    static string F(double v, int digits) => double.IsFinite(v) ? v.ToString("F" + digits, CultureInfo.InvariantCulture) : "n/a";
}
