using NBitcoin;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Messages;

/// <summary>The six channel keys every opening message carries (BOLT 2/3 basepoints and the first per-commitment point).</summary>
/// <param name="FundingPubkey">The key in the 2-of-2 funding output.</param>
/// <param name="RevocationBasepoint">The revocation basepoint.</param>
/// <param name="PaymentBasepoint">The payment basepoint.</param>
/// <param name="DelayedPaymentBasepoint">The delayed payment basepoint.</param>
/// <param name="HtlcBasepoint">The HTLC basepoint.</param>
/// <param name="FirstPerCommitmentPoint">The per-commitment point of the first commitment.</param>
public sealed record ChannelKeys(
    Point FundingPubkey,
    Point RevocationBasepoint,
    Point PaymentBasepoint,
    Point DelayedPaymentBasepoint,
    Point HtlcBasepoint,
    Point FirstPerCommitmentPoint)
{
    internal static ChannelKeys Read(ref WireReader reader) =>
        new(reader.ReadPoint(), reader.ReadPoint(), reader.ReadPoint(), reader.ReadPoint(), reader.ReadPoint(), reader.ReadPoint());

    internal void WriteTo(WireWriter writer) =>
        writer.WritePoint(FundingPubkey).WritePoint(RevocationBasepoint).WritePoint(PaymentBasepoint)
            .WritePoint(DelayedPaymentBasepoint).WritePoint(HtlcBasepoint).WritePoint(FirstPerCommitmentPoint);
}

/// <summary>The TLV records shared by the opening messages (upfront shutdown script, channel type, confirmed inputs).</summary>
public abstract record OpeningMessage : ExtensibleMessage
{
    private protected const ulong UpfrontShutdownScriptType = 0;
    private protected const ulong ChannelTypeType = 1;
    private protected const ulong RequireConfirmedInputsType = 2;

    private protected OpeningMessage()
    {
    }

    /// <summary>TLV 0 <c>upfront_shutdown_script</c>, or null when absent (an empty value means "no commitment").</summary>
    public ReadOnlyMemory<byte>? UpfrontShutdownScript { get; init; }

    /// <summary>TLV 1 <c>channel_type</c>, or null when absent.</summary>
    public FeatureBits? ChannelType { get; init; }

    private protected static void ReadCommonTlvs(ParsedTlvs tlvs, out ReadOnlyMemory<byte>? script, out FeatureBits? channelType)
    {
        script = tlvs.Get(UpfrontShutdownScriptType);
        channelType = tlvs.FeaturesValue(ChannelTypeType);
    }

    private protected TlvBuilder CommonTlvs() =>
        new TlvBuilder(UnknownTlvs).Add(UpfrontShutdownScriptType, UpfrontShutdownScript).AddFeatures(ChannelTypeType, ChannelType);
}

