namespace Sprinter.Decoding;

/// <summary>
/// Prompt lookup (LLMA; Hugging Face's prompt_lookup_num_tokens): when the last few committed
/// tokens occurred earlier in the prompt or the output, propose the tokens that followed them.
/// The longest n-gram (3, then 2) wins, and among equal ones the most recent occurrence. The
/// proposal is deterministic, so its q is one-hot: rejection sampling then accepts x with
/// probability p(x) and resamples from p without x, which keeps it lossless.
/// </summary>
public static class PromptLookup
{
    public const int MaxNgram = 3, MinNgram = 2;

    /// <summary>Fills the sequence's round with a copied continuation; false when nothing matches.</summary>
    internal static bool Propose(DecodeSequence s)
    {
        var tokens = s.Committed;
        int n = tokens.Count, cap = s.RoundCap;
        for (int size = MaxNgram; size >= MinNgram; size--)
        {
            if (n <= size) continue;
            for (int start = n - size - 1; start >= 0; start--)
            {
                bool match = true;
                for (int j = 0; j < size && match; j++) match = tokens[start + j] == tokens[n - size + j];
                if (!match) continue;
                int from = start + size, count = Math.Min(cap, n - from);
                if (count < 1) continue;
                for (int i = 0; i < count; i++)
                {
                    int token = tokens[from + i];
                    s.Drafted[i] = token;
                    Array.Clear(s.Q[i]);
                    s.Q[i][token] = 1f;
                }
                s.DraftCount = count;
                return true;
            }
        }
        return false;
    }
}
