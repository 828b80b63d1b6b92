using System.CommandLine;
using Sprinter.Training;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter corpus build</c> and <c>sprinter train-tokenizer</c>: the training text and the BPE vocabulary.</summary>
internal static class CorpusCommands
{
    public static Command Corpus(TextWriter output, TextWriter error)
    {
        var source = new Option<string?>("--source") { Description = "Folder filled by scripts/fetch-corpus.sh. Default: $SPRINTER_CACHE/corpus or ~/.cache/sprinter/corpus." };
        var evalData = new Option<string?>("--eval-data") { Description = "Evaluation data folder whose sentences are removed from the training text. Default: the repository's data/ folder." };
        var outDir = new Option<string>("--out") { Description = "Output folder for train.txt, valid.txt and manifest.json.", Required = true };
        var build = new Command("build", "Clean, deduplicate and split the fetched sources; drop every sentence that occurs in the evaluation text.") { source, evalData, outDir };
        build.SetAction(int (r) =>
        {
            var options = new CorpusOptions { OutputFolder = r.GetValue(outDir)! };
            if (r.GetValue(source) is { } s) options = options with { SourceFolder = s };
            if (r.GetValue(evalData) is { } e) options = options with { EvaluationFiles = CorpusOptions.DefaultEvaluationFiles(e) };
            var manifest = CorpusBuilder.Build(options, new LineProgress(error));
            output.WriteLine($"train: {manifest.Train.Documents} documents, {manifest.Train.Chars:N0} chars; valid: {manifest.Valid.Documents} documents, {manifest.Valid.Chars:N0} chars; " +
                             $"{manifest.DuplicateParagraphsDropped} duplicate paragraphs dropped, {manifest.OverlapSentencesRemoved} evaluation-overlap sentences removed -> {options.OutputFolder}");
            return 0;
        });
        return new Command("corpus", "Training corpus commands.") { build };
    }

    public static Command TrainTokenizer(TextWriter output, TextWriter error)
    {
        var corpus = new Option<string>("--corpus") { Description = "train.txt written by 'sprinter corpus build'.", Required = true };
        var size = new Option<int>("--vocab-size") { Description = "Vocabulary size including <|endoftext|>.", DefaultValueFactory = _ => 8192 };
        var outDir = new Option<string>("--out") { Description = "Folder for vocab.json and merges.txt.", Required = true };
        var command = new Command("train-tokenizer", "Train a GPT-2 style byte-level BPE tokenizer on a corpus file.") { corpus, size, outDir };
        command.SetAction(int (r) =>
        {
            var bpe = BpeTrainer.TrainOnCorpusFile(r.GetValue(corpus)!, r.GetValue(size), new LineProgress(error));
            var (vocab, merges) = bpe.Save(r.GetValue(outDir)!);
            output.WriteLine($"wrote {vocab} and {merges}: {bpe.VocabSize} tokens");
            return 0;
        });
        return command;
    }

    /// <summary>Synchronous progress lines (Progress&lt;T&gt; would post them out of order from the thread pool).</summary>
    sealed class LineProgress(TextWriter writer) : IProgress<string>
    {
        public void Report(string value) => writer.WriteLine(value);
    }
}
