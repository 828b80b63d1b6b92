using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sprinter.Models.Gguf;

/// <summary>
/// Turns GGML's block-quantized tensor data (as stored in GGUF files) into floats, bit for bit what
/// llama.cpp's reference <c>dequantize_row_*</c> functions in ggml-quants.c produce: every value is
/// computed with the same float operations in the same order (for Q4_K, <c>d * sc</c> and
/// <c>dmin * m</c> first, then <c>d1 * q - m1</c>; never fused into an FMA, which .NET does not do
/// on its own). Hand-written because no NuGet package dequantizes GGML blocks; the tests check
/// every type against libggml itself.
/// </summary>
/// <remarks>
/// Byte layouts follow ggml-common.h's block structs; fp16 fields are little-endian IEEE halves,
/// converted exactly by <see cref="Half"/>. Plain scalar loops, one block at a time, no allocation
/// (Q4_K's inner loop also in Vector256, lane by lane the same operations).
/// The loops are compiled fully optimized from the first call (AggressiveOptimization): a model is
/// dequantized once, at load, so unoptimized first-tier code would run for a good part of it.
/// GGUF is little-endian, as is every platform .NET runs this on, so fields are read in place.
/// </remarks>
public static unsafe class GgmlDequantizer
{
    /// <summary>
    /// Fills <paramref name="destination"/> (a whole number of blocks of <paramref name="type"/>)
    /// from exactly <see cref="GgmlTypes.RowBytes"/> bytes of <paramref name="source"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        if (!GgmlTypes.CanDequantize(type))
            throw new InvalidInputException(
                $"Tensors of type {GgmlTypes.Name(type)} are not supported; supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K. Convert the model with one of those.");
        long bytes = GgmlTypes.RowBytes(type, destination.Length);
        if (source.Length != bytes)
            throw new ArgumentException($"{destination.Length} {GgmlTypes.Name(type)} elements take {bytes} bytes, but {source.Length} were given.", nameof(source));

        switch (type)
        {
            case GgmlType.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                return;
            case GgmlType.F16:
                // Half -> float is exact (every half is a float); TensorPrimitives uses the hardware
                // conversion where there is one.
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                return;
            case GgmlType.BF16:
                Bf16(MemoryMarshal.Cast<byte, ushort>(source), destination);
                return;
        }

