using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Sprinter.Server;

/// <summary>
/// Writes one <see cref="Meter"/>'s instruments in Prometheus text format (0.0.4), keeping each
/// name as written. Written here because no exporter package available keeps vLLM's names:
/// prometheus-net 8.2 refuses ':' in metric names (and its MeterAdapter rewrites it to '_'), and
/// OpenTelemetry's exporter drops instruments whose names hold ':'; dashboards built for vLLM
/// query <c>vllm:spec_decode_*</c>. Counters get Prometheus's <c>_total</c> suffix, histograms use
/// the instrument's bucket advice, tags become labels. A measurement never throws into the caller.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    readonly MeterListener _listener = new();
    readonly ConcurrentDictionary<Instrument, Series> _series = new();

    public PrometheusExporter(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter != meter) return;
            _series[instrument] = new Series(instrument);
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_series.TryGetValue(instrument, out var series)) series.Record(value, Labels(tags));
    }

    /// <summary>Tags as Prometheus's label text, sorted by key: <c>{a="1",b="x"}</c>, or "" without tags.</summary>
    static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0) return "";
        var pairs = tags.ToArray();
        Array.Sort(pairs, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return "{" + string.Join(",", pairs.Select(p => $"{p.Key}=\"{Escape(Convert.ToString(p.Value, CultureInfo.InvariantCulture) ?? "")}\"")) + "}";
    }

    static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");

    /// <summary>Reads the observable gauges, then returns every instrument's series.</summary>
    public string Write()
    {
        foreach (var s in _series.Values) s.ClearGauges();
        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        foreach (var s in _series.Values.OrderBy(s => s.Name, StringComparer.Ordinal)) s.Write(text);
        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    /// <summary>One instrument's values, by label set.</summary>
    sealed class Series(Instrument instrument)
    {
        readonly object _gate = new();
        readonly SortedDictionary<string, double> _values = new(StringComparer.Ordinal);          // counters, gauges
        readonly SortedDictionary<string, (long[] Buckets, double Sum, long Count)> _histograms = new(StringComparer.Ordinal);
        readonly double[] _bounds = instrument is Histogram<double> h ? h.Advice?.HistogramBucketBoundaries?.ToArray() ?? [] : [];
        readonly string _type = instrument switch
        {
            Counter<long> or Counter<int> or Counter<double> => "counter",
            Histogram<double> => "histogram",
            _ => "gauge",
        };

        public string Name => _type == "counter" ? instrument.Name + "_total" : instrument.Name;

        public void Record(double value, string labels)
        {
            lock (_gate)
            {
                if (_type == "histogram")
                {
                    var (buckets, sum, count) = _histograms.TryGetValue(labels, out var h) ? h : (new long[_bounds.Length], 0.0, 0L);
                    int at = Array.FindIndex(_bounds, b => value <= b);
                    if (at >= 0) buckets[at]++;
                    _histograms[labels] = (buckets, sum + value, count + 1);
                }
                else if (_type == "counter") _values[labels] = _values.GetValueOrDefault(labels) + value;
                else _values[labels] = value;
            }
        }

        public void ClearGauges()
        {
            if (_type == "gauge") lock (_gate) _values.Clear();
        }

        public void Write(StringBuilder text)
        {
            lock (_gate)
            {
                text.Append("# HELP ").Append(Name).Append(' ').Append((instrument.Description ?? instrument.Name).Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
                text.Append("# TYPE ").Append(Name).Append(' ').Append(_type).Append('\n');
                foreach (var (labels, value) in _values) text.Append(Name).Append(labels).Append(' ').Append(Number(value)).Append('\n');
                foreach (var (labels, (buckets, sum, count)) in _histograms)
                {
                    long cumulative = 0;
                    for (int i = 0; i < _bounds.Length; i++)
                    {
                        cumulative += buckets[i];
                        text.Append(instrument.Name).Append("_bucket").Append(WithLe(labels, Number(_bounds[i]))).Append(' ').Append(cumulative).Append('\n');
                    }
                    text.Append(instrument.Name).Append("_bucket").Append(WithLe(labels, "+Inf")).Append(' ').Append(count).Append('\n');
                    text.Append(instrument.Name).Append("_sum").Append(labels).Append(' ').Append(Number(sum)).Append('\n');
                    text.Append(instrument.Name).Append("_count").Append(labels).Append(' ').Append(count).Append('\n');
                }
            }
        }

        static string WithLe(string labels, string le) => labels.Length == 0 ? $"{{le=\"{le}\"}}" : labels[..^1] + $",le=\"{le}\"}}";

        static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    }
}
