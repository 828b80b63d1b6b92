namespace Sprinter.Benchmarks;

/// <summary>
/// One evaluation example: the text the models continue (<paramref name="Prompt"/>) and the text
/// ROUGE compares prompt + continuation against (<paramref name="Reference"/>).
/// </summary>
public sealed record BenchExample(string Dataset, int Id, string Prompt, string Reference);
