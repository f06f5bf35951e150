using System.Globalization;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Messages;

/// <summary>
/// A BOLT 1 Lightning message: a big-endian <c>u16</c> type, the type's payload and an optional TLV extension.
/// <see cref="Decode(ReadOnlySpan{byte})"/> returns a typed record for every known message type, an
/// <see cref="UnknownMessage"/> for unknown odd types (which callers must ignore) and refuses unknown even types with
/// <see cref="UnknownEvenMessageTypeException"/>. Decoding never throws anything but <see cref="WireFormatException"/>.
/// </summary>
public abstract record LightningMessage
{
    private protected LightningMessage()
    {
    }

    /// <summary>The message type.</summary>
    public abstract ushort Type { get; }

    /// <summary>Serializes the message: type, payload and extension.</summary>
    /// <exception cref="ArgumentException">When a variable-length field does not fit its length prefix, or an unknown TLV repeats a known type.</exception>
    public byte[] Encode()
    {
        var writer = new WireWriter(SizeHint);
        WriteTo(writer);
        return writer.ToArray();
    }

    /// <summary>A guess of the encoded size, to size the encode buffer.</summary>
    private protected virtual int SizeHint => 256;

    /// <summary>Serializes the message into <paramref name="writer"/>.</summary>
    public void WriteTo(WireWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteUInt16(Type);
        WritePayload(writer);
    }

    internal abstract void WritePayload(WireWriter writer);

    /// <summary>Decodes one message with the default (strict, current-spec) options.</summary>
    /// <exception cref="WireFormatException">On any malformed input; <see cref="UnknownEvenMessageTypeException"/> for unknown even types.</exception>
    public static LightningMessage Decode(ReadOnlySpan<byte> bytes) => Decode(bytes, MessageDecodeOptions.Default);

    /// <summary>Decodes one message.</summary>
    /// <exception cref="WireFormatException">On any malformed input; <see cref="UnknownEvenMessageTypeException"/> for unknown even types.</exception>
    public static LightningMessage Decode(ReadOnlySpan<byte> bytes, MessageDecodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var reader = new WireReader(bytes);
        var type = reader.ReadUInt16();
        return type switch
        {
            MessageTypes.Warning => Warning.Read(ref reader),
            MessageTypes.Stfu => Stfu.Read(ref reader),
            MessageTypes.PeerStorage => PeerStorage.Read(ref reader),
            MessageTypes.PeerStorageRetrieval => PeerStorageRetrieval.Read(ref reader),
            MessageTypes.Init => Init.Read(ref reader),
            MessageTypes.Error => Error.Read(ref reader),
            MessageTypes.Ping => Ping.Read(ref reader),
            MessageTypes.Pong => Pong.Read(ref reader),
            MessageTypes.OpenChannel => OpenChannel.Read(ref reader),
            MessageTypes.AcceptChannel => AcceptChannel.Read(ref reader),
            MessageTypes.FundingCreated => FundingCreated.Read(ref reader),
            MessageTypes.FundingSigned => FundingSigned.Read(ref reader),
            MessageTypes.ChannelReady => ChannelReady.Read(ref reader),
            MessageTypes.Shutdown => Shutdown.Read(ref reader),
            MessageTypes.ClosingSigned => ClosingSigned.Read(ref reader),
            MessageTypes.ClosingComplete => ClosingComplete.Read(ref reader),
            MessageTypes.ClosingSig => ClosingSig.Read(ref reader),
            MessageTypes.OpenChannel2 => OpenChannel2.Read(ref reader),
            MessageTypes.AcceptChannel2 => AcceptChannel2.Read(ref reader),
            MessageTypes.TxAddInput => TxAddInput.Read(ref reader),
            MessageTypes.TxAddOutput => TxAddOutput.Read(ref reader),
            MessageTypes.TxRemoveInput => TxRemoveInput.Read(ref reader),
            MessageTypes.TxRemoveOutput => TxRemoveOutput.Read(ref reader),
            MessageTypes.TxComplete => TxComplete.Read(ref reader),
            MessageTypes.TxSignatures => TxSignatures.Read(ref reader),
            MessageTypes.TxInitRbf => TxInitRbf.Read(ref reader),
            MessageTypes.TxAckRbf => TxAckRbf.Read(ref reader),
            MessageTypes.TxAbort => TxAbort.Read(ref reader),
            MessageTypes.SpliceLocked => SpliceLocked.Read(ref reader),
            MessageTypes.SpliceInit => SpliceInit.Read(ref reader),
            MessageTypes.SpliceAck => SpliceAck.Read(ref reader),
            MessageTypes.StartBatch => StartBatch.Read(ref reader),
            MessageTypes.UpdateAddHtlc => UpdateAddHtlc.Read(ref reader),
            MessageTypes.UpdateFulfillHtlc => UpdateFulfillHtlc.Read(ref reader),
            MessageTypes.UpdateFailHtlc => UpdateFailHtlc.Read(ref reader),
            MessageTypes.CommitmentSigned => CommitmentSigned.Read(ref reader),
            MessageTypes.RevokeAndAck => RevokeAndAck.Read(ref reader),
            MessageTypes.UpdateFee => UpdateFee.Read(ref reader),
            MessageTypes.UpdateFailMalformedHtlc => UpdateFailMalformedHtlc.Read(ref reader),
            MessageTypes.ChannelReestablish => ChannelReestablish.Read(ref reader),
            MessageTypes.ChannelAnnouncement => ChannelAnnouncement.Read(ref reader),
            MessageTypes.NodeAnnouncement => NodeAnnouncement.Read(ref reader),
            MessageTypes.ChannelUpdate => ChannelUpdate.Read(ref reader),
            MessageTypes.AnnouncementSignatures => AnnouncementSignatures.Read(ref reader),
            MessageTypes.QueryShortChannelIds => QueryShortChannelIds.Read(ref reader, options),
            MessageTypes.ReplyShortChannelIdsEnd => ReplyShortChannelIdsEnd.Read(ref reader),
            MessageTypes.QueryChannelRange => QueryChannelRange.Read(ref reader),
            MessageTypes.ReplyChannelRange => ReplyChannelRange.Read(ref reader, options),
            MessageTypes.GossipTimestampFilter => GossipTimestampFilter.Read(ref reader),
            MessageTypes.OnionMessage => OnionMessageWire.Read(ref reader),
            _ when type % 2 == 1 => new UnknownMessage(type, reader.ReadToEnd().ToArray()),
            _ => throw new UnknownEvenMessageTypeException(type),
        };
    }
}

