using System.Numerics.Tensors;

namespace Sprinter.Decoding;

/// <summary>
/// How the next token is chosen. Temperature 0 is greedy. Applied in the order temperature,
/// top-k, top-p, and the resulting distribution is the one sampled from (speculative decoding
/// needs exactly that distribution for both models).
/// </summary>
public sealed record SamplingOptions
{
    public float Temperature { get; init; } = 1f;
    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of most likely tokens whose mass reaches p; 1 keeps all.</summary>
    public float TopP { get; init; } = 1f;

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };
    public bool IsGreedy => Temperature == 0;

    public void Validate()
    {
        if (!(Temperature >= 0) || !float.IsFinite(Temperature))
            throw new InvalidSettingException("temperature", $"must be a finite number >= 0 (0 is greedy), got {Temperature}.");
        if (TopK < 0) throw new InvalidSettingException("top_k", $"must be >= 0 (0 keeps every token), got {TopK}.");
        if (!(TopP > 0 && TopP <= 1)) throw new InvalidSettingException("top_p", $"must be in (0, 1], got {TopP}.");
    }

    public override string ToString() => IsGreedy ? "greedy" : $"temperature {Temperature}, top-k {(TopK == 0 ? "off" : TopK)}, top-p {TopP}";
}

/// <summary>
/// Turns logits into the distribution actually sampled from. Owns its scratch space, so a call
/// allocates nothing; one instance per decoding loop (not thread-safe).
/// </summary>
public sealed class DistributionBuilder
{
    readonly SamplingOptions _options;
    readonly float[] _keys;
    readonly int[] _order;

    public SamplingOptions Options => _options;

    public DistributionBuilder(SamplingOptions options, int vocabSize)
    {
        options.Validate();
        _options = options;
        _keys = new float[vocabSize];
        _order = new int[vocabSize];
    }

    /// <summary>Writes the sampling distribution for <paramref name="logits"/> into <paramref name="probs"/> (zeros for removed tokens).</summary>
    public void Compute(ReadOnlySpan<float> logits, Span<float> probs)
    {
        int v = logits.Length;
        if (_options.IsGreedy)
        {
            probs.Clear();
            probs[TensorPrimitives.IndexOfMax(logits)] = 1f; // ties: the lowest id
            return;
        }
        TensorPrimitives.Divide(logits, _options.Temperature, probs);
        bool topK = _options.TopK > 0 && _options.TopK < v, topP = _options.TopP < 1f;
        if (!topK && !topP)
        {
            TensorPrimitives.SoftMax(probs, probs);
            return;
        }
        // Order tokens by scaled logit, highest first, ties by lower id.
        var keys = _keys.AsSpan(0, v);
        var order = _order.AsSpan(0, v);
        TensorPrimitives.Negate(probs, keys);
        for (int i = 0; i < v; i++) order[i] = i;
        keys.Sort(order);
        for (int i = 0; i < v;)
        {
            int j = i + 1;
            while (j < v && keys[j] == keys[i]) j++;
            if (j - i > 1) order[i..j].Sort();
            i = j;
        }
        int kept = topK ? _options.TopK : v;
        // Softmax over the kept prefix (keys hold -logit/T in order).
        float max = -keys[0];
        double sum = 0;
        for (int i = 0; i < kept; i++) { keys[i] = MathF.Exp(-keys[i] - max); sum += keys[i]; }
        if (topP)
        {
            double cumulative = 0, target = _options.TopP * sum;
            int n = 0;
            while (n < kept) { cumulative += keys[n++]; if (cumulative >= target * (1 - 1e-7)) break; }
            kept = n;
            sum = cumulative;
        }
        probs.Clear();
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < kept; i++) probs[order[i]] = keys[i] * inv;
    }
}

/// <summary>Draws tokens from distributions with a seeded generator it owns: same seed, same draws.</summary>
public sealed class TokenSampler(int seed)
{
    readonly Random _random = new(seed);

    public double NextUniform() => _random.NextDouble();

    /// <summary>Inverse-CDF draw from <paramref name="probs"/> (need not be normalised).</summary>
    public int Sample(ReadOnlySpan<float> probs)
    {
        double total = 0;
        for (int i = 0; i < probs.Length; i++) total += probs[i];
        return SampleWithTotal(probs, total);
    }

    int SampleWithTotal(ReadOnlySpan<float> probs, double total)
    {
        double u = _random.NextDouble() * total, cumulative = 0;
        int last = -1;
        for (int i = 0; i < probs.Length; i++)
        {
            if (probs[i] <= 0) continue;
            cumulative += probs[i];
            last = i;
            if (u < cumulative) return i;
        }
        if (last < 0) throw new InvalidOperationException("cannot sample from an all-zero distribution");
        return last; // rounding left u at the very top
    }
}
