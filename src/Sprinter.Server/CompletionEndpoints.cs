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
        // Admission (a 429) and every check (a 400) happen here, before a byte of the response is sent.
        await using var generation = await service.StartAsync(request, prompt, context.RequestAborted);
        if (request.Stream) await Stream(context, chat, request, generation);
        else await Whole(context, chat, request, generation);
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
        response["choices"] = new JsonArray(OpenAiJson.Choice(chat, chunk: false, result.Text, OpenAiJson.FinishReason(result)));
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
        JsonObject Chunk(string? text, string? finish, bool withRole = false)
        {
            var chunk = OpenAiJson.Envelope(chat, chunk: true, generation, service.ModelId);
            chunk["choices"] = new JsonArray(OpenAiJson.Choice(chat, chunk: true, text, finish, withRole));
            return chunk;
        }
        if (chat) await Send(response, Chunk("", null, withRole: true), ct);
        try
        {
            await foreach (var piece in generation.ReadAllAsync(ct))
            {
                if (piece.Text.Length == 0 && !request.Sprinter.Provenance) continue;
                var chunk = Chunk(piece.Text, null);
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

    static async Task Send(HttpResponse response, JsonNode chunk, CancellationToken ct)
    {
        await response.WriteAsync("data: " + chunk.ToJsonString() + "\n\n", ct);
        await response.Body.FlushAsync(ct);
    }
}
