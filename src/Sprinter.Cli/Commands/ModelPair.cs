using Sprinter.Engine;
using Sprinter.Models;

namespace Sprinter.Cli.Commands;

/// <summary>The draft and/or target a command needs, loaded and checked to share one tokenizer.</summary>
internal sealed class ModelPair : IDisposable
{
    public LanguageModel? Draft { get; private init; }
    public LanguageModel? Target { get; private init; }
    public Tokenizer Tokenizer => (Target ?? Draft)!.Tokenizer;
    /// <summary>Generation ends at any of these (the target's end-of-sequence ids).</summary>
    public IReadOnlySet<int> StopTokens => (Target ?? Draft)!.StopTokens;

    public static ModelPair Load(bool needsTarget, string? targetFolder, bool needsDraft, string? draftFolder, WeightType? type)
    {
        LanguageModel? target = null, draft = null;
        try
        {
            if (needsTarget) target = LanguageModel.Load(CliSupport.ResolveModel(targetFolder, "target", "--target"), type);
            if (needsDraft) draft = LanguageModel.Load(CliSupport.ResolveModel(draftFolder, "draft", "--draft"), type);
            if (target is not null && draft is not null) LanguageModel.CheckPair(draft, target);
            return new ModelPair { Target = target, Draft = draft };
        }
        catch
        {
            target?.Dispose(); draft?.Dispose();
            throw;
        }
    }

    public void Dispose() { Draft?.Dispose(); Target?.Dispose(); }
}
