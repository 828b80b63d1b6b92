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
