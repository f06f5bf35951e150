using System.Buffers.Binary;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Features;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Onion;

/// <summary>The <c>payment_relay</c> a blinded hop applies instead of its public fee policy.</summary>
/// <param name="CltvExpiryDelta">The CLTV delta the hop subtracts.</param>
/// <param name="FeeProportionalMillionths">The proportional fee.</param>
/// <param name="FeeBase">The base fee.</param>
public sealed record PaymentRelay(ushort CltvExpiryDelta, uint FeeProportionalMillionths, MilliSatoshi FeeBase)
{
    /// <summary>
    /// The amount to forward for an incoming HTLC amount:
    /// <c>((amount - fee_base) * 1000000 + 1000000 + fee_proportional - 1) / (1000000 + fee_proportional)</c>.
    /// </summary>
    /// <exception cref="ArgumentException">When the incoming amount is below the base fee.</exception>
    public MilliSatoshi AmountToForward(MilliSatoshi incoming)
    {
        if (incoming < FeeBase)
        {
            throw new ArgumentException("The incoming amount does not cover the base fee.", nameof(incoming));
        }
        var numerator = ((UInt128)(incoming.Value - FeeBase.Value) * 1_000_000) + 1_000_000 + FeeProportionalMillionths - 1;
        return new MilliSatoshi((ulong)(numerator / (1_000_000 + (UInt128)FeeProportionalMillionths)));
    }
}

/// <summary>The <c>payment_constraints</c> of a blinded hop.</summary>
/// <param name="MaxCltvExpiry">The largest expiry the route accepts.</param>
/// <param name="HtlcMinimum">The smallest HTLC the route accepts.</param>
public sealed record PaymentConstraints(uint MaxCltvExpiry, MilliSatoshi HtlcMinimum);

/// <summary>The aggregated fees and CLTV delta of a blinded route, which the recipient gives the sender.</summary>
/// <param name="FeeBase">Total base fee.</param>
/// <param name="FeeProportionalMillionths">Total proportional fee.</param>
/// <param name="CltvExpiryDelta">Total CLTV delta including the final delta.</param>
public sealed record BlindedPayInfo(MilliSatoshi FeeBase, uint FeeProportionalMillionths, uint CltvExpiryDelta)
{
    /// <summary>
    /// Aggregates the relays of the non-final hops (introduction node first) as BOLT 4 prescribes, rounding fees up.
    /// </summary>
    public static BlindedPayInfo Aggregate(IReadOnlyList<PaymentRelay> relays, ushort minFinalCltvExpiryDelta)
    {
        ArgumentNullException.ThrowIfNull(relays);
        UInt128 feeBase = 0;
        UInt128 proportional = 0;
        uint cltv = minFinalCltvExpiryDelta;
        for (var i = relays.Count - 1; i >= 0; i--)
        {
            var relay = relays[i];
            feeBase = (((UInt128)relay.FeeBase.Value * 1_000_000) + (feeBase * (1_000_000 + (UInt128)relay.FeeProportionalMillionths)) + 999_999) / 1_000_000;
            proportional = (((proportional + relay.FeeProportionalMillionths) * 1_000_000) + (proportional * relay.FeeProportionalMillionths) + 999_999) / 1_000_000;
            cltv += relay.CltvExpiryDelta;
        }
        return new BlindedPayInfo(new MilliSatoshi((ulong)feeBase), (uint)proportional, cltv);
    }
}

/// <summary>
/// The <c>encrypted_data_tlv</c> stream a route's creator encrypts for each blinded hop. Unknown odd records are
/// kept in <see cref="UnknownRecords"/>.
/// </summary>
public sealed class EncryptedDataTlv
{
    /// <summary>TLV type of <c>padding</c>.</summary>
    public const ulong PaddingType = 1;

    /// <summary>TLV type of <c>short_channel_id</c>.</summary>
    public const ulong ShortChannelIdType = 2;

    /// <summary>TLV type of <c>next_node_id</c>.</summary>
    public const ulong NextNodeIdType = 4;

    /// <summary>TLV type of <c>path_id</c>.</summary>
    public const ulong PathIdType = 6;

    /// <summary>TLV type of <c>next_path_key_override</c>.</summary>
    public const ulong NextPathKeyOverrideType = 8;

    /// <summary>TLV type of <c>payment_relay</c>.</summary>
    public const ulong PaymentRelayType = 10;

    /// <summary>TLV type of <c>payment_constraints</c>.</summary>
    public const ulong PaymentConstraintsType = 12;

    /// <summary>TLV type of <c>allowed_features</c>.</summary>
    public const ulong AllowedFeaturesType = 14;

