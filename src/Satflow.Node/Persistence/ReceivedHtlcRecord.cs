using System.Buffers.Binary;
using Satflow.Lightning.Types;

namespace Satflow.Node.Persistence;

/// <summary>
/// An incoming HTLC that is irrevocably committed but not yet fulfilled or failed. Written in the same batch as the
/// channel state that committed it and removed in the batch that settles it, so a crash in between is resumed.
/// </summary>
/// <param name="HtlcId">The HTLC id.</param>
/// <param name="Amount">The amount.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="CltvExpiry">The absolute expiry.</param>
/// <param name="Onion">The onion routing packet.</param>
public sealed record ReceivedHtlcRecord(ulong HtlcId, MilliSatoshi Amount, PaymentHash PaymentHash, uint CltvExpiry, ReadOnlyMemory<byte> Onion)
{
    /// <summary>The encoding version.</summary>
    public const byte CurrentVersion = 1;

    private const int HeaderLength = 1 + 8 + 8 + 32 + 4;

    /// <summary>Encodes the record.</summary>
    public byte[] Encode()
    {
        var bytes = new byte[HeaderLength + Onion.Length];
        bytes[0] = CurrentVersion;
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(1), HtlcId);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(9), Amount.Value);
        PaymentHash.Value.CopyTo(bytes.AsSpan(17));
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(49), CltvExpiry);
        Onion.Span.CopyTo(bytes.AsSpan(HeaderLength));
        return bytes;
    }

    /// <summary>Decodes a record.</summary>
    /// <param name="data">The bytes.</param>
    /// <exception cref="NodeStateCorruptException">Truncated or of an unknown version.</exception>
    public static ReceivedHtlcRecord Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length < HeaderLength || data[0] != CurrentVersion)
        {
            throw new NodeStateCorruptException($"A received HTLC record needs version {CurrentVersion} and at least {HeaderLength} bytes; got {data.Length}.");
        }
        return new ReceivedHtlcRecord(
            BinaryPrimitives.ReadUInt64BigEndian(data[1..]),
            new MilliSatoshi(BinaryPrimitives.ReadUInt64BigEndian(data[9..])),
            new PaymentHash(new Bytes32(data.Slice(17, 32))),
            BinaryPrimitives.ReadUInt32BigEndian(data[49..]),
            data[HeaderLength..].ToArray());
    }
}
