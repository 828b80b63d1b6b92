using Sprinter.Models;

namespace Sprinter.Tests.Models;

public class GgufWriterTests
{
    static (ModelConfig Config, Dictionary<string, (float[] Data, long[] Shape)> Tensors, string Folder) TinyFolder(
        Func<ModelConfig, ModelConfig>? adjust = null, Func<string, string>? rename = null)
    {
        // The byte vocabulary with two merges: 256 bytes + 2 merged tokens + <|endoftext|>.
        var c = TestModels.TinyConfig(vocab: 259, d: 32, layers: 2, heads: 4, positions: 64);
        c = adjust?.Invoke(c) ?? c;
        var tensors = TestModels.Tensors(c, seed: 21);
        if (!c.TieWordEmbeddings) tensors["lm_head.weight"] = (TestModels.RandomTokens(c.VocabSize * c.EmbeddingSize, 1000, 22).Select(x => x / 1000f).ToArray(), [c.VocabSize, c.EmbeddingSize]);
        string folder = TestModels.TempDir();
        var (vocab, merges) = RandomModel.ByteVocabulary([("h", "e"), ("l", "l")]);
        var named = tensors.ToDictionary(kv => rename?.Invoke(kv.Key) ?? kv.Key, kv => kv.Value);
        RandomModel.WriteFolder(folder, c, named, vocab, merges);
        return (c, tensors, folder);
    }

    [Fact]
    public void HeaderAndMetadataDescribeATransformerModel()
    {
        var (c, _, folder) = TinyFolder();
        string file = Path.Combine(folder, "model.gguf");
        var summary = GgufWriter.Convert(folder, file);
        var gguf = new GgufReader(file);

        Assert.Equal(3u, gguf.Version);
        Assert.Equal(2 + 12 * c.LayerCount + 2, gguf.Tensors.Count);  // tied: no "output"
        Assert.Equal(gguf.Tensors.Count, summary.TensorCount);
        Assert.Equal(new FileInfo(file).Length, summary.Bytes);
        var m = gguf.Metadata;
        Assert.Equal(summary.MetadataCount, m.Count);
        Assert.Equal("gpt2", m["general.architecture"]);
        Assert.Equal(Path.GetFileName(folder), m["general.name"]);
        Assert.Equal(0u, m["general.file_type"]);
        Assert.Equal((uint)c.MaxPositions, m["gpt2.context_length"]);
        Assert.Equal((uint)c.EmbeddingSize, m["gpt2.embedding_length"]);
        Assert.Equal((uint)c.InnerSize, m["gpt2.feed_forward_length"]);
        Assert.Equal((uint)c.LayerCount, m["gpt2.block_count"]);
        Assert.Equal((uint)c.HeadCount, m["gpt2.attention.head_count"]);
        Assert.Equal(c.LayerNormEpsilon, m["gpt2.attention.layer_norm_epsilon"]);
        Assert.Equal("gpt2", m["tokenizer.ggml.model"]);
        Assert.Equal("gpt-2", m["tokenizer.ggml.pre"]);
        var tokens = (object[])m["tokenizer.ggml.tokens"];
        var types = (object[])m["tokenizer.ggml.token_type"];
        Assert.Equal(c.VocabSize, tokens.Length);
        Assert.Equal(c.VocabSize, types.Length);
        Assert.Equal("Ġ", tokens[' ']);                    // byte-level strings, as in vocab.json
        Assert.Equal("<|endoftext|>", tokens[^1]);
        Assert.Equal(1, types[0]);
        Assert.Equal(3, types[^1]);                         // control token
        Assert.Equal(new object[] { "h e", "l l" }, (object[])m["tokenizer.ggml.merges"]);
        Assert.Equal((uint)(c.VocabSize - 1), m["tokenizer.ggml.bos_token_id"]);
        Assert.Equal((uint)(c.VocabSize - 1), m["tokenizer.ggml.eos_token_id"]);

        Assert.Equal(0, gguf.DataStart % 32);
        Assert.All(gguf.Tensors, t => Assert.Equal(0ul, t.Offset % 32));
        var last = gguf.Tensors.MaxBy(t => t.Offset)!;
        long lastBytes = last.Dims.Aggregate(1L, (x, d) => x * (long)d) * 4;
        Assert.Equal((gguf.DataStart + (long)last.Offset + lastBytes + 31) / 32 * 32, new FileInfo(file).Length);
        Assert.Empty(Directory.GetFiles(folder, "*.tmp-*"));
    }

    [Fact]
    public void WeightsAreInLlamaCppLayout()
    {
        var (c, hf, folder) = TinyFolder();
        string file = Path.Combine(folder, "model.gguf");
        GgufWriter.Convert(folder, file);
        var gguf = new GgufReader(file);
        int d = c.EmbeddingSize, f = c.InnerSize;

        // Embeddings keep their bytes: HF [vocab, d] row-major is GGUF dims [d, vocab].
        Assert.Equal([(ulong)d, (ulong)c.VocabSize], gguf.Tensor("token_embd.weight").Dims);
        Assert.Equal(hf["wte.weight"].Data, gguf.ReadFloats("token_embd.weight"));
        Assert.Equal(hf["wpe.weight"].Data, gguf.ReadFloats("position_embd.weight"));
        Assert.Equal(hf["h.1.ln_2.bias"].Data, gguf.ReadFloats("blk.1.ffn_norm.bias"));
        Assert.Equal(hf["ln_f.weight"].Data, gguf.ReadFloats("output_norm.weight"));

        // Conv1D weights are HF [in, out]; llama.cpp wants [out, in] row-major = GGUF dims [in, out].
        void AssertTransposed(string ggufName, string hfName, int inputs, int outputs)
        {
            Assert.Equal([(ulong)inputs, (ulong)outputs], gguf.Tensor(ggufName).Dims);
            var source = hf[hfName].Data;
            var written = gguf.ReadFloats(ggufName);
            for (int i = 0; i < inputs; i++)
                for (int o = 0; o < outputs; o++)
                    Assert.Equal(source[i * outputs + o], written[o * inputs + i]);
        }
        AssertTransposed("blk.0.attn_qkv.weight", "h.0.attn.c_attn.weight", d, 3 * d);
        AssertTransposed("blk.1.attn_output.weight", "h.1.attn.c_proj.weight", d, d);
        AssertTransposed("blk.0.ffn_up.weight", "h.0.mlp.c_fc.weight", d, f);
        AssertTransposed("blk.1.ffn_down.weight", "h.1.mlp.c_proj.weight", f, d);
    }

