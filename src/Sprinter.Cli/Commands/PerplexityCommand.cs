using System.CommandLine;
using System.Text.Json.Nodes;
using Sprinter.Benchmarks;
using Sprinter.Models;
using Sprinter.Verification;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter perplexity</c>: a model's perplexity on a text file.</summary>
internal static class PerplexityCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<string?>("--model") { Description = "Model folder. Default: the shipped target." };
        var data = new Option<string>("--data") { Description = "wiki (WikiText-2 test articles), lm1b (LM1B test sentences), or a plain-text file, one document or sentence per line (or JSONL with \"text\"); each text is scored on its own, longer ones in context-sized windows.", Required = true };
        var dataDir = CliSupport.DataDirOption();
        var limit = new Option<int?>("--max-lines") { Description = "Score only the first N non-empty lines." };
        var dtype = CliSupport.DtypeOption();
        var json = CliSupport.JsonOption();
        var command = new Command("perplexity", "Mean negative log-likelihood per token and perplexity of a model on a text file.") { model, data, dataDir, limit, dtype, json };
        command.SetAction(int (r) =>
        {
            string folder = CliSupport.ResolveModel(r.GetValue(model), "target", "--model");
            using var lm = LanguageModel.Load(folder, CliSupport.ParseDtype(r.GetValue(dtype)!));
            var (texts, _) = BenchDatasets.Texts(r.GetValue(data)!, CliSupport.ResolveDataDir(r.GetValue(dataDir)));
            if (r.GetValue(limit) is int n)
            {
                if (n < 1) throw new InvalidInputException($"--max-lines must be >= 1, got {n}.");
                texts = texts.Take(n).ToList();
            }
            var scorer = new LikelihoodScorer(lm.Model);
            var progress = new ProgressLine(error, "perplexity");
            var total = new LikelihoodTotal(0, 0);
            for (int i = 0; i < texts.Count; i++)
            {
                int[] ids = lm.Tokenizer.Encode(texts[i].Text);
                if (ids.Length >= 2) total += scorer.Score(ids);
                progress.Report(new JobProgress(i + 1, texts.Count, $"{total.Tokens:N0} tokens, ppl {total.Perplexity:F2}"));
            }
            if (total.Tokens == 0) throw new InvalidInputException($"{r.GetValue(data)}: no line has two or more tokens to score.");
            if (r.GetValue(json))
                CliSupport.WriteJson(output, new JsonObject { ["model"] = folder, ["data"] = r.GetValue(data), ["lines"] = texts.Count, ["tokens"] = total.Tokens, ["nll"] = Math.Round(total.MeanNll, 6), ["perplexity"] = Math.Round(total.Perplexity, 4) });
            else
                output.WriteLine($"{lm.Name} on {r.GetValue(data)}: {texts.Count} lines, {total.Tokens:N0} tokens scored, NLL {total.MeanNll:F4} nats/token, perplexity {total.Perplexity:F2}");
            return 0;
        });
        return command;
    }
}
