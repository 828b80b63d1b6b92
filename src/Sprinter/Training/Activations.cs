using System.Numerics;
using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>What the forward pass of one transformer block keeps for the backward pass ([rows, width] row-major).</summary>
internal sealed class BlockActivations<T>(int rows, int d, int inner, int probs) where T : unmanaged, IFloatingPointIeee754<T>
{
    public readonly T[] Ln1 = new T[rows * d], Ln1Mean = new T[rows], Ln1Rstd = new T[rows];
    public readonly T[] Qkv = new T[rows * 3 * d];
    public readonly T[] Probs = new T[probs];                 // [batch, head, T, T]
    public readonly T[] Attn = new T[rows * d];               // heads' outputs before c_proj
    public readonly T[] Mid = new T[rows * d];                // residual after attention
    public readonly T[] Ln2 = new T[rows * d], Ln2Mean = new T[rows], Ln2Rstd = new T[rows];
    public readonly T[] FcPre = new T[rows * inner], FcAct = new T[rows * inner];
}

/// <summary>
/// Every buffer of a forward/backward pass over a [batch, seqLen] micro-batch, allocated once:
/// saved activations, gradient scratch and per-worker scratch rows.
/// </summary>
internal sealed class Activations<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public int Batch { get; }
    public int SeqLen { get; }
    public int Rows => Batch * SeqLen;

    public readonly int[] Inputs, Targets;
    /// <summary>Residual stream entering block l (index l) and leaving the last block (index LayerCount).</summary>
    public readonly T[][] Residual;
    public readonly BlockActivations<T>[] Blocks;
    public readonly T[] LnF, LnFMean, LnFRstd;
    public readonly T[] Logits;                               // becomes dLogits in the backward pass
    public readonly T[] LogSumExp, RowLoss;

    public readonly T[] DResidual, DLn, DAttn, DQkv, DFc;
    public readonly T[][] DScores, RowA, RowB, VocabRow;       // per worker

    public Activations(ModelConfig c, int batch, int seqLen, int workers)
    {
        Batch = batch; SeqLen = seqLen;
        int rows = batch * seqLen, d = c.EmbeddingSize, f = c.InnerSize;
        long logits = (long)rows * c.VocabSize, probs = (long)batch * c.HeadCount * seqLen * seqLen;
        if (logits > Array.MaxLength || probs > Array.MaxLength || (long)rows * f > Array.MaxLength)
            throw new InvalidInputException($"micro-batch of {batch} x {seqLen} tokens is too large for one pass with this model; lower the micro-batch size.");
        Inputs = new int[rows]; Targets = new int[rows];
        Residual = new T[c.LayerCount + 1][];
        for (int l = 0; l <= c.LayerCount; l++) Residual[l] = new T[rows * d];
        Blocks = new BlockActivations<T>[c.LayerCount];
        for (int l = 0; l < Blocks.Length; l++) Blocks[l] = new BlockActivations<T>(rows, d, f, (int)probs);
        LnF = new T[rows * d]; LnFMean = new T[rows]; LnFRstd = new T[rows];
        Logits = new T[logits]; LogSumExp = new T[rows]; RowLoss = new T[rows];
        DResidual = new T[rows * d]; DLn = new T[rows * d]; DAttn = new T[rows * d]; DQkv = new T[rows * 3 * d]; DFc = new T[rows * f];
        T[][] PerWorker(int n) => Enumerable.Range(0, workers).Select(_ => new T[n]).ToArray();
        DScores = PerWorker(seqLen * seqLen);
        RowA = PerWorker(Math.Max(d, f)); RowB = PerWorker(Math.Max(d, f));
        VocabRow = PerWorker(c.VocabSize);
    }
}
