using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Sprinter.Models;

namespace Sprinter.Verification;

/// <summary>
/// A learned verifier: standardisation, then Linear(n, 1) or Linear(n, h) -> ReLU -> Linear(h, 1),
/// then a sigmoid. Saved as safetensors with its metadata (recipe, features, input size,
/// threshold, label ratio, the draft's identity and the training summary).
/// </summary>
public sealed class VerifierModel
{
    public required FeatureSet Features { get; init; }
    public required int HiddenSize { get; init; }     // the draft's n_embd
    public required int HiddenUnits { get; init; }    // 0 = linear
    public required float[] Mean { get; init; }
    public required float[] InvStd { get; init; }
    public required float[] W1 { get; init; }          // [inputs, max(1, units)] row-major
    public required float[] B1 { get; init; }
    public float[] W2 { get; init; } = [];            // [units]
    public float B2 { get; set; }
    public float Threshold { get; set; } = 0.5f;
    public string Recipe { get; init; } = "paper";
    public float LabelRatio { get; init; } = 1f;
    /// <summary>The decoding the verifier was trained for: greedy or sample (its labels' draft tokens).</summary>
    public string Decoding { get; init; } = "greedy";
    /// <summary>paper, greedy or sample (see <see cref="LabelRule"/>).</summary>
    public string LabelRule { get; init; } = "paper";
    public string DraftIdentity { get; init; } = "";
    public JsonObject Training { get; init; } = [];

    public int InputCount => Mean.Length;

    public static VerifierModel Create(FeatureSet features, int hiddenSize, int hiddenUnits, int seed, float[] mean, float[] invStd)
    {
        int n = VerifierFeatures.Count(features, hiddenSize), width = Math.Max(1, hiddenUnits);
        var rng = new Random(seed);
        float Uniform(double limit) => (float)((rng.NextDouble() * 2 - 1) * limit);
        // torch's Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases.
        var w1 = new float[n * width];
        for (int i = 0; i < w1.Length; i++) w1[i] = Uniform(1 / Math.Sqrt(n));
        var b1 = new float[width];
        for (int i = 0; i < width; i++) b1[i] = Uniform(1 / Math.Sqrt(n));
        var w2 = new float[hiddenUnits];
        for (int i = 0; i < hiddenUnits; i++) w2[i] = Uniform(1 / Math.Sqrt(hiddenUnits));
        return new VerifierModel
        {
            Features = features, HiddenSize = hiddenSize, HiddenUnits = hiddenUnits, Mean = mean, InvStd = invStd,
            W1 = w1, B1 = b1, W2 = w2, B2 = hiddenUnits > 0 ? Uniform(1 / Math.Sqrt(hiddenUnits)) : 0,
        };
    }

    /// <summary>The logit for raw features; <paramref name="scratch"/> holds InputCount + HiddenUnits floats.</summary>
    public float Logit(ReadOnlySpan<float> features, Span<float> scratch)
    {
        int n = InputCount;
        var x = scratch[..n];
        TensorPrimitives.Subtract(features, Mean, x);
        TensorPrimitives.Multiply(x, InvStd, x);
        if (HiddenUnits == 0) return TensorPrimitives.Dot(x, W1) + B1[0];
        var h = scratch.Slice(n, HiddenUnits);
        B1.CopyTo(h);
        for (int i = 0; i < n; i++) TensorPrimitives.MultiplyAdd(W1.AsSpan(i * HiddenUnits, HiddenUnits), x[i], h, h);
        TensorPrimitives.Max(h, 0f, h);
        return TensorPrimitives.Dot(h, W2) + B2;
    }

    public static float Sigmoid(float z) => 1f / (1f + MathF.Exp(-z));

