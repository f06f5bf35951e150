using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Onion;

/// <summary>
/// A BOLT 4 <c>failuremsg</c>: a <see cref="FailureCode"/>, the data fields that code defines, and an optional TLV
/// stream. Unknown codes keep their bytes after the code in <see cref="UnknownData"/>.
/// </summary>
public sealed class FailureMessage
{
    private FailureMessage(FailureCode code)
    {
        Code = code;
    }

    /// <summary>The failure code.</summary>
    public FailureCode Code { get; }

    /// <summary><c>sha256_of_onion</c> of the BADONION codes.</summary>
    public Bytes32? Sha256OfOnion { get; private init; }

    /// <summary>The raw <c>channel_update</c> message of the UPDATE codes (may be empty).</summary>
    public ReadOnlyMemory<byte>? ChannelUpdate { get; private init; }

    /// <summary><c>htlc_msat</c> (amount_below_minimum, fee_insufficient, incorrect_or_unknown_payment_details) or <c>incoming_htlc_amt</c> (final_incorrect_htlc_amount).</summary>
    public MilliSatoshi? HtlcAmount { get; private init; }

    /// <summary><c>cltv_expiry</c> of incorrect_cltv_expiry and final_incorrect_cltv_expiry.</summary>
    public uint? CltvExpiry { get; private init; }

    /// <summary><c>height</c> of incorrect_or_unknown_payment_details.</summary>
    public uint? Height { get; private init; }

    /// <summary><c>disabled_flags</c> of channel_disabled.</summary>
    public ushort? DisabledFlags { get; private init; }

    /// <summary>The TLV <c>type</c> of invalid_onion_payload.</summary>
    public ulong? InvalidTlvType { get; private init; }

    /// <summary>The byte <c>offset</c> of invalid_onion_payload.</summary>
    public ushort? InvalidTlvOffset { get; private init; }

    /// <summary>For codes this library does not know: every byte after the code.</summary>
    public ReadOnlyMemory<byte> UnknownData { get; private init; }

    /// <summary>The optional TLV stream after the data.</summary>
    public TlvStream Tlvs { get; private init; } = TlvStream.Empty;

    /// <summary>A code without data fields (temporary_node_failure, permanent_channel_failure, mpp_timeout, …).</summary>
    /// <exception cref="ArgumentException">When the code defines data fields.</exception>
    public static FailureMessage Simple(FailureCode code, TlvStream? tlvs = null)
    {
        if (code.IsKnown && Layout(code) != DataLayout.None)
        {
            throw new ArgumentException($"{code.Name} carries data fields; use its factory.", nameof(code));
        }
        return new FailureMessage(code) { Tlvs = tlvs ?? TlvStream.Empty };
    }

    /// <summary>A BADONION failure carrying <c>sha256_of_onion</c>.</summary>
    /// <exception cref="ArgumentException">When the code is not a known BADONION code.</exception>
    public static FailureMessage BadOnion(FailureCode code, Bytes32 sha256OfOnion)
    {
        if (Layout(code) != DataLayout.Sha256)
        {
            throw new ArgumentException($"{code.Name} is not a BADONION code.", nameof(code));
        }
        return new FailureMessage(code) { Sha256OfOnion = sha256OfOnion };
    }

    /// <summary><c>temporary_channel_failure</c> with its channel update.</summary>
    public static FailureMessage TemporaryChannelFailure(ReadOnlyMemory<byte> channelUpdate) =>
        new(FailureCode.TemporaryChannelFailure) { ChannelUpdate = channelUpdate };

    /// <summary><c>amount_below_minimum</c>.</summary>
    public static FailureMessage AmountBelowMinimum(MilliSatoshi htlcAmount, ReadOnlyMemory<byte> channelUpdate) =>
        new(FailureCode.AmountBelowMinimum) { HtlcAmount = htlcAmount, ChannelUpdate = channelUpdate };

    /// <summary><c>fee_insufficient</c>.</summary>
    public static FailureMessage FeeInsufficient(MilliSatoshi htlcAmount, ReadOnlyMemory<byte> channelUpdate) =>
        new(FailureCode.FeeInsufficient) { HtlcAmount = htlcAmount, ChannelUpdate = channelUpdate };

    /// <summary><c>incorrect_cltv_expiry</c>.</summary>
    public static FailureMessage IncorrectCltvExpiry(uint cltvExpiry, ReadOnlyMemory<byte> channelUpdate) =>
        new(FailureCode.IncorrectCltvExpiry) { CltvExpiry = cltvExpiry, ChannelUpdate = channelUpdate };

