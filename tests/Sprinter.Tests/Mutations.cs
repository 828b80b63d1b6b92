namespace Sprinter.Tests;

/// <summary>The fuzz tests' mutations of a valid file: a few byte edits, a truncation, or a splice of its own bytes.</summary>
public static class Mutations
{
    /// <param name="kind">0: edit 1-3 bytes (printable, so JSON stays text); 1: truncate; else: splice.</param>
    public static byte[] Mutate(byte[] valid, Random rng, int kind, bool printable = true)
    {
        byte[] bytes = (byte[])valid.Clone();
        switch (kind % 3)
        {
            case 0:
                for (int i = 0; i < 1 + rng.Next(3); i++) bytes[rng.Next(bytes.Length)] = (byte)(printable ? rng.Next(32, 127) : rng.Next(256));
                return bytes;
            case 1: return bytes[..rng.Next(bytes.Length)];
            default:
                int at = rng.Next(bytes.Length), length = rng.Next(1, 40);
                return [.. bytes[..at], .. valid.Skip(rng.Next(valid.Length)).Take(length), .. bytes[at..]];
        }
    }
}
