using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Sprinter.Models;

namespace Sprinter.Engine;

/// <summary>
/// One sequence's state for a <see cref="TransformerModel"/>: a position-indexed KV cache allocated once,
/// and scratch buffers that grow only when a call brings more positions than any before.
/// <see cref="Forward"/> appends 1..k tokens; <see cref="Truncate"/> rolls back in O(1) by
/// shortening <see cref="Length"/> (later writes overwrite the stale rows).
/// </summary>
public sealed class TransformerSession : Decoding.ITargetSession
{
    readonly TransformerModel _model;
    readonly int _d, _heads, _headSize, _vocab, _q, _kv, _kvGroup;
    readonly bool _rope;
    readonly bool[] _localLayer;
    readonly float[] _keys, _values;   // [layer, position, key/value heads x head size]
    readonly float[] _cos = [], _sin = [];   // rotary tables [position, head size / 2]

    float[] _hidden = [], _logits = [];
    int _logitRows, _rows;

    public int Length { get; private set; }
    public int Capacity { get; }
    public TransformerModel Model => _model;
    /// <summary>Rows of logits from the last call: every new position, or only the last one.</summary>
    public int LogitRows => _logitRows;
    public int HiddenRows => _rows;

    internal TransformerSession(TransformerModel model, int capacity)
    {
        _model = model;
        var c = model.Config;
        if (capacity < 1 || capacity > c.MaxPositions)
            throw new ArgumentOutOfRangeException(nameof(capacity), $"context must be in [1, {c.MaxPositions}]");
        Capacity = capacity;
        (_d, _heads, _headSize, _vocab) = (c.EmbeddingSize, c.HeadCount, c.HeadSize, c.VocabSize);
        (_q, _kv, _kvGroup) = (c.QuerySize, c.KeyValueSize, c.HeadCount / c.KeyValueHeads);
        _rope = c.Positions == PositionKind.Rope;
        _localLayer = Enumerable.Range(0, c.LayerCount).Select(l => c.LocalLayers.Contains(l)).ToArray();
        _keys = new float[(long)c.LayerCount * capacity * _kv];
        _values = new float[(long)c.LayerCount * capacity * _kv];
        if (_rope) (_cos, _sin) = RotaryTables(capacity, _headSize, c.RopeTheta, c.RopeScaling);
        PrepareOutput(1, 1);
        _rows = _logitRows = 0;
    }

    /// <summary>Logits of the given output row (0-based among <see cref="LogitRows"/>).</summary>
    public ReadOnlySpan<float> Logits(int row) => _logits.AsSpan(row * _vocab, _model.OutputVocabulary);

    /// <summary>Final hidden state (after ln_f) of the given new position of the last call.</summary>
    public ReadOnlySpan<float> Hidden(int row) => _hidden.AsSpan(row * _d, _d);

