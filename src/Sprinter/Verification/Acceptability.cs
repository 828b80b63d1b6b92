using System.Numerics.Tensors;

namespace Sprinter.Verification;

/// <summary>
/// The label a verifier learns, as one function shared by label collection and the benchmark's
/// online audit, so the audit measures eta_TP and eta_FP against what the verifier was trained for.
/// </summary>
public static class Acceptability
{
    /// <summary>
    /// The acceptability of draft token x in [0, 1] given the temperature-1 draft and target
    /// distributions (qx = q(x), p the whole target distribution): paper, 1 when q(x) &lt;= ratio p(x);
    /// greedy, 1 when x is the target's argmax; sample, SD's acceptance probability
    /// min(1, p(x) / q(x)) (a soft label).
    /// </summary>
    public static float Of(LabelRule rule, float qx, ReadOnlySpan<float> p, int x, float ratio = 1f) => rule switch
    {
        LabelRule.Greedy => TensorPrimitives.IndexOfMax(p) == x ? 1f : 0f,
        LabelRule.Sample => qx > 0 ? Math.Min(1f, p[x] / qx) : 1f,
        _ => qx <= ratio * p[x] ? 1f : 0f,
    };

    /// <summary>paper, greedy or sample as a rule; null for anything else.</summary>
    public static LabelRule? Parse(string? name) => name?.ToLowerInvariant() switch
    {
        "paper" => LabelRule.Paper,
        "greedy" => LabelRule.Greedy,
        "sample" => LabelRule.Sample,
        _ => null,
    };

    /// <summary>What the rule's label means, in words, for reports.</summary>
    public static string Describe(LabelRule rule) => rule switch
    {
        LabelRule.Greedy => "the target's greedy token is x",
        LabelRule.Sample => "min(1, p(x)/q(x)), SD's acceptance probability (soft)",
        _ => "q(x) <= p(x)",
    };
}
