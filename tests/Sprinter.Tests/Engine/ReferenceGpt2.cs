namespace Sprinter.Tests.Engine;

/// <summary>
/// A deliberately naive GPT-2 forward pass in double precision, written from the architecture's
/// definition and sharing no code with the engine: the oracle for the engine's logits.
/// </summary>
public static class ReferenceGpt2
{
    public static double[][] Logits(Sprinter.Models.ModelConfig c, IReadOnlyDictionary<string, (float[] Data, long[] Shape)> w, int[] tokens)
        => Run(c, w, tokens).Logits;

    public static double GeluTanh(double v) => 0.5 * v * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));

    /// <param name="gelu">The activation; GPT-2's tanh GELU unless a test substitutes another engine's approximation.</param>
    public static (double[][] Logits, double[][] Hidden) Run(Sprinter.Models.ModelConfig c, IReadOnlyDictionary<string, (float[] Data, long[] Shape)> w, int[] tokens,
        Func<double, double>? gelu = null)
    {
        gelu ??= GeluTanh;
        int n = tokens.Length, d = c.EmbeddingSize, hs = c.HeadSize, f = c.InnerSize;
        float[] T(string name) => w[name].Data;
        var x = new double[n][];
        for (int t = 0; t < n; t++)
        {
            x[t] = new double[d];
            for (int i = 0; i < d; i++) x[t][i] = T("wte.weight")[tokens[t] * d + i] + T("wpe.weight")[t * d + i];
        }
        for (int l = 0; l < c.LayerCount; l++)
        {
            string h = $"h.{l}.";
            var a = x.Select(r => Norm(r, T(h + "ln_1.weight"), T(h + "ln_1.bias"), c.LayerNormEpsilon)).ToArray();
            var qkv = a.Select(r => Linear(r, T(h + "attn.c_attn.weight"), T(h + "attn.c_attn.bias"), 3 * d)).ToArray();
            var att = new double[n][];
            for (int t = 0; t < n; t++)
            {
                att[t] = new double[d];
                for (int head = 0; head < c.HeadCount; head++)
                {
                    var s = new double[t + 1];
                    for (int j = 0; j <= t; j++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hs; i++) dot += qkv[t][head * hs + i] * qkv[j][d + head * hs + i];
                        s[j] = dot / Math.Sqrt(hs);
                    }
                    double max = s.Max(), sum = 0;
                    for (int j = 0; j <= t; j++) { s[j] = Math.Exp(s[j] - max); sum += s[j]; }
                    for (int j = 0; j <= t; j++)
                        for (int i = 0; i < hs; i++) att[t][head * hs + i] += s[j] / sum * qkv[j][2 * d + head * hs + i];
                }
            }
            for (int t = 0; t < n; t++)
            {
                var proj = Linear(att[t], T(h + "attn.c_proj.weight"), T(h + "attn.c_proj.bias"), d);
                for (int i = 0; i < d; i++) x[t][i] += proj[i];
                var m = Norm(x[t], T(h + "ln_2.weight"), T(h + "ln_2.bias"), c.LayerNormEpsilon);
                var hidden = Linear(m, T(h + "mlp.c_fc.weight"), T(h + "mlp.c_fc.bias"), f)
                    .Select(gelu).ToArray();
                var o = Linear(hidden, T(h + "mlp.c_proj.weight"), T(h + "mlp.c_proj.bias"), d);
                for (int i = 0; i < d; i++) x[t][i] += o[i];
            }
        }
        var final = x.Select(r => Norm(r, T("ln_f.weight"), T("ln_f.bias"), c.LayerNormEpsilon)).ToArray();
        var wte = T("wte.weight");
        var logits = final.Select(r =>
        {
            var y = new double[c.VocabSize];
            for (int v = 0; v < c.VocabSize; v++)
            {
                double s = 0;
                for (int i = 0; i < d; i++) s += r[i] * wte[v * d + i];
                y[v] = s;
            }
            return y;
        }).ToArray();
        return (logits, final);
    }

    static double[] Norm(double[] x, float[] g, float[] b, double eps)
    {
        double mean = x.Average();
        double var = x.Select(v => (v - mean) * (v - mean)).Average();
        return x.Select((v, i) => (v - mean) / Math.Sqrt(var + eps) * g[i] + b[i]).ToArray();
    }

    static double[] Linear(double[] x, float[] w, float[] b, int outSize)
    {
        var y = new double[outSize];
        for (int o = 0; o < outSize; o++)
        {
            double s = b[o];
            for (int i = 0; i < x.Length; i++) s += x[i] * w[i * outSize + o];
            y[o] = s;
        }
        return y;
    }
}
