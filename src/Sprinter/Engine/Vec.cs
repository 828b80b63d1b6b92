using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Sprinter.Engine;

/// <summary>
/// The few float-vector operations the matmul kernels need, so one kernel source serves every
/// vector width: the JIT compiles a separate, fully inlined copy per implementing struct.
/// Loads of narrow weights widen 2 x Count values into two vectors (lo, hi).
/// </summary>
internal unsafe interface IVec<TSelf> where TSelf : struct, IVec<TSelf>
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }
    /// <summary>True where 32 vector registers exist (AVX-512, NEON): kernels may keep 16 accumulators.</summary>
    static abstract bool ManyRegisters { get; }
    static abstract TSelf Zero { get; }
    static abstract TSelf Broadcast(float value);
    /// <summary>a * b + c, fused where the hardware has FMA.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);
    static abstract TSelf Multiply(TSelf a, TSelf b);
    static abstract TSelf Add(TSelf a, TSelf b);
    static abstract TSelf Load(float* p);
    static abstract void Store(float* p, TSelf v);
    /// <summary>
    /// 2 x Count bfloat16 values widened to floats: the values are stored as Count 32-bit words,
    /// word j holding value j in its low half and value Count + j in its high half, so widening
    /// is one shift (lo) and one mask (hi) instead of two cross-lane widenings.
    /// </summary>
    static abstract void LoadBF16(ushort* p, out TSelf lo, out TSelf hi);
    /// <summary>2 x Count int8 values converted to floats.</summary>
    static abstract void LoadInt8(sbyte* p, out TSelf lo, out TSelf hi);
    /// <summary>2 x Count unsigned bytes converted to floats (values p[0..Count) in lo, the next Count in hi).</summary>
    static abstract void LoadUInt8(byte* p, out TSelf lo, out TSelf hi);
    /// <summary>2 x Count IEEE half values converted exactly to floats (.NET exposes no F16C; integer bit moves instead).</summary>
    static abstract void LoadHalf(ushort* p, out TSelf lo, out TSelf hi);

    // Integer operations of the 8-bit kernels (Q4Kernels). The vector's bits then hold bytes, int16
    // or int32 lanes, not floats; a 4 x Count byte vector is Count groups of 4 bytes, one per lane.

    /// <summary>An int32 in every lane.</summary>
    static abstract TSelf BroadcastInt(int value);
    /// <summary>4 Count bytes: their low nibbles as bytes (0..15) in lo, their high nibbles in hi.</summary>
    static abstract void LoadNibbleBytes(byte* p, out TSelf lo, out TSelf hi);
    /// <summary>
    /// 6-bit values as bytes: the nibbles of <paramref name="low"/> (as <see cref="LoadNibbleBytes"/>),
    /// bits 4-5 from the 2-bit fields of <paramref name="high"/>: fields 0 and 1 (lo, hi) when
    /// <paramref name="odd"/> is false, 2 and 3 when true (one plane serves two groups).
    /// </summary>
    static abstract void LoadSixBitBytes(byte* low, byte* high, bool odd, out TSelf lo, out TSelf hi);
    /// <summary>
    /// 5-bit values as bytes: the nibbles of <paramref name="low"/> (as <see cref="LoadNibbleBytes"/>),
    /// bit 4 from <paramref name="high"/>: bit <paramref name="field"/> (0..3) of each byte for lo, bit
    /// 4 + <paramref name="field"/> for hi (one plane serves four groups).
    /// </summary>
    static abstract void LoadFiveBitBytes(byte* low, byte* high, int field, out TSelf lo, out TSelf hi);
    /// <summary>True where <see cref="DotBytes"/> is one instruction at this width (AVX-VNNI's vpdpbusd, 128/256-bit only in .NET 10).</summary>
    static abstract bool DotProduct { get; }
    /// <summary>int32 lanes: acc + the 4 products of unsigned by signed bytes in each (vpdpbusd); only where <see cref="DotProduct"/>.</summary>
    static abstract TSelf DotBytes(TSelf acc, TSelf unsignedBytes, TSelf signedBytes);
    /// <summary>int16 lanes u[2i] s[2i] + u[2i+1] s[2i+1] of unsigned by signed bytes (vpmaddubsw; callers keep the sums within int16).</summary>
    static abstract TSelf MultiplyAddBytes(TSelf unsignedBytes, TSelf signedBytes);
    static abstract TSelf AddInt16(TSelf a, TSelf b);
    static abstract TSelf AddInt32(TSelf a, TSelf b);
    /// <summary>int32 lanes: each pair of int16 lanes summed (vpmaddwd by ones).</summary>
    static abstract TSelf WidenPairs(TSelf shorts);
    /// <summary>int32 lanes to floats (exact below 2^24).</summary>
    static abstract TSelf ConvertInt32(TSelf ints);
}

