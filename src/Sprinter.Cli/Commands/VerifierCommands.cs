using System.CommandLine;
using System.Text.Json.Nodes;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Verification;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter verifier collect|train|eval</c>: SPRINTER's verifier pipeline.</summary>
internal static class VerifierCommands
{
    public static Command Create(TextWriter output, TextWriter error) => new("verifier", "Collect labels, train, evaluate and calibrate SPRINTER verifiers.")
    {
        Collect(output, error), Train(output, error), Eval(output),
    };

    static Command Collect(TextWriter output, TextWriter error)
    {
        var draft = new Option<string?>("--draft") { Description = "Draft model folder. Default: the shipped draft." };
        var target = new Option<string?>("--target") { Description = "Target model folder, or the http(s):// URL of an OpenAI-compatible server serving it (one call per labelled position). Default: the shipped target." };
        var remote = new RemoteTargetCli();
        var data = new Option<string>("--data") { Description = "Text file (one text per line) or JSONL with a \"text\" field; prompts are the first 30% of each text's words.", Required = true };
        var prompts = new Option<int>("--prompts") { Description = "Number of prompts (a seeded sample of the texts).", DefaultValueFactory = _ => 500 };
        var tokens = new Option<int>("--tokens") { Description = "Draft tokens labelled per prompt.", DefaultValueFactory = _ => 20 };
        var lanes = new Option<int>("--lanes") { Description = "Prompts labelled at once in one batched pass per step (a local target); the labels do not depend on it.", DefaultValueFactory = _ => 16 };
        var ratio = new Option<float>("--ratio") { Description = "Label = q(x) <= ratio * p(x).", DefaultValueFactory = _ => 1f };
        var seed = new Option<int>("--seed") { Description = "Seed of the prompt sample (and of the draws with --draft-token sample).", DefaultValueFactory = _ => 0 };
        var draftToken = new Option<string>("--draft-token") { Description = "greedy (the draft's argmax, as the released code) or sample (a draw from q at temperature 1, as SPRINTER sees when it samples).", DefaultValueFactory = _ => "greedy" };
        var labelRule = new Option<string>("--label") { Description = "paper: q(x) <= ratio p(x) (the released code); greedy: the target's greedy token is the draft's (what greedy SD accepts; draft tokens greedy); sample: SD's acceptance probability min(1, p(x)/q(x)) of a token sampled from q, a soft label (draft tokens sampled).", DefaultValueFactory = _ => "paper" };
        var outDir = new Option<string>("--out") { Description = "Output folder (labels.safetensors, summary.json).", Required = true };
        var command = new Command("collect", "Label draft tokens for a verifier (paper, greedy or sample labels), with the draft's hidden states.") { draft, target, data, prompts, tokens, lanes, ratio, seed, draftToken, labelRule, outDir };
        remote.AddTo(command);
        command.SetAction(async Task<int> (r, ct) =>
        {
            var rule = r.GetValue(draftToken)!.ToLowerInvariant() switch
            {
                "greedy" => DraftTokenRule.Greedy,
                "sample" => DraftTokenRule.Sample,
                var other => throw new InvalidInputException($"--draft-token must be greedy or sample, got '{other}'."),
            };
            var label = Acceptability.Parse(r.GetValue(labelRule))
                ?? throw new InvalidInputException($"--label must be paper, greedy or sample, got '{r.GetValue(labelRule)}'.");
            var options = new CollectOptions { Prompts = r.GetValue(prompts), TokensPerPrompt = r.GetValue(tokens), Lanes = r.GetValue(lanes), Ratio = r.GetValue(ratio), Seed = r.GetValue(seed), DraftToken = rule, Label = label };
            options.Validate();
            string? targetSpec = r.GetValue(target);
            bool remoteTarget = RemoteTargetCli.IsUrl(targetSpec);
            using var pair = ModelPair.Load(!remoteTarget, targetSpec, true, r.GetValue(draft), WeightType.F32);
            await Task.Yield();
            LabelSet set;
            if (remoteTarget)
            {
                // Greedy labels need only the target's top-1; paper and sample labels need p(x) of any token: the whole distribution.
                var connection = remote.Connect(r, targetSpec!, pair.Draft!, label == LabelRule.Greedy ? 1 : -1, ct);
                using var client = connection.Session.Client;
                set = LabelCollector.Collect(pair.Draft!, connection.Session, targetSpec!, $"remote:{connection.Model}", PromptSource.ReadTexts(r.GetValue(data)!), r.GetValue(data)!, options, new ProgressLine(error, "collect"), ct);
            }
            else set = LabelCollector.Collect(pair.Draft!, pair.Target!, r.GetValue(data)!, options, new ProgressLine(error, "collect"), ct);
            set.Save(r.GetValue(outDir)!);
            output.WriteLine($"{set.Count} examples from {set.Summary["prompts"]} prompts, {label.ToString().ToLowerInvariant()} labels for {options.Decoding} decoding, " +
                             $"{set.PositiveRate:P1} acceptable (mean soft label {set.Soft.Average():F3}) -> {r.GetValue(outDir)}");
            return 0;
        });
        return command;
    }

