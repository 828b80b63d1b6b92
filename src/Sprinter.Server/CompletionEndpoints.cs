using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Sprinter.Serving;

namespace Sprinter.Server;

/// <summary><c>POST /v1/chat/completions</c> and <c>POST /v1/completions</c>, whole or streamed as server-sent events.</summary>
internal sealed class CompletionEndpoints(GenerationService service, int maxBodyBytes)
{
    public async Task Handle(HttpContext context, bool chat)
    {
        byte[] body = await ReadBody(context.Request, context.RequestAborted);
        var request = chat ? RequestParser.ParseChat(body) : RequestParser.ParseCompletion(body);
        int[] prompt = service.EncodePrompt(request);
        if (request.Scoring) { await Score(context, request, prompt); return; }
        // Admission (a 429) and every check (a 400) happen here, before a byte of the response is sent.
        await using var generation = await service.StartAsync(request, prompt, context.RequestAborted);
        if (request.Stream) await Stream(context, chat, request, generation);
        else await Whole(context, chat, request, generation);
    }

    /// <summary>vLLM's <c>POST /tokenize</c>: <c>{"prompt": text}</c> to <c>{"tokens", "count", "max_model_len"}</c> (the target's tokenizer).</summary>
    public async Task Tokenize(HttpContext context)
    {
        var request = RequestParser.ParseCompletion(await ReadBody(context.Request, context.RequestAborted));
        int[] ids = service.EncodePrompt(request);
        await SprinterServer.Json(context, 200, new JsonObject
        {
            ["tokens"] = new JsonArray(ids.Select(i => (JsonNode)i).ToArray()),
            ["count"] = ids.Length,
            ["max_model_len"] = service.Context,
            ["vocab_size"] = (service.Target ?? service.Draft)!.Model.OutputVocabulary,
        });
    }

    /// <summary>How far past the limit a body is still read (and dropped) so that its 400 reaches the
    /// client: answering while a client still sends makes it see a reset connection instead.</summary>
    public const int DrainFactor = 16;

