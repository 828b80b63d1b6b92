namespace Sprinter.Benchmarks;

/// <summary>
/// The Porter stemmer exactly as NLTK's <c>PorterStemmer()</c> runs it (its default
/// NLTK_EXTENSIONS mode), which is what rouge-score uses. Written here rather than taken from
/// Lucene.Net.Analysis.Common (its Snowball <c>PorterStemmer</c>) because that one is the original
/// 1980 algorithm and gives other stems where NLTK extends it: "dying" -> "dy" (NLTK "die"),
/// "news" -> "new" (NLTK "news"), "cry" -> "cry" (NLTK "cri"), "fully"-style -alli/-fulli/-logi
/// rules; it would also pull a multi-megabyte dependency in for one class.
/// Port of nltk/stem/porter.py: the same steps, rules and rule order (first matching suffix decides).
/// </summary>
public static class PorterStemmer
{
    static readonly Dictionary<string, string> Irregular = new()
    {
        ["skies"] = "sky", ["sky"] = "sky", ["dying"] = "die", ["lying"] = "lie", ["tying"] = "tie",
        ["news"] = "news", ["innings"] = "inning", ["inning"] = "inning", ["outings"] = "outing",
        ["outing"] = "outing", ["cannings"] = "canning", ["canning"] = "canning", ["howe"] = "howe",
        ["proceed"] = "proceed", ["exceed"] = "exceed", ["succeed"] = "succeed",
    };

    readonly record struct Rule(string Suffix, string Replacement, Func<string, bool>? Condition);

    public static string Stem(string word)
    {
        word = word.ToLowerInvariant();
        if (Irregular.TryGetValue(word, out var irregular)) return irregular;
        if (word.Length <= 2) return word;
        word = Step1a(word);
        word = Step1b(word);
        word = Step1c(word);
        word = Step2(word);
        word = Step3(word);
        word = Step4(word);
        word = Step5a(word);
        return Step5b(word);
    }

    static bool IsConsonant(string w, int i) => w[i] switch
    {
        'a' or 'e' or 'i' or 'o' or 'u' => false,
        'y' => i == 0 || !IsConsonant(w, i - 1),
        _ => true,
    };

    /// <summary>m in [C](VC)^m[V]: the number of vowel-consonant transitions.</summary>
    static int Measure(string stem)
    {
        int m = 0;
        for (int i = 1; i < stem.Length; i++)
            if (IsConsonant(stem, i) && !IsConsonant(stem, i - 1)) m++;
        return m;
    }

    static bool PositiveMeasure(string stem) => Measure(stem) > 0;
    static bool MeasureAbove1(string stem) => Measure(stem) > 1;

    static bool ContainsVowel(string stem)
    {
        for (int i = 0; i < stem.Length; i++) if (!IsConsonant(stem, i)) return true;
        return false;
    }

    static bool EndsDoubleConsonant(string w) => w.Length >= 2 && w[^1] == w[^2] && IsConsonant(w, w.Length - 1);

    static bool EndsCvc(string w) =>
        (w.Length >= 3 && IsConsonant(w, w.Length - 3) && !IsConsonant(w, w.Length - 2) && IsConsonant(w, w.Length - 1) && w[^1] is not ('w' or 'x' or 'y'))
        || (w.Length == 2 && !IsConsonant(w, 0) && IsConsonant(w, 1));

    static string Cut(string w, string suffix) => w[..^suffix.Length];

    /// <summary>The first rule whose suffix matches decides; "*d" means a double consonant ending.</summary>
    static string Apply(string word, params Rule[] rules)
    {
        foreach (var (suffix, replacement, condition) in rules)
        {
            if (suffix == "*d" && EndsDoubleConsonant(word))
            {
                string stem = word[..^2];
                return condition is null || condition(stem) ? stem + replacement : word;
            }
            if (suffix != "*d" && word.EndsWith(suffix, StringComparison.Ordinal))
            {
                string stem = Cut(word, suffix);
                return condition is null || condition(stem) ? stem + replacement : word;
            }
        }
        return word;
    }

    static string Step1a(string w)
    {
        if (w.EndsWith("ies", StringComparison.Ordinal) && w.Length == 4) return Cut(w, "ies") + "ie";
        return Apply(w, new("sses", "ss", null), new("ies", "i", null), new("ss", "ss", null), new("s", "", null));
    }

