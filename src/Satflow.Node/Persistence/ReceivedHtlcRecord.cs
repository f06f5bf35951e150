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
    /// <summary>The encoding version (version 2 when <see cref="PathKey"/> is set).</summary>
    public const byte CurrentVersion = 1;

    /// <summary>The encoding version of a record that carries the HTLC's <c>path_key</c>.</summary>
    public const byte PathKeyVersion = 2;

    /// <summary>
    /// The <c>path_key</c> of the <c>update_add_htlc</c> (BOLT 4 route blinding), when the HTLC reached us as a hop
    /// of a blinded path other than its introduction node; the onion is then peeled with the blinded key.
    /// </summary>
    public NBitcoin.PubKey? PathKey { get; init; }

    private const int HeaderLength = 1 + 8 + 8 + 32 + 4;

    /// <summary>Encodes the record.</summary>
    public byte[] Encode()
    {
        if (PathKey is { } pathKey)
        {
            // Version 2: the 33-byte path key follows the header, then the onion.
            var withKey = new byte[HeaderLength + 33 + Onion.Length];
            WriteHeader(withKey, PathKeyVersion);
            pathKey.ToBytes().CopyTo(withKey.AsSpan(HeaderLength));
            Onion.Span.CopyTo(withKey.AsSpan(HeaderLength + 33));
            return withKey;
        }
        var bytes = new byte[HeaderLength + Onion.Length];
        WriteHeader(bytes, CurrentVersion);
        Onion.Span.CopyTo(bytes.AsSpan(HeaderLength));
        return bytes;
    }

    private void WriteHeader(byte[] bytes, byte version)
    {
        bytes[0] = version;
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(1), HtlcId);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(9), Amount.Value);
        PaymentHash.Value.CopyTo(bytes.AsSpan(17));
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(49), CltvExpiry);
    }

    /// <summary>Decodes a record.</summary>
    /// <param name="data">The bytes.</param>
    /// <exception cref="NodeStateCorruptException">Truncated or of an unknown version.</exception>
    public static ReceivedHtlcRecord Decode(ReadOnlySpan<byte> data)
    {
        if (data.Length >= HeaderLength + 33 && data[0] == PathKeyVersion)
        {
            if (!NBitcoin.PubKey.TryCreatePubKey(data.Slice(HeaderLength, 33).ToArray(), out var pathKey) || pathKey is null)
            {
                throw new NodeStateCorruptException("A received HTLC record holds an invalid path key.");
            }
            return Decode(data[..HeaderLength], data[(HeaderLength + 33)..]) with { PathKey = pathKey };
        }
        if (data.Length < HeaderLength || data[0] != CurrentVersion)
        {
            throw new NodeStateCorruptException($"A received HTLC record needs version {CurrentVersion} or {PathKeyVersion} and at least {HeaderLength} bytes; got {data.Length}.");
        }
        return Decode(data[..HeaderLength], data[HeaderLength..]);
    }

    private static ReceivedHtlcRecord Decode(ReadOnlySpan<byte> data, ReadOnlySpan<byte> onion)
    {
        return new ReceivedHtlcRecord(
            BinaryPrimitives.ReadUInt64BigEndian(data[1..]),
            new MilliSatoshi(BinaryPrimitives.ReadUInt64BigEndian(data[9..])),
            new PaymentHash(new Bytes32(data.Slice(17, 32))),
            BinaryPrimitives.ReadUInt32BigEndian(data[49..]),
            onion.ToArray());
    }
}
