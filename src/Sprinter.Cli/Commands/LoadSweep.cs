using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ScottPlot;
using Sprinter.Server;

namespace Sprinter.Cli.Commands;

/// <summary>
/// <c>sprinter load --sweep 1,4,16,64 --modes ar,sd,sprinter --out DIR</c>: one load run per (streams, mode), the modes
/// interleaved at each stream count so machine drift hits them alike; with each row the server's own
/// per-step timings read from its /metrics (steps per second, sequences per step, the target pass's
/// positions and milliseconds, SD's chosen gamma). Writes load.json, load.md and throughput.png.
/// </summary>
internal static class LoadSweep
{
    public static async Task<int> RunAsync(LoadOptions template, IReadOnlyList<int> streams, IReadOnlyList<string> modes, string folder, TextWriter output, CancellationToken ct)
    {
        Directory.CreateDirectory(folder);
        using var http = new HttpClient { BaseAddress = template.Server, Timeout = TimeSpan.FromSeconds(30) };
        var rows = new JsonArray();
        var table = new StringBuilder("| streams | mode | tokens/s | vs ar | errors | TTFT p50 / p99 (ms) | inter-token p50 / p99 (ms) | steps/s | sequences/step | target positions/pass | target ms/pass | SD gamma | memory MB (start -> end) |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        var throughput = modes.ToDictionary(m => m, _ => new List<(int Streams, double Tps)>());
        int errors = 0;
        foreach (int n in streams)
        {
            double arTps = double.NaN;
            foreach (var mode in modes)
            {
                double steps0 = await Metric(http, "sprinter_steps", ct);
                var sampler = SampleGauges(http, ct);
                var report = await LoadDriver.RunAsync(template with { Clients = n, Mode = mode }, ct);
                var gauges = await sampler.Stop();
                double steps = (await Metric(http, "sprinter_steps", ct)) - steps0;
                var j = report.ToJson();
                double tps = report.TokensPerSecond;
                if (mode == "ar") arTps = tps;
                errors += report.Errors;
                throughput[mode].Add((n, tps));
                var row = new JsonObject
                {
                    ["streams"] = n, ["mode"] = mode, ["load"] = j, ["server_steps_per_second"] = Num(steps / report.Seconds),
                    ["server_mean_batch_size"] = Num(gauges.Mean("sprinter_batch_size")), ["server_mean_target_positions"] = Num(gauges.Mean("sprinter_step_target_positions")),
                    ["server_mean_target_pass_ms"] = Num(gauges.Mean("sprinter_step_target_milliseconds")), ["server_mean_step_ms"] = Num(gauges.Mean("sprinter_step_milliseconds")),
                    ["server_mean_sd_gamma"] = Num(gauges.Mean("sprinter_spec_gamma")),
                };
                rows.Add(row);
                string line = $"| {n} | {mode} | {tps:F0} | {(double.IsNaN(arTps) ? "" : (tps / arTps).ToString("F2", CultureInfo.InvariantCulture))} | {report.Errors} | {j["ttft_ms"]!["p50"]} / {j["ttft_ms"]!["p99"]} | " +
                    $"{j["inter_token_ms"]!["p50"]} / {j["inter_token_ms"]!["p99"]} | {steps / report.Seconds:F0} | {gauges.Mean("sprinter_batch_size"):F1} | {gauges.Mean("sprinter_step_target_positions"):F1} | " +
                    $"{gauges.Mean("sprinter_step_target_milliseconds"):F2} | {(mode == "sd" ? gauges.Mean("sprinter_spec_gamma").ToString("F1", CultureInfo.InvariantCulture) : "")} | " +
                    $"{(long)report.MemoryAtStart["working_set_bytes"]! / 1e6:F0} -> {(long)report.MemoryAtEnd["working_set_bytes"]! / 1e6:F0} |";
                table.AppendLine(line);
                output.WriteLine(line);
                output.Flush();
            }
        }
        File.WriteAllText(Path.Combine(folder, "load.json"), new JsonObject { ["instruction_set"] = InstructionSet(), ["rows"] = rows }.ToJsonString(new() { WriteIndented = true }));
        File.WriteAllText(Path.Combine(folder, "load.md"), table.ToString());
        Plot(throughput, Path.Combine(folder, "throughput.png"));
        output.WriteLine($"wrote {folder}/load.json, load.md, throughput.png");
        return errors == 0 ? 0 : 1;
    }

    static JsonNode? Num(double v) => double.IsFinite(v) ? Math.Round(v, 3) : null;

    static string InstructionSet() =>
        System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "avx512" : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? "avx2"
        : System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated ? "128-bit" : "scalar";

    static void Plot(Dictionary<string, List<(int Streams, double Tps)>> series, string file)
    {
        var plot = new Plot();
        foreach (var (mode, points) in series)
        {
            var line = plot.Add.Scatter(points.Select(p => Math.Log2(p.Streams)).ToArray(), points.Select(p => p.Tps).ToArray());
            line.LegendText = mode;
            line.MarkerSize = 8;
        }
        var ticks = series.Values.First().Select(p => new Tick(Math.Log2(p.Streams), p.Streams.ToString())).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.XLabel("concurrent streams");
        plot.YLabel("total tokens/s");
        plot.Title("Throughput against load (one server, greedy)");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(file, 800, 500);
    }

    static async Task<double> Metric(HttpClient http, string series, CancellationToken ct)
    {
        string text = await http.GetStringAsync("metrics", ct);
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal) || l.StartsWith(series + "{", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
    }

    /// <summary>Reads the batch gauges every 100 ms while a row runs (skipping idle moments), for their means.</summary>
    sealed class GaugeSampler
    {
        readonly Dictionary<string, List<double>> _values = [];
        public Task Loop = Task.CompletedTask;
        public readonly CancellationTokenSource Cancel = new();
        public void Add(string name, double v) { lock (_values) { if (!_values.TryGetValue(name, out var l)) _values[name] = l = []; l.Add(v); } }
        public double Mean(string name) { lock (_values) return _values.TryGetValue(name, out var l) && l.Count > 0 ? l.Average() : double.NaN; }
        public async Task<GaugeSampler> Stop() { Cancel.Cancel(); try { await Loop; } catch (OperationCanceledException) { } return this; }
    }

    static GaugeSampler SampleGauges(HttpClient http, CancellationToken ct)
    {
        var sampler = new GaugeSampler();
        string[] names = ["sprinter_batch_size", "sprinter_step_target_positions", "sprinter_step_target_milliseconds", "sprinter_step_milliseconds", "sprinter_spec_gamma"];
        sampler.Loop = Task.Run(async () =>
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, sampler.Cancel.Token);
            while (!linked.IsCancellationRequested)
            {
                await Task.Delay(100, linked.Token);
                double batch = await Metric(http, "sprinter_batch_size", linked.Token);
                if (batch < 1) continue;
                foreach (var name in names)
                {
                    double v = name == "sprinter_batch_size" ? batch : await Metric(http, name, linked.Token);
                    if (name == "sprinter_spec_gamma" && v < 0) continue;
                    sampler.Add(name, v);
                }
            }
        });
        return sampler;
    }
}
