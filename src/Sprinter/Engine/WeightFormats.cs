using System.Runtime.CompilerServices;
using Sprinter.Models;

namespace Sprinter.Engine;

/// <summary>
/// How one 32-column tile of a <see cref="PackedMatrix"/> stores its weights. A tile is a run of
/// blocks of 32 input rows; a row holds the 32 output lanes. Kernels are generic over the format
/// so the JIT emits one specialised kernel per (format, vector width).
/// </summary>
internal unsafe interface IWeightFormat
{
    static abstract WeightType Type { get; }
    /// <summary>Bytes of one tile of <paramref name="input"/> rows.</summary>
    static abstract long TileBytes(int input);
    /// <summary>Bytes from one block of 32 rows to the next.</summary>
    static abstract int BlockBytes { get; }
    /// <summary>Bytes from one row to the next inside a block.</summary>
    static abstract int RowBytes { get; }
    /// <summary>Per-lane scales of a block for lanes [lane, lane + 2 Count) (ones for unscaled formats).</summary>
    static abstract void Scales<V>(byte* block, int lane, out V lo, out V hi) where V : struct, IVec<V>;
    /// <summary>True when rows carry per-block scales (kernels may then apply them once per block instead).</summary>
    static abstract bool Scaled { get; }
    /// <summary>Lanes [lane, lane + 2 Count) of a row as floats, scaled.</summary>
    static abstract void Load<V>(byte* row, int lane, V scaleLo, V scaleHi, out V lo, out V hi) where V : struct, IVec<V>;
    /// <summary>One weight as a float.</summary>
    static abstract float Get(byte* tile, int row, int lane);
    /// <summary>Encodes a tile from floats laid out [row, 32 lanes].</summary>
    static abstract void Pack(float* source, int input, byte* tile);
}

