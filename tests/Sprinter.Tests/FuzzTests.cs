using Sprinter.Fuzzing;

namespace Sprinter.Tests;

/// <summary>
/// 10,000 mutated inputs per parser of user files (config.json of every family, tokenizer.json in
/// both layouts, chat templates, shard indexes): each parses or is refused with one line; nothing
/// else may escape. `sprinter fuzz --iterations N` runs longer campaigns.
/// </summary>
public class FuzzTests
{
    [Theory]
    [InlineData("config")]
    [InlineData("tokenizer")]
    [InlineData("spm")]
    [InlineData("template")]
    [InlineData("index")]
    [InlineData("gguf")]
    [InlineData("request")]
    [InlineData("remote")]
    public void TenThousandMutatedInputsParseOrFailWithOneClearLine(string parser)
    {
        var result = ParserFuzzer.Run(parser, 10_000, seed: 7);
        Assert.True(result.Crashes.Count == 0, string.Join("\n", result.Crashes));
        // Both outcomes occur, so the mutations are neither all harmless nor all fatal.
        Assert.True(result.Accepted > 100 && result.Refused > 1000, $"{result.Accepted} accepted, {result.Refused} refused");
    }

    [Fact]
    public void TheCampaignCommandReportsCountsAndRefusesAnUnknownParser()
    {
        var (code, output, error) = Cli.CliTests.Run("fuzz", "--parser", "config", "--iterations", "300", "--seed", "3");
        Assert.True(code == 0, error);
        Assert.Contains("config: 300 inputs", output);
        (code, _, error) = Cli.CliTests.Run("fuzz", "--parser", "yaml");
        Assert.Equal(2, code);
        Assert.Contains("--parser takes config, tokenizer, spm, template, index, gguf, request, remote or all", error);
    }
}
