using System.Text.Json.Nodes;
using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Tests.Models;

/// <summary>Hugging Face sharded checkpoints: written by the trainer's writer, read wherever a folder is.</summary>
public class ShardedSafeTensorsTests
{
    static readonly ModelConfig Config = TestModels.TinyConfig(d: 32, layers: 2);

    /// <summary>The same weights as one file and as shards of at most <paramref name="shardBytes"/>.</summary>
    static (string Single, string Sharded) Folders(long shardBytes)
    {
        var tensors = TestModels.Tensors(Config, seed: 41);
        var (vocab, merges) = RandomModel.ByteVocabulary();
        string single = TestModels.TempDir(), sharded = TestModels.TempDir();
        RandomModel.WriteFolder(single, Config, tensors, vocab, merges);
        RandomModel.WriteFolder(sharded, Config, tensors, vocab, merges, maxShardBytes: shardBytes);
        return (single, sharded);
    }

    [Fact]
    public void ShardedFolderLoadsToTheSameModelAsOneFile()
    {
        var (single, sharded) = Folders(shardBytes: 100_000);
        var shards = Directory.GetFiles(sharded, "model-*-of-*.safetensors").Order().ToArray();
        Assert.True(shards.Length >= 3, $"{shards.Length} shards");
        Assert.All(shards, s => Assert.True(new FileInfo(s).Length <= 100_000, $"{s}: {new FileInfo(s).Length} bytes"));
        Assert.EndsWith($"-of-{shards.Length:D5}.safetensors", shards[0]);
        Assert.False(File.Exists(Path.Combine(sharded, "model.safetensors")));
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(sharded, SafeTensorsSet.IndexFileName)))!;
        Assert.Equal(Config.ParameterCount(false) * 4, (long)index["metadata"]!["total_size"]!);

        using var a = LanguageModel.Load(single);
        using var b = LanguageModel.Load(sharded);
        var tokens = TestModels.RandomTokens(9, Config.VocabSize, 3);
        var sa = a.Model.CreateSession(); sa.Forward(tokens);
        var sb = b.Model.CreateSession(); sb.Forward(tokens);
        for (int p = 0; p < tokens.Length; p++) Assert.Equal(sa.Logits(p).ToArray(), sb.Logits(p).ToArray());

        var (code, output, error) = Cli.CliTests.Run("info", "--model", sharded, "--json");
        Assert.True(code == 0, error);
        Assert.Equal(shards.Length, (int)JsonNode.Parse(output)!["files"]!);
        Assert.NotEqual(ModelFolder.Resolve(single).ComputeIdentity(), ModelFolder.Resolve(sharded).ComputeIdentity());
    }

    [Fact]
    public void ConvertReshardsAFolderWithoutChangingTheModel()
    {
        // The shipped target (28 MB of bf16) as shards of at most 10 MB, through the CLI.
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Sprinter.slnx"))) root = Path.GetDirectoryName(root)!;
        string source = Path.Combine(root, "models", "target"), outDir = Path.Combine(TestModels.TempDir(), "sharded");
        var (code, output, error) = Cli.CliTests.Run("convert", "--model", source, "--to", "safetensors", "--out", outDir, "--max-shard-mb", "10");
        Assert.True(code == 0, error);
        Assert.Contains("model.safetensors.index.json", output);
        var shards = Directory.GetFiles(outDir, "model-*.safetensors");
        Assert.True(shards.Length >= 3 && shards.All(s => new FileInfo(s).Length <= 10_000_000), string.Join(", ", shards.Select(s => new FileInfo(s).Length)));
        using var a = LanguageModel.Load(source);
        using var b = LanguageModel.Load(outDir);
        Assert.Equal(WeightType.BF16, b.Model.WeightType);   // bf16 stays bf16
        var tokens = TestModels.RandomTokens(6, a.Config.VocabSize, 5);
        var sa = a.Model.CreateSession(); sa.Forward(tokens);
        var sb = b.Model.CreateSession(); sb.Forward(tokens);
        Assert.Equal(sa.Logits(5).ToArray(), sb.Logits(5).ToArray());
        Assert.Equal(2, Cli.CliTests.Run("convert", "--model", source, "--to", "safetensors", "--out", source).Code);
    }

    [Fact]
    public void ModelsThatFitStayOneFile()
    {
        var (_, sharded) = Folders(shardBytes: 45_000_000);
        Assert.True(File.Exists(Path.Combine(sharded, "model.safetensors")));
        Assert.Empty(Directory.GetFiles(sharded, "*.index.json"));
    }

    [Fact]
    public void ATensorLargerThanTheLimitIsRefusedBeforeAnythingIsWritten()
    {
        string dir = TestModels.TempDir();
        var e = Assert.Throws<InvalidInputException>(() => ShardedSafeTensorsWriter.Write(dir,
            [new TensorToWrite("small", [4], new float[4]), new TensorToWrite("big", [100_000], new float[100_000])], 200_000));
        Assert.Contains("'big'", e.Message);
        Assert.Empty(Directory.GetFiles(dir));
    }

    public static TheoryData<string, string> BrokenIndexes() => new()
    {
        { "{oops", "not valid JSON" },
        { """{"metadata": {}}""", "weight_map" },
        { """{"weight_map": {}}""", "empty" },
        { """{"weight_map": {"wte.weight": 3}}""", "not a file name" },
        { """{"weight_map": {"wte.weight": "../model-00001-of-00003.safetensors"}}""", "beside the index" },
        { """{"weight_map": {"wte.weight": "missing.safetensors"}}""", "missing.safetensors" },
        { """{"weight_map": {"wte.weight": "model-00001-of-00003.safetensors", "wte.weight": "model-00002-of-00003.safetensors"}}""", "appears twice" },
    };

    [Theory]
    [MemberData(nameof(BrokenIndexes))]
    public void BrokenIndexIsOneClearError(string json, string expected)
    {
        var (_, sharded) = Folders(shardBytes: 100_000);
        string index = Path.Combine(sharded, SafeTensorsSet.IndexFileName);
        File.WriteAllText(index, json);
        var e = Assert.Throws<InvalidInputException>(() => LanguageModel.Load(sharded));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void IndexThatDisagreesWithItsShardsIsRejected()
    {
        var (_, sharded) = Folders(shardBytes: 100_000);
        string index = Path.Combine(sharded, SafeTensorsSet.IndexFileName);
        var root = JsonNode.Parse(File.ReadAllText(index))!;
        var map = root["weight_map"]!.AsObject();
        string first = map.First().Key, firstShard = (string)map[first]!, other = map.Select(kv => (string)kv.Value!).First(s => s != firstShard);
        map[first] = other;   // points a tensor at a shard that does not hold it
        File.WriteAllText(index, root.ToJsonString());
        Assert.Contains("does not match", Assert.Throws<InvalidInputException>(() => LanguageModel.Load(sharded)).Message);
    }

}

public class SafeTensorsHeaderEncodingTests
{
    [Fact]
    public void InvalidUtf8InATensorNameIsOneClearError()
    {
        string path = Path.Combine(TestModels.TempDir(), "bad.safetensors");
        byte[] header = [.. "{\"a"u8, 0xA9, .. "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"u8];
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)header.Length), .. header, 0, 0, 0, 0]);
        Assert.Contains(path, Assert.Throws<InvalidInputException>(() => SafeTensorsFile.Open(path)).Message);
    }
}