    /// <summary><c>padding</c> (its content is ignored).</summary>
    public ReadOnlyMemory<byte>? Padding { get; init; }

    /// <summary><c>short_channel_id</c> of the next hop.</summary>
    public ShortChannelId? ShortChannelId { get; init; }

    /// <summary><c>next_node_id</c>.</summary>
    public NodeId? NextNodeId { get; init; }

    /// <summary><c>path_id</c> (final hop).</summary>
    public ReadOnlyMemory<byte>? PathId { get; init; }

    /// <summary><c>next_path_key_override</c>.</summary>
    public ECPubKey? NextPathKeyOverride { get; init; }

    /// <summary><c>payment_relay</c>.</summary>
    public PaymentRelay? PaymentRelay { get; init; }

    /// <summary><c>payment_constraints</c>.</summary>
    public PaymentConstraints? PaymentConstraints { get; init; }

    /// <summary><c>allowed_features</c>.</summary>
    public FeatureBits? AllowedFeatures { get; init; }

    /// <summary>Unknown odd records, kept as received.</summary>
    public IReadOnlyList<TlvRecord> UnknownRecords { get; init; } = [];

    /// <summary>Serializes the stream.</summary>
    public byte[] Encode()
    {
        var records = new List<TlvRecord>(UnknownRecords);
        if (Padding is { } padding)
        {
            records.Add(new TlvRecord(PaddingType, padding));
        }
        if (ShortChannelId is { } scid)
        {
            records.Add(new TlvRecord(ShortChannelIdType, TlvValues.UInt64(scid.Value)));
        }
        if (NextNodeId is { } nodeId)
        {
            records.Add(new TlvRecord(NextNodeIdType, nodeId.ToArray()));
        }
        if (PathId is { } pathId)
        {
            records.Add(new TlvRecord(PathIdType, pathId));
        }
        if (NextPathKeyOverride is { } pathKey)
        {
            records.Add(new TlvRecord(NextPathKeyOverrideType, SphinxCrypto.Compress(pathKey)));
        }
        if (PaymentRelay is { } relay)
        {
            var writer = new WireWriter(10);
            writer.WriteUInt16(relay.CltvExpiryDelta).WriteUInt32(relay.FeeProportionalMillionths).WriteTruncatedUInt(relay.FeeBase.Value);
            records.Add(new TlvRecord(PaymentRelayType, writer.ToArray()));
        }
        if (PaymentConstraints is { } constraints)
        {
            var writer = new WireWriter(12);
            writer.WriteUInt32(constraints.MaxCltvExpiry).WriteTruncatedUInt(constraints.HtlcMinimum.Value);
            records.Add(new TlvRecord(PaymentConstraintsType, writer.ToArray()));
        }
        if (AllowedFeatures is { } features)
        {
            records.Add(new TlvRecord(AllowedFeaturesType, features.ToBytes()));
        }
        return new TlvStream(records).ToBytes();
    }

    /// <summary>
    /// Checks the reader rules of a blinded payment hop: never both <c>short_channel_id</c> and <c>next_node_id</c>;
    /// a non-final hop has one of them and <c>payment_relay</c>; no <c>allowed_features</c> bit is set (none is
    /// defined for blinded payments); the HTLC meets <c>payment_constraints</c>.
    /// </summary>
    /// <param name="isFinal">True at the final node.</param>
    /// <param name="incomingAmount">The incoming HTLC amount.</param>
    /// <param name="incomingCltvExpiry">The incoming HTLC expiry.</param>
    /// <exception cref="OnionException"><c>invalid_onion_blinding</c>.</exception>
    public void ValidateForPayment(bool isFinal, MilliSatoshi incomingAmount, uint incomingCltvExpiry)
    {
        var problem = ShortChannelId is not null && NextNodeId is not null ? "both short_channel_id and next_node_id"
            : !isFinal && ShortChannelId is null && NextNodeId is null ? "no short_channel_id or next_node_id"
            : !isFinal && PaymentRelay is null ? "payment_relay is missing"
            : AllowedFeatures is { IsEmpty: false } ? "allowed_features names an unknown feature"
            : PaymentConstraints is { } c && incomingCltvExpiry > c.MaxCltvExpiry ? "expiry beyond max_cltv_expiry"
            : PaymentConstraints is { } m && incomingAmount < m.HtlcMinimum ? "amount below htlc_minimum_msat"
            : null;
        if (problem is not null)
        {
            throw new OnionException(FailureCode.InvalidOnionBlinding, problem);
        }
    }