    /// <summary><c>expiry_too_soon</c>.</summary>
    public static FailureMessage ExpiryTooSoon(ReadOnlyMemory<byte> channelUpdate) =>
        new(FailureCode.ExpiryTooSoon) { ChannelUpdate = channelUpdate };

    /// <summary><c>incorrect_or_unknown_payment_details</c>.</summary>
    public static FailureMessage IncorrectOrUnknownPaymentDetails(MilliSatoshi htlcAmount, uint height, TlvStream? tlvs = null) =>
        new(FailureCode.IncorrectOrUnknownPaymentDetails) { HtlcAmount = htlcAmount, Height = height, Tlvs = tlvs ?? TlvStream.Empty };

    /// <summary><c>final_incorrect_cltv_expiry</c>.</summary>
    public static FailureMessage FinalIncorrectCltvExpiry(uint cltvExpiry) =>
        new(FailureCode.FinalIncorrectCltvExpiry) { CltvExpiry = cltvExpiry };

    /// <summary><c>final_incorrect_htlc_amount</c>.</summary>
    public static FailureMessage FinalIncorrectHtlcAmount(MilliSatoshi incomingHtlcAmount) =>
        new(FailureCode.FinalIncorrectHtlcAmount) { HtlcAmount = incomingHtlcAmount };

    /// <summary><c>channel_disabled</c>.</summary>
    public static FailureMessage ChannelDisabled(ushort disabledFlags, ReadOnlyMemory<byte> channelUpdate) =>
        new(FailureCode.ChannelDisabled) { DisabledFlags = disabledFlags, ChannelUpdate = channelUpdate };

    /// <summary><c>invalid_onion_payload</c> naming the offending TLV type and its offset.</summary>
    public static FailureMessage InvalidOnionPayload(ulong tlvType, ushort offset) =>
        new(FailureCode.InvalidOnionPayload) { InvalidTlvType = tlvType, InvalidTlvOffset = offset };

    /// <summary>A code this library does not know, with its raw data.</summary>
    /// <exception cref="ArgumentException">When the code is known (use its factory).</exception>
    public static FailureMessage Unknown(FailureCode code, ReadOnlyMemory<byte> data) =>
        code.IsKnown ? throw new ArgumentException("Use the factory of a known code.", nameof(code)) : new(code) { UnknownData = data };

    /// <summary>Serializes: the 2-byte code, the data fields, then the TLV stream.</summary>
    public byte[] Encode()
    {
        var writer = new WireWriter(64);
        writer.WriteUInt16(Code.Value);
        if (!Code.IsKnown)
        {
            writer.WriteBytes(UnknownData.Span);
            return writer.ToArray();
        }
        switch (Layout(Code))
        {
            case DataLayout.Sha256:
                Span<byte> hash = stackalloc byte[32];
                (Sha256OfOnion ?? Bytes32.Zero).CopyTo(hash);
                writer.WriteBytes(hash);
                break;
            case DataLayout.Update:
                WriteUpdate(writer);
                break;
            case DataLayout.AmountUpdate:
                writer.WriteUInt64(HtlcAmount?.Value ?? 0);
                WriteUpdate(writer);
                break;
            case DataLayout.CltvUpdate:
                writer.WriteUInt32(CltvExpiry ?? 0);
                WriteUpdate(writer);
                break;
            case DataLayout.FlagsUpdate:
                writer.WriteUInt16(DisabledFlags ?? 0);
                WriteUpdate(writer);
                break;
            case DataLayout.PaymentDetails:
                writer.WriteUInt64(HtlcAmount?.Value ?? 0);
                writer.WriteUInt32(Height ?? 0);
                break;
            case DataLayout.Cltv:
                writer.WriteUInt32(CltvExpiry ?? 0);
                break;
            case DataLayout.Amount:
                writer.WriteUInt64(HtlcAmount?.Value ?? 0);
                break;
            case DataLayout.TypeOffset:
                writer.WriteBigSize(InvalidTlvType ?? 0);
                writer.WriteUInt16(InvalidTlvOffset ?? 0);
                break;
            case DataLayout.None:
                break;
        }
        Tlvs.WriteTo(writer);
        return writer.ToArray();
    }

