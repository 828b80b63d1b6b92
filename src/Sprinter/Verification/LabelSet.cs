using System.Text.Json;
using System.Text.Json.Nodes;
using Sprinter.Models;

namespace Sprinter.Verification;

/// <summary>
/// Verifier training examples: one per drafted token, with the draft's hidden state, the token,
/// q(x), p(x), the draft's entropy and top-1 margin, the label q(x) &lt;= ratio * p(x), and the
/// prompt it came from (splits are made by prompt). Stored as labels.safetensors (ids as exact
/// F32 values, all below 2^24) plus summary.json.
/// </summary>
public sealed class LabelSet
{
    public required int HiddenSize { get; init; }
    public required float[] Hidden { get; init; }   // [n, d]
    public required int[] Token { get; init; }
    /// <summary>The target's greedy token at the same position (agreement statistics).</summary>
    public required int[] TargetToken { get; init; }
    public required float[] Q { get; init; }
    public required float[] P { get; init; }
    public required float[] Entropy { get; init; }
    public required float[] Margin { get; init; }
    public required bool[] Label { get; init; }
    /// <summary>The training target in [0, 1]: the label itself, or SD's acceptance probability for sample labels.</summary>
    public required float[] Soft { get; init; }
    /// <summary>The decoding the labels were made for (greedy or sample).</summary>
    public string Decoding => (string?)Summary["decoding"] ?? ((string?)Summary["draft_token"] == "sample" ? "sample" : "greedy");
    public string LabelRuleName => (string?)Summary["label"] ?? "paper";
    public required int[] PromptId { get; init; }
    public required int[] Step { get; init; }
    public required JsonObject Summary { get; init; }

    public int Count => Token.Length;
    public ReadOnlySpan<float> HiddenRow(int i) => Hidden.AsSpan(i * HiddenSize, HiddenSize);
    public double PositiveRate => Count == 0 ? 0 : Label.Count(l => l) / (double)Count;
    public string DraftFolder => (string?)Summary["draft"] ?? "";
    public string DraftIdentity => (string?)Summary["draft_identity"] ?? "";
    public float Ratio => Summary["ratio"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out double r) ? (float)r : 1f;
    public string DataHash => (string?)Summary["labels_sha256"] ?? "";

    public const string TensorFile = "labels.safetensors", SummaryFile = "summary.json";

    public void Save(string folder)
    {
        Directory.CreateDirectory(folder);
        int n = Count;
        static float[] F(int[] a) => a.Select(v => (float)v).ToArray();
        string tensorPath = Path.Combine(folder, TensorFile);
        SafeTensorsWriter.Write(tensorPath,
        [
            new TensorToWrite("hidden", [n, HiddenSize], Hidden),
            new TensorToWrite("token", [n], F(Token)),
            new TensorToWrite("target_token", [n], F(TargetToken)),
            new TensorToWrite("q", [n], Q),
            new TensorToWrite("p", [n], P),
            new TensorToWrite("entropy", [n], Entropy),
            new TensorToWrite("margin", [n], Margin),
            new TensorToWrite("label", [n], Label.Select(l => l ? 1f : 0f).ToArray()),
            new TensorToWrite("soft_label", [n], Soft),
            new TensorToWrite("prompt_id", [n], F(PromptId)),
            new TensorToWrite("step", [n], F(Step)),
        ], new Dictionary<string, string> { ["format"] = "sprinter-labels" });
        Summary["labels_sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(tensorPath)));
        File.WriteAllText(Path.Combine(folder, SummaryFile), Summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    public static LabelSet Load(string folder)
    {
        string tensorPath = Path.Combine(folder, TensorFile), summaryPath = Path.Combine(folder, SummaryFile);
        if (!Directory.Exists(folder)) throw new InvalidInputException($"{folder}: label folder not found; make one with 'sprinter verifier collect'.");
        if (!File.Exists(summaryPath)) throw new InvalidInputException($"{summaryPath}: file not found; the folder was not written by 'sprinter verifier collect'.");
        JsonObject summary;
        try { summary = JsonNode.Parse(File.ReadAllText(summaryPath)) as JsonObject ?? throw new JsonException("not an object"); }
        catch (JsonException e) { throw new InvalidInputException($"{summaryPath}: not valid JSON ({e.Message})."); }
        using var st = SafeTensorsFile.Open(tensorPath);
        float[] Get(string name)
        {
            if (!st.Tensors.TryGetValue(name, out var t)) throw new InvalidInputException($"{tensorPath}: missing tensor '{name}'; re-run 'sprinter verifier collect'.");
            return st.ReadFloats(t);
        }
        var hidden = st.Tensors.TryGetValue("hidden", out var h) && h.Shape.Length == 2 ? h : throw new InvalidInputException($"{tensorPath}: tensor 'hidden' must be [examples, d].");
        int n = (int)hidden.Shape[0], d = (int)hidden.Shape[1];
        static int[] I(float[] a) => a.Select(v => (int)v).ToArray();
        var labels = Get("label");
        // Label sets from before soft labels train on their hard labels.
        var softLabels = st.Tensors.ContainsKey("soft_label") ? Get("soft_label") : labels;
        var set = new LabelSet
        {
            HiddenSize = d, Hidden = Get("hidden"), Token = I(Get("token")), TargetToken = I(Get("target_token")), Q = Get("q"), P = Get("p"), Entropy = Get("entropy"),
            Margin = Get("margin"), Label = labels.Select(v => v > 0.5f).ToArray(), Soft = softLabels, PromptId = I(Get("prompt_id")), Step = I(Get("step")),
            Summary = summary,
        };
        foreach (var (name, length) in new[] { ("token", set.Token.Length), ("q", set.Q.Length), ("label", set.Label.Length), ("soft_label", set.Soft.Length), ("prompt_id", set.PromptId.Length) })
            if (length != n) throw new InvalidInputException($"{tensorPath}: tensor '{name}' has {length} values for {n} examples; the file is corrupt.");
        return set;
    }
}
