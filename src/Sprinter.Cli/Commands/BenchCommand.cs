using Sprinter.Serving;
using System.CommandLine;
using System.Globalization;
using Sprinter.Benchmarks;
using Sprinter.Decoding;
using Sprinter.Verification;

namespace Sprinter.Cli.Commands;

/// <summary>
/// <c>sprinter bench</c>: AR, SD and SPRINTER on the same evaluation prompts; writes results.json,
/// report.md and PNG plots. <c>--quick</c> is a smaller run (see <see cref="QuickDefaults"/>);
/// every explicit option still wins over the quick defaults.
/// </summary>
internal static class BenchCommand
{
    /// <summary>
    /// Quick mode: the 100 LM1B prompts (short sentences, so short prefills), greedy decoding only (as
    /// the released code decodes, and the setting in which a verifier trained on the draft's greedy
    /// tokens keeps its calibrated eta_FP; under temperature-1 sampling the online eta_FP of the
    /// shipped verifier is several times its calibrated value), and the methods the goal check
    /// needs: AR target, SD at the first gamma, SPRINTER paper and strict-on-call at the first threshold.
    /// </summary>
    static class QuickDefaults
    {
        public const string Datasets = "lm1b";
        public const string Sampling = "greedy";
    }

    public static Command Create(TextWriter output, TextWriter error)
    {
        var quick = new Option<bool>("--quick") { Description = $"Smaller run: {QuickDefaults.Datasets} prompts only, greedy decoding, methods ar, sd (first gamma), sprinter paper and strict-on-call (first threshold)." };
        var datasets = new Option<string?>("--dataset") { Description = "Comma-separated datasets: wiki, lm1b, or paths of plain-text (one text per line) or JSONL (\"text\") files. Default: wiki,lm1b (quick: lm1b)." };
        var data = CliSupport.DataDirOption("--data"); // --data: the name before the other commands took --data-dir
        var prompts = new Option<int?>("--prompts") { Description = "Prompts sampled per dataset (seeded). Default: 100." };
        var newTokens = new Option<int>("--new-tokens") { Description = "New tokens per prompt.", DefaultValueFactory = _ => 20 };
        var gammas = new Option<string>("--gamma") { Description = "Comma-separated SD gammas; speedups are against the first.", DefaultValueFactory = _ => "4" };
        var thresholds = new Option<string>("--threshold") { Description = "Comma-separated SPRINTER thresholds; 'calibrated' = the verifier's calibrated threshold (0.5 if it has none). The first is the one the goal check uses.", DefaultValueFactory = _ => "calibrated,0.5" };
        var sampling = new Option<string?>("--sampling") { Description = "Comma-separated settings: greedy, sample (temperature 1). Default: greedy,sample (quick: greedy)." };
        var maxDraft = new Option<int>("--max-draft") { Description = "SPRINTER: cap on drafted tokens per round.", DefaultValueFactory = _ => 20 };
        var seed = new Option<int>("--seed") { Description = "Base seed for the prompt sample and the sampling.", DefaultValueFactory = _ => 0 };
        var target = new Option<string?>("--target") { Description = "Target model folder, or the http(s):// URL of an OpenAI-compatible server serving it (vLLM, another Sprinter); then the local --score-model scores the outputs. Default: the shipped target." };
        var scoreModel = new Option<string?>("--score-model") { Description = "With --target URL: the local model that scores outputs (perplexity, win rate, theory check). Default: the shipped target." };
        var remote = new RemoteTargetCli();
        var draft = new Option<string?>("--draft") { Description = "Draft model folder. Default: the shipped draft." };
        var verifier = new Option<string?>("--verifier") { Description = "Verifier file, or constant:S. Default: the shipped verifier." };
        var outDir = new Option<string>("--out") { Description = "Output folder for results.json, report.md and the plots.", DefaultValueFactory = _ => "bench-results" };
        var dtype = CliSupport.DtypeOption();
        var lookup = new Option<bool>("--prompt-lookup") { Description = "Also run SD with prompt lookup in front of the draft (sd-lookup, at the first gamma)." };
        var json = new Option<bool>("--json") { Description = "Print the results object (as in results.json) on stdout." };
        var methodList = new Option<string?>("--methods") { Description = "Comma-separated methods to run instead of the default list, by their report names: ar, ar-draft, sd-g4, sd-lookup-g4, sprinter-paper-calibrated, sprinter-paper-t0.5-la2-online-fp0.2, sprinter-strict-on-call-cum0.5 ... (the first SD row is the one speedups are against)." };
        var command = new Command("bench", "Benchmark AR, SD and SPRINTER on WikiText-2 / LM1B prompts: speed, target calls, FLOPs, ROUGE, perplexity, verifier rates, theory check.")
            { quick, datasets, data, prompts, newTokens, gammas, thresholds, sampling, maxDraft, seed, target, draft, verifier, outDir, dtype, lookup, json, scoreModel, methodList };
        var rounds = new CliSupport.RoundOptionSet();
        rounds.AddTo(command);
        remote.AddTo(command);
        command.SetAction(Task<int> (r, ct) =>
        {
            bool isQuick = r.GetValue(quick);
            int promptCount = r.GetValue(prompts) ?? 100;
            if (promptCount < 1) throw new InvalidInputException($"--prompts must be >= 1, got {promptCount}.");
            int tokens = r.GetValue(newTokens);
            if (tokens < 1) throw new InvalidInputException($"--new-tokens must be >= 1, got {tokens}.");
            int cap = r.GetValue(maxDraft);
            if (cap < 1) throw new InvalidInputException($"--max-draft must be >= 1, got {cap}.");
            var gammaList = List(r.GetValue(gammas)!, "--gamma").Select(g => int.TryParse(g, CultureInfo.InvariantCulture, out int v) && v >= 1 ? v
                : throw new InvalidInputException($"--gamma takes integers >= 1, got '{g}'.")).Distinct().ToList();
            var settings = List(r.GetValue(sampling) ?? (isQuick ? QuickDefaults.Sampling : "greedy,sample"), "--sampling").Select(s => s.ToLowerInvariant() switch
            {
                "greedy" => SamplingSetting.Greedy,
                "sample" => SamplingSetting.Sample,
                _ => throw new InvalidInputException($"--sampling takes greedy and/or sample, got '{s}'."),
            }).Distinct().ToList();
            string dataDir = CliSupport.ResolveDataDir(r.GetValue(data));
            int baseSeed = r.GetValue(seed);
            var examples = List(r.GetValue(datasets) ?? (isQuick ? QuickDefaults.Datasets : "wiki,lm1b"), "--dataset")
                .SelectMany(d => BenchDatasets.Load(d, dataDir, promptCount, baseSeed)).ToList();

            string? targetSpec = r.GetValue(target);
            bool remoteTarget = RemoteTargetCli.IsUrl(targetSpec);
            if (remoteTarget && settings.Any(s => s.Name != SamplingSetting.Greedy.Name) && r.GetValue(remote.Logprobs) is null)
                error.WriteLine("note: sampled rows ask the remote target for the whole distribution (--target-logprobs -1); vLLM needs --max-logprobs -1 for it.");
            using var pair = ModelPair.Load(true, remoteTarget ? r.GetValue(scoreModel) : targetSpec, true, r.GetValue(draft), CliSupport.ParseDtype(r.GetValue(dtype)!));
            var connection = remoteTarget ? remote.Connect(r, targetSpec!, pair.Draft!, settings.All(s => s.Name == SamplingSetting.Greedy.Name) ? SamplingOptions.Greedy : new SamplingOptions(), ct) : null;
            using var remoteClient = connection?.Session.Client;
            // Each sampling setting runs with the verifier made for its decoding (greedy or sample);
            // --verifier FILE serves every setting (with a note where its decoding differs).
            var verifiers = new Dictionary<string, VerifierChoice>();
            var byDecoding = new Dictionary<string, VerifierChoice>();
            foreach (var setting in settings)
            {
                if (!byDecoding.TryGetValue(setting.Decoding, out var chosen))
                {
                    var located = VerifierLocator.Locate(r.GetValue(verifier), pair.Draft!, setting.Decoding, error, fallBack: true);
                    chosen = r.GetValue(verifier) is not null ? byDecoding.Values.FirstOrDefault() ?? located : located;
                    byDecoding[setting.Decoding] = chosen;
                }
                verifiers[setting.Name] = chosen;
            }
            bool perSetting = verifiers.Values.Select(b => b.Description).Distinct().Count() > 1;
            float? calibrated = verifiers[settings[0].Name].CalibratedThreshold;
            var thresholdSpecs = List(r.GetValue(thresholds)!, "--threshold");
            var thresholdList = thresholdSpecs.Select(t => t.Equals("calibrated", StringComparison.OrdinalIgnoreCase) ? calibrated ?? 0.5f
                : float.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out float f) && f is >= 0 and <= 1 ? f
                : throw new InvalidInputException($"--threshold takes numbers in [0, 1] or 'calibrated', got '{t}'.")).Distinct().ToList();
            // With a verifier per decoding, "calibrated" means each setting's own calibrated threshold.
            bool CalibratedSpec(float t) => calibrated is not null && thresholdSpecs.Any(x => x.Equals("calibrated", StringComparison.OrdinalIgnoreCase)) && t == calibrated;

            var methods = new List<BenchMethod> { new(DecodingMethod.Ar) };
            if (!isQuick) methods.Add(new(DecodingMethod.ArDraft));
            methods.AddRange((isQuick ? gammaList.Take(1) : gammaList).Select(g => new BenchMethod(DecodingMethod.Sd, Gamma: g)));
            if (r.GetValue(lookup)) methods.Add(new BenchMethod(DecodingMethod.Sd, Gamma: gammaList[0], PromptLookup: true));
            foreach (var kind in new[] { DecodingMethod.SprinterPaper, DecodingMethod.SprinterStrictOnCall })
                methods.AddRange((isQuick ? thresholdList.Take(1) : thresholdList).Select(t => new BenchMethod(kind, Threshold: t, Calibrated: CalibratedSpec(t))));
            // SPRINTER with round settings other than the shipped ones runs beside the paper's rows (which stay: lookahead 0, fixed threshold).
            var round = rounds.Apply(r, new DecodingSettings());
            var defaults = new DecodingSettings();
            if (round.Lookahead != defaults.Lookahead || round.Stop != defaults.Stop || round.OnlineCalibration != defaults.OnlineCalibration
                || round.CumulativeThreshold != defaults.CumulativeThreshold || round.FpBudget is not null)
                foreach (var kind in new[] { DecodingMethod.SprinterPaper, DecodingMethod.SprinterStrictOnCall })
                {
                    float t = thresholdList[0];
                    methods.Add(new BenchMethod(kind, Threshold: t, Calibrated: CalibratedSpec(t), Lookahead: round.Lookahead, Stop: round.Stop,
                        Cumulative: round.CumulativeThreshold, Online: round.OnlineCalibration, Budget: round.OnlineCalibration ? round.FpBudget : null));
                }
            // The shipped settings: SPRINTER's defaults (the goal row) and the lossless preset, beside the paper's rows.
            BenchMethod Shipped(DecodingSettings s)
            {
                var m = BenchMethod.ForSettings(s);
                return m.Calibrated && calibrated is null ? m with { Calibrated = false } : m;   // no calibrated threshold: name the 0.5 it runs at
            }
            var goalSprinter = Shipped(DecodingSettings.SprinterDefaults);
            var goalLossless = Shipped(DecodingSettings.LosslessSprinter);
            foreach (var shipped in new[] { goalSprinter, goalLossless })
                if (!methods.Any(m => m.Name == shipped.Name)) methods.Add(shipped);
            if (r.GetValue(methodList) is string named)
                methods = List(named, "--methods").Select(n => BenchMethod.Parse(n) is { } m ? m
                    : throw new InvalidInputException($"--methods: '{n}' is not a method; use names like ar, sd-g4, sprinter-paper-calibrated, sprinter-paper-t0.5-la2-online, sprinter-strict-on-call-cum0.5.")).Distinct().ToList();
            var config = new BenchConfig
            {
                Methods = methods, Settings = settings, GoalSprinter = methods.FirstOrDefault(m => m.Name == goalSprinter.Name), GoalLossless = methods.FirstOrDefault(m => m.Name == goalLossless.Name), NewTokens = tokens, MaxDraft = cap, Seed = baseSeed,
                TheoryThresholds = isQuick ? thresholdList.Take(1).ToList() : thresholdList,
                CalibratedThresholds = verifiers.Where(kv => kv.Value.CalibratedThreshold is not null).ToDictionary(kv => kv.Key, kv => kv.Value.CalibratedThreshold!.Value),
            };

            string outFolder = r.GetValue(outDir)!;
            Directory.CreateDirectory(outFolder);
            var runner = new BenchRunner(pair.Draft!.Model, pair.Target!.Model, pair.Tokenizer, verifiers, config, connection?.Session);
            var outcome = runner.Run(examples, new ProgressLine(error, "bench"), ct);
            var context = new BenchContext(
                "sprinter " + string.Join(' ', r.Tokens.Select(t => t.Value.Contains(' ') ? $"\"{t.Value}\"" : t.Value)),
                BenchContext.DescribeMachine(),
                BenchContext.DescribeModel(pair.Draft.Name, pair.Draft.Source, pair.Draft.Config, pair.Draft.Model.WeightType),
                RemoteDescription(BenchContext.DescribeModel(pair.Target.Name, pair.Target.Source, pair.Target.Config, pair.Target.Model.WeightType), connection, targetSpec),
                perSetting ? string.Join("; ", verifiers.Select(kv => $"{kv.Key} rows: {kv.Value.Description}")) : verifiers[settings[0].Name].Description);
            var results = BenchResults.From(config, context, outcome);
            var resultsJson = results.ToJson();
            File.WriteAllText(Path.Combine(outFolder, "results.json"), resultsJson.ToJsonString(CliSupport.Json));
            var plots = BenchPlots.Write(results, outFolder);
            File.WriteAllText(Path.Combine(outFolder, "report.md"), ReportWriter.Write(results, plots));

            if (r.GetValue(json)) CliSupport.WriteJson(output, resultsJson);
            else
            {
                foreach (var m in results.Methods)
                    output.WriteLine($"{m.Dataset,-8} {m.Sampling,-7} {m.Method.Name,-30} {m.MsPerTokenMedian,8:F2} ms/token  x{m.SpeedupVsAr:F2} vs AR  x{m.SpeedupVsSd:F2} vs SD  {m.TokensPerTargetCall,6:F2} tokens/call  ROUGE-L {m.RougeL:F2}");
                foreach (var g in results.Goals)
                    output.WriteLine($"goals ({g.Dataset}, {g.Sampling}): {string.Join(", ", g.Goals.Select(x => $"{x.Name} {x.Value.ToString("F2", CultureInfo.InvariantCulture)}{(x.Met ? "" : " (missed)")}"))} -> {(g.Met ? "all met" : "NOT all met")}");
                output.WriteLine($"wrote {Path.Combine(outFolder, "report.md")}, results.json and {plots.Count} plots in {outcome.WallSeconds:F0} s");
            }
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>With a remote target, the report names it and says the local model only scores the outputs.</summary>
    static System.Text.Json.Nodes.JsonObject RemoteDescription(System.Text.Json.Nodes.JsonObject local, Sprinter.Remote.RemoteTarget.Connection? connection, string? url)
    {
        if (connection is null) return local;
        local["name"] = $"remote {connection.Model} at {url} (decodes; top-{connection.Session.Client.Options.TopLogprobs} logprobs per position; tokenizer {connection.TokenizerCheck}); the local {local["name"]} scores the outputs";
        local["remote"] = new System.Text.Json.Nodes.JsonObject { ["url"] = url, ["model"] = connection.Model, ["top_logprobs"] = connection.Session.Client.Options.TopLogprobs, ["tokenizer_check"] = connection.TokenizerCheck };
        return local;
    }

    static List<string> List(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        if (items.Count == 0) throw new InvalidInputException($"{option} is empty; give at least one value.");
        return items;
    }
}
