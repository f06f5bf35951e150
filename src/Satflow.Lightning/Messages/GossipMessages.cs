using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Messages;

/// <summary>BOLT 7 <c>announcement_signatures</c> (259).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="ShortChannelId">The channel's short id.</param>
/// <param name="NodeSignature">The sender's node key signature of the channel announcement.</param>
/// <param name="BitcoinSignature">The sender's funding key signature of the channel announcement.</param>
public sealed record AnnouncementSignatures(ChannelId ChannelId, ShortChannelId ShortChannelId, Signature64 NodeSignature, Signature64 BitcoinSignature) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.AnnouncementSignatures;

    internal static AnnouncementSignatures Read(ref WireReader reader) =>
        new AnnouncementSignatures(reader.ReadChannelId(), reader.ReadShortChannelId(), reader.ReadSignature(), reader.ReadSignature())
        {
            UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown(),
        };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt64(ShortChannelId.Value).WriteSignature(NodeSignature).WriteSignature(BitcoinSignature);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>
/// BOLT 7 <c>channel_announcement</c> (256). The signatures cover everything after them, including
/// <see cref="ExtraData"/> (future fields), so the features are kept as the exact bytes received.
/// </summary>
/// <param name="NodeSignature1">Signature by <paramref name="NodeId1"/>.</param>
/// <param name="NodeSignature2">Signature by <paramref name="NodeId2"/>.</param>
/// <param name="BitcoinSignature1">Signature by <paramref name="BitcoinKey1"/>.</param>
/// <param name="BitcoinSignature2">Signature by <paramref name="BitcoinKey2"/>.</param>
/// <param name="FeatureBytes">The channel's feature vector as encoded.</param>
/// <param name="ChainHash">The chain.</param>
/// <param name="ShortChannelId">The funding output's position.</param>
/// <param name="NodeId1">The lexicographically lesser node id.</param>
/// <param name="NodeId2">The other node id.</param>
/// <param name="BitcoinKey1">Funding key of node 1.</param>
/// <param name="BitcoinKey2">Funding key of node 2.</param>
/// <param name="ExtraData">Bytes after the defined fields (signed; kept verbatim).</param>
public sealed record ChannelAnnouncement(
    Signature64 NodeSignature1,
    Signature64 NodeSignature2,
    Signature64 BitcoinSignature1,
    Signature64 BitcoinSignature2,
    ReadOnlyMemory<byte> FeatureBytes,
    ChainHash ChainHash,
    ShortChannelId ShortChannelId,
    NodeId NodeId1,
    NodeId NodeId2,
    Point BitcoinKey1,
    Point BitcoinKey2,
    ReadOnlyMemory<byte> ExtraData) : LightningMessage
{
    /// <summary>Offset of the signed part in the encoded message (type and four signatures skipped).</summary>
    public const int SignedDataOffset = 2 + (4 * Signature64.Length);

    /// <inheritdoc />
    public override ushort Type => MessageTypes.ChannelAnnouncement;

    /// <summary>The decoded channel features.</summary>
    /// <exception cref="WireFormatException">When the vector is absurdly long.</exception>
    public FeatureBits Features => FeatureBits.FromBytes(FeatureBytes.Span);

    internal static ChannelAnnouncement Read(ref WireReader reader) =>
        new(reader.ReadSignature(), reader.ReadSignature(), reader.ReadSignature(), reader.ReadSignature(), reader.ReadU16Prefixed(),
            reader.ReadChainHash(), reader.ReadShortChannelId(), reader.ReadNodeId(), reader.ReadNodeId(), reader.ReadPoint(), reader.ReadPoint(),
            reader.ReadToEnd().ToArray());

    internal override void WritePayload(WireWriter writer) =>
        writer.WriteSignature(NodeSignature1).WriteSignature(NodeSignature2).WriteSignature(BitcoinSignature1).WriteSignature(BitcoinSignature2)
            .WriteU16Prefixed(FeatureBytes.Span).WriteChainHash(ChainHash).WriteUInt64(ShortChannelId.Value).WriteNodeId(NodeId1).WriteNodeId(NodeId2)
            .WritePoint(BitcoinKey1).WritePoint(BitcoinKey2).WriteBytes(ExtraData.Span);
}

/// <summary>An RGB colour of a node announcement.</summary>
/// <param name="R">Red.</param>
/// <param name="G">Green.</param>
/// <param name="B">Blue.</param>
public readonly record struct RgbColor(byte R, byte G, byte B)
{
    /// <inheritdoc />
    public override string ToString() => $"#{R:x2}{G:x2}{B:x2}";
}

