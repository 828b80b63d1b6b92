using System.Numerics;
using System.Numerics.Tensors;

namespace Sprinter.Training;

/// <summary>
/// Causal self-attention of one (sequence, head) pair over a [T, 3d] slice of the qkv buffer,
/// as serial GEMMs on the calling worker's scratch (the caller runs pairs in parallel; pairs
/// write disjoint outputs, so the split does not change results). Causality is exploited in
/// blocks of <see cref="Block"/> rows: a query block only meets keys up to its last row, and a
/// key block only meets queries from its first row on, which skips about half the products.
/// </summary>
internal static class Attention<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    const int Block = 48;   // a multiple of Gemm.MR: whole micro-tiles
    /// <summary>
    /// probs[T, T] = softmax(mask(Q Kᵀ / sqrt(hs))), output[T, hs] = probs V, with Q, K, V the
    /// head's columns of qkv rows [row0, row0 + T) and output written at column head * hs of a [., d] buffer.
    /// </summary>
    public static void Forward(T[] qkv, T[] probs, int probsOffset, T[] output, int row0, int head, int seqLen, int d, int headSize, GemmScratch<T> scratch)
    {
        int ld = 3 * d, q = row0 * ld + head * headSize;
        T scale = T.One / T.Sqrt(T.CreateChecked(headSize));
        var query = new Operand<T>(qkv, q, ld);
        var keysT = new Operand<T>(qkv, q + d, ld, Transposed: true);
        for (int i0 = 0; i0 < seqLen; i0 += Block)
        {
            int i1 = Math.Min(seqLen, i0 + Block);
            Gemm<T>.Multiply(headSize, query, keysT, probs, probsOffset, seqLen, false, i0, i1, 0, i1, scratch);
        }
        for (int i = 0; i < seqLen; i++)
        {
            var row = probs.AsSpan(probsOffset + i * seqLen, seqLen);
            var visible = row[..(i + 1)];
            TensorPrimitives.Multiply(visible, scale, visible);
            TensorPrimitives.SoftMax<T>(visible, visible);
            row[(i + 1)..].Clear();
        }
        // Rows beyond i are exactly zero, so stopping the sum at the block's last row changes nothing.
        for (int i0 = 0; i0 < seqLen; i0 += Block)
        {
            int i1 = Math.Min(seqLen, i0 + Block);
            Gemm<T>.Multiply(i1, new Operand<T>(probs, probsOffset, seqLen), new Operand<T>(qkv, q + 2 * d, ld),
                output, row0 * d + head * headSize, d, false, i0, i1, 0, headSize, scratch);
        }
    }

    /// <summary>
    /// From dOutput (columns of the head in a [., d] buffer) writes the head's dQ, dK, dV columns
    /// of dQkv. <paramref name="dScores"/> is a T x T scratch block.
    /// </summary>
    public static void Backward(T[] qkv, T[] probs, int probsOffset, T[] dOutput, T[] dQkv, int row0, int head, int seqLen, int d, int headSize,
        T[] dScores, GemmScratch<T> scratch)
    {
        int ld = 3 * d, q = row0 * ld + head * headSize, o = row0 * d + head * headSize;
        T scale = T.One / T.Sqrt(T.CreateChecked(headSize));
        var dOut = new Operand<T>(dOutput, o, d);
        // dP = dO Vᵀ (query blocks, keys up to the block end); dV = Pᵀ dO (key blocks, queries from the block start)
        var valuesT = new Operand<T>(qkv, q + 2 * d, ld, Transposed: true);
        for (int i0 = 0; i0 < seqLen; i0 += Block)
        {
            int i1 = Math.Min(seqLen, i0 + Block);
            Gemm<T>.Multiply(headSize, dOut, valuesT, dScores, 0, seqLen, false, i0, i1, 0, i1, scratch);
            Gemm<T>.Multiply(seqLen - i0, new Operand<T>(probs, probsOffset + i0 * seqLen, seqLen, Transposed: true), dOut with { Offset = o + i0 * d },
                dQkv, q + 2 * d, ld, false, i0, i1, 0, headSize, scratch);
        }
        // Softmax backward on the visible part: dS = P (dP - sum(P dP)) * scale; masked entries are 0.
        for (int i = 0; i < seqLen; i++)
        {
            var p = probs.AsSpan(probsOffset + i * seqLen, i + 1);
            var row = dScores.AsSpan(i * seqLen, seqLen);
            var ds = row[..(i + 1)];
            T dot = TensorPrimitives.Dot<T>(p, ds);
            TensorPrimitives.Subtract(ds, dot, ds);
            TensorPrimitives.Multiply(ds, p, ds);
            TensorPrimitives.Multiply(ds, scale, ds);
            row[(i + 1)..].Clear();
        }
        // dQ = dS K (query blocks); dK = dSᵀ Q (key blocks)
        for (int i0 = 0; i0 < seqLen; i0 += Block)
        {
            int i1 = Math.Min(seqLen, i0 + Block);
            Gemm<T>.Multiply(i1, new Operand<T>(dScores, 0, seqLen), new Operand<T>(qkv, q + d, ld), dQkv, q, ld, false, i0, i1, 0, headSize, scratch);
            Gemm<T>.Multiply(seqLen - i0, new Operand<T>(dScores, i0 * seqLen, seqLen, Transposed: true), new Operand<T>(qkv, q + i0 * ld, ld),
                dQkv, q + d, ld, false, i0, i1, 0, headSize, scratch);
        }
    }
}
