using System.Numerics.Tensors;

namespace Sprinter.Decoding;

/// <summary>One candidate of a position's top list: a token id and its log-probability.</summary>
public readonly record struct TopLogprob(int Id, float Logprob);

/// <summary>
/// A token's log-probability under the target's raw distribution (log-softmax of the logits, before
/// temperature, top-k and top-p: what vLLM and OpenAI report), its rank (1 = most likely) and the
/// top candidates of its position.
/// </summary>
public sealed record TokenLogprobs(float Logprob, int Rank, TopLogprob[] Top)
{
    /// <param name="topK">Candidates to list; -1 lists every token (most likely first).</param>
    public static TokenLogprobs From(ReadOnlySpan<float> logits, int token, int topK)
    {
        float max = TensorPrimitives.Max(logits);
        double sum = 0;
        foreach (float x in logits) sum += Math.Exp(x - max);   // -inf rows (a remote top list) add 0
        float logZ = max + (float)Math.Log(sum);
        float own = logits[token];
        int rank = 1;
        foreach (float x in logits) if (x > own) rank++;
        int k = topK < 0 ? logits.Length : Math.Min(topK, logits.Length);
        var top = new TopLogprob[k];
        if (k > 0 && k <= 64)
        {
            // Insertion into a short sorted list: one pass over the row (a full sort per position
            // made a 20-position prompt_logprobs call cost 20 ms on an 8k vocabulary).
            var ids = new int[k];
            var values = new float[k];
            int filled = 0;
            for (int i = 0; i < logits.Length; i++)
            {
                float x = logits[i];
                if (filled == k && !(x > values[k - 1])) continue;
                int at = filled < k ? filled++ : k - 1;
                while (at > 0 && x > values[at - 1]) { values[at] = values[at - 1]; ids[at] = ids[at - 1]; at--; }
                values[at] = x; ids[at] = i;
            }
            for (int i = 0; i < k; i++) top[i] = new TopLogprob(ids[i], values[i] - logZ);
        }
        else if (k > 0)
        {
            var order = new int[logits.Length];
            for (int i = 0; i < order.Length; i++) order[i] = i;
            var keys = logits.ToArray();
            // Most likely first, ties by the lowest id (the greedy decoders' argmax), whatever the sort's stability.
            Array.Sort(order, (a, b) => keys[a] != keys[b] ? keys[b].CompareTo(keys[a]) : a.CompareTo(b));
            for (int i = 0; i < k; i++) top[i] = new TopLogprob(order[i], logits[order[i]] - logZ);
        }
        return new TokenLogprobs(own - logZ, rank, top);
    }
}
