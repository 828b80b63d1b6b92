namespace Sprinter.Decoding;

/// <summary>
/// Speculative decoding's test of a drafted token x with draft probability q(x) and target
/// probability p(x): accept with probability min(1, p(x)/q(x)); on rejection the replacement is
/// drawn from norm(max(p - q, 0)). With greedy (one-hot) distributions this is exactly "accept
/// iff the target's argmax is x, else take the target's argmax", so no separate greedy rule is needed.
/// </summary>
public static class AcceptanceRule
{
    /// <param name="uniform">A draw from U[0, 1).</param>
    public static bool Accepts(float p, float q, double uniform) => uniform * q < p;

    /// <summary>Writes norm(max(p - q, 0)) into <paramref name="residual"/>; if p == q everywhere, p itself.</summary>
    public static void Residual(ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<float> residual)
    {
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            float r = p[i] - q[i];
            residual[i] = r > 0 ? r : 0;
            sum += residual[i];
        }
        if (sum <= 0) { p.CopyTo(residual); return; }
        float inv = (float)(1 / sum);
        for (int i = 0; i < residual.Length; i++) residual[i] *= inv;
    }
}
