using Sprinter.Verification;
using Sprinter.Benchmarks;
using Sprinter.Decoding;
using Sprinter.Models;

namespace Sprinter.Tests.Benchmarks;

public class FlopAndTheoryTests
{
    [Fact]
    public void ForwardFlopsMatchAHandCount()
    {
        var c = new ModelConfig { EmbeddingSize = 4, LayerCount = 2, HeadCount = 1, MaxPositions = 16, VocabSize = 10, InnerSize = 16 };
        // M = 2 layers * (4*12 + 4*4 + 4*16 + 16*4) = 384 block matmul parameters -> 2M = 768 per position, 2 positions = 1536.
        // Attention: positions 4 and 5 after 3 cached attend to 4 + 5 = 9 keys: 4 * 2 layers * 4 * 9 = 288.
        // One logits row: 2 * 4 * 10 = 80.
        Assert.Equal(1536 + 288 + 80, FlopCount.Forward(c, start: 3, positions: 2, logitRows: 1));
    }

    static readonly float[] P = [0.5f, 0.3f, 0.2f], Q = [0.2f, 0.3f, 0.5f]; // d_TV = 0.3, only token 2 is unacceptable

    [Fact]
    public void RejectingEverythingIsTheTargetAndAcceptingEverythingIsTheDraft()
    {
        var none = TheoryCheck.Compare(P, Q, [0f, 0f, 0f], 0.5f);
        Assert.Equal(0.3, none.DtvPQ, 6);
        Assert.Equal(0, none.MeasuredDtv, 6);
        Assert.Equal(0, none.TheoryDtv, 6);
        var all = TheoryCheck.Compare(P, Q, [1f, 1f, 1f], 0.5f);
        Assert.Equal(1, all.EtaFp, 6);
        Assert.Equal(0.3, all.MeasuredDtv, 6);
        Assert.Equal(0.3, all.TheoryDtv, 6);
    }

    [Fact]
    public void OnlyFalsePositivesMoveTheDistribution()
    {
        // Accepting only the acceptable token 0 (q < p) leaves p exact: its shortfall comes back through the residual.
        var goodOnly = TheoryCheck.Compare(P, Q, [1f, 0f, 0f], 0.5f);
        Assert.Equal(0, goodOnly.EtaFp, 6);
        Assert.Equal(0, goodOnly.MeasuredDtv, 6);
        // Accepting only the unacceptable token 2: p_S = q, eta_FP = 1.
        var badOnly = TheoryCheck.Compare(P, Q, [0f, 0f, 1f], 0.5f);
        Assert.Equal(1, badOnly.EtaFp, 6);
        Assert.Equal(0.3, badOnly.MeasuredDtv, 6);
    }

    [Fact]
    public void AuditCountsDecisionsAgainstTheTemperatureOneLabel()
    {
        var audit = new VerifierAudit(vocabSize: 2);
        // Token 0: draft softmax([0, 0]) = 0.5, target softmax([1, 0]) = 0.73 -> acceptable; verifier accepted -> TP.
        audit.Drafted(0, 0, [0f, 0f], verifierAccepts: true);
        audit.Drafted(1, 1, [0f, 2f], verifierAccepts: false);
        audit.Tested(0, 0, [1f, 0f]);
        // Token 1: q = 0.88, p = 0.5 -> unacceptable; rejected -> TN.
        audit.Tested(1, 1, [0f, 0f]);
        // Next round: an unacceptable token accepted (cap reached) -> FP.
        audit.Drafted(0, 1, [0f, 2f], verifierAccepts: true);
        audit.Tested(0, 1, [0f, 0f]);
        Assert.Equal(new VerifierConfusion(1, 0, 1, 1), audit.Confusion);
        Assert.Equal(1, audit.Confusion.EtaTp);
        Assert.Equal(0.5, audit.Confusion.EtaFp);
    }

    [Fact]
    public void AuditUsesTheLabelTheVerifierWasTrainedFor()
    {
        // Draft q = softmax([0, 2]) = (0.12, 0.88); target p = softmax([0, 1]) = (0.27, 0.73).
        // Token 1 is the target's greedy token (greedy label 1) but q > p (paper label 0); its SD
        // acceptance probability is p/q = 0.831 (the sample rule's soft label).
        VerifierConfusion Audit(LabelRule rule)
        {
            var audit = new VerifierAudit(vocabSize: 2, rule);
            audit.Drafted(0, 1, [0f, 2f], verifierAccepts: true);
            audit.Tested(0, 1, [0f, 1f]);
            return audit.Confusion;
        }
        Assert.Equal(new VerifierConfusion(0, 0, 1, 0), Audit(LabelRule.Paper));
        Assert.Equal(new VerifierConfusion(1, 0, 0, 0), Audit(LabelRule.Greedy));
        var soft = Audit(LabelRule.Sample);
        double q = 1 / (1 + Math.Exp(-2)), p = 1 / (1 + Math.Exp(-1));
        Assert.Equal(p / q, soft.TruePositives, 5);
        Assert.Equal(1 - p / q, soft.FalsePositives, 5);
        Assert.Equal(1.0, soft.EtaTp, 6);
        Assert.Equal(p / q, soft.AcceptableRate, 5);
    }
}
