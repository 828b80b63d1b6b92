namespace Sprinter.Tests.Serving;

/// <summary>Option mistakes of serve and load: one line, exit code 2, before any model loads or any socket opens.</summary>
public class ServeCommandTests
{
    [Theory]
    [InlineData("serve", "--mode", "ar-draft", "--mode")]
    [InlineData("serve", "--max-concurrent", "0", "--max-concurrent")]
    [InlineData("serve", "--queue", "-1", "--queue")]
    [InlineData("serve", "--port", "70000", "--port")]
    [InlineData("serve", "--sprinter-mode", "fast", "--sprinter-mode")]
    [InlineData("serve", "--verifier", "/nonexistent/verifier.safetensors", "/nonexistent/verifier.safetensors")]
    [InlineData("load", "--url", "ftp://host/", "--url")]
    [InlineData("load", "--clients", "0", "--clients")]
    [InlineData("load", "--duration", "0", "--duration")]
    [InlineData("load", "--mode", "ar-draft", "--mode must be ar, sd or sprinter, got 'ar-draft'.")]
    [InlineData("serve", "--lookahead", "17", "--lookahead must be in [0, 16], got 17.")]
    public void BadOptionsExitWithCode2AndOneLine(string command, string option, string value, string mentioned)
    {
        var (code, _, error) = Cli.CliTests.Run(command, option, value);
        Assert.Equal(2, code);
        Assert.Contains(mentioned, error);
        Assert.Single(error.Trim().Split('\n'));
    }
}
