using System.Numerics.Tensors;
using Sprinter.Engine;

namespace Sprinter.Benchmarks;

/// <summary>Negative log-likelihood totals: tokens scored and the summed NLL in nats.</summary>
public readonly record struct LikelihoodTotal(long Tokens, double Nll)
{
    public double MeanNll => Tokens == 0 ? double.NaN : Nll / Tokens;
    public double Perplexity => Math.Exp(MeanNll);
    public static LikelihoodTotal operator +(LikelihoodTotal a, LikelihoodTotal b) => new(a.Tokens + b.Tokens, a.Nll + b.Nll);
}

/// <summary>
/// Model likelihood of token sequences, scored through the KV cache in windows of the model's
/// context. A sequence longer than the context is scored in consecutive windows, each starting
/// fresh (no overlap), so every token after a window's first is scored once.
/// </summary>
public sealed class LikelihoodScorer(TransformerModel model, int chunk = 64)
{
    readonly TransformerSession _session = model.CreateSession();
    readonly float[] _logProbs = new float[model.OutputVocabulary];

    /// <summary>NLL of tokens[from..] given everything before them (from >= 1).</summary>
    public LikelihoodTotal Score(ReadOnlySpan<int> tokens, int from = 1)
    {
        if (from < 1) throw new ArgumentOutOfRangeException(nameof(from), "the first token has no context to be scored with");
        int context = _session.Capacity;
        var total = new LikelihoodTotal(0, 0);
        for (int windowStart = 0; windowStart < tokens.Length - 1; windowStart += context)
        {
            var window = tokens.Slice(windowStart, Math.Min(context, tokens.Length - windowStart));
            _session.Reset();
            for (int p = 0; p < window.Length; p += chunk)
            {
                int k = Math.Min(chunk, window.Length - p);
                _session.Forward(window.Slice(p, k));
                for (int r = 0; r < k; r++)
                {
                    int next = windowStart + p + r + 1; // the token this row predicts
                    if (next >= windowStart + window.Length || next < from) continue;
                    var logits = _session.Logits(r);
                    float max = TensorPrimitives.Max(logits);
                    TensorPrimitives.Subtract(logits, max, _logProbs);
                    TensorPrimitives.Exp(_logProbs, _logProbs);
                    double logSum = Math.Log(TensorPrimitives.Sum(_logProbs));
                    total += new LikelihoodTotal(1, logSum - (logits[tokens[next]] - max));
                }
            }
        }
        return total;
    }
}
