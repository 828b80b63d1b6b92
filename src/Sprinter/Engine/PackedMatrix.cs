using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Sprinter.Models;

namespace Sprinter.Engine;

/// <summary>
/// Run-time weight types: fp32, bfloat16, GGUF-style Q8_0 (int8 blocks of 32 with one scale each),
/// and the GGUF types Q4_0, Q4_K, Q6_K and Q5_K kept as their blocks (<see cref="IQ4Format"/>; Q6_K
/// and Q5_K only from a file's blocks: there is no quantizer for them at load).
/// </summary>
public enum WeightType { F32, BF16, Q8_0, Q4_0, Q4_K, Q6_K, Q5_K }

public static class WeightTypes
{
    /// <summary>The name used by --dtype, reports and JSON: fp32, bf16, q8_0, q4_0, q4_k, q5_k, q6_k.</summary>
    public static string Name(this WeightType type) => type switch
    {
        WeightType.F32 => "fp32",
        WeightType.BF16 => "bf16",
        WeightType.Q4_0 => "q4_0",
        WeightType.Q4_K => "q4_k",
        WeightType.Q6_K => "q6_k",
        WeightType.Q5_K => "q5_k",
        _ => "q8_0",
    };

    /// <summary>Parses a dtype value; null for auto. Throws <see cref="InvalidSettingException"/> naming <paramref name="setting"/>.</summary>
    public static WeightType? Parse(string text, string setting = "dtype") => text.Trim().ToLowerInvariant() switch
    {
        "auto" => null,
        "fp32" or "f32" or "float32" => WeightType.F32,
        "bf16" or "bfloat16" => WeightType.BF16,
        "q8_0" or "q8" or "int8" => WeightType.Q8_0,
        "q4_0" => WeightType.Q4_0,
        "q4_k" => WeightType.Q4_K,
        "q5_k" => WeightType.Q5_K,
        _ => throw new InvalidSettingException(setting, $"must be auto, fp32, bf16, q8_0, q4_0, q4_k or q5_k, got '{text}'."),
    };

    /// <summary>
    /// The type a matrix with <paramref name="input"/> rows runs as when <paramref name="type"/> is
    /// asked for: Q4_K needs whole super-blocks of 256 inputs and Q4_0 whole blocks of 32; a matrix
    /// that has neither runs as the next type that fits (Q4_K -> Q4_0 -> Q8_0), as llama.cpp's
    /// quantizer also falls back for such tensors.
    /// </summary>
    public static WeightType Fit(this WeightType type, int input) => type switch
    {
        WeightType.Q4_K when input % 256 != 0 => WeightType.Q4_0.Fit(input),
        WeightType.Q4_0 when input % 32 != 0 => WeightType.Q8_0,
        _ => type,
    };
}

/// <summary>
/// One run of output columns of a matrix being built: either floats (packed at
/// <see cref="Type"/>), or a GGUF tensor's rows of Q4_0 / Q4_K / Q5_K / Q6_K blocks (one row per output) kept as
/// they are. Float data is [in, out] or [out, in] as the caller's layout says.
/// </summary>
public sealed class MatrixPart
{
    public required int Outputs { get; init; }
    public float[]? Floats { get; init; }
    public byte[]? Blocks { get; init; }
    public required WeightType Type { get; init; }
}

/// <summary>
/// A weight matrix W[in, out] in the packed layout the kernels stream: outputs are grouped in
/// tiles of 32 columns and each tile stores its input rows one after another in blocks of 32
/// rows (the layout of a block is the weight format's: see <see cref="IWeightFormat"/>), so a
/// tile is read front to back exactly once per block of positions and stays in L2 while further
/// positions reuse it.
/// </summary>
public sealed unsafe class PackedMatrix : IDisposable
{
    public const int TileWidth = 32;
    // Below this many multiply-adds a product runs on the calling thread: waking the other core
    // costs a few microseconds. Measured on the shipped draft (2 x 128, bf16, bench-engine, k = 1,
    // 101 passes, Zen 5): 0.035-0.037 ms per pass at 64 Ki, 0.030-0.031 at 256 Ki and at 1 Mi,
    // 0.040-0.041 all on one thread; the shipped target was unchanged (0.34-0.40 ms either way).
    const long ParallelThreshold = 256 * 1024;