    /// <summary>Rolls the cache back to <paramref name="length"/> tokens. O(1).</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), $"length {length} is outside [0, {Length}]");
        Length = length;
    }

    public void Reset() => Length = 0;

    // ITargetSession: a local session is the target's KV cache itself.
    int Decoding.ITargetSession.OutputVocabulary => _model.OutputVocabulary;
    ModelConfig? Decoding.ITargetSession.Config => _model.Config;
    Decoding.RemoteCallStats? Decoding.ITargetSession.Remote => null;
    void Decoding.ITargetSession.Prefill(ReadOnlySpan<int> tokens) => Forward(tokens, logitRows: 1);
    void Decoding.ITargetSession.Forward(ReadOnlySpan<int> tokens, int logitRows, CancellationToken cancellationToken) => Forward(tokens, logitRows);

    /// <summary>
    /// Appends <paramref name="tokens"/> at positions Length.. and computes their final hidden
    /// states and logits (for all of them, or only the last when <paramref name="allLogits"/> is false).
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, bool allLogits = true) => Forward(tokens, allLogits ? tokens.Length : 1);

    /// <summary>
    /// Appends <paramref name="tokens"/> and computes hidden states for all of them and logits for
    /// the last <paramref name="logitRows"/> (the output projection is a large share of a small
    /// model's cost, so callers ask only for the rows they read). A batch of one: the same code
    /// as a <see cref="TransformerBatch"/> over many sessions, so a session's results never depend
    /// on whether it ran alone.
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, int logitRows)
    {
        var solo = _solo ??= new TransformerBatch(_model);
        solo.Clear();
        solo.Add(this, tokens, logitRows);
        solo.Run();
    }

    TransformerBatch? _solo;

    /// <summary>Checks one call's tokens against this session (the batch calls it for each entry).</summary>
    internal void CheckAppend(ReadOnlySpan<int> tokens, int logitRows)
    {
        int k = tokens.Length;
        if (k == 0) throw new ArgumentException("no tokens to forward", nameof(tokens));
        if (logitRows < 1 || logitRows > k) throw new ArgumentOutOfRangeException(nameof(logitRows), $"logit rows must be in [1, {k}]");
        if (Length + k > Capacity)
            throw new InvalidInputException($"the sequence would be {Length + k} tokens but the model's context holds {Capacity} (n_positions); use a shorter prompt or fewer new tokens.");
        foreach (int t in tokens)
            if ((uint)t >= (uint)_model.OutputVocabulary) throw new InvalidInputException($"token id {t} is outside the vocabulary [0, {_model.OutputVocabulary}).");
    }

    /// <summary>Output buffers for <paramref name="rows"/> new positions and <paramref name="logitRows"/> logit rows.</summary>
    internal (float[] Hidden, float[] Logits) PrepareOutput(int rows, int logitRows)
    {
        if (_hidden.Length < rows * _d) _hidden = new float[Math.Max(rows, 4) * _d];
        if ((long)_logits.Length < (long)logitRows * _vocab)
            _logits = (long)Math.Max(logitRows, 4) * _vocab <= int.MaxValue ? new float[Math.Max(logitRows, 4) * _vocab]
                : throw new InvalidInputException("too many positions in one call for this vocabulary");
        (_rows, _logitRows) = (rows, logitRows);
        return (_hidden, _logits);
    }

    /// <summary>Marks the <paramref name="rows"/> positions of the finished call as cached.</summary>
    internal void Commit(int rows) => Length += rows;

    /// <summary>
    /// Layer <paramref name="layer"/>'s keys and values of this call's new positions, from their fused
    /// q/k/v rows: per-head norms (Qwen3), rotation to their positions, then into the cache.
    /// </summary>
    internal void StoreKeysValues(int layer, Span<float> qkv, int rows, float[] queryNorm, float[] keyNorm)
    {
        int q = _q, kv = _kv, width = q + 2 * kv, start = Length;
        long cacheBase = (long)layer * Capacity * kv;
        for (int p = 0; p < rows; p++)
        {
            var queries = qkv.Slice(p * width, q);
            var keys = qkv.Slice(p * width + q, kv);
            if (queryNorm.Length > 0) { HeadNorm(queries, queryNorm); HeadNorm(keys, keyNorm); }
            if (_rope) { Rotate(queries, start + p); Rotate(keys, start + p); }
            keys.CopyTo(_keys.AsSpan((int)(cacheBase + (long)(start + p) * kv), kv));
            qkv.Slice(p * width + q + kv, kv).CopyTo(_values.AsSpan((int)(cacheBase + (long)(start + p) * kv), kv));
        }
    }

    /// <summary>
    /// cos and sin of position x theta^(-2i / head size) for i below half the head size: Hugging
    /// Face's rotary embedding (inverse frequencies in fp32, as its models compute them).
    /// </summary>
    static (float[] Cos, float[] Sin) RotaryTables(int positions, int headSize, float theta, RopeScaling? scaling)
    {
        int half = headSize / 2;
        var cos = new float[positions * half];
        var sin = new float[positions * half];
        for (int i = 0; i < half; i++)
        {
            float inverse = 1f / MathF.Pow(theta, 2f * i / headSize);
            if (scaling is not null) inverse = (float)scaling.Scale(inverse, i);
            for (int pos = 0; pos < positions; pos++)
            {
                float angle = pos * inverse;
                cos[pos * half + i] = MathF.Cos(angle);
                sin[pos * half + i] = MathF.Sin(angle);
            }
        }
        return (cos, sin);
    }

    /// <summary>RMSNorm of each head of <paramref name="heads"/> in place (Qwen3's q_norm and k_norm).</summary>
    void HeadNorm(Span<float> heads, float[] gamma)
    {
        int hs = _headSize;
        float eps = _model.Config.LayerNormEpsilon;
        for (int h = 0; h < heads.Length; h += hs)
        {
            var x = heads.Slice(h, hs);
            TensorPrimitives.Multiply(x, 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / hs + eps), x);
            TensorPrimitives.Multiply(x, gamma, x);
        }
    }

    /// <summary>Rotates each head of <paramref name="heads"/> in place to its position (the rotate-halves layout of HF Llama).</summary>
    void Rotate(Span<float> heads, int position)
    {
        int hs = _headSize, half = hs / 2;
        var cos = _cos.AsSpan(position * half, half);
        var sin = _sin.AsSpan(position * half, half);
        for (int h = 0; h < heads.Length; h += hs)
        {
            var a = heads.Slice(h, half);
            var b = heads.Slice(h + half, half);
            for (int i = 0; i < half; i++)
            {
                float x = a[i], y = b[i];
                a[i] = x * cos[i] - y * sin[i];
                b[i] = y * cos[i] + x * sin[i];
            }
        }
    }

    /// <summary>GPT-2's tanh GELU in place: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
    internal static void GeluTanh(Span<float> x) => FastTanh.Gelu(x, x);

    /// <summary>
    /// Causal self-attention of this call's <paramref name="rows"/> new positions over the cache, for heads
    /// [<paramref name="h0"/>, <paramref name="h1"/>): queries from the fused q/k/v rows at <paramref name="qkv"/>,
    /// outputs to <paramref name="attn"/>. Heads are independent, so any split of them gives the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal unsafe void Attend(int layer, float* qkv, float* attn, int rows, int h0, int h1, float* scores)
    {
        int hs = _headSize;
        float scale = _model.Config.ScaledAttention ? 1f / MathF.Sqrt(hs) : 1f;
        // GPT-Neo's local layers see only the last LocalWindow positions.
        int window = _localLayer[layer] ? _model.Config.LocalWindow : int.MaxValue;
        int kv = _kv, width = _q + 2 * kv, start = Length;
        long cacheBase = (long)layer * Capacity * kv;
        fixed (float* keys = _keys, values = _values)
        {
            for (int p = 0; p < rows; p++)
            {
                int end = start + p + 1, first = Math.Max(0, end - window), visible = end - first;
                for (int h = h0; h < h1; h++)
                {
                    float* q = qkv + p * width + h * hs;
                    int kvHead = h / _kvGroup;   // grouped-query attention: heads share key/value heads
                    float* k = keys + cacheBase + (long)first * kv + kvHead * hs;
                    for (int j = 0; j < visible; j++, k += kv) scores[j] = HeadDot(q, k, hs) * scale;
                    TensorPrimitives.SoftMax(new ReadOnlySpan<float>(scores, visible), new Span<float>(scores, visible));
                    float* output = attn + p * _q + h * hs;
                    new Span<float>(output, hs).Clear();
                    float* v = values + cacheBase + (long)first * kv + kvHead * hs;
                    for (int j = 0; j < visible; j++, v += kv) HeadAxpy(output, v, scores[j], hs);
                }
            }
        }
    }

    // One head's dot product and axpy, inlined into the loop over cached positions: at a head size
    // of 64 the per-call set-up of TensorPrimitives.Dot / MultiplyAdd cost more than the arithmetic
    // (0.8 ms of a 2.1 ms step at 240 cached positions). Vector<float> keeps them width-generic.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe float HeadDot(float* a, float* b, int n)
    {
        int w = Vector<float>.Count, i = 0;
        var acc = Vector<float>.Zero;
        for (; i + w <= n; i += w) acc = Vector.FusedMultiplyAdd(Vector.Load(a + i), Vector.Load(b + i), acc);
        float sum = Vector.Sum(acc);
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void HeadAxpy(float* y, float* x, float alpha, int n)
    {
        int w = Vector<float>.Count, i = 0;
        var a = new Vector<float>(alpha);
        for (; i + w <= n; i += w) Vector.Store(Vector.FusedMultiplyAdd(Vector.Load(x + i), a, Vector.Load(y + i)), y + i);
        for (; i < n; i++) y[i] += alpha * x[i];
    }
}
