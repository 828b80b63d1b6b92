using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Sprinter.Verification;

public enum SplitPart { Train, Validation, Test }

/// <summary>
/// Assigns whole prompts to train / validation / test (70 / 15 / 15) by a seeded hash of the
/// prompt id, so no prompt's tokens land in two splits.
/// </summary>
public static class PromptSplit
{
    public static SplitPart Of(int promptId, int seed)
    {
        Span<byte> input = stackalloc byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(input, promptId);
        BinaryPrimitives.WriteInt32LittleEndian(input[4..], seed);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        double u = BinaryPrimitives.ReadUInt64LittleEndian(hash) / (double)ulong.MaxValue;
        return u < 0.70 ? SplitPart.Train : u < 0.85 ? SplitPart.Validation : SplitPart.Test;
    }

    public static int[] Indices(LabelSet data, SplitPart part, int seed) =>
        Enumerable.Range(0, data.Count).Where(i => Of(data.PromptId[i], seed) == part).ToArray();
}
