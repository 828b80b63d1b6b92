using System.Runtime.CompilerServices;

namespace Sprinter.Engine;

/// <summary>
/// GGUF Q5_K (super-blocks of 256 inputs: fp16 d and dmin, eight 6-bit (scale, min) pairs as Q4_K's,
/// 5-bit q as a low nibble and a high bit; w = (d sc) q - (dmin m)), 5.5 bits a weight in the file,
/// 5.75 here. A super-block is as <see cref="Q4KFormat"/>'s (the lanes' d and dmin widened to fp32,
/// then per sub-block the lanes' sc and m as bytes and 512 bytes of nibbles) with two planes (128
/// bytes) of fifth bits after each sub-block's nibbles: plane h serves groups 4h .. 4h + 3, its byte at
/// a nibble byte's place holding for group 4h + f the low-nibble lane's bit at bit f and the
/// high-nibble lane's at bit 4 + f (see <see cref="IVec{TSelf}.LoadFiveBitBytes"/>: one shift and one
/// mask per half put it at bit 4, ORed onto the nibble). So the kernel reads the 5-bit quants as the
/// 4-bit ones plus a quarter more bytes, and the quants are exactly the file's.
/// </summary>
internal readonly unsafe struct Q5KFormat : IQ4Format
{
    const int Sub = 64 + Q4Layout.NibbleBytes + 2 * Q4Layout.GroupBytes, SuperBytes = 256 + 8 * Sub;
    public static int SubRows => 32;
    public static int SubBytes => Sub;
    // A group's pair products reach 2 x 31 x 127 = 7,874, so 8 groups (62,992) could pass int16: widen every group.
    public static bool ShortSums => false;
    public static WeightType Type => WeightType.Q5_K;
    public static Models.Gguf.GgmlType FileType => Models.Gguf.GgmlType.Q5_K;
    public static long TileBytes(int input) => (long)(input / 256) * SuperBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadGroup<V>(byte* quants, int lane, int group, out V lo, out V hi) where V : struct, IVec<V>
        => V.LoadFiveBitBytes(quants + group * Q4Layout.GroupBytes + 2 * lane, quants + (8 + (group >> 2)) * Q4Layout.GroupBytes + 2 * lane, group & 3, out lo, out hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* SubBlock<V>(byte* tile, int index, int lane, out V sLo, out V sHi, out V oLo, out V oHi) where V : struct, IVec<V>
    {
        byte* super = tile + (long)(index >> 3) * SuperBytes;
        byte* sub = super + 256 + (index & 7) * Sub;
        KScales.Load(super, sub, lane, out sLo, out sHi, out oLo, out oHi);
        return sub + 64;
    }

    public static void SubBlockScalar(byte* tile, int index, int lane, out float s, out float o)
    {
        byte* super = tile + (long)(index >> 3) * SuperBytes;
        KScales.Scalar(super, super + 256 + (index & 7) * Sub, lane, out s, out o);
    }

    /// <summary>The byte of a sub-block's fifth-bit planes holding (row, lane), and the bit.</summary>
    static (int Byte, int Bit) HighSlot(int row, int lane)
    {
        var (b, shift) = Q4Layout.Slot(row & 3, lane);   // the place within a group; shift 4 for the high-nibble lane
        int group = row >> 2;
        return (Q4Layout.NibbleBytes + (group >> 2) * Q4Layout.GroupBytes + b, shift + (group & 3));
    }

    static int QuantAt(byte* quants, int row, int lane)
    {
        var (hb, bit) = HighSlot(row, lane);
        return Q4Layout.Get(quants, row, lane) | ((quants[hb] >> bit) & 1) << 4;
    }

    public static int Quant(byte* tile, int row, int lane)
        => QuantAt(tile + (long)(row / 256) * SuperBytes + 256 + (row / 32 % 8) * Sub + 64, row % 32, lane);

    public static float Get(byte* tile, int row, int lane)
    {
        SubBlockScalar(tile, row / 32, lane, out float s, out float o);
        return s * Quant(tile, row, lane) - o;
    }

    public static void PackBlocks(byte* rows, long stride, int lanes, int input, byte* tile)
    {
        new Span<byte>(tile, (int)TileBytes(input)).Clear();
        for (int lane = 0; lane < lanes; lane++)
        {
            byte* block = rows + lane * stride;
            for (int b = 0; b < input / 256; b++, block += 176)
            {
                byte* super = tile + (long)b * SuperBytes;
                KScales.Pack(block, super, Sub, lane);
                // ggml's Q5_K: d, dmin, 12 bytes of scales and mins, qh[32] (bit j of qh[l]: element 32 j + l), qs[128] as Q4_K's.
                byte* qh = block + 16;
                for (int j = 0; j < 8; j++)
                {
                    byte* sub = super + 256 + j * Sub;
                    byte* qs = block + 48 + (j / 2) * 32;
                    int shift = 4 * (j & 1);
                    for (int l = 0; l < 32; l++)
                    {
                        Q4Layout.Set(sub + 64, l, lane, (qs[l] >> shift) & 15);
                        var (hb, bit) = HighSlot(l, lane);
                        sub[64 + hb] |= (byte)(((qh[l] >> j) & 1) << bit);
                    }
                }
            }
        }
    }
}
