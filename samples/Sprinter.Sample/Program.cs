// Sprinter from C#: load a draft/target pair, chat through IChatClient, stream a continuation.
// Without arguments it uses the shipped models (models/ in a parent folder); otherwise
// `dotnet run -- TARGET DRAFT [VERIFIER]` (folders or .gguf files).
using Microsoft.Extensions.AI;
using Sprinter;
using Sprinter.Decoding;
using Sprinter.Serving;

using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(2));
try
{
    await using var client = SprinterClient.Load(new SprinterClientOptions
    {
        Target = args.ElementAtOrDefault(0),
        Draft = args.ElementAtOrDefault(1),
        Verifier = args.ElementAtOrDefault(2),
    }, cancel.Token);

    // IChatClient (Microsoft.Extensions.AI): lossless speculative decoding by default.
    var reply = await client.ChatClient.GetResponseAsync("The President said that",
        new ChatOptions { Temperature = 0, MaxOutputTokens = 20 }, cancel.Token);
    Console.WriteLine($"chat: {reply.Text.Trim()}");
    Console.WriteLine($"  mode {reply.AdditionalProperties?["sprinter.mode"]}, lossless {reply.AdditionalProperties?["sprinter.lossless"]}");

    // The streaming generator, here with SPRINTER (lossy: a verifier decides when the target runs).
    Console.Write("sprinter: ");
    var options = new GenerateOptions { MaxTokens = 20, Decoding = new DecodingOverrides { Mode = DecodingMode.Sprinter } };
    await foreach (var piece in client.GenerateAsync("The President said that", options, cancel.Token))
        Console.Write(piece.Text);
    Console.WriteLine();
    return 0;
}
catch (InvalidInputException e)
{
    // A user mistake (missing file, corrupt weights, a pair that does not share a tokenizer): one line.
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
