using System.CommandLine;
using Sprinter.Models;
using Sprinter.Training;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter train-lm</c>: train a GPT-2 language model in C# and write a model folder.</summary>
internal static class TrainLmCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var train = new Option<string[]>("--train") { Description = "Training text file(s) (e.g. train.txt from 'sprinter corpus build').", Required = true, AllowMultipleArgumentsPerToken = true };
        var valid = new Option<string[]>("--valid") { Description = "Validation text file(s).", AllowMultipleArgumentsPerToken = true };
        var tokenizer = new Option<string>("--tokenizer") { Description = "Folder with vocab.json and merges.txt.", DefaultValueFactory = _ => "models/tokenizer" };
        var outDir = new Option<string>("--out") { Description = "Output model folder (config.json, model.safetensors, tokenizer files, training-log.csv).", Required = true };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint folder (default OUT/checkpoint); a compatible checkpoint there is resumed." };
        var layers = new Option<int>("--layers") { DefaultValueFactory = _ => 6 };
        var d = new Option<int>("--d") { Description = "n_embd.", DefaultValueFactory = _ => 384 };
        var heads = new Option<int>("--heads") { DefaultValueFactory = _ => 6 };
        var context = new Option<int>("--context") { Description = "Sequence length and n_positions.", DefaultValueFactory = _ => 256 };
        var batch = new Option<int>("--batch") { Description = "Sequences per optimizer step.", DefaultValueFactory = _ => 8 };
        var micro = new Option<int?>("--micro-batch") { Description = "Sequences per forward/backward (gradient accumulation). Default: --batch." };
        var steps = new Option<int?>("--steps") { Description = "Optimizer steps (default: from --epochs)." };
        var epochs = new Option<double>("--epochs") { Description = "Passes over the training tokens.", DefaultValueFactory = _ => 1 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 6e-4 };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 100 };
        var decay = new Option<double>("--weight-decay") { DefaultValueFactory = _ => 0.1 };
        var clip = new Option<double>("--clip") { DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var ckptEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 100 };
        var evalEvery = new Option<int>("--eval-every") { DefaultValueFactory = _ => 100 };
        var dtype = new Option<string>("--save-dtype") { Description = "f32 or bf16 weights in model.safetensors.", DefaultValueFactory = _ => "bf16" };
        var shard = new Option<int>("--max-shard-mb") { Description = "Largest weight file in MB (10^6 bytes); a bigger model is saved as model-0000N-of-0000M.safetensors shards plus model.safetensors.index.json. 0: one file.", DefaultValueFactory = _ => 0 };
        var teacher = new Option<string?>("--teacher") { Description = "Distil from this trained model folder (same tokenizer): the loss becomes (1 - w) x data cross-entropy + w x KL(teacher || student), with w from --teacher-weight." };
        var teacherWeight = new Option<double>("--teacher-weight") { Description = "Weight w of the KL term with --teacher, in [0, 1] (1: pure distillation).", DefaultValueFactory = _ => 1.0 };
        var init = new Option<string?>("--init") { Description = "Start from this trained model folder of the same shape instead of random weights (continued training, e.g. a longer distillation)." };
        var command = new Command("train-lm", "Train a GPT-2-architecture language model (AdamW, warmup + cosine, checkpoints, resume).")
            { train, valid, tokenizer, outDir, checkpoint, layers, d, heads, context, batch, micro, steps, epochs, lr, warmup, decay, clip, seed, ckptEvery, evalEvery, dtype, shard, teacher, teacherWeight, init };
        command.SetAction(async Task<int> (r, ct) =>
        {
            var options = new TrainingOptions
            {
                TrainFiles = r.GetValue(train)!, ValidationFiles = r.GetValue(valid) ?? [], TokenizerFolder = r.GetValue(tokenizer)!,
                OutputFolder = r.GetValue(outDir)!, CheckpointFolder = r.GetValue(checkpoint),
                Layers = r.GetValue(layers), EmbeddingSize = r.GetValue(d), Heads = r.GetValue(heads), Context = r.GetValue(context),
                BatchSize = r.GetValue(batch), MicroBatchSize = r.GetValue(micro) ?? r.GetValue(batch), Steps = r.GetValue(steps), Epochs = r.GetValue(epochs),
                LearningRate = r.GetValue(lr), WarmupSteps = r.GetValue(warmup), WeightDecay = r.GetValue(decay), GradientClip = r.GetValue(clip),
                Seed = r.GetValue(seed), CheckpointInterval = r.GetValue(ckptEvery), EvalInterval = r.GetValue(evalEvery),
                TeacherFolder = r.GetValue(teacher), TeacherWeight = r.GetValue(teacherWeight), InitFolder = r.GetValue(init),
                MaxShardBytes = r.GetValue(shard) switch
                {
                    0 => long.MaxValue,
                    < 0 or > 100_000 => throw new InvalidInputException($"--max-shard-mb must be 0 (one file) or in [1, 100000], got {r.GetValue(shard)}."),
                    var mb => mb * 1_000_000L,
                },
                OutputDType = r.GetValue(dtype)!.ToLowerInvariant() switch
                {
                    "f32" or "fp32" => TensorDType.F32,
                    "bf16" => TensorDType.BF16,
                    var x => throw new InvalidInputException($"--save-dtype must be f32 or bf16, got '{x}'."),
                },
            };
            await Task.Yield();
            var result = LmTrainer.Run(options, new TrainingProgressLine(error), ct);
            output.WriteLine($"{(result.Cancelled ? "stopped" : "done")}: {result.StepsDone}/{result.TotalSteps} steps, {result.Tokens:N0} tokens, " +
                             $"train loss {result.FinalTrainLoss:F4}, validation loss {result.FinalValidationLoss:F4}, {result.TokensPerSecond:F0} tokens/s -> {result.OutputFolder}");
            return result.Cancelled ? 130 : 0;
        });
        return command;
    }

    /// <summary>Renders training progress through <see cref="ProgressLine"/>, with loss and tokens/s.</summary>
    sealed class TrainingProgressLine(TextWriter writer) : IProgress<TrainingProgress>
    {
        readonly ProgressLine _line = new(writer, "train");

        public void Report(TrainingProgress p)
        {
            if (p.Phase == TrainingPhase.Preparing || p.TotalSteps == 0)
            {
                if (p.Message is not null) writer.WriteLine(p.Message);
                return;
            }
            string val = p.ValidationLoss is double v ? $", val {v:F3}" : "";
            _line.Report(new Sprinter.Verification.JobProgress(p.Step, p.TotalSteps, $"loss {p.TrainLoss:F3}{val}, lr {p.LearningRate:E2}, {p.TokensPerSecond:F0} tok/s"));
        }
    }
}