/// <summary>BOLT 2 <c>open_channel</c> (32).</summary>
/// <param name="ChainHash">The chain.</param>
/// <param name="TemporaryChannelId">The temporary channel id.</param>
/// <param name="FundingSatoshis">The funder's amount.</param>
/// <param name="PushMsat">Amount given to the fundee.</param>
/// <param name="DustLimitSatoshis">Dust limit.</param>
/// <param name="MaxHtlcValueInFlightMsat">Cap on outstanding HTLC value offered by the peer.</param>
/// <param name="ChannelReserveSatoshis">Reserve the peer must keep.</param>
/// <param name="HtlcMinimumMsat">Smallest accepted HTLC.</param>
/// <param name="FeeratePerKw">Initial commitment feerate (sat per 1000 weight).</param>
/// <param name="ToSelfDelay">CSV delay imposed on the peer.</param>
/// <param name="MaxAcceptedHtlcs">Cap on HTLCs the peer may offer.</param>
/// <param name="Keys">The funding key, basepoints and first per-commitment point.</param>
/// <param name="ChannelFlags">Bit 0: <c>announce_channel</c>.</param>
public sealed record OpenChannel(
    ChainHash ChainHash,
    ChannelId TemporaryChannelId,
    Satoshis FundingSatoshis,
    MilliSatoshi PushMsat,
    Satoshis DustLimitSatoshis,
    MilliSatoshi MaxHtlcValueInFlightMsat,
    Satoshis ChannelReserveSatoshis,
    MilliSatoshi HtlcMinimumMsat,
    uint FeeratePerKw,
    ushort ToSelfDelay,
    ushort MaxAcceptedHtlcs,
    ChannelKeys Keys,
    byte ChannelFlags) : OpeningMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.OpenChannel;

    /// <summary>True when the opener wants the channel announced.</summary>
    public bool AnnounceChannel => (ChannelFlags & 1) != 0;

    internal static OpenChannel Read(ref WireReader reader)
    {
        var message = new OpenChannel(
            reader.ReadChainHash(), reader.ReadChannelId(), reader.ReadSatoshis(), reader.ReadMilliSatoshi(), reader.ReadSatoshis(),
            reader.ReadMilliSatoshi(), reader.ReadSatoshis(), reader.ReadMilliSatoshi(), reader.ReadUInt32(), reader.ReadUInt16(),
            reader.ReadUInt16(), ChannelKeys.Read(ref reader), reader.ReadByte());
        var tlvs = ParsedTlvs.Parse(ref reader, UpfrontShutdownScriptType, ChannelTypeType);
        ReadCommonTlvs(tlvs, out var script, out var channelType);
        return message with { UpfrontShutdownScript = script, ChannelType = channelType, UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChainHash(ChainHash).WriteChannelId(TemporaryChannelId).WriteUInt64(FundingSatoshis.Value).WriteUInt64(PushMsat.Value)
            .WriteUInt64(DustLimitSatoshis.Value).WriteUInt64(MaxHtlcValueInFlightMsat.Value).WriteUInt64(ChannelReserveSatoshis.Value)
            .WriteUInt64(HtlcMinimumMsat.Value).WriteUInt32(FeeratePerKw).WriteUInt16(ToSelfDelay).WriteUInt16(MaxAcceptedHtlcs);
        Keys.WriteTo(writer);
        writer.WriteByte(ChannelFlags);
        CommonTlvs().WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>accept_channel</c> (33).</summary>
/// <param name="TemporaryChannelId">The temporary channel id.</param>
/// <param name="DustLimitSatoshis">Dust limit.</param>
/// <param name="MaxHtlcValueInFlightMsat">Cap on outstanding HTLC value offered by the peer.</param>
/// <param name="ChannelReserveSatoshis">Reserve the peer must keep.</param>
/// <param name="HtlcMinimumMsat">Smallest accepted HTLC.</param>
/// <param name="MinimumDepth">Confirmations required before <c>channel_ready</c>.</param>
/// <param name="ToSelfDelay">CSV delay imposed on the peer.</param>
/// <param name="MaxAcceptedHtlcs">Cap on HTLCs the peer may offer.</param>
/// <param name="Keys">The funding key, basepoints and first per-commitment point.</param>
public sealed record AcceptChannel(
    ChannelId TemporaryChannelId,
    Satoshis DustLimitSatoshis,
    MilliSatoshi MaxHtlcValueInFlightMsat,
    Satoshis ChannelReserveSatoshis,
    MilliSatoshi HtlcMinimumMsat,
    uint MinimumDepth,
    ushort ToSelfDelay,
    ushort MaxAcceptedHtlcs,
    ChannelKeys Keys) : OpeningMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.AcceptChannel;

    internal static AcceptChannel Read(ref WireReader reader)
    {
        var message = new AcceptChannel(
            reader.ReadChannelId(), reader.ReadSatoshis(), reader.ReadMilliSatoshi(), reader.ReadSatoshis(), reader.ReadMilliSatoshi(),
            reader.ReadUInt32(), reader.ReadUInt16(), reader.ReadUInt16(), ChannelKeys.Read(ref reader));
        var tlvs = ParsedTlvs.Parse(ref reader, UpfrontShutdownScriptType, ChannelTypeType);
        ReadCommonTlvs(tlvs, out var script, out var channelType);
        return message with { UpfrontShutdownScript = script, ChannelType = channelType, UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(TemporaryChannelId).WriteUInt64(DustLimitSatoshis.Value).WriteUInt64(MaxHtlcValueInFlightMsat.Value)
            .WriteUInt64(ChannelReserveSatoshis.Value).WriteUInt64(HtlcMinimumMsat.Value).WriteUInt32(MinimumDepth)
            .WriteUInt16(ToSelfDelay).WriteUInt16(MaxAcceptedHtlcs);
        Keys.WriteTo(writer);
        CommonTlvs().WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>funding_created</c> (34).</summary>
/// <param name="TemporaryChannelId">The temporary channel id.</param>
/// <param name="FundingTxid">The funding transaction id.</param>
/// <param name="FundingOutputIndex">The funding output index.</param>
/// <param name="Signature">The funder's signature of the fundee's first commitment.</param>
public sealed record FundingCreated(ChannelId TemporaryChannelId, uint256 FundingTxid, ushort FundingOutputIndex, Signature64 Signature) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.FundingCreated;

    internal static FundingCreated Read(ref WireReader reader) =>
        new FundingCreated(reader.ReadChannelId(), reader.ReadTxid(), reader.ReadUInt16(), reader.ReadSignature())
        {
            UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown(),
        };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(TemporaryChannelId).WriteTxid(FundingTxid).WriteUInt16(FundingOutputIndex).WriteSignature(Signature);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>funding_signed</c> (35).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="Signature">The fundee's signature of the funder's first commitment.</param>
public sealed record FundingSigned(ChannelId ChannelId, Signature64 Signature) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.FundingSigned;

    internal static FundingSigned Read(ref WireReader reader) =>
        new FundingSigned(reader.ReadChannelId(), reader.ReadSignature()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteSignature(Signature);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>channel_ready</c> (36).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="SecondPerCommitmentPoint">The per-commitment point of the second commitment.</param>
public sealed record ChannelReady(ChannelId ChannelId, Point SecondPerCommitmentPoint) : ExtensibleMessage
{
    private const ulong AliasType = 1;

    /// <summary>TLV 1 <c>short_channel_id</c>: an alias the peer may use for routing, or null.</summary>
    public ShortChannelId? Alias { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.ChannelReady;

    internal static ChannelReady Read(ref WireReader reader)
    {
        var id = reader.ReadChannelId();
        var point = reader.ReadPoint();
        var tlvs = ParsedTlvs.Parse(ref reader, AliasType);
        return new ChannelReady(id, point) { Alias = tlvs.ShortChannelIdValue(AliasType), UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WritePoint(SecondPerCommitmentPoint);
        new TlvBuilder(UnknownTlvs).AddShortChannelId(AliasType, Alias).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>open_channel2</c> (64): dual-funded channel open.</summary>
/// <param name="ChainHash">The chain.</param>
/// <param name="TemporaryChannelId">The temporary channel id.</param>
/// <param name="FundingFeeratePerKw">Feerate of the funding transaction.</param>
/// <param name="CommitmentFeeratePerKw">Feerate of the commitment transactions.</param>
/// <param name="FundingSatoshis">The opener's contribution.</param>
/// <param name="DustLimitSatoshis">Dust limit.</param>
/// <param name="MaxHtlcValueInFlightMsat">Cap on outstanding HTLC value offered by the peer.</param>
/// <param name="HtlcMinimumMsat">Smallest accepted HTLC.</param>
/// <param name="ToSelfDelay">CSV delay imposed on the peer.</param>
/// <param name="MaxAcceptedHtlcs">Cap on HTLCs the peer may offer.</param>
/// <param name="Locktime">Locktime of the funding transaction.</param>
/// <param name="Keys">The funding key, basepoints and first per-commitment point.</param>
/// <param name="SecondPerCommitmentPoint">The per-commitment point of the second commitment.</param>
/// <param name="ChannelFlags">Bit 0: <c>announce_channel</c>.</param>
public sealed record OpenChannel2(
    ChainHash ChainHash,
    ChannelId TemporaryChannelId,
    uint FundingFeeratePerKw,
    uint CommitmentFeeratePerKw,
    Satoshis FundingSatoshis,
    Satoshis DustLimitSatoshis,
    MilliSatoshi MaxHtlcValueInFlightMsat,
    MilliSatoshi HtlcMinimumMsat,
    ushort ToSelfDelay,
    ushort MaxAcceptedHtlcs,
    uint Locktime,
    ChannelKeys Keys,
    Point SecondPerCommitmentPoint,
    byte ChannelFlags) : OpeningMessage
{
    /// <summary>TLV 2 <c>require_confirmed_inputs</c>.</summary>
    public bool RequireConfirmedInputs { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.OpenChannel2;

    internal static OpenChannel2 Read(ref WireReader reader)
    {
        var message = new OpenChannel2(
            reader.ReadChainHash(), reader.ReadChannelId(), reader.ReadUInt32(), reader.ReadUInt32(), reader.ReadSatoshis(),
            reader.ReadSatoshis(), reader.ReadMilliSatoshi(), reader.ReadMilliSatoshi(), reader.ReadUInt16(), reader.ReadUInt16(),
            reader.ReadUInt32(), ChannelKeys.Read(ref reader), reader.ReadPoint(), reader.ReadByte());
        var tlvs = ParsedTlvs.Parse(ref reader, UpfrontShutdownScriptType, ChannelTypeType, RequireConfirmedInputsType);
        ReadCommonTlvs(tlvs, out var script, out var channelType);
        return message with
        {
            UpfrontShutdownScript = script,
            ChannelType = channelType,
            RequireConfirmedInputs = tlvs.Flag(RequireConfirmedInputsType),
            UnknownTlvs = tlvs.Unknown(),
        };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChainHash(ChainHash).WriteChannelId(TemporaryChannelId).WriteUInt32(FundingFeeratePerKw).WriteUInt32(CommitmentFeeratePerKw)
            .WriteUInt64(FundingSatoshis.Value).WriteUInt64(DustLimitSatoshis.Value).WriteUInt64(MaxHtlcValueInFlightMsat.Value)
            .WriteUInt64(HtlcMinimumMsat.Value).WriteUInt16(ToSelfDelay).WriteUInt16(MaxAcceptedHtlcs).WriteUInt32(Locktime);
        Keys.WriteTo(writer);
        writer.WritePoint(SecondPerCommitmentPoint).WriteByte(ChannelFlags);
        CommonTlvs().AddFlag(RequireConfirmedInputsType, RequireConfirmedInputs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>accept_channel2</c> (65).</summary>
/// <param name="TemporaryChannelId">The temporary channel id.</param>
/// <param name="FundingSatoshis">The accepter's contribution.</param>
/// <param name="DustLimitSatoshis">Dust limit.</param>
/// <param name="MaxHtlcValueInFlightMsat">Cap on outstanding HTLC value offered by the peer.</param>
/// <param name="HtlcMinimumMsat">Smallest accepted HTLC.</param>
/// <param name="MinimumDepth">Confirmations required before <c>channel_ready</c>.</param>
/// <param name="ToSelfDelay">CSV delay imposed on the peer.</param>
/// <param name="MaxAcceptedHtlcs">Cap on HTLCs the peer may offer.</param>
/// <param name="Keys">The funding key, basepoints and first per-commitment point.</param>
/// <param name="SecondPerCommitmentPoint">The per-commitment point of the second commitment.</param>
public sealed record AcceptChannel2(
    ChannelId TemporaryChannelId,
    Satoshis FundingSatoshis,
    Satoshis DustLimitSatoshis,
    MilliSatoshi MaxHtlcValueInFlightMsat,
    MilliSatoshi HtlcMinimumMsat,
    uint MinimumDepth,
    ushort ToSelfDelay,
    ushort MaxAcceptedHtlcs,
    ChannelKeys Keys,
    Point SecondPerCommitmentPoint) : OpeningMessage
{
    /// <summary>TLV 2 <c>require_confirmed_inputs</c>.</summary>
    public bool RequireConfirmedInputs { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.AcceptChannel2;

    internal static AcceptChannel2 Read(ref WireReader reader)
    {
        var message = new AcceptChannel2(
            reader.ReadChannelId(), reader.ReadSatoshis(), reader.ReadSatoshis(), reader.ReadMilliSatoshi(), reader.ReadMilliSatoshi(),
            reader.ReadUInt32(), reader.ReadUInt16(), reader.ReadUInt16(), ChannelKeys.Read(ref reader), reader.ReadPoint());
        var tlvs = ParsedTlvs.Parse(ref reader, UpfrontShutdownScriptType, ChannelTypeType, RequireConfirmedInputsType);
        ReadCommonTlvs(tlvs, out var script, out var channelType);
        return message with
        {
            UpfrontShutdownScript = script,
            ChannelType = channelType,
            RequireConfirmedInputs = tlvs.Flag(RequireConfirmedInputsType),
            UnknownTlvs = tlvs.Unknown(),
        };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(TemporaryChannelId).WriteUInt64(FundingSatoshis.Value).WriteUInt64(DustLimitSatoshis.Value)
            .WriteUInt64(MaxHtlcValueInFlightMsat.Value).WriteUInt64(HtlcMinimumMsat.Value).WriteUInt32(MinimumDepth)
            .WriteUInt16(ToSelfDelay).WriteUInt16(MaxAcceptedHtlcs);
        Keys.WriteTo(writer);
        writer.WritePoint(SecondPerCommitmentPoint);
        CommonTlvs().AddFlag(RequireConfirmedInputsType, RequireConfirmedInputs).WriteTo(writer);
    }
}
