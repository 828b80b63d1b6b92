using Sprinter.Benchmarks;
using Sprinter.Decoding;
using Sprinter.Serving;
using Sprinter.Verification;

namespace Sprinter.Tests.Decoding;

/// <summary>The one vocabulary of modes: every name the CLI, requests, reports and bench rows use comes from one table.</summary>
public class DecodingNamesTests
{
    [Fact]
    public void EveryNameParsesBackToItsValue()
    {
        foreach (var mode in Enum.GetValues<DecodingMode>()) Assert.Equal(mode, DecodingNames.ParseMode(DecodingNames.Name(mode)));
        foreach (var mode in Enum.GetValues<SprinterMode>()) Assert.Equal(mode, DecodingNames.ParseSprinterMode(DecodingNames.Name(mode)));
        foreach (var stop in Enum.GetValues<SprinterStop>()) Assert.Equal(stop, DecodingNames.ParseStop(DecodingNames.Name(stop)));
        Assert.Equal(DecodingMode.ArDraft, DecodingNames.ParseMode(" AR-Draft"));
        Assert.Null(DecodingNames.ParseMode("ar-draft", served: true));   // a server runs no draft-only mode
        Assert.Null(DecodingNames.ParseMode("sprinter-paper"));
        Assert.Null(DecodingNames.ParseSprinterMode("fast"));
        Assert.Equal("ar, ar-draft, sd or sprinter", DecodingNames.ModeChoices());
        Assert.Equal("ar, sd or sprinter", DecodingNames.ModeChoices(served: true));
        Assert.Equal("paper, strict-on-call or lossless", DecodingNames.SprinterModeChoices);
    }

    [Fact]
    public void MethodsKeepTheirDocumentedNamesAndLosslessness()
    {
        Assert.Equal(["ar", "ar-draft", "sd", "sprinter-paper", "sprinter-strict-on-call"],
            new[] { DecodingMethod.Ar, DecodingMethod.ArDraft, DecodingMethod.Sd, DecodingMethod.SprinterPaper, DecodingMethod.SprinterStrictOnCall }.Select(m => m.Name));
        Assert.Equal([true, false, true, false, true],
            new[] { DecodingMethod.Ar, DecodingMethod.ArDraft, DecodingMethod.Sd, DecodingMethod.SprinterPaper, DecodingMethod.SprinterStrictOnCall }.Select(m => m.Lossless));
        // The SPRINTER mode of a settings record only counts in SPRINTER.
        Assert.Equal(DecodingMethod.Sd, new DecodingSettings { Mode = DecodingMode.Sd, SprinterMode = SprinterMode.StrictOnCall }.Method);
        Assert.True(new DecodingSettings { Mode = DecodingMode.Sprinter, SprinterMode = SprinterMode.StrictOnCall }.Lossless);
    }

    [Fact]
    public void BenchRowsKeepTheirNamesAndDecodeWithTheSettingsEveryShellUses()
    {
        Assert.Equal("sd-g4", new BenchMethod(DecodingMethod.Sd).Name);
        Assert.Equal("sd-lookup-g2", new BenchMethod(DecodingMethod.Sd, Gamma: 2, PromptLookup: true).Name);
        Assert.Equal("sprinter-paper-calibrated", new BenchMethod(DecodingMethod.SprinterPaper, Calibrated: true).Name);
        Assert.Equal("sprinter-strict-on-call-t0.5", new BenchMethod(DecodingMethod.SprinterStrictOnCall).Name);
        Assert.Equal("sprinter-paper-cum0.3-la2-online", new BenchMethod(DecodingMethod.SprinterPaper, Stop: SprinterStop.Cumulative, Cumulative: 0.3f, Lookahead: 2, Online: true).Name);

        var verifier = new VerifierChoice(new ConstantVerifier(0.5f), CalibratedThreshold: 0.3f, FpBudget: 0.05);
        var method = new BenchMethod(DecodingMethod.SprinterStrictOnCall, Threshold: 0.7f, Calibrated: true, Lookahead: 2, Online: true);
        var (kind, options) = DecoderFactory.Plan(method.Settings(verifier, maxDraft: 9), verifier);
        Assert.Equal(SequenceKind.Speculative, kind);
        Assert.Equal(DecodingMethod.SprinterStrictOnCall, options.Method);
        Assert.Equal((0.3f, 9, 2), (options.Threshold, options.MaxDraft, options.Lookahead));   // the verifier's calibrated threshold
        Assert.Equal(0.05, options.Calibration!.Budget);
        Assert.Equal(0.7f, method.Settings(null, 9).Threshold);                                // none calibrated: the row's own
        Assert.Equal(SequenceKind.Ar, DecoderFactory.Plan(new BenchMethod(DecodingMethod.Ar).Settings(null, 9), null).Kind);
    }
}