/// <summary>
/// Lane-exact portable forms of the integer operations (NEON, SSE2 without SSSE3): the same int16
/// and int32 results as vpmaddubsw / vpmaddwd for sums that fit (no saturation is reached).
/// </summary>
internal static class IntBits
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<short> MultiplyAddBytes(Vector128<byte> u, Vector128<sbyte> s)
    {
        var uu = u.AsUInt16();
        var ss = s.AsInt16();
        var even = (uu & Vector128.Create((ushort)0xFF)).AsInt16() * Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(ss, 8), 8);
        var odd = Vector128.ShiftRightLogical(uu, 8).AsInt16() * Vector128.ShiftRightArithmetic(ss, 8);
        return even + odd;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> WidenPairs(Vector128<short> v)
    {
        var w = v.AsInt32();
        return Vector128.ShiftRightArithmetic(Vector128.ShiftLeft(w, 16), 16) + Vector128.ShiftRightArithmetic(w, 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> MultiplyAddBytes(Vector256<byte> u, Vector256<sbyte> s)
    {
        var uu = u.AsUInt16();
        var ss = s.AsInt16();
        var even = (uu & Vector256.Create((ushort)0xFF)).AsInt16() * Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(ss, 8), 8);
        var odd = Vector256.ShiftRightLogical(uu, 8).AsInt16() * Vector256.ShiftRightArithmetic(ss, 8);
        return even + odd;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> WidenPairs(Vector256<short> v)
    {
        var w = v.AsInt32();
        return Vector256.ShiftRightArithmetic(Vector256.ShiftLeft(w, 16), 16) + Vector256.ShiftRightArithmetic(w, 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> MultiplyAddBytes(Vector512<byte> u, Vector512<sbyte> s)
    {
        var uu = u.AsUInt16();
        var ss = s.AsInt16();
        var even = (uu & Vector512.Create((ushort)0xFF)).AsInt16() * Vector512.ShiftRightArithmetic(Vector512.ShiftLeft(ss, 8), 8);
        var odd = Vector512.ShiftRightLogical(uu, 8).AsInt16() * Vector512.ShiftRightArithmetic(ss, 8);
        return even + odd;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> WidenPairs(Vector512<short> v)
    {
        var w = v.AsInt32();
        return Vector512.ShiftRightArithmetic(Vector512.ShiftLeft(w, 16), 16) + Vector512.ShiftRightArithmetic(w, 16);
    }
}

/// <summary>Shared bit-level helpers of the vector structs.</summary>
internal static class HalfBits
{
    // A half's exponent and mantissa moved into a float's bit positions are the same value times
    // 2^-112 (subnormal halves land on float subnormals), so one multiply finishes the conversion.
    public const float Rebias = 5.192296858534828e33f;   // 2^112
}

internal readonly unsafe struct Vec512(Vector512<float> v) : IVec<Vec512>
{
    readonly Vector512<float> _v = v;
    public static int Count => 16;
    public static bool ManyRegisters => true;
    public static Vec512 Zero => default;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 Broadcast(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 MultiplyAdd(Vec512 a, Vec512 b, Vec512 c) => new(Vector512.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 Multiply(Vec512 a, Vec512 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 Add(Vec512 a, Vec512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 Load(float* p) => new(Vector512.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vec512 v) => v._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBF16(ushort* p, out Vec512 lo, out Vec512 hi)
    {
        var raw = Vector512.Load((uint*)p);
        lo = new(Vector512.ShiftLeft(raw, 16).AsSingle());
        hi = new((raw & Vector512.Create(0xFFFF0000u)).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadInt8(sbyte* p, out Vec512 lo, out Vec512 hi)
    {
        if (Avx512F.IsSupported)
        {
            // vpmovsxbd straight from memory: one instruction per 16 weights.
            lo = new(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(p))));
            hi = new(Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(p + 16))));
            return;
        }
        var s = Vector512.WidenLower(Vector256.Load(p).ToVector512Unsafe());
        lo = new(Vector512.ConvertToSingle(Vector512.WidenLower(s)));
        hi = new(Vector512.ConvertToSingle(Vector512.WidenUpper(s)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadUInt8(byte* p, out Vec512 lo, out Vec512 hi)
    {
        var w = Vector512.WidenLower(Vector256.Load(p).ToVector512Unsafe());
        lo = new(Vector512.ConvertToSingle(Vector512.WidenLower(w).AsInt32()));
        hi = new(Vector512.ConvertToSingle(Vector512.WidenUpper(w).AsInt32()));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadHalf(ushort* p, out Vec512 lo, out Vec512 hi)
    {
        var h = Vector512.Load(p);
        lo = new(FromHalf(Vector512.WidenLower(h)));
        hi = new(FromHalf(Vector512.WidenUpper(h)));
    }


    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 BroadcastInt(int value) => new(Vector512.Create(value).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 AddInt16(Vec512 a, Vec512 b) => new((a._v.AsInt16() + b._v.AsInt16()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 AddInt32(Vec512 a, Vec512 b) => new((a._v.AsInt32() + b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec512 ConvertInt32(Vec512 ints) => new(Vector512.ConvertToSingle(ints._v.AsInt32()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadNibbleBytes(byte* p, out Vec512 lo, out Vec512 hi)
    {
        // A 16-bit shift then the mask: x86 has no byte shift, and the mask drops the neighbour's bits.
        var b = Vector512.Load(p);
        var m = Vector512.Create((byte)15);
        lo = new((b & m).AsSingle());
        hi = new((Vector512.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & m).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadSixBitBytes(byte* low, byte* high, bool odd, out Vec512 lo, out Vec512 hi)
    {
        var b = Vector512.Load(low);
        var h = Vector512.Load(high).AsUInt16();
        var m = Vector512.Create((byte)15);
        var top = Vector512.Create((byte)0x30);
        // Field f (bits 2f..2f+1 of each byte) moved to bits 4..5; 16-bit shifts, the mask drops what crossed bytes.
        var fLo = odd ? h : Vector512.ShiftLeft(h, 4);
        var fHi = odd ? Vector512.ShiftRightLogical(h, 2) : Vector512.ShiftLeft(h, 2);
        lo = new((b & m | fLo.AsByte() & top).AsSingle());
        hi = new((Vector512.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & m | fHi.AsByte() & top).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadFiveBitBytes(byte* low, byte* high, int field, out Vec512 lo, out Vec512 hi)
    {
        var b = Vector512.Load(low);
        var h = Vector512.Load(high).AsUInt16();
        var m = Vector512.Create((byte)15);
        var top = Vector512.Create((byte)0x10);
        // Bit f (lo) and bit 4 + f (hi) of each byte moved to bit 4; 16-bit shifts, the mask drops what crossed bytes.
        lo = new((b & m | Vector512.ShiftLeft(h, 4 - field).AsByte() & top).AsSingle());
        hi = new((Vector512.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & m | Vector512.ShiftRightLogical(h, field).AsByte() & top).AsSingle());
    }

    // .NET 10 has no 512-bit vpdpbusd (AvxVnni is VEX, 128/256-bit; Avx10v1.V512 has none).
    public static bool DotProduct => false;
    public static Vec512 DotBytes(Vec512 acc, Vec512 u, Vec512 s) => throw new NotSupportedException();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 MultiplyAddBytes(Vec512 u, Vec512 s)
        => new((Avx512BW.IsSupported ? Avx512BW.MultiplyAddAdjacent(u._v.AsByte(), s._v.AsSByte()) : IntBits.MultiplyAddBytes(u._v.AsByte(), s._v.AsSByte())).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec512 WidenPairs(Vec512 shorts)
        => new((Avx512BW.IsSupported ? Avx512BW.MultiplyAddAdjacent(shorts._v.AsInt16(), Vector512<short>.One) : IntBits.WidenPairs(shorts._v.AsInt16())).AsSingle());

    static Vector512<float> FromHalf(Vector512<uint> h)
    {
        var magnitude = Vector512.ShiftLeft(h & Vector512.Create(0x7FFFu), 13).AsSingle() * Vector512.Create(HalfBits.Rebias);
        return (magnitude.AsUInt32() | Vector512.ShiftLeft(h & Vector512.Create(0x8000u), 16)).AsSingle();
    }
}

internal readonly unsafe struct Vec256(Vector256<float> v) : IVec<Vec256>
{
    readonly Vector256<float> _v = v;
    public static int Count => 8;
    public static bool ManyRegisters => false;   // AVX2 has 16 ymm registers
    public static Vec256 Zero => default;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 Broadcast(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 MultiplyAdd(Vec256 a, Vec256 b, Vec256 c) => new(Vector256.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 Multiply(Vec256 a, Vec256 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 Add(Vec256 a, Vec256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 Load(float* p) => new(Vector256.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vec256 v) => v._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBF16(ushort* p, out Vec256 lo, out Vec256 hi)
    {
        var raw = Vector256.Load((uint*)p);
        lo = new(Vector256.ShiftLeft(raw, 16).AsSingle());
        hi = new((raw & Vector256.Create(0xFFFF0000u)).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadInt8(sbyte* p, out Vec256 lo, out Vec256 hi)
    {
        if (Avx2.IsSupported)
        {
            lo = new(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p)));
            hi = new(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p + 8)));
            return;
        }
        var s = Vector256.WidenLower(Vector128.Load(p).ToVector256Unsafe());
        lo = new(Vector256.ConvertToSingle(Vector256.WidenLower(s)));
        hi = new(Vector256.ConvertToSingle(Vector256.WidenUpper(s)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadUInt8(byte* p, out Vec256 lo, out Vec256 hi)
    {
        var w = Vector256.WidenLower(Vector128.Load(p).ToVector256Unsafe());
        lo = new(Vector256.ConvertToSingle(Vector256.WidenLower(w).AsInt32()));
        hi = new(Vector256.ConvertToSingle(Vector256.WidenUpper(w).AsInt32()));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadHalf(ushort* p, out Vec256 lo, out Vec256 hi)
    {
        var h = Vector256.Load(p);
        lo = new(FromHalf(Vector256.WidenLower(h)));
        hi = new(FromHalf(Vector256.WidenUpper(h)));
    }


    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 BroadcastInt(int value) => new(Vector256.Create(value).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 AddInt16(Vec256 a, Vec256 b) => new((a._v.AsInt16() + b._v.AsInt16()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 AddInt32(Vec256 a, Vec256 b) => new((a._v.AsInt32() + b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec256 ConvertInt32(Vec256 ints) => new(Vector256.ConvertToSingle(ints._v.AsInt32()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadNibbleBytes(byte* p, out Vec256 lo, out Vec256 hi)
    {
        // A 16-bit shift then the mask: x86 has no byte shift, and the mask drops the neighbour's bits.
        var b = Vector256.Load(p);
        var m = Vector256.Create((byte)15);
        lo = new((b & m).AsSingle());
        hi = new((Vector256.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & m).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadSixBitBytes(byte* low, byte* high, bool odd, out Vec256 lo, out Vec256 hi)
    {
        var b = Vector256.Load(low);
        var h = Vector256.Load(high).AsUInt16();
        var m = Vector256.Create((byte)15);
        var top = Vector256.Create((byte)0x30);
        // Field f (bits 2f..2f+1 of each byte) moved to bits 4..5; 16-bit shifts, the mask drops what crossed bytes.
        var fLo = odd ? h : Vector256.ShiftLeft(h, 4);
        var fHi = odd ? Vector256.ShiftRightLogical(h, 2) : Vector256.ShiftLeft(h, 2);
        lo = new((b & m | fLo.AsByte() & top).AsSingle());
        hi = new((Vector256.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & m | fHi.AsByte() & top).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadFiveBitBytes(byte* low, byte* high, int field, out Vec256 lo, out Vec256 hi)
    {
        var b = Vector256.Load(low);
        var h = Vector256.Load(high).AsUInt16();
        var m = Vector256.Create((byte)15);
        var top = Vector256.Create((byte)0x10);
        // Bit f (lo) and bit 4 + f (hi) of each byte moved to bit 4; 16-bit shifts, the mask drops what crossed bytes.
        lo = new((b & m | Vector256.ShiftLeft(h, 4 - field).AsByte() & top).AsSingle());
        hi = new((Vector256.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & m | Vector256.ShiftRightLogical(h, field).AsByte() & top).AsSingle());
    }

    public static bool DotProduct => AvxVnni.IsSupported;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 DotBytes(Vec256 acc, Vec256 u, Vec256 s) => new(AvxVnni.MultiplyWideningAndAdd(acc._v.AsInt32(), u._v.AsByte(), s._v.AsSByte()).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 MultiplyAddBytes(Vec256 u, Vec256 s)
        => new((Avx2.IsSupported ? Avx2.MultiplyAddAdjacent(u._v.AsByte(), s._v.AsSByte()) : IntBits.MultiplyAddBytes(u._v.AsByte(), s._v.AsSByte())).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec256 WidenPairs(Vec256 shorts)
        => new((Avx2.IsSupported ? Avx2.MultiplyAddAdjacent(shorts._v.AsInt16(), Vector256<short>.One) : IntBits.WidenPairs(shorts._v.AsInt16())).AsSingle());

    static Vector256<float> FromHalf(Vector256<uint> h)
    {
        var magnitude = Vector256.ShiftLeft(h & Vector256.Create(0x7FFFu), 13).AsSingle() * Vector256.Create(HalfBits.Rebias);
        return (magnitude.AsUInt32() | Vector256.ShiftLeft(h & Vector256.Create(0x8000u), 16)).AsSingle();
    }
}

internal readonly unsafe struct Vec128(Vector128<float> v) : IVec<Vec128>
{
    readonly Vector128<float> _v = v;
    public static int Count => 4;
    public static bool ManyRegisters => AdvSimd.IsSupported;   // NEON has 32, SSE 16
    public static Vec128 Zero => default;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 Broadcast(float value) => new(Vector128.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 MultiplyAdd(Vec128 a, Vec128 b, Vec128 c) => new(Vector128.MultiplyAddEstimate(a._v, b._v, c._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 Multiply(Vec128 a, Vec128 b) => new(a._v * b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 Add(Vec128 a, Vec128 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 Load(float* p) => new(Vector128.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(float* p, Vec128 v) => v._v.Store(p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBF16(ushort* p, out Vec128 lo, out Vec128 hi)
    {
        var raw = Vector128.Load((uint*)p);
        lo = new(Vector128.ShiftLeft(raw, 16).AsSingle());
        hi = new((raw & Vector128.Create(0xFFFF0000u)).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadInt8(sbyte* p, out Vec128 lo, out Vec128 hi)
    {
        // Eight bytes into the low half, widened twice (sxtl / pmovsx).
        var s = Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(long*)p).AsSByte());
        lo = new(Vector128.ConvertToSingle(Vector128.WidenLower(s)));
        hi = new(Vector128.ConvertToSingle(Vector128.WidenUpper(s)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadUInt8(byte* p, out Vec128 lo, out Vec128 hi)
    {
        var w = Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(ulong*)p).AsByte());
        lo = new(Vector128.ConvertToSingle(Vector128.WidenLower(w).AsInt32()));
        hi = new(Vector128.ConvertToSingle(Vector128.WidenUpper(w).AsInt32()));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadHalf(ushort* p, out Vec128 lo, out Vec128 hi)
    {
        var h = Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(ulong*)p).AsUInt16());
        lo = new(FromHalf(h));
        hi = new(FromHalf(Vector128.WidenLower(Vector128.CreateScalarUnsafe(*(ulong*)(p + 4)).AsUInt16())));
    }


    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 BroadcastInt(int value) => new(Vector128.Create(value).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 AddInt16(Vec128 a, Vec128 b) => new((a._v.AsInt16() + b._v.AsInt16()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 AddInt32(Vec128 a, Vec128 b) => new((a._v.AsInt32() + b._v.AsInt32()).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vec128 ConvertInt32(Vec128 ints) => new(Vector128.ConvertToSingle(ints._v.AsInt32()));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadNibbleBytes(byte* p, out Vec128 lo, out Vec128 hi)
    {
        // A 16-bit shift then the mask: x86 has no byte shift, and the mask drops the neighbour's bits.
        var b = Vector128.Load(p);
        var m = Vector128.Create((byte)15);
        lo = new((b & m).AsSingle());
        hi = new((Vector128.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & m).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadSixBitBytes(byte* low, byte* high, bool odd, out Vec128 lo, out Vec128 hi)
    {
        var b = Vector128.Load(low);
        var h = Vector128.Load(high).AsUInt16();
        var m = Vector128.Create((byte)15);
        var top = Vector128.Create((byte)0x30);
        // Field f (bits 2f..2f+1 of each byte) moved to bits 4..5; 16-bit shifts, the mask drops what crossed bytes.
        var fLo = odd ? h : Vector128.ShiftLeft(h, 4);
        var fHi = odd ? Vector128.ShiftRightLogical(h, 2) : Vector128.ShiftLeft(h, 2);
        lo = new((b & m | fLo.AsByte() & top).AsSingle());
        hi = new((Vector128.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & m | fHi.AsByte() & top).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadFiveBitBytes(byte* low, byte* high, int field, out Vec128 lo, out Vec128 hi)
    {
        var b = Vector128.Load(low);
        var h = Vector128.Load(high).AsUInt16();
        var m = Vector128.Create((byte)15);
        var top = Vector128.Create((byte)0x10);
        // Bit f (lo) and bit 4 + f (hi) of each byte moved to bit 4; 16-bit shifts, the mask drops what crossed bytes.
        lo = new((b & m | Vector128.ShiftLeft(h, 4 - field).AsByte() & top).AsSingle());
        hi = new((Vector128.ShiftRightLogical(b.AsUInt16(), 4).AsByte() & m | Vector128.ShiftRightLogical(h, field).AsByte() & top).AsSingle());
    }

    public static bool DotProduct => AvxVnni.IsSupported;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 DotBytes(Vec128 acc, Vec128 u, Vec128 s) => new(AvxVnni.MultiplyWideningAndAdd(acc._v.AsInt32(), u._v.AsByte(), s._v.AsSByte()).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 MultiplyAddBytes(Vec128 u, Vec128 s)
        => new((Ssse3.IsSupported ? Ssse3.MultiplyAddAdjacent(u._v.AsByte(), s._v.AsSByte()) : IntBits.MultiplyAddBytes(u._v.AsByte(), s._v.AsSByte())).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec128 WidenPairs(Vec128 shorts)
        => new((Sse2.IsSupported ? Sse2.MultiplyAddAdjacent(shorts._v.AsInt16(), Vector128<short>.One) : IntBits.WidenPairs(shorts._v.AsInt16())).AsSingle());

    static Vector128<float> FromHalf(Vector128<uint> h)
    {
        var magnitude = Vector128.ShiftLeft(h & Vector128.Create(0x7FFFu), 13).AsSingle() * Vector128.Create(HalfBits.Rebias);
        return (magnitude.AsUInt32() | Vector128.ShiftLeft(h & Vector128.Create(0x8000u), 16)).AsSingle();
    }
}
