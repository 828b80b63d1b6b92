namespace Sprinter.Verification;

/// <summary>
/// How a verifier is trained. <c>paper</c> is the released code's recipe: Linear(d, 1) + sigmoid
/// on the raw hidden state, BCE, Adam lr 5e-4, batch 10, 20 epochs, the epoch with the best
/// accuracy kept (here chosen on the validation split, never the test split). Each improvement
/// is its own named recipe so comparisons stay honest.
/// </summary>
public sealed record VerifierRecipe
{
    public required string Name { get; init; }
    public FeatureSet Features { get; init; } = FeatureSet.Hidden;
    /// <summary>Weight each class by N / (2 * its count) in the loss.</summary>
    public bool ClassWeighting { get; init; }
    /// <summary>0: linear; otherwise one ReLU hidden layer of this width.</summary>
    public int HiddenUnits { get; init; }
    /// <summary>Standardise features with the training split's mean and standard deviation.</summary>
    public bool Standardize { get; init; }
    public float LearningRate { get; init; } = 5e-4f;
    public int BatchSize { get; init; } = 10;
    public int Epochs { get; init; } = 20;
    /// <summary>Keep the epoch with the best validation accuracy (paper) or AUROC.</summary>
    public bool SelectByAccuracy { get; init; }

    public static readonly VerifierRecipe Paper = new() { Name = "paper", SelectByAccuracy = true };
    public static readonly VerifierRecipe Weighted = Paper with { Name = "weighted", ClassWeighting = true, SelectByAccuracy = false };
    public static readonly VerifierRecipe WithFeatures = new() { Name = "features", Features = FeatureSet.Hidden | FeatureSet.Stats | FeatureSet.Token, Standardize = true };
    public static readonly VerifierRecipe Mlp = WithFeatures with { Name = "mlp", HiddenUnits = 64 };
    public static readonly VerifierRecipe MlpWeighted = Mlp with { Name = "mlp-weighted", ClassWeighting = true };
    /// <summary>The mlp recipe plus the draft's entropy and margin one position back.</summary>
    public static readonly VerifierRecipe MlpHistory = Mlp with { Name = "mlp-history", Features = Mlp.Features | FeatureSet.History };

    public static IReadOnlyList<VerifierRecipe> All { get; } = [Paper, Weighted, WithFeatures, Mlp, MlpWeighted, MlpHistory];

    public static VerifierRecipe Parse(string name) =>
        All.FirstOrDefault(r => r.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new InvalidSettingException("recipe", $"must be one of {string.Join(", ", All.Select(r => r.Name))}; got '{name}'.");
}
