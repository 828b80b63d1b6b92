using Sprinter.Verification;

namespace Sprinter.Benchmarks;

/// <summary>
/// The benchmark's datasets: <c>wiki</c> (WikiText-2 test articles, prompt from the body, reference
/// = the lead paragraph, as the paper's Wiki-Summaries), <c>lm1b</c> (LM1B test sentences, prompt
/// from the sentence, reference = the sentence itself) or a user's plain-text / JSONL file (like
/// lm1b: reference = the whole text). Prompts are the first ceil(30%) of the words
/// (<see cref="PromptSource.PromptOf"/>); a seeded sample of <c>count</c> examples per dataset.
/// </summary>
public static class BenchDatasets
{
    public const string WikiFile = "wikitext2/wiki.test.raw";
    public const string Lm1bFile = "lm1b/news.en.heldout-00000-of-00050";

    /// <param name="spec">wiki, lm1b, or a file path.</param>
    /// <param name="dataDir">The folder holding wikitext2/ and lm1b/ (../shared/data).</param>
    public static List<BenchExample> Load(string spec, string dataDir, int count, int seed)
    {
        var (entries, _) = Read(spec, dataDir);
        var byId = entries.ToDictionary(e => e.Id);
        // The sample is drawn on the prompt source (wiki: the body after the lead).
        var sample = PromptSource.Sample(entries.Select(e => new SourceText(e.Id, e.Source)).ToList(), count, seed);
        if (sample.Count == 0) throw new InvalidInputException($"{spec}: no text with at least 5 words to make a prompt from.");
        string name = spec.ToLowerInvariant() is "wiki" or "lm1b" ? spec : Path.GetFileName(spec);
        return sample.Select(s => new BenchExample(name, s.Id, PromptSource.PromptOf(s.Text), byId[s.Id].Reference)).ToList();
    }

    /// <summary>
    /// Whole texts of a dataset, for scoring (perplexity) or prompt sampling (agreement, label
    /// collection): wiki = each article's lead and body, lm1b = the sentences, else the file's lines.
    /// </summary>
    /// <returns>The texts and the file they were read from.</returns>
    public static (List<SourceText> Texts, string File) Texts(string spec, string dataDir)
    {
        var (entries, file) = Read(spec, dataDir);
        return (entries.Select(e => new SourceText(e.Id, e.Whole)).ToList(), file);
    }

    /// <summary>Each text of a dataset: the prompt source, the ROUGE reference and the whole text.</summary>
    static (List<(int Id, string Source, string Reference, string Whole)> Entries, string File) Read(string spec, string dataDir)
    {
        switch (spec.ToLowerInvariant())
        {
            case "wiki":
                string wiki = DataFile(dataDir, WikiFile, spec);
                return (WikiTextArticles.Parse(File.ReadAllText(wiki)).Select((a, i) => (i, a.Body, a.Lead, a.Lead + "\n" + a.Body)).ToList(), wiki);
            case "lm1b":
                string lm1b = DataFile(dataDir, Lm1bFile, spec);
                return (Lm1bSentences.Parse(File.ReadLines(lm1b)).Select(s => (s.Line, s.Text, s.Text, s.Text)).ToList(), lm1b);
            default:
                return (PromptSource.ReadTexts(spec).Select(t => (t.Id, t.Text, t.Text, t.Text)).ToList(), spec);
        }
    }

    static string DataFile(string dataDir, string relative, string spec)
    {
        string path = Path.Combine(dataDir, relative);
        if (!File.Exists(path))
            throw new InvalidSettingException("data_dir", $"holds no dataset '{spec}' ({path} not found); give the folder holding wikitext2/ and lm1b/ (by default the repository's data/ folder).");
        return path;
    }

    /// <summary>
    /// The evaluation data a command uses without --data-dir, searched upwards from
    /// <paramref name="start"/>: the repository's own data/ folder (beside Sprinter.slnx, or beside an
    /// installed tool's executable), else ../shared/data beside the repository root.
    /// </summary>
    public static string? DefaultDataDir(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            string carried = Path.Combine(dir.FullName, "data");
            bool repository = File.Exists(Path.Combine(dir.FullName, "Sprinter.slnx"));
            if ((repository || File.Exists(Path.Combine(dir.FullName, "Sprinter.Cli.dll"))) && Directory.Exists(Path.Combine(carried, "lm1b")))
                return carried;
            if (repository) return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
        }
        return null;
    }
}
