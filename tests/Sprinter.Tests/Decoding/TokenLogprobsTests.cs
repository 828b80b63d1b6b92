using Sprinter.Decoding;

namespace Sprinter.Tests.Decoding;

public class TokenLogprobsTests
{
    [Fact]
    public void TopListLogprobAndRankMatchAFullSortWithTiesToTheLowestId()
    {
        var rng = new Random(5);
        for (int trial = 0; trial < 50; trial++)
        {
            // Few distinct values, so ties are common.
            var logits = Enumerable.Range(0, 300).Select(_ => (float)rng.Next(0, 12)).ToArray();
            int token = rng.Next(logits.Length), k = 1 + rng.Next(20);
            double logZ = Math.Log(logits.Sum(x => Math.Exp(x)));
            var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).ToArray();
            foreach (int topK in new[] { k, -1 })
            {
                var lp = TokenLogprobs.From(logits, token, topK);
                Assert.Equal(logits[token] - logZ, lp.Logprob, 4);
                Assert.Equal(1 + logits.Count(x => x > logits[token]), lp.Rank);
                Assert.Equal(order.Take(topK < 0 ? logits.Length : topK).ToArray(), lp.Top.Select(t => t.Id).ToArray());
            }
            // The top-1 is the argmax the greedy decoders take (ties: the lowest id).
            Assert.Equal(System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits), TokenLogprobs.From(logits, token, 1).Top[0].Id);
        }
    }
}
