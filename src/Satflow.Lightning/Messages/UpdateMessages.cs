using System.Buffers.Binary;
using NBitcoin;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Messages;

/// <summary>
/// The <c>attribution_data</c> TLV of <c>update_fulfill_htlc</c>/<c>update_fail_htlc</c>: 20 hold times (<c>u32</c>)
/// and 210 truncated 4-byte HMACs.
/// </summary>
public sealed record AttributionData
{
    /// <summary>Number of hold times.</summary>
    public const int HoldTimeCount = 20;

    /// <summary>Length of the truncated HMAC block (210 × 4).</summary>
    public const int HmacsLength = 840;

    /// <summary>Encoded length.</summary>
    public const int Length = (HoldTimeCount * 4) + HmacsLength;

    /// <summary>Creates the record.</summary>
    /// <exception cref="ArgumentException">When the counts are wrong.</exception>
    public AttributionData(IReadOnlyList<uint> htlcHoldTimes, ReadOnlyMemory<byte> truncatedHmacs)
    {
        ArgumentNullException.ThrowIfNull(htlcHoldTimes);
        if (htlcHoldTimes.Count != HoldTimeCount || truncatedHmacs.Length != HmacsLength)
        {
            throw new ArgumentException($"Attribution data holds {HoldTimeCount} hold times and {HmacsLength} HMAC bytes.");
        }
        HtlcHoldTimes = htlcHoldTimes;
        TruncatedHmacs = truncatedHmacs;
    }

    /// <summary>The 20 hold times.</summary>
    public IReadOnlyList<uint> HtlcHoldTimes { get; }

    /// <summary>The 840 bytes of truncated HMACs.</summary>
    public ReadOnlyMemory<byte> TruncatedHmacs { get; }

    /// <summary>Reads the 920-byte wire form (hold times, then HMACs).</summary>
    /// <param name="bytes">The bytes.</param>
    /// <exception cref="ArgumentException">When the length is not <see cref="Length"/>.</exception>
    public static AttributionData FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"Attribution data is {Length} bytes.", nameof(bytes));
        }
        var times = new uint[HoldTimeCount];
        for (var i = 0; i < HoldTimeCount; i++)
        {
            times[i] = BinaryPrimitives.ReadUInt32BigEndian(bytes[(i * 4)..]);
        }
        return new AttributionData(times, bytes[(HoldTimeCount * 4)..].ToArray());
    }

    /// <summary>The 920-byte wire form (hold times, then HMACs).</summary>
    public byte[] Encode() => ToBytes();

    internal static AttributionData? Read(ParsedTlvs tlvs, ulong type)
    {
        if (tlvs.Fixed(type, Length) is not { } value)
        {
            return null;
        }
        var times = new uint[HoldTimeCount];
        for (var i = 0; i < HoldTimeCount; i++)
        {
            times[i] = BinaryPrimitives.ReadUInt32BigEndian(value.Span[(i * 4)..]);
        }
        return new AttributionData(times, value[(HoldTimeCount * 4)..]);
    }

    internal byte[] ToBytes()
    {
        var writer = new WireWriter(Length);
        foreach (var time in HtlcHoldTimes)
        {
            writer.WriteUInt32(time);
        }
        return writer.WriteBytes(TruncatedHmacs.Span).ToArray();
    }
}

/// <summary>BOLT 2 <c>update_add_htlc</c> (128).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Id">The HTLC id.</param>
/// <param name="AmountMsat">The HTLC amount.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="CltvExpiry">The absolute expiry height.</param>
/// <param name="OnionRoutingPacket">The 1366-byte BOLT 4 onion.</param>
public sealed record UpdateAddHtlc(ChannelId ChannelId, ulong Id, MilliSatoshi AmountMsat, PaymentHash PaymentHash, uint CltvExpiry, ReadOnlyMemory<byte> OnionRoutingPacket) : ExtensibleMessage
{
    /// <summary>Length of <see cref="OnionRoutingPacket"/>.</summary>
    public const int OnionPacketLength = 1366;

