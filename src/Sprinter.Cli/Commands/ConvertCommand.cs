using System.CommandLine;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter convert</c>: export a model folder for other runtimes.</summary>
internal static class ConvertCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<string?>("--model") { Description = "Model folder to convert. Default: the shipped target." };
        var to = new Option<string>("--to") { Description = "Target format: gguf.", Required = true };
        var outFile = new Option<string>("--out") { Description = "Output file.", Required = true };
        var command = new Command("convert", "Convert a model folder to another format (GGUF for llama.cpp).") { model, to, outFile };
        command.SetAction(int (r) =>
        {
            if (r.GetValue(to) is not "gguf") throw new InvalidInputException($"--to must be 'gguf', got '{r.GetValue(to)}'.");
            throw new InvalidInputException("GGUF export is not available in this build yet.");
        });
        return command;
    }
}
