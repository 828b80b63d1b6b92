using System.Diagnostics;
using Sprinter.Verification;

namespace Sprinter.Cli.Commands;

/// <summary>
/// A one-line progress bar on stderr: redrawn in place on a terminal, a line every few seconds
/// when redirected (so logs stay readable). Synchronous, so updates arrive in order.
/// </summary>
internal sealed class ProgressLine(TextWriter writer, string label) : IProgress<JobProgress>
{
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly bool _terminal = !Console.IsErrorRedirected && writer == Console.Error;
    double _lastPrint = -10;

    public void Report(JobProgress value)
    {
        double elapsed = _clock.Elapsed.TotalSeconds;
        bool last = value.Done >= value.Total;
        if (!last && elapsed - _lastPrint < (_terminal ? 0.2 : 5)) return;
        _lastPrint = elapsed;
        double fraction = value.Total == 0 ? 1 : (double)value.Done / value.Total;
        double eta = fraction > 0 ? elapsed / fraction - elapsed : 0;
        int filled = (int)(fraction * 24);
        string line = $"{label} [{new string('#', filled)}{new string('.', 24 - filled)}] {value.Done}/{value.Total} {value.Status} | {elapsed:F0}s, ETA {eta:F0}s";
        if (_terminal) writer.Write("\r" + line.PadRight(Math.Min(160, Math.Max(line.Length, Console.WindowWidth - 1))) + (last ? "\n" : ""));
        else writer.WriteLine(line);
    }
}
