using System.Text.Json.Nodes;

namespace Sprinter.Decoding;

/// <summary>How an emitted token came to be (SPRINTER.md's vocabulary).</summary>
public enum TokenOrigin
{
    /// <summary>Sampled by the only model (autoregressive decoding).</summary>
    Sampled,
    /// <summary>Drafted and kept on the verifier's word; the target never tested it.</summary>
    Unverified,
    /// <summary>Drafted and passed the target's test.</summary>
    Accepted,
    /// <summary>Drawn from the residual norm(max(p - q, 0)) after the target rejected a drafted token.</summary>
    Resampled,
    /// <summary>Drawn from the target after every tested token of a round was accepted.</summary>
    Bonus,
}

/// <summary>One committed token with its provenance, and its target log-probabilities when the
/// decoder was asked for them (null for an unverified token: the target never scored it).</summary>
/// <param name="Lookahead">Drafted after SPRINTER's verifier stopped (tested with SD's rule in the same call).</param>
public readonly record struct EmittedToken(int Id, int Index, TokenOrigin Origin, TokenLogprobs? Logprobs = null, bool Lookahead = false)
{
    /// <summary>The provenance name in CLI, JSON and HTTP output: sampled, unverified, accepted, resampled, bonus, and
    /// accepted-lookahead for a lookahead token the target accepted.</summary>
    public string Provenance => Lookahead && Origin == TokenOrigin.Accepted ? "accepted-lookahead" : Origin.ToString().ToLowerInvariant();
}

/// <summary>
/// Counters and timings of one generation. Formulas:
/// tokens_per_target_call = new_tokens / target_calls; acceptance_rate = accepted / drafted;
/// target_acceptance_rate = accepted / tested (tokens the target actually tested);
/// mean_accepted_length = 1 + accepted / rounds; per-position acceptance = kept / drafted at
/// each draft position of a round (kept = accepted or unverified). FLOPs exclude the prompt
/// prefill, which is the same for every method (formula in <see cref="FlopCount"/>).
/// </summary>
public sealed class DecodingStats
{
    public required string Mode { get; init; }
    public required bool Lossless { get; init; }
    public int PromptTokens { get; set; }
    public int NewTokens { get; set; }
    public int Rounds { get; set; }
    public int TargetCalls { get; set; }
    public int DraftSteps { get; set; }
    public int Drafted { get; set; }
    public int Tested { get; set; }
    public int VerifierAccepts { get; set; }
    public int VerifierRejects { get; set; }
    public int Accepted { get; set; }
    public int Resampled { get; set; }
    public int Bonus { get; set; }
    public int Unverified { get; set; }
    public int Sampled { get; set; }
    public List<int> DraftedAtPosition { get; } = [];
    public List<int> KeptAtPosition { get; } = [];
    /// <summary>Tokens committed by each round (the histogram of tokens per target call).</summary>
    public List<int> TokensPerRound { get; } = [];
    /// <summary>Kept tokens that came from SPRINTER's lookahead.</summary>
    public int LookaheadTokens { get; set; }
    /// <summary>The online calibration of the verifier's threshold (null: a fixed threshold).</summary>
    public OnlineCalibration? Calibration { get; set; }
    public double PrefillMs { get; set; }
    public double DraftMs { get; set; }
    public double VerifierMs { get; set; }
    public double TargetMs { get; set; }
    public double SamplingMs { get; set; }
    public double DecodeMs { get; set; }
    public double DraftFlops { get; set; }
    public double TargetFlops { get; set; }
    /// <summary>HTTP calls of a remote target (null: the target ran here).</summary>
    public RemoteCallStats? Remote { get; set; }

    public double TokensPerTargetCall => TargetCalls == 0 ? 0 : (double)NewTokens / TargetCalls;
    public double TargetCallsPerToken => NewTokens == 0 ? 0 : (double)TargetCalls / NewTokens;
    public double AcceptanceRate => Drafted == 0 ? 0 : (double)Accepted / Drafted;
    public double TargetAcceptanceRate => Tested == 0 ? 0 : (double)Accepted / Tested;
    public double MeanAcceptedLength => Rounds == 0 ? 0 : 1 + (double)Accepted / Rounds;
    public double MsPerToken => NewTokens == 0 ? 0 : DecodeMs / NewTokens;
    public double TokensPerSecond => DecodeMs <= 0 ? 0 : NewTokens * 1000 / DecodeMs;
    public double FlopsPerToken => NewTokens == 0 ? 0 : (DraftFlops + TargetFlops) / NewTokens;

