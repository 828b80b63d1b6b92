namespace Sprinter.Training;

/// <summary>
/// One optimizer step (gradient accumulation over micro-batches, global-norm clipping, AdamW)
/// and the validation loss, over input buffers allocated once.
/// </summary>
internal sealed class StepRunner(TrainableGpt2<float> model, AdamW optimizer, int microBatch, int seqLen,
    DistillationTeacher? teacher = null, double teacherWeight = 0)
{
    readonly int[] _inputs = new int[microBatch * seqLen];
    readonly int[] _targets = new int[microBatch * seqLen];
    readonly float[]? _teacherProbabilities = teacher is null ? null : new float[(long)microBatch * seqLen * model.Config.VocabSize];

    /// <summary>Runs 0-based step <paramref name="step"/> and returns its mean training loss.</summary>
    public double TrainStep(TokenDataset data, int seed, int step, int accumulation, double learningRate, double weightDecay, double clip)
    {
        var parameters = model.Parameters.All;
        model.Parameters.ZeroGradients();
        double loss = 0;
        for (int m = 0; m < accumulation; m++)
        {
            for (int s = 0; s < microBatch; s++)
                data.SampleWindow(seed, step, m * microBatch + s, seqLen, _inputs.AsSpan(s * seqLen, seqLen), _targets.AsSpan(s * seqLen, seqLen));
            teacher?.Probabilities(_inputs, microBatch, seqLen, _teacherProbabilities!);
            loss += model.Forward(_inputs, _targets, microBatch, seqLen, _teacherProbabilities, teacherWeight) / accumulation;
            model.Backward(1.0 / accumulation);
        }
        if (!double.IsFinite(loss))
            throw new InvalidInputException($"training diverged at step {step + 1} (loss {loss}); lower LearningRate ({learningRate:G3} at this step) or raise WarmupSteps.");
        double norm = AdamW.GradientNorm(parameters);
        double gradScale = clip > 0 && norm > clip ? clip / norm : 1;
        optimizer.Step(parameters, learningRate, weightDecay, gradScale);
        return loss;
    }

    /// <summary>Mean loss over the windows starting at <paramref name="starts"/> (a whole number of micro-batches).</summary>
    public double ValidationLoss(TokenDataset data, int[] starts)
    {
        double sum = 0;
        for (int b = 0; b < starts.Length; b += microBatch)
        {
            for (int s = 0; s < microBatch; s++)
            {
                data.Tokens.AsSpan(starts[b + s], seqLen).CopyTo(_inputs.AsSpan(s * seqLen));
                data.Tokens.AsSpan(starts[b + s] + 1, seqLen).CopyTo(_targets.AsSpan(s * seqLen));
            }
            sum += model.Forward(_inputs, _targets, microBatch, seqLen);
        }
        return sum / (starts.Length / microBatch);
    }
}
