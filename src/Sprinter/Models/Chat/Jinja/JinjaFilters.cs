using System.Globalization;
using System.Text;
using Dict = System.Collections.Generic.OrderedDictionary<string, object?>;

namespace Sprinter.Models.Jinja;

/// <summary>The filters, tests and string / mapping methods that chat templates call.</summary>
public static class JinjaFilters
{
    static InvalidInputException Error(string what) => new($"chat template: {what.ReplaceLineEndings(@"\n")}.");   // one line, even when it quotes the template
    static string Str(object? v) => JinjaRuntime.Str(v);

    public static object? Apply(string name, object? v, List<object?> args, Dictionary<string, object?> kwargs)
    {
        object? Arg(int i, string key, object? dflt = null) => i < args.Count ? args[i] : kwargs.TryGetValue(key, out var k) ? k : dflt;
        return name switch
        {
            "trim" or "strip" => Str(v).Trim(),
            "length" or "count" => v switch
            {
                string s => (long)s.Length, List<object?> l => (long)l.Count, Dict d => (long)d.Count,
                _ => throw Error($"length of {JinjaRuntime.TypeName(v)}"),
            },
            "tojson" => ToJson(v, Arg(0, "indent") is long indent ? (int)indent : null),
            "upper" => Str(v).ToUpperInvariant(),
            "lower" => Str(v).ToLowerInvariant(),
            "capitalize" => Str(v) is { Length: > 0 } c ? char.ToUpperInvariant(c[0]) + c[1..].ToLowerInvariant() : "",
            "title" => CultureInfo.InvariantCulture.TextInfo.ToTitleCase(Str(v).ToLowerInvariant()),
            "default" or "d" => v is Undefined || (JinjaRuntime.Truthy(Arg(1, "boolean", false)) && !JinjaRuntime.Truthy(v)) ? Arg(0, "default_value", "") : v,
            "first" => JinjaRuntime.Iterate(v).FirstOrDefault() ?? Undefined.Value,
            "last" => JinjaRuntime.Iterate(v).LastOrDefault() ?? Undefined.Value,
            "join" => string.Join(Str(Arg(0, "d", "")), JinjaRuntime.Iterate(v).Select(Str)),
            "string" => Str(v),
            "int" => v is string s ? long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : 0L : JinjaRuntime.Int(v),
            "float" => v is string f ? double.TryParse(f.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double x) ? x : 0.0 : JinjaRuntime.Num(v),
            "list" => JinjaRuntime.Iterate(v).ToList(),
            "items" => v is Dict d ? d.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList() : throw Error("items of a non-mapping"),
            "reverse" => v is string r ? new string(r.Reverse().ToArray()) : JinjaRuntime.Iterate(v).Reverse().ToList(),
            "replace" => Str(v).Replace(Str(Arg(0, "old")), Str(Arg(1, "new")), StringComparison.Ordinal),
            "safe" or "e" or "escape" => v,
            "map" => kwargs.TryGetValue("attribute", out var attr)
                ? JinjaRuntime.Iterate(v).Select(x => x is Dict m && m.TryGetValue(Str(attr), out var y) ? y : Undefined.Value).ToList()
                : JinjaRuntime.Iterate(v).Select(x => Apply(Str(Arg(0, "name")), x, [], [])).ToList(),
            "selectattr" or "rejectattr" => JinjaRuntime.Iterate(v).Where(x =>
            {
                object? field = x is Dict m && m.TryGetValue(Str(Arg(0, "attribute")), out var y) ? y : Undefined.Value;
                bool pass = args.Count > 1 ? Test(Str(args[1]), field, args.Skip(2).ToList()) : JinjaRuntime.Truthy(field);
                return name == "selectattr" ? pass : !pass;
            }).ToList(),
            _ => throw Error($"the filter '{name}' is not supported"),
        };
    }

    public static bool Test(string name, object? v, List<object?> args) => name switch
    {
        "defined" => v is not Undefined,
        "undefined" => v is Undefined,
        "none" => v is null,
        "string" => v is string,
        "number" => v is long or double,
        "integer" => v is long,
        "float" => v is double,
        "boolean" => v is bool,
        "true" => v is true,
        "false" => v is false,
        "mapping" => v is Dict,
        "iterable" => v is string or List<object?> or Dict,
        "sequence" => v is string or List<object?>,
        "callable" => v is JinjaFunction,
        "odd" => JinjaRuntime.Int(v) % 2 != 0,
        "even" => JinjaRuntime.Int(v) % 2 == 0,
        "equalto" or "eq" or "==" => JinjaRuntime.ValueEquals(v, args.FirstOrDefault()),
        "ne" or "!=" => !JinjaRuntime.ValueEquals(v, args.FirstOrDefault()),
        "in" => args.FirstOrDefault() is { } container && JinjaRuntime.Iterate(container).Any(x => JinjaRuntime.ValueEquals(x, v)),
        _ => throw Error($"the test '{name}' is not supported"),
    };

