using System.Globalization;

namespace Sprinter.Training;

/// <summary>
/// training-log.csv: one row per optimizer step (step, tokens, lr, train loss, validation loss
/// when evaluated, tokens/s, elapsed seconds). A resumed run first drops the rows after its
/// checkpoint, which the killed run had written but will now be redone.
/// </summary>
internal sealed class TrainingLog : IDisposable
{
    const string Header = "step,tokens,lr,train_loss,val_loss,tokens_per_s,elapsed_s";
    readonly StreamWriter _writer;

    public TrainingLog(string path, int resumeStep)
    {
        var kept = new List<string> { Header };
        if (resumeStep > 0 && File.Exists(path))
            kept.AddRange(File.ReadLines(path).Skip(1).Where(line =>
                int.TryParse(line.AsSpan(0, Math.Max(0, line.IndexOf(','))), NumberStyles.None, CultureInfo.InvariantCulture, out int step) && step <= resumeStep));
        File.WriteAllLines(path, kept);
        _writer = new StreamWriter(path, append: true) { AutoFlush = true };
    }

    public void Write(int step, long tokens, double lr, double trainLoss, double? validationLoss, double tokensPerSecond, double elapsedSeconds)
    {
        var c = CultureInfo.InvariantCulture;
        _writer.WriteLine(string.Join(",", step.ToString(c), tokens.ToString(c), lr.ToString("G6", c), trainLoss.ToString("F5", c),
            validationLoss?.ToString("F5", c) ?? "", tokensPerSecond.ToString("F1", c), elapsedSeconds.ToString("F2", c)));
    }

    public void Dispose() => _writer.Dispose();
}
