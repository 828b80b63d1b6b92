using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sprinter.Models;

/// <summary>
/// A model's weights as one safetensors file or as Hugging Face shards
/// (<c>model-00001-of-0000M.safetensors</c> ... with <c>model.safetensors.index.json</c>, whose
/// <c>weight_map</c> names the shard of every tensor). Every shard is opened and validated; the index
/// must name each tensor of the shards exactly once, and nothing else.
/// </summary>
public sealed class SafeTensorsSet : IDisposable
{
    public const string IndexFileName = "model.safetensors.index.json";

    readonly List<SafeTensorsFile> _files;
    readonly Dictionary<string, SafeTensorsFile> _owner;

    /// <summary>The single file, or the index of a sharded set.</summary>
    public string Path { get; }
    public IReadOnlyList<string> Files => _files.Select(f => f.Path).ToList();
    public IReadOnlyDictionary<string, TensorInfo> Tensors { get; }
    /// <summary>The first file's __metadata__.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _files[0].Metadata;
    public long Bytes => _files.Sum(f => new FileInfo(f.Path).Length);

    SafeTensorsSet(string path, List<SafeTensorsFile> files, Dictionary<string, SafeTensorsFile> owner)
    {
        Path = path; _files = files; _owner = owner;
        Tensors = owner.ToDictionary(kv => kv.Key, kv => kv.Value.Tensors[kv.Key]);
    }