internal readonly unsafe struct F32Format : IWeightFormat
{
    public static WeightType Type => WeightType.F32;
    public static bool Scaled => false;
    public static long TileBytes(int input) => (long)input * 32 * 4;
    public static int BlockBytes => 32 * 32 * 4;
    public static int RowBytes => 32 * 4;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales<V>(byte* block, int lane, out V lo, out V hi) where V : struct, IVec<V> { lo = default; hi = default; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load<V>(byte* row, int lane, V scaleLo, V scaleHi, out V lo, out V hi) where V : struct, IVec<V>
    {
        lo = V.Load((float*)row + lane);
        hi = V.Load((float*)row + lane + V.Count);
    }
    public static float Get(byte* tile, int row, int lane) => ((float*)tile)[row * 32 + lane];
    public static void Pack(float* source, int input, byte* tile) => Buffer.MemoryCopy(source, tile, TileBytes(input), TileBytes(input));
}

/// <summary>
/// bf16 widens to fp32 with a 16-bit shift: cheaper here than any fp16 path (no F16C in .NET).
/// Each strip of 2 x Count lanes of a row is stored as pairs (lane j, lane Count + j), the order
/// <see cref="IVec{TSelf}.LoadBF16"/> reads; Count is the vector width the kernels run with.
/// </summary>
internal readonly unsafe struct BF16Format : IWeightFormat
{
    public static WeightType Type => WeightType.BF16;
    public static bool Scaled => false;
    public static long TileBytes(int input) => (long)input * 32 * 2;
    public static int BlockBytes => 32 * 32 * 2;
    public static int RowBytes => 32 * 2;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales<V>(byte* block, int lane, out V lo, out V hi) where V : struct, IVec<V> { lo = default; hi = default; }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load<V>(byte* row, int lane, V scaleLo, V scaleHi, out V lo, out V hi) where V : struct, IVec<V>
        => V.LoadBF16((ushort*)row + lane, out lo, out hi);
    public static float Get(byte* tile, int row, int lane) => BFloat16.ToFloat(((ushort*)tile)[row * 32 + Slot(lane)]);

    public static void Pack(float* source, int input, byte* tile)
    {
        for (long i = 0; i < input; i++)
            for (int lane = 0; lane < 32; lane++) ((ushort*)tile)[i * 32 + Slot(lane)] = BFloat16.FromFloat(source[i * 32 + lane]);
    }

    /// <summary>Where a lane's value sits in its row.</summary>
    static int Slot(int lane)
    {
        int c = MatMulKernels.VectorCount, strip = lane / (2 * c) * 2 * c, j = lane - strip;
        return strip + (j < c ? 2 * j : 2 * (j - c) + 1);
    }
}

/// <summary>
/// GGUF's Q8_0 arithmetic: every run of 32 inputs of one output column is int8 times one scale
/// d = max|w| / 127 (rounded to fp16, as llama.cpp stores it), so a GGUF Q8_0 tensor repacks into
/// this layout without loss. A block is 32 rows x 32 lanes of int8 (1,024 bytes) followed by the
/// 32 lanes' scales as fp32 (128 bytes): one sequential stream per tile. Kernels widen the int8
/// weights once per group of positions and scale them before the FMAs, keeping activations fp32.
/// </summary>
internal readonly unsafe struct Q8Format : IWeightFormat
{
    const int QuantBytes = 32 * 32;
    public static WeightType Type => WeightType.Q8_0;
    public static bool Scaled => true;
    public static long TileBytes(int input) => (long)((input + 31) / 32) * BlockBytes;
    public static int BlockBytes => QuantBytes + 32 * 4;
    public static int RowBytes => 32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales<V>(byte* block, int lane, out V lo, out V hi) where V : struct, IVec<V>
    {
        float* s = (float*)(block + QuantBytes) + lane;
        lo = V.Load(s);
        hi = V.Load(s + V.Count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load<V>(byte* row, int lane, V scaleLo, V scaleHi, out V lo, out V hi) where V : struct, IVec<V>
    {
        V.LoadInt8((sbyte*)row + lane, out var a, out var b);
        lo = V.Multiply(a, scaleLo);
        hi = V.Multiply(b, scaleHi);
    }

    /// <summary>A row's int8 weights as floats, without the block's scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadUnscaled<V>(byte* row, int lane, out V lo, out V hi) where V : struct, IVec<V>
        => V.LoadInt8((sbyte*)row + lane, out lo, out hi);

    public static float Get(byte* tile, int row, int lane)
    {
        byte* block = tile + (long)(row / 32) * BlockBytes;
        return ((sbyte*)block)[(row % 32) * 32 + lane] * ((float*)(block + QuantBytes))[lane];
    }

    public static void Pack(float* source, int input, byte* tile)
    {
        new Span<byte>(tile, (int)TileBytes(input)).Clear();
        for (int b = 0; b * 32 < input; b++)
        {
            byte* block = tile + (long)b * BlockBytes;
            int rows = Math.Min(32, input - b * 32);
            for (int lane = 0; lane < 32; lane++)
            {
                float amax = 0;
                for (int r = 0; r < rows; r++) amax = Math.Max(amax, Math.Abs(source[(b * 32 + r) * 32 + lane]));
                // As llama.cpp's reference: the reciprocal of the fp32 scale, the scale stored as fp16.
                float d = amax / 127f;
                float id = d != 0 ? 1f / d : 0f;
                for (int r = 0; r < rows; r++)
                    ((sbyte*)block)[r * 32 + lane] = (sbyte)Math.Clamp(MathF.Round(source[(b * 32 + r) * 32 + lane] * id, MidpointRounding.AwayFromZero), -127, 127);
                ((float*)(block + QuantBytes))[lane] = (float)(Half)d;
            }
        }
    }
}

/// <summary>
/// A weight format with 4-, 5- or 6-bit quants q and per-(lane, sub-block) s and o: w = q s - o. Tiles
/// keep the file's bits: nothing is re-rounded. The quants are laid out for integer dot products
/// (<see cref="Q4Kernels"/>): a sub-block's rows go in groups of 4 inputs, 64 bytes a group
/// (32 lanes x 4 inputs x 4 bits); within a group each strip of 2 x Count lanes (Count = the kernels'
/// vector width) is 4 Count bytes, byte 4 j + k holding input k of lane j in its low nibble and of
/// lane Count + j in its high nibble. So one full-width load, a mask and a shift give two vectors of
/// Count groups of 4 bytes, each lane's 4 inputs side by side as vpmaddubsw multiplies them.
/// </summary>
internal unsafe interface IQ4Format
{
    static abstract WeightType Type { get; }
    static abstract long TileBytes(int input);
    /// <summary>The GGML type whose blocks this format holds.</summary>
    static abstract Models.Gguf.GgmlType FileType { get; }
    /// <summary>Input rows per sub-block (one s and o each): 32, or 16 for Q6_K.</summary>
    static abstract int SubRows { get; }
    /// <summary>Bytes of one sub-block (what the kernels prefetch ahead).</summary>
    static abstract int SubBytes { get; }
    /// <summary>
    /// True where a whole sub-block's pair products fit int16 lanes (4-bit: 8 groups x 2 x 15 x 127 =
    /// 30,480), so the kernels widen to int32 once per sub-block; false (5-bit: 8 x 2 x 31 x 127 = 62,992
    /// could pass int16; 6-bit: 2 x 63 x 127 = 16,002 per group) widens every group.
    /// </summary>
    static abstract bool ShortSums { get; }
    /// <summary>Group <paramref name="group"/> (4 inputs) of a sub-block's quants (from <see cref="SubBlock"/>) for lanes [lane, lane + 2 Count) as bytes.</summary>
    static abstract void LoadGroup<V>(byte* quants, int lane, int group, out V lo, out V hi) where V : struct, IVec<V>;
    /// <summary>Sub-block <paramref name="index"/> (inputs SubRows x index ..): its s and o for lanes [lane, lane + 2 Count), and its quants.</summary>
    static abstract byte* SubBlock<V>(byte* tile, int index, int lane, out V sLo, out V sHi, out V oLo, out V oHi) where V : struct, IVec<V>;
    /// <summary>One lane's s and o of a sub-block, computed as <see cref="SubBlock"/> computes them.</summary>
    static abstract void SubBlockScalar(byte* tile, int index, int lane, out float s, out float o);
    /// <summary>One quant q (0..15, 0..31 for Q5_K, 0..63 for Q6_K).</summary>
    static abstract int Quant(byte* tile, int row, int lane);
    /// <summary>One weight as a float, exactly as ggml's dequantize_row_* gives it.</summary>
    static abstract float Get(byte* tile, int row, int lane);
    /// <summary>Fills a tile from <paramref name="lanes"/> GGML rows of <paramref name="input"/> elements, <paramref name="stride"/> bytes apart.</summary>
    static abstract void PackBlocks(byte* rows, long stride, int lanes, int input, byte* tile);
}

/// <summary>
/// The scales of Q4_K's and Q5_K's repacked super-blocks, which share their header: the 32 lanes' d
/// then dmin as fp32 (256 bytes), and at the start of each sub-block the lanes' 6-bit sc then m as
/// bytes (64); w = (d sc) q - (dmin m).
/// </summary>
internal static unsafe class KScales
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Load<V>(byte* super, byte* sub, int lane, out V sLo, out V sHi, out V oLo, out V oHi) where V : struct, IVec<V>
    {
        float* d = (float*)super + lane, dmin = (float*)(super + 128) + lane;
        V dLo = V.Load(d), dHi = V.Load(d + V.Count), mLo = V.Load(dmin), mHi = V.Load(dmin + V.Count);
        V.LoadUInt8(sub + lane, out var scLo, out var scHi);
        V.LoadUInt8(sub + 32 + lane, out var minLo, out var minHi);
        // d * sc and dmin * m are exact in fp32 (11-bit by 6-bit products), as ggml computes them.
        sLo = V.Multiply(dLo, scLo); sHi = V.Multiply(dHi, scHi);
        oLo = V.Multiply(mLo, minLo); oHi = V.Multiply(mHi, minHi);
    }

    /// <summary>
    /// One lane's header from a GGUF Q4_K/Q5_K block (fp16 d and dmin, then 12 bytes of 6-bit
    /// (scale, min) pairs): d and dmin widened exactly, each sub-block's sc and m unpacked to a byte.
    /// </summary>
    public static void Pack(byte* block, byte* super, int subBytes, int lane)
    {
        ((float*)super)[lane] = Q4Layout.Fp16(block);
        ((float*)(super + 128))[lane] = Q4Layout.Fp16(block + 2);
        for (int j = 0; j < 8; j++)
        {
            byte* sub = super + 256 + j * subBytes;
            Models.Gguf.GgmlQuantizer.ScaleMinK4(block + 4, j, out int sc, out int m);
            sub[lane] = (byte)sc;
            sub[32 + lane] = (byte)m;
        }
    }

    /// <summary>One lane's s and o, as <see cref="Load"/> computes them.</summary>
    public static void Scalar(byte* super, byte* sub, int lane, out float s, out float o)
    {
        s = ((float*)super)[lane] * sub[lane];
        o = ((float*)(super + 128))[lane] * sub[32 + lane];
    }
}

internal static unsafe class Q4Layout
{
    public const int GroupBytes = 64;
    public const int NibbleBytes = 8 * GroupBytes;

    /// <summary>The byte of a sub-block's nibbles holding (row, lane), and the shift of its nibble.</summary>
    public static (int Byte, int Shift) Slot(int row, int lane)
    {
        int c = MatMulKernels.VectorCount, strip = lane / (2 * c), j = lane % (2 * c);
        return ((row >> 2) * GroupBytes + strip * 4 * c + 4 * (j % c) + (row & 3), j < c ? 0 : 4);
    }

    public static int Get(byte* nibbles, int row, int lane)
    {
        var (b, shift) = Slot(row, lane);
        return (nibbles[b] >> shift) & 15;
    }

    public static void Set(byte* nibbles, int row, int lane, int q)
    {
        var (b, shift) = Slot(row, lane);
        nibbles[b] |= (byte)(q << shift);
    }

    public static float Fp16(byte* p) => (float)*(Half*)p;
}

/// <summary>
/// GGUF Q4_0 (w = (q - 8) d, one fp16 d per 32 inputs), 4.5 bits a weight as in the file: a
/// sub-block is the 32 lanes' d as fp16 (64 bytes), then 512 bytes of nibbles.
/// </summary>
internal readonly unsafe struct Q4_0Format : IQ4Format
{
    public static int SubRows => 32;
    static int IQ4Format.SubBytes => SubBytes;
    public static bool ShortSums => true;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadGroup<V>(byte* quants, int lane, int group, out V lo, out V hi) where V : struct, IVec<V>
        => V.LoadNibbleBytes(quants + group * Q4Layout.GroupBytes + 2 * lane, out lo, out hi);
    const int SubBytes = 64 + Q4Layout.NibbleBytes;
    public static WeightType Type => WeightType.Q4_0;
    public static Models.Gguf.GgmlType FileType => Models.Gguf.GgmlType.Q4_0;
    public static long TileBytes(int input) => (long)(input / 32) * SubBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* SubBlock<V>(byte* tile, int index, int lane, out V sLo, out V sHi, out V oLo, out V oHi) where V : struct, IVec<V>
    {
        byte* sub = tile + (long)index * SubBytes;
        V.LoadHalf((ushort*)sub + lane, out sLo, out sHi);
        var eight = V.Broadcast(8f);
        oLo = V.Multiply(sLo, eight);
        oHi = V.Multiply(sHi, eight);
        return sub + 64;
    }

    public static void SubBlockScalar(byte* tile, int index, int lane, out float s, out float o)
    {
        s = Q4Layout.Fp16(tile + (long)index * SubBytes + 2 * lane);
        o = s * 8f;
    }

    public static int Quant(byte* tile, int row, int lane) => Q4Layout.Get(tile + (long)(row / 32) * SubBytes + 64, row % 32, lane);

    public static float Get(byte* tile, int row, int lane)
    {
        byte* sub = tile + (long)(row / 32) * SubBytes;
        return (Q4Layout.Get(sub + 64, row % 32, lane) - 8) * Q4Layout.Fp16(sub + 2 * lane);
    }

    public static void PackBlocks(byte* rows, long stride, int lanes, int input, byte* tile)
    {
        new Span<byte>(tile, (int)TileBytes(input)).Clear();
        for (int lane = 0; lane < lanes; lane++)
        {
            byte* block = rows + lane * stride;
            for (int b = 0; b < input / 32; b++, block += 18)
            {
                byte* sub = tile + (long)b * SubBytes;
                ((ushort*)sub)[lane] = *(ushort*)block;
                for (int j = 0; j < 16; j++)
                {
                    Q4Layout.Set(sub + 64, j, lane, block[2 + j] & 15);
                    Q4Layout.Set(sub + 64, j + 16, lane, block[2 + j] >> 4);
                }
            }
        }
    }
}

/// <summary>
/// GGUF Q4_K (super-blocks of 256 inputs: fp16 d and dmin, eight 6-bit (scale, min) pairs;
/// w = (d sc) q - (dmin m)). A super-block is the 32 lanes' d then dmin widened to fp32 (256 bytes,
/// exact), then per sub-block the lanes' sc and m as bytes (64) and 512 bytes of nibbles: 4.75 bits
/// a weight against the file's 4.5, so the kernel reads each scale with one load instead of
/// unpacking 6-bit fields and halves at every sub-block. With d and dmin as fp16 (4.625 bits) q4_k
/// took 1.41x q4_0's time at k = 1 in one PeerBench run (Llama-3.2-1B shape, Zen 5, AVX-512), 1.04x
/// with fp32 in the next (the files hold 1.05x the bytes).
/// </summary>
internal readonly unsafe struct Q4KFormat : IQ4Format
{
    public static int SubRows => 32;
    static int IQ4Format.SubBytes => SubBytes;
    public static bool ShortSums => true;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadGroup<V>(byte* quants, int lane, int group, out V lo, out V hi) where V : struct, IVec<V>
        => V.LoadNibbleBytes(quants + group * Q4Layout.GroupBytes + 2 * lane, out lo, out hi);
    const int SubBytes = 64 + Q4Layout.NibbleBytes, SuperBytes = 256 + 8 * SubBytes;
    public static WeightType Type => WeightType.Q4_K;
    public static Models.Gguf.GgmlType FileType => Models.Gguf.GgmlType.Q4_K;
    public static long TileBytes(int input) => (long)(input / 256) * SuperBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* SubBlock<V>(byte* tile, int index, int lane, out V sLo, out V sHi, out V oLo, out V oHi) where V : struct, IVec<V>
    {
        byte* super = tile + (long)(index >> 3) * SuperBytes;
        byte* sub = super + 256 + (index & 7) * SubBytes;
        KScales.Load(super, sub, lane, out sLo, out sHi, out oLo, out oHi);
        return sub + 64;
    }

    public static void SubBlockScalar(byte* tile, int index, int lane, out float s, out float o)
    {
        byte* super = tile + (long)(index >> 3) * SuperBytes;
        KScales.Scalar(super, super + 256 + (index & 7) * SubBytes, lane, out s, out o);
    }

    public static int Quant(byte* tile, int row, int lane)
        => Q4Layout.Get(tile + (long)(row / 256) * SuperBytes + 256 + (row / 32 % 8) * SubBytes + 64, row % 32, lane);

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
            for (int b = 0; b < input / 256; b++, block += 144)
            {
                byte* super = tile + (long)b * SuperBytes;
                KScales.Pack(block, super, SubBytes, lane);
                for (int j = 0; j < 8; j++)
                {
                    byte* sub = super + 256 + j * SubBytes;
                    byte* qs = block + 16 + (j / 2) * 32;
                    int shift = 4 * (j & 1);
                    for (int l = 0; l < 32; l++) Q4Layout.Set(sub + 64, l, lane, (qs[l] >> shift) & 15);
                }
            }
        }
    }
}