        int blockBytes = GgmlTypes.BlockBytes(type), blockSize = GgmlTypes.BlockSize(type);
        int blocks = destination.Length / blockSize;
        fixed (byte* src = source)
        fixed (float* dst = destination)
        {
            byte* b = src;
            float* y = dst;
            for (int i = 0; i < blocks; i++, b += blockBytes, y += blockSize)
            {
                switch (type)
                {
                    case GgmlType.Q4_0: Q4_0(b, y); break;
                    case GgmlType.Q4_1: Q4_1(b, y); break;
                    case GgmlType.Q5_0: Q5_0(b, y); break;
                    case GgmlType.Q5_1: Q5_1(b, y); break;
                    case GgmlType.Q8_0: Q8_0(b, y); break;
                    case GgmlType.Q2_K: Q2_K(b, y); break;
                    case GgmlType.Q3_K: Q3_K(b, y); break;
                    case GgmlType.Q4_K: Q4_K(b, y); break;
                    case GgmlType.Q5_K: Q5_K(b, y); break;
                    case GgmlType.Q6_K: Q6_K(b, y); break;
                    case GgmlType.Q8_K: Q8_K(b, y); break;
                    default: throw new InvalidOperationException($"{type} is marked dequantizable but has no decoder.");
                }
            }
        }
    }

    // bfloat16 is the top half of a float32.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Bf16(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        for (int i = 0; i < source.Length; i++)
            destination[i] = BitConverter.Int32BitsToSingle(source[i] << 16);
    }

    static float Fp16(byte* p) => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(new ReadOnlySpan<byte>(p, 2)));

    // ---- 32-element blocks. The first 16 elements are the low nibbles of qs, the next 16 the high ones.

    // d (fp16), qs[16]: y = (q - 8) * d.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q4_0(byte* b, float* y)
    {
        float d = Fp16(b);
        byte* qs = b + 2;
        for (int j = 0; j < 16; j++)
        {
            y[j] = ((qs[j] & 0xF) - 8) * d;
            y[j + 16] = ((qs[j] >> 4) - 8) * d;
        }
    }

    // d, m (fp16), qs[16]: y = q * d + m.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q4_1(byte* b, float* y)
    {
        float d = Fp16(b), m = Fp16(b + 2);
        byte* qs = b + 4;
        for (int j = 0; j < 16; j++)
        {
            y[j] = (qs[j] & 0xF) * d + m;
            y[j + 16] = (qs[j] >> 4) * d + m;
        }
    }

    // d, qh (32 fifth bits, bit j for element j), qs[16]: y = (q - 16) * d.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q5_0(byte* b, float* y)
    {
        float d = Fp16(b);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(b + 2, 4));
        byte* qs = b + 6;
        for (int j = 0; j < 16; j++)
        {
            int low = (qs[j] & 0xF) | (int)((qh >> j) & 1) << 4;
            int high = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = (low - 16) * d;
            y[j + 16] = (high - 16) * d;
        }
    }

    // d, m, qh, qs[16]: y = q * d + m.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q5_1(byte* b, float* y)
    {
        float d = Fp16(b), m = Fp16(b + 2);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(b + 4, 4));
        byte* qs = b + 8;
        for (int j = 0; j < 16; j++)
        {
            int low = (qs[j] & 0xF) | (int)((qh >> j) & 1) << 4;
            int high = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            y[j] = low * d + m;
            y[j + 16] = high * d + m;
        }
    }

    // d, qs[32] (int8): y = q * d.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q8_0(byte* b, float* y)
    {
        float d = Fp16(b);
        sbyte* qs = (sbyte*)(b + 2);
        for (int j = 0; j < 32; j++)
            y[j] = qs[j] * d;
    }

    // ---- 256-element super-blocks (the K-quants).

    // scales[16] (low nibble: scale, high nibble: min, per 16 elements), qs[64] (2 bits each),
    // d, dmin. Each 32 bytes of qs hold 128 elements: bits 2s..2s+1 of byte l give element 32s + l.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q2_K(byte* b, float* y)
    {
        byte* scales = b;
        byte* qs = b + 16;
        float d = Fp16(b + 80), dmin = Fp16(b + 82);
        int sub = 0;
        for (int half = 0; half < 2; half++, qs += 32)
        {
            for (int shift = 0; shift < 8; shift += 2)
            {
                for (int part = 0; part < 32; part += 16, sub++, y += 16)
                {
                    float dl = d * (scales[sub] & 0xF), ml = dmin * (scales[sub] >> 4);
                    for (int l = 0; l < 16; l++)
                        y[l] = dl * ((qs[part + l] >> shift) & 3) - ml;
                }
            }
        }
    }

    // hmask[32] (third bit: bit k of byte l for element 32k + l), qs[64] (low 2 bits, laid out as in
    // Q2_K), scales[12] (sixteen 6-bit scales biased by 32), d. A clear third bit means q - 4.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q3_K(byte* b, float* y)
    {
        byte* hmask = b;
        byte* qs = b + 32;
        byte* scales = b + 96;
        float d = Fp16(b + 108);
        int sub = 0, highBit = 0;
        for (int half = 0; half < 2; half++, qs += 32)
        {
            for (int shift = 0; shift < 8; shift += 2, highBit++)
            {
                for (int part = 0; part < 32; part += 16, sub++, y += 16)
                {
                    float dl = d * (Q3Scale(scales, sub) - 32);
                    for (int l = 0; l < 16; l++)
                    {
                        int q = (qs[part + l] >> shift) & 3;
                        int minus = (hmask[part + l] >> highBit & 1) != 0 ? 0 : 4;
                        y[l] = dl * (q - minus);
                    }
                }
            }
        }
    }

    // Sixteen 6-bit values in 12 bytes: the low 4 bits are nibbles of bytes 0..7 (scale j in byte
    // j % 8, high nibble for j >= 8), the top 2 bits are 2-bit fields of bytes 8..11 (byte 8 + j % 4,
    // field j / 4).
    static int Q3Scale(byte* scales, int j)
    {
        int low = (scales[j & 7] >> (j >= 8 ? 4 : 0)) & 0xF;
        int high = (scales[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
        return low | high << 4;
    }

    // Eight 6-bit (scale, min) pairs in 12 bytes, shared by Q4_K and Q5_K: pairs 0..3 are the low
    // 6 bits of bytes 0..3 (scales) and 4..7 (mins); pairs 4..7 take their low 4 bits from the
    // nibbles of bytes 8..11 and their top 2 bits from the top bits of bytes 0..3 / 4..7.
    static void ScaleMinK4(byte* packed, int j, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = packed[j] & 63;
            min = packed[j + 4] & 63;
        }
        else
        {
            scale = (packed[j + 4] & 0xF) | (packed[j - 4] >> 6) << 4;
            min = (packed[j + 4] >> 4) | (packed[j] >> 6) << 4;
        }
    }

    // d, dmin, scales[12], qs[128]: each 32 bytes of qs hold 64 elements, low nibbles first, each
    // 32 with its own (scale, min). y = (d * scale) * q - (dmin * min).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q4_K(byte* b, float* y)
    {
        float d = Fp16(b), dmin = Fp16(b + 2);
        byte* scales = b + 4;
        byte* qs = b + 16;
        for (int sub = 0; sub < 8; sub += 2, qs += 32, y += 64)
        {
            ScaleMinK4(scales, sub, out int sc1, out int m1);
            ScaleMinK4(scales, sub + 1, out int sc2, out int m2);
            float d1 = d * sc1, min1 = dmin * m1;
            float d2 = d * sc2, min2 = dmin * m2;
            if (Vector256.IsHardwareAccelerated)
            {
                // The same multiply, then subtract, per lane (the JIT never fuses them): bit-exact.
                Vector256<byte> q = Vector256.Load(qs);
                ScaleAndShift(q & Vector256.Create((byte)0xF), d1, min1, y);
                ScaleAndShift(Vector256.ShiftRightLogical(q, 4), d2, min2, y + 32);
                continue;
            }
            for (int l = 0; l < 32; l++)
            {
                y[l] = d1 * (qs[l] & 0xF) - min1;
                y[l + 32] = d2 * (qs[l] >> 4) - min2;
            }
        }
    }

    // y[0..31] = scale * q - shift for 32 small unsigned q (Q4_K's hot loop, the most common type).
    static void ScaleAndShift(Vector256<byte> q, float scale, float shift, float* y)
    {
        var scales = Vector256.Create(scale);
        var shifts = Vector256.Create(shift);
        var (low, high) = Vector256.Widen(q);
        var (q0, q1) = Vector256.Widen(low);
        var (q2, q3) = Vector256.Widen(high);
        (scales * Vector256.ConvertToSingle(q0.AsInt32()) - shifts).Store(y);
        (scales * Vector256.ConvertToSingle(q1.AsInt32()) - shifts).Store(y + 8);
        (scales * Vector256.ConvertToSingle(q2.AsInt32()) - shifts).Store(y + 16);
        (scales * Vector256.ConvertToSingle(q3.AsInt32()) - shifts).Store(y + 24);
    }

    // Q4_K plus qh[32]: bit `sub` of qh[l] is the fifth bit of element 32 * sub + l.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q5_K(byte* b, float* y)
    {
        float d = Fp16(b), dmin = Fp16(b + 2);
        byte* scales = b + 4;
        byte* qh = b + 16;
        byte* qs = b + 48;
        for (int sub = 0; sub < 8; sub += 2, qs += 32, y += 64)
        {
            ScaleMinK4(scales, sub, out int sc1, out int m1);
            ScaleMinK4(scales, sub + 1, out int sc2, out int m2);
            float d1 = d * sc1, min1 = dmin * m1;
            float d2 = d * sc2, min2 = dmin * m2;
            for (int l = 0; l < 32; l++)
            {
                int low = (qs[l] & 0xF) | ((qh[l] >> sub) & 1) << 4;
                int high = (qs[l] >> 4) | ((qh[l] >> (sub + 1)) & 1) << 4;
                y[l] = d1 * low - min1;
                y[l + 32] = d2 * high - min2;
            }
        }
    }

    // ql[128] (low 4 bits), qh[64] (top 2 bits), scales[16] (int8, one per 16 elements), d.
    // Each half (128 elements) uses 64 bytes of ql and 32 of qh: element 32k + l of the half takes
    // nibble k / 2 of ql[l + 32 * (k % 2)] and bits 2k..2k+1 of qh[l]. y = (d * scale) * (q - 32).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q6_K(byte* b, float* y)
    {
        byte* ql = b;
        byte* qh = b + 128;
        sbyte* scales = (sbyte*)(b + 192);
        float d = Fp16(b + 208);
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, scales += 8, y += 128)
        {
            for (int k = 0; k < 4; k++)
            {
                byte* low = ql + 32 * (k & 1);
                int nibbleShift = 4 * (k >> 1), highShift = 2 * k;
                for (int part = 0; part < 32; part += 16)
                {
                    // d * scale is what llama.cpp computes for every element; hoisting it changes nothing.
                    float ds = d * scales[2 * k + part / 16];
                    float* out_ = y + 32 * k + part;
                    for (int l = part; l < part + 16; l++)
                    {
                        int q = ((low[l] >> nibbleShift) & 0xF) | ((qh[l] >> highShift) & 3) << 4;
                        out_[l - part] = ds * (q - 32);
                    }
                }
            }
        }
    }

    // d (fp32), qs[256] (int8), bsums[16] (unused here): y = d * q.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Q8_K(byte* b, float* y)
    {
        float d = BinaryPrimitives.ReadSingleLittleEndian(new ReadOnlySpan<byte>(b, 4));
        sbyte* qs = (sbyte*)(b + 4);
        for (int j = 0; j < 256; j++)
            y[j] = d * qs[j];
    }
}