    [Fact]
    public void F16StoresMatricesAsHalfAndVectorsAsF32()
    {
        var (_, hf, folder) = TinyFolder();
        string f32 = Path.Combine(folder, "f32.gguf"), f16 = Path.Combine(folder, "f16.gguf");
        var small = GgufWriter.Convert(folder, f16, GgufType.F16);
        var large = GgufWriter.Convert(folder, f32, GgufType.F32);
        Assert.True(small.Bytes < large.Bytes * 0.6, $"{small.Bytes} vs {large.Bytes}");
        var gguf = new GgufReader(f16);
        Assert.Equal(1u, gguf.Metadata["general.file_type"]);
        Assert.All(gguf.Tensors, t => Assert.Equal(t.Dims.Length == 2 ? 1u : 0u, t.Type));
        Assert.Equal(hf["wte.weight"].Data.Select(x => (float)(Half)x), gguf.ReadFloats("token_embd.weight"));
        Assert.Equal(hf["h.0.ln_1.weight"].Data, gguf.ReadFloats("blk.0.attn_norm.weight"));
    }

    [Fact]
    public void UntiedLmHeadAndTransformerPrefixAreHandled()
    {
        var (c, hf, folder) = TinyFolder(c => c with { TieWordEmbeddings = false },
            name => name == "lm_head.weight" ? name : "transformer." + name);
        string file = Path.Combine(folder, "model.gguf");
        GgufWriter.Convert(folder, file);
        var gguf = new GgufReader(file);
        Assert.Equal(2 + 12 * c.LayerCount + 3, gguf.Tensors.Count);
        Assert.Equal([(ulong)c.EmbeddingSize, (ulong)c.VocabSize], gguf.Tensor("output.weight").Dims);
        Assert.Equal(hf["lm_head.weight"].Data, gguf.ReadFloats("output.weight"));
    }

    [Fact]
    public void VocabularySmallerThanTheModelIsPaddedWithUnusedTokens()
    {
        var (c, _, folder) = TinyFolder(c => c with { VocabSize = 300 });
        string file = Path.Combine(folder, "model.gguf");
        GgufWriter.Convert(folder, file);
        var m = new GgufReader(file).Metadata;
        var tokens = (object[])m["tokenizer.ggml.tokens"];
        Assert.Equal(300, tokens.Length);
        Assert.Equal("[PAD299]", tokens[299]);
        Assert.Equal(5, ((object[])m["tokenizer.ggml.token_type"])[299]);
        Assert.Equal(258u, m["tokenizer.ggml.eos_token_id"]);   // 256 bytes + 2 merges, then <|endoftext|>
    }

    [Fact]
    public void BadInputIsAnInvalidInputExceptionAndLeavesNoFile()
    {
        string missing = Path.Combine(TestModels.TempDir(), "nope");
        var e = Assert.Throws<InvalidInputException>(() => GgufWriter.Convert(missing, missing + ".gguf"));
        Assert.Contains(missing, e.Message);

        var (_, _, folder) = TinyFolder();
        string file = Path.Combine(folder, "model.gguf");
        File.Delete(Path.Combine(folder, "merges.txt"));
        e = Assert.Throws<InvalidInputException>(() => GgufWriter.Convert(folder, file));
        Assert.Contains("merges.txt", e.Message);

        (_, _, folder) = TinyFolder();
        file = Path.Combine(folder, "model.gguf");
        e = Assert.Throws<InvalidInputException>(() => GgufWriter.Convert(folder, Path.Combine(folder, "no-such-dir", "x.gguf")));
        Assert.Contains("no-such-dir", e.Message);

        File.WriteAllText(Path.Combine(folder, "merges.txt"), "#version: 0.2\nh e\nnot-a-merge\n");
        e = Assert.Throws<InvalidInputException>(() => GgufWriter.Convert(folder, file));
        Assert.Contains("line 3", e.Message);

        // A checkpoint that lacks a tensor fails before anything is written.
        var c = TestModels.TinyConfig();
        var tensors = TestModels.Tensors(c);
        tensors.Remove("h.1.mlp.c_proj.bias");
        var (vocab, merges) = RandomModel.ByteVocabulary();
        folder = TestModels.TempDir();
        RandomModel.WriteFolder(folder, c, tensors, vocab, merges);
        e = Assert.Throws<InvalidInputException>(() => GgufWriter.Convert(folder, Path.Combine(folder, "model.gguf")));
        Assert.Contains("h.1.mlp.c_proj.bias", e.Message);
        Assert.Empty(Directory.GetFiles(folder, "*.gguf*"));
    }
}
