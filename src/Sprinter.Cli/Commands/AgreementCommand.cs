using System.CommandLine;
using System.Text.Json.Nodes;
using Sprinter.Benchmarks;
using Sprinter.Engine;
using Sprinter.Verification;

namespace Sprinter.Cli.Commands;

/// <summary>
/// <c>sprinter agreement</c>: how often the draft's greedy token equals the target's, and how
/// often the SPRINTER label q(x) &lt;= p(x) holds for it; these predict SD's and SPRINTER's gains.
/// </summary>
internal static class AgreementCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var draft = new Option<string?>("--draft") { Description = "Draft model folder. Default: the shipped draft." };
        var target = new Option<string?>("--target") { Description = "Target model folder, or the http(s):// URL of an OpenAI-compatible server serving it (one call per position; the whole distribution by default). Default: the shipped target." };
        var remote = new RemoteTargetCli();
        var data = new Option<string>("--data") { Description = "lm1b, wiki, or a text file with one text per line (prompt = first 30% of its words).", Required = true };
        var dataDir = CliSupport.DataDirOption();
        var prompts = new Option<int>("--prompts") { Description = "Number of prompts (a seeded sample).", DefaultValueFactory = _ => 200 };
        var tokens = new Option<int>("--tokens") { Description = "Positions per prompt (the context follows the collection rule).", DefaultValueFactory = _ => 20 };
        var json = CliSupport.JsonOption();
        var command = new Command("agreement", "Measure draft/target greedy agreement, the rate of q(x) <= p(x) and SD's acceptance when sampling, on prompts from a text file.") { draft, target, data, dataDir, prompts, tokens, json };
        remote.AddTo(command);
        command.SetAction(Task<int> (r, ct) =>
        {
            string? targetSpec = r.GetValue(target);
            bool remoteTarget = RemoteTargetCli.IsUrl(targetSpec);
            using var pair = ModelPair.Load(!remoteTarget, targetSpec, true, r.GetValue(draft), WeightType.F32);
            var (texts, file) = BenchDatasets.Texts(r.GetValue(data)!, CliSupport.ResolveDataDir(r.GetValue(dataDir)));
            // p(x) of the draft's token is read at every position, so a remote target returns the whole distribution unless told otherwise.
            var connection = remoteTarget ? remote.Connect(r, targetSpec!, pair.Draft!, -1, ct) : null;
            using var client = connection?.Session.Client;
            LabelSet Collect(CollectOptions options, string name) => connection is null
                ? LabelCollector.Collect(pair.Draft!, pair.Target!, texts, file, options, new ProgressLine(error, name), ct)
                : LabelCollector.Collect(pair.Draft!, connection.Session, targetSpec!, $"remote:{connection.Model}", texts, file, options, new ProgressLine(error, name), ct);
            var set = Collect(new CollectOptions { Prompts = r.GetValue(prompts), TokensPerPrompt = r.GetValue(tokens) }, "agreement");
            // SD's acceptance when sampling at temperature 1: the mean of min(1, p(x)/q(x)) over x drawn from q, along SD's own path.
            var sampled = Collect(new CollectOptions { Prompts = r.GetValue(prompts), TokensPerPrompt = r.GetValue(tokens), Label = LabelRule.Sample }, "sampled");
            int n = set.Count;
            double Rate(Func<int, bool> f, Func<int, bool>? where = null)
            {
                var rows = Enumerable.Range(0, n).Where(i => where?.Invoke(i) ?? true).ToArray();
                return rows.Length == 0 ? double.NaN : rows.Count(f) / (double)rows.Length;
            }
            var result = new JsonObject
            {
                ["data"] = r.GetValue(data), ["prompts"] = (int)set.Summary["prompts"]!, ["positions"] = n,
                ["greedy_agreement"] = Math.Round(Rate(i => set.Token[i] == set.TargetToken[i]), 4),
                ["acceptable_rate"] = Math.Round(Rate(i => set.Label[i]), 4),
                ["first_position_greedy_agreement"] = Math.Round(Rate(i => set.Token[i] == set.TargetToken[i], i => set.Step[i] == 0), 4),
                ["first_position_acceptable_rate"] = Math.Round(Rate(i => set.Label[i], i => set.Step[i] == 0), 4),
                ["sd_sample_acceptance"] = Math.Round(sampled.Soft.Average(), 4),
                ["first_position_sd_sample_acceptance"] = Math.Round(Enumerable.Range(0, sampled.Count).Where(i => sampled.Step[i] == 0).Average(i => sampled.Soft[i]), 4),
                ["mean_q"] = Math.Round(set.Q.Average(), 4), ["mean_p"] = Math.Round(set.P.Average(), 4),
            };
            if (connection is not null)
                result["target"] = new JsonObject { ["url"] = targetSpec, ["model"] = connection.Model, ["top_logprobs"] = connection.Session.Client.Options.TopLogprobs };
            if (r.GetValue(json)) CliSupport.WriteJson(output, result);
            else output.WriteLine($"{result["prompts"]} prompts, {n} positions: greedy agreement {(double)result["greedy_agreement"]!:P1}, q(x) <= p(x) for the draft's token {(double)result["acceptable_rate"]!:P1} " +
                                  $"(first position: {(double)result["first_position_greedy_agreement"]!:P1} and {(double)result["first_position_acceptable_rate"]!:P1}); " +
                                  $"SD acceptance when sampling (mean min(1, p/q) of drawn tokens) {(double)result["sd_sample_acceptance"]!:P1} (first position {(double)result["first_position_sd_sample_acceptance"]!:P1})");
            return Task.FromResult(0);
        });
        return command;
    }
}
