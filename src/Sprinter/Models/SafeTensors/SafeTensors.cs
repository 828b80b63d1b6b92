using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sprinter.Models;

// No maintained .NET package reads or writes safetensors, so this file does both. Format: an
// 8-byte little-endian header length N, N bytes of JSON naming each tensor's dtype, shape and
// [begin, end) byte range in the data that follows, then the data with no holes.

public enum TensorDType { F32, F16, BF16 }

public sealed record TensorInfo(string Name, TensorDType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>A memory-mapped, fully validated safetensors file. Tensor data is read on demand.</summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    readonly MemoryMappedFile? _map;
    readonly MemoryMappedViewAccessor? _view;
    readonly byte* _base;
    readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr, long dataStart,
        Dictionary<string, TensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path; _map = map; _view = view; _base = basePtr; _dataStart = dataStart;
        Tensors = tensors; Metadata = metadata;
    }

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: file not found.");
        long length = new FileInfo(path).Length;
        if (length < 8) throw new InvalidInputException($"{path}: truncated safetensors file ({length} bytes; the 8-byte header length is missing).");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* ptr = null;
        try
        {
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            ptr += view.PointerOffset;
            var span = new ReadOnlySpan<byte>(ptr, (int)Math.Min(length, int.MaxValue));
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(span);
            // A hostile header length must not make us allocate more than the file holds.
            if (headerLength > (ulong)(length - 8) || headerLength > int.MaxValue)
                throw new InvalidInputException($"{path}: header length {headerLength} is larger than the file ({length} bytes); the file is truncated or not safetensors.");
            var (tensors, metadata) = ParseHeader(path, span.Slice(8, (int)headerLength), length - 8 - (long)headerLength);
            return new SafeTensorsFile(path, map, view, ptr, 8 + (long)headerLength, tensors, metadata);
        }
        catch
        {
            if (ptr != null) view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose(); map.Dispose();
            throw;
        }
    }

    static (Dictionary<string, TensorInfo>, Dictionary<string, string>) ParseHeader(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        JsonObject root;
        try
        {
            // Decoded strictly first: System.Text.Json decodes names lazily, so invalid UTF-8 in a
            // tensor name would otherwise surface later as an InvalidOperationException.
            string text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(header);
            root = JsonNode.Parse(text) as JsonObject ?? throw new InvalidInputException($"{path}: the header is not a JSON object.");
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException)
        {
            throw new InvalidInputException($"{path}: the header is not valid JSON ({e.Message}); the file is corrupt.");
        }
        var tensors = new Dictionary<string, TensorInfo>();
        var metadata = new Dictionary<string, string>();
        foreach (var (name, node) in root)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject meta)
                    foreach (var (k, v) in meta) metadata[k] = v is JsonValue jv && jv.TryGetValue(out string? s) ? s : v?.ToJsonString() ?? "";
                continue;
            }
            tensors[name] = ParseTensor(path, name, node, dataLength);
        }
        // The data must be covered exactly once, in order: no overlap, no hole, nothing left over.
        long expected = 0;
        foreach (var t in tensors.Values.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (t.Begin < expected)
                throw new InvalidInputException($"{path}: tensor '{t.Name}' data [{t.Begin}, {t.End}) overlaps the tensor before it; the file is corrupt.");
            if (t.Begin > expected)
                throw new InvalidInputException($"{path}: tensor data is not contiguous: a hole at bytes [{expected}, {t.Begin}) before '{t.Name}'; the file is corrupt.");
            expected = t.End;
        }
        if (expected != dataLength)
            throw new InvalidInputException($"{path}: the tensors cover {expected} bytes but the data section holds {dataLength}; the file is truncated or corrupt.");
        return (tensors, metadata);
    }

    static TensorInfo ParseTensor(string path, string name, JsonNode? node, long dataLength)
    {
        string Bad(string what) => $"{path}: tensor '{name}' {what}; the file is corrupt.";
        if (node is not JsonObject obj) throw new InvalidInputException(Bad("has no description object"));
        string dtypeText = obj["dtype"] is JsonValue dv && dv.TryGetValue(out string? s) ? s : throw new InvalidInputException(Bad("has no dtype"));
        TensorDType dtype = dtypeText switch
        {
            "F32" => TensorDType.F32,
            "F16" => TensorDType.F16,
            "BF16" => TensorDType.BF16,
            _ => throw new InvalidInputException($"{path}: tensor '{name}' has dtype {dtypeText}; only F32, F16 and BF16 are supported."),
        };
        if (obj["shape"] is not JsonArray shapeNode) throw new InvalidInputException(Bad("has no shape"));
        var shape = new long[shapeNode.Count];
        for (int i = 0; i < shape.Length; i++)
            shape[i] = shapeNode[i] is JsonValue sv && sv.TryGetValue(out long dim) && dim >= 0 ? dim : throw new InvalidInputException(Bad("has a negative or non-integer dimension"));
        if (obj["data_offsets"] is not JsonArray offsets || offsets.Count != 2) throw new InvalidInputException(Bad("has no [begin, end] data_offsets"));
        long begin = offsets[0] is JsonValue bv && bv.TryGetValue(out long b) ? b : -1;
        long end = offsets[1] is JsonValue ev && ev.TryGetValue(out long e) ? e : -1;
        if (begin < 0 || end < begin || end > dataLength)
            throw new InvalidInputException($"{path}: tensor '{name}' data_offsets [{begin}, {end}) are out of range (data section is {dataLength} bytes); the file is truncated or corrupt.");
        long elements;
        try { elements = shape.Aggregate(1L, (a, x) => checked(a * x)); }
        catch (OverflowException) { throw new InvalidInputException(Bad("has a shape too large to exist")); }
        long bytes = elements * (dtype == TensorDType.F32 ? 4 : 2);
        if (bytes != end - begin)
            throw new InvalidInputException($"{path}: tensor '{name}' has shape [{string.Join(", ", shape)}] {dtypeText} ({bytes} bytes) but its data_offsets span {end - begin} bytes; the file is corrupt.");
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    public ReadOnlySpan<byte> RawBytes(TensorInfo t) => new(_base + _dataStart + t.Begin, checked((int)(t.End - t.Begin)));

    /// <summary>Reads a tensor into a new float array, widening F16 and BF16.</summary>
    public float[] ReadFloats(TensorInfo t)
    {
        var result = new float[t.ElementCount];
        ReadFloats(t, result);
        return result;
    }

    /// <summary>Reads a tensor into the first ElementCount floats of <paramref name="result"/>.</summary>
    public void ReadFloats(TensorInfo t, Span<float> result)
    {
        result = result[..checked((int)t.ElementCount)];
        var raw = RawBytes(t);
        switch (t.DType)
        {
            case TensorDType.F32:
                MemoryMarshal.Cast<byte, float>(raw).CopyTo(result);
                break;
            case TensorDType.BF16:
                var bf = MemoryMarshal.Cast<byte, ushort>(raw);
                for (int i = 0; i < result.Length; i++) result[i] = BFloat16.ToFloat(bf[i]);
                break;
            case TensorDType.F16:
                var half = MemoryMarshal.Cast<byte, Half>(raw);
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(half, result);
                break;
        }
    }

    public void Dispose()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}

