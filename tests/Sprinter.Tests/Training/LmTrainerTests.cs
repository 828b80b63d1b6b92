using System.Globalization;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Training;

namespace Sprinter.Tests.Training;

public class LmTrainerTests
{
    sealed class SyncProgress(Action<TrainingProgress> onReport) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => onReport(value);
    }

    /// <summary>A byte-level tokenizer folder and a repetitive train/validation text, in a fresh temp folder.</summary>
    static (string Root, string Tokenizer, string Train, string Valid) Corpus()
    {
        string root = TestModels.TempDir();
        string tokenizer = Path.Combine(root, "tokenizer");
        Directory.CreateDirectory(tokenizer);
        var (vocab, merges) = RandomModel.ByteVocabulary();
        File.WriteAllText(Path.Combine(tokenizer, "vocab.json"), vocab);
        File.WriteAllText(Path.Combine(tokenizer, "merges.txt"), merges);
        string sentence = "the cat sat on the mat. ";
        string train = Path.Combine(root, "train.txt"), valid = Path.Combine(root, "valid.txt");
        File.WriteAllText(train, string.Concat(Enumerable.Repeat(sentence, 120)));
        File.WriteAllText(valid, string.Concat(Enumerable.Repeat(sentence, 20)));
        return (root, tokenizer, train, valid);
    }

    static TrainingOptions Tiny((string Root, string Tokenizer, string Train, string Valid) corpus, string output, int steps = 10) => new()
    {
        TrainFiles = [corpus.Train], ValidationFiles = [corpus.Valid], TokenizerFolder = corpus.Tokenizer,
        OutputFolder = Path.Combine(corpus.Root, output),
        Layers = 2, EmbeddingSize = 16, Heads = 2, Context = 8, BatchSize = 4, MicroBatchSize = 2,
        Steps = steps, LearningRate = 1e-2, WarmupSteps = 2, CheckpointInterval = 3, EvalInterval = 4, EvalWindows = 8, Threads = 2,
    };

    static byte[] Weights(string folder) => File.ReadAllBytes(Path.Combine(folder, "model.safetensors"));

    static List<string[]> LogRows(string folder) =>
        File.ReadAllLines(Path.Combine(folder, LmTrainer.LogFileName)).Skip(1).Select(l => l.Split(',')).ToList();

    [Fact]
    public void DistillationPullsTheStudentTowardsTheTeacher()
    {
        var corpus = Corpus();
        var teacherRun = LmTrainer.Run(Tiny(corpus, "teacher", steps: 15) with { EmbeddingSize = 32, Heads = 4, LearningRate = 3e-3, WarmupSteps = 5 });
        // A briefly trained (uncertain) teacher; students of another shape trained longer on data
        // alone (they grow confident) and distilled (pure KL) from the teacher.
        TrainingOptions Student(string name) => Tiny(corpus, name, steps: 60) with { Layers = 1, LearningRate = 3e-3, WarmupSteps = 5 };
        var alone = LmTrainer.Run(Student("alone"));
        var distilled = LmTrainer.Run(Student("distilled") with { TeacherFolder = teacherRun.OutputFolder, TeacherWeight = 1.0 });

        // KL(teacher || student) on a window of the validation text, both read through the inference engine.
        using var teacher = LanguageModel.Load(teacherRun.OutputFolder);
        double Kl(string folder)
        {
            using var student = LanguageModel.Load(folder);
            var tokens = teacher.Tokenizer.Encode(File.ReadAllText(corpus.Valid))[..8];
            var ts = teacher.Model.CreateSession(); ts.Forward(tokens);
            var ss = student.Model.CreateSession(); ss.Forward(tokens);
            double kl = 0;
            for (int p = 0; p < tokens.Length; p++)
            {
                var pt = new float[teacher.Config.VocabSize]; var ps = new float[pt.Length];
                System.Numerics.Tensors.TensorPrimitives.SoftMax(ts.Logits(p), pt);
                System.Numerics.Tensors.TensorPrimitives.SoftMax(ss.Logits(p), ps);
                for (int i = 0; i < pt.Length; i++) if (pt[i] > 0) kl += pt[i] * Math.Log(pt[i] / Math.Max(ps[i], 1e-30));
            }
            return kl / tokens.Length;
        }
        double klAlone = Kl(alone.OutputFolder), klDistilled = Kl(distilled.OutputFolder);
        Assert.True(klDistilled < 0.5 * klAlone, $"KL to the teacher: distilled {klDistilled:F4}, data alone {klAlone:F4}");
    }

    [Fact]
    public void ATeacherWithAnotherTokenizerIsRefused()
    {
        var corpus = Corpus();
        string other = TestModels.Folder(TestModels.TinyConfig(vocab: 300, positions: 8));
        var (vocab, merges) = RandomModel.ByteVocabulary([("t", "h")]);
        File.WriteAllText(Path.Combine(other, "vocab.json"), vocab.Replace("}", "") + string.Concat(Enumerable.Range(0, 42).Select(i => $",\"x{i}\":{258 + i}")) + "}");
        File.WriteAllText(Path.Combine(other, "merges.txt"), merges);
        var e = Assert.Throws<InvalidInputException>(() => LmTrainer.Run(Tiny(corpus, "s") with { TeacherFolder = other }));
        Assert.Contains(other, e.Message);
    }

    [Fact]
    public void InitContinuesFromTheGivenModelAndRefusesAnotherShape()
    {
        var corpus = Corpus();
        TrainingOptions Run(string name, int steps) => Tiny(corpus, name, steps) with { EmbeddingSize = 32, Heads = 4, LearningRate = 3e-3, WarmupSteps = 5 };
        var first = LmTrainer.Run(Run("first", 60));
        // Continued from the trained weights, the first step's loss is the trained model's, far below a fresh start's ln(257).
        var continued = LmTrainer.Run(Run("continued", 5) with { InitFolder = first.OutputFolder, Seed = 7 });
        var fresh = LmTrainer.Run(Run("fresh", 5) with { Seed = 7 });
        double Start(TrainingResult r) => double.Parse(LogRows(r.OutputFolder)[0][3], CultureInfo.InvariantCulture);
        Assert.True(Start(continued) < 0.5 * Start(fresh), $"first-step loss: continued {Start(continued):F3}, fresh {Start(fresh):F3}");
        Assert.True(Start(continued) < 1.5 * first.FinalTrainLoss!.Value + 0.2, $"continued starts at {Start(continued):F3}, the first run ended at {first.FinalTrainLoss:F3}");

        var e = Assert.Throws<InvalidInputException>(() => LmTrainer.Run(Run("other", 2) with { InitFolder = first.OutputFolder, Layers = 1 }));
        Assert.Contains(first.OutputFolder, e.Message);
        Assert.Contains("layers", e.Message);
        Assert.False(File.Exists(Path.Combine(corpus.Root, "other", "model.safetensors")));
    }

    [Fact]
    public void LossGoesDownOnRepetitiveText()
    {
        var corpus = Corpus();
        var result = LmTrainer.Run(Tiny(corpus, "out", steps: 120) with { EvalInterval = 40, EmbeddingSize = 32, Heads = 4, LearningRate = 3e-3, WarmupSteps = 10 });
        var rows = LogRows(result.OutputFolder);
        Assert.Equal(120, rows.Count);
        double first = double.Parse(rows[0][3], CultureInfo.InvariantCulture);
        Assert.True(first > 5, $"initial loss {first} should be near ln(257) = 5.55");
        Assert.True(result.FinalTrainLoss < 1.0, $"train loss {first} -> {result.FinalTrainLoss}");
        Assert.True(result.FinalValidationLoss < 1.0, $"validation loss -> {result.FinalValidationLoss}");
        var validRows = rows.Where(r => r[4] != "").Select(r => double.Parse(r[4], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(3, validRows.Count);   // steps 40, 80, 120
        Assert.True(validRows[^1] < validRows[0]);
    }

    [Fact]
    public void RunsAreBitIdenticalAcrossRepeatsAndThreadCounts()
    {
        var corpus = Corpus();
        var a = LmTrainer.Run(Tiny(corpus, "a") with { Threads = 1 });
        var b = LmTrainer.Run(Tiny(corpus, "b") with { Threads = 2 });
        var c = LmTrainer.Run(Tiny(corpus, "c") with { Threads = 3 });
        Assert.Equal(Weights(a.OutputFolder), Weights(b.OutputFolder));
        Assert.Equal(Weights(a.OutputFolder), Weights(c.OutputFolder));
        Assert.Equal(a.FinalValidationLoss, b.FinalValidationLoss);
    }

    [Fact]
    public void ResumeAfterAKillContinuesBitIdentically()
    {
        var corpus = Corpus();
        var whole = LmTrainer.Run(Tiny(corpus, "whole"));

        // Killed after step 5: the last checkpoint is step 3, so steps 4-5 are redone.
        var killed = LmTrainer.Run(Tiny(corpus, "resumed") with { AbortAfterStep = 5 });
        Assert.True(killed.Cancelled);
        Assert.False(File.Exists(Path.Combine(killed.OutputFolder, "model.safetensors")));
        var resumed = LmTrainer.Run(Tiny(corpus, "resumed"));
        Assert.Equal(3, resumed.ResumedFromStep);
        Assert.Equal(Weights(whole.OutputFolder), Weights(resumed.OutputFolder));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => i.ToString()), LogRows(resumed.OutputFolder).Select(r => r[0]));
        Assert.Equal(LogRows(whole.OutputFolder).Select(r => r[3]), LogRows(resumed.OutputFolder).Select(r => r[3]));
    }

    [Fact]
    public void CancellationWritesAFinalCheckpointAndResumes()
    {
        var corpus = Corpus();
        var whole = LmTrainer.Run(Tiny(corpus, "whole"));
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress(p => { if (p.Phase == TrainingPhase.Training && p.Step == 4) cts.Cancel(); });
        var cancelled = LmTrainer.Run(Tiny(corpus, "cancelled"), progress, cts.Token);
        Assert.True(cancelled.Cancelled);
        Assert.Equal(4, cancelled.StepsDone);
        var resumed = LmTrainer.Run(Tiny(corpus, "cancelled"));
        Assert.Equal(4, resumed.ResumedFromStep);
        Assert.Equal(Weights(whole.OutputFolder), Weights(resumed.OutputFolder));
    }

    [Fact]
    public void ProgressReportsEveryStepWithEta()
    {
        var corpus = Corpus();
        var reports = new List<TrainingProgress>();
        LmTrainer.Run(Tiny(corpus, "out", steps: 5), new SyncProgress(reports.Add));
        var steps = reports.Where(r => r.Phase == TrainingPhase.Training).ToList();
        Assert.Equal([1, 2, 3, 4, 5], steps.Select(r => r.Step));
        Assert.All(steps, r => { Assert.Equal(5, r.TotalSteps); Assert.True(r.TokensPerSecond > 0); Assert.NotNull(r.Remaining); Assert.NotNull(r.TrainLoss); });
        Assert.Equal(TrainingPhase.Done, reports[^1].Phase);
    }

    [Theory]
    [InlineData(TensorDType.F32)]
    [InlineData(TensorDType.BF16)]
    public void OutputFolderLoadsAndMatchesTheTrainedWeights(TensorDType dtype)
    {
        var corpus = Corpus();
        var result = LmTrainer.Run(Tiny(corpus, "out", steps: 4) with { OutputDType = dtype });
        using var lm = LanguageModel.Load(result.OutputFolder);
        Assert.Equal(257, lm.Config.VocabSize);
        Assert.Equal(8, lm.Config.MaxPositions);
        Assert.Equal(File.ReadAllText(Path.Combine(corpus.Tokenizer, "vocab.json")), File.ReadAllText(Path.Combine(result.OutputFolder, "vocab.json")));
        var tokens = lm.Tokenizer.Encode("the cat");
        var session = lm.Model.CreateSession();
        session.Forward(tokens);
        Assert.All(session.Logits(tokens.Length - 1).ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void TokenCacheIsWrittenAndReused()
    {
        var corpus = Corpus();
        var tokenizer = Tokenizer.Load(Path.Combine(corpus.Tokenizer, "vocab.json"), Path.Combine(corpus.Tokenizer, "merges.txt"));
        var first = TokenDataset.Load([corpus.Train], tokenizer, "train");
        string cache = Directory.GetFiles(corpus.Root, "train.txt.tokens-*.bin").Single();
        File.SetLastWriteTimeUtc(cache, DateTime.UtcNow.AddMinutes(1));   // marker: a re-tokenization would rewrite it
        var stamp = File.GetLastWriteTimeUtc(cache);
        var second = TokenDataset.Load([corpus.Train], tokenizer, "train");
        Assert.Equal(first.Tokens, second.Tokens);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(cache));
        File.AppendAllText(corpus.Train, "more text");                       // a changed text invalidates the cache
        Assert.Equal(first.Tokens.Length + 9, TokenDataset.Load([corpus.Train], tokenizer, "train").Tokens.Length);
    }

    [Fact]
    public void BadInputNamesTheFieldOrFile()
    {
        var corpus = Corpus();
        var e = Assert.Throws<InvalidInputException>(() => LmTrainer.Run(Tiny(corpus, "o") with { Heads = 3 }));
        Assert.Contains("Heads", e.Message);
        e = Assert.Throws<InvalidInputException>(() => LmTrainer.Run(Tiny(corpus, "o") with { MicroBatchSize = 3 }));
        Assert.Contains("MicroBatchSize", e.Message);
        e = Assert.Throws<InvalidInputException>(() => LmTrainer.Run(Tiny(corpus, "o") with { TrainFiles = [Path.Combine(corpus.Root, "missing.txt")] }));
        Assert.Contains("missing.txt", e.Message);
        e = Assert.Throws<InvalidInputException>(() => LmTrainer.Run(Tiny(corpus, "o") with { Context = 5000 }));
        Assert.Contains("Context", e.Message);

        LmTrainer.Run(Tiny(corpus, "o", steps: 3));
        e = Assert.Throws<InvalidInputException>(() => LmTrainer.Run(Tiny(corpus, "o", steps: 3) with { LearningRate = 1e-3 }));
        Assert.Contains("checkpoint", e.Message);
        Assert.Contains("lr", e.Message);
    }

    [Fact]
    public void TokenIdsOutsideTheVocabularyAreRejected()
    {
        // The current Tokenizer (CodeGenTokenizer) turns runs of spaces into ids past the vocabulary.
        var corpus = Corpus();
        var tokenizer = Tokenizer.Load(Path.Combine(corpus.Tokenizer, "vocab.json"), Path.Combine(corpus.Tokenizer, "merges.txt"));
        string path = Path.Combine(corpus.Root, "spaces.txt");
        File.WriteAllText(path, "a    b");
        if (tokenizer.Encode("a    b").All(id => id < tokenizer.VocabSize)) return;   // fixed tokenizer: nothing to reject
        var e = Assert.Throws<InvalidInputException>(() => TokenDataset.Load([path], tokenizer, "train"));
        Assert.Contains("spaces.txt", e.Message);
    }

    [Fact]
    public void ScheduleWarmsUpLinearlyThenDecaysToTheFloor()
    {
        var s = new LrSchedule(1.0, WarmupSteps: 4, TotalSteps: 15, MinFraction: 0.1);
        Assert.Equal(0.25, s.At(0), 12);
        Assert.Equal(1.0, s.At(3), 12);
        Assert.Equal(1.0, s.At(4), 12);
        Assert.Equal(0.55, s.At(9), 12);     // halfway through the decay: the mean of peak and floor
        Assert.Equal(0.1, s.At(14), 12);     // the last step reaches the floor
        for (int i = 4; i < 14; i++) Assert.True(s.At(i + 1) < s.At(i));
    }
}
