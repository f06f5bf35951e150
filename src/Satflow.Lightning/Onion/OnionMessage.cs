using NBitcoin.Secp256k1;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Onion;

/// <summary>
/// The <c>onionmsg_tlv</c> payload of an onion message hop. The BOLT 12 bodies (<c>invoice_request</c>,
/// <c>invoice</c>, <c>invoice_error</c>) are carried as raw TLV bytes; unknown odd records are kept.
/// </summary>
public sealed class OnionMessagePayload
{
    /// <summary>TLV type of <c>reply_path</c>.</summary>
    public const ulong ReplyPathType = 2;

    /// <summary>TLV type of <c>encrypted_recipient_data</c>.</summary>
    public const ulong EncryptedRecipientDataType = 4;

    /// <summary>TLV type of <c>invoice_request</c>.</summary>
    public const ulong InvoiceRequestType = 64;

    /// <summary>TLV type of <c>invoice</c>.</summary>
    public const ulong InvoiceType = 66;

    /// <summary>TLV type of <c>invoice_error</c>.</summary>
    public const ulong InvoiceErrorType = 68;

    /// <summary><c>reply_path</c>.</summary>
    public BlindedPath? ReplyPath { get; init; }

    /// <summary><c>encrypted_recipient_data</c>.</summary>
    public ReadOnlyMemory<byte>? EncryptedRecipientData { get; init; }

    /// <summary><c>invoice_request</c> TLV bytes.</summary>
    public ReadOnlyMemory<byte>? InvoiceRequest { get; init; }

    /// <summary><c>invoice</c> TLV bytes.</summary>
    public ReadOnlyMemory<byte>? Invoice { get; init; }

    /// <summary><c>invoice_error</c> TLV bytes.</summary>
    public ReadOnlyMemory<byte>? InvoiceError { get; init; }

    /// <summary>Unknown odd records, kept as received.</summary>
    public IReadOnlyList<TlvRecord> UnknownRecords { get; init; } = [];

    /// <summary>Serializes the stream.</summary>
    public byte[] Encode()
    {
        var records = new List<TlvRecord>(UnknownRecords);
        if (ReplyPath is not null)
        {
            records.Add(new TlvRecord(ReplyPathType, ReplyPath.ToBytes()));
        }
        Add(records, EncryptedRecipientDataType, EncryptedRecipientData);
        Add(records, InvoiceRequestType, InvoiceRequest);
        Add(records, InvoiceType, Invoice);
        Add(records, InvoiceErrorType, InvoiceError);
        return new TlvStream(records).ToBytes();
    }

    /// <summary>Parses an <c>onionmsg_tlv</c>.</summary>
    /// <exception cref="WireFormatException">When the stream or the reply path is malformed, or an unknown even type appears.</exception>
    public static OnionMessagePayload Decode(ReadOnlySpan<byte> bytes)
    {
        var stream = TlvStream.Parse(bytes, static t => t is ReplyPathType or EncryptedRecipientDataType or InvoiceRequestType or InvoiceType or InvoiceErrorType);
        BlindedPath? replyPath = null;
        var unknown = new List<TlvRecord>();
        foreach (var record in stream.Records)
        {
            if (record.Type == ReplyPathType)
            {
                replyPath = BlindedPath.Parse(record.Value.Span);
            }
            else if (record.Type is not (EncryptedRecipientDataType or InvoiceRequestType or InvoiceType or InvoiceErrorType))
            {
                unknown.Add(record);
            }
        }
        return new OnionMessagePayload
        {
            ReplyPath = replyPath,
            EncryptedRecipientData = stream.Get(EncryptedRecipientDataType),
            InvoiceRequest = stream.Get(InvoiceRequestType),
            Invoice = stream.Get(InvoiceType),
            InvoiceError = stream.Get(InvoiceErrorType),
            UnknownRecords = unknown,
        };
    }

    private static void Add(List<TlvRecord> records, ulong type, ReadOnlyMemory<byte>? value)
    {
        if (value is { } bytes)
        {
            records.Add(new TlvRecord(type, bytes));
        }
    }
}

/// <summary>What a node learns from an onion message addressed through it.</summary>
/// <param name="Payload">The <c>onionmsg_tlv</c> of this hop.</param>
/// <param name="RecipientData">The decrypted <c>encrypted_recipient_data</c> and the next path key.</param>
/// <param name="NextMessage">The message to forward, or null when this node is the final recipient.</param>
public sealed record ReceivedOnionMessage(OnionMessagePayload Payload, DecryptedRecipientData RecipientData, OnionMessage? NextMessage)
{
    /// <summary>True when this node is the final recipient.</summary>
    public bool IsFinal => NextMessage is null;

    /// <summary>The next node id (from <c>next_node_id</c>), when forwarding.</summary>
    public NodeId? NextNodeId => RecipientData.Data.NextNodeId;

    /// <summary>The next channel (from <c>short_channel_id</c>), when forwarding by channel.</summary>
    public ShortChannelId? NextShortChannelId => RecipientData.Data.ShortChannelId;
}

/// <summary>
/// The BOLT 4 <c>onion_message</c> (type 513): a path key and an onion whose hop payloads are <c>onionmsg_tlv</c>
/// streams, always routed along blinded hops, with no associated data.
/// </summary>
/// <param name="PathKey">The path key of the receiving hop.</param>
/// <param name="Packet">The onion packet.</param>
public sealed record OnionMessage(ECPubKey PathKey, OnionPacket Packet)
{
    /// <summary>The message type.</summary>
    public const ushort MessageType = 513;

