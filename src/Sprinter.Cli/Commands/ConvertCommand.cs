using System.CommandLine;
using Sprinter.Models;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter convert</c>: export a model folder for other runtimes.</summary>
internal static class ConvertCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<string?>("--model") { Description = "Model folder to convert. Default: the shipped target." };
        var to = new Option<string>("--to") { Description = "Target format: gguf (llama.cpp: arch gpt2, llama, qwen2 or qwen3), or safetensors (a Hugging Face folder, sharded with --max-shard-mb).", Required = true };
        var outFile = new Option<string>("--out") { Description = "Output file (gguf) or folder (safetensors).", Required = true };
        var type = new Option<string>("--type") { Description = "Weight type: f32 or f16 for gguf (1-D tensors stay f32); f32, f16 or bf16 for safetensors (default: as stored, bf16 when every tensor is bf16).", DefaultValueFactory = _ => "f32" };
        var shard = new Option<int>("--max-shard-mb") { Description = "safetensors: largest weight file in MB (10^6 bytes); bigger models become model-0000N-of-0000M.safetensors shards plus model.safetensors.index.json. 0: one file.", DefaultValueFactory = _ => 0 };
        var command = new Command("convert", "Convert a model folder to another format (GGUF for llama.cpp), or re-save it as (sharded) safetensors.") { model, to, outFile, type, shard };
        command.SetAction(int (r) =>
        {
            if (r.GetValue(to) is "safetensors") return ToSafeTensors(r, output);
            if (r.GetValue(to) is not "gguf") throw new InvalidInputException($"--to must be 'gguf' or 'safetensors', got '{r.GetValue(to)}'.");
            var ggufType = r.GetValue(type)!.ToLowerInvariant() switch
            {
                "f32" => GgufType.F32,
                "f16" => GgufType.F16,
                var t => throw new InvalidInputException($"--type must be f32 or f16, got '{t}'."),
            };
            string folder = CliSupport.ResolveModel(r.GetValue(model), "target", "--model");
            var summary = GgufWriter.Convert(folder, r.GetValue(outFile)!, ggufType);
            output.WriteLine($"wrote {summary.Path}: GGUF v{GgufWriter.Version}, {summary.Type}, {summary.TensorCount} tensors, {summary.MetadataCount} metadata keys, {summary.Bytes:N0} bytes");
            return 0;
        });
        return command;

        int ToSafeTensors(ParseResult r, TextWriter output)
        {
            int mb = r.GetValue(shard);
            if (mb < 0 || mb > 100_000) throw new InvalidInputException($"--max-shard-mb must be 0 (one file) or in [1, 100000], got {mb}.");
            string folder = CliSupport.ResolveModel(r.GetValue(model), "target", "--model"), outDir = r.GetValue(outFile)!;
            var files = ModelFolder.Resolve(folder);
            if (Path.GetFullPath(outDir).TrimEnd('/') == Path.GetFullPath(folder).TrimEnd('/'))
                throw new InvalidInputException($"--out {outDir}: choose a folder other than the model's own.");
            using var weights = files.OpenWeights();
            bool typeGiven = r.GetResult(type) is { Implicit: false };
            TensorDType? dtype = !typeGiven ? null : r.GetValue(type)!.ToLowerInvariant() switch
            {
                "f32" => TensorDType.F32,
                "f16" => TensorDType.F16,
                "bf16" => TensorDType.BF16,
                var t => throw new InvalidInputException($"--type must be f32, f16 or bf16 for safetensors, got '{t}'."),
            };
            var tensors = weights.Tensors.Values.OrderBy(t => t.Begin).ThenBy(t => t.Name)
                .Select(t => new TensorToWrite(t.Name, t.Shape, weights.ReadFloats(t), dtype ?? t.DType)).ToList();
            var written = ShardedSafeTensorsWriter.Write(outDir, tensors, mb == 0 ? long.MaxValue : mb * 1_000_000L, weights.Metadata);
            var tokenizerFiles = files.TokenizerJsonPath is string json
                ? new[] { json }.Concat(new[] { "tokenizer_config.json", "generation_config.json", "special_tokens_map.json" }.Select(n => Path.Combine(files.Folder, n)).Where(File.Exists))
                : [files.VocabPath, files.MergesPath];
            foreach (var path in tokenizerFiles.Prepend(files.ConfigPath))
                File.Copy(path, Path.Combine(outDir, Path.GetFileName(path)), overwrite: true);
            output.WriteLine($"wrote {outDir}: {tensors.Count} tensors in {written.Count(p => p.EndsWith(".safetensors"))} file(s){(written.Any(p => p.EndsWith(".index.json")) ? " with model.safetensors.index.json" : "")}");
            return 0;
        }
    }
}
