using System.Buffers.Binary;
using Satflow.Lightning.Types;

namespace Satflow.Node.Persistence;

/// <summary>
/// What the node remembers of an HTLC it offered, so the settle or failure that comes back (possibly after a restart)
/// finds its payment: the payment hash and the onion shared secret that decrypts a failure.
/// </summary>
/// <param name="HtlcId">The HTLC id on its channel.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="Amount">The HTLC amount.</param>
/// <param name="SharedSecret">The onion shared secret of the final hop.</param>
public sealed record OfferedHtlcRecord(ulong HtlcId, PaymentHash PaymentHash, MilliSatoshi Amount, Bytes32 SharedSecret)
{
    /// <summary>The encoding version.</summary>
    public const byte CurrentVersion = 1;

    private const int EncodedLength = 1 + 8 + 32 + 8 + 32;

    /// <summary>Encodes the record (version 1: id, hash, amount, secret).</summary>
    public byte[] Encode()
    {
        var bytes = new byte[EncodedLength];
        bytes[0] = CurrentVersion;
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(1), HtlcId);
        PaymentHash.Value.CopyTo(bytes.AsSpan(9));
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(41), Amount.Value);
        SharedSecret.CopyTo(bytes.AsSpan(49));
        return bytes;
    }

    /// <summary>Decodes a record.</summary>
    /// <param name="data">The bytes.</param>
    /// <exception cref="NodeStateCorruptException">Wrong length or unknown version.</exception>
    public static OfferedHtlcRecord Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length != EncodedLength || data[0] != CurrentVersion)
        {
            throw new NodeStateCorruptException($"An offered HTLC record must be {EncodedLength} bytes of version {CurrentVersion}; got {data.Length} bytes.");
        }
        return new OfferedHtlcRecord(
            BinaryPrimitives.ReadUInt64BigEndian(data[1..]),
            new PaymentHash(new Bytes32(data.Slice(9, 32))),
            new MilliSatoshi(BinaryPrimitives.ReadUInt64BigEndian(data[41..])),
            new Bytes32(data.Slice(49, 32)));
    }
}
