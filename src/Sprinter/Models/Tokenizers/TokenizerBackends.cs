using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Sprinter.Models;

/// <summary>How one file format turns text into ids; <see cref="Tokenizer"/> holds exactly one.</summary>
internal interface ITokenizerBackend
{
    int[] Encode(string text);

    /// <summary>SentencePiece puts a space before the text; decoding drops it again.</summary>
    bool DropsLeadingSpace { get; }
}

/// <summary>
/// Byte-level BPE on Microsoft.ML.Tokenizers' BpeTokenizer (vocab.json + merges.txt, tokenizer.json,
/// GGUF gpt2 vocabularies), plus the tokenizer.json options BpeTokenizer has no switch for.
/// </summary>
/// <param name="split">The pre-tokenizer regex, when it comes from a file (null: GPT-2's own, inside the BpeTokenizer).</param>
/// <param name="added">Added tokens matched in text before anything else.</param>
/// <param name="wholePieces">ignore_merges: a pre-token in the vocabulary is one token.</param>
/// <param name="nfc">NFC-normalize the text first (Qwen2).</param>
/// <param name="individualDigits">Cut digits one by one before the regex (SmolLM2).</param>
internal sealed class ByteLevelBpeBackend(Microsoft.ML.Tokenizers.Tokenizer bpe, Regex? split = null, Dictionary<string, int>? added = null,
    Dictionary<string, int>? wholePieces = null, bool nfc = false, bool individualDigits = false) : ITokenizerBackend
{
    public bool DropsLeadingSpace => false;

    public int[] Encode(string text)
    {
        if (nfc) text = text.Normalize(NormalizationForm.FormC);
        if (wholePieces is null && !individualDigits)
        {
            // Microsoft.ML.Tokenizers' RegexPreTokenizer loops forever on a zero-length match; a
            // pattern that slipped past the load-time probes is refused here instead.
            if (split is not null)
                foreach (var m in split.EnumerateMatches(text))
                    if (m.Length == 0) throw EmptyMatch(m.Index);
            return [.. bpe.EncodeToIds(text)];
        }
        // Options BpeTokenizer has no switch for: cut at added tokens, then (individual digits) at
        // every digit, then at the pre-tokenizer's regex; with ignore_merges a piece whose byte-level
        // form is in the vocabulary is one token; the rest go through BPE piece by piece.
        return HfTokenizerJson.EncodeAroundAddedTokens(text, added, (segment, start, ids) =>
        {
            foreach (string section in individualDigits ? DigitSections(segment) : [segment])
                foreach (Match m in split!.Matches(section))
                {
                    if (m.Length == 0) throw EmptyMatch(start);
                    if (wholePieces is not null && wholePieces.TryGetValue(ByteLevel.Encode(Encoding.UTF8.GetBytes(m.Value)), out int id)) ids.Add(id);
                    else ids.AddRange(bpe.EncodeToIds(m.Value));
                }
        });
    }

    static InvalidInputException EmptyMatch(int offset) =>
        new($"tokenizer: the pre-tokenizer regex matched an empty piece of text (at or after offset {offset}); the tokenizer.json pattern is not usable.");

    /// <summary>Text cut before and after every digit (Hugging Face's Digits pre-tokenizer with individual_digits).</summary>
    static IEnumerable<string> DigitSections(string text)
    {
        int from = 0;
        for (int i = 0; i < text.Length; i++)
            if (char.IsNumber(text, i))
            {
                if (i > from) yield return text[from..i];
                yield return text[i..(i + 1)];
                from = i + 1;
            }
        if (from < text.Length) yield return text[from..];
    }
}

/// <summary>
/// A SentencePiece tokenizer.model (or a GGUF llama vocabulary written as one) on Microsoft.ML.Tokenizers'
/// LlamaTokenizer; control and user-defined pieces in <paramref name="special"/> are cut out of the text first,
/// and each segment between them gets its own dummy-prefix space (Hugging Face's legacy behaviour, and llama.cpp's).
/// </summary>
internal sealed class SentencePieceModelBackend(SentencePieceTokenizer model, Dictionary<string, int> special, bool dummyPrefix) : ITokenizerBackend
{
    public bool DropsLeadingSpace => dummyPrefix;

    public int[] Encode(string text) =>
        HfTokenizerJson.EncodeAroundAddedTokens(text, special,
            (segment, _, ids) => ids.AddRange(model.EncodeToIds(segment, addBeginningOfSentence: false, addEndOfSentence: false)));
}
