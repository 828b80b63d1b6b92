namespace Sprinter.Models.Gguf;

/// <summary>
/// The element type of a GGUF tensor: GGML's <c>enum ggml_type</c>, numbered exactly as in ggml.h
/// (the numbers are what a GGUF file stores). Gaps are types that llama.cpp removed (4, 5: Q4_2 and
/// Q4_3; 31-33 and 36-38: the repacked Q4_0_4_4 / IQ4_NL_4_4 families, no longer valid in files).
/// The IQ*, TQ* and MXFP4 types are named so that a reader can size and name them in an error
/// message; <see cref="GgmlTypes.CanDequantize"/> is false for them.
/// </summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
}

/// <summary>
/// Block geometry of each <see cref="GgmlType"/>: how many elements one block holds and how many
/// bytes it takes (ggml's <c>blck_size</c> and <c>type_size</c>; the tests compare every entry with
/// libggml's own table). Hand-written because no NuGet package describes GGML's block formats.
/// </summary>
public static class GgmlTypes
{
    /// <summary>Elements per block of the K-quants ("super-blocks"), QK_K in ggml.</summary>
    public const int KBlockSize = 256;

    /// <summary>Whether <paramref name="type"/> is a number this code knows (any file may hold others).</summary>
    public static bool IsKnown(GgmlType type) => TryLayout(type, out _, out _);

    /// <summary>Elements per block: 1 for plain scalars, 32 for Q4_0..Q8_1, 256 for the K-quants.</summary>
    public static int BlockSize(GgmlType type) => Layout(type).BlockSize;

    /// <summary>Bytes per block, e.g. 144 for Q4_K (two fp16 scales, 12 bytes of 6-bit sub-scales, 128 bytes of nibbles).</summary>
    public static int BlockBytes(GgmlType type) => Layout(type).BlockBytes;

    /// <summary>Whether <see cref="GgmlDequantizer.Dequantize"/> handles <paramref name="type"/>.</summary>
    public static bool CanDequantize(GgmlType type) => type is
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K;

    /// <summary>
    /// Bytes that <paramref name="elements"/> consecutive elements take. Refuses (as a bad file, since
    /// the counts come from one) an unknown type, a negative count, a count that does not fill whole
    /// blocks, and a size past <see cref="long.MaxValue"/>.
    /// </summary>
    public static long RowBytes(GgmlType type, long elements)
    {
        var (blockSize, blockBytes) = Layout(type);
        if (elements < 0)
            throw new InvalidInputException($"A {Name(type)} tensor cannot have {elements} elements.");
        if (elements % blockSize != 0)
            throw new InvalidInputException(
                $"{elements} elements of type {Name(type)} do not fill whole blocks of {blockSize}; the tensor's row length must be a multiple of {blockSize}.");
        try
        {
            return checked(elements / blockSize * blockBytes);
        }
        catch (OverflowException e)
        {
            throw new InvalidInputException($"{elements} elements of type {Name(type)} would take more than {long.MaxValue} bytes.", e);
        }
    }

    /// <summary>ggml's name of the type ("Q4_K", "BF16"), or "type 31" for a number it does not know.</summary>
    public static string Name(GgmlType type) => IsKnown(type) ? type.ToString() : $"type {(uint)type}";

    static (int BlockSize, int BlockBytes) Layout(GgmlType type) =>
        TryLayout(type, out int blockSize, out int blockBytes)
            ? (blockSize, blockBytes)
            : throw new InvalidInputException($"GGML tensor type {(uint)type} is not one this reader knows (ggml.h's enum ggml_type).");

    // Byte counts are the sums of the C structs' fields in ggml-common.h (fp16 "half" = 2 bytes).
    static bool TryLayout(GgmlType type, out int blockSize, out int blockBytes)
    {
        (blockSize, blockBytes) = type switch
        {
            GgmlType.F32 => (1, 4),
            GgmlType.F16 => (1, 2),
            GgmlType.BF16 => (1, 2),
            GgmlType.F64 => (1, 8),
            GgmlType.I8 => (1, 1),
            GgmlType.I16 => (1, 2),
            GgmlType.I32 => (1, 4),
            GgmlType.I64 => (1, 8),
            GgmlType.Q4_0 => (32, 2 + 16),              // d, 32 nibbles
            GgmlType.Q4_1 => (32, 2 + 2 + 16),          // d, m, 32 nibbles
            GgmlType.Q5_0 => (32, 2 + 4 + 16),          // d, 32 fifth bits, 32 nibbles
            GgmlType.Q5_1 => (32, 2 + 2 + 4 + 16),      // d, m, fifth bits, nibbles
            GgmlType.Q8_0 => (32, 2 + 32),              // d, 32 int8
            GgmlType.Q8_1 => (32, 2 + 2 + 32),          // d, s = d * sum, 32 int8
            GgmlType.Q2_K => (256, 16 + 64 + 2 + 2),    // 4+4-bit scales/mins, 2-bit quants, d, dmin
            GgmlType.Q3_K => (256, 32 + 64 + 12 + 2),   // high bits, low 2 bits, 6-bit scales, d
            GgmlType.Q4_K => (256, 2 + 2 + 12 + 128),   // d, dmin, 6-bit scales/mins, nibbles
            GgmlType.Q5_K => (256, 2 + 2 + 12 + 32 + 128),
            GgmlType.Q6_K => (256, 128 + 64 + 16 + 2),  // low nibbles, high 2 bits, int8 scales, d
            GgmlType.Q8_K => (256, 4 + 256 + 32),       // fp32 d, int8 quants, 16 int16 block sums
            GgmlType.IQ2_XXS => (256, 2 + 64),
            GgmlType.IQ2_XS => (256, 2 + 64 + 8),
            GgmlType.IQ3_XXS => (256, 2 + 96),
            GgmlType.IQ1_S => (256, 2 + 32 + 16),
            GgmlType.IQ4_NL => (32, 2 + 16),
            GgmlType.IQ3_S => (256, 2 + 64 + 32 + 8 + 4),
            GgmlType.IQ2_S => (256, 2 + 64 + 16),
            GgmlType.IQ4_XS => (256, 2 + 2 + 4 + 128),
            GgmlType.IQ1_M => (256, 32 + 16 + 8),
            GgmlType.TQ1_0 => (256, 48 + 4 + 2),
            GgmlType.TQ2_0 => (256, 64 + 2),
            GgmlType.MXFP4 => (32, 1 + 16),
            _ => (0, 0),
        };
        return blockSize != 0;
    }
}
