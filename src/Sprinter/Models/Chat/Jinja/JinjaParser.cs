using System.Globalization;
using System.Text;

namespace Sprinter.Models.Jinja;

// The subset of Jinja that Hugging Face chat templates use, written here because no maintained
// .NET Jinja engine is on NuGet: text, {{ expressions }}, {% if / for / set %}, comments, whitespace
// control (-), trim_blocks and lstrip_blocks (as transformers renders chat templates).

/// <summary>A node of a parsed template.</summary>
public abstract record Node;
public sealed record TextNode(string Text) : Node;
public sealed record OutputNode(Expr Value) : Node;
public sealed record IfNode(List<(Expr Condition, List<Node> Body)> Branches, List<Node> Else) : Node;
public sealed record ForNode(List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node> Else) : Node;
public sealed record SetNode(string Name, string? Attribute, Expr Value) : Node;
public sealed record LoopControlNode(bool Break) : Node;

public abstract record Expr;
public sealed record Literal(object? Value) : Expr;
public sealed record Name(string Id) : Expr;
public sealed record ListExpr(List<Expr> Items) : Expr;
public sealed record DictExpr(List<(Expr Key, Expr Value)> Items) : Expr;
public sealed record Attribute(Expr Target, string Name) : Expr;
public sealed record Index(Expr Target, Expr Key) : Expr;
public sealed record Slice(Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr;
public sealed record Call(Expr Function, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr;
public sealed record Filter(Expr Value, string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs) : Expr;
public sealed record Test(Expr Value, string Name, bool Negated, List<Expr> Args) : Expr;
public sealed record Unary(string Op, Expr Operand) : Expr;
public sealed record Binary(string Op, Expr Left, Expr Right) : Expr;
public sealed record Conditional(Expr Condition, Expr Then, Expr? Else) : Expr;

/// <summary>Lexes and parses a template into nodes; a malformed template is an InvalidInputException.</summary>
public sealed class JinjaParser
{
    enum Kind { Text, Output, Statement }
    readonly List<(Kind Kind, string Body)> _chunks = [];
    int _at;

    public static List<Node> Parse(string template)
    {
        var parser = new JinjaParser();
        parser.Lex(template);
        var nodes = parser.Block(out string? end);
        if (end is not null) throw Error($"unexpected {{% {end} %}}");
        return nodes;
    }

    static InvalidInputException Error(string what) => new($"chat template: {what.ReplaceLineEndings(@"\n")}.");   // one line, even when it quotes the template

    /// <summary>
    /// Whitespace as Hugging Face renders chat templates: one trailing newline of the template
    /// dropped, lstrip_blocks (spaces and tabs before a statement or comment at a line's start),
    /// trim_blocks (the newline after a statement or comment), and "-" trimming every whitespace on
    /// its side; comments removed.
    /// </summary>
    static string Preprocess(string s)
    {
        if (s.EndsWith('\n')) s = s[..^1];
        s = System.Text.RegularExpressions.Regex.Replace(s, @"\{#.*?#\}", "{##}", System.Text.RegularExpressions.RegexOptions.Singleline);
        s = System.Text.RegularExpressions.Regex.Replace(s, @"^[ \t]*(\{[#%])", "$1", System.Text.RegularExpressions.RegexOptions.Multiline);
        s = System.Text.RegularExpressions.Regex.Replace(s, @"([#%]\})\n", "$1");
        s = s.Replace("{##}", "");
        s = System.Text.RegularExpressions.Regex.Replace(s, @"-%\}\s*", "%}");
        s = System.Text.RegularExpressions.Regex.Replace(s, @"\s*\{%-", "{%");
        s = System.Text.RegularExpressions.Regex.Replace(s, @"-\}\}\s*", "}}");
        return System.Text.RegularExpressions.Regex.Replace(s, @"\s*\{\{-", "{{");
    }

    void Lex(string template)
    {
        string s = Preprocess(template);
        int i = 0;
        while (i < s.Length)
        {
            int open = -1;
            for (int j = s.IndexOf('{', i); j >= 0 && j + 1 < s.Length; j = s.IndexOf('{', j + 1))
                if (s[j + 1] is '{' or '%') { open = j; break; }
            if (open < 0) { _chunks.Add((Kind.Text, s[i..])); break; }
            if (open > i) _chunks.Add((Kind.Text, s[i..open]));
            bool output = s[open + 1] == '{';
            int end = FindClose(s, open + 2, output ? "}}" : "%}");
            if (end < 0) throw Error($"a tag opened at character {open} is never closed");
            _chunks.Add((output ? Kind.Output : Kind.Statement, s[(open + 2)..end].Trim()));
            i = end + 2;
        }
    }

    /// <summary>The close tag's position, skipping string literals inside the tag.</summary>
    static int FindClose(string s, int from, string close)
    {
        char quote = '\0';
        for (int i = from; i + 1 < s.Length; i++)
        {
            if (quote != '\0') { if (s[i] == '\\') i++; else if (s[i] == quote) quote = '\0'; continue; }
            if (s[i] is '\'' or '"') { quote = s[i]; continue; }
            if (s[i] == close[0] && s[i + 1] == close[1]) return i;
        }
        return -1;
    }

    /// <summary>Nodes up to a statement this block does not own (returned in <paramref name="end"/>), or the end.</summary>
    List<Node> Block(out string? end)
    {
        var nodes = new List<Node>();
        end = null;
        while (_at < _chunks.Count)
        {
            var (kind, body) = _chunks[_at];
            if (kind == Kind.Text) { nodes.Add(new TextNode(body)); _at++; continue; }
            if (kind == Kind.Output) { nodes.Add(new OutputNode(new ExprParser(body).ParseAll())); _at++; continue; }
            string keyword = body.Split((char[])[' ', '\t', '\n', '('], 2)[0];
            switch (keyword)
            {
                case "if": _at++; nodes.Add(If(body[2..])); break;
                case "for": _at++; nodes.Add(For(body[3..])); break;
                case "set": _at++; nodes.Add(Set(body[3..])); break;
                case "break" or "continue": _at++; nodes.Add(new LoopControlNode(keyword == "break")); break;
                case "generation" or "endgeneration": _at++; break;   // training-only markers
                case "elif" or "else" or "endif" or "endfor": end = body; return nodes;
                default: throw Error($"{{% {keyword} %}} is not supported");
            }
        }
        return nodes;
    }

    IfNode If(string condition)
    {
        var branches = new List<(Expr, List<Node>)>();
        var elseBody = new List<Node>();
        Expr current = new ExprParser(condition).ParseAll();
        while (true)
        {
            var body = Block(out string? end);
            branches.Add((current, body));
            if (end is null) throw Error("{% if %} without {% endif %}");
            _at++;
            if (end.StartsWith("elif", StringComparison.Ordinal)) { current = new ExprParser(end[4..]).ParseAll(); continue; }
            if (end == "else")
            {
                elseBody = Block(out end);
                if (end != "endif") throw Error("{% else %} without {% endif %}");
                _at++;
            }
            else if (end != "endif") throw Error($"{{% {end} %}} inside {{% if %}}");
            return new IfNode(branches, elseBody);
        }
    }

    ForNode For(string header)
    {
        var p = new ExprParser(header);
        var targets = new List<string> { p.Identifier() };
        while (p.Accept(",")) targets.Add(p.Identifier());
        p.Expect("in");
        var iterable = p.ParseNoConditional();
        Expr? filter = p.AcceptWord("if") ? p.ParseOr() : null;
        p.End();
        var body = Block(out string? end);
        var elseBody = new List<Node>();
        if (end == "else") { _at++; elseBody = Block(out end); }
        if (end != "endfor") throw Error("{% for %} without {% endfor %}");
        _at++;
        return new ForNode(targets, iterable, filter, body, elseBody);
    }

    static SetNode Set(string body)
    {
        var p = new ExprParser(body);
        string name = p.Identifier();
        string? attribute = p.Accept(".") ? p.Identifier() : null;
        p.Expect("=");
        var value = p.ParseAll();
        return new SetNode(name, attribute, value);
    }
}

/// <summary>A Pratt-style parser of one Jinja expression.</summary>
public sealed class ExprParser
{
    readonly List<string> _tokens;
    int _at;

    public ExprParser(string text) => _tokens = Tokenize(text);

    static InvalidInputException Error(string what) => new($"chat template: {what.ReplaceLineEndings(@"\n")}.");   // one line, even when it quotes the template

    static List<string> Tokenize(string s)
    {
        var tokens = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c is '\'' or '"')
            {
                var sb = new StringBuilder("\"");
                int j = i + 1;
                for (; j < s.Length && s[j] != c; j++)
                {
                    if (s[j] == '\\' && j + 1 < s.Length)
                    {
                        j++;
                        sb.Append(s[j] switch { 'n' => '\n', 't' => '\t', 'r' => '\r', var other => other });
                    }
                    else sb.Append(s[j]);
                }
                if (j >= s.Length) throw Error("a string literal is never closed");
                tokens.Add(sb.ToString());
                i = j + 1;
                continue;
            }
            if (char.IsDigit(c))
            {
                int j = i;
                bool dot = false;
                while (j < s.Length && (char.IsDigit(s[j]) || (!dot && s[j] == '.' && j + 1 < s.Length && char.IsDigit(s[j + 1]))))
                    dot |= s[j++] == '.';
                tokens.Add(s[i..j]);
                i = j;
                continue;
            }
            if (char.IsLetter(c) || c == '_')
            {
                int j = i;
                while (j < s.Length && (char.IsLetterOrDigit(s[j]) || s[j] == '_')) j++;
                tokens.Add(s[i..j]);
                i = j;
                continue;
            }
            string two = i + 1 < s.Length ? s.Substring(i, 2) : "";
            if (two is "==" or "!=" or "<=" or ">=" or "//" or "**") { tokens.Add(two); i += 2; continue; }
            if ("+-*/%~<>=()[]{}.,:|".Contains(c)) { tokens.Add(c.ToString()); i++; continue; }
            throw Error($"unexpected character '{c}'");
        }
        return tokens;
    }

    string? Peek(int ahead = 0) => _at + ahead < _tokens.Count ? _tokens[_at + ahead] : null;
    public bool Accept(string token) { if (Peek() == token) { _at++; return true; } return false; }
    public bool AcceptWord(string word) => Accept(word);
    public void Expect(string token) { if (!Accept(token)) throw Error($"expected '{token}' but found '{Peek() ?? "the end"}'"); }
    public void End() { if (_at != _tokens.Count) throw Error($"unexpected '{Peek()}'"); }

    public string Identifier()
    {
        string? t = Peek();
        if (t is null || !(char.IsLetter(t[0]) || t[0] == '_')) throw Error($"expected a name but found '{t ?? "the end"}'");
        _at++;
        return t;
    }

    public Expr ParseAll() { var e = ParseConditional(); End(); return e; }

    Expr ParseConditional()
    {
        var value = ParseOr();
        if (!AcceptWord("if")) return value;
        var condition = ParseOr();
        Expr? otherwise = AcceptWord("else") ? ParseConditional() : null;
        return new Conditional(condition, value, otherwise);
    }

    /// <summary>An expression without a trailing "if" (a for loop's iterable may be followed by a filter condition).</summary>
    public Expr ParseNoConditional() => ParseOr();

    public Expr ParseOr()
    {
        var left = ParseAnd();
        while (AcceptWord("or")) left = new Binary("or", left, ParseAnd());
        return left;
    }

    Expr ParseAnd()
    {
        var left = ParseNot();
        while (AcceptWord("and")) left = new Binary("and", left, ParseNot());
        return left;
    }

    Expr ParseNot() => AcceptWord("not") ? new Unary("not", ParseNot()) : ParseComparison();

    Expr ParseComparison()
    {
        var left = ParseConcat();
        while (true)
        {
            string? t = Peek();
            if (t is "==" or "!=" or "<" or ">" or "<=" or ">=") { _at++; left = new Binary(t, left, ParseConcat()); }
            else if (t == "in") { _at++; left = new Binary("in", left, ParseConcat()); }
            else if (t == "not" && Peek(1) == "in") { _at += 2; left = new Unary("not", new Binary("in", left, ParseConcat())); }
            else if (t == "is")
            {
                _at++;
                bool negated = AcceptWord("not");
                string name = Identifier();
                var args = new List<Expr>();
                if (Accept("(")) { args = Arguments(out _); }
                else if (Peek() is { } next && (next[0] == '"' || char.IsDigit(next[0]))) args.Add(ParsePrimaryWithPostfix());
                left = new Test(left, name, negated, args);
            }
            else return left;
        }
    }

    Expr ParseConcat()
    {
        var left = ParseAdditive();
        while (Accept("~")) left = new Binary("~", left, ParseAdditive());
        return left;
    }

    Expr ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (Peek() is "+" or "-") { string op = _tokens[_at++]; left = new Binary(op, left, ParseMultiplicative()); }
        return left;
    }

    Expr ParseMultiplicative()
    {
        var left = ParseUnary();
        while (Peek() is "*" or "/" or "//" or "%") { string op = _tokens[_at++]; left = new Binary(op, left, ParseUnary()); }
        return left;
    }

    Expr ParseUnary()
    {
        if (Accept("-")) return new Unary("-", ParseUnary());
        if (Accept("+")) return ParseUnary();
        return ParseFiltered();
    }

    Expr ParseFiltered()
    {
        var value = ParsePrimaryWithPostfix();
        while (Accept("|"))
        {
            string name = Identifier();
            var args = new List<Expr>();
            var kwargs = new List<(string, Expr)>();
            if (Accept("(")) args = Arguments(out kwargs);
            value = new Filter(value, name, args, kwargs);
        }
        return value;
    }

    List<Expr> Arguments(out List<(string Name, Expr Value)> kwargs)
    {
        var args = new List<Expr>();
        kwargs = [];
        if (Accept(")")) return args;
        do
        {
            if (Peek() is { } t && (char.IsLetter(t[0]) || t[0] == '_') && Peek(1) == "=")
            {
                _at += 2;
                kwargs.Add((t, ParseConditional()));
            }
            else args.Add(ParseConditional());
        } while (Accept(","));
        Expect(")");
        return args;
    }

    Expr ParsePrimaryWithPostfix()
    {
        var e = ParsePrimary();
        while (true)
        {
            if (Accept(".")) e = new Attribute(e, Identifier());
            else if (Accept("("))
            {
                var args = Arguments(out var kwargs);
                e = new Call(e, args, kwargs);
            }
            else if (Accept("["))
            {
                Expr? start = Peek() is ":" ? null : ParseConditional();
                if (Accept(":"))
                {
                    Expr? stop = Peek() is ":" or "]" ? null : ParseConditional();
                    Expr? step = Accept(":") && Peek() != "]" ? ParseConditional() : null;
                    Expect("]");
                    e = new Slice(e, start, stop, step);
                }
                else { Expect("]"); e = new Index(e, start!); }
            }
            else return e;
        }
    }

    Expr ParsePrimary()
    {
        string t = Peek() ?? throw Error("an expression ends too early");
        _at++;
        if (t[0] == '"') return new Literal(t[1..]);
        if (char.IsDigit(t[0]))
        {
            if (!t.Contains('.') && long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out long whole)) return new Literal(whole);
            if (double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double real)) return new Literal(real);
            throw Error($"'{t}' is not a number");
        }
        switch (t)
        {
            case "true" or "True": return new Literal(true);
            case "false" or "False": return new Literal(false);
            case "none" or "None": return new Literal(null);
            case "(":
                var inner = ParseConditional();
                if (Accept(","))   // a tuple: treated as a list
                {
                    var items = new List<Expr> { inner };
                    while (Peek() != ")") { items.Add(ParseConditional()); if (!Accept(",")) break; }
                    Expect(")");
                    return new ListExpr(items);
                }
                Expect(")");
                return inner;
            case "[":
                var list = new List<Expr>();
                while (!Accept("]")) { list.Add(ParseConditional()); if (!Accept(",")) { Expect("]"); break; } }
                return new ListExpr(list);
            case "{":
                var pairs = new List<(Expr, Expr)>();
                while (!Accept("}"))
                {
                    var key = ParseConditional();
                    Expect(":");
                    pairs.Add((key, ParseConditional()));
                    if (!Accept(",")) { Expect("}"); break; }
                }
                return new DictExpr(pairs);
        }
        if (char.IsLetter(t[0]) || t[0] == '_') return new Name(t);
        throw Error($"unexpected '{t}'");
    }
}
