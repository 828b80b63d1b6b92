namespace Sprinter.Tests.Training;

/// <summary>Small training texts made in the tests.</summary>
static class TrainingTexts
{
    static readonly string[] Words =
    [
        "the", "union", "state", "congress", "people", "nation", "year", "government", "law", "peace", "war", "trade",
        "jury", "county", "election", "it's", "we'll", "they're", "1790", "2021", "3,000,000", "$12.50", "U.S.", "—",
        "naïve", "café", "東京", "ünïcödé", "🙂", "e\u0301", "Ωmega", "(applause)", "“quoted”", "don't", "I'm",
    ];

    /// <summary>Pseudo-random sentences over a fixed word list: the same for a given seed.</summary>
    public static List<string> Documents(int count = 40, int seed = 7)
    {
        var rng = new Random(seed);
        var documents = new List<string>();
        for (int d = 0; d < count; d++)
        {
            var sentences = new List<string>();
            for (int s = 0, n = rng.Next(2, 6); s < n; s++)
            {
                var words = Enumerable.Range(0, rng.Next(4, 12)).Select(_ => Words[rng.Next(Words.Length)]);
                string sentence = string.Join(rng.Next(10) == 0 ? "  " : " ", words);
                sentences.Add(char.ToUpperInvariant(sentence[0]) + sentence[1..] + (rng.Next(4) == 0 ? "!" : "."));
            }
            documents.Add(string.Join(rng.Next(3) == 0 ? "\n" : " ", sentences));
        }
        return documents;
    }
}
