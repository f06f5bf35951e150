using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Types;

/// <summary>
/// BOLT 1 <c>sciddir_or_pubkey</c>: either a 33-byte node id or a short channel id with a direction bit (9 bytes,
/// first byte 0 or 1: the channel's node_1 or node_2 end), naming the introduction node of a blinded path compactly.
/// </summary>
public readonly record struct SciddirOrPubkey
{
    private SciddirOrPubkey(NodeId? nodeId, ShortChannelId? scid, byte direction)
    {
        NodeId = nodeId;
        ShortChannelId = scid;
        Direction = direction;
    }

    /// <summary>The node id, when this is the pubkey form.</summary>
    public NodeId? NodeId { get; }

    /// <summary>The channel, when this is the short-channel-id form.</summary>
    public ShortChannelId? ShortChannelId { get; }

    /// <summary>The direction (0 or 1) in the short-channel-id form: which end of the channel is meant.</summary>
    public byte Direction { get; }

    /// <summary>The pubkey form.</summary>
    public static SciddirOrPubkey FromNodeId(NodeId nodeId) => new(nodeId, null, 0);

    /// <summary>The short-channel-id form.</summary>
    /// <exception cref="ArgumentOutOfRangeException">When the direction is not 0 or 1.</exception>
    public static SciddirOrPubkey FromShortChannelId(ShortChannelId scid, byte direction)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(direction, (byte)1);
        return new SciddirOrPubkey(null, scid, direction);
    }

    /// <summary>Reads either form.</summary>
    /// <exception cref="WireFormatException">On truncation, an unknown leading byte or an invalid point.</exception>
    public static SciddirOrPubkey Read(ref WireReader reader)
    {
        var first = reader.RemainingSpan.IsEmpty ? throw new WireFormatException("unexpected EOF", "sciddir_or_pubkey") : reader.RemainingSpan[0];
        switch (first)
        {
            case 0 or 1:
                var direction = reader.ReadByte();
                return FromShortChannelId(new ShortChannelId(reader.ReadUInt64()), direction);
            case 2 or 3:
                return FromNodeId(BlindedPath.ReadPoint(ref reader, "sciddir_or_pubkey"));
            default:
                throw new WireFormatException("invalid sciddir_or_pubkey", $"leading byte {first}");
        }
    }

    /// <summary>Writes the form held.</summary>
    public void WriteTo(WireWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (NodeId is { } id)
        {
            writer.WriteBytes(id.Span);
        }
        else
        {
            writer.WriteByte(Direction).WriteUInt64(ShortChannelId.GetValueOrDefault().Value);
        }
    }

    /// <inheritdoc />
    public override string ToString() => NodeId is { } id ? id.ToString() : $"{ShortChannelId}/{Direction}";
}

/// <summary>
/// One hop of a BOLT 4/12 blinded path (<c>blinded_path_hop</c>, also <c>onionmsg_hop</c>): the blinded node id the
/// onion layer is encrypted to and its <c>encrypted_recipient_data</c> (ChaCha20-Poly1305 ciphertext and tag).
/// </summary>
public sealed class BlindedHop
{
    private readonly byte[] _encryptedRecipientData;

    /// <summary>Creates a hop.</summary>
    /// <exception cref="ArgumentException">When the data exceeds 65535 bytes.</exception>
    public BlindedHop(NodeId blindedNodeId, ReadOnlySpan<byte> encryptedRecipientData)
    {
        if (encryptedRecipientData.Length > ushort.MaxValue)
        {
            throw new ArgumentException("Encrypted data is limited to 65535 bytes.", nameof(encryptedRecipientData));
        }
        BlindedNodeId = blindedNodeId;
        _encryptedRecipientData = encryptedRecipientData.ToArray();
    }

    /// <summary>The blinded node id of this hop.</summary>
    public NodeId BlindedNodeId { get; }

