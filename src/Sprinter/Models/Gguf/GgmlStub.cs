// TEMPORARY stub until the dequant branch merges (replaced by GgmlType.cs / GgmlDequantizer.cs).
namespace Sprinter.Models.Gguf;
public enum GgmlType : uint { F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9, Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, BF16 = 30 }
public static class GgmlTypes
{
    public static bool IsKnown(GgmlType t) => Enum.IsDefined(t);
    public static int BlockSize(GgmlType t) => t switch { GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 => 1, GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.Q8_1 => 32, _ => 256 };
    public static int BlockBytes(GgmlType t) => t switch { GgmlType.F32 => 4, GgmlType.F16 or GgmlType.BF16 => 2, GgmlType.Q4_0 => 18, GgmlType.Q4_1 => 20, GgmlType.Q5_0 => 22, GgmlType.Q5_1 => 24, GgmlType.Q8_0 => 34, GgmlType.Q8_1 => 36, GgmlType.Q2_K => 84, GgmlType.Q3_K => 110, GgmlType.Q4_K => 144, GgmlType.Q5_K => 176, GgmlType.Q6_K => 210, _ => 292 };
    public static bool CanDequantize(GgmlType t) => t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0;
    public static long RowBytes(GgmlType t, long n) => n % BlockSize(t) != 0 ? throw new InvalidInputException("x") : checked(n / BlockSize(t) * BlockBytes(t));
    public static string Name(GgmlType t) => t.ToString();
}
public static class GgmlDequantizer
{
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> s, Span<float> d)
    {
        switch (type)
        {
            case GgmlType.F32: System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(s).CopyTo(d); break;
            case GgmlType.F16: for (int i = 0; i < d.Length; i++) d[i] = (float)BitConverter.ToHalf(s.Slice(2 * i, 2)); break;
            case GgmlType.BF16: for (int i = 0; i < d.Length; i++) d[i] = BitConverter.UInt32BitsToSingle((uint)BitConverter.ToUInt16(s.Slice(2 * i, 2)) << 16); break;
            case GgmlType.Q8_0:
                for (int b = 0; b < d.Length / 32; b++) { float sc = (float)BitConverter.ToHalf(s.Slice(34 * b, 2)); for (int j = 0; j < 32; j++) d[32 * b + j] = (sbyte)s[34 * b + 2 + j] * sc; }
                break;
            default: throw new NotSupportedException();
        }
    }
}
