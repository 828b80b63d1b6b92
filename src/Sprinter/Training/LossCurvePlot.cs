using System.Globalization;
using ScottPlot;

namespace Sprinter.Training;

/// <summary>One row of training-log.csv.</summary>
public sealed record LossLogRow(int Step, long Tokens, double TrainLoss, double? ValidationLoss);

/// <summary>Reads training logs and draws loss curves (train loss smoothed, validation loss as points) against tokens seen.</summary>
public static class LossCurvePlot
{
    public static List<LossLogRow> Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: training log not found; train-lm writes {LmTrainer.LogFileName} in its output folder.");
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || !lines[0].StartsWith("step,tokens,lr,train_loss,val_loss", StringComparison.Ordinal))
            throw new InvalidInputException($"{path}: not a training log (expected the header 'step,tokens,lr,train_loss,val_loss,...').");
        var rows = new List<LossLogRow>();
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            if (f.Length < 5 || !int.TryParse(f[0], CultureInfo.InvariantCulture, out int step)) continue;
            rows.Add(new LossLogRow(step, long.Parse(f[1], CultureInfo.InvariantCulture), double.Parse(f[3], CultureInfo.InvariantCulture),
                f[4].Length == 0 ? null : double.Parse(f[4], CultureInfo.InvariantCulture)));
        }
        return rows;
    }

    /// <summary>Writes a PNG with one train curve (moving average over <paramref name="window"/> steps) and validation points per log.</summary>
    public static void Write(IReadOnlyList<(string Label, List<LossLogRow> Rows)> logs, string pngPath, int window = 25)
    {
        var plot = new Plot();
        foreach (var (label, rows) in logs)
        {
            if (rows.Count == 0) continue;
            var smoothed = rows.Select((r, i) => rows.Skip(Math.Max(0, i - window + 1)).Take(Math.Min(window, i + 1)).Average(x => x.TrainLoss)).ToArray();
            var train = plot.Add.Scatter(rows.Select(r => r.Tokens / 1e6).ToArray(), smoothed);
            train.MarkerSize = 0;
            train.LegendText = $"{label} train (mean of {window} steps)";
            var val = rows.Where(r => r.ValidationLoss is not null).ToList();
            if (val.Count > 0)
            {
                var points = plot.Add.Scatter(val.Select(r => r.Tokens / 1e6).ToArray(), val.Select(r => r.ValidationLoss!.Value).ToArray());
                points.LegendText = $"{label} validation";
                points.MarkerSize = 7;
                points.LineWidth = 0;
            }
        }
        plot.Title("Training loss");
        plot.XLabel("tokens seen (millions)");
        plot.YLabel("cross-entropy (nats per token)");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(pngPath, 900, 600);
    }
}