    /// <summary>
    /// A run of tiles of one type. A matrix has one, or several when its fused parts come from a
    /// file in different block types (a Q4_K_M file's q and k in Q4_K beside v in Q6_K, each run natively).
    /// </summary>
    readonly record struct Segment(int TileStart, int TileEnd, WeightType Type, long Offset, long TileBytes);

    readonly byte* _data;
    readonly Segment[] _segments;
    /// <summary>Whether any segment runs in the integer kernels (their activations are rounded to 8-bit blocks per call).</summary>
    readonly bool _hasBlockTypes;
    public int In { get; }
    public int Out { get; }
    public int Tiles { get; }
    /// <summary>The weight type of most of the tiles (the only one unless the matrix was built from mixed parts).</summary>
    public WeightType Type { get; }
    /// <summary>The type of every run of tiles, in output order.</summary>
    public IEnumerable<WeightType> Types => _segments.Select(s => s.Type);
    public long Bytes { get; }

    PackedMatrix(int input, int output, (int Outputs, WeightType Type)[] parts)
    {
        In = input; Out = output;
        Tiles = (output + TileWidth - 1) / TileWidth;
        _segments = new Segment[parts.Length];
        int tile = 0;
        long offset = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            int tiles = i == parts.Length - 1 ? Tiles - tile : parts[i].Outputs / TileWidth;
            long tileBytes = TileBytes(parts[i].Type, input);
            _segments[i] = new Segment(tile, tile + tiles, parts[i].Type, offset, tileBytes);
            tile += tiles;
            offset += tiles * tileBytes;
        }
        Bytes = offset;
        Type = _segments.GroupBy(s => s.Type).MaxBy(g => g.Sum(s => s.TileEnd - s.TileStart))!.Key;
        _hasBlockTypes = _segments.Any(s => s.Type is WeightType.Q4_0 or WeightType.Q4_K or WeightType.Q5_K or WeightType.Q6_K);
        // Not cleared: Pack writes every byte, tile by tile on both cores, so the first touch of these
        // pages (the slow part of a load on this VM) is split between them.
        _data = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(Bytes, 64), 64);
    }

    static long TileBytes(WeightType type, int input) => type switch
    {
        WeightType.F32 => F32Format.TileBytes(input),
        WeightType.BF16 => BF16Format.TileBytes(input),
        WeightType.Q8_0 => Q8Format.TileBytes(input),
        WeightType.Q4_0 => Q4_0Format.TileBytes(input),
        WeightType.Q4_K => Q4KFormat.TileBytes(input),
        WeightType.Q6_K => Q6KFormat.TileBytes(input),
        WeightType.Q5_K => Q5KFormat.TileBytes(input),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>From a row-major [in, out] array (GPT-2's Conv1D layout).</summary>
    public static PackedMatrix FromInOut(ReadOnlySpan<float> w, int input, int output, WeightType type)
    {
        var m = new PackedMatrix(input, output, [(output, type.Fit(input))]);
        fixed (float* p = w) m.Pack([(IntPtr)p], [null], outIn: false);
        return m;
    }

    /// <summary>From a row-major [out, in] array (torch Linear layout, and the embedding table used as lm_head).</summary>
    public static PackedMatrix FromOutIn(ReadOnlySpan<float> w, int input, int output, WeightType type)
    {
        var m = new PackedMatrix(input, output, [(output, type.Fit(input))]);
        fixed (float* p = w) m.Pack([(IntPtr)p], [null], outIn: true);
        return m;
    }

    /// <summary>
    /// Output columns from parts one after another (fused q/k/v or gate/up), each in its own type:
    /// float parts as [in, out] (<paramref name="outIn"/> false) or [out, in], block parts as the
    /// file's rows. Every part but the last must have a multiple of 32 outputs (a tile holds one
    /// type); callers check <see cref="CanSplit"/> first.
    /// </summary>
    public static PackedMatrix FromParts(IReadOnlyList<MatrixPart> parts, int input, bool outIn)
    {
        if (!CanSplit(parts.Select(p => p.Outputs).ToList())) throw new ArgumentException("every part but the last needs a multiple of 32 outputs");
        var m = new PackedMatrix(input, parts.Sum(p => p.Outputs), parts.Select(p => (p.Outputs, p.Blocks is null ? p.Type.Fit(input) : p.Type)).ToArray());
        var floats = new GCHandle[parts.Count];
        var blocks = new GCHandle[parts.Count];
        try
        {
            var sources = new IntPtr[parts.Count];
            var blockSources = new IntPtr?[parts.Count];
            for (int i = 0; i < parts.Count; i++)
            {
                if (parts[i].Blocks is { } b) { blocks[i] = GCHandle.Alloc(b, GCHandleType.Pinned); blockSources[i] = blocks[i].AddrOfPinnedObject(); }
                else { floats[i] = GCHandle.Alloc(parts[i].Floats ?? throw new ArgumentException("a part needs floats or blocks"), GCHandleType.Pinned); sources[i] = floats[i].AddrOfPinnedObject(); }
            }
            m.Pack(sources, blockSources, outIn);
        }
        finally
        {
            foreach (var h in floats) if (h.IsAllocated) h.Free();
            foreach (var h in blocks) if (h.IsAllocated) h.Free();
        }
        return m;
    }

    /// <summary>Whether parts of these output counts can be separate runs of tiles.</summary>
    public static bool CanSplit(IReadOnlyList<int> outputs) => outputs.Take(outputs.Count - 1).All(o => o % TileWidth == 0);

    /// <summary>
    /// Encodes every tile: float sources gathered into a [row, 32 lanes] buffer (or, for the 4-bit
    /// types, quantized per output row by ggml's reference quantizer first), block sources repacked
    /// as they are. Tiles are independent, so both cores pack (a 1B model's load was dominated by packing).
    /// </summary>
    void Pack(IntPtr[] sources, IntPtr?[] blockSources, bool outIn)
    {
        long input = In;
        var pool = WorkerPool.Shared;
        int parts = Math.Min(pool.ThreadCount, Tiles);
        void PackTiles(int part)
        {
            int start = (int)((long)Tiles * part / parts), end = (int)((long)Tiles * (part + 1) / parts);
            float[]? buffer = null;
            byte[]? rowBlocks = null;
            for (int si = 0; si < _segments.Length; si++)
            {
                var seg = _segments[si];
                int colStart = seg.TileStart * TileWidth;
                int segOut = si == _segments.Length - 1 ? Out - colStart : (seg.TileEnd - seg.TileStart) * TileWidth;
                for (int t = Math.Max(start, seg.TileStart); t < Math.Min(end, seg.TileEnd); t++)
                {
                    int col = t * TileWidth - colStart, width = Math.Min(TileWidth, segOut - col);
                    byte* tile = _data + seg.Offset + (t - seg.TileStart) * seg.TileBytes;
                    if (blockSources[si] is { } blocksPtr)
                    {
                        var fileType = seg.Type switch
                        {
                            WeightType.Q4_0 => Models.Gguf.GgmlType.Q4_0, WeightType.Q6_K => Models.Gguf.GgmlType.Q6_K,
                            WeightType.Q5_K => Models.Gguf.GgmlType.Q5_K, _ => Models.Gguf.GgmlType.Q4_K,
                        };
                        long rowBytes = Models.Gguf.GgmlTypes.RowBytes(fileType, In);
                        PackBlocks(seg.Type, (byte*)blocksPtr + col * rowBytes, rowBytes, width, tile);
                        continue;
                    }
                    float* w = (float*)sources[si];
                    if (seg.Type is WeightType.Q6_K or WeightType.Q5_K) throw new ArgumentException($"{seg.Type.Name()} is packed only from a file's blocks");
                    if (seg.Type is WeightType.Q4_0 or WeightType.Q4_K)
                    {
                        // One output row at a time through ggml's quantizer, then the tile from those blocks.
                        var fileType = seg.Type == WeightType.Q4_0 ? Models.Gguf.GgmlType.Q4_0 : Models.Gguf.GgmlType.Q4_K;
                        long rowBytes = Models.Gguf.GgmlTypes.RowBytes(fileType, In);
                        buffer ??= new float[input];
                        rowBlocks ??= new byte[rowBytes * TileWidth];
                        fixed (float* row = buffer) fixed (byte* blocks = rowBlocks)
                        {
                            for (int j = 0; j < width; j++)
                            {
                                if (outIn) Buffer.MemoryCopy(w + (col + j) * input, row, input * 4, input * 4);
                                else for (long i = 0; i < input; i++) row[i] = w[i * segOut + col + j];
                                Models.Gguf.GgmlQuantizer.Quantize(fileType, row, blocks + j * rowBytes, input);
                            }
                            PackBlocks(seg.Type, blocks, rowBytes, width, tile);
                        }
                        continue;
                    }
                    buffer = buffer is { Length: var l } && l == input * TileWidth ? buffer : new float[input * TileWidth];
                    Array.Clear(buffer);
                    fixed (float* src = buffer)
                    {
                        if (outIn)
                            for (int j = 0; j < width; j++)
                            {
                                float* column = w + (col + j) * input;   // W[:, col + j] is row col + j of [out, in]
                                for (long i = 0; i < input; i++) src[i * TileWidth + j] = column[i];
                            }
                        else
                            for (long i = 0; i < input; i++) Buffer.MemoryCopy(w + i * segOut + col, src + i * TileWidth, TileWidth * 4, width * 4);
                        switch (seg.Type)
                        {
                            case WeightType.F32: F32Format.Pack(src, In, tile); break;
                            case WeightType.BF16: BF16Format.Pack(src, In, tile); break;
                            default: Q8Format.Pack(src, In, tile); break;
                        }
                    }
                }
            }
        }
        if (parts > 1 && pool.TryAcquire())
        {
            try { pool.RunAcquired(parts, PackTiles); }
            finally { pool.Release(); }
        }
        else for (int part = 0; part < parts; part++) PackTiles(part);
    }

    static void PackBlocks(WeightType type, byte* rows, long stride, int lanes, byte* tile, int input)
    {
        if (type == WeightType.Q4_0) Q4_0Format.PackBlocks(rows, stride, lanes, input, tile);
        else if (type == WeightType.Q6_K) Q6KFormat.PackBlocks(rows, stride, lanes, input, tile);
        else if (type == WeightType.Q5_K) Q5KFormat.PackBlocks(rows, stride, lanes, input, tile);
        else Q4KFormat.PackBlocks(rows, stride, lanes, input, tile);
    }

    void PackBlocks(WeightType type, byte* rows, long stride, int lanes, byte* tile) => PackBlocks(type, rows, stride, lanes, tile, In);

    Segment SegmentOf(int tile)
    {
        foreach (var s in _segments) if (tile < s.TileEnd) return s;
        throw new ArgumentOutOfRangeException(nameof(tile));
    }

    /// <summary>The stored weight W[i, o] as the kernels see it (after rounding or quantization).</summary>
    public float Get(int i, int o)
    {
        var s = SegmentOf(o / TileWidth);
        byte* tile = _data + s.Offset + (o / TileWidth - s.TileStart) * s.TileBytes;
        return s.Type switch
        {
            WeightType.F32 => F32Format.Get(tile, i, o % TileWidth),
            WeightType.BF16 => BF16Format.Get(tile, i, o % TileWidth),
            WeightType.Q4_0 => Q4_0Format.Get(tile, i, o % TileWidth),
            WeightType.Q4_K => Q4KFormat.Get(tile, i, o % TileWidth),
            WeightType.Q6_K => Q6KFormat.Get(tile, i, o % TileWidth),
            WeightType.Q5_K => Q5KFormat.Get(tile, i, o % TileWidth),
            _ => Q8Format.Get(tile, i, o % TileWidth),
        };
    }

    /// <summary>Copies column o (all inputs) into dest: the embedding row of token o when this is lm_head.</summary>
    public void GetColumn(int o, Span<float> dest)
    {
        for (int i = 0; i < In; i++) dest[i] = Get(i, o);
    }

    /// <summary>Unpacks to a row-major [in, out] array.</summary>
    public float[] ToInOut()
    {
        var w = new float[(long)In * Out];
        for (int i = 0; i < In; i++)
            for (int o = 0; o < Out; o++) w[(long)i * Out + o] = Get(i, o);
        return w;
    }

    /// <summary>y[p, :] = x[p, :] W (+ bias) for p in [0, rows); x is [rows, In], y is [rows, Out], row-major.</summary>
    /// <remarks>Each row's result is the same whatever rows share the call (see <see cref="MatMulKernels"/>), so a
    /// pass over the rows of many sequences gives each one the bits of its own pass.</remarks>
    public void Multiply(ReadOnlySpan<float> x, Span<float> y, int rows, ReadOnlySpan<float> bias, WorkerPool? pool = null)
    {
        if (x.Length < rows * In || y.Length < rows * Out) throw new ArgumentException("x or y is too small");
        if (!bias.IsEmpty && bias.Length < Out) throw new ArgumentException("bias is too small");
        // The integer kernels' 8-bit activations, rounded once per call for every segment and worker.
        byte[]? rented = _hasBlockTypes ? ArrayPool<byte>.Shared.Rent((int)ActivationBlocks.BufferBytes(rows, In)) : null;
        try
        {
        fixed (float* xp = x) fixed (float* yp = y) fixed (float* bp = bias) fixed (byte* ab = rented)
        {
            var act = default(ActivationBlocks);
            if (rented != null)
            {
                act = new ActivationBlocks(ab, rows, In);
                act.Quantize(xp, rows, In);
            }
            var job = new MatMulJob(this, xp, yp, bp, rows, act);
            pool ??= WorkerPool.Shared;
            long work = (long)rows * In * Out;
            int parts = work < ParallelThreshold ? 1 : Math.Min(pool.ThreadCount, Tiles);
            // The job lives in fields (the cached delegate needs no closure), so it is written only
            // after this thread holds the pool; a thread that cannot get it runs the job inline.
            if (parts > 1 && pool.TryAcquire())
            {
                try
                {
                    _activeJob = job;
                    _activeParts = parts;
                    pool.RunAcquired(parts, _runPart ??= RunPart);
                    _activeJob = default;
                }
                finally { pool.Release(); }
            }
            else job.Run(0, Tiles);
        }
        }
        finally { if (rented != null) ArrayPool<byte>.Shared.Return(rented); }
    }

    // The job for the call in flight, kept in a field so the cached delegate needs no closure.
    MatMulJob _activeJob;
    int _activeParts;
    Action<int>? _runPart;

    void RunPart(int part)
    {
        int start = (int)((long)Tiles * part / _activeParts), end = (int)((long)Tiles * (part + 1) / _activeParts);
        _activeJob.Run(start, end);
    }

    readonly struct MatMulJob(PackedMatrix m, float* x, float* y, float* bias, int rows, ActivationBlocks act)
    {
        public void Run(int tileStart, int tileEnd)
        {
            foreach (var s in m._segments)
            {
                int start = Math.Max(tileStart, s.TileStart), end = Math.Min(tileEnd, s.TileEnd);
                if (end <= start) continue;
                // Tile t of the segment sits at data + t * TileBytes for the kernels' global tile numbers.
                byte* data = m._data + s.Offset - s.TileStart * s.TileBytes;
                switch (s.Type)
                {
                    case WeightType.F32: MatMulKernels.Run<F32Format>(m, data, x, y, bias, rows, start, end); break;
                    case WeightType.BF16: MatMulKernels.Run<BF16Format>(m, data, x, y, bias, rows, start, end); break;
                    case WeightType.Q4_0: Q4Kernels.Run<Q4_0Format>(m.In, m.Out, data, act, y, bias, rows, start, end); break;
                    case WeightType.Q4_K: Q4Kernels.Run<Q4KFormat>(m.In, m.Out, data, act, y, bias, rows, start, end); break;
                    case WeightType.Q6_K: Q4Kernels.Run<Q6KFormat>(m.In, m.Out, data, act, y, bias, rows, start, end); break;
                    case WeightType.Q5_K: Q4Kernels.Run<Q5KFormat>(m.In, m.Out, data, act, y, bias, rows, start, end); break;
                    default: MatMulKernels.Run<Q8Format>(m, data, x, y, bias, rows, start, end); break;
                }
            }
        }
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_data);
        GC.SuppressFinalize(this);
    }

    ~PackedMatrix() => NativeMemory.AlignedFree(_data);
}
