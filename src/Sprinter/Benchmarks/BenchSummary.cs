using Sprinter.Decoding;

namespace Sprinter.Benchmarks;

/// <summary>The theory table's row: one dataset and threshold, means over prompts.</summary>
public sealed record TheorySummary(string Dataset, float Threshold, int Prompts, double MeanDtvPQ, double MeanEtaFp, double MeanMeasuredDtv, double MeanTheoryDtv)
{
    public double Ratio => MeanTheoryDtv > 0 ? MeanMeasuredDtv / MeanTheoryDtv : double.NaN;
}

/// <summary>Turns the raw runs into per-method summaries and the theory table.</summary>
public static class BenchSummary
{
    public static List<MethodSummary> Methods(BenchOutcome outcome, BenchConfig config)
    {
        var summaries = new List<MethodSummary>();
        foreach (var group in outcome.Runs.GroupBy(r => (r.Example.Dataset, r.Sampling.Name)))
        {
            var byMethod = group.GroupBy(r => r.Method).ToDictionary(g => g.Key, g => g.ToList());
            var inGroup = config.Methods.Where(byMethod.ContainsKey).Select(m => Summarize(byMethod[m])).ToList();
            var sd = config.Sd is { } s && byMethod.ContainsKey(s) ? inGroup.First(x => x.Method == s) : null;
            var ar = inGroup.FirstOrDefault(x => x.Method.Kind == DecodingMethod.Ar);
            foreach (var m in inGroup)
            {
                if (sd is not null)
                {
                    m.SpeedupVsSd = sd.MsPerTokenMedian / m.MsPerTokenMedian;
                    m.WinRateVsSd = WinRate(byMethod[m.Method], byMethod[sd.Method]);
                }
                if (ar is not null) m.SpeedupVsAr = ar.MsPerTokenMedian / m.MsPerTokenMedian;
            }
            summaries.AddRange(inGroup);
        }
        return summaries;
    }

    static MethodSummary Summarize(List<BenchRun> runs)
    {
        var ms = runs.Select(r => r.Stats.MsPerToken).Order().ToList();
        double Sum(Func<DecodingStats, double> f) => runs.Sum(r => f(r.Stats));
        double tokens = Sum(s => s.NewTokens), calls = Sum(s => s.TargetCalls), verdicts = Sum(s => s.VerifierAccepts + s.VerifierRejects);
        var audits = runs.Where(r => r.Audit is not null).Select(r => r.Audit!).ToList();
        var nll = runs.Aggregate(new LikelihoodTotal(0, 0), (t, r) => t + r.OutputNll);
        return new MethodSummary
        {
            Dataset = runs[0].Example.Dataset,
            Sampling = runs[0].Sampling.Name,
            Method = runs[0].Method,
            Prompts = runs.Count,
            MsPerTokenMedian = Quantile(ms, 0.5),
            MsPerTokenP90 = Quantile(ms, 0.9),
            TargetCallsPerToken = calls / tokens,
            TokensPerTargetCall = calls == 0 ? double.NaN : tokens / calls,
            FlopsPerToken = Sum(s => s.DraftFlops + s.TargetFlops) / tokens,
            Rouge1 = 100 * runs.Average(r => r.Rouge.Rouge1),
            Rouge2 = 100 * runs.Average(r => r.Rouge.Rouge2),
            RougeL = 100 * runs.Average(r => r.Rouge.RougeL),
            Perplexity = nll.Perplexity,
            Audit = audits.Count == 0 ? null : audits.Aggregate(VerifierConfusion.Empty, (a, b) => a + b),
            UnverifiedFraction = Sum(s => s.Unverified) / tokens,
            AcceptanceRate = Sum(s => s.Drafted) == 0 ? double.NaN : Sum(s => s.Accepted) / Sum(s => s.Drafted),
            VerifierAcceptRate = verdicts == 0 ? double.NaN : Sum(s => s.VerifierAccepts) / verdicts,
            DraftMsPerStep = Sum(s => s.DraftSteps) == 0 ? double.NaN : Sum(s => s.DraftMs) / Sum(s => s.DraftSteps),
            TargetMsPerCall = calls == 0 ? double.NaN : Sum(s => s.TargetMs) / calls,
            TokensPerRound = runs.SelectMany(r => r.Stats.TokensPerRound).ToList(),
            AcceptanceAtPosition = AcceptanceAtPosition(runs),
        };
    }

    /// <summary>Kept / drafted at each draft position of a round, summed over runs.</summary>
    static List<double> AcceptanceAtPosition(List<BenchRun> runs)
    {
        int n = runs.Max(r => r.Stats.DraftedAtPosition.Count);
        var result = new List<double>(n);
        for (int i = 0; i < n; i++)
        {
            double drafted = runs.Sum(r => i < r.Stats.DraftedAtPosition.Count ? r.Stats.DraftedAtPosition[i] : 0);
            double kept = runs.Sum(r => i < r.Stats.KeptAtPosition.Count ? r.Stats.KeptAtPosition[i] : 0);
            result.Add(drafted == 0 ? double.NaN : kept / drafted);
        }
        return result;
    }

    /// <summary>Share of prompts where the target's mean NLL per token of <paramref name="runs"/>' output is below SD's; ties count half.</summary>
    static double WinRate(List<BenchRun> runs, List<BenchRun> sd)
    {
        var sdByPrompt = sd.ToDictionary(r => r.Example.Id, r => r.OutputNll.MeanNll);
        double wins = 0;
        int n = 0;
        foreach (var r in runs)
        {
            if (!sdByPrompt.TryGetValue(r.Example.Id, out double other)) continue;
            double mine = r.OutputNll.MeanNll;
            wins += Math.Abs(mine - other) < 1e-9 ? 0.5 : mine < other ? 1 : 0;
            n++;
        }
        return n == 0 ? double.NaN : wins / n;
    }

    /// <summary>Linear-interpolated quantile of sorted values (numpy's default).</summary>
    public static double Quantile(IReadOnlyList<double> sorted, double q)
    {
        if (sorted.Count == 0) return double.NaN;
        double pos = q * (sorted.Count - 1);
        int lo = (int)Math.Floor(pos), hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    public static List<TheorySummary> Theory(BenchOutcome outcome, BenchConfig config)
    {
        var rows = new List<TheorySummary>();
        foreach (var dataset in outcome.Prompts.Where(p => p.Theory.Length > 0).GroupBy(p => p.Example.Dataset))
            for (int t = 0; t < config.TheoryThresholds.Count; t++)
            {
                var items = dataset.Select(p => p.Theory[t]).ToList();
                rows.Add(new TheorySummary(dataset.Key, config.TheoryThresholds[t], items.Count,
                    items.Average(x => x.DtvPQ), items.Average(x => x.EtaFp), items.Average(x => x.MeasuredDtv), items.Average(x => x.TheoryDtv)));
            }
        return rows;
    }
}