    /// <summary>A method of a string or mapping bound to it, or null when there is none.</summary>
    public static JinjaFunction? Method(object? target, string name)
    {
        if (target is string s)
        {
            string Chars(List<object?> a) => a.Count > 0 && a[0] is string c ? c : "";
            return name switch
            {
                "strip" => (a, _) => a.Count > 0 && a[0] is string c ? s.Trim(c.ToCharArray()) : s.Trim(),
                "lstrip" => (a, _) => a.Count > 0 && a[0] is string c ? s.TrimStart(c.ToCharArray()) : s.TrimStart(),
                "rstrip" => (a, _) => a.Count > 0 && a[0] is string c ? s.TrimEnd(c.ToCharArray()) : s.TrimEnd(),
                "startswith" => (a, _) => a.Count > 0 && a[0] is List<object?> l ? l.Any(p => s.StartsWith(Str(p), StringComparison.Ordinal)) : s.StartsWith(Chars(a), StringComparison.Ordinal),
                "endswith" => (a, _) => a.Count > 0 && a[0] is List<object?> l ? l.Any(p => s.EndsWith(Str(p), StringComparison.Ordinal)) : s.EndsWith(Chars(a), StringComparison.Ordinal),
                "upper" => (_, _) => s.ToUpperInvariant(),
                "lower" => (_, _) => s.ToLowerInvariant(),
                "title" => (_, _) => CultureInfo.InvariantCulture.TextInfo.ToTitleCase(s.ToLowerInvariant()),
                "capitalize" => (_, _) => s.Length > 0 ? char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant() : "",
                "replace" => (a, _) => s.Replace(Str(a.ElementAtOrDefault(0)), Str(a.ElementAtOrDefault(1)), StringComparison.Ordinal),
                "find" => (a, _) => (long)s.IndexOf(Str(a.ElementAtOrDefault(0)), StringComparison.Ordinal),
                "split" => (a, _) => Split(s, a.Count > 0 && a[0] is string sep ? sep : null, a.Count > 1 ? (int)JinjaRuntime.Int(a[1]) : -1),
                _ => null,
            };
        }
        if (target is Dict d)
            return name switch
            {
                "get" => (a, _) => d.TryGetValue(Str(a.ElementAtOrDefault(0)), out var v) ? v : a.Count > 1 ? a[1] : null,
                "items" => (_, _) => d.Select(p => (object?)new List<object?> { p.Key, p.Value }).ToList(),
                "keys" => (_, _) => d.Keys.Select(k => (object?)k).ToList(),
                "values" => (_, _) => d.Values.ToList(),
                _ => null,
            };
        return null;
    }

    static List<object?> Split(string s, string? separator, int max)
    {
        if (separator is null)
        {
            var parts = s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return parts.Select(p => (object?)p).ToList();
        }
        if (separator.Length == 0) throw Error("split() with an empty separator");
        var result = max < 0 ? s.Split(separator) : s.Split(separator, max + 1);
        return result.Select(p => (object?)p).ToList();
    }

    /// <summary>JSON as Python's json.dumps writes it (", " and ": " separators; indent when given), non-ASCII kept.</summary>
    public static string ToJson(object? v, int? indent)
    {
        var sb = new StringBuilder();
        Write(v, 0);
        return sb.ToString();

        void NewLine(int depth) { if (indent is int n) sb.Append('\n').Append(' ', n * depth); }
        // As json.dumps(ensure_ascii=False): only quotes, backslashes and control characters are escaped.
        void Quote(string s)
        {
            sb.Append('"');
            foreach (char c in s)
                sb.Append(c switch
                {
                    '"' => "\\\"", '\\' => "\\\\", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", '\b' => "\\b", '\f' => "\\f",
                    < ' ' => $"\\u{(int)c:x4}",
                    _ => c.ToString(),
                });
            sb.Append('"');
        }
        void Write(object? x, int depth)
        {
            switch (x)
            {
                case null or Undefined: sb.Append("null"); break;
                case bool b: sb.Append(b ? "true" : "false"); break;
                case long i: sb.Append(i.ToString(CultureInfo.InvariantCulture)); break;
                case double dbl: sb.Append(JinjaRuntime.Str(dbl)); break;
                case string s: Quote(s); break;
                case List<object?> l:
                    if (l.Count == 0) { sb.Append("[]"); break; }
                    sb.Append('[');
                    for (int k = 0; k < l.Count; k++)
                    {
                        if (k > 0) sb.Append(indent is null ? ", " : ",");
                        NewLine(depth + 1);
                        Write(l[k], depth + 1);
                    }
                    NewLine(depth);
                    sb.Append(']');
                    break;
                case Dict d:
                    if (d.Count == 0) { sb.Append("{}"); break; }
                    sb.Append('{');
                    int index = 0;
                    foreach (var (key, value) in d)
                    {
                        if (index++ > 0) sb.Append(indent is null ? ", " : ",");
                        NewLine(depth + 1);
                        Quote(key);
                        sb.Append(": ");
                        Write(value, depth + 1);
                    }
                    NewLine(depth);
                    sb.Append('}');
                    break;
                default: throw Error("tojson of a function");
            }
        }
    }

}
