using System.Numerics.Tensors;
using Sprinter.Decoding;
using Sprinter.Engine;

namespace Sprinter.Benchmarks;

/// <summary>One prompt's one-step comparison: measured d_TV(p, p_S) against the theory's eta_FP * d_TV(p, q).</summary>
public readonly record struct OneStepTheory(double DtvPQ, double EtaFp, double MeasuredDtv, double TheoryDtv);

/// <summary>
/// SPRINTER.md section 2 checked exactly at a prompt's end. p, q = the target's and the draft's
/// temperature-1 next-token distributions; a(x) = 1 when the verifier accepts candidate x (its
/// decision depends only on the draft's state and x, so it is known for every x). The first token
/// of a paper-mode round is x ~ q; accepted by the verifier it is emitted unverified, rejected it
/// gets the SD test (kept with probability min(1, p/q), else replaced from r = norm(max(p - q, 0))):
/// <code>
/// p_S(x) = q(x) a(x) + (1 - a(x)) min(p(x), q(x)) + R r(x),   R = sum_y (1 - a(y)) max(q(y) - p(y), 0)
/// </code>
/// (a = 0 everywhere gives p, a = 1 gives q). The theory's eta_FP is the share of unacceptable
/// mass (q(x) &gt; p(x)) that the verifier accepts: sum_{q&gt;p} q a / sum_{q&gt;p} q.
/// </summary>
public sealed class TheoryCheck(TransformerModel draft, TransformerModel target, IVerifier verifier)
{
    readonly TransformerSession _draft = draft.CreateSession(), _target = target.CreateSession();
    readonly float[] _p = new float[target.OutputVocabulary], _q = new float[target.OutputVocabulary], _scores = new float[target.OutputVocabulary];

    /// <summary>The one-step comparison at the end of <paramref name="prompt"/> for each threshold.</summary>
    public OneStepTheory[] Evaluate(int[] prompt, IReadOnlyList<float> thresholds)
    {
        _draft.Reset(); _target.Reset();
        _draft.Forward(prompt, logitRows: 1);
        _target.Forward(prompt, logitRows: 1);
        var draftLogits = _draft.Logits(0);
        TensorPrimitives.SoftMax(draftLogits, _q);
        TensorPrimitives.SoftMax(_target.Logits(0), _p);
        var hidden = _draft.Hidden(_draft.HiddenRows - 1);
        for (int x = 0; x < _q.Length; x++) _scores[x] = verifier.Score(new VerifierInput(hidden, x, _q, draftLogits));
        return thresholds.Select(t => Compare(_p, _q, _scores, t)).ToArray();
    }

    /// <summary>The exact comparison for given distributions and verifier scores (public for tests).</summary>
    public static OneStepTheory Compare(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<float> scores, float threshold)
    {
        double dtv = 0, unacceptable = 0, acceptedUnacceptable = 0, rejectedExcess = 0;
        for (int x = 0; x < p.Length; x++)
        {
            double excess = q[x] - p[x];
            bool accepts = scores[x] >= threshold;
            if (excess > 0)
            {
                dtv += excess;
                unacceptable += q[x];
                if (accepts) acceptedUnacceptable += q[x];
                else rejectedExcess += excess;
            }
        }
        double measured = 0;
        for (int x = 0; x < p.Length; x++)
        {
            bool accepts = scores[x] >= threshold;
            double residual = dtv > 0 ? Math.Max(p[x] - q[x], 0) / dtv : 0;
            double pS = (accepts ? q[x] : Math.Min(p[x], q[x])) + rejectedExcess * residual;
            if (dtv == 0) pS = p[x];
            measured += Math.Abs(p[x] - pS);
        }
        double etaFp = unacceptable > 0 ? acceptedUnacceptable / unacceptable : 0;
        return new OneStepTheory(dtv, etaFp, measured / 2, etaFp * dtv);
    }
}