    async Task<byte[]> ReadBody(HttpRequest request, CancellationToken cancellationToken)
    {
        long limit = (long)maxBodyBytes * DrainFactor;
        if (request.ContentLength > limit) throw TooLarge(request.ContentLength.Value);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        long total = 0;
        int n;
        try
        {
            while ((n = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                total += n;
                if (total <= maxBodyBytes) buffer.Write(chunk, 0, n);
            }
        }
        catch (BadHttpRequestException) { throw TooLarge(limit + 1); }   // Kestrel's own cap (beyond the drain)
        if (total > maxBodyBytes) throw TooLarge(total);
        return buffer.ToArray();
    }

    InvalidRequestException TooLarge(long bytes) => new(null, $"the body has {(bytes > maxBodyBytes ? "more than " + maxBodyBytes : bytes.ToString())} bytes; this server takes at most {maxBodyBytes}.");

    async Task Whole(HttpContext context, bool chat, CompletionRequest request, Generation generation)
    {
        var provenance = new List<Sprinter.Decoding.EmittedToken>();
        await foreach (var piece in generation.ReadAllAsync(context.RequestAborted)) provenance.AddRange(piece.Tokens);
        var result = await generation.Result;
        var response = OpenAiJson.Envelope(chat, chunk: false, generation, service.ModelId);
        response["choices"] = new JsonArray(OpenAiJson.Choice(chat, chunk: false, result.Text, OpenAiJson.FinishReason(result), logprobs: Logprobs(chat, request, provenance, 0)));
        response["usage"] = OpenAiJson.Usage(result.Stats);
        if (request.Sprinter.Provenance) response["sprinter"] = new JsonObject { ["provenance"] = OpenAiJson.Provenance(provenance) };
        await SprinterServer.Json(context, 200, response);
    }

    /// <summary>
    /// One chunk per piece of text (flushed at once), a last chunk with the finish reason and
    /// Sprinter's mode and lossless flag, the usage chunk when stream_options.include_usage asks,
    /// then <c>data: [DONE]</c>. A closed connection cancels the read, and so the generation.
    /// </summary>
    async Task Stream(HttpContext context, bool chat, CompletionRequest request, Generation generation)
    {
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var ct = context.RequestAborted;
        int textOffset = 0;
        JsonObject Chunk(string? text, string? finish, bool withRole = false, IReadOnlyList<Sprinter.Decoding.EmittedToken>? tokens = null)
        {
            var chunk = OpenAiJson.Envelope(chat, chunk: true, generation, service.ModelId);
            chunk["choices"] = new JsonArray(OpenAiJson.Choice(chat, chunk: true, text, finish, withRole, tokens is null ? null : Logprobs(chat, request, tokens, textOffset)));
            return chunk;
        }
        if (chat) await Send(response, Chunk("", null, withRole: true), ct);
        try
        {
            await foreach (var piece in generation.ReadAllAsync(ct))
            {
                if (piece.Text.Length == 0 && !request.Sprinter.Provenance && (request.Logprobs is null || piece.Tokens.Count == 0)) continue;
                var chunk = Chunk(piece.Text, null, tokens: piece.Tokens);
                textOffset += piece.Text.Length;
                if (request.Sprinter.Provenance) chunk["sprinter"] = new JsonObject { ["provenance"] = OpenAiJson.Provenance(piece.Tokens) };
                await Send(response, chunk, ct);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The status line is gone; the error travels as an event, as OpenAI's stream does.
            await Send(response, OpenAiJson.Error("generation failed: " + e.Message.ReplaceLineEndings(" "), "server_error", null), ct);
            return;
        }
        var result = await generation.Result;
        var last = Chunk(chat ? null : "", OpenAiJson.FinishReason(result));
        last["sprinter"] = new JsonObject { ["mode"] = result.Stats.Mode, ["lossless"] = result.Stats.Lossless };
        await Send(response, last, ct);
        if (request.IncludeUsage)
        {
            var usage = OpenAiJson.Envelope(chat, chunk: true, generation, service.ModelId);
            usage["choices"] = new JsonArray();
            usage["usage"] = OpenAiJson.Usage(result.Stats);
            await Send(response, usage, ct);
        }
        await response.WriteAsync("data: [DONE]\n\n", ct);
        await response.Body.FlushAsync(ct);
    }

    /// <summary>The logprobs of generated tokens when the request asked for them (null otherwise).</summary>
    JsonObject? Logprobs(bool chat, CompletionRequest request, IReadOnlyList<Sprinter.Decoding.EmittedToken> tokens, int textOffset)
    {
        if (request.Logprobs is null) return null;
        return chat ? OpenAiJson.ChatLogprobs(service.Tokenizer, tokens, request.TokensAsIds)
            : OpenAiJson.TextLogprobs(service.Tokenizer, tokens.Select(t => (t.Id, t.Logprobs)), request.TokensAsIds, textOffset,
                tokens.Select((t, i) => (t, i)).Where(x => x.t.Logprobs is null).Select(x => x.t.Index));
    }

    /// <summary>
    /// echo / prompt_logprobs (text completions): the target scores the prompt in one pass and adds at
    /// most one token; the answer has vLLM's <c>prompt_logprobs</c> and, with echo, the prompt's
    /// tokens ahead of the generated one in <c>text</c> and <c>logprobs</c>.
    /// </summary>
    async Task Score(HttpContext context, CompletionRequest request, int[] prompt)
    {
        var scored = await service.ScoreAsync(request, prompt, context.RequestAborted);
        var tokenizer = service.Tokenizer;
        string generatedText = scored.Generated is int g && !(service.Target!.StopTokens.Contains(g)) ? tokenizer.Decode([g]) : "";
        string promptText = request.Echo ? tokenizer.Decode(prompt) : "";
        var choice = new JsonObject { ["index"] = 0, ["text"] = promptText + generatedText };
        if (request.Logprobs is not null)
        {
            var entries = new List<(int, Sprinter.Decoding.TokenLogprobs?)>();
            if (request.Echo) entries.AddRange(prompt.Select((id, i) => (id, scored.PromptLogprobs[i])));
            if (scored.Generated is int id) entries.Add((id, scored.GeneratedLogprobs));
            choice["logprobs"] = OpenAiJson.TextLogprobs(tokenizer, entries, request.TokensAsIds, 0);
        }
        else choice["logprobs"] = null;
        choice["finish_reason"] = scored.FinishReason;
        if (request.PromptLogprobs is not null) choice["prompt_logprobs"] = OpenAiJson.PromptLogprobs(tokenizer, prompt, scored.PromptLogprobs);
        choice["prompt_token_ids"] = new JsonArray(prompt.Select(i => (JsonNode)i).ToArray());
        if (scored.Generated is int gen) choice["token_ids"] = new JsonArray(gen);
        var response = new JsonObject
        {
            ["id"] = "cmpl-" + Guid.NewGuid().ToString("N")[..24],
            ["object"] = "text_completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = service.ModelId,
            ["choices"] = new JsonArray(choice),
            ["usage"] = OpenAiJson.Usage(scored.Stats),
        };
        await SprinterServer.Json(context, 200, response);
    }

    static async Task Send(HttpResponse response, JsonNode chunk, CancellationToken ct)
    {
        await response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n", ct);
        await response.Body.FlushAsync(ct);
    }
}