    /// <summary>Serializes the message including its 2-byte type.</summary>
    public byte[] Encode()
    {
        var packet = Packet.ToBytes();
        return new WireWriter(packet.Length + 40)
            .WriteUInt16(MessageType)
            .WriteBytes(SphinxCrypto.Compress(PathKey))
            .WriteUInt16((ushort)packet.Length)
            .WriteBytes(packet)
            .ToArray();
    }

    /// <summary>Parses a message including its 2-byte type. Trailing bytes (an extension TLV stream) are ignored.</summary>
    /// <exception cref="WireFormatException">When the type, path key or length is wrong.</exception>
    public static OnionMessage Decode(ReadOnlySpan<byte> bytes)
    {
        var reader = new WireReader(bytes);
        var type = reader.ReadUInt16();
        if (type != MessageType)
        {
            throw new WireFormatException("not an onion_message", $"type {type}");
        }
        var pathKey = SphinxCrypto.ParsePoint(reader.ReadSpan(33), "path_key");
        var length = reader.ReadUInt16();
        return new OnionMessage(pathKey, OnionPacket.Parse(reader.ReadSpan(length)));
    }

    private static OnionException Ignored(string why) => new(FailureCode.InvalidOnionPayload, "onion message ignored: " + why);

    /// <summary>
    /// Builds an onion message along blinded hops. The hop payloads field is 1300 bytes when everything fits,
    /// otherwise 32768 (the two sizes the specification recommends).
    /// </summary>
    /// <param name="sessionKey">A fresh random session key.</param>
    /// <param name="firstPathKey">The path key of the first hop.</param>
    /// <param name="hops">Each hop's blinded node id and <c>onionmsg_tlv</c> bytes.</param>
    /// <exception cref="ArgumentException">When the payloads do not fit even the large size.</exception>
    public static OnionMessage Create(ECPrivKey sessionKey, ECPubKey firstPathKey, IReadOnlyList<OnionHop> hops)
    {
        ArgumentNullException.ThrowIfNull(hops);
        var total = hops.Sum(h => BigSize.EncodedLength((ulong)h.Payload.Length) + h.Payload.Length + 32);
        var size = total <= OnionPacket.PaymentPayloadsLength ? OnionPacket.PaymentPayloadsLength : OnionPacket.LargeMessagePayloadsLength;
        var construction = OnionPacket.Create(sessionKey, hops, [], size);
        return new OnionMessage(firstPathKey, construction.Packet);
    }

    /// <summary>
    /// Processes a received onion message: unblinds the onion with <see cref="PathKey"/>, parses the payload,
    /// decrypts <c>encrypted_recipient_data</c> and prepares the message for the next hop.
    /// </summary>
    /// <remarks>
    /// Applies the reader rules: a forwarding hop's payload holds only <c>encrypted_recipient_data</c>, its data has
    /// no <c>path_id</c> and names the next peer; the final payload holds at most one BOLT 12 body; no
    /// <c>allowed_features</c> bit is set. Onion messages return no errors: a thrown exception means "ignore".
    /// </remarks>
    /// <exception cref="OnionException">When the onion or the recipient data does not decrypt or parse, or a reader rule says to ignore the message.</exception>
    /// <exception cref="WireFormatException">When the payload is malformed.</exception>
    public ReceivedOnionMessage Receive(ECPrivKey nodeKey)
    {
        var peeled = Packet.PeelCore(nodeKey, [], PathKey, minimumPayloadLength: 0);
        var payload = OnionMessagePayload.Decode(peeled.Payload.Span);
        if (payload.EncryptedRecipientData is not { } encrypted)
        {
            throw new OnionException(FailureCode.InvalidOnionBlinding, "onion message hop without encrypted_recipient_data");
        }
        var recipientData = RouteBlinding.Decrypt(nodeKey, PathKey, encrypted.Span);
        var data = recipientData.Data;
        if (data.AllowedFeatures is { IsEmpty: false })
        {
            // No onion message feature is defined, so any bit is unknown.
            throw Ignored("allowed_features names a feature this node does not know");
        }
        if (peeled.NextPacket is null)
        {
            var bodies = (payload.InvoiceRequest is null ? 0 : 1) + (payload.Invoice is null ? 0 : 1) + (payload.InvoiceError is null ? 0 : 1);
            if (bodies > 1)
            {
                throw Ignored("more than one payload field for the final node");
            }
            return new ReceivedOnionMessage(payload, recipientData, null);
        }
        if (payload.ReplyPath is not null || payload.InvoiceRequest is not null || payload.Invoice is not null || payload.InvoiceError is not null
            || payload.UnknownRecords.Count > 0)
        {
            throw Ignored("a forwarding hop's onionmsg_tlv holds more than encrypted_recipient_data");
        }
        if (data.PathId is not null)
        {
            throw Ignored("path_id at a forwarding hop");
        }
        if (data.NextNodeId is null && data.ShortChannelId is null)
        {
            throw Ignored("no next_node_id or short_channel_id at a forwarding hop");
        }
        return new ReceivedOnionMessage(payload, recipientData, new OnionMessage(recipientData.NextPathKey, peeled.NextPacket));
    }
}