/// <summary>
/// BOLT 7 <c>node_announcement</c> (257). Known address descriptors are parsed into <see cref="Addresses"/>; from the
/// first unknown descriptor type on, the rest of the address field is kept in <see cref="UnparsedAddresses"/> (BOLT 7:
/// unknown types cannot be skipped). Feature bytes, alias and trailing data are kept verbatim since they are signed.
/// </summary>
/// <param name="Signature">Signature by <paramref name="NodeId"/> of everything after it.</param>
/// <param name="FeatureBytes">The node's feature vector as encoded.</param>
/// <param name="Timestamp">Orders announcements from the same node.</param>
/// <param name="NodeId">The announcing node.</param>
/// <param name="RgbColor">Display colour.</param>
/// <param name="Alias">32-byte alias (UTF-8, zero padded).</param>
/// <param name="Addresses">The known address descriptors, in order.</param>
/// <param name="UnparsedAddresses">Address bytes from the first unknown descriptor type on.</param>
/// <param name="ExtraData">Bytes after the defined fields (signed; kept verbatim).</param>
public sealed record NodeAnnouncement(
    Signature64 Signature,
    ReadOnlyMemory<byte> FeatureBytes,
    uint Timestamp,
    NodeId NodeId,
    RgbColor RgbColor,
    Bytes32 Alias,
    IReadOnlyList<NetworkAddress> Addresses,
    ReadOnlyMemory<byte> UnparsedAddresses,
    ReadOnlyMemory<byte> ExtraData) : LightningMessage
{
    /// <summary>Offset of the signed part in the encoded message (type and signature skipped).</summary>
    public const int SignedDataOffset = 2 + Signature64.Length;

    /// <inheritdoc />
    public override ushort Type => MessageTypes.NodeAnnouncement;

    /// <summary>The decoded node features.</summary>
    public FeatureBits Features => FeatureBits.FromBytes(FeatureBytes.Span);

    /// <summary>The alias as text (trailing zero bytes removed, invalid UTF-8 replaced).</summary>
    public string AliasText
    {
        get
        {
            var bytes = Alias.ToArray();
            var end = bytes.Length;
            while (end > 0 && bytes[end - 1] == 0)
            {
                end--;
            }
            return Encoding.UTF8.GetString(bytes, 0, end);
        }
    }

    /// <summary>Encodes an alias of at most 32 UTF-8 bytes, zero padded.</summary>
    /// <exception cref="ArgumentException">When the alias is longer than 32 bytes in UTF-8.</exception>
    public static Bytes32 EncodeAlias(string alias)
    {
        ArgumentNullException.ThrowIfNull(alias);
        var bytes = Encoding.UTF8.GetBytes(alias);
        if (bytes.Length > Bytes32.Length)
        {
            throw new ArgumentException("An alias is at most 32 bytes of UTF-8.", nameof(alias));
        }
        var padded = new byte[Bytes32.Length];
        bytes.CopyTo(padded, 0);
        return new Bytes32(padded);
    }

    internal static NodeAnnouncement Read(ref WireReader reader)
    {
        var signature = reader.ReadSignature();
        var features = reader.ReadU16Prefixed();
        var timestamp = reader.ReadUInt32();
        var nodeId = reader.ReadNodeId();
        var rgb = reader.ReadSpan(3);
        var alias = reader.ReadBytes32();
        var addressReader = new WireReader(reader.ReadSpan(reader.ReadUInt16()));
        var addresses = new List<NetworkAddress>();
        while (!addressReader.IsEnd && NetworkAddress.ReadKnown(ref addressReader) is { } address)
        {
            addresses.Add(address);
        }
        return new NodeAnnouncement(
            signature, features, timestamp, nodeId, new RgbColor(rgb[0], rgb[1], rgb[2]), alias, addresses,
            addressReader.ReadToEnd().ToArray(), reader.ReadToEnd().ToArray());
    }

    internal override void WritePayload(WireWriter writer)
    {
        var addresses = new WireWriter(64);
        foreach (var address in Addresses)
        {
            address.WriteTo(addresses);
        }
        addresses.WriteBytes(UnparsedAddresses.Span);
        writer.WriteSignature(Signature).WriteU16Prefixed(FeatureBytes.Span).WriteUInt32(Timestamp).WriteNodeId(NodeId)
            .WriteByte(RgbColor.R).WriteByte(RgbColor.G).WriteByte(RgbColor.B).WriteBytes32(Alias)
            .WriteU16Prefixed(addresses.WrittenSpan).WriteBytes(ExtraData.Span);
    }
}

