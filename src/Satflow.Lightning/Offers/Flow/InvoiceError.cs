using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Offers.Flow;

/// <summary>
/// The BOLT 12 <c>invoice_error</c> TLV stream: <c>erroneous_field</c> (1), <c>suggested_value</c> (3) and
/// <c>error</c> (5), sent instead of an invoice (or in answer to a bad invoice).
/// </summary>
public sealed class InvoiceError
{
    /// <summary>TLV type of <c>erroneous_field</c>.</summary>
    public const ulong ErroneousFieldType = 1;

    /// <summary>TLV type of <c>suggested_value</c>.</summary>
    public const ulong SuggestedValueType = 3;

    /// <summary>TLV type of <c>error</c>.</summary>
    public const ulong ErrorType = 5;

    /// <summary>The TLV type of the field that was wrong, if one was.</summary>
    public ulong? ErroneousField { get; init; }

    /// <summary>A value that would have been accepted for <see cref="ErroneousField"/>.</summary>
    public ReadOnlyMemory<byte>? SuggestedValue { get; init; }

    /// <summary>The explanation.</summary>
    public required string Error { get; init; }

    /// <summary>Builds the error for a refusal.</summary>
    public static InvoiceError From(Bolt12FlowException refusal)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        return new InvoiceError { ErroneousField = refusal.ErroneousField, Error = refusal.Reason };
    }

    /// <summary>Serializes the stream.</summary>
    public byte[] Encode()
    {
        var records = new List<TlvRecord>();
        if (ErroneousField is { } field)
        {
            records.Add(new TlvRecord(ErroneousFieldType, new WireWriter().WriteTruncatedUInt(field).ToArray()));
        }
        if (SuggestedValue is { } suggested)
        {
            records.Add(new TlvRecord(SuggestedValueType, suggested));
        }
        records.Add(new TlvRecord(ErrorType, System.Text.Encoding.UTF8.GetBytes(Error)));
        return new TlvStream(records).ToBytes();
    }

    /// <summary>Parses an <c>invoice_error</c>.</summary>
    /// <exception cref="WireFormatException">When the stream is malformed, has an unknown even type or no valid <c>error</c>.</exception>
    public static InvoiceError Decode(ReadOnlySpan<byte> bytes)
    {
        var stream = TlvStream.Parse(bytes, static t => t is ErroneousFieldType or SuggestedValueType or ErrorType);
        ulong? field = null;
        if (stream.Get(ErroneousFieldType) is { } raw)
        {
            var reader = new WireReader(raw.Span);
            field = reader.ReadTruncatedUInt(8);
        }
        if (stream.Get(ErrorType) is not { } text)
        {
            throw new WireFormatException("invoice_error without error");
        }
        string error;
        try
        {
            error = new System.Text.UTF8Encoding(false, true).GetString(text.Span);
        }
        catch (System.Text.DecoderFallbackException ex)
        {
            throw new WireFormatException("invalid UTF-8 in invoice_error", ex);
        }
        return new InvoiceError { ErroneousField = field, SuggestedValue = stream.Get(SuggestedValueType), Error = error };
    }
}
