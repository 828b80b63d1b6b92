using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>Everything a language-model training run needs. Defaults are the project's target shape.</summary>
public sealed record TrainingOptions
{
    /// <summary>Training text files (UTF-8), concatenated in order with &lt;|endoftext|&gt; between them when the vocabulary has it.</summary>
    public required IReadOnlyList<string> TrainFiles { get; init; }
    /// <summary>Held-out text files for validation loss; none means no validation.</summary>
    public IReadOnlyList<string> ValidationFiles { get; init; } = [];
    /// <summary>A folder with vocab.json and merges.txt (GPT-2 byte-level BPE); copied into the output.</summary>
    public required string TokenizerFolder { get; init; }
    /// <summary>Where the trained model folder (config.json, model.safetensors, vocab.json, merges.txt) and training-log.csv go.</summary>
    public required string OutputFolder { get; init; }
    /// <summary>Checkpoint folder; default OutputFolder/checkpoint. A compatible checkpoint there is resumed.</summary>
    public string? CheckpointFolder { get; init; }

    public int Layers { get; init; } = 6;
    public int EmbeddingSize { get; init; } = 384;
    public int Heads { get; init; } = 6;
    /// <summary>Tokens per training sequence, also the model's n_positions.</summary>
    public int Context { get; init; } = 256;

    /// <summary>Sequences per optimizer step.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Sequences per forward/backward pass; BatchSize must be a multiple (gradient accumulation).</summary>
    public int MicroBatchSize { get; init; } = 8;
    /// <summary>Optimizer steps; when null, derived from <see cref="Epochs"/>.</summary>
    public int? Steps { get; init; }
    /// <summary>Passes over the training tokens (fractional allowed), used when <see cref="Steps"/> is null.</summary>
    public double Epochs { get; init; } = 1;

    public double LearningRate { get; init; } = 6e-4;
    /// <summary>The cosine decay ends at this fraction of <see cref="LearningRate"/>.</summary>
    public double MinLearningRateFraction { get; init; } = 0.1;
    public int WarmupSteps { get; init; } = 100;
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>Global gradient-norm clip; 0 disables clipping.</summary>
    public double GradientClip { get; init; } = 1.0;
    public int Seed { get; init; } = 1;

    /// <summary>Steps between checkpoints (a killed run loses at most this many).</summary>
    public int CheckpointInterval { get; init; } = 100;
    /// <summary>Steps between validation-loss evaluations (also after the last step).</summary>
    public int EvalInterval { get; init; } = 100;
    /// <summary>At most this many fixed validation windows of Context tokens (rounded to whole micro-batches).</summary>
    public int EvalWindows { get; init; } = 64;

    /// <summary>
    /// A trained model folder to distil from (same tokenizer): the loss becomes
    /// (1 - <see cref="TeacherWeight"/>) x cross-entropy on the data + TeacherWeight x KL(teacher || student).
    /// </summary>
    public string? TeacherFolder { get; init; }
    /// <summary>Weight of the KL term when distilling, in [0, 1]; 1 is pure distillation.</summary>
    public double TeacherWeight { get; init; } = 1.0;
    /// <summary>
    /// A trained model folder of the same shape to start from instead of random weights (continued
    /// training, e.g. a longer distillation of a shipped draft). The optimizer's moments start at zero.
    /// </summary>
    public string? InitFolder { get; init; }
    /// <summary>Largest weight file; bigger models are saved as Hugging Face shards with an index.</summary>
    public long MaxShardBytes { get; init; } = long.MaxValue;
    /// <summary>The saved weights' type: F32 (exact) or BF16 (half the size).</summary>
    public TensorDType OutputDType { get; init; } = TensorDType.F32;
    /// <summary>Worker threads; 0 means one per core. Results do not depend on it.</summary>
    public int Threads { get; init; }

    /// <summary>Test hook simulating a killed process: stop after this step with no final checkpoint or output.</summary>
    internal int? AbortAfterStep { get; init; }
}

public enum TrainingPhase { Preparing, Training, Evaluating, Checkpointing, Saving, Done }

/// <summary>
/// One progress report; the CLI renders it as a progress bar. While <see cref="TrainingPhase.Preparing"/>
/// (tokenizing, resuming) only <see cref="Message"/> is meaningful and Step and TotalSteps are 0.
/// Tokens/s counts optimizer-step time of this process only; Remaining extrapolates it.
/// </summary>
public sealed record TrainingProgress(
    TrainingPhase Phase, int Step, int TotalSteps, long Tokens, double LearningRate,
    double? TrainLoss, double? ValidationLoss, double TokensPerSecond, TimeSpan Elapsed, TimeSpan? Remaining, string? Message = null);

/// <summary>What a run did.</summary>
public sealed record TrainingResult(
    string OutputFolder, int StepsDone, int TotalSteps, long Tokens, double? FinalTrainLoss, double? FinalValidationLoss,
    double TokensPerSecond, int? ResumedFromStep, bool Cancelled);
