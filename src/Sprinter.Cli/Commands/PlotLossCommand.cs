using System.CommandLine;
using Sprinter.Training;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter plot-loss</c>: loss curves of one or more training logs as a PNG.</summary>
internal static class PlotLossCommand
{
    public static Command Create(TextWriter output)
    {
        var logs = new Option<string[]>("--log") { Description = "training-log.csv file(s); LABEL=PATH names a curve.", Required = true, AllowMultipleArgumentsPerToken = true };
        var outFile = new Option<string>("--out") { Description = "PNG file to write.", Required = true };
        var command = new Command("plot-loss", "Plot training and validation loss from train-lm logs.") { logs, outFile };
        command.SetAction(int (r) =>
        {
            var curves = r.GetValue(logs)!.Select(spec =>
            {
                int eq = spec.IndexOf('=');
                string label = eq > 0 ? spec[..eq] : Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(spec))) ?? spec;
                return (label, LossCurvePlot.Read(eq > 0 ? spec[(eq + 1)..] : spec));
            }).ToList();
            LossCurvePlot.Write(curves, r.GetValue(outFile)!);
            output.WriteLine($"wrote {r.GetValue(outFile)}");
            return 0;
        });
        return command;
    }
}
