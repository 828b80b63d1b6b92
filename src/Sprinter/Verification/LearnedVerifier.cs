using Sprinter.Decoding;
using Sprinter.Models;

namespace Sprinter.Verification;

/// <summary>A <see cref="VerifierModel"/> bound to its draft model, used by the SPRINTER decoder.</summary>
public sealed class LearnedVerifier : IVerifier
{
    readonly VerifierModel _model;
    readonly LanguageModel _draft;
    readonly float[] _features, _scratch, _probs, _embedding;

    public string Name { get; }
    public int InputSize => _model.HiddenSize;
    public VerifierModel Model => _model;

    LearnedVerifier(VerifierModel model, LanguageModel draft, string name)
    {
        _model = model; _draft = draft; Name = name;
        _features = new float[model.InputCount];
        _scratch = new float[model.InputCount + model.HiddenUnits];
        _probs = new float[draft.Model.OutputVocabulary];
        _embedding = new float[draft.Config.EmbeddingSize];
    }

    /// <summary>Loads a verifier file, refusing one trained for another draft model.</summary>
    public static LearnedVerifier Load(string path, LanguageModel draft)
    {
        var model = VerifierModel.Load(path);
        if (model.HiddenSize != draft.Config.EmbeddingSize)
            throw new InvalidInputException($"{path}: the verifier reads hidden states of size {model.HiddenSize} but the draft ({draft.Source}) has n_embd {draft.Config.EmbeddingSize}; train a verifier for this draft.");
        string identity = draft.ComputeIdentity();
        if (model.DraftIdentity != identity)
            throw new InvalidInputException($"{path}: the verifier was trained for another draft model (identity {Short(model.DraftIdentity)}, this draft is {Short(identity)}); train one for {draft.Source}.");
        return new LearnedVerifier(model, draft, $"{Path.GetFileName(path)} ({model.Recipe})");
    }

    /// <summary>
    /// A verifier over the same weights with its own scratch buffers, for a decoder that runs at
    /// the same time as this one's (the server gives each request its own).
    /// </summary>
    public LearnedVerifier Clone() => new(_model, _draft, Name);

    static string Short(string id) => id.Length > 12 ? id[..12] : id;

    public bool ReadsHistory => _model.Features.HasFlag(FeatureSet.History);

    public float Score(in VerifierInput input) => VerifierModel.Sigmoid(_model.Logit(Features(input.Hidden, input.Token, input.Logits, input.Previous), _scratch));

    ReadOnlySpan<float> Features(ReadOnlySpan<float> hidden, int token, ReadOnlySpan<float> logits, VerifierFeatures.DraftStats? previous)
    {
        var stats = _model.Features.HasFlag(FeatureSet.Stats) ? VerifierFeatures.FromLogits(logits, token, _probs) : default;
        if (_model.Features.HasFlag(FeatureSet.Token)) _draft.Model.TokenEmbedding.GetColumn(token, _embedding);
        VerifierFeatures.Write(_model.Features, hidden, stats, _embedding, _features, previous);
        return _features;
    }
}
