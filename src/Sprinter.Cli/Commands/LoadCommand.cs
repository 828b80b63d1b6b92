using System.CommandLine;
using Sprinter.Server;

namespace Sprinter.Cli.Commands;

/// <summary><c>sprinter load</c>: a bounded load run of concurrent streaming clients against a server (a benchmark, never a test).</summary>
internal static class LoadCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var url = new Option<string>("--url") { Description = "The server's address.", DefaultValueFactory = _ => "http://127.0.0.1:8080/" };
        var clients = new Option<int>("--clients") { Description = "Concurrent streaming clients.", DefaultValueFactory = _ => 64 };
        var duration = new Option<double>("--duration") { Description = "Seconds to run (requests in flight at the end finish).", DefaultValueFactory = _ => 60 };
        var maxRequests = new Option<int>("--max-requests") { Description = "Stop after this many requests in all (0: only the duration bounds the run).", DefaultValueFactory = _ => 0 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "max_tokens of each request.", DefaultValueFactory = _ => 64 };
        var temperature = new Option<float>("--temperature") { Description = "temperature of each request (0: greedy).", DefaultValueFactory = _ => 0f };
        var mode = new Option<string?>("--mode") { Description = "sprinter.mode of each request (sd, sprinter, ar); default: the server's." };
        var sweep = new Option<string?>("--sweep") { Description = "Stream counts to run one after another, e.g. 1,4,16,64 (each row lasts --duration); with --modes and --out." };
        var modes = new Option<string>("--modes") { Description = "With --sweep: the modes to run at each stream count, interleaved.", DefaultValueFactory = _ => "ar,sd,sprinter" };
        var outDir = new Option<string>("--out") { Description = "With --sweep: folder for load.json, load.md and throughput.png.", DefaultValueFactory = _ => "load-results" };
        var json = CliSupport.JsonOption();
        var command = new Command("load", "Drive a running 'sprinter serve' with concurrent streaming chat clients; report errors, throughput, time to first token, inter-token latency and the server's memory.")
            { url, clients, duration, maxRequests, maxTokens, temperature, mode, sweep, modes, outDir, json };
        command.SetAction(async (r, ct) =>
        {
            if (!Uri.TryCreate(r.GetValue(url), UriKind.Absolute, out var server) || server.Scheme is not ("http" or "https"))
                throw new InvalidInputException($"--url must be an http address, got '{r.GetValue(url)}'.");
            if (!server.AbsolutePath.EndsWith('/')) server = new Uri(server + "/");
            if (r.GetValue(clients) is < 1 or > 4096) throw new InvalidInputException($"--clients must be in [1, 4096], got {r.GetValue(clients)}.");
            if (!(r.GetValue(duration) is > 0 and <= 3600)) throw new InvalidInputException($"--duration must be in (0, 3600] seconds, got {r.GetValue(duration)}.");
            if (r.GetValue(maxTokens) < 1) throw new InvalidInputException($"--max-tokens must be >= 1, got {r.GetValue(maxTokens)}.");
            var options = new LoadOptions
            {
                Server = server, Clients = r.GetValue(clients), Duration = TimeSpan.FromSeconds(r.GetValue(duration)), MaxRequests = Math.Max(0, r.GetValue(maxRequests)),
                MaxTokens = r.GetValue(maxTokens), Temperature = r.GetValue(temperature), Mode = r.GetValue(mode) is { } m ? ServedMode(m) : null,
            };
            if (r.GetValue(sweep) is { } list)
            {
                var counts = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(x => int.TryParse(x, out int c) && c is >= 1 and <= 4096 ? c : throw new InvalidInputException($"--sweep takes stream counts in [1, 4096] separated by commas, got '{x}'.")).ToList();
                var modeList = r.GetValue(modes)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(ServedMode).ToList();
                if (counts.Count == 0 || modeList.Count == 0) throw new InvalidInputException("--sweep and --modes need at least one entry each.");
                try { return await LoadSweep.RunAsync(options, counts, modeList, r.GetValue(outDir)!, output, ct); }
                catch (HttpRequestException e) { throw new InvalidInputException($"cannot reach {server}: {e.Message.ReplaceLineEndings(" ")}"); }
            }
            LoadReport report;
            try { report = await LoadDriver.RunAsync(options, ct); }
            catch (HttpRequestException e) { throw new InvalidInputException($"cannot reach {server}: {e.Message.ReplaceLineEndings(" ")}"); }
            if (r.GetValue(json)) { CliSupport.WriteJson(output, report.ToJson()); return report.Errors == 0 ? 0 : 1; }
            var j = report.ToJson();
            output.WriteLine($"{report.Clients} clients, {report.Seconds:F1} s, mode {report.Mode ?? "?"} (lossless: {report.Lossless?.ToString().ToLowerInvariant() ?? "?"}): " +
                $"{report.Requests} requests, {report.Errors} errors, {report.TokensPerSecond:F1} tokens/s, {report.RequestsPerSecond:F2} requests/s");
            output.WriteLine($"time to first token p50 {j["ttft_ms"]!["p50"]} ms, p99 {j["ttft_ms"]!["p99"]} ms; inter-token p50 {j["inter_token_ms"]!["p50"]} ms, p99 {j["inter_token_ms"]!["p99"]} ms");
            output.WriteLine($"server memory (working set / GC heap, MB): start {Mb(report.MemoryAtStart)}, after warm-up {Mb(report.MemoryAfterWarmUp)}, end {Mb(report.MemoryAtEnd)}");
            foreach (var (kind, count) in report.ErrorKinds) output.WriteLine($"  error {kind}: {count}");
            return report.Errors == 0 ? 0 : 1;
        });
        return command;
    }

    /// <summary>A mode a server runs, by its name in the request's sprinter.mode.</summary>
    static string ServedMode(string text) => Sprinter.Decoding.DecodingNames.Name(CliSupport.ParseMode(text, served: true));

    static string Mb(System.Text.Json.Nodes.JsonObject memory) =>
        $"{(long)memory["working_set_bytes"]! / 1e6:F0} / {(long)memory["gc_heap_bytes"]! / 1e6:F0}";
}
