using System.Globalization;
using System.Text;
using System.Text.Json;
using Dict = System.Collections.Generic.OrderedDictionary<string, object?>;

namespace Sprinter.Models.Jinja;

/// <summary>Jinja's undefined: empty when printed, false when tested.</summary>
public sealed class Undefined { public static readonly Undefined Value = new(); }

/// <summary>A callable value (a global function or a bound string / dict method).</summary>
public delegate object? JinjaFunction(List<object?> args, Dictionary<string, object?> kwargs);

/// <summary>Renders parsed templates over values: null, bool, long, double, string, List, Dict, functions.</summary>
public sealed class JinjaRuntime
{
    readonly List<Dictionary<string, object?>> _frames = [];
    readonly StringBuilder _out = new();

    sealed class LoopSignal(bool isBreak) : Exception { public bool IsBreak { get; } = isBreak; }

    static InvalidInputException Error(string what) => new($"chat template: {what.ReplaceLineEndings(@"\n")}.");   // one line, even when it quotes the template

    public static string Render(List<Node> nodes, Dictionary<string, object?> context)
    {
        var runtime = new JinjaRuntime();
        runtime._frames.Add(Globals());
        runtime._frames.Add(new Dictionary<string, object?>(context));
        runtime.Run(nodes);
        return runtime._out.ToString();
    }

    static Dictionary<string, object?> Globals() => new()
    {
        ["raise_exception"] = (JinjaFunction)((args, _) => throw Error($"the template refused the conversation: {Str(args.FirstOrDefault())}")),
        ["namespace"] = (JinjaFunction)((_, kwargs) => new Dict(kwargs)),
        ["range"] = (JinjaFunction)((args, _) =>
        {
            long start = args.Count > 1 ? Int(args[0]) : 0, stop = Int(args[args.Count > 1 ? 1 : 0]), step = args.Count > 2 ? Int(args[2]) : 1;
            if (step == 0) throw Error("range() step must not be zero");
            var list = new List<object?>();
            for (long i = start; step > 0 ? i < stop : i > stop; i += step)
                if (list.Count < 100_000) list.Add(i);
                else throw Error("range() of more than 100,000 items");
            return list;
        }),
        ["strftime_now"] = (JinjaFunction)((args, _) => StrftimeNow(Str(args.FirstOrDefault()))),
    };

    void Run(List<Node> nodes)
    {
        foreach (var node in nodes)
            switch (node)
            {
                case TextNode t: _out.Append(t.Text); break;
                case OutputNode o: _out.Append(Str(Eval(o.Value))); break;
                case IfNode i:
                    var branch = i.Branches.FirstOrDefault(b => Truthy(Eval(b.Condition)));
                    Run(branch.Body ?? i.Else);
                    break;
                case SetNode s:
                    var value = Eval(s.Value);
                    if (s.Attribute is null) _frames[^1][s.Name] = value;
                    else if (Lookup(s.Name) is Dict ns) ns[s.Attribute] = value;
                    else throw Error($"'{s.Name}' is not a namespace; only namespace attributes can be set");
                    break;
                case ForNode f: For(f); break;
                case LoopControlNode c: throw new LoopSignal(c.Break);
            }
    }

    void For(ForNode f)
    {
        var items = Iterate(Eval(f.Iterable)).ToList();
        var frame = new Dictionary<string, object?>();
        _frames.Add(frame);
        try
        {
            if (f.Filter is not null)
                items = items.Where(item => { Bind(frame, f.Targets, item); return Truthy(Eval(f.Filter)); }).ToList();
            for (int i = 0; i < items.Count; i++)
            {
                Bind(frame, f.Targets, items[i]);
                frame["loop"] = new Dict
                {
                    ["index"] = (long)i + 1, ["index0"] = (long)i, ["first"] = i == 0, ["last"] = i == items.Count - 1,
                    ["length"] = (long)items.Count, ["revindex"] = (long)(items.Count - i), ["revindex0"] = (long)(items.Count - i - 1),
                    ["previtem"] = i > 0 ? items[i - 1] : Undefined.Value, ["nextitem"] = i + 1 < items.Count ? items[i + 1] : Undefined.Value,
                };
                try { Run(f.Body); }
                catch (LoopSignal signal) { if (signal.IsBreak) break; }
            }
            if (items.Count == 0) Run(f.Else);
        }
        finally { _frames.RemoveAt(_frames.Count - 1); }
    }

    static void Bind(Dictionary<string, object?> frame, List<string> targets, object? item)
    {
        if (targets.Count == 1) { frame[targets[0]] = item; return; }
        var parts = Iterate(item).ToList();
        if (parts.Count != targets.Count) throw Error($"cannot unpack {parts.Count} values into {targets.Count} names");
        for (int i = 0; i < targets.Count; i++) frame[targets[i]] = parts[i];
    }