/// <summary>
/// GGUF Q6_K (super-blocks of 256 inputs: fp16 d, an int8 scale per 16, 6-bit q; w = (d sc)(q - 32)),
/// 6.5625 bits a weight in the file, 6.625 here. A super-block is the 32 lanes' d widened to fp32
/// (128 bytes, exact; read at every sub-block, so not converted there), then per 16 rows the lanes'
/// scales (32 bytes), the low nibbles of its 4 groups as in <see cref="IQ4Format"/> (256), and two
/// planes (128) of the top 2 bits: plane h serves groups 2h and 2h + 1, its byte at a nibble byte's
/// place holding the low-nibble lane's bits at 0-1 and the high-nibble lane's at 2-3 for group 2h,
/// at 4-5 and 6-7 for group 2h + 1 (see <see cref="IVec{TSelf}.LoadSixBitBytes"/>).
/// </summary>
internal readonly unsafe struct Q6KFormat : IQ4Format
{
    const int Sub = 32 + 4 * Q4Layout.GroupBytes + 2 * Q4Layout.GroupBytes, SuperBytes = 128 + 16 * Sub;
    public static int SubRows => 16;
    public static int SubBytes => Sub;
    public static bool ShortSums => false;
    public static WeightType Type => WeightType.Q6_K;
    public static Models.Gguf.GgmlType FileType => Models.Gguf.GgmlType.Q6_K;
    public static long TileBytes(int input) => (long)(input / 256) * SuperBytes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadGroup<V>(byte* quants, int lane, int group, out V lo, out V hi) where V : struct, IVec<V>
        => V.LoadSixBitBytes(quants + group * Q4Layout.GroupBytes + 2 * lane, quants + (4 + (group >> 1)) * Q4Layout.GroupBytes + 2 * lane, (group & 1) != 0, out lo, out hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte* SubBlock<V>(byte* tile, int index, int lane, out V sLo, out V sHi, out V oLo, out V oHi) where V : struct, IVec<V>
    {
        byte* super = tile + (long)(index >> 4) * SuperBytes;
        byte* sub = super + 128 + (index & 15) * Sub;
        V dLo = V.Load((float*)super + lane), dHi = V.Load((float*)super + lane + V.Count);
        V.LoadInt8((sbyte*)sub + lane, out var scLo, out var scHi);
        // d * sc is exact in fp32 (an 11-bit by 8-bit product), as ggml computes it.
        sLo = V.Multiply(dLo, scLo); sHi = V.Multiply(dHi, scHi);
        var half = V.Broadcast(32f);
        oLo = V.Multiply(sLo, half); oHi = V.Multiply(sHi, half);
        return sub + 32;
    }

    public static void SubBlockScalar(byte* tile, int index, int lane, out float s, out float o)
    {
        byte* super = tile + (long)(index >> 4) * SuperBytes;
        byte* sub = super + 128 + (index & 15) * Sub;
        s = ((float*)super)[lane] * ((sbyte*)sub)[lane];
        o = s * 32f;
    }

    /// <summary>The byte of a sub-block's top-bit planes holding (row, lane), and the shift of its 2 bits.</summary>
    static (int Byte, int Shift) HighSlot(int row, int lane)
    {
        var (b, shift) = Q4Layout.Slot(row & 3, lane);   // the place within a group
        return (4 * Q4Layout.GroupBytes + (row >> 3) * Q4Layout.GroupBytes + b, 4 * ((row >> 2) & 1) + shift / 2);
    }

    static int QuantAt(byte* quants, int row, int lane)
    {
        var (b, shift) = Q4Layout.Slot(row, lane);
        var (hb, hshift) = HighSlot(row, lane);
        return ((quants[b] >> shift) & 15) | ((quants[hb] >> hshift) & 3) << 4;
    }

    static int IQ4Format.Quant(byte* tile, int row, int lane)
        => QuantAt(tile + (long)(row / 256) * SuperBytes + 128 + (row / 16 % 16) * Sub + 32, row % 16, lane);

    public static float Get(byte* tile, int row, int lane)
    {
        byte* super = tile + (long)(row / 256) * SuperBytes;
        byte* sub = super + 128 + (row / 16 % 16) * Sub;
        float ds = ((float*)super)[lane] * ((sbyte*)sub)[lane];
        return ds * (QuantAt(sub + 32, row % 16, lane) - 32);
    }

    public static void PackBlocks(byte* rows, long stride, int lanes, int input, byte* tile)
    {
        new Span<byte>(tile, (int)TileBytes(input)).Clear();
        for (int lane = 0; lane < lanes; lane++)
        {
            byte* block = rows + lane * stride;
            for (int s = 0; s < input / 256; s++, block += 210)
            {
                byte* super = tile + (long)s * SuperBytes;
                ((float*)super)[lane] = Q4Layout.Fp16(block + 208);
                for (int e = 0; e < 256; e++)
                {
                    // ggml's Q6_K order: halves of 128, each four groups of 32 (low/high nibbles of ql, 2-bit fields of qh).
                    int half = e / 128, g = e % 128 / 32, l = e % 32;
                    byte ql = block[half * 64 + l + 32 * (g & 1)], qh = block[128 + half * 32 + l];
                    int q = ((ql >> (4 * (g >> 1))) & 15) | ((qh >> (2 * g)) & 3) << 4;
                    byte* sub = super + 128 + (e / 16) * Sub;
                    ((sbyte*)sub)[lane] = ((sbyte*)(block + 192))[e / 16];
                    int row = e % 16;
                    Q4Layout.Set(sub + 32, row, lane, q & 15);
                    var (hb, hshift) = HighSlot(row, lane);
                    sub[32 + hb] |= (byte)((q >> 4) << hshift);
                }
            }
        }
    }
}
