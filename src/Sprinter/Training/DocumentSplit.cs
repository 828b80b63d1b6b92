using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Sprinter.Training;

/// <summary>
/// The fixed train/validation split: a document goes to validation when the SHA-256 of its name,
/// read as a fraction of 2^64, is below the validation share. Names ("sotu/1790_george_washington_n",
/// "brown/ca01") do not change when the cleaning rules do, so the split stays put across rebuilds,
/// and whole documents move together, so no speech is half in each split.
/// </summary>
public static class DocumentSplit
{
    public static bool IsValidation(string documentName, double validationFraction)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(documentName), hash);
        double position = BinaryPrimitives.ReadUInt64BigEndian(hash) / 18446744073709551616.0; // 2^64
        return position < validationFraction;
    }
}
