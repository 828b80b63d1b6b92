namespace Sprinter.Decoding;

/// <summary>Range checks of decoding settings, so every check of one setting says the same thing.</summary>
public static class SettingChecks
{
    /// <exception cref="InvalidSettingException">When <paramref name="value"/> is under <paramref name="min"/>.</exception>
    public static void AtLeast(string setting, int value, int min)
    {
        if (value < min) throw new InvalidSettingException(setting, $"must be >= {min}, got {value}.");
    }

    /// <exception cref="InvalidSettingException">When <paramref name="value"/> is outside [<paramref name="min"/>, <paramref name="max"/>].</exception>
    public static void Within(string setting, int value, int min, int max)
    {
        if (value < min || value > max) throw new InvalidSettingException(setting, $"must be in [{min}, {max}], got {value}.");
    }

    /// <exception cref="InvalidSettingException">When <paramref name="value"/> is outside [0, 1] (or NaN).</exception>
    public static void Probability(string setting, double value)
    {
        if (!(value >= 0 && value <= 1)) throw new InvalidSettingException(setting, $"must be in [0, 1], got {value}.");
    }
}
