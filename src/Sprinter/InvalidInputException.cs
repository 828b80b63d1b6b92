namespace Sprinter;

/// <summary>
/// A user's mistake (a bad file, field or option), as opposed to a bug. The CLI prints its
/// message as one line and exits with code 2; the message names the file or field, what was
/// wrong and what to do.
/// </summary>
public class InvalidInputException(string message, Exception? inner = null) : Exception(message, inner);