/// <summary>A message whose trailing bytes are a TLV stream: unknown odd records are kept so re-encoding is exact.</summary>
public abstract record ExtensibleMessage : LightningMessage
{
    private protected ExtensibleMessage()
    {
    }

    /// <summary>Unknown odd TLV records of the extension, in type order; written back on encode.</summary>
    public IReadOnlyList<TlvRecord> UnknownTlvs { get; init; } = [];
}

/// <summary>A message of an unknown odd type: BOLT 1 says to ignore it. The payload is kept as received.</summary>
/// <param name="MessageType">The (odd) message type.</param>
/// <param name="Payload">Everything after the type.</param>
public sealed record UnknownMessage(ushort MessageType, ReadOnlyMemory<byte> Payload) : LightningMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageType;

    internal override void WritePayload(WireWriter writer) => writer.WriteBytes(Payload.Span);
}

/// <summary>Decoding options.</summary>
public sealed record MessageDecodeOptions
{
    /// <summary>The strict, current-spec options.</summary>
    public static MessageDecodeOptions Default { get; } = new();

    /// <summary>
    /// Accept the deprecated zlib encoding (type 1) of <c>encoded_short_ids</c>, timestamps and query flags, which the
    /// current BOLT 7 says MUST NOT be used. Off by default; decompression is bounded by <see cref="MaxInflatedBytes"/>.
    /// Such messages are re-encoded uncompressed.
    /// </summary>
    public bool AllowLegacyZlib { get; init; }

    /// <summary>The largest decompressed size accepted for one zlib-encoded array (default 512 KiB).</summary>
    public int MaxInflatedBytes { get; init; } = 512 * 1024;
}

/// <summary>A message of an unknown even type: BOLT 1 requires closing the connection.</summary>
public sealed class UnknownEvenMessageTypeException : WireFormatException
{
    /// <summary>Creates the exception.</summary>
    public UnknownEvenMessageTypeException(ushort messageType)
        : base("unknown even message type", messageType.ToString(CultureInfo.InvariantCulture))
    {
        MessageType = messageType;
    }

    /// <summary>The refused message type.</summary>
    public ushort MessageType { get; }
}

