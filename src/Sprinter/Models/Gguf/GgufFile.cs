using System.IO.MemoryMappedFiles;
using System.Text;

namespace Sprinter.Models.Gguf;

/// <summary>One tensor of a GGUF file: its name, dimensions (fastest-varying first, as GGUF lists
/// them), block type, and where its bytes lie (from the start of the file).</summary>
public sealed record GgufTensor(string Name, long[] Dimensions, GgmlType Type, long Start, long Bytes)
{
    public long ElementCount => Dimensions.Aggregate(1L, (a, b) => a * b);
    public string ShapeText => "[" + string.Join(", ", Dimensions) + "]";
}

/// <summary>
/// A GGUF file (v2 or v3), memory-mapped: the metadata, the tensor table and each tensor's bytes,
/// validated against the file before anything is read from it. Every count and length is checked
/// against the bytes that remain, so a hostile file can neither make it allocate more than the file
/// holds nor read outside it; each problem is one <see cref="InvalidInputException"/> line naming the
/// file and the field. Hand-written: no NuGet package reads GGUF (LLamaSharp reads it only inside
/// llama.cpp, without exposing the tensors).
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    public const uint Magic = 0x46554747;   // "GGUF" little-endian
    const int DefaultAlignment = 32;

    // GGUF metadata value types.
    internal enum ValueType : uint { UInt8, Int8, UInt16, Int16, UInt32, Int32, Float32, Bool, String, Array, UInt64, Int64, Float64 }

    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _base;

    public string Path { get; }
    public long Length { get; }
    public uint Version { get; }
    public int Alignment { get; }
    public long DataStart { get; }
    /// <summary>Metadata by key: numbers as their C# types, strings, bools, and arrays as typed arrays (string[], int[], float[], ...).</summary>
    public IReadOnlyDictionary<string, object> Metadata { get; }
    public IReadOnlyDictionary<string, GgufTensor> Tensors { get; }
    /// <summary>The tensors in file order.</summary>
    public IReadOnlyList<GgufTensor> TensorList { get; }

    GgufFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr, long length)
    {
        // On a throw here, Open releases the mapping.
        Path = path; _map = map; _view = view; _base = basePtr; Length = length;
        {
            var r = new Reader(new ReadOnlySpan<byte>(basePtr, (int)Math.Min(length, int.MaxValue)), path, length);
            if (r.UInt32("magic") != Magic) throw new InvalidInputException($"{path}: not a GGUF file (the first four bytes are not 'GGUF').");
            Version = r.UInt32("version");
            if (Version is not (2 or 3))
                throw new InvalidInputException($"{path}: GGUF version {Version}; versions 2 and 3 are supported (convert older files with a current llama.cpp).");
            long tensorCount = r.Count("tensor_count", minBytesEach: 24);
            long metadataCount = r.Count("metadata_kv_count", minBytesEach: 13);
            var metadata = new Dictionary<string, object>((int)Math.Min(metadataCount, 4096));
            for (long i = 0; i < metadataCount; i++)
            {
                string key = r.String("metadata key");
                if (!metadata.TryAdd(key, r.Value(key)))
                    throw new InvalidInputException($"{path}: metadata key '{Flat(key)}' appears twice.");
            }
            Metadata = metadata;
            Alignment = DefaultAlignment;
            if (metadata.TryGetValue("general.alignment", out var a))
            {
                if (a is not uint align || align == 0 || (align & (align - 1)) != 0 || align > 1 << 20)
                    throw new InvalidInputException($"{path}: field 'general.alignment' is {a}; it must be a power of two (a u32).");
                Alignment = (int)align;
            }
            var infos = new List<(string Name, long[] Dims, uint Type, ulong Offset)>((int)Math.Min(tensorCount, 65536));
            for (long i = 0; i < tensorCount; i++)
            {
                string name = r.String("tensor name");
                uint dimCount = r.UInt32($"tensor '{Flat(name)}' n_dims");
                if (dimCount is 0 or > 4) throw new InvalidInputException($"{path}: tensor '{Flat(name)}' has {dimCount} dimensions; GGUF allows 1 to 4.");
                var dims = new long[dimCount];
                for (int d = 0; d < dimCount; d++)
                {
                    ulong dim = r.UInt64($"tensor '{Flat(name)}' dimension");
                    if (dim == 0 || dim > (ulong)length * 8)
                        throw new InvalidInputException($"{path}: tensor '{Flat(name)}' has dimension {dim}, which the file's {length} bytes cannot hold.");
                    dims[d] = (long)dim;
                }
                infos.Add((name, dims, r.UInt32($"tensor '{Flat(name)}' type"), r.UInt64($"tensor '{Flat(name)}' offset")));
            }
            DataStart = AlignUp(r.Position, Alignment);
            if (tensorCount > 0 && DataStart > length)
                throw new InvalidInputException($"{path}: the file ends at byte {length}, before its tensor data begins ({DataStart}); it is truncated.");
            (Tensors, TensorList) = Validate(infos);
        }
    }

    public static GgufFile Open(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: file not found.");
        long length = new FileInfo(path).Length;
        if (length < 24) throw new InvalidInputException($"{path}: {length} bytes, too short for a GGUF header; the file is truncated or not GGUF.");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        byte* ptr = null;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            return new GgufFile(path, map, view, ptr + view.PointerOffset, length);
        }
        catch
        {
            if (ptr != null && view is not null) view.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map.Dispose();
            throw;
        }
    }

    (Dictionary<string, GgufTensor>, List<GgufTensor>) Validate(List<(string Name, long[] Dims, uint Type, ulong Offset)> infos)
    {
        var byName = new Dictionary<string, GgufTensor>(infos.Count);
        var list = new List<GgufTensor>(infos.Count);
        foreach (var (name, dims, typeId, offset) in infos)
        {
            string n = Flat(name);
            var type = (GgmlType)typeId;
            if (!GgmlTypes.IsKnown(type)) throw new InvalidInputException($"{Path}: tensor '{n}' has type {typeId}, which is not a ggml type this reader knows.");
            long elements = 1;
            foreach (long d in dims)
                if (elements > long.MaxValue / d) throw new InvalidInputException($"{Path}: tensor '{n}' has dimensions {string.Join(" x ", dims)}, whose product overflows.");
                else elements *= d;
            if (dims[0] % GgmlTypes.BlockSize(type) != 0)
                throw new InvalidInputException($"{Path}: tensor '{n}' has rows of {dims[0]} elements, not a multiple of {GgmlTypes.Name(type)}'s block of {GgmlTypes.BlockSize(type)}.");
            long bytes;
            try { bytes = GgmlTypes.RowBytes(type, elements); }
            catch (OverflowException) { throw new InvalidInputException($"{Path}: tensor '{n}' is too large to address."); }
            if (offset % (ulong)Alignment != 0)
                throw new InvalidInputException($"{Path}: tensor '{n}' starts at data offset {offset}, not a multiple of the alignment {Alignment}.");
            if (offset > (ulong)Length || (long)offset > Length - DataStart || bytes > Length - DataStart - (long)offset)
                throw new InvalidInputException($"{Path}: tensor '{n}' ({bytes} bytes at data offset {offset}) lies outside the file's {Length} bytes; the file is truncated or corrupt.");
            var tensor = new GgufTensor(name, dims, type, DataStart + (long)offset, bytes);
            if (!byName.TryAdd(name, tensor)) throw new InvalidInputException($"{Path}: tensor '{n}' appears twice.");
            list.Add(tensor);
        }
        // Tensors must not share bytes: sort by start and compare neighbours.
        var sorted = list.Where(t => t.Bytes > 0).OrderBy(t => t.Start).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Start < sorted[i - 1].Start + sorted[i - 1].Bytes)
                throw new InvalidInputException($"{Path}: tensors '{Flat(sorted[i - 1].Name)}' and '{Flat(sorted[i].Name)}' overlap in the file.");
        return (byName, list);
    }

    /// <summary>The raw bytes of a tensor (blocks as stored). Tensors above 2 GiB are refused here.</summary>
    public ReadOnlySpan<byte> Bytes(GgufTensor t)
    {
        if (t.Bytes > int.MaxValue) throw new InvalidInputException($"{Path}: tensor '{Flat(t.Name)}' is {t.Bytes} bytes; tensors above 2 GiB are not supported.");
        return new ReadOnlySpan<byte>(_base + t.Start, (int)t.Bytes);
    }

    /// <summary>A tensor's values as floats (dequantized bit-exactly as llama.cpp does).</summary>
    public float[] ReadFloats(GgufTensor t)
    {
        if (t.ElementCount > Array.MaxLength) throw new InvalidInputException($"{Path}: tensor '{Flat(t.Name)}' has {t.ElementCount} elements, more than one array holds.");
        var values = new float[t.ElementCount];
        ReadFloats(t, values);
        return values;
    }

    /// <summary>A tensor's values into the first ElementCount floats of <paramref name="values"/>.</summary>
    public void ReadFloats(GgufTensor t, Span<float> values)
    {
        if (!GgmlTypes.CanDequantize(t.Type))
            throw new InvalidInputException($"{Path}: tensor '{Flat(t.Name)}' is {GgmlTypes.Name(t.Type)}, which Sprinter cannot read yet; supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K.");
        GgmlDequantizer.Dequantize(t.Type, Bytes(t), values[..checked((int)t.ElementCount)]);
    }

    /// <summary>A metadata value of the given type, or null when absent; a value of another type is an error naming the key.</summary>
    public T? Get<T>(string key) where T : class => Metadata.TryGetValue(key, out var v)
        ? v as T ?? throw new InvalidInputException($"{Path}: metadata '{key}' is a {Describe(v)}, expected {typeof(T).Name}.")
        : null;

    /// <summary>An integer metadata value (any integer type that fits an int), or null when absent.</summary>
    public int? GetInt(string key)
    {
        if (!Metadata.TryGetValue(key, out var v)) return null;
        long? n = v switch { byte b => b, sbyte b => b, ushort s => s, short s => s, uint u => u, int i => i, ulong u when u <= int.MaxValue => (long)u, long l => l, _ => null };
        if (n is null || n < int.MinValue || n > int.MaxValue) throw new InvalidInputException($"{Path}: metadata '{key}' is {Describe(v)} {v}, expected an integer.");
        return (int)n;
    }

    public float? GetFloat(string key) => Metadata.TryGetValue(key, out var v)
        ? v switch { float f => f, double d => (float)d, _ => throw new InvalidInputException($"{Path}: metadata '{key}' is a {Describe(v)}, expected a number.") }
        : null;

    public bool? GetBool(string key) => Metadata.TryGetValue(key, out var v)
        ? v as bool? ?? throw new InvalidInputException($"{Path}: metadata '{key}' is a {Describe(v)}, expected a bool.")
        : null;

    static string Describe(object v) => v is Array a ? $"array of {a.GetType().GetElementType()!.Name}" : v.GetType().Name;

    /// <summary>A name as it may appear on one line of an error.</summary>
    internal static string Flat(string text) => text.Length > 80 ? Escape(text[..80]) + "..." : Escape(text);
    static string Escape(string text) => text.Any(char.IsControl) ? new string(text.Select(c => char.IsControl(c) ? '?' : c).ToArray()) : text;

    static long AlignUp(long offset, int alignment) => (offset + alignment - 1) / alignment * alignment;

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    /// <summary>Reads the header region little-endian, refusing any count the remaining bytes cannot hold.</summary>
    ref struct Reader(ReadOnlySpan<byte> data, string path, long fileLength)
    {
        readonly ReadOnlySpan<byte> _data = data;
        int _at;
        public readonly long Position => _at;

        InvalidInputException Truncated(string field) =>
            new($"{path}: the file ends inside '{Flat(field)}' (byte {_at} of {fileLength}); it is truncated or not GGUF.");

        ReadOnlySpan<byte> Take(int n, string field)
        {
            if (n < 0 || n > _data.Length - _at) throw Truncated(field);
            var span = _data.Slice(_at, n);
            _at += n;
            return span;
        }

        public uint UInt32(string field) => BitConverter.ToUInt32(Take(4, field));
        public ulong UInt64(string field) => BitConverter.ToUInt64(Take(8, field));

        /// <summary>A u64 count of items that each take at least <paramref name="minBytesEach"/> bytes.</summary>
        public long Count(string field, int minBytesEach)
        {
            ulong n = UInt64(field);
            if (n > (ulong)((_data.Length - _at) / minBytesEach))
                throw new InvalidInputException($"{path}: field '{Flat(field)}' is {n}, more than the file's remaining {_data.Length - _at} bytes can hold; the file is truncated or corrupt.");
            return (long)n;
        }

        public string String(string field)
        {
            ulong length = UInt64(field + " length");
            if (length > (ulong)(_data.Length - _at))
                throw new InvalidInputException($"{path}: a string in '{Flat(field)}' claims {length} bytes but {_data.Length - _at} remain.");
            var bytes = Take((int)length, field);
            try { return new UTF8Encoding(false, true).GetString(bytes); }
            catch (DecoderFallbackException) { throw new InvalidInputException($"{path}: a string in '{Flat(field)}' is not valid UTF-8."); }
        }

        public object Value(string key)
        {
            var type = (ValueType)UInt32(key + " type");
            return type == ValueType.Array ? Array(key) : Scalar(type, key);
        }

        object Scalar(ValueType type, string key) => type switch
        {
            ValueType.UInt8 => Take(1, key)[0],
            ValueType.Int8 => (sbyte)Take(1, key)[0],
            ValueType.UInt16 => BitConverter.ToUInt16(Take(2, key)),
            ValueType.Int16 => BitConverter.ToInt16(Take(2, key)),
            ValueType.UInt32 => BitConverter.ToUInt32(Take(4, key)),
            ValueType.Int32 => BitConverter.ToInt32(Take(4, key)),
            ValueType.Float32 => BitConverter.ToSingle(Take(4, key)),
            ValueType.Bool => Take(1, key)[0] switch
            {
                0 => false, 1 => true,
                var b => throw new InvalidInputException($"{path}: metadata '{Flat(key)}' is a bool holding {b}, not 0 or 1."),
            },
            ValueType.String => String(key),
            ValueType.UInt64 => BitConverter.ToUInt64(Take(8, key)),
            ValueType.Int64 => BitConverter.ToInt64(Take(8, key)),
            ValueType.Float64 => BitConverter.ToDouble(Take(8, key)),
            _ => throw new InvalidInputException($"{path}: metadata '{Flat(key)}' has value type {(uint)type}, which GGUF does not define."),
        };

        static int Size(ValueType t) => t switch
        {
            ValueType.UInt8 or ValueType.Int8 or ValueType.Bool => 1,
            ValueType.UInt16 or ValueType.Int16 => 2,
            ValueType.UInt32 or ValueType.Int32 or ValueType.Float32 => 4,
            ValueType.String or ValueType.UInt64 or ValueType.Int64 or ValueType.Float64 => 8,   // a string's length alone takes 8
            _ => 0,
        };

        Array Array(string key)
        {
            var element = (ValueType)UInt32(key + " array type");
            if (element == ValueType.Array) throw new InvalidInputException($"{path}: metadata '{Flat(key)}' is an array of arrays, which Sprinter does not read.");
            int size = Size(element);
            if (size == 0) throw new InvalidInputException($"{path}: metadata '{Flat(key)}' is an array of value type {(uint)element}, which GGUF does not define.");
            int n = (int)Count(key + " array length", size);
            switch (element)
            {
                case ValueType.String:
                    var strings = new string[n];
                    for (int i = 0; i < n; i++) strings[i] = String(key);
                    return strings;
                case ValueType.Float32: return Numbers<float>(n, key);
                case ValueType.Int32: return Numbers<int>(n, key);
                case ValueType.UInt32: return Numbers<uint>(n, key);
                case ValueType.UInt8: return Numbers<byte>(n, key);
                case ValueType.Int8: return Numbers<sbyte>(n, key);
                case ValueType.UInt16: return Numbers<ushort>(n, key);
                case ValueType.Int16: return Numbers<short>(n, key);
                case ValueType.UInt64: return Numbers<ulong>(n, key);
                case ValueType.Int64: return Numbers<long>(n, key);
                case ValueType.Float64: return Numbers<double>(n, key);
                default:
                    var bools = new bool[n];
                    for (int i = 0; i < n; i++) bools[i] = (bool)Scalar(ValueType.Bool, key);
                    return bools;
            }
        }

        T[] Numbers<T>(int n, string key) where T : unmanaged =>
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(Take(checked(n * sizeof(T)), key)).ToArray();
    }
}
