using System.Numerics.Tensors;
using Sprinter.Models;

namespace Sprinter.Engine;

/// <summary>
/// One forward pass over several sessions of one model: each brings its own new tokens (1 for a
/// plain step, a round's drafted positions, a chunk of a prompt) and keeps its own KV cache and
/// positions. The matrices run once over all rows, so the weights are read once per pass; attention
/// runs per session over its own cache. Blocks of rows never span two sessions (see
/// <see cref="PackedMatrix.Multiply(ReadOnlySpan{float}, Span{float}, int, ReadOnlySpan{float}, WorkerPool?, ReadOnlySpan{int})"/>),
/// so every session gets bit for bit what its own pass would give: a session's
/// <see cref="TransformerSession.Forward(ReadOnlySpan{int}, int)"/> is this class with one entry.
/// Scratch buffers are allocated once and grow only when a pass brings more rows than any before.
/// </summary>
public sealed class TransformerBatch
{
    readonly TransformerModel _model;
    readonly int _d, _q, _kv, _heads, _inner;
    readonly bool _layerNorm, _rope, _swiGlu;
    readonly WorkerPool _pool = WorkerPool.Shared;
    readonly List<(TransformerSession Session, int Start, int Rows, int LogitRows)> _entries = [];
    readonly List<int> _tokens = [];
    int[] _segments = [], _logitSegments = [];
    float[] _x = [], _norm = [], _qkv = [], _attn = [], _ff = [], _act = [], _hidden = [], _logitInput = [], _logits = [];
    float[][] _scores;
    int _rowCapacity;

    public TransformerBatch(TransformerModel model)
    {
        _model = model;
        var c = model.Config;
        (_d, _q, _kv, _heads, _inner) = (c.EmbeddingSize, c.QuerySize, c.KeyValueSize, c.HeadCount, c.InnerSize);
        (_layerNorm, _rope, _swiGlu) = (c.Norm == NormKind.LayerNorm, c.Positions == PositionKind.Rope, c.Mlp == MlpKind.SwiGlu);
        _scores = new float[_pool.ThreadCount][];
        for (int i = 0; i < _scores.Length; i++) _scores[i] = [];
    }

    public TransformerModel Model => _model;
    /// <summary>Sessions in the pass being built.</summary>
    public int Count => _entries.Count;
    /// <summary>New positions in the pass being built, over all sessions.</summary>
    public int Rows => _tokens.Count;

    public void Clear() { _entries.Clear(); _tokens.Clear(); }

    /// <summary>
    /// Adds a session's new tokens to the pass, asking for logits of its last <paramref name="logitRows"/>.
    /// A session appears at most once per pass.
    /// </summary>
    public void Add(TransformerSession session, ReadOnlySpan<int> tokens, int logitRows)
    {
        if (session.Model != _model) throw new ArgumentException("every session of a batch must belong to the batch's model", nameof(session));
        session.CheckAppend(tokens, logitRows);
        foreach (var e in _entries)
            if (e.Session == session) throw new ArgumentException("a session can appear only once in a pass", nameof(session));
        _entries.Add((session, _tokens.Count, tokens.Length, logitRows));
        foreach (int t in tokens) _tokens.Add(t);
    }

    /// <summary>Runs the pass: afterwards each session holds its new positions in its cache and
    /// its hidden states and logits, exactly as after its own <see cref="TransformerSession.Forward(ReadOnlySpan{int}, int)"/>.</summary>
    public void Run()
    {
        int rows = _tokens.Count, d = _d, n = _entries.Count;
        if (n == 0) return;
        EnsureRows(rows);
        if (_segments.Length < n) { _segments = new int[n]; _logitSegments = new int[n]; }
        int logitRows = 0, widest = 0;
        for (int e = 0; e < n; e++)
        {
            var entry = _entries[e];
            _segments[e] = entry.Rows;
            _logitSegments[e] = entry.LogitRows;
            logitRows += entry.LogitRows;
            widest = Math.Max(widest, entry.Session.Length + entry.Rows);
        }
        var segments = _segments.AsSpan(0, n);
        var m = _model;

        // Embeddings: token column of the packed wte plus the position row.
        foreach (var (session, start, count, _) in _entries)
            for (int p = 0; p < count; p++)
            {
                var row = _x.AsSpan((start + p) * d, d);
                m.TokenEmbedding.GetColumn(_tokens[start + p], row);
                if (!_rope) TensorPrimitives.Add(row, m.PositionEmbedding.AsSpan((session.Length + p) * d, d), row);
            }
        for (int i = 0; i < _scores.Length; i++)
            if (_scores[i].Length < widest) _scores[i] = new float[Math.Max(widest, 2 * _scores[i].Length)];

        var all = _x.AsSpan(0, rows * d);
        int width = _q + 2 * _kv;
        for (int l = 0; l < m.Layers.Length; l++)
        {
            var w = m.Layers[l];
            LayerNorm(_x, _norm, rows, w.Ln1Gamma, w.Ln1Beta);
            w.Qkv.Multiply(_norm, _qkv, rows, w.QkvBias, _pool, segments);
            foreach (var (session, start, count, _) in _entries)
                session.StoreKeysValues(l, _qkv.AsSpan(start * width, count * width), count, w.QueryNorm, w.KeyNorm);
            Attention(l);
            w.AttnProj.Multiply(_attn, _norm, rows, w.AttnProjBias, _pool, segments);
            TensorPrimitives.Add(all, _norm.AsSpan(0, rows * d), all);

            LayerNorm(_x, _norm, rows, w.Ln2Gamma, w.Ln2Beta);
            w.Fc.Multiply(_norm, _ff, rows, w.FcBias, _pool, segments);
            if (_swiGlu) SwiGlu(_ff, _act, rows);
            else TransformerSession.GeluTanh(_ff.AsSpan(0, rows * _inner));
            w.FcProj.Multiply(_swiGlu ? _act : _ff, _norm, rows, w.FcProjBias, _pool, segments);
            TensorPrimitives.Add(all, _norm.AsSpan(0, rows * d), all);
        }

        LayerNorm(_x, _hidden, rows, m.FinalGamma, m.FinalBeta);
        int vocab = m.Config.VocabSize;
        if (n == 1)
        {
            var (session, _, count, lr) = _entries[0];
            var (hidden, logits) = session.PrepareOutput(count, lr);
            _hidden.AsSpan(0, count * d).CopyTo(hidden);
            m.OutputProjection.Multiply(_hidden.AsSpan((count - lr) * d, lr * d), logits, lr, ReadOnlySpan<float>.Empty, _pool);
        }
        else
        {
            // The logit rows of every session, gathered so the output projection also runs once.
            if (_logitInput.Length < logitRows * d) _logitInput = new float[logitRows * d];
            if ((long)_logits.Length < (long)logitRows * vocab) _logits = new float[checked(logitRows * vocab)];
            int at = 0;
            foreach (var (_, start, count, lr) in _entries)
            {
                _hidden.AsSpan((start + count - lr) * d, lr * d).CopyTo(_logitInput.AsSpan(at * d));
                at += lr;
            }
            m.OutputProjection.Multiply(_logitInput, _logits, logitRows, ReadOnlySpan<float>.Empty, _pool, _logitSegments.AsSpan(0, n));
            at = 0;
            foreach (var (session, start, count, lr) in _entries)
            {
                var (hidden, logits) = session.PrepareOutput(count, lr);
                _hidden.AsSpan(start * d, count * d).CopyTo(hidden);
                _logits.AsSpan(at * vocab, lr * vocab).CopyTo(logits);
                at += lr;
            }
        }
        foreach (var (session, _, count, _) in _entries) session.Commit(count);
    }