    static Command Train(TextWriter output, TextWriter error)
    {
        var data = new Option<string>("--data") { Description = "Label folder from 'sprinter verifier collect'.", Required = true };
        var outFile = new Option<string>("--out") { Description = "Verifier file to write (.safetensors).", Required = true };
        var recipe = new Option<string>("--recipe") { Description = $"Training recipe: {string.Join(", ", VerifierRecipe.All.Select(x => x.Name))}.", DefaultValueFactory = _ => "paper" };
        var seed = new Option<int>("--seed") { Description = "Seed of the split, initialisation and shuffling.", DefaultValueFactory = _ => 0 };
        var maxFp = new Option<double?>("--max-fp-rate") { Description = "Calibrate: the threshold with the highest eta_TP whose validation eta_FP <= this (a quality budget)." };
        var draft = new Option<string?>("--draft") { Description = "Draft model folder (for token-embedding features). Default: the folder recorded at collection." };
        var json = CliSupport.JsonOption();
        var command = new Command("train", "Train a verifier on collected labels (prompt-level splits, selection on validation).") { data, outFile, recipe, seed, maxFp, draft, json };
        command.SetAction(int (r) =>
        {
            var chosen = VerifierRecipe.Parse(r.GetValue(recipe)!);
            double? eps = r.GetValue(maxFp);
            if (eps is double e && !(e >= 0 && e <= 1)) throw new InvalidInputException($"--max-fp-rate must be in [0, 1], got {e}.");
            var set = LabelSet.Load(r.GetValue(data)!);
            using var draftModel = chosen.Features.HasFlag(FeatureSet.Token) ? LoadDraftFor(set, r.GetValue(draft)) : null;
            var trained = VerifierTrainer.Train(set, chosen, r.GetValue(seed), EmbeddingOf(draftModel), eps, new ProgressLine(error, "train"));
            trained.Model.Save(r.GetValue(outFile)!);
            var report = new JsonObject
            {
                ["verifier"] = r.GetValue(outFile), ["recipe"] = chosen.Name, ["threshold"] = trained.Model.Threshold, ["best_epoch"] = trained.BestEpoch,
                ["train"] = trained.Train.ToJson(), ["validation"] = trained.Validation.ToJson(), ["test"] = trained.Test.ToJson(),
                ["test_eta_tp_at_eta_fp_0.1"] = Math.Round(trained.TestEtaTpAtFp10, 5),
            };
            if (r.GetValue(json)) CliSupport.WriteJson(output, report);
            else
            {
                output.WriteLine($"wrote {r.GetValue(outFile)} (recipe {chosen.Name}, best epoch {trained.BestEpoch}, threshold {trained.Model.Threshold:G4})");
                foreach (var (name, m) in new[] { ("train", trained.Train), ("validation", trained.Validation), ("test", trained.Test) })
                    output.WriteLine($"  {name,-10} n={m.Examples,6} acc {m.Accuracy:F3} AUROC {m.Auroc:F3} eta_TP {m.EtaTp:F3} eta_FP {m.EtaFp:F3} precision {m.Precision:F3} Brier {m.Brier:F3} ECE {m.Ece:F3}");
                output.WriteLine($"  test eta_TP at eta_FP <= 0.1: {trained.TestEtaTpAtFp10:F3}");
            }
            return 0;
        });
        return command;
    }

