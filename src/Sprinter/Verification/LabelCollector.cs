using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Sprinter.Decoding;
using Sprinter.Engine;
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
    /// <summary>Prompts labelled at once against a local target (one batched pass per step); the labels do not depend on it.</summary>
    public int Lanes { get; init; } = 16;
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
        InvalidSettingException.ThrowIfLessThan("prompts", Prompts, 1);
        InvalidSettingException.ThrowIfLessThan("lanes", Lanes, 1);
        InvalidSettingException.ThrowIfLessThan("tokens", TokensPerPrompt, 1);
        if (!(Ratio > 0) || !float.IsFinite(Ratio)) throw new InvalidSettingException("ratio", $"must be a positive number, got {Ratio}.");
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
/// A local target runs <see cref="CollectOptions.Lanes"/> prompts in lock step, one batched pass per
/// step for each model (labels ten times as many prompts for the price of a few); batching never
/// changes a pass's bits and each prompt draws from its own generator, so the labels are the same
/// for any number of lanes.
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
        options.Validate();
        var targetBatch = new TransformerBatch(target.Model);
        var sessions = Enumerable.Range(0, options.Lanes).Select(_ => target.Model.CreateSession()).ToArray();
        return Run(draft, i => sessions[i], options.Lanes, (lanes, ct) =>
            {
                targetBatch.Clear();
                foreach (var lane in lanes) targetBatch.Add((TransformerSession)lane.Target, lane.Pending, 1);
                targetBatch.Run();
            }, Path.GetFullPath(target.Source), target.ComputeIdentity(), sourceTexts, dataPath, options, progress, cancellationToken);
    }

    /// <summary>Labels against any target session: a local one, or a remote target (one HTTP call per step;
    /// its tokenizer checked by the caller). <paramref name="targetSource"/> and <paramref name="targetIdentity"/> name it in the summary.</summary>
    public static LabelSet Collect(LanguageModel draft, ITargetSession ts, string targetSource, string targetIdentity,
        IReadOnlyList<SourceText> sourceTexts, string dataPath, CollectOptions options, IProgress<JobProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options.Validate();
        return Run(draft, _ => ts, 1, (lanes, ct) => { foreach (var lane in lanes) lane.Target.Forward(lane.Pending, 1, ct); },
            targetSource, targetIdentity, sourceTexts, dataPath, options, progress, cancellationToken);
    }

    /// <summary>One prompt being labelled: its sessions, generator, the tokens it feeds next and its examples.</summary>
    sealed class Lane(TransformerSession draft, ITargetSession target)
    {
        public readonly TransformerSession Draft = draft;
        public readonly ITargetSession Target = target;
        public TokenSampler Sampler = new(0);
        public int PromptId, Step;
        public int[] Pending = [];
    }

    /// <summary>Examples of one prompt, in step order.</summary>
    sealed class Examples
    {
        public readonly List<float> Hidden = [], Q = [], P = [], Entropy = [], Margin = [], Soft = [];
        public readonly List<int> Token = [], TargetToken = [], PromptId = [], Step = [];
        public readonly List<bool> Label = [];
    }

    /// <summary>Each prompt's own generator: a fixed mix of the run's seed and the prompt's place in the sample.</summary>
    static TokenSampler SamplerFor(int seed, int promptIndex) => new(unchecked(seed * 1_000_003 + promptIndex * 7_919 + 17));

    static LabelSet Run(LanguageModel draft, Func<int, ITargetSession> targetForLane, int laneCount,
        Action<IReadOnlyList<Lane>, CancellationToken> stepTarget, string targetSource, string targetIdentity,
        IReadOnlyList<SourceText> sourceTexts, string dataPath, CollectOptions options, IProgress<JobProgress>? progress, CancellationToken cancellationToken)
    {
        var texts = PromptSource.Sample(sourceTexts, options.Prompts, options.Seed);
        int d = draft.Config.EmbeddingSize, vocab = draft.Model.OutputVocabulary;
        int context = Math.Min(draft.Config.MaxPositions, targetForLane(0).Capacity);
        int maxPrompt = context - options.TokensPerPrompt - 1;
        if (maxPrompt < 1) throw new InvalidSettingException("tokens", $"{options.TokensPerPrompt} leaves no room for a prompt in a context of {context}.");
        var lanes = Enumerable.Range(0, Math.Min(laneCount, texts.Count)).Select(i => new Lane(draft.Model.CreateSession(), targetForLane(i))).ToArray();
        var draftBatch = new TransformerBatch(draft.Model);
        var qProbs = new float[vocab];
        var pProbs = new float[vocab];
        var residual = new float[vocab];
        var rule = options.EffectiveDraftToken;
        var perPrompt = new Examples[texts.Count];
        int truncated = 0, next = 0, done = 0, examples = 0, positives = 0;
        var active = new List<Lane>();
        void Start(Lane lane)
        {
            int t = next++;
            int[] ids = draft.Tokenizer.EncodePrompt(PromptSource.PromptOf(texts[t].Text), maxPrompt, out bool cut);
            if (cut) truncated++;
            lane.Draft.Reset(); lane.Target.Reset();
            lane.PromptId = t; lane.Step = 0; lane.Pending = ids;
            lane.Sampler = SamplerFor(options.Seed, t);
            perPrompt[t] = new Examples();
        }
        foreach (var lane in lanes) { Start(lane); active.Add(lane); }
        while (active.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            draftBatch.Clear();
            foreach (var lane in active) draftBatch.Add(lane.Draft, lane.Pending, 1);
            draftBatch.Run();
            stepTarget(active, cancellationToken);
            for (int a = 0; a < active.Count; a++)
            {
                var lane = active[a];
                var ex = perPrompt[lane.PromptId];
                var ds = lane.Draft;
                TensorPrimitives.SoftMax(ds.Logits(0), qProbs);
                int x = rule == DraftTokenRule.Greedy ? TensorPrimitives.IndexOfMax(qProbs) : lane.Sampler.Sample(qProbs);
                var stats = VerifierFeatures.FromLogits(ds.Logits(0), qProbs, x);
                TensorPrimitives.SoftMax(lane.Target.Logits(0), pProbs);
                int targetGreedy = TensorPrimitives.IndexOfMax(pProbs);
                float acceptance = Acceptability.Of(options.Label, qProbs[x], pProbs, x, options.Ratio);
                // The sample rule's hard label is SD's own acceptance draw; the others are deterministic.
                bool acceptable = options.Label == LabelRule.Sample ? lane.Sampler.NextUniform() < acceptance : acceptance >= 0.5f;
                ex.Hidden.AddRange(ds.Hidden(ds.HiddenRows - 1));
                ex.Token.Add(x); ex.TargetToken.Add(targetGreedy); ex.Q.Add(qProbs[x]); ex.P.Add(pProbs[x]); ex.Entropy.Add(stats.Entropy); ex.Margin.Add(stats.Margin);
                ex.Label.Add(acceptable); ex.Soft.Add(acceptance); ex.PromptId.Add(texts[lane.PromptId].Id); ex.Step.Add(lane.Step);
                examples++; if (acceptable) positives++;
                if (++lane.Step == options.TokensPerPrompt)
                {
                    done++;
                    progress?.Report(new JobProgress(done, texts.Count, $"{examples} examples, {(examples == 0 ? 0 : positives * 100.0 / examples):F1}% acceptable"));
                    if (next < texts.Count) Start(lane);   // the lane's next pass prefills its new prompt
                    else active.RemoveAt(a--);
                    continue;
                }
                int following;
                if (acceptable) following = x;
                else if (options.Label == LabelRule.Sample)
                {
                    AcceptanceRule.Residual(pProbs, qProbs, residual);
                    following = lane.Sampler.Sample(residual);
                }
                else following = targetGreedy;
                lane.Pending = [following];
            }
        }
        var all = new Examples();
        foreach (var ex in perPrompt)
        {
            all.Hidden.AddRange(ex.Hidden); all.Token.AddRange(ex.Token); all.TargetToken.AddRange(ex.TargetToken); all.Q.AddRange(ex.Q); all.P.AddRange(ex.P);
            all.Entropy.AddRange(ex.Entropy); all.Margin.AddRange(ex.Margin); all.Label.AddRange(ex.Label); all.Soft.AddRange(ex.Soft);
            all.PromptId.AddRange(ex.PromptId); all.Step.AddRange(ex.Step);
        }
        var summary = new JsonObject
        {
            ["examples"] = all.Label.Count,
            ["prompts"] = texts.Count,
            ["tokens_per_prompt"] = options.TokensPerPrompt,
            ["positive_rate"] = all.Label.Count == 0 ? 0 : Math.Round(positives / (double)all.Label.Count, 5),
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
            ["generators"] = "one per prompt, seeded from the run's seed and the prompt's index",
        };
        return new LabelSet
        {
            HiddenSize = d, Hidden = [.. all.Hidden], Token = [.. all.Token], TargetToken = [.. all.TargetToken], Q = [.. all.Q], P = [.. all.P], Entropy = [.. all.Entropy], Margin = [.. all.Margin],
            Label = [.. all.Label], Soft = [.. all.Soft], PromptId = [.. all.PromptId], Step = [.. all.Step], Summary = summary,
        };
    }
}
