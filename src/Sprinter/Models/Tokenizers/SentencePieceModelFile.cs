using System.Text;

namespace Sprinter.Models;

/// <summary>The kinds of SentencePiece pieces (sentencepiece_model.proto's SentencePiece.Type).</summary>
public enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

/// <summary>One vocabulary entry of a SentencePiece model: its text, its score (BPE merges the pair
/// whose result scores highest) and its kind.</summary>
public readonly record struct SentencePiece(string Piece, float Score, PieceType Type);

/// <summary>
/// The fields of a SentencePiece <c>tokenizer.model</c> (a ModelProto) that a Llama-style BPE
/// tokenizer needs, read and written in the protobuf wire format. Microsoft.ML.Tokenizers parses the
/// file itself, but keeps the pieces' scores and kinds private and throws protobuf errors on a bad
/// file; this reader gives one clear line instead, gives the tokenizer's identity and byte table, and
/// the writer builds the same proto from a GGUF file's vocabulary so that both go through one
/// tokenizer. Hand-written because no protobuf package is a dependency here and the schema needs
/// a dozen fields.
/// </summary>
public sealed record SentencePieceModelFile(IReadOnlyList<SentencePiece> Pieces, int ModelType, bool ByteFallback,
    bool AddDummyPrefix, bool RemoveExtraWhitespaces, bool EscapeWhitespaces, int UnknownId, int BeginId, int EndId, int PadId)
{
    public const string FileName = "tokenizer.model";
    public const int Unigram = 1, Bpe = 2;

    // ModelProto fields: 1 pieces, 2 trainer_spec, 3 normalizer_spec. TrainerSpec: 3 model_type,
    // 35 byte_fallback, 40..43 unk/bos/eos/pad ids. NormalizerSpec: 1 name, 3 add_dummy_prefix,
    // 4 remove_extra_whitespaces, 5 escape_whitespaces. SentencePiece: 1 piece, 2 score, 3 type.
    public static SentencePieceModelFile Parse(ReadOnlySpan<byte> data, string source)
    {
        var pieces = new List<SentencePiece>();
        int modelType = Unigram, unk = 0, bos = 1, eos = 2, pad = -1;
        bool byteFallback = false, dummyPrefix = true, removeSpaces = true, escapeSpaces = true;
        var file = new Reader(data, source, "ModelProto");
        while (file.Next(out int field, out int wire))
        {
            if (field == 1 && wire == 2)
            {
                var p = new Reader(file.Bytes(), source, $"pieces[{pieces.Count}]");
                string? text = null; float score = 0; int type = (int)PieceType.Normal;
                while (p.Next(out int f, out int w))
                    if (f == 1 && w == 2) text = p.Text();
                    else if (f == 2 && w == 5) score = p.Float();
                    else if (f == 3 && w == 0) type = (int)p.Varint();
                    else p.Skip(w);
                if (text is null) throw p.Error("has no 'piece' text");
                if (type < 1 || type > 6) throw p.Error($"has type {type}, not one of 1..6");
                pieces.Add(new SentencePiece(text, score, (PieceType)type));
            }
            else if (field == 2 && wire == 2)
            {
                var t = new Reader(file.Bytes(), source, "trainer_spec");
                while (t.Next(out int f, out int w))
                    if (w != 0) t.Skip(w);
                    else
                    {
                        long v = t.Varint();
                        switch (f)
                        {
                            case 3: modelType = (int)v; break;
                            case 35: byteFallback = v != 0; break;
                            case 40: unk = (int)v; break;
                            case 41: bos = (int)v; break;
                            case 42: eos = (int)v; break;
                            case 43: pad = (int)v; break;
                        }
                    }
            }
            else if (field == 3 && wire == 2)
            {
                var n = new Reader(file.Bytes(), source, "normalizer_spec");
                while (n.Next(out int f, out int w))
                    if (w != 0) n.Skip(w);
                    else
                    {
                        bool v = n.Varint() != 0;
                        if (f == 3) dummyPrefix = v; else if (f == 4) removeSpaces = v; else if (f == 5) escapeSpaces = v;
                    }
            }
            else file.Skip(wire);
        }
        return new SentencePieceModelFile(pieces, modelType, byteFallback, dummyPrefix, removeSpaces, escapeSpaces, unk, bos, eos, pad).Validate(source);
    }

    /// <summary>
    /// This model, after the checks a tokenizer needs (BPE, ids within the pieces, distinct non-empty
    /// pieces, 256 byte pieces for byte fallback, an unknown piece); each failure is one line naming
    /// <paramref name="source"/>.
    /// </summary>
    public SentencePieceModelFile Validate(string source)
    {
        var pieces = Pieces;
        int modelType = ModelType, unk = UnknownId, bos = BeginId, eos = EndId, pad = PadId;
        bool byteFallback = ByteFallback;
        if (pieces.Count == 0) throw new InvalidInputException($"{source}: the SentencePiece model has no pieces; is this a tokenizer.model file?");
        if (modelType != Bpe)
            throw new InvalidInputException($"{source}: field 'trainer_spec.model_type' is {modelType} ({(modelType == Unigram ? "unigram" : "not BPE")}); only BPE SentencePiece models (Llama 2, TinyLlama, Mistral) are supported.");
        foreach (var (name, id) in new[] { ("unk_id", unk), ("bos_id", bos), ("eos_id", eos), ("pad_id", pad) })
            if (id < -1 || id >= pieces.Count)
                throw new InvalidInputException($"{source}: field 'trainer_spec.{name}' is {id}, outside the {pieces.Count} pieces.");
        var seen = new HashSet<string>(pieces.Count);
        int byteCount = 0;
        for (int id = 0; id < pieces.Count; id++)
        {
            var p = pieces[id];
            if (p.Piece.Length == 0 || !seen.Add(p.Piece))
                throw new InvalidInputException($"{source}: piece {id} is {(p.Piece.Length == 0 ? "empty" : $"{Quote(p.Piece)} a second time")}; every piece must be a distinct non-empty text.");
            if (p.Type == PieceType.Byte)
            {
                if (!SentencePieceBpe.IsByteToken(p.Piece, out _) || p.Piece[3..5] != p.Piece[3..5].ToUpperInvariant())
                    throw new InvalidInputException($"{source}: piece {id} ({Quote(p.Piece)}) has type BYTE but is not named <0xXX>.");
                byteCount++;
            }
            if (!float.IsFinite(p.Score)) throw new InvalidInputException($"{source}: piece {id} ({Quote(p.Piece)}) has score {p.Score}; scores must be finite.");
        }
        if (byteFallback && byteCount != 256)
            throw new InvalidInputException($"{source}: field 'trainer_spec.byte_fallback' is true but the model has {byteCount} BYTE pieces, not 256.");
        if (unk < 0 || pieces[unk].Type != PieceType.Unknown)
            throw new InvalidInputException($"{source}: field 'trainer_spec.unk_id' ({unk}) does not name the model's unknown piece.");
        return this;
    }

    /// <summary>A piece as a JSON string, so that control characters stay on the error's one line.</summary>
    static string Quote(string piece) => System.Text.Json.JsonSerializer.Serialize(piece);

    /// <summary>The ModelProto bytes of this model (what <see cref="Parse"/> reads back).</summary>
    public byte[] ToBytes()
    {
        var file = new Writer();
        foreach (var p in Pieces)
        {
            var w = new Writer();
            w.Text(1, p.Piece); w.Float(2, p.Score); w.Varint(3, (int)p.Type);
            file.Message(1, w);
        }
        var trainer = new Writer();
        trainer.Varint(3, ModelType); trainer.Varint(35, ByteFallback ? 1 : 0);
        trainer.Varint(40, UnknownId); trainer.Varint(41, BeginId); trainer.Varint(42, EndId); trainer.Varint(43, PadId);
        file.Message(2, trainer);
        var normalizer = new Writer();
        normalizer.Text(1, "identity");
        normalizer.Varint(3, AddDummyPrefix ? 1 : 0); normalizer.Varint(4, RemoveExtraWhitespaces ? 1 : 0); normalizer.Varint(5, EscapeWhitespaces ? 1 : 0);
        file.Message(3, normalizer);
        return file.ToArray();
    }

    /// <summary>sha256 over every piece, score and kind: equal for two files that tokenize alike.</summary>
    public string ComputeIdentity()
    {
        var sb = new StringBuilder("spm-bpe\n");
        foreach (var p in Pieces) sb.Append(p.Piece).Append('\t').Append(BitConverter.SingleToInt32Bits(p.Score)).Append('\t').Append((int)p.Type).Append('\n');
        sb.Append(AddDummyPrefix).Append(ByteFallback);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    ref struct Reader(ReadOnlySpan<byte> data, string source, string where)
    {
        ReadOnlySpan<byte> _data = data;
        int _at;

        public InvalidInputException Error(string what) =>
            new($"{source}: SentencePiece model field '{where}' {what}; the file is damaged or not a tokenizer.model.");

        public bool Next(out int field, out int wire)
        {
            field = wire = 0;
            if (_at >= _data.Length) return false;
            long key = Varint();
            field = (int)(key >> 3); wire = (int)(key & 7);
            if (field <= 0 || key >> 3 > int.MaxValue) throw Error($"has a bad field key {key}");
            return true;
        }

        public long Varint()
        {
            long value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_at >= _data.Length) throw Error("ends inside a number");
                byte b = _data[_at++];
                value |= (long)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
            throw Error("has a number longer than 10 bytes");
        }

        public ReadOnlySpan<byte> Bytes()
        {
            long length = Varint();
            if (length < 0 || length > _data.Length - _at) throw Error($"declares {length} bytes but {_data.Length - _at} remain");
            var span = _data.Slice(_at, (int)length);
            _at += (int)length;
            return span;
        }

        public string Text()
        {
            var bytes = Bytes();
            try { return new UTF8Encoding(false, true).GetString(bytes); }
            catch (DecoderFallbackException) { throw Error("holds text that is not UTF-8"); }
        }

        public float Float()
        {
            if (_data.Length - _at < 4) throw Error("ends inside a float");
            float f = BitConverter.ToSingle(_data.Slice(_at, 4));
            _at += 4;
            return f;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: if (_data.Length - _at < 8) throw Error("ends inside a 64-bit value"); _at += 8; break;
                case 2: Bytes(); break;
                case 5: if (_data.Length - _at < 4) throw Error("ends inside a 32-bit value"); _at += 4; break;
                default: throw Error($"uses wire type {wire}, which protobuf does not have");
            }
        }
    }

    sealed class Writer
    {
        readonly MemoryStream _out = new();

        void Raw(ulong v)
        {
            while (v >= 0x80) { _out.WriteByte((byte)(v | 0x80)); v >>= 7; }
            _out.WriteByte((byte)v);
        }

        public void Varint(int field, long value) { Raw((ulong)(field << 3)); Raw((ulong)value); }
        public void Float(int field, float value) { Raw((ulong)(field << 3 | 5)); _out.Write(BitConverter.GetBytes(value)); }
        public void Text(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));
        public void Message(int field, Writer inner) => Bytes(field, inner.ToArray());
        void Bytes(int field, byte[] value) { Raw((ulong)(field << 3 | 2)); Raw((ulong)value.Length); _out.Write(value); }
        public byte[] ToArray() => _out.ToArray();
    }
}