/// <summary>BOLT 7 <c>channel_update</c> (258): one direction's routing policy.</summary>
/// <param name="Signature">Signature by the originating node of everything after it.</param>
/// <param name="ChainHash">The chain.</param>
/// <param name="ShortChannelId">The channel.</param>
/// <param name="Timestamp">Orders updates for this channel direction.</param>
/// <param name="MessageFlags">Bit 0 <c>must_be_one</c>, bit 1 <c>dont_forward</c>.</param>
/// <param name="ChannelFlags">Bit 0 <c>direction</c>, bit 1 <c>disable</c>.</param>
/// <param name="CltvExpiryDelta">Blocks subtracted from incoming HTLC expiries.</param>
/// <param name="HtlcMinimumMsat">Smallest HTLC accepted.</param>
/// <param name="FeeBaseMsat">Base fee.</param>
/// <param name="FeeProportionalMillionths">Proportional fee.</param>
/// <param name="HtlcMaximumMsat">Largest HTLC forwarded.</param>
/// <param name="ExtraData">Bytes after the defined fields (signed; kept verbatim).</param>
public sealed record ChannelUpdate(
    Signature64 Signature,
    ChainHash ChainHash,
    ShortChannelId ShortChannelId,
    uint Timestamp,
    byte MessageFlags,
    byte ChannelFlags,
    ushort CltvExpiryDelta,
    MilliSatoshi HtlcMinimumMsat,
    uint FeeBaseMsat,
    uint FeeProportionalMillionths,
    MilliSatoshi HtlcMaximumMsat,
    ReadOnlyMemory<byte> ExtraData) : LightningMessage
{
    /// <summary>Offset of the signed part in the encoded message (type and signature skipped).</summary>
    public const int SignedDataOffset = 2 + Signature64.Length;

    /// <inheritdoc />
    public override ushort Type => MessageTypes.ChannelUpdate;

    /// <summary>0 when the update comes from <c>node_id_1</c>, 1 from <c>node_id_2</c>.</summary>
    public int Direction => ChannelFlags & 1;

    /// <summary>True when the <c>disable</c> bit is set.</summary>
    public bool IsDisabled => (ChannelFlags & 2) != 0;

    /// <summary>True when the <c>dont_forward</c> bit is set (private update for the channel peer only).</summary>
    public bool DontForward => (MessageFlags & 2) != 0;

    internal static ChannelUpdate Read(ref WireReader reader) =>
        new(reader.ReadSignature(), reader.ReadChainHash(), reader.ReadShortChannelId(), reader.ReadUInt32(), reader.ReadByte(), reader.ReadByte(),
            reader.ReadUInt16(), reader.ReadMilliSatoshi(), reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadMilliSatoshi(), reader.ReadToEnd().ToArray());

    internal override void WritePayload(WireWriter writer) =>
        writer.WriteSignature(Signature).WriteChainHash(ChainHash).WriteUInt64(ShortChannelId.Value).WriteUInt32(Timestamp)
            .WriteByte(MessageFlags).WriteByte(ChannelFlags).WriteUInt16(CltvExpiryDelta).WriteUInt64(HtlcMinimumMsat.Value)
            .WriteUInt32(FeeBaseMsat).WriteUInt32(FeeProportionalMillionths).WriteUInt64(HtlcMaximumMsat.Value).WriteBytes(ExtraData.Span);
}

/// <summary>The BOLT 7 <c>encoded_</c> array encodings.</summary>
public static class GossipArrayEncoding
{
    /// <summary>Encoding type 0: an uncompressed array.</summary>
    public const byte Uncompressed = 0;

    /// <summary>Encoding type 1: zlib, which the current BOLT 7 says MUST NOT be used.</summary>
    public const byte LegacyZlib = 1;

