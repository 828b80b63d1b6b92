using System.CommandLine;
using System.Text.Json;
using LLama;
using LLama.Native;
using Sprinter;
using Sprinter.Benchmarks;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.PeerBench;

// sprinter vs llama.cpp on the same model, interleaved in one process: see README "Engine performance".
var model = new Option<string?>("--model") { Description = "Model folder (HF GPT-2). Default: a random GPT-2-small (12 layers, d=768, vocab 50257) written to a temp folder." };
var positions = new Option<int[]>("--positions") { DefaultValueFactory = _ => [1, 2, 4, 8, 16], AllowMultipleArgumentsPerToken = true, Description = "Positions per pass." };
var runs = new Option<int>("--runs") { DefaultValueFactory = _ => 9, Description = "Timed rounds (medians are reported)." };
var ours = new Option<string[]>("--dtypes") { DefaultValueFactory = _ => ["fp32", "bf16", "q8_0"], AllowMultipleArgumentsPerToken = true, Description = "Our run-time types." };
var peer = new Option<string[]>("--peer-types") { DefaultValueFactory = _ => ["F32", "F16", "Q8_0", "Q4_0"], AllowMultipleArgumentsPerToken = true, Description = "llama.cpp GGUF types: F32, F16, Q8_0, Q4_0." };
var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the table." };
var outFile = new Option<string?>("--out") { Description = "Also write the table (Markdown) to this file." };
var gguf = new Option<string?>("--gguf") { Description = "Both engines time this GGUF file (ours at each of --dtypes, default auto: each tensor in its own block type)." };
var shape = new Option<string?>("--shape") { Description = "Both engines time the same files: a random model of this shape (gpt2-small or llama-3.2-1b) quantized by llama.cpp to each of --peer-types." };
var keep = new Option<string?>("--keep-files") { Description = "With --shape: write the model and its GGUF files here and reuse them in later runs (default: a temporary folder, deleted)." };
var root = new RootCommand("Times Sprinter's engine and llama.cpp (LLamaSharp CPU backend) on the same model, interleaved.") { model, positions, runs, ours, peer, json, outFile, gguf, shape, keep };
root.SetAction(r =>
{
    try
    {
        if (r.GetValue(gguf) is not null || r.GetValue(shape) is not null)
            return SameFile.Run(r.GetValue(gguf), r.GetValue(shape), r.GetValue(keep), r.GetValue(positions)!, r.GetValue(runs),
                r.GetResult(ours) is { Implicit: false } ? r.GetValue(ours)! : ["auto"], r.GetResult(peer) is { Implicit: false } ? r.GetValue(peer)! : ["Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K"],
                r.GetValue(json), r.GetValue(outFile));
        return Run(r.GetValue(model), r.GetValue(positions)!, r.GetValue(runs), r.GetValue(ours)!, r.GetValue(peer)!, r.GetValue(json), r.GetValue(outFile));
    }
    catch (InvalidInputException e)
    {
        Console.Error.WriteLine($"error: {OneLine(e)}");
        return 2;
    }
});
// quantize: a model folder as a GGUF file quantized by llama.cpp itself, to try GGUF input with.
var qModel = new Option<string>("--model") { Required = true, Description = "Model folder to convert (any family GgufWriter writes)." };
var qType = new Option<string>("--type") { DefaultValueFactory = _ => "Q8_0", Description = "llama.cpp file type: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_M, Q4_K_S, Q5_K_M, Q6_K, F16." };
var qOut = new Option<string>("--out") { Required = true, Description = "The .gguf file to write." };
var quantize = new Command("quantize", "Writes a model folder as GGUF and quantizes it with llama.cpp's quantizer.") { qModel, qType, qOut };
quantize.SetAction(r =>
{
    try { return Quantize(r.GetValue(qModel)!, r.GetValue(qType)!, r.GetValue(qOut)!); }
    catch (InvalidInputException e)
    {
        Console.Error.WriteLine($"error: {OneLine(e)}");
        return 2;
    }
});
root.Subcommands.Add(quantize);
return root.Parse(args).Invoke();

/// <summary>A user mistake as one line; a library setting shows as this tool's flag (dtypes is --dtypes).</summary>
static string OneLine(InvalidInputException e) => e is InvalidSettingException s ? s.MessageFor("--" + s.Setting.Replace('_', '-')) : e.Message;

