using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Sprinter.Models;

namespace Sprinter.Verification;

public sealed record CollectOptions
{
    public int Prompts { get; init; } = 500;
    public int TokensPerPrompt { get; init; } = 20;
    /// <summary>The label is q(x) &lt;= Ratio * p(x).</summary>
    public float Ratio { get; init; } = 1f;
    public int Seed { get; init; }
    /// <summary>
    /// How the draft proposes the labelled token: its argmax (the released code) or a draw from its
    /// temperature-1 distribution, which matches what a verifier sees when SPRINTER samples.
    /// </summary>
    public DraftTokenRule DraftToken { get; init; } = DraftTokenRule.Greedy;
    /// <summary>What the label means; <see cref="LabelRule.Greedy"/> and <see cref="LabelRule.Sample"/> fix the draft token rule.</summary>
    public LabelRule Label { get; init; } = LabelRule.Paper;

    /// <summary>The draft token rule the label rule implies.</summary>
    public DraftTokenRule EffectiveDraftToken => Label switch
    {
        LabelRule.Greedy => DraftTokenRule.Greedy,
        LabelRule.Sample => DraftTokenRule.Sample,
        _ => DraftToken,
    };

    /// <summary>The decoding a verifier trained on these labels is made for.</summary>
    public string Decoding => EffectiveDraftToken == DraftTokenRule.Greedy ? "greedy" : "sample";

    public void Validate()
    {
        if (Prompts < 1) throw new InvalidInputException($"--prompts must be >= 1, got {Prompts}.");
        if (TokensPerPrompt < 1) throw new InvalidInputException($"--tokens must be >= 1, got {TokensPerPrompt}.");
        if (!(Ratio > 0) || !float.IsFinite(Ratio)) throw new InvalidInputException($"--ratio must be a positive number, got {Ratio}.");
    }
}

public enum DraftTokenRule { Greedy, Sample }

/// <summary>
/// What a verifier learns to predict. Paper: q(x) &lt;= ratio p(x), the released code's label.
/// Greedy: the target's greedy token equals the draft's greedy token x, which is exactly what greedy
/// SD accepts. Sample: the probability min(1, p(x) / q(x)) that SD accepts a token x drawn from q at
/// temperature 1 (SpecDec++'s soft label); the stored hard label is one seeded acceptance draw.
/// </summary>
public enum LabelRule { Paper, Greedy, Sample }

/// <summary>Progress of a long job: done out of total, and a short status.</summary>
public readonly record struct JobProgress(int Done, int Total, string Status);

/// <summary>
/// Collects verifier training labels. For each prompt and step the draft proposes its greedy token
/// x (or a seeded draw from q), labelled by the <see cref="LabelRule"/> over the full
/// temperature-1 distributions. The context continues as the matching decoding would: paper and
/// greedy labels continue with x when acceptable, else with the target's greedy token; sample
/// labels continue with x when the acceptance draw accepts it, else with a draw from SD's residual
/// norm(max(p - q, 0)). Both models advance through their KV caches, one token per step.
/// </summary>
public static class LabelCollector
{
    public static LabelSet Collect(LanguageModel draft, LanguageModel target, string dataPath, CollectOptions options,
        IProgress<JobProgress>? progress = null, CancellationToken cancellationToken = default) =>
        Collect(draft, target, PromptSource.ReadTexts(dataPath), dataPath, options, progress, cancellationToken);

    /// <param name="sourceTexts">The texts prompts are sampled from.</param>
    /// <param name="dataPath">The file they were read from (named and hashed in the summary).</param>
    public static LabelSet Collect(LanguageModel draft, LanguageModel target, IReadOnlyList<SourceText> sourceTexts, string dataPath,
        CollectOptions options, IProgress<JobProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (draft.Tokenizer.VocabularyIdentity != target.Tokenizer.VocabularyIdentity || draft.Model.OutputVocabulary != target.Model.OutputVocabulary)
            throw new InvalidInputException($"the draft ({draft.Source}) and target ({target.Source}) do not share one tokenizer; pick a matching pair.");
        return Collect(draft, target.Model.CreateSession(), Path.GetFullPath(target.Source), target.ComputeIdentity(), sourceTexts, dataPath, options, progress, cancellationToken);
    }