/// <summary>One tensor to write: float data stored as the given dtype.</summary>
public sealed record TensorToWrite(string Name, long[] Shape, float[] Data, TensorDType DType = TensorDType.F32);

public static class SafeTensorsWriter
{
    /// <summary>Writes atomically: a temporary file beside the target, renamed when complete.</summary>
    public static void Write(string path, IEnumerable<TensorToWrite> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var t in list)
        {
            long elements = t.Shape.Aggregate(1L, (a, b) => a * b);
            if (elements != t.Data.Length)
                throw new ArgumentException($"tensor '{t.Name}': shape [{string.Join(", ", t.Shape)}] does not match {t.Data.Length} values");
            long bytes = elements * (t.DType == TensorDType.F32 ? 4 : 2);
            header[t.Name] = new JsonObject
            {
                ["dtype"] = t.DType.ToString(),
                ["shape"] = new JsonArray(t.Shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (headerBytes.Length + 7) / 8 * 8; // keep the data 8-byte aligned, padding with spaces
        string tmp = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
                stream.Write(len);
                stream.Write(headerBytes);
                for (int i = headerBytes.Length; i < padded; i++) stream.WriteByte((byte)' ');
                foreach (var t in list) WriteData(stream, t);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    static void WriteData(Stream stream, TensorToWrite t)
    {
        switch (t.DType)
        {
            case TensorDType.F32:
                stream.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
                break;
            case TensorDType.BF16:
                var bf = new ushort[t.Data.Length];
                for (int i = 0; i < bf.Length; i++) bf[i] = BFloat16.FromFloat(t.Data[i]);
                stream.Write(MemoryMarshal.AsBytes(bf.AsSpan()));
                break;
            case TensorDType.F16:
                var half = new Half[t.Data.Length];
                System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(t.Data, half);
                stream.Write(MemoryMarshal.AsBytes(half.AsSpan()));
                break;
        }
    }
}

/// <summary>bfloat16: the top 16 bits of an IEEE float.</summary>
public static class BFloat16
{
    public static float ToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Round to nearest even, keeping NaN a NaN.</summary>
    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + rounding) >> 16);
    }

    public static float Round(float value) => ToFloat(FromFloat(value));
}