    /// <summary>The <c>encrypted_recipient_data</c> for this hop.</summary>
    public ReadOnlySpan<byte> EncryptedRecipientData => _encryptedRecipientData;
}

/// <summary>
/// The BOLT 4/12 <c>blinded_path</c> wire type, used by offers, invoices, onion message reply paths and blinded
/// payments: <c>first_node_id</c> (sciddir_or_pubkey), <c>first_path_key</c>, <c>num_hops</c> and the hops (the
/// introduction node's own blinded hop first). A path always has 1 to 255 hops.
/// </summary>
public sealed class BlindedPath
{
    /// <summary>Creates a path.</summary>
    /// <exception cref="ArgumentException">When there are no hops or more than 255.</exception>
    public BlindedPath(SciddirOrPubkey firstNodeId, NodeId firstPathKey, IReadOnlyList<BlindedHop> hops)
    {
        ArgumentNullException.ThrowIfNull(hops);
        if (hops.Count is 0 or > 255)
        {
            throw new ArgumentException("A blinded path has 1 to 255 hops.", nameof(hops));
        }
        FirstNodeId = firstNodeId;
        FirstPathKey = firstPathKey;
        Hops = [.. hops];
    }

    /// <summary>The introduction node.</summary>
    public SciddirOrPubkey FirstNodeId { get; }

    /// <summary>The path key (blinding point) for the first hop.</summary>
    public NodeId FirstPathKey { get; }

    /// <summary>The hops; the last one's blinded node id is the destination.</summary>
    public IReadOnlyList<BlindedHop> Hops { get; }

    /// <summary>Reads one path.</summary>
    /// <exception cref="WireFormatException">On truncation, zero hops or an invalid point.</exception>
    public static BlindedPath Read(ref WireReader reader)
    {
        var first = SciddirOrPubkey.Read(ref reader);
        var pathKey = ReadPoint(ref reader, "first_path_key");
        var count = reader.ReadByte();
        if (count == 0)
        {
            throw new WireFormatException("zero num_hops in blinded_path");
        }
        var hops = new List<BlindedHop>(count);
        for (var i = 0; i < count; i++)
        {
            var id = ReadPoint(ref reader, "blinded_node_id");
            var length = reader.ReadUInt16();
            hops.Add(new BlindedHop(id, reader.ReadSpan(length)));
        }
        return new BlindedPath(first, pathKey, hops);
    }

    /// <summary>Reads paths until the input ends (the <c>...*blinded_path</c> of a TLV value).</summary>
    public static IReadOnlyList<BlindedPath> ReadAll(ReadOnlySpan<byte> data)
    {
        var reader = new WireReader(data);
        var paths = new List<BlindedPath>();
        while (!reader.IsEnd)
        {
            paths.Add(Read(ref reader));
        }
        return paths;
    }

    /// <summary>Parses exactly one path.</summary>
    /// <exception cref="WireFormatException">When malformed or followed by extra bytes.</exception>
    public static BlindedPath Parse(ReadOnlySpan<byte> bytes)
    {
        var reader = new WireReader(bytes);
        var path = Read(ref reader);
        reader.EnsureEnd("blinded_path");
        return path;
    }

    /// <summary>Writes the path.</summary>
    public void WriteTo(WireWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        FirstNodeId.WriteTo(writer);
        writer.WriteBytes(FirstPathKey.Span).WriteByte((byte)Hops.Count);
        foreach (var hop in Hops)
        {
            writer.WriteBytes(hop.BlindedNodeId.Span).WriteUInt16((ushort)hop.EncryptedRecipientData.Length).WriteBytes(hop.EncryptedRecipientData);
        }
    }

    /// <summary>Serializes the path into a new array.</summary>
    public byte[] ToBytes()
    {
        var writer = new WireWriter();
        WriteTo(writer);
        return writer.ToArray();
    }

    internal static NodeId ReadPoint(ref WireReader reader, string what) => NodeId.FromWire(reader.ReadSpan(NodeId.Length), what);
}
