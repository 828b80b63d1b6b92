using System.CommandLine;
using System.Text.Json.Nodes;
using Sprinter.Models;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter info</c>: what a model folder holds.</summary>
internal static class InfoCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<string?>("--model") { Description = "Model folder (Hugging Face GPT-2 layout). Default: the shipped target." };
        var json = CliSupport.JsonOption();
        var command = new Command("info", "Print a model's configuration, parameter count, dtype and size.") { model, json };
        command.SetAction(r =>
        {
            string folder = CliSupport.ResolveModel(r.GetValue(model), "target", "--model");
            var files = ModelFolder.Resolve(folder);
            var config = ModelConfig.Load(files.ConfigPath);
            var tokenizer = Gpt2Tokenizer.Load(files);
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
            output.WriteLine($"architecture {config.ModelType}: {config.LayerCount} layers, d={config.EmbeddingSize}, {config.HeadCount} heads" +
                (config.KeyValueHeads != config.HeadCount ? $" ({config.KeyValueHeads} key/value heads)" : "") +
                $", inner={config.InnerSize}, context={config.MaxPositions}, vocab={config.VocabSize}");
            output.WriteLine($"layout       {(config.Norm == NormKind.RmsNorm ? "RMSNorm" : "LayerNorm")}, {(config.Positions == PositionKind.Rope ? $"rotary positions (theta {config.RopeTheta:0.##})" : "learned positions")}, " +
                $"{(config.Mlp == MlpKind.SwiGlu ? "SwiGLU" : "tanh-GELU")} MLP{(config.QkvBias ? ", q/k/v biases" : "")}");
            output.WriteLine($"parameters   {parameters:N0} ({parameters / 1e6:F2}M){(separateHead ? ", separate lm_head" : ", lm_head tied to wte")}");
            output.WriteLine($"file         {string.Join(",", dtypes)}, {st.Tensors.Count} tensors, {fileBytes:N0} bytes{(st.Files.Count > 1 ? $" in {st.Files.Count} shards" : "")}");
            output.WriteLine($"runtime      {parameters * 4 / 1e6:F1} MB as fp32, {parameters * 2 / 1e6:F1} MB as bf16");
            return 0;
        });
        return command;
    }
}
