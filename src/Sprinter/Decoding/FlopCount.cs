using Sprinter.Models;

namespace Sprinter.Decoding;

/// <summary>
/// Analytic forward-pass FLOPs of a decoder-only transformer, counting a multiply-add as 2 FLOPs:
/// <code>
/// per position at context length c (the position attends to c keys, itself included):
///     2 * M + 4 * n_layer * d * c
/// per row of logits:
///     2 * d * vocab
/// with M = n_layer * (d*(q + 2kv) + q*d + m*d*f), the block matmul parameters (f = n_inner,
/// q = heads x head size (d except in Qwen3), kv = key/value heads x head size, m = 2 for a GELU
/// MLP and 3 for SwiGLU; GPT-2: d*3d + d*d + 2*d*f), and q in place of d in the attention term.
/// </code>
/// The 4 * n_layer * d * c term is q.k over c keys plus the weighted sum of c values, over all
/// heads. LayerNorm, GELU, softmax, biases and embeddings are O(d) per position and left out.
/// </summary>
public static class FlopCount
{
    public static double BlockMatmulParameters(ModelConfig c)
    {
        double d = c.EmbeddingSize, f = c.InnerSize, q = c.QuerySize, kv = c.KeyValueSize, mlp = c.Mlp == MlpKind.SwiGlu ? 3 : 2;
        return c.LayerCount * (d * (q + 2 * kv) + q * d + mlp * d * f);
    }

    /// <summary>FLOPs of one forward call that appends <paramref name="positions"/> tokens after <paramref name="start"/> cached ones.</summary>
    public static double Forward(ModelConfig c, int start, int positions, int logitRows)
    {
        double perPosition = 2 * BlockMatmulParameters(c);
        // sum over p of (start + p + 1) keys
        double keys = (double)positions * start + (double)positions * (positions + 1) / 2;
        return positions * perPosition + 4.0 * c.LayerCount * c.QuerySize * keys
               + 2.0 * c.EmbeddingSize * c.VocabSize * logitRows;
    }
}
