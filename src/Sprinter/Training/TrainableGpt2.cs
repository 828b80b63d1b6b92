using System.Numerics;
using System.Numerics.Tensors;
using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>
/// GPT-2 (learned token and position embeddings, pre-LN blocks, causal multi-head attention,
/// tanh-GELU MLP, final LayerNorm, lm_head tied to wte) with a forward pass that keeps its
/// activations and a backward pass that adds every parameter's gradient to
/// <see cref="Parameter{T}.Grad"/>. Generic in the number type: training runs in float, the
/// gradient check runs this same code in double.
/// Determinism: every parallel region splits work so that each output element is computed by
/// one worker in a fixed order (rows, columns, or (sequence, head) pairs), and reductions over
/// rows (bias and LayerNorm gradients, embedding scatter) are split by column, so results are
/// bit-identical for any thread count.
/// </summary>
internal sealed class TrainableGpt2<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    readonly ParallelGemm<T> _gemm;
    readonly int _d, _f, _vocab, _heads, _headSize;
    readonly T _epsilon;
    Activations<T>? _act;
    bool _hasLoss;
    // Distillation targets of the last forward pass ([rows, vocab] teacher probabilities) and their weight.
    T[]? _teacher;
    T _teacherWeight;

    // Parallel-region plumbing: one cached delegate, the body of the region in flight.
    readonly Action<int> _partJob;
    Action<int, int, int>? _body;
    int _count, _parts;

    public ModelParameters<T> Parameters { get; }
    public ModelConfig Config => Parameters.Config;

    public TrainableGpt2(ModelParameters<T> parameters, ParallelGemm<T> gemm)
    {
        Parameters = parameters;
        _gemm = gemm;
        var c = parameters.Config;
        (_d, _f, _vocab, _heads, _headSize) = (c.EmbeddingSize, c.InnerSize, c.VocabSize, c.HeadCount, c.HeadSize);
        _epsilon = T.CreateChecked(c.LayerNormEpsilon);
        _partJob = RunPart;
    }

    /// <summary>Logits of row (sequence * seqLen + position) of the last forward pass.</summary>
    public ReadOnlySpan<T> Logits(int row) => _act!.Logits.AsSpan(row * _vocab, _vocab);

    /// <summary>
    /// Runs the model on <paramref name="inputs"/> ([batch, seqLen] token ids, row-major) and returns
    /// the mean next-token cross-entropy against <paramref name="targets"/> (or NaN when targets is empty).
    /// </summary>
    public double Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch, int seqLen) =>
        Forward(inputs, targets, batch, seqLen, null, 0);

    /// <summary>
    /// As <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, int, int)"/>, with a teacher's
    /// next-token probabilities for every row: the loss becomes (1 - w) cross-entropy + w KL(teacher || model).
    /// </summary>
    public double Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, int batch, int seqLen, T[]? teacher, double teacherWeight)
    {
        if (teacher is not null && (targets.IsEmpty || teacher.Length < (long)batch * seqLen * _vocab))
            throw new ArgumentException("teacher probabilities need targets and one vocabulary row per position");
        _teacher = teacher;
        _teacherWeight = T.CreateChecked(teacherWeight);
        if (inputs.Length != batch * seqLen) throw new ArgumentException("inputs must hold batch * seqLen ids");
        if (seqLen > Config.MaxPositions) throw new ArgumentException($"sequence length {seqLen} exceeds n_positions {Config.MaxPositions}");
        if (_act is null || _act.Batch != batch || _act.SeqLen != seqLen) _act = new Activations<T>(Config, batch, seqLen, _gemm.ThreadCount);
        var a = _act;
        foreach (int t in inputs) if ((uint)t >= (uint)_vocab) throw new ArgumentException($"token id {t} outside the vocabulary");
        inputs.CopyTo(a.Inputs);
        _hasLoss = !targets.IsEmpty;
        if (_hasLoss) targets.CopyTo(a.Targets);
        int rows = a.Rows, d = _d;
        var p = Parameters;

        var x0 = a.Residual[0];
        var wte = p.TokenEmbedding.Value; var wpe = p.PositionEmbedding.Value;
        ForEachPart(rows, (_, r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
                TensorPrimitives.Add(wte.AsSpan(a.Inputs[r] * d, d), wpe.AsSpan(r % seqLen * d, d), x0.AsSpan(r * d, d));
        });

        for (int l = 0; l < Config.LayerCount; l++) BlockForward(l, a);

        var last = a.Residual[Config.LayerCount];
        LayerNormForward(last, a.LnF, a.LnFMean, a.LnFRstd, p.FinalGamma, p.FinalBeta, rows);
        // logits = lnf · wteᵀ (the tied lm_head)
        _gemm.Multiply(rows, _vocab, d, new Operand<T>(a.LnF, 0, d), new Operand<T>(wte, 0, d, Transposed: true), a.Logits, 0, _vocab, false);
        if (!_hasLoss) return double.NaN;

        ForEachPart(rows, (part, r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
                (a.RowLoss[r], a.LogSumExp[r]) = _teacher is null
                    ? CrossEntropy<T>.Forward(a.Logits.AsSpan(r * _vocab, _vocab), a.Targets[r], a.VocabRow[part])
                    : CrossEntropy<T>.ForwardSoft(a.Logits.AsSpan(r * _vocab, _vocab), a.Targets[r], _teacher.AsSpan(r * _vocab, _vocab), _teacherWeight, a.VocabRow[part]);
        });
        double sum = 0;
        for (int r = 0; r < rows; r++) sum += double.CreateTruncating(a.RowLoss[r]);
        return sum / rows;
    }

    void BlockForward(int l, Activations<T> a)
    {
        var w = Parameters.Layers[l];
        var s = a.Blocks[l];
        int rows = a.Rows, d = _d, f = _f;
        var x = a.Residual[l];

        LayerNormForward(x, s.Ln1, s.Ln1Mean, s.Ln1Rstd, w.Ln1Gamma, w.Ln1Beta, rows);
        Linear(s.Ln1, d, w.QkvWeight, w.QkvBias, s.Qkv, 3 * d, rows, residual: null);

        int seqLen = a.SeqLen, probsPerHead = seqLen * seqLen;
        ForEachPart(a.Batch * _heads, (part, i0, i1) =>
        {
            for (int i = i0; i < i1; i++)
                Attention<T>.Forward(s.Qkv, s.Probs, i * probsPerHead, s.Attn, i / _heads * seqLen, i % _heads, seqLen, d, _headSize, _gemm.Scratch(part));
        });
        Linear(s.Attn, d, w.ProjWeight, w.ProjBias, s.Mid, d, rows, residual: x);

        LayerNormForward(s.Mid, s.Ln2, s.Ln2Mean, s.Ln2Rstd, w.Ln2Gamma, w.Ln2Beta, rows);
        Linear(s.Ln2, d, w.FcWeight, w.FcBias, s.FcPre, f, rows, residual: null);
        ForEachPart(rows, (_, r0, r1) => Gelu<T>.Forward(s.FcPre.AsSpan(r0 * f, (r1 - r0) * f), s.FcAct.AsSpan(r0 * f, (r1 - r0) * f)));
        Linear(s.FcAct, f, w.FcProjWeight, w.FcProjBias, a.Residual[l + 1], d, rows, residual: s.Mid);
    }

    /// <summary>y = x · W + b (+ residual), W in Conv1D layout [in, out].</summary>
    void Linear(T[] x, int inSize, Parameter<T> weight, Parameter<T> bias, T[] y, int outSize, int rows, T[]? residual)
    {
        var b = bias.Value;
        ForEachPart(rows, (_, r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                var row = y.AsSpan(r * outSize, outSize);
                if (residual is null) b.CopyTo(row);
                else TensorPrimitives.Add(residual.AsSpan(r * outSize, outSize), b, row);
            }
        });
        _gemm.Multiply(rows, outSize, inSize, new Operand<T>(x, 0, inSize), new Operand<T>(weight.Value, 0, outSize), y, 0, outSize, accumulate: true);
    }

    void LayerNormForward(T[] x, T[] y, T[] mean, T[] rstd, Parameter<T> gamma, Parameter<T> beta, int rows)
    {
        int d = _d;
        ForEachPart(rows, (_, r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
                (mean[r], rstd[r]) = LayerNorm<T>.Forward(x.AsSpan(r * d, d), y.AsSpan(r * d, d), gamma.Value, beta.Value, _epsilon);
        });
    }

    /// <summary>
    /// Adds the gradient of <paramref name="scale"/> x (the last forward pass's mean loss) to every
    /// parameter's Grad. Gradient accumulation over k micro-batches passes scale = 1/k.
    /// </summary>
    public void Backward(double scale)
    {
        var a = _act ?? throw new InvalidOperationException("Backward needs a Forward pass first");
        if (!_hasLoss) throw new InvalidOperationException("Backward needs a Forward pass with targets");
        var p = Parameters;
        int rows = a.Rows, d = _d;
        T rowScale = T.CreateChecked(scale / rows);

        ForEachPart(rows, (_, r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                if (_teacher is null) CrossEntropy<T>.Backward(a.Logits.AsSpan(r * _vocab, _vocab), a.Targets[r], a.LogSumExp[r], rowScale);
                else CrossEntropy<T>.BackwardSoft(a.Logits.AsSpan(r * _vocab, _vocab), a.Targets[r], _teacher.AsSpan(r * _vocab, _vocab), _teacherWeight, a.LogSumExp[r], rowScale);
            }
        });
        var wte = p.TokenEmbedding;
        // logits = lnf · wteᵀ: dLnf = dLogits · wte, dWte += dLogitsᵀ · lnf
        _gemm.Multiply(rows, d, _vocab, new Operand<T>(a.Logits, 0, _vocab), new Operand<T>(wte.Value, 0, d), a.DLn, 0, d, false);
        _gemm.Multiply(_vocab, d, rows, new Operand<T>(a.Logits, 0, _vocab, Transposed: true), new Operand<T>(a.LnF, 0, d), wte.Grad, 0, d, true);
        LayerNormBackward(a.DLn, a.Residual[Config.LayerCount], a.LnFMean, a.LnFRstd, p.FinalGamma, p.FinalBeta, a.DResidual, accumulate: false, a);

        for (int l = Config.LayerCount - 1; l >= 0; l--) BlockBackward(l, a);

        // Embeddings: scatter the residual gradient into wte rows (by token) and wpe rows (by position).
        // Split by column so rows that share a token are still added in row order.
        int seqLen = a.SeqLen;
        var dx = a.DResidual;
        ForEachPart(d, (_, c0, c1) =>
        {
            int n = c1 - c0;
            for (int r = 0; r < rows; r++)
            {
                var g = dx.AsSpan(r * d + c0, n);
                var te = wte.Grad.AsSpan(a.Inputs[r] * d + c0, n);
                var pe = p.PositionEmbedding.Grad.AsSpan(r % seqLen * d + c0, n);
                TensorPrimitives.Add(te, g, te);
                TensorPrimitives.Add(pe, g, pe);
            }
        });
    }

    void BlockBackward(int l, Activations<T> a)
    {
        var w = Parameters.Layers[l];
        var s = a.Blocks[l];
        int rows = a.Rows, d = _d, f = _f, seqLen = a.SeqLen;
        var dx = a.DResidual;   // dLoss/d(residual leaving this block), becomes the one entering it

        // residual_out = mid + gelu(fcPre) · Wfcproj + b
        LinearBackward(s.FcAct, f, w.FcProjWeight, w.FcProjBias, dx, d, a.DFc, rows);
        ForEachPart(rows, (_, r0, r1) => Gelu<T>.Backward(s.FcPre.AsSpan(r0 * f, (r1 - r0) * f), a.DFc.AsSpan(r0 * f, (r1 - r0) * f)));
        LinearBackward(s.Ln2, d, w.FcWeight, w.FcBias, a.DFc, f, a.DLn, rows);
        LayerNormBackward(a.DLn, s.Mid, s.Ln2Mean, s.Ln2Rstd, w.Ln2Gamma, w.Ln2Beta, dx, accumulate: true, a);

        // mid = residual_in + attn · Wproj + b
        LinearBackward(s.Attn, d, w.ProjWeight, w.ProjBias, dx, d, a.DAttn, rows);
        int probsPerHead = seqLen * seqLen;
        ForEachPart(a.Batch * _heads, (part, i0, i1) =>
        {
            for (int i = i0; i < i1; i++)
                Attention<T>.Backward(s.Qkv, s.Probs, i * probsPerHead, a.DAttn, a.DQkv, i / _heads * seqLen, i % _heads, seqLen, d, _headSize,
                    a.DScores[part], _gemm.Scratch(part));
        });
        LinearBackward(s.Ln1, d, w.QkvWeight, w.QkvBias, a.DQkv, 3 * d, a.DLn, rows);
        LayerNormBackward(a.DLn, a.Residual[l], s.Ln1Mean, s.Ln1Rstd, w.Ln1Gamma, w.Ln1Beta, dx, accumulate: true, a);
    }

    /// <summary>For y = x · W + b: dW += xᵀ · dy, db += column sums of dy, dx = dy · Wᵀ (overwritten).</summary>
    void LinearBackward(T[] x, int inSize, Parameter<T> weight, Parameter<T> bias, T[] dy, int outSize, T[] dx, int rows)
    {
        _gemm.Multiply(inSize, outSize, rows, new Operand<T>(x, 0, inSize, Transposed: true), new Operand<T>(dy, 0, outSize), weight.Grad, 0, outSize, true);
        var db = bias.Grad;
        ForEachPart(outSize, (_, c0, c1) =>
        {
            var sum = db.AsSpan(c0, c1 - c0);
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(sum, dy.AsSpan(r * outSize + c0, c1 - c0), sum);
        });
        _gemm.Multiply(rows, inSize, outSize, new Operand<T>(dy, 0, outSize), new Operand<T>(weight.Value, 0, outSize, Transposed: true), dx, 0, inSize, false);
    }

    void LayerNormBackward(T[] dy, T[] x, T[] mean, T[] rstd, Parameter<T> gamma, Parameter<T> beta, T[] dx, bool accumulate, Activations<T> a)
    {
        int d = _d, rows = a.Rows;
        ForEachPart(rows, (part, r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
                LayerNorm<T>.Backward(dy.AsSpan(r * d, d), x.AsSpan(r * d, d), mean[r], rstd[r], gamma.Value, dx.AsSpan(r * d, d), accumulate,
                    a.RowA[part].AsSpan(0, d), a.RowB[part].AsSpan(0, d));
        });
        // dgamma += sum over rows of dy * xhat, dbeta += sum of dy: split by column, rows in order.
        ForEachPart(d, (part, c0, c1) =>
        {
            int n = c1 - c0;
            var xhat = a.RowA[part].AsSpan(0, n);
            var dg = gamma.Grad.AsSpan(c0, n);
            var dbeta = beta.Grad.AsSpan(c0, n);
            for (int r = 0; r < rows; r++)
            {
                var g = dy.AsSpan(r * d + c0, n);
                LayerNorm<T>.Normalize(x.AsSpan(r * d + c0, n), mean[r], rstd[r], xhat);
                TensorPrimitives.MultiplyAdd(g, xhat, dg, dg);
                TensorPrimitives.Add(dbeta, g, dbeta);
            }
        });
    }

    /// <summary>
    /// Runs body(part, start, end) over [0, count) cut into one fixed contiguous range per worker.
    /// Bodies are closures: one small allocation per region (a few dozen per step), not per element.
    /// </summary>
    void ForEachPart(int count, Action<int, int, int> body)
    {
        _body = body;
        _count = count;
        _parts = Math.Max(1, Math.Min(_gemm.ThreadCount, count));
        _gemm.Pool.Run(_parts, _partJob);
        _body = null;
    }

    void RunPart(int part)
    {
        int start = (int)((long)_count * part / _parts), end = (int)((long)_count * (part + 1) / _parts);
        _body!(part, start, end);
    }
}
