using System.Text.Json;
using LLama;
using LLama.Native;
using Sprinter.Benchmarks;
using Sprinter.Engine;
using Sprinter.Models;
using Sprinter.Models.Gguf;

namespace Sprinter.PeerBench;

/// <summary>
/// Both engines on one GGUF file each: a file given with --gguf, or a random model of a named
/// shape quantized by llama.cpp to each peer type. Ours loads the very file llama.cpp loads (at
/// --dtype auto each tensor runs in its own block type), so the two time the same weights.
/// </summary>
static class SameFile
{
    static readonly string[] Types = ["F32", "F16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K_M", "Q4_K_S", "Q5_K_M", "Q6_K"];

    public static LLamaFtype FileType(string type, string option) => type.ToUpperInvariant() switch
    {
        "F32" => LLamaFtype.ALL_F32, "F16" => LLamaFtype.MOSTLY_F16,
        "Q8_0" => LLamaFtype.MOSTLY_Q8_0, "Q4_0" => LLamaFtype.MOSTLY_Q4_0, "Q4_1" => LLamaFtype.MOSTLY_Q4_1,
        "Q5_0" => LLamaFtype.MOSTLY_Q5_0, "Q5_1" => LLamaFtype.MOSTLY_Q5_1, "Q4_K_M" => LLamaFtype.MOSTLY_Q4_K_M,
        "Q4_K_S" => LLamaFtype.MOSTLY_Q4_K_S, "Q5_K_M" => LLamaFtype.MOSTLY_Q5_K_M, "Q6_K" => LLamaFtype.MOSTLY_Q6_K,
        _ => throw new InvalidInputException($"{option} '{type}' is not one of {string.Join(", ", Types)}."),
    };

    /// <summary>A file's type as llama.cpp names it (general.file_type), else its most common tensor type.</summary>
    static string Label(GgufFile f)
    {
        if (f.GetInt("general.file_type") is int ft && Enum.IsDefined(typeof(LLamaFtype), ft))
        {
            string name = ((LLamaFtype)ft).ToString().Replace("MOSTLY_", "").Replace("ALL_", "");
            if (Types.Contains(name)) return name;
        }
        return GgufModel.TypeCounts(f).First().Key.ToUpperInvariant();
    }

    public static int Run(string? gguf, string? shape, string? keep, int[] ks, int runCount, string[] ourTypes, string[] peerTypes, bool asJson, string? outFile)
    {
        if (runCount < 1) throw new InvalidInputException($"--runs must be >= 1, got {runCount}.");
        if (ks.Length == 0 || ks.Any(k => k < 1 || k > 256)) throw new InvalidInputException("--positions must be integers in [1, 256].");
        if (gguf is not null && shape is not null) throw new InvalidInputException("--gguf and --shape are two ways to name the file; give one.");
        var types = ourTypes.Select(t => WeightTypes.Parse(t, "dtypes")).Distinct().ToArray();
        var fileTypes = peerTypes.Select(t => t.ToUpperInvariant()).Distinct().ToArray();
        foreach (var t in fileTypes) FileType(t, "--peer-types");
        int threads = WorkerPool.Shared.ThreadCount;
        string work = keep ?? Path.Combine(Path.GetTempPath(), $"sprinter-peerbench-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            var files = new List<(string Path, string Label)>();
            string description;
            if (gguf is not null)
            {
                if (!File.Exists(gguf)) throw new InvalidInputException($"--gguf: no file '{gguf}'.");
                using var f = GgufFile.Open(gguf);
                files.Add((gguf, Label(f)));
                description = $"{Path.GetFileName(gguf)} ({f.Get<string>("general.architecture")}, {new FileInfo(gguf).Length / 1e6:F0} MB)";
            }
            else
            {
                if (!EngineBenchmark.Shapes.TryGetValue(shape!, out var s))
                    throw new InvalidInputException($"--shape takes {string.Join(" or ", EngineBenchmark.Shapes.Keys)}, got '{shape}'.");
                description = s.Description + ", quantized by llama.cpp";
                string folder = Path.Combine(work, shape!);
                if (!File.Exists(Path.Combine(folder, "config.json")))
                {
                    Console.Error.WriteLine($"writing the random {shape} model...");
                    var (vocab, merges) = SyntheticVocabulary(s.Config.VocabSize);
                    RandomModel.WriteFolder(folder, s.Config, RandomModel.CreateTensors(s.Config, seed: 1), vocab, merges);
                }
                LoadNative();   // the quantizer's first call does not load the library itself
                string f32 = Path.Combine(work, $"{shape}-F32.gguf");
                foreach (var t in fileTypes)
                {
                    string file = Path.Combine(work, $"{shape}-{t}.gguf");
                    if (!File.Exists(file))
                    {
                        Console.Error.WriteLine($"quantizing with llama.cpp: {t}...");
                        if (!File.Exists(f32)) GgufWriter.Convert(folder, f32, GgufType.F32);
                        if (t == "F16") GgufWriter.Convert(folder, file, GgufType.F16);
                        else if (t != "F32" && !LLamaQuantizer.Quantize(f32, file, FileType(t, "--peer-types"), threads))
                            throw new InvalidOperationException($"llama.cpp could not quantize to {t}");
                    }
                    files.Add((t == "F32" ? f32 : file, t));
                }
                if (keep is null || !fileTypes.Contains("F32")) File.Delete(f32);
            }

            var timers = new List<IPassTimer>();
            try
            {
                LoadNative();
                foreach (var (path, label) in files)
                {
                    foreach (var type in types)
                    {
                        Console.Error.WriteLine($"loading {label} for ours at {type?.Name() ?? "auto"}...");
                        using var f = GgufFile.Open(path);
                        timers.Add(new SprinterPassTimer(GgufModel.Load(f, GgufModel.ReadConfig(f), type), ks.Max(), file: label));
                    }
                    Console.Error.WriteLine($"loading {label} for llama.cpp...");
                    timers.Add(new LlamaPassTimer(path, label, ks.Max(), threads, file: label));
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
            if (keep is null) Directory.Delete(work, recursive: true);
        }
    }

    static bool _loaded;

    static void LoadNative()
    {
        if (_loaded) return;
        NativeLibraryConfig.All.WithLogCallback((level, message) => { if (level == LLamaLogLevel.Error) Console.Error.Write(message); });
        NativeApi.llama_empty_call();
        _loaded = true;
    }

    // A valid GPT-2 byte-level vocabulary (as Program's): llama.cpp needs one to load the model. Past
    // the 65,536 byte pairs, merges add a third byte to the pairs that start with byte 0.
    static (string Vocab, string Merges) SyntheticVocabulary(int size)
    {
        static string B(int b) => ByteLevel.ByteToChar[b].ToString();
        var merges = Enumerable.Range(0, size - 257).Select(i => i < 65536 ? (B(i / 256), B(i % 256)) : (B(0) + B((i - 65536) / 256), B((i - 65536) % 256)));
        return RandomModel.ByteVocabulary(merges);
    }
}