static int Quantize(string folder, string type, string outFile)
{
    var fileType = SameFile.FileType(type, "--type");
    string f32 = outFile + ".f32-" + Environment.ProcessId;
    try
    {
        GgufWriter.Convert(folder, f32, GgufType.F32);
        NativeLibraryConfig.All.WithLogCallback((level, message) => { if (level == LLamaLogLevel.Error) Console.Error.Write(message); });
        NativeApi.llama_empty_call();
        if (!LLamaQuantizer.Quantize(f32, outFile, fileType, WorkerPool.Shared.ThreadCount))
            throw new InvalidInputException($"{folder}: llama.cpp could not quantize it to {type}.");
    }
    finally { File.Delete(f32); }
    Console.WriteLine($"{outFile}: {new FileInfo(outFile).Length / 1e6:F1} MB ({type.ToUpperInvariant()}, quantized by llama.cpp)");
    return 0;
}

static int Run(string? folder, int[] ks, int runCount, string[] ourTypes, string[] peerTypes, bool asJson, string? outFile)
{
    if (runCount < 1) throw new InvalidInputException($"--runs must be >= 1, got {runCount}.");
    if (ks.Length == 0 || ks.Any(k => k < 1 || k > 256)) throw new InvalidInputException("--positions must be integers in [1, 256].");
    var types = ourTypes.Select(t => WeightTypes.Parse(t, "dtypes") ?? throw new InvalidInputException("--dtypes: auto is not a type.")).Distinct().ToArray();
    var ggufTypes = peerTypes.Select(t => t.ToUpperInvariant()).Distinct().ToArray();
    foreach (var t in ggufTypes)
        if (t is not ("F32" or "F16" or "Q8_0" or "Q4_0")) throw new InvalidInputException($"--peer-types: '{t}' is not one of F32, F16, Q8_0, Q4_0.");
    int threads = WorkerPool.Shared.ThreadCount;

    string work = Path.Combine(Path.GetTempPath(), $"sprinter-peerbench-{Environment.ProcessId}");
    Directory.CreateDirectory(work);
    try
    {
        string description = folder ?? "random GPT-2-small (12 layers, d=768, 12 heads, vocab 50257)";
        if (folder is null)
        {
            Console.Error.WriteLine("writing the random GPT-2-small model...");
            folder = Path.Combine(work, "model");
            var (vocab, merges) = SyntheticVocabulary(EngineBenchmark.Gpt2SmallConfig.VocabSize);
            RandomModel.WriteFolder(folder, EngineBenchmark.Gpt2SmallConfig, RandomModel.CreateTensors(EngineBenchmark.Gpt2SmallConfig, seed: 1), vocab, merges);
        }
        else ModelFolder.Resolve(folder);

        var timers = new List<IPassTimer>();
        try
        {
            foreach (var type in types)
            {
                Console.Error.WriteLine($"loading ours as {type.Name()}...");
                timers.Add(new SprinterPassTimer(TransformerModel.Load(folder, type), ks.Max()));
            }
            NativeLibraryConfig.All.WithLogCallback((level, message) => { if (level == LLamaLogLevel.Error) Console.Error.Write(message); });
            NativeApi.llama_empty_call();   // the quantizer's first call does not load the library itself
            string f32 = Path.Combine(work, "model-F32.gguf");
            if (ggufTypes.Length > 0) GgufWriter.Convert(folder, f32, GgufType.F32);
            foreach (var t in ggufTypes)
            {
                Console.Error.WriteLine($"converting for llama.cpp: {t}...");
                string file = Path.Combine(work, $"model-{t}.gguf");
                if (t == "F16") GgufWriter.Convert(folder, file, GgufType.F16);
                else if (t != "F32" && !LLamaQuantizer.Quantize(f32, file, t == "Q8_0" ? LLamaFtype.MOSTLY_Q8_0 : LLamaFtype.MOSTLY_Q4_0, threads))
                    throw new InvalidOperationException($"llama.cpp could not quantize to {t}");
                timers.Add(new LlamaPassTimer(t == "F32" ? f32 : file, t, ks.Max(), threads));
            }
            InterleavedRun.MeasureAndReport(timers, ks, runCount, threads, description, outFile, asJson);
        }
        finally
        {
            foreach (var t in timers) t.Dispose();
        }
        return 0;
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }
}

// A valid GPT-2 byte-level vocabulary of the requested size (bytes, then merges of byte pairs, then
// <|endoftext|>): llama.cpp needs one to load the model; nothing here tokenizes text.
static (string Vocab, string Merges) SyntheticVocabulary(int size)
{
    var merges = Enumerable.Range(0, size - 257).Select(i => (ByteLevel.ByteToChar[i / 256].ToString(), ByteLevel.ByteToChar[i % 256].ToString()));
    return RandomModel.ByteVocabulary(merges);
}
