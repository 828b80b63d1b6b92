using System.Text;

namespace Sprinter.Tests.Models;

/// <summary>
/// A minimal GGUF reader, written independently of <see cref="Sprinter.Models.GgufWriter"/> from the
/// format description, so that the writer's output is checked against the spec rather than itself.
/// </summary>
public sealed class GgufReader
{
    public sealed record TensorEntry(string Name, ulong[] Dims, uint Type, ulong Offset);

    public uint Version { get; }
    public Dictionary<string, object> Metadata { get; } = new();
    public List<TensorEntry> Tensors { get; } = new();
    public long DataStart { get; }
    readonly string _path;

    public GgufReader(string path)
    {
        _path = path;
        using var r = new BinaryReader(File.OpenRead(path));
        string magic = Encoding.ASCII.GetString(r.ReadBytes(4));
        if (magic != "GGUF") throw new InvalidDataException($"magic is '{magic}'");
        Version = r.ReadUInt32();
        ulong tensorCount = r.ReadUInt64(), metadataCount = r.ReadUInt64();
        for (ulong i = 0; i < metadataCount; i++)
        {
            string key = ReadString(r);
            Metadata[key] = ReadValue(r, r.ReadUInt32());
        }
        for (ulong i = 0; i < tensorCount; i++)
        {
            string name = ReadString(r);
            var dims = new ulong[r.ReadUInt32()];
            for (int d = 0; d < dims.Length; d++) dims[d] = r.ReadUInt64();
            Tensors.Add(new TensorEntry(name, dims, r.ReadUInt32(), r.ReadUInt64()));
        }
        long alignment = Metadata.TryGetValue("general.alignment", out var a) ? (uint)a : 32;
        DataStart = (r.BaseStream.Position + alignment - 1) / alignment * alignment;
    }

    public TensorEntry Tensor(string name) => Tensors.Single(t => t.Name == name);

    /// <summary>The tensor's values in storage order (fastest-varying dimension first).</summary>
    public float[] ReadFloats(string name)
    {
        var t = Tensor(name);
        long count = t.Dims.Aggregate(1L, (x, d) => x * (long)d);
        using var r = new BinaryReader(File.OpenRead(_path));
        r.BaseStream.Position = DataStart + (long)t.Offset;
        var values = new float[count];
        for (long i = 0; i < count; i++)
            values[i] = t.Type switch { 0 => r.ReadSingle(), 1 => (float)r.ReadHalf(), _ => throw new InvalidDataException($"type {t.Type}") };
        return values;
    }

    static string ReadString(BinaryReader r) => Encoding.UTF8.GetString(r.ReadBytes(checked((int)r.ReadUInt64())));

    static object ReadValue(BinaryReader r, uint type) => type switch
    {
        0 => r.ReadByte(), 1 => r.ReadSByte(), 2 => r.ReadUInt16(), 3 => r.ReadInt16(),
        4 => r.ReadUInt32(), 5 => r.ReadInt32(), 6 => r.ReadSingle(), 7 => r.ReadBoolean(),
        8 => ReadString(r), 10 => r.ReadUInt64(), 11 => r.ReadInt64(), 12 => r.ReadDouble(),
        9 => ReadArray(r),
        _ => throw new InvalidDataException($"metadata type {type}"),
    };

    static object[] ReadArray(BinaryReader r)
    {
        uint elementType = r.ReadUInt32();
        var items = new object[checked((int)r.ReadUInt64())];
        for (int i = 0; i < items.Length; i++) items[i] = ReadValue(r, elementType);
        return items;
    }
}