    private const ulong BlindedPathType = 0;

    private protected override int SizeHint => 2 + 32 + 8 + 8 + 32 + 4 + OnionPacketLength + 64;

    /// <summary>TLV 0 <c>blinded_path</c>: the <c>path_key</c> when the HTLC is inside a blinded route, or null.</summary>
    public Point? PathKey { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.UpdateAddHtlc;

    internal static UpdateAddHtlc Read(ref WireReader reader)
    {
        var message = new UpdateAddHtlc(
            reader.ReadChannelId(), reader.ReadUInt64(), reader.ReadMilliSatoshi(), new PaymentHash(reader.ReadBytes32()), reader.ReadUInt32(),
            reader.ReadBytes(OnionPacketLength));
        var tlvs = ParsedTlvs.Parse(ref reader, BlindedPathType);
        return message with { PathKey = tlvs.PointValue(BlindedPathType), UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        if (OnionRoutingPacket.Length != OnionPacketLength)
        {
            throw new ArgumentException($"The onion packet must be {OnionPacketLength} bytes.");
        }
        writer.WriteChannelId(ChannelId).WriteUInt64(Id).WriteUInt64(AmountMsat.Value).WriteBytes32(PaymentHash.Value).WriteUInt32(CltvExpiry)
            .WriteBytes(OnionRoutingPacket.Span);
        new TlvBuilder(UnknownTlvs).AddPoint(BlindedPathType, PathKey).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>update_fulfill_htlc</c> (130).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Id">The HTLC id.</param>
/// <param name="PaymentPreimage">The preimage.</param>
public sealed record UpdateFulfillHtlc(ChannelId ChannelId, ulong Id, PaymentPreimage PaymentPreimage) : ExtensibleMessage
{
    private const ulong AttributionDataType = 1;

    /// <summary>TLV 1 <c>attribution_data</c>, or null.</summary>
    public AttributionData? AttributionData { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.UpdateFulfillHtlc;

    internal static UpdateFulfillHtlc Read(ref WireReader reader)
    {
        var message = new UpdateFulfillHtlc(reader.ReadChannelId(), reader.ReadUInt64(), new PaymentPreimage(reader.ReadBytes32()));
        var tlvs = ParsedTlvs.Parse(ref reader, AttributionDataType);
        return message with { AttributionData = Messages.AttributionData.Read(tlvs, AttributionDataType), UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt64(Id).WriteBytes32(PaymentPreimage.Value);
        new TlvBuilder(UnknownTlvs).Add(AttributionDataType, AttributionData?.ToBytes()).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>update_fail_htlc</c> (131).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Id">The HTLC id.</param>
/// <param name="Reason">The encrypted BOLT 4 failure.</param>
public sealed record UpdateFailHtlc(ChannelId ChannelId, ulong Id, ReadOnlyMemory<byte> Reason) : ExtensibleMessage
{
    private const ulong AttributionDataType = 1;

    /// <summary>TLV 1 <c>attribution_data</c>, or null.</summary>
    public AttributionData? AttributionData { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.UpdateFailHtlc;

    internal static UpdateFailHtlc Read(ref WireReader reader)
    {
        var message = new UpdateFailHtlc(reader.ReadChannelId(), reader.ReadUInt64(), reader.ReadU16Prefixed());
        var tlvs = ParsedTlvs.Parse(ref reader, AttributionDataType);
        return message with { AttributionData = Messages.AttributionData.Read(tlvs, AttributionDataType), UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt64(Id).WriteU16Prefixed(Reason.Span);
        new TlvBuilder(UnknownTlvs).Add(AttributionDataType, AttributionData?.ToBytes()).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>update_fail_malformed_htlc</c> (135).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Id">The HTLC id.</param>
/// <param name="Sha256OfOnion">SHA256 of the onion that could not be parsed.</param>
/// <param name="FailureCode">The BOLT 4 failure code (BADONION bit set).</param>
public sealed record UpdateFailMalformedHtlc(ChannelId ChannelId, ulong Id, Bytes32 Sha256OfOnion, ushort FailureCode) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.UpdateFailMalformedHtlc;

    internal static UpdateFailMalformedHtlc Read(ref WireReader reader) =>
        new UpdateFailMalformedHtlc(reader.ReadChannelId(), reader.ReadUInt64(), reader.ReadBytes32(), reader.ReadUInt16())
        {
            UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown(),
        };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt64(Id).WriteBytes32(Sha256OfOnion).WriteUInt16(FailureCode);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>start_batch</c> (127): announces a batch of messages (e.g. one <c>commitment_signed</c> per splice).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="BatchSize">Number of messages in the batch.</param>
public sealed record StartBatch(ChannelId ChannelId, ushort BatchSize) : ExtensibleMessage
{
    private const ulong MessageTypeType = 1;

    /// <summary>TLV 1 <c>message_type</c>: the type of the batched messages, or null.</summary>
    public ushort? BatchedMessageType { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.StartBatch;

    internal static StartBatch Read(ref WireReader reader)
    {
        var message = new StartBatch(reader.ReadChannelId(), reader.ReadUInt16());
        var tlvs = ParsedTlvs.Parse(ref reader, MessageTypeType);
        return message with { BatchedMessageType = tlvs.UInt16Value(MessageTypeType), UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt16(BatchSize);
        new TlvBuilder(UnknownTlvs).AddUInt16(MessageTypeType, BatchedMessageType).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>commitment_signed</c> (132).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Signature">Signature of the peer's new commitment transaction.</param>
/// <param name="HtlcSignatures">One signature per HTLC output, in output order.</param>
public sealed record CommitmentSigned(ChannelId ChannelId, Signature64 Signature, IReadOnlyList<Signature64> HtlcSignatures) : ExtensibleMessage
{
    private const ulong FundingTxidType = 1;

    /// <summary>TLV 1 <c>funding_txid</c>: which funding transaction this signs for (splices), or null.</summary>
    public uint256? FundingTxid { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.CommitmentSigned;

    internal static CommitmentSigned Read(ref WireReader reader)
    {
        var id = reader.ReadChannelId();
        var signature = reader.ReadSignature();
        var count = reader.ReadUInt16();
        if (count * Signature64.Length > reader.Remaining)
        {
            throw new WireFormatException("unexpected EOF", $"{count} HTLC signatures, {reader.Remaining} bytes left");
        }
        var htlcSignatures = new Signature64[count];
        for (var i = 0; i < count; i++)
        {
            htlcSignatures[i] = reader.ReadSignature();
        }
        var tlvs = ParsedTlvs.Parse(ref reader, FundingTxidType);
        return new CommitmentSigned(id, signature, htlcSignatures) { FundingTxid = tlvs.TxidValue(FundingTxidType), UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        if (HtlcSignatures.Count > ushort.MaxValue)
        {
            throw new ArgumentException("Too many HTLC signatures for a u16 count.");
        }
        writer.WriteChannelId(ChannelId).WriteSignature(Signature).WriteUInt16((ushort)HtlcSignatures.Count);
        foreach (var s in HtlcSignatures)
        {
            writer.WriteSignature(s);
        }
        new TlvBuilder(UnknownTlvs).AddTxid(FundingTxidType, FundingTxid).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>revoke_and_ack</c> (133).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="PerCommitmentSecret">The secret revoking the previous commitment.</param>
/// <param name="NextPerCommitmentPoint">The point for the commitment after next.</param>
public sealed record RevokeAndAck(ChannelId ChannelId, Bytes32 PerCommitmentSecret, Point NextPerCommitmentPoint) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.RevokeAndAck;

    internal static RevokeAndAck Read(ref WireReader reader) =>
        new RevokeAndAck(reader.ReadChannelId(), reader.ReadBytes32(), reader.ReadPoint()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteBytes32(PerCommitmentSecret).WritePoint(NextPerCommitmentPoint);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }

    /// <summary>The secret is sensitive until the commitment is revoked; it is not printed.</summary>
    public override string ToString() => $"RevokeAndAck {{ ChannelId = {ChannelId}, NextPerCommitmentPoint = {NextPerCommitmentPoint} }}";
}

/// <summary>BOLT 2 <c>update_fee</c> (134).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="FeeratePerKw">The new commitment feerate (sat per 1000 weight).</param>
public sealed record UpdateFee(ChannelId ChannelId, uint FeeratePerKw) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.UpdateFee;

    internal static UpdateFee Read(ref WireReader reader) =>
        new UpdateFee(reader.ReadChannelId(), reader.ReadUInt32()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt32(FeeratePerKw);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>A funding txid with retransmission flags, as in <c>channel_reestablish</c>'s TLVs.</summary>
/// <param name="Txid">The funding (or splice) transaction id.</param>
/// <param name="RetransmitFlags">Bit 0: retransmit <c>commitment_signed</c> / <c>announcement_signatures</c>.</param>
public sealed record FundingTxidWithFlags(uint256 Txid, byte RetransmitFlags)
{
    internal static FundingTxidWithFlags? Read(ParsedTlvs tlvs, ulong type)
    {
        if (tlvs.Fixed(type, 33) is not { } v)
        {
            return null;
        }
        return new FundingTxidWithFlags(new uint256(v.Span[..32]), v.Span[32]);
    }

    internal byte[] ToBytes()
    {
        var bytes = new byte[33];
        Txid.ToBytes(bytes.AsSpan(0, 32));
        bytes[32] = RetransmitFlags;
        return bytes;
    }
}

/// <summary>BOLT 2 <c>channel_reestablish</c> (136).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="NextCommitmentNumber">The next commitment number the sender expects to receive.</param>
/// <param name="NextRevocationNumber">The next revocation number the sender expects to receive.</param>
/// <param name="YourLastPerCommitmentSecret">The last per-commitment secret received from the peer (all zero if none).</param>
/// <param name="MyCurrentPerCommitmentPoint">The sender's current per-commitment point.</param>
public sealed record ChannelReestablish(
    ChannelId ChannelId,
    ulong NextCommitmentNumber,
    ulong NextRevocationNumber,
    Bytes32 YourLastPerCommitmentSecret,
    Point MyCurrentPerCommitmentPoint) : ExtensibleMessage
{
    private const ulong NextFundingType = 1;
    private const ulong MyCurrentFundingLockedType = 5;

    /// <summary>TLV 1 <c>next_funding</c>: an interactive transaction still being signed, or null.</summary>
    public FundingTxidWithFlags? NextFunding { get; init; }

    /// <summary>TLV 5 <c>my_current_funding_locked</c>: the latest funding the sender considers locked, or null.</summary>
    public FundingTxidWithFlags? MyCurrentFundingLocked { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.ChannelReestablish;

    internal static ChannelReestablish Read(ref WireReader reader)
    {
        var message = new ChannelReestablish(reader.ReadChannelId(), reader.ReadUInt64(), reader.ReadUInt64(), reader.ReadBytes32(), reader.ReadPoint());
        var tlvs = ParsedTlvs.Parse(ref reader, NextFundingType, MyCurrentFundingLockedType);
        return message with
        {
            NextFunding = FundingTxidWithFlags.Read(tlvs, NextFundingType),
            MyCurrentFundingLocked = FundingTxidWithFlags.Read(tlvs, MyCurrentFundingLockedType),
            UnknownTlvs = tlvs.Unknown(),
        };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt64(NextCommitmentNumber).WriteUInt64(NextRevocationNumber)
            .WriteBytes32(YourLastPerCommitmentSecret).WritePoint(MyCurrentPerCommitmentPoint);
        new TlvBuilder(UnknownTlvs).Add(NextFundingType, NextFunding?.ToBytes()).Add(MyCurrentFundingLockedType, MyCurrentFundingLocked?.ToBytes()).WriteTo(writer);
    }
}
