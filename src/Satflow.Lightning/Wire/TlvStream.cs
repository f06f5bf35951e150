namespace Satflow.Lightning.Wire;

/// <summary>One TLV record: a type and its value bytes.</summary>
/// <param name="Type">The record type.</param>
/// <param name="Value">The value bytes.</param>
public sealed record TlvRecord(ulong Type, ReadOnlyMemory<byte> Value);

/// <summary>
/// BOLT 1 TLV streams: a sequence of (BigSize type, BigSize length, value) records in strictly increasing type order.
/// Parsing rejects truncation, non-canonical BigSizes, lengths beyond the input, duplicate or out-of-order types and
/// unknown even types; unknown odd types are kept so callers can round-trip them.
/// </summary>
public sealed class TlvStream
{
    private readonly List<TlvRecord> _records;

    /// <summary>Creates a stream from records, which are sorted by type; duplicates are refused.</summary>
    /// <exception cref="ArgumentException">When two records share a type.</exception>
    public TlvStream(IEnumerable<TlvRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        _records = [.. records.OrderBy(r => r.Type)];
        for (var i = 1; i < _records.Count; i++)
        {
            if (_records[i].Type == _records[i - 1].Type)
            {
                throw new ArgumentException($"Duplicate TLV type {_records[i].Type}.", nameof(records));
            }
        }
    }

    /// <summary>An empty stream.</summary>
    public static TlvStream Empty => new([]);

    /// <summary>The records in increasing type order.</summary>
    public IReadOnlyList<TlvRecord> Records => _records;

    /// <summary>The value of the record of <paramref name="type"/>, or null.</summary>
    public ReadOnlyMemory<byte>? Get(ulong type)
    {
        foreach (var record in _records)
        {
            if (record.Type == type)
            {
                return record.Value;
            }
        }
        return null;
    }

    /// <summary>True when a record of <paramref name="type"/> is present.</summary>
    public bool Contains(ulong type) => Get(type) is not null;

    /// <summary>
    /// Parses a whole TLV stream.
    /// </summary>
    /// <param name="data">The stream bytes (the rest of a message, or a length-delimited TLV payload).</param>
    /// <param name="isKnownType">Which types the caller understands; an unknown even type is an error.</param>
    /// <exception cref="WireFormatException">On any violation of the BOLT 1 TLV rules.</exception>
    public static TlvStream Parse(ReadOnlySpan<byte> data, Func<ulong, bool> isKnownType)
    {
        ArgumentNullException.ThrowIfNull(isKnownType);
        var records = new List<TlvRecord>();
        var reader = new WireReader(data);
        ulong? previous = null;
        while (!reader.IsEnd)
        {
            var type = reader.ReadBigSize();
            var length = reader.ReadBigSize();
            if (length > (ulong)reader.Remaining)
            {
                throw new WireFormatException("tlv length exceeds remaining bytes", $"type {type} claims {length} bytes, {reader.Remaining} left");
            }
            var value = reader.ReadBytes((int)length);
            if (previous is { } p && type <= p)
            {
                throw new WireFormatException(type == p ? "duplicate tlv type" : "tlv types out of order", $"type {type} after {p}");
            }
            previous = type;
            if (!isKnownType(type) && type % 2 == 0)
            {
                throw new WireFormatException("unknown even tlv type", type.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            records.Add(new TlvRecord(type, value));
        }
        return new TlvStream(records);
    }

    /// <summary>Serializes the stream.</summary>
    public void WriteTo(WireWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (var record in _records)
        {
            writer.WriteBigSize(record.Type);
            writer.WriteBigSize((ulong)record.Value.Length);
            writer.WriteBytes(record.Value.Span);
        }
    }

    /// <summary>Serializes the stream into a new array.</summary>
    public byte[] ToBytes()
    {
        var writer = new WireWriter();
        WriteTo(writer);
        return writer.ToArray();
    }
}
