using System.CommandLine;
using Sprinter.Models;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter convert</c>: export a model folder for other runtimes.</summary>
internal static class ConvertCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<string?>("--model") { Description = "Model folder to convert. Default: the shipped target." };
        var to = new Option<string>("--to") { Description = "Target format: gguf (llama.cpp, GPT-2 architecture).", Required = true };
        var outFile = new Option<string>("--out") { Description = "Output file.", Required = true };
        var type = new Option<string>("--type") { Description = "GGUF weight type: f32 or f16 (1-D tensors stay f32).", DefaultValueFactory = _ => "f32" };
        var command = new Command("convert", "Convert a model folder to another format (GGUF for llama.cpp).") { model, to, outFile, type };
        command.SetAction(int (r) =>
        {
            if (r.GetValue(to) is not "gguf") throw new InvalidInputException($"--to must be 'gguf', got '{r.GetValue(to)}'.");
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
    }
}
