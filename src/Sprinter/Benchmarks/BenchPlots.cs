using Sprinter.Decoding;
using ScottPlot;

namespace Sprinter.Benchmarks;

/// <summary>
/// PNG plots with ScottPlot 5 (SkiaSharp). It renders headless with no system libraries: ScottPlot
/// pulls in SkiaSharp.NativeAssets.Linux.NoDependencies, a libSkiaSharp that needs no fontconfig and
/// reads font files from /usr/share/fonts itself. Text needs some font there (the project's machines
/// have fonts-dejavu-core); on a machine with none the plots still render, without text.
/// </summary>
public static class BenchPlots
{
    /// <summary>Writes the plots for every dataset and sampling setting; returns the file names written.</summary>
    public static List<string> Write(BenchResults results, string folder)
    {
        var files = new List<string>();
        foreach (var group in results.Methods.GroupBy(m => (m.Dataset, m.Sampling)))
        {
            string tag = $"{Safe(group.Key.Dataset)}-{group.Key.Sampling}";
            var methods = group.ToList();
            string sampling = group.Key.Sampling;
            files.Add(SpeedQuality(methods, m => results.Config.ThresholdOf(m.Method, sampling), folder, $"speed-quality-{tag}.png", $"{group.Key.Dataset}, {group.Key.Sampling}"));
            var sd = methods.FirstOrDefault(m => m.Method == results.Config.Sd);
            var sprinter = methods.FirstOrDefault(m => m.Method.Kind == DecodingMethod.SprinterPaper);
            if (sd is not null && sprinter is not null)
                files.Add(TokensPerCall(sd, sprinter, folder, $"tokens-per-call-{tag}.png", $"{group.Key.Dataset}, {group.Key.Sampling}"));
        }
        return files;
    }

    static string Safe(string name) => string.Concat(name.Select(c => char.IsLetterOrDigit(c) ? c : '_'));

    /// <summary>ms/token against ROUGE-L: a line per SPRINTER mode over the thresholds, SD and AR as reference points.</summary>
    static string SpeedQuality(List<MethodSummary> methods, Func<MethodSummary, float> threshold, string folder, string file, string title)
    {
        var plot = new Plot();
        foreach (var kind in new[] { DecodingMethod.SprinterPaper, DecodingMethod.SprinterStrictOnCall })
        {
            var points = methods.Where(m => m.Method.Kind == kind).OrderBy(threshold).ToList();
            if (points.Count == 0) continue;
            var line = plot.Add.Scatter(points.Select(m => m.MsPerTokenMedian).ToArray(), points.Select(m => m.RougeL).ToArray());
            line.LegendText = $"{points[0].Method.Mode} (thresholds {string.Join(", ", points.Select(m => threshold(m).ToString("0.###")))})";
            line.MarkerSize = 9;
            foreach (var m in points)
                plot.Add.Text($"t={threshold(m):0.###}", m.MsPerTokenMedian, m.RougeL).LabelFontSize = 11;
        }
        foreach (var m in methods.Where(m => !m.Method.IsSprinter))
        {
            var marker = plot.Add.Marker(m.MsPerTokenMedian, m.RougeL, MarkerShape.FilledSquare, 10);
            marker.LegendText = m.Method.Name;
        }
        plot.Title($"Speed vs quality ({title})");
        plot.XLabel("ms per token (median over prompts)");
        plot.YLabel("ROUGE-L (points)");
        plot.ShowLegend();
        return Save(plot, folder, file);
    }

    /// <summary>Share of rounds (target calls) that committed n tokens, SD against SPRINTER.</summary>
    static string TokensPerCall(MethodSummary sd, MethodSummary sprinter, string folder, string file, string title)
    {
        var plot = new Plot();
        int max = Math.Max(sd.TokensPerRound.DefaultIfEmpty(1).Max(), sprinter.TokensPerRound.DefaultIfEmpty(1).Max());
        foreach (var (summary, offset) in new[] { (sd, -0.2), (sprinter, 0.2) })
        {
            double rounds = Math.Max(1, summary.TokensPerRound.Count);
            var positions = Enumerable.Range(1, max).Select(n => n + offset).ToArray();
            var shares = Enumerable.Range(1, max).Select(n => summary.TokensPerRound.Count(t => t == n) / rounds).ToArray();
            var bars = plot.Add.Bars(positions, shares);
            foreach (var bar in bars.Bars) bar.Size = 0.4;
            bars.LegendText = $"{summary.Method.Name} (mean {summary.TokensPerTargetCall:F2} tokens per target call)";
        }
        plot.Title($"Tokens per target call ({title})");
        plot.XLabel("tokens committed by one round (one target call)");
        plot.YLabel("share of rounds");
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperCenter);
        return Save(plot, folder, file);
    }

    static string Save(Plot plot, string folder, string file)
    {
        plot.SavePng(Path.Combine(folder, file), 900, 600);
        return file;
    }
}
