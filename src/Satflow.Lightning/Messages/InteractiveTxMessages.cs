using NBitcoin;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Messages;

/// <summary>BOLT 2 <c>tx_add_input</c> (66).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="SerialId">Unique input id (even from the initiator, odd from the other side).</param>
/// <param name="PrevTx">The serialized transaction holding the spent output (empty for the shared input).</param>
/// <param name="PrevTxVout">The spent output index.</param>
/// <param name="Sequence">The input's sequence number.</param>
public sealed record TxAddInput(ChannelId ChannelId, ulong SerialId, ReadOnlyMemory<byte> PrevTx, uint PrevTxVout, uint Sequence) : ExtensibleMessage
{
    private const ulong SharedInputTxidType = 0;

    /// <summary>TLV 0 <c>shared_input_txid</c>: the previous funding txid when spending the shared input.</summary>
    public uint256? SharedInputTxid { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.TxAddInput;

    internal static TxAddInput Read(ref WireReader reader)
    {
        var message = new TxAddInput(reader.ReadChannelId(), reader.ReadUInt64(), reader.ReadU16Prefixed(), reader.ReadUInt32(), reader.ReadUInt32());
        var tlvs = ParsedTlvs.Parse(ref reader, SharedInputTxidType);
        return message with { SharedInputTxid = tlvs.TxidValue(SharedInputTxidType), UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt64(SerialId).WriteU16Prefixed(PrevTx.Span).WriteUInt32(PrevTxVout).WriteUInt32(Sequence);
        new TlvBuilder(UnknownTlvs).AddTxid(SharedInputTxidType, SharedInputTxid).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>tx_add_output</c> (67).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="SerialId">Unique output id.</param>
/// <param name="Sats">The output amount.</param>
/// <param name="Script">The output scriptPubKey.</param>
public sealed record TxAddOutput(ChannelId ChannelId, ulong SerialId, Satoshis Sats, ReadOnlyMemory<byte> Script) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.TxAddOutput;

    internal static TxAddOutput Read(ref WireReader reader) =>
        new TxAddOutput(reader.ReadChannelId(), reader.ReadUInt64(), reader.ReadSatoshis(), reader.ReadU16Prefixed())
        {
            UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown(),
        };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt64(SerialId).WriteUInt64(Sats.Value).WriteU16Prefixed(Script.Span);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>tx_remove_input</c> (68).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="SerialId">The input to remove.</param>
public sealed record TxRemoveInput(ChannelId ChannelId, ulong SerialId) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.TxRemoveInput;

    internal static TxRemoveInput Read(ref WireReader reader) =>
        new TxRemoveInput(reader.ReadChannelId(), reader.ReadUInt64()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt64(SerialId);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>tx_remove_output</c> (69).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="SerialId">The output to remove.</param>
public sealed record TxRemoveOutput(ChannelId ChannelId, ulong SerialId) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.TxRemoveOutput;

    internal static TxRemoveOutput Read(ref WireReader reader) =>
        new TxRemoveOutput(reader.ReadChannelId(), reader.ReadUInt64()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt64(SerialId);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>tx_complete</c> (70).</summary>
/// <param name="ChannelId">The channel id.</param>
public sealed record TxComplete(ChannelId ChannelId) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.TxComplete;

    internal static TxComplete Read(ref WireReader reader) =>
        new TxComplete(reader.ReadChannelId()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>tx_signatures</c> (71).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Txid">The negotiated transaction id.</param>
/// <param name="Witnesses">One serialized witness (bitcoin wire format) per input the sender added, in serial id order.</param>
public sealed record TxSignatures(ChannelId ChannelId, uint256 Txid, IReadOnlyList<ReadOnlyMemory<byte>> Witnesses) : ExtensibleMessage
{
    private const ulong SharedInputSignatureType = 0;

    /// <summary>TLV 0 <c>shared_input_signature</c>, or null.</summary>
    public Signature64? SharedInputSignature { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.TxSignatures;

    internal static TxSignatures Read(ref WireReader reader)
    {
        var id = reader.ReadChannelId();
        var txid = reader.ReadTxid();
        var count = reader.ReadUInt16();
        // Each witness takes at least its 2-byte length: never allocate more entries than the input can hold.
        var witnesses = new List<ReadOnlyMemory<byte>>(Math.Min(count, reader.Remaining / 2));
        for (var i = 0; i < count; i++)
        {
            witnesses.Add(reader.ReadU16Prefixed());
        }
        var tlvs = ParsedTlvs.Parse(ref reader, SharedInputSignatureType);
        return new TxSignatures(id, txid, witnesses)
        {
            SharedInputSignature = tlvs.SignatureValue(SharedInputSignatureType),
            UnknownTlvs = tlvs.Unknown(),
        };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteTxid(Txid);
        if (Witnesses.Count > ushort.MaxValue)
        {
            throw new ArgumentException("Too many witnesses for a u16 count.");
        }
        writer.WriteUInt16((ushort)Witnesses.Count);
        foreach (var witness in Witnesses)
        {
            writer.WriteU16Prefixed(witness.Span);
        }
        new TlvBuilder(UnknownTlvs).AddSignature(SharedInputSignatureType, SharedInputSignature).WriteTo(writer);
    }
}

/// <summary>The TLVs shared by <c>tx_init_rbf</c> and <c>tx_ack_rbf</c>.</summary>
public abstract record RbfMessage : ExtensibleMessage
{
    private protected const ulong FundingOutputContributionType = 0;
    private protected const ulong RequireConfirmedInputsType = 2;

    private protected RbfMessage()
    {
    }

    /// <summary>TLV 0 <c>funding_output_contribution</c> in satoshis (signed), or null when not contributing.</summary>
    public long? FundingOutputContribution { get; init; }

    /// <summary>TLV 2 <c>require_confirmed_inputs</c>.</summary>
    public bool RequireConfirmedInputs { get; init; }

    private protected static ParsedTlvs ParseRbfTlvs(ref WireReader reader) =>
        ParsedTlvs.Parse(ref reader, FundingOutputContributionType, RequireConfirmedInputsType);

    private protected void WriteRbfTlvs(WireWriter writer) =>
        new TlvBuilder(UnknownTlvs).AddInt64(FundingOutputContributionType, FundingOutputContribution)
            .AddFlag(RequireConfirmedInputsType, RequireConfirmedInputs).WriteTo(writer);
}

/// <summary>BOLT 2 <c>tx_init_rbf</c> (72).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Locktime">Locktime of the replacement.</param>
/// <param name="Feerate">Feerate (sat per 1000 weight) of the replacement.</param>
public sealed record TxInitRbf(ChannelId ChannelId, uint Locktime, uint Feerate) : RbfMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.TxInitRbf;

    internal static TxInitRbf Read(ref WireReader reader)
    {
        var message = new TxInitRbf(reader.ReadChannelId(), reader.ReadUInt32(), reader.ReadUInt32());
        var tlvs = ParseRbfTlvs(ref reader);
        return message with
        {
            FundingOutputContribution = tlvs.Int64Value(FundingOutputContributionType),
            RequireConfirmedInputs = tlvs.Flag(RequireConfirmedInputsType),
            UnknownTlvs = tlvs.Unknown(),
        };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt32(Locktime).WriteUInt32(Feerate);
        WriteRbfTlvs(writer);
    }
}

/// <summary>BOLT 2 <c>tx_ack_rbf</c> (73).</summary>
/// <param name="ChannelId">The channel id.</param>
public sealed record TxAckRbf(ChannelId ChannelId) : RbfMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.TxAckRbf;

    internal static TxAckRbf Read(ref WireReader reader)
    {
        var message = new TxAckRbf(reader.ReadChannelId());
        var tlvs = ParseRbfTlvs(ref reader);
        return message with
        {
            FundingOutputContribution = tlvs.Int64Value(FundingOutputContributionType),
            RequireConfirmedInputs = tlvs.Flag(RequireConfirmedInputsType),
            UnknownTlvs = tlvs.Unknown(),
        };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId);
        WriteRbfTlvs(writer);
    }
}

/// <summary>BOLT 2 <c>tx_abort</c> (74).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Data">Diagnostic data.</param>
public sealed record TxAbort(ChannelId ChannelId, ReadOnlyMemory<byte> Data) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.TxAbort;

    /// <summary>The data as text when it is printable ASCII, else null.</summary>
    public string? PrintableText => TextData.Printable(Data.Span);

    internal static TxAbort Read(ref WireReader reader) =>
        new TxAbort(reader.ReadChannelId(), reader.ReadU16Prefixed()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteU16Prefixed(Data.Span);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>stfu</c> (2): quiescence request.</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Initiator">1 when the sender initiated quiescence, else 0.</param>
public sealed record Stfu(ChannelId ChannelId, byte Initiator) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.Stfu;

    internal static Stfu Read(ref WireReader reader) =>
        new Stfu(reader.ReadChannelId(), reader.ReadByte()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteByte(Initiator);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>splice_init</c> (80).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="FundingContributionSatoshis">Amount added (positive) or removed (negative) by the sender.</param>
/// <param name="FundingFeeratePerKw">Feerate of the splice transaction.</param>
/// <param name="Locktime">Locktime of the splice transaction.</param>
/// <param name="FundingPubkey">The sender's funding key for the new funding output.</param>
public sealed record SpliceInit(ChannelId ChannelId, long FundingContributionSatoshis, uint FundingFeeratePerKw, uint Locktime, Point FundingPubkey) : ExtensibleMessage
{
    private const ulong RequireConfirmedInputsType = 2;

    /// <summary>TLV 2 <c>require_confirmed_inputs</c>.</summary>
    public bool RequireConfirmedInputs { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.SpliceInit;

    internal static SpliceInit Read(ref WireReader reader)
    {
        var message = new SpliceInit(reader.ReadChannelId(), reader.ReadInt64(), reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadPoint());
        var tlvs = ParsedTlvs.Parse(ref reader, RequireConfirmedInputsType);
        return message with { RequireConfirmedInputs = tlvs.Flag(RequireConfirmedInputsType), UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteInt64(FundingContributionSatoshis).WriteUInt32(FundingFeeratePerKw).WriteUInt32(Locktime).WritePoint(FundingPubkey);
        new TlvBuilder(UnknownTlvs).AddFlag(RequireConfirmedInputsType, RequireConfirmedInputs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>splice_ack</c> (81).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="FundingContributionSatoshis">Amount added (positive) or removed (negative) by the sender.</param>
/// <param name="FundingPubkey">The sender's funding key for the new funding output.</param>
public sealed record SpliceAck(ChannelId ChannelId, long FundingContributionSatoshis, Point FundingPubkey) : ExtensibleMessage
{
    private const ulong RequireConfirmedInputsType = 2;

    /// <summary>TLV 2 <c>require_confirmed_inputs</c>.</summary>
    public bool RequireConfirmedInputs { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.SpliceAck;

    internal static SpliceAck Read(ref WireReader reader)
    {
        var message = new SpliceAck(reader.ReadChannelId(), reader.ReadInt64(), reader.ReadPoint());
        var tlvs = ParsedTlvs.Parse(ref reader, RequireConfirmedInputsType);
        return message with { RequireConfirmedInputs = tlvs.Flag(RequireConfirmedInputsType), UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteInt64(FundingContributionSatoshis).WritePoint(FundingPubkey);
        new TlvBuilder(UnknownTlvs).AddFlag(RequireConfirmedInputsType, RequireConfirmedInputs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>splice_locked</c> (77).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="SpliceTxid">The splice transaction that reached depth.</param>
public sealed record SpliceLocked(ChannelId ChannelId, uint256 SpliceTxid) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.SpliceLocked;

    internal static SpliceLocked Read(ref WireReader reader) =>
        new SpliceLocked(reader.ReadChannelId(), reader.ReadTxid()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteTxid(SpliceTxid);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}
