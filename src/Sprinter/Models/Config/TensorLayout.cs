namespace Sprinter.Models;

/// <summary>
/// One tensor of a family at a given configuration: its Hugging Face name and shape, its name in a
/// GGUF file (null where llama.cpp has no such model), how the two formats order its values, and how
/// the random-model builder fills it.
/// </summary>
/// <param name="Hf">The name in a Hugging Face checkpoint (GPT-2's without the optional <c>transformer.</c> prefix).</param>
/// <param name="Shape">The Hugging Face shape.</param>
/// <param name="Std">Random init: N(0, Std); ignored when <see cref="Fill"/> is set.</param>
/// <param name="Fill">Random init: this constant (norms at identity, biases at zero), plus the builder's noise.</param>
public sealed record TensorSpec(string Hf, string? Gguf, long[] Shape, double Std = 0.02, float? Fill = null)
{
    /// <summary>GPT-2's Conv1D weight: Hugging Face stores [in, out], GGUF torch's [out, in].</summary>
    public bool Conv1D { get; init; }
    /// <summary>A q or k weight of arch llama: GGUF holds its rows in adjacent-pair order (<see cref="TensorLayout.HalvesToPairs"/>).</summary>
    public bool PairRows { get; init; }
    /// <summary>May be missing from a checkpoint (GPT-2's lm_head: tied to wte then); the writer skips it when absent and the builder leaves it out.</summary>
    public bool Optional { get; init; }

    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Every tensor of each layout, in one order (the random builder draws in it, the GGUF writer writes
/// in it), and the two row orders of rotary weights. The loader, the writer and the builder read
/// these lists; nothing else spells a tensor name.
/// </summary>
public static class TensorLayout
{
    public static IReadOnlyList<TensorSpec> For(ModelFamily family, ModelConfig c) => family.Layout switch
    {
        FamilyLayout.Gpt2 => Gpt2(c, neo: false),
        FamilyLayout.GptNeo => Gpt2(c, neo: true),
        _ => Llama(c, family.GgufPairRotation),
    };

    /// <summary>GPT-2, and GPT-Neo with its names: separate bias-free q/k/v and nn.Linear [out, in] weights.</summary>
    static List<TensorSpec> Gpt2(ModelConfig c, bool neo)
    {
        long d = c.EmbeddingSize, f = c.InnerSize, v = c.VocabSize;
        double residual = ResidualStd(c);
        string? G(string name) => neo ? null : name;   // llama.cpp has no GPT-Neo
        var t = new List<TensorSpec>
        {
            new("wte.weight", G("token_embd.weight"), [v, d]),
            new("wpe.weight", G("position_embd.weight"), [c.MaxPositions, d], Std: 0.01),
        };
        for (int l = 0; l < c.LayerCount; l++)
        {
            string h = $"h.{l}.", b = $"blk.{l}.";
            t.Add(new(h + "ln_1.weight", G(b + "attn_norm.weight"), [d], Fill: 1));
            t.Add(new(h + "ln_1.bias", G(b + "attn_norm.bias"), [d], Fill: 0));
            if (neo)
            {
                foreach (string proj in new[] { "q_proj", "k_proj", "v_proj" })
                    t.Add(new(h + "attn.attention." + proj + ".weight", null, [d, d], Std: 0.05));
                t.Add(new(h + "attn.attention.out_proj.weight", null, [d, d], residual));
                t.Add(new(h + "attn.attention.out_proj.bias", null, [d], Fill: 0));
            }
            else
            {
                t.Add(new(h + "attn.c_attn.weight", G(b + "attn_qkv.weight"), [d, 3 * d]) { Conv1D = true });
                t.Add(new(h + "attn.c_attn.bias", G(b + "attn_qkv.bias"), [3 * d], Fill: 0));
                t.Add(new(h + "attn.c_proj.weight", G(b + "attn_output.weight"), [d, d], residual) { Conv1D = true });
                t.Add(new(h + "attn.c_proj.bias", G(b + "attn_output.bias"), [d], Fill: 0));
            }
            t.Add(new(h + "ln_2.weight", G(b + "ffn_norm.weight"), [d], Fill: 1));
            t.Add(new(h + "ln_2.bias", G(b + "ffn_norm.bias"), [d], Fill: 0));
            t.Add(new(h + "mlp.c_fc.weight", G(b + "ffn_up.weight"), neo ? [f, d] : [d, f]) { Conv1D = !neo });
            t.Add(new(h + "mlp.c_fc.bias", G(b + "ffn_up.bias"), [f], Fill: 0));
            t.Add(new(h + "mlp.c_proj.weight", G(b + "ffn_down.weight"), neo ? [d, f] : [f, d], residual) { Conv1D = !neo });
            t.Add(new(h + "mlp.c_proj.bias", G(b + "ffn_down.bias"), [d], Fill: 0));
        }
        t.Add(new("ln_f.weight", G("output_norm.weight"), [d], Fill: 1));
        t.Add(new("ln_f.bias", G("output_norm.bias"), [d], Fill: 0));
        // Tied models (GPT-2's own) have no lm_head; an untied GPT-2 without one is read as tied too.
        if (!c.TieWordEmbeddings) t.Add(new("lm_head.weight", G("output.weight"), [v, d]) { Optional = !neo });
        return t;
    }

    /// <summary>The Llama layout (llama, mistral, qwen2, qwen3): nn.Linear weights [out, in], RMSNorm scales only, no position table.</summary>
    static List<TensorSpec> Llama(ModelConfig c, bool pairRows)
    {
        long d = c.EmbeddingSize, f = c.InnerSize, v = c.VocabSize, q = c.QuerySize, kv = c.KeyValueSize, hs = c.HeadSize;
        double residual = ResidualStd(c);
        var t = new List<TensorSpec> { new("model.embed_tokens.weight", "token_embd.weight", [v, d]) };
        for (int l = 0; l < c.LayerCount; l++)
        {
            string h = $"model.layers.{l}.", b = $"blk.{l}.";
            t.Add(new(h + "input_layernorm.weight", b + "attn_norm.weight", [d], Fill: 1));
            t.Add(new(h + "self_attn.q_proj.weight", b + "attn_q.weight", [q, d]) { PairRows = pairRows });
            t.Add(new(h + "self_attn.k_proj.weight", b + "attn_k.weight", [kv, d]) { PairRows = pairRows });
            t.Add(new(h + "self_attn.v_proj.weight", b + "attn_v.weight", [kv, d]));
            if (c.QkvBias)
            {
                t.Add(new(h + "self_attn.q_proj.bias", b + "attn_q.bias", [q], Fill: 0));
                t.Add(new(h + "self_attn.k_proj.bias", b + "attn_k.bias", [kv], Fill: 0));
                t.Add(new(h + "self_attn.v_proj.bias", b + "attn_v.bias", [kv], Fill: 0));
            }
            t.Add(new(h + "self_attn.o_proj.weight", b + "attn_output.weight", [d, q], residual));
            if (c.QueryKeyNorm)
            {
                t.Add(new(h + "self_attn.q_norm.weight", b + "attn_q_norm.weight", [hs], Fill: 1));
                t.Add(new(h + "self_attn.k_norm.weight", b + "attn_k_norm.weight", [hs], Fill: 1));
            }
            t.Add(new(h + "post_attention_layernorm.weight", b + "ffn_norm.weight", [d], Fill: 1));
            t.Add(new(h + "mlp.gate_proj.weight", b + "ffn_gate.weight", [f, d]));
            t.Add(new(h + "mlp.up_proj.weight", b + "ffn_up.weight", [f, d]));
            t.Add(new(h + "mlp.down_proj.weight", b + "ffn_down.weight", [d, f], residual));
        }
        t.Add(new("model.norm.weight", "output_norm.weight", [d], Fill: 1));
        if (!c.TieWordEmbeddings) t.Add(new("lm_head.weight", "output.weight", [v, d]));
        return t;
    }

    /// <summary>GPT-2's init for the projections into the residual stream: 0.02 / sqrt(2 n_layer).</summary>
    static double ResidualStd(ModelConfig c) => 0.02 / Math.Sqrt(2 * c.LayerCount);

    /// <summary>
    /// Hugging Face rotates halves (i, i + hs/2); llama.cpp's arch llama rotates adjacent pairs (2i, 2i + 1).
    /// Within each head of <paramref name="headSize"/> rows, row i and i + hs/2 become rows 2i and 2i + 1.
    /// </summary>
    public static void HalvesToPairs(float[] w, float[] result, int rows, int cols, int headSize) => Permute(w, result, rows, cols, headSize, toPairs: true);

    /// <summary>The inverse of <see cref="HalvesToPairs"/>: a GGUF arch-llama q/k weight back to Hugging Face's order.</summary>
    public static void PairsToHalves(float[] w, float[] result, int rows, int cols, int headSize) => Permute(w, result, rows, cols, headSize, toPairs: false);

    static void Permute(float[] w, float[] result, int rows, int cols, int headSize, bool toPairs)
    {
        int half = headSize / 2;
        void Move(long halvesRow, long pairsRow)
        {
            var (from, to) = toPairs ? (halvesRow, pairsRow) : (pairsRow, halvesRow);
            Array.Copy(w, from * cols, result, to * cols, cols);
        }
        for (int head = 0; head + headSize <= rows; head += headSize)
            for (int i = 0; i < half; i++)
            {
                Move(head + i, head + 2 * i);
                Move(head + half + i, head + 2 * i + 1);
            }
    }

    /// <summary>A [rows, cols] row-major matrix as [cols, rows] (GPT-2's Conv1D layout to torch's and back).</summary>
    public static void Transpose(float[] source, float[] result, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
            for (int col = 0; col < cols; col++)
                result[(long)col * rows + r] = source[(long)r * cols + col];
    }
}