    static string Step1b(string w)
    {
        if (w.EndsWith("ied", StringComparison.Ordinal)) return Cut(w, "ied") + (w.Length == 4 ? "ie" : "i");
        if (w.EndsWith("eed", StringComparison.Ordinal))
        {
            string stem = Cut(w, "eed");
            return Measure(stem) > 0 ? stem + "ee" : w;
        }
        string? intermediate = null;
        foreach (var suffix in new[] { "ed", "ing" })
            if (w.EndsWith(suffix, StringComparison.Ordinal) && ContainsVowel(Cut(w, suffix))) { intermediate = Cut(w, suffix); break; }
        if (intermediate is null) return w;
        char last = intermediate[^1];
        return Apply(intermediate,
            new("at", "ate", null), new("bl", "ble", null), new("iz", "ize", null),
            new("*d", last.ToString(), _ => last is not ('l' or 's' or 'z')),
            new("", "e", stem => Measure(stem) == 1 && EndsCvc(stem)));
    }

    static string Step1c(string w) => Apply(w, new Rule("y", "i", stem => stem.Length > 1 && IsConsonant(stem, stem.Length - 1)));

    static string Step2(string w)
    {
        if (w.EndsWith("alli", StringComparison.Ordinal) && PositiveMeasure(Cut(w, "alli"))) return Step2(Cut(w, "alli") + "al");
        return Apply(w,
            new("ational", "ate", PositiveMeasure), new("tional", "tion", PositiveMeasure), new("enci", "ence", PositiveMeasure),
            new("anci", "ance", PositiveMeasure), new("izer", "ize", PositiveMeasure), new("bli", "ble", PositiveMeasure),
            new("alli", "al", PositiveMeasure), new("entli", "ent", PositiveMeasure), new("eli", "e", PositiveMeasure),
            new("ousli", "ous", PositiveMeasure), new("ization", "ize", PositiveMeasure), new("ation", "ate", PositiveMeasure),
            new("ator", "ate", PositiveMeasure), new("alism", "al", PositiveMeasure), new("iveness", "ive", PositiveMeasure),
            new("fulness", "ful", PositiveMeasure), new("ousness", "ous", PositiveMeasure), new("aliti", "al", PositiveMeasure),
            new("iviti", "ive", PositiveMeasure), new("biliti", "ble", PositiveMeasure), new("fulli", "ful", PositiveMeasure),
            new("logi", "log", _ => PositiveMeasure(w[..^3])));
    }

    static string Step3(string w) => Apply(w,
        new("icate", "ic", PositiveMeasure), new("ative", "", PositiveMeasure), new("alize", "al", PositiveMeasure),
        new("iciti", "ic", PositiveMeasure), new("ical", "ic", PositiveMeasure), new("ful", "", PositiveMeasure),
        new("ness", "", PositiveMeasure));

    static string Step4(string w) => Apply(w,
        new("al", "", MeasureAbove1), new("ance", "", MeasureAbove1), new("ence", "", MeasureAbove1), new("er", "", MeasureAbove1),
        new("ic", "", MeasureAbove1), new("able", "", MeasureAbove1), new("ible", "", MeasureAbove1), new("ant", "", MeasureAbove1),
        new("ement", "", MeasureAbove1), new("ment", "", MeasureAbove1), new("ent", "", MeasureAbove1),
        new("ion", "", stem => MeasureAbove1(stem) && stem.Length > 0 && stem[^1] is 's' or 't'),
        new("ou", "", MeasureAbove1), new("ism", "", MeasureAbove1), new("ate", "", MeasureAbove1), new("iti", "", MeasureAbove1),
        new("ous", "", MeasureAbove1), new("ive", "", MeasureAbove1), new("ize", "", MeasureAbove1));

    static string Step5a(string w)
    {
        if (!w.EndsWith('e')) return w;
        string stem = w[..^1];
        int m = Measure(stem);
        return m > 1 || (m == 1 && !EndsCvc(stem)) ? stem : w;
    }

    static string Step5b(string w) => Apply(w, new Rule("ll", "l", _ => Measure(w[..^1]) > 1));
}
