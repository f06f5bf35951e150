using System.Buffers.Binary;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Onion;

/// <summary>The BOLT 4 <c>payment_data</c> record: the invoice's payment secret and the total amount of the payment.</summary>
/// <param name="PaymentSecret">The payment secret from the invoice.</param>
/// <param name="TotalAmount">The total amount of the (possibly multi-part) payment.</param>
public sealed record PaymentData(PaymentSecret PaymentSecret, MilliSatoshi TotalAmount);

/// <summary>
/// The BOLT 4 hop <c>payload</c> TLV stream of a payment onion. Unknown odd records are kept in
/// <see cref="UnknownRecords"/> so the payload re-encodes byte for byte; unknown even records are refused.
/// </summary>
public sealed class PaymentOnionPayload
{
    /// <summary>TLV type of <c>amt_to_forward</c>.</summary>
    public const ulong AmountToForwardType = 2;

    /// <summary>TLV type of <c>outgoing_cltv_value</c>.</summary>
    public const ulong OutgoingCltvValueType = 4;

    /// <summary>TLV type of <c>short_channel_id</c>.</summary>
    public const ulong ShortChannelIdType = 6;

    /// <summary>TLV type of <c>payment_data</c>.</summary>
    public const ulong PaymentDataType = 8;

    /// <summary>TLV type of <c>encrypted_recipient_data</c>.</summary>
    public const ulong EncryptedRecipientDataType = 10;

    /// <summary>TLV type of <c>current_path_key</c>.</summary>
    public const ulong CurrentPathKeyType = 12;

    /// <summary>TLV type of <c>payment_metadata</c>.</summary>
    public const ulong PaymentMetadataType = 16;

    /// <summary>TLV type of <c>total_amount_msat</c>.</summary>
    public const ulong TotalAmountType = 18;

    /// <summary>TLV type of the keysend preimage (a custom record; the number is even, so it must be understood).</summary>
    public const ulong KeysendPreimageType = 5482373484;

    /// <summary><c>amt_to_forward</c>.</summary>
    public MilliSatoshi? AmountToForward { get; init; }

    /// <summary><c>outgoing_cltv_value</c>.</summary>
    public uint? OutgoingCltvValue { get; init; }

    /// <summary><c>short_channel_id</c> of the outgoing channel (non-final hops).</summary>
    public ShortChannelId? ShortChannelId { get; init; }

    /// <summary><c>payment_data</c> (final hop).</summary>
    public PaymentData? PaymentData { get; init; }

    /// <summary><c>encrypted_recipient_data</c> (hops inside a blinded route).</summary>
    public ReadOnlyMemory<byte>? EncryptedRecipientData { get; init; }

    /// <summary><c>current_path_key</c> (the introduction node of a blinded route).</summary>
    public ECPubKey? CurrentPathKey { get; init; }

    /// <summary><c>payment_metadata</c> (final hop).</summary>
    public ReadOnlyMemory<byte>? PaymentMetadata { get; init; }

    /// <summary><c>total_amount_msat</c> (final hop of a blinded route).</summary>
    public MilliSatoshi? TotalAmount { get; init; }

    /// <summary>The keysend (spontaneous payment) preimage.</summary>
    public PaymentPreimage? KeysendPreimage { get; init; }

    /// <summary>Unknown odd records, kept as received.</summary>
    public IReadOnlyList<TlvRecord> UnknownRecords { get; init; } = [];