    /// <summary>Decodes an <c>encoding_type</c>-prefixed array into its raw element bytes.</summary>
    internal static ReadOnlySpan<byte> Decode(ReadOnlySpan<byte> encoded, MessageDecodeOptions options, string what)
    {
        if (encoded.IsEmpty)
        {
            throw new WireFormatException("missing encoding type", what);
        }
        switch (encoded[0])
        {
            case Uncompressed:
                return encoded[1..];
            case LegacyZlib when options.AllowLegacyZlib:
                return Inflate(encoded[1..], options.MaxInflatedBytes, what);
            case LegacyZlib:
                throw new WireFormatException("zlib encoding not allowed", $"{what}: encoding type 1 MUST NOT be used (BOLT 7)");
            default:
                throw new WireFormatException("unknown encoding type", $"{what}: {encoded[0]}");
        }
    }

    private static byte[] Inflate(ReadOnlySpan<byte> compressed, int maxBytes, string what)
    {
        try
        {
            using var input = new MemoryStream(compressed.ToArray(), writable: false);
            using var zlib = new ZLibStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream();
            var buffer = new byte[4096];
            int read;
            while ((read = zlib.Read(buffer, 0, buffer.Length)) > 0)
            {
                if (output.Length + read > maxBytes)
                {
                    throw new WireFormatException("zlib data too large", $"{what}: more than {maxBytes} bytes");
                }
                output.Write(buffer, 0, read);
            }
            return output.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            // Corrupt or truncated streams: InvalidDataException (bad header/method) or ZLibException (an IOException).
            throw new WireFormatException("invalid zlib data", e);
        }
    }

    internal static List<ShortChannelId> ReadShortChannelIds(ReadOnlySpan<byte> encoded, MessageDecodeOptions options)
    {
        var raw = Decode(encoded, options, "encoded_short_ids");
        if (raw.Length % 8 != 0)
        {
            throw new WireFormatException("invalid encoded_short_ids", $"{raw.Length} bytes is not a whole number of short_channel_ids");
        }
        var ids = new List<ShortChannelId>(raw.Length / 8);
        for (var i = 0; i < raw.Length; i += 8)
        {
            ids.Add(new ShortChannelId(BinaryPrimitives.ReadUInt64BigEndian(raw[i..])));
        }
        return ids;
    }

    internal static byte[] WriteShortChannelIds(IReadOnlyList<ShortChannelId> ids)
    {
        var writer = new WireWriter(1 + (ids.Count * 8)).WriteByte(Uncompressed);
        foreach (var id in ids)
        {
            writer.WriteUInt64(id.Value);
        }
        return writer.ToArray();
    }
}

/// <summary>BOLT 7 <c>query_short_channel_ids</c> (261).</summary>
/// <param name="ChainHash">The chain.</param>
/// <param name="ShortChannelIds">The channels queried (encoded uncompressed).</param>
public sealed record QueryShortChannelIds(ChainHash ChainHash, IReadOnlyList<ShortChannelId> ShortChannelIds) : ExtensibleMessage
{
    private const ulong QueryFlagsType = 1;

