using Sprinter.Models;

namespace Sprinter.Decoding;

/// <summary>
/// What the decoders use of the target: a sequence they extend, score and roll back. A local
/// <see cref="Engine.TransformerSession"/> implements it with a KV cache; a remote target
/// (<c>Sprinter.Remote.RemoteTargetSession</c>) keeps the token list here and makes each
/// <see cref="Forward"/> one HTTP call to a serving engine.
/// </summary>
public interface ITargetSession
{
    /// <summary>Tokens the target holds.</summary>
    int Length { get; }
    /// <summary>Most tokens a sequence may hold.</summary>
    int Capacity { get; }
    /// <summary>Entries of a logits row (the tokenizer's vocabulary; padded embedding rows excluded).</summary>
    int OutputVocabulary { get; }
    /// <summary>The model's configuration for analytic FLOPs; null when unknown (a remote model), and then FLOPs are not counted.</summary>
    ModelConfig? Config { get; }
    /// <summary>Remote call counters since the last <see cref="Reset"/>; null for a local session.</summary>
    RemoteCallStats? Remote { get; }

    /// <summary>Rolls back to <paramref name="length"/> tokens.</summary>
    void Truncate(int length);
    void Reset();
    /// <summary>
    /// Appends tokens whose logits nobody reads (the prompt prefill): a local session runs them
    /// through its cache, a remote one only remembers them (its next call sends the whole sequence).
    /// </summary>
    void Prefill(ReadOnlySpan<int> tokens);
    /// <summary>
    /// Appends <paramref name="tokens"/> and computes logits for the last <paramref name="logitRows"/>
    /// positions. On failure the session is unchanged (a remote call that fails never half-applies).
    /// </summary>
    void Forward(ReadOnlySpan<int> tokens, int logitRows, CancellationToken cancellationToken);
    /// <summary>Logits (or log-probabilities, which give the same distribution) of one row of the last call.</summary>
    ReadOnlySpan<float> Logits(int row);
}

/// <summary>HTTP calls to a remote target: counts, bytes, round-trip time and retries.</summary>
public sealed class RemoteCallStats
{
    public int Calls { get; set; }
    public int Retries { get; set; }
    public long BytesSent { get; set; }
    public long BytesReceived { get; set; }
    public double RoundTripMs { get; set; }
    /// <summary>Whether each row is the full distribution (else top-N: only greedy decoding is exact).</summary>
    public bool FullDistribution { get; set; }

    public RemoteCallStats Copy() => (RemoteCallStats)MemberwiseClone();
}