    /// <summary>Serializes the TLV stream (without the BigSize length the onion puts in front).</summary>
    public byte[] Encode()
    {
        var records = new List<TlvRecord>(UnknownRecords);
        if (AmountToForward is { } amount)
        {
            records.Add(new TlvRecord(AmountToForwardType, TlvValues.TruncatedUInt(amount.Value)));
        }
        if (OutgoingCltvValue is { } cltv)
        {
            records.Add(new TlvRecord(OutgoingCltvValueType, TlvValues.TruncatedUInt(cltv)));
        }
        if (ShortChannelId is { } scid)
        {
            records.Add(new TlvRecord(ShortChannelIdType, TlvValues.UInt64(scid.Value)));
        }
        if (PaymentData is { } data)
        {
            var writer = new WireWriter(40);
            writer.WriteBytes(data.PaymentSecret.Value.ToArray()).WriteTruncatedUInt(data.TotalAmount.Value);
            records.Add(new TlvRecord(PaymentDataType, writer.ToArray()));
        }
        if (EncryptedRecipientData is { } encrypted)
        {
            records.Add(new TlvRecord(EncryptedRecipientDataType, encrypted));
        }
        if (CurrentPathKey is { } pathKey)
        {
            records.Add(new TlvRecord(CurrentPathKeyType, SphinxCrypto.Compress(pathKey)));
        }
        if (PaymentMetadata is { } metadata)
        {
            records.Add(new TlvRecord(PaymentMetadataType, metadata));
        }
        if (TotalAmount is { } total)
        {
            records.Add(new TlvRecord(TotalAmountType, TlvValues.TruncatedUInt(total.Value)));
        }
        if (KeysendPreimage is { } preimage)
        {
            records.Add(new TlvRecord(KeysendPreimageType, preimage.Value.ToArray()));
        }
        return new TlvStream(records).ToBytes();
    }

    /// <summary>Parses a hop payload.</summary>
    /// <exception cref="OnionException"><c>invalid_onion_payload</c>, naming the offending TLV type when there is one.</exception>
    public static PaymentOnionPayload Decode(ReadOnlySpan<byte> bytes)
    {
        TlvStream stream;
        try
        {
            stream = TlvStream.Parse(bytes, IsKnown);
        }
        catch (WireFormatException e)
        {
            throw new OnionException(0, "hop payload is not a valid TLV stream: " + e.Message, e);
        }
        MilliSatoshi? amount = null;
        uint? cltv = null;
        ShortChannelId? scid = null;
        PaymentData? paymentData = null;
        ReadOnlyMemory<byte>? encrypted = null;
        ECPubKey? pathKey = null;
        ReadOnlyMemory<byte>? metadata = null;
        MilliSatoshi? total = null;
        PaymentPreimage? preimage = null;
        var unknown = new List<TlvRecord>();
        foreach (var record in stream.Records)
        {
            var value = record.Value.Span;
            try
            {
                switch (record.Type)
                {
                    case AmountToForwardType:
                        amount = new MilliSatoshi(TlvValues.ReadTruncated(value, 8));
                        break;
                    case OutgoingCltvValueType:
                        cltv = (uint)TlvValues.ReadTruncated(value, 4);
                        break;
                    case ShortChannelIdType:
                        scid = new ShortChannelId(TlvValues.ReadUInt64(value));
                        break;
                    case PaymentDataType:
                        if (value.Length < 32)
                        {
                            throw new WireFormatException("payment_data shorter than 32 bytes");
                        }
                        paymentData = new PaymentData(PaymentSecret.FromBytes(value[..32]), new MilliSatoshi(TlvValues.ReadTruncated(value[32..], 8)));
                        break;
                    case EncryptedRecipientDataType:
                        encrypted = record.Value;
                        break;
                    case CurrentPathKeyType:
                        pathKey = SphinxCrypto.ParsePoint(value, "current_path_key");
                        break;
                    case PaymentMetadataType:
                        metadata = record.Value;
                        break;
                    case TotalAmountType:
                        total = new MilliSatoshi(TlvValues.ReadTruncated(value, 8));
                        break;
                    case KeysendPreimageType:
                        if (value.Length != 32)
                        {
                            throw new WireFormatException("keysend preimage is not 32 bytes");
                        }
                        preimage = PaymentPreimage.FromBytes(value);
                        break;
                    default:
                        unknown.Add(record);
                        break;
                }
            }
            catch (WireFormatException e) when (e is not OnionException)
            {
                throw new OnionException(record.Type, $"tlv type {record.Type}: {e.Message}", e);
            }
        }
        return new PaymentOnionPayload
        {
            AmountToForward = amount,
            OutgoingCltvValue = cltv,
            ShortChannelId = scid,
            PaymentData = paymentData,
            EncryptedRecipientData = encrypted,
            CurrentPathKey = pathKey,
            PaymentMetadata = metadata,
            TotalAmount = total,
            KeysendPreimage = preimage,
            UnknownRecords = unknown,
        };
    }