    object? Lookup(string name)
    {
        for (int i = _frames.Count - 1; i >= 0; i--)
            if (_frames[i].TryGetValue(name, out var v)) return v;
        return Undefined.Value;
    }

    object? Eval(Expr e) => e switch
    {
        Literal l => l.Value,
        Name n => Lookup(n.Id),
        ListExpr l => l.Items.Select(Eval).ToList(),
        DictExpr d => new Dict(d.Items.Select(p => new KeyValuePair<string, object?>(Str(Eval(p.Key)), Eval(p.Value)))),
        Attribute a => GetAttribute(Eval(a.Target), a.Name),
        Index i => GetItem(Eval(i.Target), Eval(i.Key)),
        Slice s => SliceOf(Eval(s.Target), s.Start is null ? null : Eval(s.Start), s.Stop is null ? null : Eval(s.Stop), s.Step is null ? null : Eval(s.Step)),
        Call c => Eval(c.Function) is JinjaFunction fn ? fn(c.Args.Select(Eval).ToList(), c.Kwargs.ToDictionary(k => k.Name, k => Eval(k.Value)))
            : throw Error($"{Describe(c.Function)} is not callable"),
        Filter f => JinjaFilters.Apply(f.Name, Eval(f.Value), f.Args.Select(Eval).ToList(), f.Kwargs.ToDictionary(k => k.Name, k => Eval(k.Value))),
        Test t => JinjaFilters.Test(t.Name, Eval(t.Value), t.Args.Select(Eval).ToList()) != t.Negated,
        Unary { Op: "not" } u => !Truthy(Eval(u.Operand)),
        Unary u => Eval(u.Operand) switch { long v => (object)(-v), double v => -v, var v => throw Error($"cannot negate {TypeName(v)}") },
        Binary { Op: "and" } b => Truthy(Eval(b.Left)) is var l && !l ? Eval(b.Left) : Eval(b.Right),
        Binary { Op: "or" } b => Eval(b.Left) is var left && Truthy(left) ? left : Eval(b.Right),
        Binary b => Operate(b.Op, Eval(b.Left), Eval(b.Right)),
        Conditional c => Truthy(Eval(c.Condition)) ? Eval(c.Then) : c.Else is null ? Undefined.Value : Eval(c.Else),
        _ => throw Error("unknown expression"),
    };

    static string Describe(Expr e) => e is Name n ? $"'{n.Id}'" : e is Attribute a ? $"'{a.Name}'" : "the value";

    static object? GetAttribute(object? target, string name)
    {
        if (target is Dict d && d.TryGetValue(name, out var v)) return v;
        return (object?)JinjaFilters.Method(target, name) ?? Undefined.Value;
    }

    static object? GetItem(object? target, object? key) => target switch
    {
        Dict d => d.TryGetValue(Str(key), out var v) ? v : Undefined.Value,
        List<object?> l when key is long i => (i < 0 ? i + l.Count : i) is var k && k >= 0 && k < l.Count ? l[(int)k] : Undefined.Value,
        string s when key is long i => (i < 0 ? i + s.Length : i) is var k && k >= 0 && k < s.Length ? s[(int)k].ToString() : Undefined.Value,
        _ => Undefined.Value,
    };

    static object SliceOf(object? target, object? start, object? stop, object? step)
    {
        var items = target is string s ? s.Select(c => (object?)c.ToString()).ToList() : target is List<object?> l ? l : throw Error($"cannot slice {TypeName(target)}");
        long n = items.Count, st = step is null ? 1 : Int(step);
        if (st == 0) throw Error("slice step must not be zero");
        long Clamp(object? v, long dflt)
        {
            if (v is null) return dflt;
            long x = Int(v);
            if (x < 0) x += n;
            return st > 0 ? Math.Clamp(x, 0, n) : Math.Clamp(x, -1, n - 1);
        }
        long a = Clamp(start, st > 0 ? 0 : n - 1), b = Clamp(stop, st > 0 ? n : -1);
        var result = new List<object?>();
        for (long i = a; st > 0 ? i < b : i > b; i += st) result.Add(items[(int)i]);
        return target is string ? string.Concat(result.Select(Str)) : result;
    }

