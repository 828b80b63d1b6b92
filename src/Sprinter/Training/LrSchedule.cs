namespace Sprinter.Training;

/// <summary>
/// Learning rate at a step: linear warmup from lr/warmup to lr over the first warmup steps, then
/// cosine decay to a floor (minFraction * lr) at the last step.
/// </summary>
public sealed record LrSchedule(double PeakLearningRate, int WarmupSteps, int TotalSteps, double MinFraction)
{
    /// <summary>The rate for 0-based <paramref name="step"/>.</summary>
    public double At(int step)
    {
        if (step < WarmupSteps) return PeakLearningRate * (step + 1) / WarmupSteps;
        double floor = PeakLearningRate * MinFraction;
        int decaySteps = TotalSteps - WarmupSteps;
        if (decaySteps <= 1) return PeakLearningRate;
        double progress = Math.Clamp((double)(step - WarmupSteps) / (decaySteps - 1), 0, 1);
        return floor + 0.5 * (1 + Math.Cos(Math.PI * progress)) * (PeakLearningRate - floor);
    }
}