    /// <summary>
    /// Checks the BOLT 4 reader rules for a hop outside a blinded route: <c>amt_to_forward</c> and
    /// <c>outgoing_cltv_value</c> are present, and a non-final hop has a <c>short_channel_id</c> but no <c>payment_data</c>.
    /// </summary>
    /// <exception cref="OnionException"><c>invalid_onion_payload</c> naming the missing or forbidden type.</exception>
    public void ValidateUnblinded(bool isFinal)
    {
        if (EncryptedRecipientData is not null || CurrentPathKey is not null)
        {
            throw new OnionException(EncryptedRecipientData is not null ? EncryptedRecipientDataType : CurrentPathKeyType, "blinded route fields outside a blinded route");
        }
        if (AmountToForward is null)
        {
            throw new OnionException(AmountToForwardType, "amt_to_forward is missing");
        }
        if (OutgoingCltvValue is null)
        {
            throw new OnionException(OutgoingCltvValueType, "outgoing_cltv_value is missing");
        }
        if (!isFinal && ShortChannelId is null)
        {
            throw new OnionException(ShortChannelIdType, "short_channel_id is missing");
        }
        if (!isFinal && PaymentData is not null)
        {
            throw new OnionException(PaymentDataType, "payment_data at a non-final hop");
        }
    }

    /// <summary>
    /// Checks the BOLT 4 reader rules for a hop inside a blinded route: <c>encrypted_recipient_data</c> is present;
    /// a non-final hop has nothing but it and <c>current_path_key</c>; the final hop also needs
    /// <c>amt_to_forward</c>, <c>outgoing_cltv_value</c> and <c>total_amount_msat</c> and nothing else.
    /// </summary>
    /// <exception cref="OnionException"><c>invalid_onion_blinding</c>, as the specification requires inside blinded routes.</exception>
    public void ValidateBlinded(bool isFinal)
    {
        var problem = EncryptedRecipientData is null ? "encrypted_recipient_data is missing"
            : ShortChannelId is not null || PaymentData is not null || PaymentMetadata is not null || KeysendPreimage is not null || UnknownRecords.Count > 0
                ? "unexpected fields in a blinded hop payload"
            : !isFinal && (AmountToForward is not null || OutgoingCltvValue is not null || TotalAmount is not null)
                ? "amounts in a non-final blinded hop payload"
            : isFinal && (AmountToForward is null || OutgoingCltvValue is null || TotalAmount is null)
                ? "the final blinded hop needs amt_to_forward, outgoing_cltv_value and total_amount_msat"
            : null;
        if (problem is not null)
        {
            throw new OnionException(FailureCode.InvalidOnionBlinding, problem);
        }
    }

    private static bool IsKnown(ulong type) => type is AmountToForwardType or OutgoingCltvValueType or ShortChannelIdType
        or PaymentDataType or EncryptedRecipientDataType or CurrentPathKeyType or PaymentMetadataType or TotalAmountType
        or KeysendPreimageType;
}

/// <summary>Encoders and strict decoders of fixed and truncated integer TLV values.</summary>
internal static class TlvValues
{
    public static byte[] TruncatedUInt(ulong value) => new WireWriter(8).WriteTruncatedUInt(value).ToArray();

    public static byte[] UInt64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    public static ulong ReadTruncated(ReadOnlySpan<byte> value, int maxBytes) => new WireReader(value).ReadTruncatedUInt(maxBytes);

    public static ulong ReadUInt64(ReadOnlySpan<byte> value) =>
        value.Length == 8 ? BinaryPrimitives.ReadUInt64BigEndian(value) : throw new WireFormatException("expected 8 bytes", $"got {value.Length}");
}
