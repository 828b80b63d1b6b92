using System.Buffers.Binary;
using System.Text;
using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Tests.Models;

public class SafeTensorsTests
{
    static string WriteSample(string dir, TensorDType dtype = TensorDType.F32)
    {
        string path = Path.Combine(dir, "sample.safetensors");
        SafeTensorsWriter.Write(path, [
            new TensorToWrite("a", [2, 3], [1, 2, 3, 4, 5, 6], dtype),
            new TensorToWrite("b", [4], [-1.5f, 0.25f, 1e-3f, 65504f], dtype),
        ], new Dictionary<string, string> { ["format"] = "pt" });
        return path;
    }

    [Theory]
    [InlineData(TensorDType.F32)]
    [InlineData(TensorDType.F16)]
    [InlineData(TensorDType.BF16)]
    public void RoundTripKeepsNamesShapesValuesAndMetadata(TensorDType dtype)
    {
        string path = WriteSample(TestModels.TempDir(), dtype);
        using var st = SafeTensorsFile.Open(path);
        Assert.Equal(new long[] { 2, 3 }, st.Tensors["a"].Shape);
        Assert.Equal(dtype, st.Tensors["b"].DType);
        Assert.Equal("pt", st.Metadata["format"]);
        float[] expected = [-1.5f, 0.25f, 1e-3f, 65504f];
        var b = st.ReadFloats(st.Tensors["b"]);
        for (int i = 0; i < 4; i++)
        {
            float tol = dtype == TensorDType.F32 ? 0 : Math.Abs(expected[i]) * (dtype == TensorDType.BF16 ? 4e-3f : 1e-3f);
            Assert.InRange(b[i], expected[i] - tol, expected[i] + tol);
        }
    }