    static object? Operate(string op, object? a, object? b)
    {
        switch (op)
        {
            case "==": return ValueEquals(a, b);
            case "!=": return !ValueEquals(a, b);
            case "in": return b switch
            {
                string s => s.Contains(Str(a), StringComparison.Ordinal),
                List<object?> l => l.Any(x => ValueEquals(x, a)),
                Dict d => d.ContainsKey(Str(a)),
                _ => throw Error($"'in' needs a string, list or mapping on its right, got {TypeName(b)}"),
            };
            case "~": return Str(a) + Str(b);
            case "+":
                if (a is string sa && b is string sb) return sa + sb;
                if (a is List<object?> la && b is List<object?> lb) return la.Concat(lb).ToList();
                break;
            case "<" or ">" or "<=" or ">=":
                int cmp = a is string x && b is string y ? string.CompareOrdinal(x, y) : Num(a).CompareTo(Num(b));
                return op switch { "<" => cmp < 0, ">" => cmp > 0, "<=" => cmp <= 0, _ => cmp >= 0 };
        }
        if (a is long i && b is long j)
            // Boxed per arm: a switch of long and double arms would widen every result to double.
            return op switch
            {
                "+" => (object)(i + j), "-" => i - j, "*" => i * j, "/" => (double)i / j,
                "//" => j == 0 ? throw Error("division by zero") : (long)Math.Floor((double)i / j),
                "%" => j == 0 ? throw Error("division by zero") : ((i % j) + j) % j,
                _ => throw Error($"unknown operator {op}"),
            };
        if (a is string str && op == "*" && b is long times)
            return (long)str.Length * times <= 1_000_000 ? string.Concat(Enumerable.Repeat(str, (int)Math.Max(0, times))) : throw Error("a repeated string longer than 1,000,000 characters");
        double p = Num(a), q = Num(b);
        return op switch
        {
            "+" => p + q, "-" => p - q, "*" => p * q, "/" => p / q, "//" => Math.Floor(p / q), "%" => p - q * Math.Floor(p / q),
            _ => throw Error($"unknown operator {op}"),
        };
    }

    internal static bool ValueEquals(object? a, object? b)
    {
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (a is long or double && b is long or double) return Num(a) == Num(b);
        if (a is List<object?> la && b is List<object?> lb) return la.Count == lb.Count && la.Zip(lb).All(p => ValueEquals(p.First, p.Second));
        return Equals(a, b);
    }

    internal static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long i => i != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> l => l.Count > 0,
        Dict d => d.Count > 0,
        _ => true,
    };

    internal static IEnumerable<object?> Iterate(object? v) => v switch
    {
        List<object?> l => l,
        Dict d => d.Keys,
        string s => s.Select(c => (object?)c.ToString()),
        null or Undefined => [],
        _ => throw Error($"cannot loop over {TypeName(v)}"),
    };

    internal static double Num(object? v) => v switch
    {
        long i => i, double d => d, bool b => b ? 1 : 0,
        _ => throw Error($"expected a number, got {TypeName(v)}"),
    };

    internal static long Int(object? v) => v switch { long i => i, double d => (long)d, bool b => b ? 1 : 0, _ => throw Error($"expected an integer, got {TypeName(v)}") };

    internal static string TypeName(object? v) => v switch
    {
        null => "none", Undefined => "undefined", bool => "a boolean", long or double => "a number", string => "a string",
        List<object?> => "a list", Dict => "a mapping", _ => "a function",
    };

    /// <summary>The printed form: none and undefined print nothing, booleans as Python's True/False.</summary>
    internal static string Str(object? v) => v switch
    {
        null or Undefined => "",
        string s => s,
        bool b => b ? "True" : "False",
        long i => i.ToString(CultureInfo.InvariantCulture),
        double d => d == Math.Floor(d) && Math.Abs(d) < 1e16 ? d.ToString("0.0", CultureInfo.InvariantCulture) : d.ToString("R", CultureInfo.InvariantCulture),
        List<object?> or Dict => JinjaFilters.ToJson(v, null),
        _ => v.ToString() ?? "",
    };

    static string StrftimeNow(string format)
    {
        var now = DateTime.Now;
        return format.Replace("%d", now.ToString("dd", CultureInfo.InvariantCulture)).Replace("%b", now.ToString("MMM", CultureInfo.InvariantCulture))
            .Replace("%B", now.ToString("MMMM", CultureInfo.InvariantCulture)).Replace("%Y", now.ToString("yyyy", CultureInfo.InvariantCulture))
            .Replace("%m", now.ToString("MM", CultureInfo.InvariantCulture));
    }

    /// <summary>A JSON value (messages, tools) as a template value.</summary>
    public static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => new Dict(e.EnumerateObject().Select(p => new KeyValuePair<string, object?>(p.Name, FromJson(p.Value)))),
        JsonValueKind.Array => e.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.String => e.GetString(),
        JsonValueKind.Number => e.TryGetInt64(out long i) ? i : e.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
