namespace Satflow.Lightning.Wire;

/// <summary>
/// Malformed input: every decoder in this library reports bad bytes or text with this exception (or a subclass) and
/// never with any other exception type. <see cref="Reason"/> is a short machine-friendly reason.
/// </summary>
public class WireFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public WireFormatException(string reason, string? detail = null, Exception? inner = null)
        : base(detail is null ? reason : $"{reason}: {detail}", inner)
    {
        Reason = reason;
    }

    /// <summary>Creates the exception.</summary>
    public WireFormatException() : this("malformed") { }

    /// <summary>Creates the exception.</summary>
    public WireFormatException(string reason) : this(reason, null, null) { }

    /// <summary>Creates the exception.</summary>
    public WireFormatException(string reason, Exception inner) : this(reason, null, inner) { }

    /// <summary>A short reason such as <c>unexpected end of data</c> or <c>non-canonical bigsize</c>.</summary>
    public string Reason { get; }
}
