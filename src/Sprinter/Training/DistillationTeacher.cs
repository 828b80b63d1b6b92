using System.Numerics.Tensors;
using Sprinter.Models;

namespace Sprinter.Training;

/// <summary>
/// A trained model whose next-token distributions a student is trained towards (DistillSpec's
/// forward KL): for each training window it runs the inference engine over the window and writes
/// the softmax of every position's logits.
/// </summary>
public sealed class DistillationTeacher : IDisposable
{
    readonly LanguageModel _model;
    readonly Engine.TransformerSession _session;

    public string Identity { get; }
    public string Folder => _model.Source;

    /// <summary>Loads the teacher and checks that it shares the student's tokenizer and covers its context.</summary>
    public DistillationTeacher(string folder, Tokenizer studentTokenizer, int context)
    {
        _model = LanguageModel.Load(folder);
        try
        {
            if (_model.Tokenizer.VocabularyIdentity != studentTokenizer.VocabularyIdentity)
                throw new InvalidInputException($"{folder}: the teacher's tokenizer (vocab.json + merges.txt) differs from the training tokenizer; a teacher must share it token for token.");
            if (_model.Config.MaxPositions < context)
                throw new InvalidInputException($"{folder}: the teacher's context is {_model.Config.MaxPositions} positions, shorter than the training context {context}.");
            _session = _model.Model.CreateSession(context);
            Identity = _model.ComputeIdentity();
        }
        catch
        {
            _model.Dispose();
            throw;
        }
    }

    /// <summary>probabilities[row, vocab] = the teacher's softmax at every position of <paramref name="batch"/> windows of <paramref name="seqLen"/> tokens.</summary>
    public void Probabilities(ReadOnlySpan<int> inputs, int batch, int seqLen, float[] probabilities)
    {
        int vocab = _model.Config.VocabSize;
        for (int s = 0; s < batch; s++)
        {
            _session.Reset();
            _session.Forward(inputs.Slice(s * seqLen, seqLen), seqLen);
            for (int p = 0; p < seqLen; p++)
                TensorPrimitives.SoftMax(_session.Logits(p), probabilities.AsSpan((s * seqLen + p) * vocab, vocab));
        }
    }

    public void Dispose() => _model.Dispose();
}