    public void Save(string path)
    {
        var meta = new Dictionary<string, string>
        {
            ["format"] = "sprinter-verifier",
            ["version"] = "1",
            ["recipe"] = Recipe,
            ["features"] = VerifierFeatures.Describe(Features),
            ["input_size"] = HiddenSize.ToString(CultureInfo.InvariantCulture),
            ["feature_count"] = InputCount.ToString(CultureInfo.InvariantCulture),
            ["hidden_units"] = HiddenUnits.ToString(CultureInfo.InvariantCulture),
            ["threshold"] = Threshold.ToString("R", CultureInfo.InvariantCulture),
            ["label_ratio"] = LabelRatio.ToString("R", CultureInfo.InvariantCulture),
            ["decoding"] = Decoding,
            ["label"] = LabelRule,
            ["draft_identity"] = DraftIdentity,
            ["training"] = Training.ToJsonString(),
        };
        var tensors = new List<TensorToWrite>
        {
            new("mean", [InputCount], Mean), new("inv_std", [InputCount], InvStd),
            new("w1", [InputCount, Math.Max(1, HiddenUnits)], W1), new("b1", [B1.Length], B1),
        };
        if (HiddenUnits > 0) { tensors.Add(new("w2", [HiddenUnits], W2)); tensors.Add(new("b2", [1], [B2])); }
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir)) throw new InvalidInputException($"{path}: the output folder does not exist; create it first.");
        SafeTensorsWriter.Write(path, tensors, meta);
    }

    static string LegacyDecoding(IReadOnlyDictionary<string, string> meta) =>
        meta.TryGetValue("training", out var t) && t.Contains("\"draft_token\":\"sample\"", StringComparison.Ordinal) ? "sample" : "greedy";

    public static VerifierModel Load(string path)
    {
        using var st = SafeTensorsFile.Open(path);
        var meta = st.Metadata;
        string Meta(string key) => meta.TryGetValue(key, out var v) ? v : throw new InvalidInputException($"{path}: metadata '{key}' is missing; this is not a Sprinter verifier file.");
        if (Meta("format") != "sprinter-verifier") throw new InvalidInputException($"{path}: not a Sprinter verifier file (format '{meta["format"]}').");
        int Int(string key) => int.TryParse(Meta(key), CultureInfo.InvariantCulture, out int v) ? v : throw new InvalidInputException($"{path}: metadata '{key}' is not an integer.");
        float Float(string key) => float.TryParse(Meta(key), CultureInfo.InvariantCulture, out float v) ? v : throw new InvalidInputException($"{path}: metadata '{key}' is not a number.");
        float[] T(string name) => st.Tensors.TryGetValue(name, out var t) ? st.ReadFloats(t) : throw new InvalidInputException($"{path}: tensor '{name}' is missing.");
        int units = Int("hidden_units"), d = Int("input_size");
        var features = VerifierFeatures.Parse(Meta("features"));
        int n = VerifierFeatures.Count(features, d);
        var model = new VerifierModel
        {
            Features = features, HiddenSize = d, HiddenUnits = units, Mean = T("mean"), InvStd = T("inv_std"), W1 = T("w1"), B1 = T("b1"),
            W2 = units > 0 ? T("w2") : [], B2 = units > 0 ? T("b2")[0] : 0, Threshold = Float("threshold"), Recipe = Meta("recipe"),
            LabelRatio = Float("label_ratio"), DraftIdentity = Meta("draft_identity"),
            Training = JsonNode.Parse(Meta("training")) as JsonObject ?? [],
            // Files from before these keys were made from the paper's label; their draft tokens say the decoding.
            Decoding = meta.TryGetValue("decoding", out var decoding) ? decoding : LegacyDecoding(meta),
            LabelRule = meta.TryGetValue("label", out var rule) ? rule : "paper",
        };
        if (model.Decoding is not ("greedy" or "sample"))
            throw new InvalidInputException($"{path}: metadata 'decoding' is '{model.Decoding}'; expected greedy or sample.");
        if (model.Mean.Length != n || model.InvStd.Length != n || model.W1.Length != n * Math.Max(1, units) || model.B1.Length != Math.Max(1, units) || model.W2.Length != units)
            throw new InvalidInputException($"{path}: tensor shapes do not match {n} features and {units} hidden units; the file is corrupt.");
        return model;
    }
}