/// <summary>The message type numbers of BOLT 1, 2 and 7.</summary>
public static class MessageTypes
{
    /// <summary><c>warning</c>.</summary>
    public const ushort Warning = 1;
    /// <summary><c>stfu</c>.</summary>
    public const ushort Stfu = 2;
    /// <summary><c>peer_storage</c>.</summary>
    public const ushort PeerStorage = 7;
    /// <summary><c>peer_storage_retrieval</c>.</summary>
    public const ushort PeerStorageRetrieval = 9;
    /// <summary><c>init</c>.</summary>
    public const ushort Init = 16;
    /// <summary><c>error</c>.</summary>
    public const ushort Error = 17;
    /// <summary><c>ping</c>.</summary>
    public const ushort Ping = 18;
    /// <summary><c>pong</c>.</summary>
    public const ushort Pong = 19;
    /// <summary><c>open_channel</c>.</summary>
    public const ushort OpenChannel = 32;
    /// <summary><c>accept_channel</c>.</summary>
    public const ushort AcceptChannel = 33;
    /// <summary><c>funding_created</c>.</summary>
    public const ushort FundingCreated = 34;
    /// <summary><c>funding_signed</c>.</summary>
    public const ushort FundingSigned = 35;
    /// <summary><c>channel_ready</c>.</summary>
    public const ushort ChannelReady = 36;
    /// <summary><c>shutdown</c>.</summary>
    public const ushort Shutdown = 38;
    /// <summary><c>closing_signed</c>.</summary>
    public const ushort ClosingSigned = 39;
    /// <summary><c>closing_complete</c>.</summary>
    public const ushort ClosingComplete = 40;
    /// <summary><c>closing_sig</c>.</summary>
    public const ushort ClosingSig = 41;
    /// <summary><c>open_channel2</c>.</summary>
    public const ushort OpenChannel2 = 64;
    /// <summary><c>accept_channel2</c>.</summary>
    public const ushort AcceptChannel2 = 65;
    /// <summary><c>tx_add_input</c>.</summary>
    public const ushort TxAddInput = 66;
    /// <summary><c>tx_add_output</c>.</summary>
    public const ushort TxAddOutput = 67;
    /// <summary><c>tx_remove_input</c>.</summary>
    public const ushort TxRemoveInput = 68;
    /// <summary><c>tx_remove_output</c>.</summary>
    public const ushort TxRemoveOutput = 69;
    /// <summary><c>tx_complete</c>.</summary>
    public const ushort TxComplete = 70;
    /// <summary><c>tx_signatures</c>.</summary>
    public const ushort TxSignatures = 71;
    /// <summary><c>tx_init_rbf</c>.</summary>
    public const ushort TxInitRbf = 72;
    /// <summary><c>tx_ack_rbf</c>.</summary>
    public const ushort TxAckRbf = 73;
    /// <summary><c>tx_abort</c>.</summary>
    public const ushort TxAbort = 74;
    /// <summary><c>splice_locked</c>.</summary>
    public const ushort SpliceLocked = 77;
    /// <summary><c>splice_init</c>.</summary>
    public const ushort SpliceInit = 80;
    /// <summary><c>splice_ack</c>.</summary>
    public const ushort SpliceAck = 81;
    /// <summary><c>start_batch</c>.</summary>
    public const ushort StartBatch = 127;
    /// <summary><c>update_add_htlc</c>.</summary>
    public const ushort UpdateAddHtlc = 128;
    /// <summary><c>update_fulfill_htlc</c>.</summary>
    public const ushort UpdateFulfillHtlc = 130;
    /// <summary><c>update_fail_htlc</c>.</summary>
    public const ushort UpdateFailHtlc = 131;
    /// <summary><c>commitment_signed</c>.</summary>
    public const ushort CommitmentSigned = 132;
    /// <summary><c>revoke_and_ack</c>.</summary>
    public const ushort RevokeAndAck = 133;
    /// <summary><c>update_fee</c>.</summary>
    public const ushort UpdateFee = 134;
    /// <summary><c>update_fail_malformed_htlc</c>.</summary>
    public const ushort UpdateFailMalformedHtlc = 135;
    /// <summary><c>channel_reestablish</c>.</summary>
    public const ushort ChannelReestablish = 136;
    /// <summary><c>channel_announcement</c>.</summary>
    public const ushort ChannelAnnouncement = 256;
    /// <summary><c>node_announcement</c>.</summary>
    public const ushort NodeAnnouncement = 257;
    /// <summary><c>channel_update</c>.</summary>
    public const ushort ChannelUpdate = 258;
    /// <summary><c>announcement_signatures</c>.</summary>
    public const ushort AnnouncementSignatures = 259;
    /// <summary><c>query_short_channel_ids</c>.</summary>
    public const ushort QueryShortChannelIds = 261;
    /// <summary><c>reply_short_channel_ids_end</c>.</summary>
    public const ushort ReplyShortChannelIdsEnd = 262;
    /// <summary><c>query_channel_range</c>.</summary>
    public const ushort QueryChannelRange = 263;
    /// <summary><c>reply_channel_range</c>.</summary>
    public const ushort ReplyChannelRange = 264;
    /// <summary><c>gossip_timestamp_filter</c>.</summary>
    public const ushort GossipTimestampFilter = 265;
    /// <summary><c>onion_message</c> (BOLT 4).</summary>
    public const ushort OnionMessage = 513;
}