    internal void CountPosition(int position, bool kept)
    {
        while (DraftedAtPosition.Count <= position) { DraftedAtPosition.Add(0); KeptAtPosition.Add(0); }
        DraftedAtPosition[position]++;
        if (kept) KeptAtPosition[position]++;
    }

    internal void CountOrigin(TokenOrigin origin)
    {
        NewTokens++;
        switch (origin)
        {
            case TokenOrigin.Sampled: Sampled++; break;
            case TokenOrigin.Unverified: Unverified++; break;
            case TokenOrigin.Accepted: Accepted++; break;
            case TokenOrigin.Resampled: Resampled++; break;
            case TokenOrigin.Bonus: Bonus++; break;
        }
    }

    public JsonObject ToJson()
    {
        static JsonNode R(double v) => Math.Round(v, 4);
        return new JsonObject
        {
            ["mode"] = Mode,
            ["lossless"] = Lossless,
            ["prompt_tokens"] = PromptTokens,
            ["new_tokens"] = NewTokens,
            ["rounds"] = Rounds,
            ["target_calls"] = TargetCalls,
            ["draft_steps"] = DraftSteps,
            ["drafted"] = Drafted,
            ["tested"] = Tested,
            ["verifier_accepts"] = VerifierAccepts,
            ["verifier_rejects"] = VerifierRejects,
            ["accepted"] = Accepted,
            ["resampled"] = Resampled,
            ["bonus"] = Bonus,
            ["unverified"] = Unverified,
            ["sampled"] = Sampled,
            ["lookahead_tokens"] = LookaheadTokens,
            ["tokens_per_target_call"] = R(TokensPerTargetCall),
            ["target_calls_per_token"] = R(TargetCallsPerToken),
            ["acceptance_rate"] = R(AcceptanceRate),
            ["target_acceptance_rate"] = R(TargetAcceptanceRate),
            ["mean_accepted_length"] = R(MeanAcceptedLength),
            ["per_position_acceptance"] = new JsonArray(DraftedAtPosition.Select((n, i) => (JsonNode)R((double)KeptAtPosition[i] / n)).ToArray()),
            ["per_position_drafted"] = new JsonArray(DraftedAtPosition.Select(n => (JsonNode)n).ToArray()),
            ["tokens_per_round"] = new JsonArray(TokensPerRound.Select(n => (JsonNode)n).ToArray()),
            ["prefill_ms"] = R(PrefillMs),
            ["decode_ms"] = R(DecodeMs),
            ["ms_per_token"] = R(MsPerToken),
            ["tokens_per_second"] = R(TokensPerSecond),
            ["time_ms"] = new JsonObject { ["draft"] = R(DraftMs), ["verifier"] = R(VerifierMs), ["target"] = R(TargetMs), ["sampling"] = R(SamplingMs) },
            ["draft_flops"] = DraftFlops,
            ["target_flops"] = TargetFlops,
            ["flops_per_token"] = Math.Round(FlopsPerToken),
            ["online_calibration"] = Calibration is not { } c ? null : new JsonObject
            {
                ["budget"] = c.Budget, ["threshold"] = R(c.Threshold), ["eta_tp"] = double.IsNaN(c.EtaTp) ? null : R(c.EtaTp),
                ["eta_fp"] = double.IsNaN(c.EtaFp) ? null : R(c.EtaFp), ["threshold_path"] = new JsonArray(c.Path.Select(t => (JsonNode)R(t)).ToArray()),
            },
            ["remote"] = Remote is null ? null : new JsonObject
            {
                ["http_calls"] = Remote.Calls,
                ["retries"] = Remote.Retries,
                ["bytes_sent"] = Remote.BytesSent,
                ["bytes_received"] = Remote.BytesReceived,
                ["round_trip_ms"] = R(Remote.RoundTripMs),
                ["calls_per_token"] = R(NewTokens == 0 ? 0 : (double)Remote.Calls / NewTokens),
                ["full_distribution"] = Remote.FullDistribution,
            },
        };
    }

    public string Summary() =>
        $"{NewTokens} tokens, {Rounds} rounds, {TargetCalls} target calls ({TokensPerTargetCall:F2} tokens/call), " +
        $"accepted {Accepted}, resampled {Resampled}, bonus {Bonus}, unverified {Unverified}, " +
        $"{MsPerToken:F2} ms/token (draft {DraftMs:F0} ms, verifier {VerifierMs:F1} ms, target {TargetMs:F0} ms, sampling {SamplingMs:F0} ms)";
}
