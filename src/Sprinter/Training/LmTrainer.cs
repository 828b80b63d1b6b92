using System.Diagnostics;
using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>
/// Trains a GPT-2-architecture language model from text and writes a Hugging Face model folder
/// that <see cref="TransformerModel.Load"/> and <see cref="LanguageModel.Load"/> read. Deterministic:
/// the same options and data give bit-identical weights, whatever the thread count, and a run
/// resumed from a checkpoint continues exactly as if it had never stopped.
/// </summary>
public static class LmTrainer
{
    public const string LogFileName = "training-log.csv";

    public static TrainingResult Run(TrainingOptions options, IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        ValidateOptions(options);
        var o = options;
        void Report(TrainingPhase phase, string message) =>
            progress?.Report(new TrainingProgress(phase, 0, 0, 0, 0, null, null, 0, TimeSpan.Zero, null, message));

        // Data and tokenizer.
        string vocabPath = Path.Combine(o.TokenizerFolder, "vocab.json"), mergesPath = Path.Combine(o.TokenizerFolder, "merges.txt");
        var tokenizer = Tokenizer.Load(vocabPath, mergesPath);
        Report(TrainingPhase.Preparing, "tokenizing training data");
        var train = TokenDataset.Load(o.TrainFiles, tokenizer, "training data");
        train.RequireWindow(o.Context, "the training data");
        TokenDataset? valid = null;
        if (o.ValidationFiles.Count > 0)
        {
            Report(TrainingPhase.Preparing, "tokenizing validation data");
            valid = TokenDataset.Load(o.ValidationFiles, tokenizer, "validation data");
            valid.RequireWindow(o.Context, "the validation data");
        }

        var config = new ModelConfig
        {
            EmbeddingSize = o.EmbeddingSize, LayerCount = o.Layers, HeadCount = o.Heads, MaxPositions = o.Context,
            VocabSize = tokenizer.VocabSize, InnerSize = 4 * o.EmbeddingSize,
        };
        int tokensPerStep = o.BatchSize * o.Context;
        int totalSteps = o.Steps ?? (int)Math.Max(1, Math.Ceiling(o.Epochs * train.Tokens.Length / tokensPerStep));
        var schedule = new LrSchedule(o.LearningRate, o.WarmupSteps, totalSteps, o.MinLearningRateFraction);

        // Model, optimizer, and the checkpoint to resume from if there is one.
        var (initTensors, initIdentity) = o.InitFolder is null ? (RandomModel.CreateTensors(config, o.Seed), null) : InitialWeights.Read(o.InitFolder, config);
        var parameters = new ModelParameters<float>(config, initTensors);
        var optimizer = new AdamW(parameters.All.Select(p => p.Value.Length).ToArray());
        string checkpointFolder = o.CheckpointFolder ?? Path.Combine(o.OutputFolder, "checkpoint");
        string checkpointPath = Path.Combine(checkpointFolder, Checkpoint.FileName);
        DistillationTeacher? teacher = null;
        if (o.TeacherFolder is not null)
        {
            Report(TrainingPhase.Preparing, $"loading the teacher {o.TeacherFolder}");
            teacher = new DistillationTeacher(o.TeacherFolder, tokenizer, o.Context);
        }
        using var teacherScope = teacher;
        string fingerprint = Checkpoint.Fingerprint(o, config, totalSteps, tokenizer.Identity, train.Tokens, teacher?.Identity, initIdentity);
        var start = new CheckpointState(0, 0, 0, fingerprint);
        int? resumedFrom = null;
        if (File.Exists(checkpointPath))
        {
            start = Checkpoint.Load(checkpointPath, parameters, optimizer, fingerprint);
            resumedFrom = start.Step;
            Report(TrainingPhase.Preparing, $"resumed from step {start.Step} ({checkpointPath})");
        }

        Directory.CreateDirectory(o.OutputFolder);
        using var pool = new WorkerPool(o.Threads == 0 ? Environment.ProcessorCount : o.Threads);
        var model = new TrainableGpt2<float>(parameters, new ParallelGemm<float>(pool));
        using var log = new TrainingLog(Path.Combine(o.OutputFolder, LogFileName), start.Step);

        var runner = new StepRunner(model, optimizer, o.MicroBatchSize, o.Context, teacher, o.TeacherWeight);
        int accumulation = o.BatchSize / o.MicroBatchSize;
        int[] validStarts = valid?.FixedWindowStarts(o.Context, o.EvalWindows, o.MicroBatchSize) ?? [];

        var clock = Stopwatch.StartNew();
        int step = start.Step;
        long tokens = start.Tokens;
        double elapsedBefore = start.ElapsedSeconds, trainingSeconds = 0;
        double? trainLoss = null, validLoss = null;
        double tokensPerSecond = 0;
        TimeSpan Elapsed() => TimeSpan.FromSeconds(elapsedBefore + clock.Elapsed.TotalSeconds);
        void SaveCheckpoint()
        {
            progress?.Report(new TrainingProgress(TrainingPhase.Checkpointing, step, totalSteps, tokens, schedule.At(Math.Max(0, step - 1)),
                trainLoss, validLoss, tokensPerSecond, Elapsed(), null));
            Checkpoint.Save(checkpointPath, parameters, optimizer, new CheckpointState(step, tokens, Elapsed().TotalSeconds, fingerprint));
        }

        int stepsThisRun = 0;
        while (step < totalSteps)
        {
            if (cancellation.IsCancellationRequested)
            {
                SaveCheckpoint();
                return new TrainingResult(o.OutputFolder, step, totalSteps, tokens, trainLoss, validLoss, tokensPerSecond, resumedFrom, Cancelled: true);
            }
            var stepClock = Stopwatch.StartNew();
            double lr = schedule.At(step);
            double loss = runner.TrainStep(train, o.Seed, step, accumulation, lr, o.WeightDecay, o.GradientClip);
            step++;
            stepsThisRun++;
            tokens += tokensPerStep;
            trainingSeconds += stepClock.Elapsed.TotalSeconds;
            tokensPerSecond = (double)stepsThisRun * tokensPerStep / trainingSeconds;
            trainLoss = loss;

            double? validNow = null;
            if (valid is not null && (step % o.EvalInterval == 0 || step == totalSteps))
            {
                progress?.Report(new TrainingProgress(TrainingPhase.Evaluating, step, totalSteps, tokens, lr, trainLoss, validLoss, tokensPerSecond, Elapsed(), null));
                validLoss = validNow = runner.ValidationLoss(valid, validStarts);
            }
            log.Write(step, tokens, lr, loss, validNow, tokensPerSecond, Elapsed().TotalSeconds);
            var remaining = TimeSpan.FromSeconds((totalSteps - step) * trainingSeconds / stepsThisRun);
            progress?.Report(new TrainingProgress(TrainingPhase.Training, step, totalSteps, tokens, lr, trainLoss, validLoss, tokensPerSecond, Elapsed(), remaining));

            if (o.AbortAfterStep == step)
                return new TrainingResult(o.OutputFolder, step, totalSteps, tokens, trainLoss, validLoss, tokensPerSecond, resumedFrom, Cancelled: true);
            if (step % o.CheckpointInterval == 0 || step == totalSteps) SaveCheckpoint();
        }

        progress?.Report(new TrainingProgress(TrainingPhase.Saving, step, totalSteps, tokens, schedule.At(totalSteps - 1), trainLoss, validLoss, tokensPerSecond, Elapsed(), TimeSpan.Zero));
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["sprinter_training"] = $"steps={totalSteps} tokens={tokens} seed={o.Seed} train_loss={trainLoss:F4} val_loss={validLoss:F4}",
        };
        RandomModel.WriteFolder(o.OutputFolder, config, parameters.ToTensors(), File.ReadAllText(vocabPath), File.ReadAllText(mergesPath), o.OutputDType, metadata,
            o.MaxShardBytes);
        progress?.Report(new TrainingProgress(TrainingPhase.Done, step, totalSteps, tokens, schedule.At(totalSteps - 1), trainLoss, validLoss, tokensPerSecond, Elapsed(), TimeSpan.Zero));
        return new TrainingResult(o.OutputFolder, step, totalSteps, tokens, trainLoss, validLoss, tokensPerSecond, resumedFrom, Cancelled: false);
    }

    static void ValidateOptions(TrainingOptions o)
    {
        void Require(bool ok, string field, string what)
        {
            if (!ok) throw new InvalidInputException($"training option '{field}' {what}.");
        }
        Require(o.TrainFiles is { Count: > 0 }, nameof(o.TrainFiles), "needs at least one UTF-8 text file");
        Require(!string.IsNullOrWhiteSpace(o.TokenizerFolder), nameof(o.TokenizerFolder), "must name a folder with vocab.json and merges.txt");
        Require(!string.IsNullOrWhiteSpace(o.OutputFolder), nameof(o.OutputFolder), "must name the folder to write the model to");
        Require(o.Layers > 0, nameof(o.Layers), $"must be a positive integer (got {o.Layers})");
        Require(o.EmbeddingSize > 0, nameof(o.EmbeddingSize), $"must be a positive integer (got {o.EmbeddingSize})");
        Require(o.Heads > 0 && o.EmbeddingSize % o.Heads == 0, nameof(o.Heads), $"must be a positive divisor of EmbeddingSize {o.EmbeddingSize} (got {o.Heads})");
        Require(o.Context > 1, nameof(o.Context), $"must be at least 2 tokens (got {o.Context})");
        Require(o.BatchSize > 0, nameof(o.BatchSize), $"must be a positive integer (got {o.BatchSize})");
        Require(o.MicroBatchSize > 0 && o.BatchSize % o.MicroBatchSize == 0, nameof(o.MicroBatchSize), $"must be a positive divisor of BatchSize {o.BatchSize} (got {o.MicroBatchSize})");
        Require(o.Steps is null || o.Steps > 0, nameof(o.Steps), $"must be a positive integer (got {o.Steps})");
        Require(o.Steps is not null || (double.IsFinite(o.Epochs) && o.Epochs > 0), nameof(o.Epochs), $"must be a positive number (got {o.Epochs})");
        Require(double.IsFinite(o.LearningRate) && o.LearningRate > 0, nameof(o.LearningRate), $"must be a positive number (got {o.LearningRate})");
        Require(o.MinLearningRateFraction is >= 0 and <= 1, nameof(o.MinLearningRateFraction), $"must be in [0, 1] (got {o.MinLearningRateFraction})");
        Require(o.WarmupSteps >= 0, nameof(o.WarmupSteps), $"must be 0 or more (got {o.WarmupSteps})");
        Require(double.IsFinite(o.WeightDecay) && o.WeightDecay >= 0, nameof(o.WeightDecay), $"must be 0 or more (got {o.WeightDecay})");
        Require(double.IsFinite(o.GradientClip) && o.GradientClip >= 0, nameof(o.GradientClip), $"must be 0 (off) or more (got {o.GradientClip})");
        Require(o.CheckpointInterval > 0, nameof(o.CheckpointInterval), $"must be a positive number of steps (got {o.CheckpointInterval})");
        Require(o.EvalInterval > 0, nameof(o.EvalInterval), $"must be a positive number of steps (got {o.EvalInterval})");
        Require(o.EvalWindows > 0, nameof(o.EvalWindows), $"must be a positive integer (got {o.EvalWindows})");
        Require(o.OutputDType is TensorDType.F32 or TensorDType.BF16, nameof(o.OutputDType), "must be F32 or BF16");
        Require(o.Threads >= 0, nameof(o.Threads), $"must be 0 (all cores) or more (got {o.Threads})");
        Require(o.TeacherWeight is >= 0 and <= 1, nameof(o.TeacherWeight), $"must be in [0, 1] (got {o.TeacherWeight})");
        Require(o.MaxShardBytes > 0, nameof(o.MaxShardBytes), $"must be a positive number of bytes (got {o.MaxShardBytes})");
    }
}