    static Command Eval(TextWriter output)
    {
        var verifier = new Option<string>("--verifier") { Description = "Verifier file.", Required = true };
        var data = new Option<string>("--data") { Description = "Label folder from 'sprinter verifier collect'.", Required = true };
        var split = new Option<string?>("--split") { Description = "train, validation, test or all. Default: test when the labels are the verifier's training data, else all." };
        var json = CliSupport.JsonOption();
        var command = new Command("eval", "Evaluate a verifier on labels: accuracy, AUROC, eta_TP, eta_FP, precision, Brier, ECE, and a threshold curve.") { verifier, data, split, json };
        command.SetAction(int (r) =>
        {
            string path = r.GetValue(verifier)!;
            var model = VerifierModel.Load(path);
            var set = LabelSet.Load(r.GetValue(data)!);
            if (set.DraftIdentity != model.DraftIdentity)
                throw new InvalidInputException($"{path}: the verifier was trained for another draft model than the one that produced {r.GetValue(data)}; collect labels with its draft.");
            if (set.HiddenSize != model.HiddenSize) throw new InvalidInputException($"{path}: hidden size {model.HiddenSize} does not match the labels' {set.HiddenSize}.");
            bool sameData = (string?)model.Training["data"]?["labels_sha256"] == set.DataHash;
            int seed = (int?)model.Training["seed"] ?? 0;
            string part = r.GetValue(split) ?? (sameData ? "test" : "all");
            int[] rows = part switch
            {
                "all" => Enumerable.Range(0, set.Count).ToArray(),
                "train" => PromptSplit.Indices(set, SplitPart.Train, seed),
                "validation" => PromptSplit.Indices(set, SplitPart.Validation, seed),
                "test" => PromptSplit.Indices(set, SplitPart.Test, seed),
                _ => throw new InvalidInputException($"--split must be train, validation, test or all, got '{part}'."),
            };
            using var draftModel = model.Features.HasFlag(FeatureSet.Token) ? LoadDraftFor(set, null) : null;
            int n = model.InputCount;
            var x = VerifierTrainer.BuildFeatures(set, model.Features, EmbeddingOf(draftModel));
            var scores = VerifierTrainer.Scores(model, x, n, rows);
            var labels = rows.Select(i => set.Label[i]).ToArray();
            var atStored = ClassifierMetrics.Compute(scores, labels, model.Threshold);
            var curve = new JsonArray();
            for (int t = 1; t <= 19; t++)
            {
                var m = ClassifierMetrics.Compute(scores, labels, t / 20f);
                curve.Add(new JsonObject { ["threshold"] = t / 20.0, ["accuracy"] = Math.Round(m.Accuracy, 5), ["eta_tp"] = Math.Round(m.EtaTp, 5), ["eta_fp"] = Math.Round(m.EtaFp, 5), ["precision"] = Math.Round(m.Precision, 5) });
            }
            var report = new JsonObject
            {
                ["verifier"] = path, ["recipe"] = model.Recipe, ["split"] = part, ["at_stored_threshold"] = atStored.ToJson(),
                ["eta_tp_at_eta_fp_0.1"] = Math.Round(ClassifierMetrics.EtaTpAtFpRate(scores, labels, 0.1), 5), ["curve"] = curve,
            };
            if (r.GetValue(json)) { CliSupport.WriteJson(output, report); return 0; }
            output.WriteLine($"{path} (recipe {model.Recipe}) on {part} split of {r.GetValue(data)}: {atStored.Examples} examples, {atStored.PositiveRate:P1} acceptable");
            output.WriteLine($"at threshold {model.Threshold:G4}: accuracy {atStored.Accuracy:F3}, AUROC {atStored.Auroc:F3}, eta_TP {atStored.EtaTp:F3}, eta_FP {atStored.EtaFp:F3}, precision {atStored.Precision:F3}, Brier {atStored.Brier:F3}, ECE {atStored.Ece:F3}");
            output.WriteLine("threshold  accuracy  eta_TP  eta_FP  precision");
            foreach (var row in curve)
                output.WriteLine($"  {(double)row!["threshold"]!,5:F2}    {(double)row["accuracy"]!,6:F3}  {(double)row["eta_tp"]!,6:F3}  {(double)row["eta_fp"]!,6:F3}  {(double)row["precision"]!,6:F3}");
            return 0;
        });
        return command;
    }

    /// <summary>The draft's wte row of a token, for token-embedding features.</summary>
    static Func<int, float[]>? EmbeddingOf(LanguageModel? draft) => draft is null ? null : token =>
    {
        var row = new float[draft.Config.EmbeddingSize];
        draft.Model.TokenEmbedding.GetColumn(token, row);
        return row;
    };

    static LanguageModel LoadDraftFor(LabelSet set, string? folder)
    {
        string path = folder ?? set.DraftFolder;
        var lm = LanguageModel.Load(path);
        if (lm.ComputeIdentity() != set.DraftIdentity)
        {
            lm.Dispose();
            throw new InvalidInputException($"{path}: this is not the draft model the labels were collected with; pass --draft with that folder.");
        }
        return lm;
    }
}
