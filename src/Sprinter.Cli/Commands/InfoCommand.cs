using System.CommandLine;
using System.Text.Json.Nodes;
using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter info</c>: what a model folder holds.</summary>
internal static class InfoCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<string?>("--model") { Description = "Model folder (Hugging Face layout) or .gguf file. Default: the shipped target." };
        var json = CliSupport.JsonOption();
        var command = new Command("info", "Print a model's configuration, parameter count, dtype and size.") { model, json };
        command.SetAction(r =>
        {
            string folder = CliSupport.ResolveModel(r.GetValue(model), "target", "--model");
            if (LanguageModel.IsGguf(folder)) return GgufInfo(folder, r.GetValue(json), output);
            var files = ModelFolder.Resolve(folder);
            var config = ModelConfig.Load(files.ConfigPath);
            var tokenizer = Tokenizer.Load(files);
            using var st = files.OpenWeights();
            var dtypes = st.Tensors.Values.Select(t => t.DType.ToString()).Distinct().Order().ToArray();
            bool separateHead = st.Tensors.ContainsKey("lm_head.weight") && !config.TieWordEmbeddings;
            long parameters = config.ParameterCount(separateHead);
            long fileBytes = st.Bytes;
            var info = new JsonObject
            {
                ["model"] = folder,
                ["config"] = config.ToJson(),
                ["parameters"] = parameters,
                ["dtype"] = string.Join(",", dtypes),
                ["tensors"] = st.Tensors.Count,
                ["bytes"] = fileBytes,
                ["files"] = st.Files.Count,
                ["tokenizer_vocab_size"] = tokenizer.VocabSize,
                ["runtime_bytes_fp32"] = parameters * 4,
                ["runtime_bytes_bf16"] = parameters * 2,
            };
            if (st.Metadata.Count > 0) info["metadata"] = new JsonObject(st.Metadata.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
            if (r.GetValue(json)) { CliSupport.WriteJson(output, info); return 0; }
            output.WriteLine($"model        {folder}");
            WriteArchitecture(output, config);
            output.WriteLine($"parameters   {parameters:N0} ({parameters / 1e6:F2}M){(separateHead ? ", separate lm_head" : ", lm_head tied to wte")}");
            output.WriteLine($"file         {string.Join(",", dtypes)}, {st.Tensors.Count} tensors, {fileBytes:N0} bytes{(st.Files.Count > 1 ? $" in {st.Files.Count} shards" : "")}");
            output.WriteLine($"runtime      {parameters * 4 / 1e6:F1} MB as fp32, {parameters * 2 / 1e6:F1} MB as bf16");
            return 0;
        });
        return command;
    }

    static void WriteArchitecture(TextWriter output, ModelConfig config)
    {
        output.WriteLine($"architecture {config.ModelType}: {config.LayerCount} layers, d={config.EmbeddingSize}, {config.HeadCount} heads" +
            (config.KeyValueHeads != config.HeadCount ? $" ({config.KeyValueHeads} key/value heads)" : "") +
            $", inner={config.InnerSize}, context={config.MaxPositions}, vocab={config.VocabSize}");
        output.WriteLine($"layout       {(config.Norm == NormKind.RmsNorm ? "RMSNorm" : "LayerNorm")}, {(config.Positions == PositionKind.Rope ? $"rotary positions (theta {config.RopeTheta:0.##})" : "learned positions")}, " +
            $"{(config.Mlp == MlpKind.SwiGlu ? "SwiGLU" : "tanh-GELU")} MLP{(config.QkvBias ? ", q/k/v biases" : "")}{(config.QueryKeyNorm ? ", q/k head norms" : "")}");
    }

    /// <summary>A GGUF file: architecture, parameters, tensors per storage type, size, tokenizer kind, chat template, and the run-time type --dtype auto picks.</summary>
    static int GgufInfo(string path, bool asJson, TextWriter output)
    {
        using var file = Sprinter.Models.Gguf.GgufFile.Open(path);
        var config = Sprinter.Models.Gguf.GgufModel.ReadConfig(file);
        var tokenizer = Sprinter.Models.Gguf.GgufTokenizer.Read(file);
        long parameters = file.TensorList.Sum(t => t.ElementCount);
        var types = Sprinter.Models.Gguf.GgufModel.TypeCounts(file);
        var runtime = Sprinter.Models.Gguf.GgufModel.AutoWeightType(file);
        string tokenizerKind = file.Get<string>("tokenizer.ggml.model") == "llama" ? "llama (SentencePiece BPE)" : $"gpt2 (byte-level BPE, pre-tokenizer {file.Get<string>("tokenizer.ggml.pre") ?? "default"})";
        bool template = file.Metadata.ContainsKey("tokenizer.chat_template");
        if (asJson)
        {
            CliSupport.WriteJson(output, new JsonObject
            {
                ["model"] = path, ["format"] = "gguf", ["gguf_version"] = file.Version,
                ["architecture"] = file.Get<string>("general.architecture"), ["name"] = file.Get<string>("general.name"),
                ["config"] = config.ToJson(), ["parameters"] = parameters, ["bytes"] = file.Length, ["tensors"] = file.TensorList.Count,
                ["tensor_types"] = new JsonObject(types.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["tokenizer"] = tokenizerKind, ["tokenizer_vocab_size"] = tokenizer.VocabSize, ["chat_template"] = template,
                ["runtime_dtype_auto"] = runtime.Name(),
            });
            return 0;
        }
        output.WriteLine($"model        {path} (GGUF v{file.Version}{(file.Get<string>("general.name") is string n ? $", '{n}'" : "")})");
        WriteArchitecture(output, config);
        output.WriteLine($"parameters   {parameters:N0} ({parameters / 1e6:F2}M){(config.TieWordEmbeddings ? ", output tied to token_embd" : ", separate output")}");
        output.WriteLine($"file         {file.Length:N0} bytes, {file.TensorList.Count} tensors: {string.Join(", ", types.Select(kv => $"{kv.Value} {kv.Key}"))}");
        output.WriteLine($"tokenizer    {tokenizerKind}, {tokenizer.VocabSize:N0} tokens; chat template: {(template ? "yes" : "none")}");
        output.WriteLine($"runtime      --dtype auto runs it as {runtime.Name()}" + (runtime is Sprinter.Engine.WeightType.F32 or Sprinter.Engine.WeightType.BF16 ? ""
            : " (each tensor in its own type: Q8_0, Q4_0, Q4_K, Q5_K and Q6_K blocks kept as they are, other 4/5-bit and K types widened to q8_0)"));
        return 0;
    }
}
