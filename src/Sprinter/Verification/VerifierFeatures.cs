using System.Numerics.Tensors;

namespace Sprinter.Verification;

/// <summary>Which inputs a learned verifier reads. The paper's verifier reads the hidden state only.</summary>
[Flags]
public enum FeatureSet
{
    /// <summary>The draft's final hidden state (after ln_f) at the position that produced q.</summary>
    Hidden = 1,
    /// <summary>q(x), its log, the entropy of q and the top-1 margin of q (draft softmax at temperature 1).</summary>
    Stats = 2,
    /// <summary>The candidate token's embedding row from the draft's wte.</summary>
    Token = 4,
    /// <summary>
    /// The entropy and top-1 margin of the draft's distribution one position back (the one that
    /// predicted the last token of the context), with a flag for whether it is known: at a round's
    /// start it is the rejected position's distribution, unknown after a bonus token or a prompt.
    /// </summary>
    History = 8,
}

/// <summary>Builds a verifier's input vector; the same code serves collection, training and decoding.</summary>
public static class VerifierFeatures
{
    public const int StatsCount = 4, HistoryCount = 3;

    public static int Count(FeatureSet set, int hiddenSize) =>
        (set.HasFlag(FeatureSet.Hidden) ? hiddenSize : 0) + (set.HasFlag(FeatureSet.Stats) ? StatsCount : 0) + (set.HasFlag(FeatureSet.Token) ? hiddenSize : 0)
        + (set.HasFlag(FeatureSet.History) ? HistoryCount : 0);

    public static string Describe(FeatureSet set) => string.Join("+", Enum.GetValues<FeatureSet>().Where(f => set.HasFlag(f)).Select(f => f.ToString().ToLowerInvariant()));

    public static FeatureSet Parse(string text)
    {
        FeatureSet set = 0;
        foreach (var part in text.Split('+', ',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            set |= Enum.TryParse<FeatureSet>(part, ignoreCase: true, out var f) ? f : throw new InvalidInputException($"unknown verifier feature '{part}'; use hidden, stats, token and history joined by '+'.");
        if (set == 0) throw new InvalidInputException("a verifier needs at least one feature (hidden, stats, token, history).");
        return set;
    }

    /// <summary>Summary statistics of the draft's softmax (temperature 1) for a candidate token.</summary>
    public readonly record struct DraftStats(float Q, float Entropy, float Margin);

    /// <summary>Computes softmax statistics from raw logits; <paramref name="scratch"/> is vocab-sized.</summary>
    public static DraftStats FromLogits(ReadOnlySpan<float> logits, int token, Span<float> scratch)
    {
        var probs = scratch[..logits.Length];
        TensorPrimitives.SoftMax(logits, probs);
        return FromLogits(logits, probs, token);
    }

    /// <summary>The statistics when <paramref name="probs"/> already holds softmax(<paramref name="logits"/>).</summary>
    public static DraftStats FromLogits(ReadOnlySpan<float> logits, ReadOnlySpan<float> probs, int token)
    {
        // Entropy without a log per token (this runs once per drafted token): log p_i = z_i - m - log s
        // with m = max z and s = sum exp(z - m) = 1 / max p, so H = m - log(max p) - sum p_i z_i.
        float maxProb = TensorPrimitives.Max(probs);
        double entropy = TensorPrimitives.Max(logits) - Math.Log(maxProb) - TensorPrimitives.Dot(probs, logits);
        float second = 0;
        bool skippedFirst = false;
        foreach (float p in probs)
        {
            if (p == maxProb && !skippedFirst) { skippedFirst = true; continue; }
            if (p > second) second = p;
        }
        return new DraftStats(probs[token], (float)Math.Max(entropy, 0), maxProb - second);
    }

    /// <summary>Writes the feature vector for one example into <paramref name="dest"/>.</summary>
    /// <param name="previous">For <see cref="FeatureSet.History"/>: the draft's statistics one position back, if known.</param>
    public static void Write(FeatureSet set, ReadOnlySpan<float> hidden, DraftStats stats, ReadOnlySpan<float> tokenEmbedding, Span<float> dest, DraftStats? previous = null)
    {
        int o = 0;
        if (set.HasFlag(FeatureSet.Hidden)) { hidden.CopyTo(dest); o += hidden.Length; }
        if (set.HasFlag(FeatureSet.Stats))
        {
            dest[o++] = stats.Q;
            dest[o++] = MathF.Log(Math.Max(stats.Q, 1e-30f));
            dest[o++] = stats.Entropy;
            dest[o++] = stats.Margin;
        }
        if (set.HasFlag(FeatureSet.Token)) { tokenEmbedding.CopyTo(dest[o..]); o += tokenEmbedding.Length; }
        if (set.HasFlag(FeatureSet.History))
        {
            dest[o++] = previous is null ? 0 : 1;
            dest[o++] = previous?.Entropy ?? 0;
            dest[o++] = previous?.Margin ?? 0;
        }
    }
}
