using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Messages;

/// <summary>BOLT 2 <c>shutdown</c> (38).</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="ScriptPubKey">Where the sender's funds go on mutual close.</param>
public sealed record Shutdown(ChannelId ChannelId, ReadOnlyMemory<byte> ScriptPubKey) : ExtensibleMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.Shutdown;

    internal static Shutdown Read(ref WireReader reader) =>
        new Shutdown(reader.ReadChannelId(), reader.ReadU16Prefixed()) { UnknownTlvs = ParsedTlvs.Parse(ref reader).Unknown() };

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteU16Prefixed(ScriptPubKey.Span);
        new TlvBuilder(UnknownTlvs).WriteTo(writer);
    }
}

/// <summary>The <c>fee_range</c> TLV of <c>closing_signed</c>.</summary>
/// <param name="MinFeeSatoshis">Lowest acceptable fee.</param>
/// <param name="MaxFeeSatoshis">Highest acceptable fee.</param>
public sealed record ClosingFeeRange(Satoshis MinFeeSatoshis, Satoshis MaxFeeSatoshis);

/// <summary>BOLT 2 <c>closing_signed</c> (39), the legacy fee negotiation.</summary>
/// <param name="ChannelId">The channel id.</param>
/// <param name="FeeSatoshis">The proposed fee.</param>
/// <param name="Signature">The sender's signature of the closing transaction.</param>
public sealed record ClosingSigned(ChannelId ChannelId, Satoshis FeeSatoshis, Signature64 Signature) : ExtensibleMessage
{
    private const ulong FeeRangeType = 1;

    /// <summary>TLV 1 <c>fee_range</c>, or null.</summary>
    public ClosingFeeRange? FeeRange { get; init; }

    /// <inheritdoc />
    public override ushort Type => MessageTypes.ClosingSigned;

    internal static ClosingSigned Read(ref WireReader reader)
    {
        var message = new ClosingSigned(reader.ReadChannelId(), reader.ReadSatoshis(), reader.ReadSignature());
        var tlvs = ParsedTlvs.Parse(ref reader, FeeRangeType);
        ClosingFeeRange? range = null;
        if (tlvs.Fixed(FeeRangeType, 16) is { } v)
        {
            var r = new WireReader(v.Span);
            range = new ClosingFeeRange(r.ReadSatoshis(), r.ReadSatoshis());
        }
        return message with { FeeRange = range, UnknownTlvs = tlvs.Unknown() };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteUInt64(FeeSatoshis.Value).WriteSignature(Signature);
        byte[]? range = null;
        if (FeeRange is not null)
        {
            range = new WireWriter(16).WriteUInt64(FeeRange.MinFeeSatoshis.Value).WriteUInt64(FeeRange.MaxFeeSatoshis.Value).ToArray();
        }
        new TlvBuilder(UnknownTlvs).Add(FeeRangeType, range).WriteTo(writer);
    }
}

/// <summary>The shape shared by <c>closing_complete</c> and <c>closing_sig</c> (option_simple_close).</summary>
public abstract record SimpleCloseMessage : ExtensibleMessage
{
    private const ulong CloserOutputOnlyType = 1;
    private const ulong CloseeOutputOnlyType = 2;
    private const ulong CloserAndCloseeOutputsType = 3;

    private protected SimpleCloseMessage()
    {
    }

    /// <summary>The channel id.</summary>
    public required ChannelId ChannelId { get; init; }

    /// <summary>The closer's output script.</summary>
    public required ReadOnlyMemory<byte> CloserScriptPubKey { get; init; }

    /// <summary>The closee's output script.</summary>
    public required ReadOnlyMemory<byte> CloseeScriptPubKey { get; init; }

    /// <summary>The fee the closer pays.</summary>
    public required Satoshis FeeSatoshis { get; init; }

    /// <summary>The closing transaction's locktime.</summary>
    public required uint Locktime { get; init; }

    /// <summary>TLV 1 <c>closer_output_only</c>: signature of the variant without the closee output.</summary>
    public Signature64? CloserOutputOnly { get; init; }

    /// <summary>TLV 2 <c>closee_output_only</c>: signature of the variant without the closer output.</summary>
    public Signature64? CloseeOutputOnly { get; init; }

    /// <summary>TLV 3 <c>closer_and_closee_outputs</c>: signature of the variant with both outputs.</summary>
    public Signature64? CloserAndCloseeOutputs { get; init; }

    private protected static T ReadInto<T>(ref WireReader reader, T empty)
        where T : SimpleCloseMessage
    {
        var withFields = empty with
        {
            ChannelId = reader.ReadChannelId(),
            CloserScriptPubKey = reader.ReadU16Prefixed(),
            CloseeScriptPubKey = reader.ReadU16Prefixed(),
            FeeSatoshis = reader.ReadSatoshis(),
            Locktime = reader.ReadUInt32(),
        };
        var tlvs = ParsedTlvs.Parse(ref reader, CloserOutputOnlyType, CloseeOutputOnlyType, CloserAndCloseeOutputsType);
        return withFields with
        {
            CloserOutputOnly = tlvs.SignatureValue(CloserOutputOnlyType),
            CloseeOutputOnly = tlvs.SignatureValue(CloseeOutputOnlyType),
            CloserAndCloseeOutputs = tlvs.SignatureValue(CloserAndCloseeOutputsType),
            UnknownTlvs = tlvs.Unknown(),
        };
    }

    internal override void WritePayload(WireWriter writer)
    {
        writer.WriteChannelId(ChannelId).WriteU16Prefixed(CloserScriptPubKey.Span).WriteU16Prefixed(CloseeScriptPubKey.Span)
            .WriteUInt64(FeeSatoshis.Value).WriteUInt32(Locktime);
        new TlvBuilder(UnknownTlvs).AddSignature(CloserOutputOnlyType, CloserOutputOnly).AddSignature(CloseeOutputOnlyType, CloseeOutputOnly)
            .AddSignature(CloserAndCloseeOutputsType, CloserAndCloseeOutputs).WriteTo(writer);
    }
}

/// <summary>BOLT 2 <c>closing_complete</c> (40): the closer proposes and signs a closing transaction.</summary>
public sealed record ClosingComplete : SimpleCloseMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.ClosingComplete;

    internal static ClosingComplete Read(ref WireReader reader) => ReadInto(ref reader, new ClosingComplete
    {
        ChannelId = default,
        CloserScriptPubKey = default,
        CloseeScriptPubKey = default,
        FeeSatoshis = default,
        Locktime = 0,
    });
}

/// <summary>BOLT 2 <c>closing_sig</c> (41): the closee's signature of one proposed variant.</summary>
public sealed record ClosingSig : SimpleCloseMessage
{
    /// <inheritdoc />
    public override ushort Type => MessageTypes.ClosingSig;

    internal static ClosingSig Read(ref WireReader reader) => ReadInto(ref reader, new ClosingSig
    {
        ChannelId = default,
        CloserScriptPubKey = default,
        CloseeScriptPubKey = default,
        FeeSatoshis = default,
        Locktime = 0,
    });
}