    /// <summary>Labels against any target session: a local one, or a remote target (one HTTP call per step;
    /// its tokenizer checked by the caller). <paramref name="targetSource"/> and <paramref name="targetIdentity"/> name it in the summary.</summary>
    public static LabelSet Collect(LanguageModel draft, Sprinter.Decoding.ITargetSession ts, string targetSource, string targetIdentity,
        IReadOnlyList<SourceText> sourceTexts, string dataPath, CollectOptions options, IProgress<JobProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var texts = PromptSource.Sample(sourceTexts, options.Prompts, options.Seed);
        int d = draft.Config.EmbeddingSize, vocab = draft.Model.OutputVocabulary;
        int context = Math.Min(draft.Config.MaxPositions, ts.Capacity);
        int maxPrompt = context - options.TokensPerPrompt - 1;
        if (maxPrompt < 1) throw new InvalidInputException($"--tokens {options.TokensPerPrompt} leaves no room for a prompt in a context of {context}.");
        var ds = draft.Model.CreateSession();
        var qProbs = new float[vocab];
        var pProbs = new float[vocab];
        var hidden = new List<float>();
        var token = new List<int>(); var targetToken = new List<int>(); var q = new List<float>(); var p = new List<float>(); var entropy = new List<float>();
        var margin = new List<float>(); var label = new List<bool>(); var soft = new List<float>(); var promptId = new List<int>(); var step = new List<int>();
        var residual = new float[vocab];
        var rule = options.EffectiveDraftToken;
        int truncated = 0;
        var one = new int[1];
        var sampler = new Sprinter.Decoding.TokenSampler(options.Seed);
        for (int t = 0; t < texts.Count; t++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int[] ids = draft.Tokenizer.EncodePrompt(PromptSource.PromptOf(texts[t].Text), maxPrompt, out bool cut);
            if (cut) truncated++;
            ds.Reset(); ts.Reset();
            ds.Forward(ids, logitRows: 1);
            ts.Forward(ids, 1, cancellationToken);
            for (int s = 0; s < options.TokensPerPrompt; s++)
            {
                TensorPrimitives.SoftMax(ds.Logits(0), qProbs);
                int x = rule == DraftTokenRule.Greedy ? TensorPrimitives.IndexOfMax(qProbs) : sampler.Sample(qProbs);
                var stats = VerifierFeatures.FromLogits(ds.Logits(0), qProbs, x);
                TensorPrimitives.SoftMax(ts.Logits(0), pProbs);
                int targetGreedy = TensorPrimitives.IndexOfMax(pProbs);
                float acceptance = Acceptability.Of(options.Label, qProbs[x], pProbs, x, options.Ratio);
                // The sample rule's hard label is SD's own acceptance draw; the others are deterministic.
                bool acceptable = options.Label == LabelRule.Sample ? sampler.NextUniform() < acceptance : acceptance >= 0.5f;
                hidden.AddRange(ds.Hidden(ds.HiddenRows - 1));
                token.Add(x); targetToken.Add(targetGreedy); q.Add(qProbs[x]); p.Add(pProbs[x]); entropy.Add(stats.Entropy); margin.Add(stats.Margin);
                label.Add(acceptable); soft.Add(acceptance); promptId.Add(texts[t].Id); step.Add(s);
                if (s == options.TokensPerPrompt - 1) break;
                if (acceptable) one[0] = x;
                else if (options.Label == LabelRule.Sample)
                {
                    Sprinter.Decoding.AcceptanceRule.Residual(pProbs, qProbs, residual);
                    one[0] = sampler.Sample(residual);
                }
                else one[0] = targetGreedy;
                ds.Forward(one, logitRows: 1);
                ts.Forward(one, 1, cancellationToken);
            }
            progress?.Report(new JobProgress(t + 1, texts.Count, $"{label.Count} examples, {(label.Count == 0 ? 0 : label.Count(l => l) * 100.0 / label.Count):F1}% acceptable"));
        }
        var summary = new JsonObject
        {
            ["examples"] = label.Count,
            ["prompts"] = texts.Count,
            ["tokens_per_prompt"] = options.TokensPerPrompt,
            ["positive_rate"] = label.Count == 0 ? 0 : Math.Round(label.Count(l => l) / (double)label.Count, 5),
            ["ratio"] = options.Ratio,
            ["seed"] = options.Seed,
            ["source_file"] = Path.GetFullPath(dataPath),
            ["source_sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(dataPath))),
            ["prompts_truncated_to_context"] = truncated,
            ["draft"] = Path.GetFullPath(draft.Source),
            ["draft_identity"] = draft.ComputeIdentity(),
            ["target"] = targetSource,
            ["target_identity"] = targetIdentity,
            ["draft_token"] = rule.ToString().ToLowerInvariant(),
            ["label"] = options.Label.ToString().ToLowerInvariant(),
            ["decoding"] = options.Decoding,
            ["rule"] = $"draft {(rule == DraftTokenRule.Greedy ? "greedy token x" : "token x sampled from q")}; " + options.Label switch
            {
                LabelRule.Greedy => "label = the target's greedy token is x; continue with x if so, else with the target's greedy token",
                LabelRule.Sample => "soft label = min(1, p(x) / q(x)) (softmax at temperature 1), hard label = one acceptance draw; continue with x if accepted, else with a draw from norm(max(p - q, 0))",
                _ => "label = q(x) <= ratio * p(x) (softmax at temperature 1); continue with x if acceptable else the target's greedy token",
            },
        };
        return new LabelSet
        {
            HiddenSize = d, Hidden = [.. hidden], Token = [.. token], TargetToken = [.. targetToken], Q = [.. q], P = [.. p], Entropy = [.. entropy], Margin = [.. margin],
            Label = [.. label], Soft = [.. soft], PromptId = [.. promptId], Step = [.. step], Summary = summary,
        };
    }
}