    /// <summary>Parses a failure message.</summary>
    /// <exception cref="WireFormatException">When the data fields are truncated or the TLV stream is malformed.</exception>
    public static FailureMessage Decode(ReadOnlySpan<byte> bytes)
    {
        var reader = new WireReader(bytes);
        var code = new FailureCode(reader.ReadUInt16());
        if (!code.IsKnown)
        {
            return new FailureMessage(code) { UnknownData = reader.ReadToEnd().ToArray() };
        }
        Bytes32? sha = null;
        byte[]? update = null;
        MilliSatoshi? amount = null;
        uint? cltv = null;
        uint? height = null;
        ushort? flags = null;
        ulong? tlvType = null;
        ushort? offset = null;
        switch (Layout(code))
        {
            case DataLayout.Sha256:
                sha = new Bytes32(reader.ReadSpan(32));
                break;
            case DataLayout.Update:
                update = ReadUpdate(ref reader);
                break;
            case DataLayout.AmountUpdate:
                amount = new MilliSatoshi(reader.ReadUInt64());
                update = ReadUpdate(ref reader);
                break;
            case DataLayout.CltvUpdate:
                cltv = reader.ReadUInt32();
                update = ReadUpdate(ref reader);
                break;
            case DataLayout.FlagsUpdate:
                flags = reader.ReadUInt16();
                update = ReadUpdate(ref reader);
                break;
            case DataLayout.PaymentDetails:
                // Older nodes omit both fields; the specification keeps them for backwards compatibility.
                if (!reader.IsEnd)
                {
                    amount = new MilliSatoshi(reader.ReadUInt64());
                    height = reader.ReadUInt32();
                }
                break;
            case DataLayout.Cltv:
                cltv = reader.ReadUInt32();
                break;
            case DataLayout.Amount:
                amount = new MilliSatoshi(reader.ReadUInt64());
                break;
            case DataLayout.TypeOffset:
                tlvType = reader.ReadBigSize();
                offset = reader.ReadUInt16();
                break;
            case DataLayout.None:
                break;
        }
        var tlvs = reader.IsEnd ? TlvStream.Empty : TlvStream.Parse(reader.ReadToEnd(), static _ => false);
        return new FailureMessage(code)
        {
            Sha256OfOnion = sha,
            ChannelUpdate = update is null ? (ReadOnlyMemory<byte>?)null : update,
            HtlcAmount = amount,
            CltvExpiry = cltv,
            Height = height,
            DisabledFlags = flags,
            InvalidTlvType = tlvType,
            InvalidTlvOffset = offset,
            Tlvs = tlvs,
        };
    }

    /// <inheritdoc />
    public override string ToString() => Code.Name;

    private void WriteUpdate(WireWriter writer)
    {
        var update = ChannelUpdate ?? ReadOnlyMemory<byte>.Empty;
        if (update.Length > ushort.MaxValue)
        {
            throw new InvalidOperationException("The channel update is longer than 65535 bytes.");
        }
        writer.WriteUInt16((ushort)update.Length);
        writer.WriteBytes(update.Span);
    }

    private static byte[] ReadUpdate(ref WireReader reader)
    {
        var length = reader.ReadUInt16();
        return reader.ReadBytes(length);
    }

    private enum DataLayout
    {
        None,
        Sha256,
        Update,
        AmountUpdate,
        CltvUpdate,
        FlagsUpdate,
        PaymentDetails,
        Cltv,
        Amount,
        TypeOffset,
    }

    private static DataLayout Layout(FailureCode code) => code.Value switch
    {
        FailureCode.BadOnionFlag | FailureCode.PermFlag | 4 or FailureCode.BadOnionFlag | FailureCode.PermFlag | 5
            or FailureCode.BadOnionFlag | FailureCode.PermFlag | 6 or FailureCode.BadOnionFlag | FailureCode.PermFlag | 24 => DataLayout.Sha256,
        FailureCode.UpdateFlag | 7 or FailureCode.UpdateFlag | 14 => DataLayout.Update,
        FailureCode.UpdateFlag | 11 or FailureCode.UpdateFlag | 12 => DataLayout.AmountUpdate,
        FailureCode.UpdateFlag | 13 => DataLayout.CltvUpdate,
        FailureCode.UpdateFlag | 20 => DataLayout.FlagsUpdate,
        FailureCode.PermFlag | 15 => DataLayout.PaymentDetails,
        18 => DataLayout.Cltv,
        19 => DataLayout.Amount,
        FailureCode.PermFlag | 22 => DataLayout.TypeOffset,
        _ => DataLayout.None,
    };
}
