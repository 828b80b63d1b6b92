namespace Sprinter.Tests.Engine;

/// <summary>
/// A deliberately naive GPT-Neo forward pass in double precision from the architecture's
/// definition (LayerNorm, learned positions, bias-free q/k/v, unscaled attention scores, local
/// layers masked to the last window_size positions, tanh GELU), sharing no code with the engine.
/// llama.cpp has no GPT-Neo, so this is its oracle.
/// </summary>
public static class ReferenceGptNeo
{
    public static double[][] Logits(Sprinter.Models.ModelConfig c, IReadOnlyDictionary<string, (float[] Data, long[] Shape)> w, int[] tokens)
    {
        int n = tokens.Length, d = c.EmbeddingSize, hs = d / c.HeadCount, f = c.InnerSize;
        float[] T(string name) => w[name].Data;
        var x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = Enumerable.Range(0, d).Select(i => (double)T("wte.weight")[tokens[t] * d + i] + T("wpe.weight")[t * d + i]).ToArray();
        for (int l = 0; l < c.LayerCount; l++)
        {
            string h = $"h.{l}.", a = h + "attn.attention.";
            bool local = c.LocalLayers.Contains(l);
            var y = x.Select(r => Norm(r, T(h + "ln_1.weight"), T(h + "ln_1.bias"), c.LayerNormEpsilon)).ToArray();
            var q = y.Select(r => ReferenceMath.Linear(r, T(a + "q_proj.weight"), null, d)).ToArray();
            var k = y.Select(r => ReferenceMath.Linear(r, T(a + "k_proj.weight"), null, d)).ToArray();
            var v = y.Select(r => ReferenceMath.Linear(r, T(a + "v_proj.weight"), null, d)).ToArray();
            for (int t = 0; t < n; t++)
            {
                var att = new double[d];
                for (int head = 0; head < c.HeadCount; head++)
                {
                    int first = local ? Math.Max(0, t - c.LocalWindow + 1) : 0;
                    var s = new double[t + 1 - first];
                    for (int j = first; j <= t; j++)
                        for (int i = 0; i < hs; i++) s[j - first] += q[t][head * hs + i] * k[j][head * hs + i];   // no 1/sqrt(hs)
                    double max = s.Max(), sum = s.Sum(z => Math.Exp(z - max));
                    for (int j = first; j <= t; j++)
                        for (int i = 0; i < hs; i++) att[head * hs + i] += Math.Exp(s[j - first] - max) / sum * v[j][head * hs + i];
                }
                var o = ReferenceMath.Linear(att, T(a + "out_proj.weight"), T(a + "out_proj.bias"), d);
                for (int i = 0; i < d; i++) x[t][i] += o[i];
            }
            for (int t = 0; t < n; t++)
            {
                var b = Norm(x[t], T(h + "ln_2.weight"), T(h + "ln_2.bias"), c.LayerNormEpsilon);
                var up = ReferenceMath.Linear(b, T(h + "mlp.c_fc.weight"), T(h + "mlp.c_fc.bias"), f).Select(ReferenceGpt2.GeluTanh).ToArray();
                var down = ReferenceMath.Linear(up, T(h + "mlp.c_proj.weight"), T(h + "mlp.c_proj.bias"), d);
                for (int i = 0; i < d; i++) x[t][i] += down[i];
            }
        }
        return x.Select(r => ReferenceMath.Linear(Norm(r, T("ln_f.weight"), T("ln_f.bias"), c.LayerNormEpsilon), T("wte.weight"), null, c.VocabSize)).ToArray();
    }

    static double[] Norm(double[] x, float[] g, float[] b, double eps)
    {
        double mean = x.Average(), variance = x.Sum(z => (z - mean) * (z - mean)) / x.Length;
        return x.Select((z, i) => (z - mean) / Math.Sqrt(variance + eps) * g[i] + b[i]).ToArray();
    }
}
