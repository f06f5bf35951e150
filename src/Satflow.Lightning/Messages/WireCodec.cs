using NBitcoin;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Messages;

/// <summary>Readers and writers for the BOLT 1 composite field types used by the message codecs.</summary>
internal static class WireCodec
{
    public static Point ReadPoint(this ref WireReader reader) => Point.FromBytes(reader.ReadSpan(Point.Length));

    public static NodeId ReadNodeId(this ref WireReader reader)
    {
        var span = reader.ReadSpan(NodeId.Length);
        return NodeId.TryFromBytes(span, out var id) ? id : throw new WireFormatException("invalid node id", Convert.ToHexStringLower(span));
    }

    public static Signature64 ReadSignature(this ref WireReader reader) => Signature64.FromBytes(reader.ReadSpan(Signature64.Length));

    public static Bytes32 ReadBytes32(this ref WireReader reader) => new(reader.ReadSpan(Bytes32.Length));

    public static ChannelId ReadChannelId(this ref WireReader reader) => new(reader.ReadBytes32());

    public static ChainHash ReadChainHash(this ref WireReader reader) => new(reader.ReadBytes32());

    public static uint256 ReadTxid(this ref WireReader reader) => new(reader.ReadSpan(32));

    public static ShortChannelId ReadShortChannelId(this ref WireReader reader) => new(reader.ReadUInt64());

    public static Satoshis ReadSatoshis(this ref WireReader reader) => new(reader.ReadUInt64());

    public static MilliSatoshi ReadMilliSatoshi(this ref WireReader reader) => new(reader.ReadUInt64());

    /// <summary>Reads a <c>u16</c> length then that many bytes.</summary>
    public static byte[] ReadU16Prefixed(this ref WireReader reader) => reader.ReadBytes(reader.ReadUInt16());

    public static FeatureBits ReadU16Features(this ref WireReader reader) => FeatureBits.FromBytes(reader.ReadSpan(reader.ReadUInt16()));

    public static WireWriter WritePoint(this WireWriter writer, Point point) => writer.WriteBytes(point.Span);

    public static WireWriter WriteNodeId(this WireWriter writer, NodeId id) => writer.WriteBytes(id.Span);

    public static WireWriter WriteSignature(this WireWriter writer, Signature64 signature) => writer.WriteBytes(signature.Span);

    public static WireWriter WriteBytes32(this WireWriter writer, Bytes32 value)
    {
        Span<byte> buffer = stackalloc byte[Bytes32.Length];
        value.CopyTo(buffer);
        return writer.WriteBytes(buffer);
    }

    public static WireWriter WriteChannelId(this WireWriter writer, ChannelId id) => writer.WriteBytes32(id.Value);

    public static WireWriter WriteChainHash(this WireWriter writer, ChainHash hash) => writer.WriteBytes32(hash.Value);

    public static WireWriter WriteTxid(this WireWriter writer, uint256 txid)
    {
        ArgumentNullException.ThrowIfNull(txid);
        Span<byte> buffer = stackalloc byte[32];
        txid.ToBytes(buffer);
        return writer.WriteBytes(buffer);
    }

    /// <summary>Writes a <c>u16</c> length then the bytes.</summary>
    /// <exception cref="ArgumentException">When the bytes do not fit a <c>u16</c> length.</exception>
    public static WireWriter WriteU16Prefixed(this WireWriter writer, ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"{bytes.Length} bytes do not fit a u16 length.", nameof(bytes));
        }
        return writer.WriteUInt16((ushort)bytes.Length).WriteBytes(bytes);
    }

    public static WireWriter WriteU16Features(this WireWriter writer, FeatureBits features)
    {
        ArgumentNullException.ThrowIfNull(features);
        return writer.WriteU16Prefixed(features.ToBytes());
    }

    /// <summary>Throws the typed error for a TLV value whose length is wrong.</summary>
    public static WireFormatException BadTlvLength(ulong type, int actual, string expected) =>
        new("invalid tlv length", $"type {type} has {actual} bytes, expected {expected}");
}