    void EnsureRows(int k)
    {
        if (k <= _rowCapacity) return;
        _rowCapacity = Math.Max(k, Math.Max(4, _rowCapacity * 2));
        int d = _d, r = _rowCapacity;
        _x = new float[r * d]; _norm = new float[r * d]; _qkv = new float[r * (_q + 2 * _kv)]; _attn = new float[r * _q];
        _ff = new float[r * (_swiGlu ? 2 : 1) * _inner]; _act = _swiGlu ? new float[r * _inner] : []; _hidden = new float[r * d];
    }

    /// <summary>LayerNorm, or RMSNorm (no centring, no shift) when the architecture says so.</summary>
    void LayerNorm(float[] input, float[] output, int rows, float[] gamma, float[] beta)
    {
        int d = _d;
        float eps = _model.Config.LayerNormEpsilon;
        for (int p = 0; p < rows; p++)
        {
            var x = input.AsSpan(p * d, d);
            var y = output.AsSpan(p * d, d);
            if (!_layerNorm)
            {
                TensorPrimitives.Multiply(x, 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / d + eps), y);
                TensorPrimitives.Multiply(y, gamma, y);
                continue;
            }
            float mean = TensorPrimitives.Sum(x) / d;
            TensorPrimitives.Subtract(x, mean, y);
            float variance = TensorPrimitives.SumOfSquares(y) / d;
            TensorPrimitives.Multiply(y, 1f / MathF.Sqrt(variance + eps), y);
            TensorPrimitives.FusedMultiplyAdd(y, gamma, beta, y);
        }
    }

    /// <summary>SwiGLU: act = silu(gate) x up, from rows [gate (f) | up (f)] of the fused input projection.</summary>
    void SwiGlu(float[] ff, float[] act, int rows)
    {
        int f = _inner;
        for (int p = 0; p < rows; p++)
        {
            var gate = ff.AsSpan(p * 2 * f, f);
            var y = act.AsSpan(p * f, f);
            TensorPrimitives.Sigmoid(gate, y);
            TensorPrimitives.Multiply(y, gate, y);
            TensorPrimitives.Multiply(y, ff.AsSpan(p * 2 * f + f, f), y);
        }
    }

    // Attention of every session's new positions, heads split across workers (each worker takes
    // the same heads of every session: heads are independent, so the split never changes a bit).
    int _attnLayer, _attnParts;
    Action<int>? _attnJob;

    void Attention(int layer)
    {
        _attnLayer = layer;
        long work = 0;
        foreach (var (session, _, count, _) in _entries) work += (long)count * (session.Length + count) * _d;
        _attnParts = work < 32 * 1024 ? 1 : Math.Min(_pool.ThreadCount, _heads);
        if (_attnParts == 1) AttentionPart(0);
        else _pool.Run(_attnParts, _attnJob ??= AttentionPart);
    }

    unsafe void AttentionPart(int part)
    {
        int h0 = _heads * part / _attnParts, h1 = _heads * (part + 1) / _attnParts, width = _q + 2 * _kv;
        fixed (float* qkv = _qkv, attn = _attn, scores = _scores[part])
            foreach (var (session, start, count, _) in _entries)
                session.Attend(_attnLayer, qkv + (long)start * width, attn + (long)start * _q, count, h0, h1, scores);
    }
}