    /// <summary>Opens a .safetensors file or a model.safetensors.index.json.</summary>
    public static SafeTensorsSet Open(string path)
    {
        if (!path.EndsWith(".index.json", StringComparison.OrdinalIgnoreCase))
        {
            var file = SafeTensorsFile.Open(path);
            return new SafeTensorsSet(path, [file], file.Tensors.Keys.ToDictionary(k => k, _ => file));
        }
        var shards = ParseIndex(path);
        var files = new List<SafeTensorsFile>();
        try
        {
            var owner = new Dictionary<string, SafeTensorsFile>();
            string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
            foreach (var (shard, names) in shards)
            {
                var file = SafeTensorsFile.Open(System.IO.Path.Combine(folder, shard));
                files.Add(file);
                foreach (var name in file.Tensors.Keys)
                {
                    if (!names.Contains(name))
                        throw new InvalidInputException($"{path}: shard {shard} holds tensor '{name}' but weight_map does not place it there; the index does not match its shards.");
                    owner[name] = file;
                }
                foreach (var name in names)
                    if (!file.Tensors.ContainsKey(name))
                        throw new InvalidInputException($"{path}: weight_map places '{name}' in {shard}, which does not hold it; the index does not match its shards.");
            }
            return new SafeTensorsSet(path, files, owner);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    /// <summary>weight_map grouped by shard file, in first-seen order; each shard a plain file name in the index's folder.</summary>
    internal static List<(string Shard, HashSet<string> Names)> ParseIndex(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: file not found.");
        JsonNode? root;
        try
        {
            // Decoded strictly first: System.Text.Json decodes names lazily, so invalid UTF-8 would
            // otherwise surface later as an InvalidOperationException.
            root = JsonNode.Parse(new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(path)));
        }
        catch (Exception e) when (e is JsonException or System.Text.DecoderFallbackException)
        {
            throw new InvalidInputException($"{path}: not valid JSON ({e.Message}); the index is corrupt.");
        }
        try { return Shards(path, root); }
        catch (ArgumentException e)   // System.Text.Json reports a repeated key when the object is first read
        {
            throw new InvalidInputException($"{path}: a key appears twice ({e.Message.ReplaceLineEndings(" ")}); each tensor belongs to one shard.");
        }
    }

    static List<(string Shard, HashSet<string> Names)> Shards(string path, JsonNode? root)
    {
        if (root is not JsonObject obj || obj["weight_map"] is not JsonObject map)
            throw new InvalidInputException($"{path}: no \"weight_map\" object; a sharded model's index maps each tensor name to its shard file.");
        if (map.Count == 0) throw new InvalidInputException($"{path}: \"weight_map\" is empty; the index names no tensor.");
        var shards = new List<(string Shard, HashSet<string> Names)>();
        foreach (var (name, node) in map)
        {
            if (node is not JsonValue value || !value.TryGetValue(out string? shard) || string.IsNullOrWhiteSpace(shard))
                throw new InvalidInputException($"{path}: weight_map entry '{name}' is not a file name.");
            // Shards live beside the index: a path that leaves the folder is refused.
            if (shard != System.IO.Path.GetFileName(shard) || shard is "." or "..")
                throw new InvalidInputException($"{path}: weight_map entry '{name}' names '{shard}', which is not a file beside the index.");
            int at = shards.FindIndex(s => s.Shard == shard);
            if (at < 0) { shards.Add((shard, [])); at = shards.Count - 1; }
            shards[at].Names.Add(name);
        }
        return shards;
    }

    public float[] ReadFloats(TensorInfo t) => _owner[t.Name].ReadFloats(t);
    public void ReadFloats(TensorInfo t, Span<float> result) => _owner[t.Name].ReadFloats(t, result);

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}

public static class ShardedSafeTensorsWriter
{
    /// <summary>
    /// Writes the tensors into <paramref name="folder"/> as one model.safetensors when they fit in
    /// <paramref name="maxShardBytes"/>, else as model-0000N-of-0000M.safetensors shards of at most that
    /// many bytes each (a tensor is never split) plus model.safetensors.index.json. Files are written
    /// under temporary names and renamed at the end, so a failure leaves no half-written model.
    /// </summary>
    public static IReadOnlyList<string> Write(string folder, IReadOnlyList<TensorToWrite> tensors, long maxShardBytes, IReadOnlyDictionary<string, string>? metadata = null)
    {
        const long headerAllowance = 64 * 1024;   // generous room for each shard's JSON header
        static long DataBytes(TensorToWrite t) => t.Data.LongLength * (t.DType == TensorDType.F32 ? 4 : 2);
        var groups = new List<List<TensorToWrite>> { new() };
        long used = 0;
        foreach (var t in tensors)
        {
            long bytes = DataBytes(t);
            if (bytes + headerAllowance > maxShardBytes)
                throw new InvalidInputException($"tensor '{t.Name}' alone is {bytes:N0} bytes, more than the shard limit of {maxShardBytes:N0}; raise the limit.");
            if (groups[^1].Count > 0 && used + bytes + headerAllowance > maxShardBytes) { groups.Add([]); used = 0; }
            groups[^1].Add(t);
            used += bytes;
        }
        Directory.CreateDirectory(folder);
        foreach (var stale in Directory.EnumerateFiles(folder, "model*.safetensors*")) File.Delete(stale);
        var written = new List<(string Temp, string Final)>();
        if (groups.Count == 1)
        {
            string final = System.IO.Path.Combine(folder, "model.safetensors");
            SafeTensorsWriter.Write(final + ".tmp-write", groups[0], metadata);
            written.Add((final + ".tmp-write", final));
        }
        else
        {
            var map = new JsonObject();
            long total = 0;
            for (int i = 0; i < groups.Count; i++)
            {
                string name = $"model-{i + 1:D5}-of-{groups.Count:D5}.safetensors", final = System.IO.Path.Combine(folder, name);
                SafeTensorsWriter.Write(final + ".tmp-write", groups[i], metadata);
                written.Add((final + ".tmp-write", final));
                foreach (var t in groups[i]) { map[t.Name] = name; total += DataBytes(t); }
            }
            string index = System.IO.Path.Combine(folder, SafeTensorsSet.IndexFileName);
            var json = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = map };
            File.WriteAllText(index + ".tmp-write", json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            written.Add((index + ".tmp-write", index));
        }
        foreach (var (temp, final) in written) File.Move(temp, final, overwrite: true);
        return written.Select(w => w.Final).ToList();
    }
}
