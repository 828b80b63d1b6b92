namespace Sprinter.Tests.Engine;

/// <summary>
/// A deliberately naive Llama-family forward pass in double precision (RMSNorm, rotary positions in
/// Hugging Face's rotate-halves layout, grouped-query attention, SwiGLU; Qwen2's q/k/v biases),
/// written from the architecture's definition over the Hugging Face tensors and sharing no code with
/// the engine: the oracle for the engine's other families.
/// </summary>
public static class ReferenceLlama
{
    public static (double[][] Logits, double[][] Hidden) Run(Sprinter.Models.ModelConfig c, IReadOnlyDictionary<string, (float[] Data, long[] Shape)> w, int[] tokens)
    {
        int n = tokens.Length, d = c.EmbeddingSize, hs = c.HeadSize, f = c.InnerSize, kvHeads = c.KeyValueHeads, kv = kvHeads * hs, qs = c.HeadCount * hs;
        float[] T(string name) => w[name].Data;
        float[]? Maybe(string name) => w.TryGetValue(name, out var t) ? t.Data : null;
        var x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = Enumerable.Range(0, d).Select(i => (double)T("model.embed_tokens.weight")[tokens[t] * d + i]).ToArray();
        for (int l = 0; l < c.LayerCount; l++)
        {
            string h = $"model.layers.{l}.";
            var a = x.Select(r => RmsNorm(r, T(h + "input_layernorm.weight"), c.LayerNormEpsilon)).ToArray();
            var q = a.Select(r => ReferenceMath.Linear(r, T(h + "self_attn.q_proj.weight"), Maybe(h + "self_attn.q_proj.bias"), qs)).ToArray();
            var k = a.Select(r => ReferenceMath.Linear(r, T(h + "self_attn.k_proj.weight"), Maybe(h + "self_attn.k_proj.bias"), kv)).ToArray();
            var v = a.Select(r => ReferenceMath.Linear(r, T(h + "self_attn.v_proj.weight"), Maybe(h + "self_attn.v_proj.bias"), kv)).ToArray();
            if (Maybe(h + "self_attn.q_norm.weight") is { } qNorm)   // Qwen3: RMSNorm of every query and key head
                for (int t = 0; t < n; t++)
                {
                    q[t] = Enumerable.Range(0, c.HeadCount).SelectMany(i => RmsNorm(q[t][(i * hs)..((i + 1) * hs)], qNorm, c.LayerNormEpsilon)).ToArray();
                    k[t] = Enumerable.Range(0, kvHeads).SelectMany(i => RmsNorm(k[t][(i * hs)..((i + 1) * hs)], T(h + "self_attn.k_norm.weight"), c.LayerNormEpsilon)).ToArray();
                }
            for (int t = 0; t < n; t++) { Rope(q[t], t, hs, c); Rope(k[t], t, hs, c); }
            var att = new double[n][];
            for (int t = 0; t < n; t++)
            {
                att[t] = new double[qs];
                for (int head = 0; head < c.HeadCount; head++)
                {
                    int g = head / (c.HeadCount / kvHeads);
                    var s = new double[t + 1];
                    for (int j = 0; j <= t; j++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hs; i++) dot += q[t][head * hs + i] * k[j][g * hs + i];
                        s[j] = dot / Math.Sqrt(hs);
                    }
                    double max = s.Max(), sum = s.Sum(z => Math.Exp(z - max));
                    for (int j = 0; j <= t; j++)
                        for (int i = 0; i < hs; i++) att[t][head * hs + i] += Math.Exp(s[j] - max) / sum * v[j][g * hs + i];
                }
            }
            for (int t = 0; t < n; t++)
            {
                var o = ReferenceMath.Linear(att[t], T(h + "self_attn.o_proj.weight"), null, d);
                for (int i = 0; i < d; i++) x[t][i] += o[i];
                var b = RmsNorm(x[t], T(h + "post_attention_layernorm.weight"), c.LayerNormEpsilon);
                var gate = ReferenceMath.Linear(b, T(h + "mlp.gate_proj.weight"), null, f);
                var up = ReferenceMath.Linear(b, T(h + "mlp.up_proj.weight"), null, f);
                var act = gate.Select((z, i) => z / (1 + Math.Exp(-z)) * up[i]).ToArray();
                var down = ReferenceMath.Linear(act, T(h + "mlp.down_proj.weight"), null, d);
                for (int i = 0; i < d; i++) x[t][i] += down[i];
            }
        }
        var hidden = x.Select(r => RmsNorm(r, T("model.norm.weight"), c.LayerNormEpsilon)).ToArray();
        var output = Maybe("lm_head.weight") is { } lm && !c.TieWordEmbeddings ? lm : T("model.embed_tokens.weight");
        var logits = hidden.Select(r => ReferenceMath.Linear(r, output, null, c.VocabSize)).ToArray();
        return (logits, hidden);
    }

    static double[] RmsNorm(double[] x, float[] g, double eps)
    {
        double rms = Math.Sqrt(x.Sum(z => z * z) / x.Length + eps);
        return x.Select((z, i) => z / rms * g[i]).ToArray();
    }

    /// <summary>
    /// Rotates every head: element i pairs with i + hs/2 at angle position x frequency(i), the
    /// frequency theta^(-2i/hs), scaled as Llama 3.1's rope_scaling prescribes when set.
    /// </summary>
    static void Rope(double[] heads, int position, int hs, Sprinter.Models.ModelConfig c)
    {
        double Frequency(int i)
        {
            double f = Math.Pow(c.RopeTheta, -2.0 * i / hs);
            if (c.RopeScaling is not { } r) return f;
            if (r.Type == "linear") return f / r.Factor;
            double wavelength = 2 * Math.PI / f;
            if (wavelength < r.OriginalMaxPositions / r.HighFrequencyFactor) return f;
            if (wavelength > r.OriginalMaxPositions / r.LowFrequencyFactor) return f / r.Factor;
            double smooth = (r.OriginalMaxPositions / wavelength - r.LowFrequencyFactor) / (r.HighFrequencyFactor - r.LowFrequencyFactor);
            return (1 - smooth) * f / r.Factor + smooth * f;
        }
        for (int h = 0; h < heads.Length; h += hs)
            for (int i = 0; i < hs / 2; i++)
            {
                double angle = position * Frequency(i);
                double a = heads[h + i], b = heads[h + i + hs / 2];
                heads[h + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                heads[h + i + hs / 2] = b * Math.Cos(angle) + a * Math.Sin(angle);
            }
    }
}
