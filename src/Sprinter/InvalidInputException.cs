namespace Sprinter;

/// <summary>
/// A user's mistake (a bad file, field or option), as opposed to a bug. The CLI prints its
/// message as one line and exits with code 2; the message names the file or field, what was
/// wrong and what to do.
/// </summary>
public class InvalidInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A setting with a bad value. The library names the setting (snake_case: <c>gamma</c>,
/// <c>max_draft</c>, <c>temperature</c>) and the problem; each shell shows it under its own name:
/// the CLI as its flag (<c>--max-draft</c>), the server as the request's JSON field (<c>sprinter.max_draft</c>).
/// </summary>
/// <param name="setting">The setting's snake_case name.</param>
/// <param name="problem">What is wrong, to follow the setting's name: "must be >= 1, got 0."</param>
public class InvalidSettingException(string setting, string problem) : InvalidInputException($"{setting} {problem}")
{
    public string Setting { get; } = setting;
    public string Problem { get; } = problem;

    /// <summary>The message with the setting under a shell's name for it.</summary>
    public string MessageFor(string name) => $"{name} {Problem}";

    // Range checks, so every check of one setting says the same thing.

    public static void ThrowIfLessThan(string setting, int value, int min)
    {
        if (value < min) throw new InvalidSettingException(setting, $"must be >= {min}, got {value}.");
    }

    public static void ThrowIfOutside(string setting, int value, int min, int max)
    {
        if (value < min || value > max) throw new InvalidSettingException(setting, $"must be in [{min}, {max}], got {value}.");
    }

    /// <summary>Refuses a value outside [0, 1], and NaN.</summary>
    public static void ThrowIfNotProbability(string setting, float value)
    {
        if (!(value >= 0 && value <= 1)) throw new InvalidSettingException(setting, $"must be in [0, 1], got {value}.");
    }
}
