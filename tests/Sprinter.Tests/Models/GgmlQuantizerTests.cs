using Sprinter.Models.Gguf;
using Xunit.Abstractions;

namespace Sprinter.Tests.Models;

/// <summary>
/// <see cref="GgmlQuantizer"/> (what <c>--dtype q4_0</c> / <c>q4_k</c> run at load) against libggml's
/// own quantizer without an importance matrix (<c>ggml_quantize_chunk</c>, which calls
/// <c>quantize_row_q4_0_ref</c> / <c>quantize_row_q4_K_ref</c>): every byte must be the same.
/// </summary>
public unsafe class GgmlQuantizerTests(ITestOutputHelper output)
{
    [LibggmlTheory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    public void QuantizedBytesAreLibggmlsBytes(GgmlType type)
    {
        var ggml = Libggml.Load(output);
        Assert.NotNull(ggml);   // the attribute skips, saying why, where libggml is missing
        int checkedRows = 0;
        foreach (var (name, value) in GgufDequantTests.Distributions)
        {
            var random = new Random(500 + (int)type + checkedRows);
            float[] x = Enumerable.Range(0, 3 * 1024).Select(i => value(random, i % 1024)).ToArray();
            byte[] theirs = ggml.Quantize(type, x, importance: null);
            byte[] ours = new byte[theirs.Length];
            fixed (float* src = x) fixed (byte* dst = ours) GgmlQuantizer.Quantize(type, src, dst, x.Length);
            int blockBytes = GgmlTypes.BlockBytes(type);
            for (int i = 0; i < ours.Length; i++)
                if (ours[i] != theirs[i])
                    Assert.Fail($"{type} on '{name}': block {i / blockBytes}, byte {i % blockBytes}: ours {ours[i]:x2}, libggml {theirs[i]:x2}");
            checkedRows += 3;
        }
        output.WriteLine($"{type}: {checkedRows} rows of 1,024 values, every byte libggml's");
    }
}