/// <summary>The parsed TLV extension of a message: known records by type and the unknown odd ones to keep.</summary>
internal readonly struct ParsedTlvs
{
    private readonly TlvStream _stream;
    private readonly ulong[] _known;

    private static readonly TlvStream NoRecords = TlvStream.Empty;

    private ParsedTlvs(TlvStream stream, ulong[] known)
    {
        _stream = stream;
        _known = known;
    }

    /// <summary>Parses everything left in <paramref name="reader"/> as a TLV stream with the given known types.</summary>
    public static ParsedTlvs Parse(ref WireReader reader, params ulong[] known)
    {
        var rest = reader.ReadToEnd();
        var stream = rest.IsEmpty ? NoRecords : TlvStream.Parse(rest, t => Array.IndexOf(known, t) >= 0);
        return new ParsedTlvs(stream, known);
    }

    public ReadOnlyMemory<byte>? Get(ulong type) => _stream.Get(type);

    public bool Has(ulong type) => _stream.Contains(type);

    /// <summary>A record that must have no value (a flag).</summary>
    public bool Flag(ulong type)
    {
        var value = _stream.Get(type);
        if (value is { } v && v.Length != 0)
        {
            throw WireCodec.BadTlvLength(type, v.Length, "0");
        }
        return value is not null;
    }

    public ReadOnlyMemory<byte>? Fixed(ulong type, int length)
    {
        var value = _stream.Get(type);
        if (value is { } v && v.Length != length)
        {
            throw WireCodec.BadTlvLength(type, v.Length, length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return value;
    }

    public Point? PointValue(ulong type) => Fixed(type, Point.Length) is { } v ? Point.FromBytes(v.Span) : null;

    public Signature64? SignatureValue(ulong type) => Fixed(type, Signature64.Length) is { } v ? Signature64.FromBytes(v.Span) : null;

    public uint256? TxidValue(ulong type) => Fixed(type, 32) is { } v ? new uint256(v.Span) : null;

    public long? Int64Value(ulong type) => Fixed(type, 8) is { } v ? System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(v.Span) : null;

    public ushort? UInt16Value(ulong type) => Fixed(type, 2) is { } v ? System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(v.Span) : null;

    public ShortChannelId? ShortChannelIdValue(ulong type) => Fixed(type, 8) is { } v ? new ShortChannelId(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(v.Span)) : null;

    public FeatureBits? FeaturesValue(ulong type) => Get(type) is { } v ? FeatureBits.FromBytes(v.Span) : null;

    /// <summary>The unknown (odd) records, kept for re-encoding.</summary>
    public IReadOnlyList<TlvRecord> Unknown()
    {
        List<TlvRecord>? unknown = null;
        foreach (var record in _stream.Records)
        {
            if (Array.IndexOf(_known, record.Type) < 0)
            {
                (unknown ??= []).Add(record);
            }
        }
        return unknown ?? (IReadOnlyList<TlvRecord>)[];
    }
}

/// <summary>Collects the TLV records of a message being encoded and writes them in type order.</summary>
internal sealed class TlvBuilder
{
    private readonly List<TlvRecord> _records = [];

    public TlvBuilder(IReadOnlyList<TlvRecord>? unknown)
    {
        if (unknown is not null)
        {
            _records.AddRange(unknown);
        }
    }

    public TlvBuilder Add(ulong type, ReadOnlyMemory<byte>? value)
    {
        if (value is { } v)
        {
            _records.Add(new TlvRecord(type, v));
        }
        return this;
    }

    /// <summary>Adds a record when <paramref name="value"/> is not null (a null array must not become an empty value).</summary>
    public TlvBuilder Add(ulong type, byte[]? value) => value is null ? this : Add(type, (ReadOnlyMemory<byte>?)value);

    public TlvBuilder AddFlag(ulong type, bool set) => set ? Add(type, ReadOnlyMemory<byte>.Empty) : this;

    public TlvBuilder AddPoint(ulong type, Point? point) => point is { } p ? Add(type, p.ToArray()) : this;

    public TlvBuilder AddSignature(ulong type, Signature64? signature) => signature is { } s ? Add(type, s.ToArray()) : this;

    public TlvBuilder AddTxid(ulong type, uint256? txid) => txid is not null ? Add(type, txid.ToBytes()) : this;

    public TlvBuilder AddInt64(ulong type, long? value)
    {
        if (value is not { } v)
        {
            return this;
        }
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(bytes, v);
        return Add(type, bytes);
    }

    public TlvBuilder AddUInt16(ulong type, ushort? value)
    {
        if (value is not { } v)
        {
            return this;
        }
        var bytes = new byte[2];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(bytes, v);
        return Add(type, bytes);
    }

    public TlvBuilder AddShortChannelId(ulong type, ShortChannelId? value)
    {
        if (value is not { } v)
        {
            return this;
        }
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, v.Value);
        return Add(type, bytes);
    }

    public TlvBuilder AddFeatures(ulong type, FeatureBits? features) => features is not null ? Add(type, features.ToBytes()) : this;

    /// <exception cref="ArgumentException">When an unknown record repeats a known type.</exception>
    public void WriteTo(WireWriter writer)
    {
        if (_records.Count > 0)
        {
            new TlvStream(_records).WriteTo(writer);
        }
    }
}
