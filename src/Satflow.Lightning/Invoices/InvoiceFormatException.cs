using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Invoices;

/// <summary>A BOLT 11 invoice or BOLT 12 string/TLV that breaks the spec; <see cref="WireFormatException.Reason"/> says why.</summary>
public sealed class InvoiceFormatException : WireFormatException
{
    /// <summary>Creates the exception.</summary>
    public InvoiceFormatException(string reason, string? detail = null, Exception? inner = null)
        : base(reason, detail, inner)
    {
    }

    /// <summary>Creates the exception.</summary>
    public InvoiceFormatException() : this("malformed invoice") { }

    /// <summary>Creates the exception.</summary>
    public InvoiceFormatException(string reason) : this(reason, null, null) { }

    /// <summary>Creates the exception.</summary>
    public InvoiceFormatException(string reason, Exception inner) : this(reason, null, inner) { }

    internal static InvoiceFormatException Wrap(WireFormatException ex) =>
        ex as InvoiceFormatException ?? new InvoiceFormatException(ex.Reason, ex.Message == ex.Reason ? null : ex.Message[(ex.Reason.Length + 2)..], ex);
}