    /// <summary>
    /// TLV 1 <c>query_flags</c>: one flag set per short channel id (bit 0 announcement, bits 1/2 updates of node 1/2,
    /// bits 3/4 node announcements of node 1/2), or null.
    /// </summary>
    public IReadOnlyList<ulong>? QueryFlags { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.QueryShortChannelIds;

    /// <summary>
    /// False when <see cref="QueryFlags"/> is present but does not hold exactly one flag per short channel id (BOLT 7:
    /// the receiver MAY send a <c>warning</c> and close the connection).
    /// </summary>
    public bool QueryFlagsMatchIds => QueryFlags is null || QueryFlags.Count == ShortChannelIds.Count;

    internal static QueryShortChannelIds Read(ref WireReader reader, MessageDecodeOptions options)
    {
        var chain = reader.ReadChainHash();
        var ids = GossipArrayEncoding.ReadShortChannelIds(reader.ReadSpan(reader.ReadUInt16()), options);
        var tlvs = ParsedTlvs.Parse(ref reader, QueryFlagsType);
        List<ulong>? flags = null;
        if (tlvs.Get(QueryFlagsType) is { } v)
        {
            var flagReader = new WireReader(GossipArrayEncoding.Decode(v.Span, options, "encoded_query_flags"));
            flags = [];
            while (!flagReader.IsEnd)
            {
                flags.Add(flagReader.ReadBigSize());
            }
        }
        return new QueryShortChannelIds(chain, ids) { QueryFlags = flags, UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChainHash(ChainHash).WriteU16Prefixed(GossipArrayEncoding.WriteShortChannelIds(ShortChannelIds));
        byte[]? flags = null;
        if (QueryFlags is not null)
        {
            var flagWriter = new WireWriter().WriteByte(GossipArrayEncoding.Uncompressed);
            foreach (var flag in QueryFlags)
            {
                flagWriter.WriteBigSize(flag);
            }
            flags = flagWriter.ToArray();
        }
        new TlvBuilder(UnknownTlvs).Add(QueryFlagsType, flags).WriteTo(writer);
    }
}

/// <summary>BOLT 7 <c>reply_short_channel_ids_end</c> (262).</summary>
/// <param name="ChainHash">The chain.</param>
/// <param name="FullInformation">1 when the sender has full information for the chain, else 0.</param>
public sealed record ReplyShortChannelIdsEnd(ChainHash ChainHash, byte FullInformation) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.ReplyShortChannelIdsEnd;

    internal static ReplyShortChannelIdsEnd Read(ref WireReader reader) =>
        new ReplyShortChannelIdsEnd(reader.ReadChainHash(), reader.ReadByte()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChainHash(ChainHash).WriteByte(FullInformation);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 7 <c>query_channel_range</c> (263).</summary>
/// <param name="ChainHash">The chain.</param>
/// <param name="FirstBlocknum">First block of the range.</param>
/// <param name="NumberOfBlocks">Number of blocks.</param>
public sealed record QueryChannelRange(ChainHash ChainHash, uint FirstBlocknum, uint NumberOfBlocks) : ExtensibleMessage
{
    /// <summary><see cref="QueryOptionFlags"/> bit 0: the sender wants timestamps.</summary>
    public const ulong WantTimestamps = 1;

    /// <summary><see cref="QueryOptionFlags"/> bit 1: the sender wants checksums.</summary>
    public const ulong WantChecksums = 2;

    private const ulong QueryOptionType = 1;

    /// <summary>TLV 1 <c>query_option</c>: a bigsize bit field, or null.</summary>
    public ulong? QueryOptionFlags { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.QueryChannelRange;

    internal static QueryChannelRange Read(ref WireReader reader)
    {
        var message = new QueryChannelRange(reader.ReadChainHash(), reader.ReadUInt32(), reader.ReadUInt32());
        var tlvs = ParsedTlvs.Parse(ref reader, QueryOptionType);
        ulong? flags = null;
        if (tlvs.Get(QueryOptionType) is { } v)
        {
            var r = new WireReader(v.Span);
            flags = r.ReadBigSize();
            r.EnsureEnd("query_option");
        }
        return message with { QueryOptionFlags = flags, UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChainHash(ChainHash).WriteUInt32(FirstBlocknum).WriteUInt32(NumberOfBlocks);
        new TlvBuilder(UnknownTlvs).Add(QueryOptionType, QueryOptionFlags is { } f ? BigSize.Encode(f) : null).WriteTo(writer);
    }
}

/// <summary>Timestamps of the two <c>channel_update</c>s of one channel (0 when absent).</summary>
/// <param name="NodeId1">Timestamp of node 1's update.</param>
/// <param name="NodeId2">Timestamp of node 2's update.</param>
public readonly record struct ChannelUpdateTimestamps(uint NodeId1, uint NodeId2);

/// <summary>Checksums of the two <c>channel_update</c>s of one channel (0 when absent).</summary>
/// <param name="NodeId1">Checksum of node 1's update.</param>
/// <param name="NodeId2">Checksum of node 2's update.</param>
public readonly record struct ChannelUpdateChecksums(uint NodeId1, uint NodeId2);

/// <summary>BOLT 7 <c>reply_channel_range</c> (264).</summary>
/// <param name="ChainHash">The chain.</param>
/// <param name="FirstBlocknum">First block covered.</param>
/// <param name="NumberOfBlocks">Number of blocks covered.</param>
/// <param name="SyncComplete">1 on the final reply.</param>
/// <param name="ShortChannelIds">The channels in the range (encoded uncompressed).</param>
public sealed record ReplyChannelRange(ChainHash ChainHash, uint FirstBlocknum, uint NumberOfBlocks, byte SyncComplete, IReadOnlyList<ShortChannelId> ShortChannelIds) : ExtensibleMessage
{
    private const ulong TimestampsType = 1;
    private const ulong ChecksumsType = 3;

    /// <summary>TLV 1 <c>timestamps_tlv</c>, one entry per short channel id, or null.</summary>
    public IReadOnlyList<ChannelUpdateTimestamps>? Timestamps { get; init; }

    /// <summary>TLV 3 <c>checksums_tlv</c>, one entry per short channel id, or null.</summary>
    public IReadOnlyList<ChannelUpdateChecksums>? Checksums { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.ReplyChannelRange;

    /// <summary>False when timestamps or checksums are present but not one per short channel id.</summary>
    public bool ExtensionsMatchIds =>
        (Timestamps is null || Timestamps.Count == ShortChannelIds.Count) && (Checksums is null || Checksums.Count == ShortChannelIds.Count);

    internal static ReplyChannelRange Read(ref WireReader reader, MessageDecodeOptions options)
    {
        var chain = reader.ReadChainHash();
        var first = reader.ReadUInt32();
        var count = reader.ReadUInt32();
        var complete = reader.ReadByte();
        var ids = GossipArrayEncoding.ReadShortChannelIds(reader.ReadSpan(reader.ReadUInt16()), options);
        var tlvs = ParsedTlvs.Parse(ref reader, TimestampsType, ChecksumsType);
        List<ChannelUpdateTimestamps>? timestamps = null;
        if (tlvs.Get(TimestampsType) is { } t)
        {
            timestamps = [];
            foreach (var (a, b) in ReadPairs(GossipArrayEncoding.Decode(t.Span, options, "encoded_timestamps"), "encoded_timestamps"))
            {
                timestamps.Add(new ChannelUpdateTimestamps(a, b));
            }
        }
        List<ChannelUpdateChecksums>? checksums = null;
        if (tlvs.Get(ChecksumsType) is { } c)
        {
            checksums = [];
            foreach (var (a, b) in ReadPairs(c.Span, "checksums"))
            {
                checksums.Add(new ChannelUpdateChecksums(a, b));
            }
        }
        return new ReplyChannelRange(chain, first, count, complete, ids) { Timestamps = timestamps, Checksums = checksums, UnknownTlvs = tlvs.Unknown() };
    }

    private static List<(uint, uint)> ReadPairs(ReadOnlySpan<byte> raw, string what)
    {
        if (raw.Length % 8 != 0)
        {
            throw new WireFormatException("invalid " + what, $"{raw.Length} bytes is not a whole number of pairs");
        }
        var pairs = new List<(uint, uint)>(raw.Length / 8);
        for (var i = 0; i < raw.Length; i += 8)
        {
            pairs.Add((BinaryPrimitives.ReadUInt32BigEndian(raw[i..]), BinaryPrimitives.ReadUInt32BigEndian(raw[(i + 4)..])));
        }
        return pairs;
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChainHash(ChainHash).WriteUInt32(FirstBlocknum).WriteUInt32(NumberOfBlocks).WriteByte(SyncComplete)
            .WriteU16Prefixed(GossipArrayEncoding.WriteShortChannelIds(ShortChannelIds));
        byte[]? timestamps = null;
        if (Timestamps is not null)
        {
            var w = new WireWriter(1 + (Timestamps.Count * 8)).WriteByte(GossipArrayEncoding.Uncompressed);
            foreach (var t in Timestamps)
            {
                w.WriteUInt32(t.NodeId1).WriteUInt32(t.NodeId2);
            }
            timestamps = w.ToArray();
        }
        byte[]? checksums = null;
        if (Checksums is not null)
        {
            var w = new WireWriter(1 + (Checksums.Count * 8));
            foreach (var c in Checksums)
            {
                w.WriteUInt32(c.NodeId1).WriteUInt32(c.NodeId2);
            }
            checksums = w.ToArray();
        }
        new TlvBuilder(UnknownTlvs).Add(TimestampsType, timestamps).Add(ChecksumsType, checksums).WriteTo(writer);
    }
}

/// <summary>BOLT 7 <c>gossip_timestamp_filter</c> (265).</summary>
/// <param name="ChainHash">The chain.</param>
/// <param name="FirstTimestamp">Start of the window.</param>
/// <param name="TimestampRange">Length of the window in seconds.</param>
public sealed record GossipTimestampFilter(ChainHash ChainHash, uint FirstTimestamp, uint TimestampRange) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.GossipTimestampFilter;

    internal static GossipTimestampFilter Read(ref WireReader reader) =>
        new GossipTimestampFilter(reader.ReadChainHash(), reader.ReadUInt32(), reader.ReadUInt32()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChainHash(ChainHash).WriteUInt32(FirstTimestamp).WriteUInt32(TimestampRange);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}