    // Each corruption must be an InvalidInputException whose message names the file and the problem.
    static void AssertRejected(byte[] bytes, string expectedFragment)
    {
        string path = Path.Combine(TestModels.TempDir(), "bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidInputException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(path, e.Message);
        Assert.Contains(expectedFragment, e.Message);
    }

    static byte[] Build(string header, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        return bytes;
    }

    [Fact] public void TooShortFileIsTruncated() => AssertRejected([1, 2, 3], "truncated");

    [Fact]
    public void TruncatedDataIsRejected()
    {
        var good = File.ReadAllBytes(WriteSample(TestModels.TempDir()));
        AssertRejected(good[..^4], "data section");
    }

    [Fact]
    public void HostileHeaderLengthIsRejectedWithoutAllocating()
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue / 2);
        AssertRejected(bytes, "header length");
    }

    [Fact] public void HeaderThatIsNotJsonIsRejected() => AssertRejected(Build("{not json", 0), "not valid JSON");

    [Fact]
    public void OffsetsOutOfRangeAreRejected() =>
        AssertRejected(Build("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}}""", 8), "out of range");

    [Fact]
    public void OverlappingTensorsAreRejected() =>
        AssertRejected(Build("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12), "overlaps");

    [Fact]
    public void HoleInDataIsRejected() =>
        AssertRejected(Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12), "not contiguous");

    [Fact]
    public void ShapeThatDisagreesWithOffsetsIsRejected() =>
        AssertRejected(Build("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8), "shape");

    [Fact]
    public void UnsupportedDtypeIsRejected() =>
        AssertRejected(Build("""{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""", 8), "dtype I64");

    [Fact]
    public void WrongShapeForANamedModelTensorIsRejected()
    {
        var c = TestModels.TinyConfig();
        var tensors = TestModels.Tensors(c);
        tensors["h.1.mlp.c_fc.weight"] = (new float[c.EmbeddingSize * 7], [c.EmbeddingSize, 7]);
        string dir = TestModels.TempDir();
        var (vocab, merges) = RandomModel.ByteVocabulary();
        RandomModel.WriteFolder(dir, c, tensors, vocab, merges);
        var e = Assert.Throws<InvalidInputException>(() => LanguageModel.Load(dir));
        Assert.Contains("h.1.mlp.c_fc.weight", e.Message);
        Assert.Contains("expected [32, 128]", e.Message);
    }

    [Fact]
    public void MissingTensorIsRejected()
    {
        var c = TestModels.TinyConfig();
        var tensors = TestModels.Tensors(c);
        tensors.Remove("ln_f.bias");
        string dir = TestModels.TempDir();
        var (vocab, merges) = RandomModel.ByteVocabulary();
        RandomModel.WriteFolder(dir, c, tensors, vocab, merges);
        Assert.Contains("missing tensor 'ln_f.bias'", Assert.Throws<InvalidInputException>(() => LanguageModel.Load(dir)).Message);
    }

    [Fact]
    public void TransformerPrefixAndF16AndBf16FilesLoad()
    {
        var c = TestModels.TinyConfig();
        var tensors = TestModels.Tensors(c, seed: 2);
        var prefixed = tensors.ToDictionary(kv => "transformer." + kv.Key, kv => kv.Value);
        var tokens = TestModels.RandomTokens(6, c.VocabSize, 1);
        float[]? reference = null;
        foreach (var dtype in new[] { TensorDType.F32, TensorDType.F16, TensorDType.BF16 })
        {
            string dir = TestModels.TempDir();
            var (vocab, merges) = RandomModel.ByteVocabulary();
            RandomModel.WriteFolder(dir, c, prefixed, vocab, merges, dtype);
            using var lm = LanguageModel.Load(dir);
            var s = lm.Model.CreateSession();
            s.Forward(tokens);
            var logits = s.Logits(5).ToArray();
            reference ??= logits;
            for (int i = 0; i < logits.Length; i++) Assert.True(Math.Abs(logits[i] - reference[i]) < 0.05, $"{dtype} logit {i}");
        }
    }

    [Fact]
    public void TokenizerSizeDifferentFromConfigIsRejected()
    {
        var c = TestModels.TinyConfig(vocab: 300);
        string dir = TestModels.TempDir();
        var (vocab, merges) = RandomModel.ByteVocabulary(); // 257 tokens
        RandomModel.WriteFolder(dir, c, TestModels.Tensors(c), vocab, merges);
        var e = Assert.Throws<InvalidInputException>(() => LanguageModel.Load(dir));
        Assert.Contains("vocab_size 300", e.Message);
    }

    [Theory]
    [InlineData("""{"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64}""", "vocab_size")]
    [InlineData("""{"n_embd": 32, "n_layer": 2, "n_head": 5, "n_positions": 64, "vocab_size": 257}""", "n_head")]
    [InlineData("""{"n_embd": "big", "n_layer": 2, "n_head": 4, "n_positions": 64, "vocab_size": 257}""", "n_embd")]
    [InlineData("""{"model_type": "bert", "n_embd": 32}""", "model_type")]
    [InlineData("""{"model_type": "llama", "n_embd": 32}""", "hidden_size")]
    [InlineData("""{"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3, "intermediate_size": 64, "max_position_embeddings": 64, "vocab_size": 257}""", "num_key_value_heads")]
    [InlineData("""{"model_type": "qwen2", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 64, "vocab_size": 257, "hidden_act": "gelu"}""", "hidden_act")]
    [InlineData("""{"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 64, "vocab_size": 257, "rope_scaling": {"rope_type": "llama3", "factor": 8}}""", "rope_scaling.low_freq_factor")]
    [InlineData("""{"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 64, "vocab_size": 257, "rope_scaling": {"type": "yarn", "factor": 2}}""", "rope_scaling.rope_type")]
    [InlineData("""{"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64, "vocab_size": 257, "activation_function": "relu"}""", "activation_function")]
    [InlineData("""{oops""", "not valid JSON")]
    public void BadConfigIsRejectedNamingTheField(string json, string field)
    {
        string path = Path.Combine(TestModels.TempDir(), "config.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<InvalidInputException>(() => ModelConfig.Load(path));
        Assert.Contains(field, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void MissingModelFilesAreNamed()
    {
        string dir = TestModels.Folder(TestModels.TinyConfig());
        File.Delete(Path.Combine(dir, "merges.txt"));
        Assert.Contains("merges.txt", Assert.Throws<InvalidInputException>(() => LanguageModel.Load(dir)).Message);
    }
}
