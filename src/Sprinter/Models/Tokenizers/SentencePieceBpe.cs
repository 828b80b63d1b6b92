using System.Globalization;
using System.Text;

namespace Sprinter.Models;

/// <summary>
/// Llama 2's SentencePiece-style BPE as tokenizer.json describes it (byte_fallback): added tokens
/// are cut out first; the rest becomes U+2581 + text with spaces as U+2581; BPE merges the
/// characters by merge rank (lowest first, leftmost at a tie); a piece outside the vocabulary is
/// spelled with its UTF-8 bytes as &lt;0xXX&gt; tokens. Written here because Microsoft.ML.Tokenizers
/// reads such tokenizers only from SentencePiece .model files, not from tokenizer.json.
/// </summary>
public sealed class SentencePieceBpe : ITokenizerBackend
{
    /// <summary>Decoding drops the U+2581 this encoding puts before the text.</summary>
    bool ITokenizerBackend.DropsLeadingSpace => true;

    const char Space = '\u2581';
    readonly Dictionary<string, int> _vocab;
    readonly Dictionary<(string, string), int> _ranks = [];
    readonly Dictionary<string, int> _added;
    readonly int[] _byteIds = new int[256];
    readonly int? _unknown;
    readonly bool _metaspace, _prefixFirstOnly;

    /// <param name="metaspace">The Metaspace layout: a segment that already starts with a space gets no extra U+2581.</param>
    /// <param name="prefixFirstOnly">Only the text's first segment gets the U+2581 prefix (Metaspace's prepend_scheme "first").</param>
    public SentencePieceBpe(Dictionary<string, int> vocab, IEnumerable<string> merges, Dictionary<string, int> added, string source,
        bool metaspace = false, bool prefixFirstOnly = false)
    {
        (_metaspace, _prefixFirstOnly) = (metaspace, prefixFirstOnly);
        _vocab = vocab;
        _added = added;
        int rank = 0;
        foreach (string merge in merges)
        {
            int space = merge.IndexOf(' ');
            _ranks.TryAdd((merge[..space], merge[(space + 1)..]), rank++);
        }
        for (int b = 0; b < 256; b++)
            _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out int id) ? id : -1;
        _unknown = vocab.TryGetValue("<unk>", out int unk) ? unk : added.TryGetValue("<unk>", out unk) ? unk : null;
        if (_byteIds.Any(id => id < 0) && _unknown is null)
            throw new InvalidInputException($"{source}: field 'model.vocab' lacks the <0x00>..<0xFF> byte tokens and <unk> that byte_fallback needs.");
    }

    /// <summary>Whether <paramref name="token"/> is a byte token &lt;0xXX&gt;, and its byte.</summary>
    public static bool IsByteToken(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value);
    }

    public int[] Encode(string text) => HfTokenizerJson.EncodeAroundAddedTokens(text, _added,
        (segment, start, ids) => EncodePiece(segment, ids, prefix: start == 0 || !_prefixFirstOnly));

    /// <summary>One text segment between added tokens: the normalizer (and its U+2581 prefix) applies to each.</summary>
    void EncodePiece(string text, List<int> ids, bool prefix)
    {
        if (_metaspace && text.StartsWith(' ')) prefix = false;
        string normalized = (prefix ? Space.ToString() : "") + text.Replace(' ', Space);
        var symbols = new List<string>();
        for (int i = 0; i < normalized.Length; i += char.IsSurrogatePair(normalized, i) ? 2 : 1)
            symbols.Add(normalized.Substring(i, char.IsSurrogatePair(normalized, i) ? 2 : 1));
        while (symbols.Count > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (_ranks.TryGetValue((symbols[i], symbols[i + 1]), out int rank) && rank < bestRank) (best, bestRank) = (i, rank);
            if (best < 0) break;
            symbols[best] += symbols[best + 1];
            symbols.RemoveAt(best + 1);
        }
        foreach (string symbol in symbols)
        {
            if (_vocab.TryGetValue(symbol, out int id)) { ids.Add(id); continue; }
            foreach (byte b in Encoding.UTF8.GetBytes(symbol)) ids.Add(_byteIds[b] >= 0 ? _byteIds[b] : _unknown!.Value);
        }
    }
}