    /// <summary>
    /// The <c>amt_to_forward</c> and <c>outgoing_cltv_value</c> a non-final blinded hop derives from its
    /// <c>payment_relay</c>.
    /// </summary>
    /// <exception cref="OnionException"><c>invalid_onion_blinding</c> when there is no relay or the HTLC cannot pay it.</exception>
    public (MilliSatoshi AmountToForward, uint OutgoingCltvValue) ForwardingValues(MilliSatoshi incomingAmount, uint incomingCltvExpiry)
    {
        if (PaymentRelay is not { } relay)
        {
            throw new OnionException(FailureCode.InvalidOnionBlinding, "payment_relay is missing");
        }
        if (incomingAmount < relay.FeeBase || incomingCltvExpiry < relay.CltvExpiryDelta)
        {
            throw new OnionException(FailureCode.InvalidOnionBlinding, "the HTLC does not cover payment_relay");
        }
        return (relay.AmountToForward(incomingAmount), incomingCltvExpiry - relay.CltvExpiryDelta);
    }

    /// <summary>Parses a decrypted <c>encrypted_data_tlv</c>.</summary>
    /// <exception cref="WireFormatException">When the stream or a field is malformed, or an unknown even type appears.</exception>
    public static EncryptedDataTlv Decode(ReadOnlySpan<byte> bytes)
    {
        var stream = TlvStream.Parse(bytes, static t => t is PaddingType or ShortChannelIdType or NextNodeIdType or PathIdType
            or NextPathKeyOverrideType or PaymentRelayType or PaymentConstraintsType or AllowedFeaturesType);
        var result = new EncryptedDataTlv();
        var unknown = new List<TlvRecord>();
        foreach (var record in stream.Records)
        {
            var value = record.Value.Span;
            result = record.Type switch
            {
                PaddingType => Copy(result, padding: record.Value),
                ShortChannelIdType => Copy(result, scid: new ShortChannelId(TlvValues.ReadUInt64(value))),
                NextNodeIdType => Copy(result, nextNodeId: NodeId.TryFromBytes(value, out var id) ? id : throw new WireFormatException("invalid next_node_id")),
                PathIdType => Copy(result, pathId: record.Value),
                NextPathKeyOverrideType => Copy(result, pathKey: SphinxCrypto.ParsePoint(value, "next_path_key_override")),
                PaymentRelayType => Copy(result, relay: ReadRelay(value)),
                PaymentConstraintsType => Copy(result, constraints: ReadConstraints(value)),
                AllowedFeaturesType => Copy(result, features: FeatureBits.FromBytes(value)),
                _ => result,
            };
            if (record.Type is not (PaddingType or ShortChannelIdType or NextNodeIdType or PathIdType or NextPathKeyOverrideType
                or PaymentRelayType or PaymentConstraintsType or AllowedFeaturesType))
            {
                unknown.Add(record);
            }
        }
        return Copy(result, unknown: unknown);
    }

    private static PaymentRelay ReadRelay(ReadOnlySpan<byte> value)
    {
        if (value.Length < 6)
        {
            throw new WireFormatException("payment_relay shorter than 6 bytes");
        }
        return new PaymentRelay(
            BinaryPrimitives.ReadUInt16BigEndian(value),
            BinaryPrimitives.ReadUInt32BigEndian(value[2..]),
            new MilliSatoshi(TlvValues.ReadTruncated(value[6..], 4)));
    }

    private static PaymentConstraints ReadConstraints(ReadOnlySpan<byte> value)
    {
        if (value.Length < 4)
        {
            throw new WireFormatException("payment_constraints shorter than 4 bytes");
        }
        return new PaymentConstraints(BinaryPrimitives.ReadUInt32BigEndian(value), new MilliSatoshi(TlvValues.ReadTruncated(value[4..], 8)));
    }

    private static EncryptedDataTlv Copy(
        EncryptedDataTlv source,
        ReadOnlyMemory<byte>? padding = null,
        ShortChannelId? scid = null,
        NodeId? nextNodeId = null,
        ReadOnlyMemory<byte>? pathId = null,
        ECPubKey? pathKey = null,
        PaymentRelay? relay = null,
        PaymentConstraints? constraints = null,
        FeatureBits? features = null,
        IReadOnlyList<TlvRecord>? unknown = null) => new()
        {
            Padding = padding ?? source.Padding,
            ShortChannelId = scid ?? source.ShortChannelId,
            NextNodeId = nextNodeId ?? source.NextNodeId,
            PathId = pathId ?? source.PathId,
            NextPathKeyOverride = pathKey ?? source.NextPathKeyOverride,
            PaymentRelay = relay ?? source.PaymentRelay,
            PaymentConstraints = constraints ?? source.PaymentConstraints,
            AllowedFeatures = features ?? source.AllowedFeatures,
            UnknownRecords = unknown ?? source.UnknownRecords,
        };
}
