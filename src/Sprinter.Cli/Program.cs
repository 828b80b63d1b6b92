using System.CommandLine;
using Sprinter;
using Sprinter.Cli.Commands;

namespace Sprinter.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the CLI; user mistakes print one line on <paramref name="error"/> and return 2.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        // Output, reports and files are culture-independent: "1.5", never "1,5".
        System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        System.Globalization.CultureInfo.DefaultThreadCurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        var root = new RootCommand("sprinter: fast local text generation (GPT-2, Llama, Mistral, Qwen2/Qwen3, SmolLM2, GPT-Neo; folders or GGUF files) with speculative decoding and SPRINTER approximate verification.")
        {
            InfoCommand.Create(output),
            GenerateCommand.Create(output, error),
            ServeCommand.Create(output, error),
            LoadCommand.Create(output, error),
            ConvertCommand.Create(output),
            BenchEngineCommand.Create(output, error),
            BenchTrainCommand.Create(output, error),
            CorpusCommands.Corpus(output, error),
            CorpusCommands.TrainTokenizer(output, error),
            VerifierCommands.Create(output, error),
            PerplexityCommand.Create(output, error),
            AgreementCommand.Create(output, error),
            FuzzCommand.Create(output, error),
            TrainLmCommand.Create(output, error),
            BenchCommand.Create(output, error),
            PlotLossCommand.Create(output),
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            string command = parsed.CommandResult.Command == root ? "sprinter" : "sprinter " + parsed.CommandResult.Command.Name;
            error.WriteLine($"error: {parsed.Errors[0].Message} (see '{command} --help').");
            return 2;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output, Error = error });
        }
        catch (InvalidSettingException e)
        {
            error.WriteLine("error: " + e.MessageFor(CliSupport.Flag(e.Setting)));
            return 2;
        }
        catch (InvalidInputException e)
        {
            error.WriteLine("error: " + e.Message);
            return 2;
        }
        catch (Sprinter.Remote.RemoteTargetException e)
        {
            // The remote target failed after its retries: one line, and not a usage mistake (exit 1).
            error.WriteLine("error: " + e.Message);
            return 1;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("cancelled.");
            return 130;
        }
    }
}
