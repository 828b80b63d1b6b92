using System.Diagnostics;
using System.Runtime.CompilerServices;
using Sprinter.Engine;

namespace Sprinter.Decoding;

/// <summary>One generated token as it is committed.</summary>
public readonly record struct GeneratedToken(int Id, int Index);

/// <summary>Timing of a finished generation.</summary>
public sealed record GenerationTiming(int PromptTokens, int NewTokens, double PrefillMs, double DecodeMs)
{
    /// <summary>Decode time per new token, prompt prefill excluded.</summary>
    public double MsPerToken => NewTokens == 0 ? 0 : DecodeMs / NewTokens;
    public double TokensPerSecond => DecodeMs <= 0 ? 0 : NewTokens * 1000.0 / DecodeMs;
}

/// <summary>Plain autoregressive decoding with one model: one forward pass per token.</summary>
public sealed class AutoregressiveDecoder
{
    readonly Gpt2Session _session;
    readonly DistributionBuilder _distribution;
    readonly TokenSampler _sampler;
    readonly float[] _probs;

    public GenerationTiming? LastTiming { get; private set; }

    public AutoregressiveDecoder(Gpt2Session session, SamplingOptions options, int seed)
    {
        _session = session;
        int vocab = session.Model.Config.VocabSize;
        _distribution = new DistributionBuilder(options, vocab);
        _sampler = new TokenSampler(seed);
        _probs = new float[vocab];
    }

    /// <summary>
    /// Streams up to <paramref name="maxTokens"/> new tokens after <paramref name="prompt"/>,
    /// stopping early at <paramref name="stopToken"/> (which is yielded). The session is reset first.
    /// </summary>
    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(int[] prompt, int maxTokens, int? stopToken = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (prompt.Length == 0) throw new InvalidInputException("the prompt is empty; give at least one token of text.");
        if (maxTokens < 0) throw new InvalidInputException($"--max-tokens must be >= 0, got {maxTokens}.");
        if (prompt.Length + maxTokens > _session.Capacity)
            throw new InvalidInputException($"prompt ({prompt.Length} tokens) plus --max-tokens ({maxTokens}) exceeds the model's context of {_session.Capacity} tokens (n_positions); shorten one of them.");
        _session.Reset();
        var clock = Stopwatch.StartNew();
        _session.Forward(prompt, allLogits: false);
        double prefill = clock.Elapsed.TotalMilliseconds;
        double decode = 0;
        int produced = 0;
        try
        {
            var one = new int[1];
            for (int i = 0; i < maxTokens; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long start = Stopwatch.GetTimestamp();
                _distribution.Compute(_session.Logits(_session.LogitRows - 1), _probs);
                int token = _sampler.Sample(_probs);
                bool last = i == maxTokens - 1 || token == stopToken;
                if (!last)
                {
                    one[0] = token;
                    _session.Forward(one);
                }
                decode += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                produced++;
                yield return new GeneratedToken(token, i);
                if (last) break;
                await Task.CompletedTask; // the work is synchronous; yielding per token is the stream
            }
        }
        finally
        {
            LastTiming = new GenerationTiming(prompt.Length, produced, prefill, decode);
        }
    }
}
