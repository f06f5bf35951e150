using System.Numerics;
using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using SHA256 = System.Security.Cryptography.SHA256;

namespace Satflow.Lightning.Gossip;

/// <summary>
/// BOLT 7 gossip signatures: the double-SHA256 each announcement signs, ECDSA signing with NBitcoin keys into the
/// 64-byte compact form of the wire, and verification.
/// </summary>
public static class GossipSignatures
{
    /// <summary>The hash a <c>channel_announcement</c>'s four signatures sign: double-SHA256 of everything after them.</summary>
    public static uint256 ChannelAnnouncementHash(ChannelAnnouncement message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return DoubleSha256(message.Encode().AsSpan(ChannelAnnouncement.SignedDataOffset));
    }

    /// <summary>The hash a <c>node_announcement</c>'s signature signs: double-SHA256 of everything after it.</summary>
    public static uint256 NodeAnnouncementHash(NodeAnnouncement message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return DoubleSha256(message.Encode().AsSpan(NodeAnnouncement.SignedDataOffset));
    }

    /// <summary>The hash a <c>channel_update</c>'s signature signs: double-SHA256 of everything after it.</summary>
    public static uint256 ChannelUpdateHash(ChannelUpdate message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return DoubleSha256(message.Encode().AsSpan(ChannelUpdate.SignedDataOffset));
    }

    /// <summary>Signs <paramref name="hash"/> (low-S ECDSA) and returns the 64-byte compact signature.</summary>
    public static Signature64 Sign(Key key, uint256 hash)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(hash);
        return Signature64.FromBytes(key.Sign(hash).ToCompact());
    }

    /// <summary>Verifies a 64-byte compact signature of <paramref name="hash"/>; false for malformed or high-S signatures.</summary>
    public static bool Verify(PubKey pubKey, uint256 hash, Signature64 signature)
    {
        ArgumentNullException.ThrowIfNull(pubKey);
        ArgumentNullException.ThrowIfNull(hash);
        // Like libsecp256k1's verify (used by the other implementations), refuse non-canonical high-S signatures.
        if (signature.Span[32..].SequenceCompareTo(HalfOrder) > 0)
        {
            return false;
        }
        return ECDSASignature.TryParseFromCompact(signature.Span, out var parsed) && parsed is not null && pubKey.Verify(hash, parsed);
    }

    private static ReadOnlySpan<byte> HalfOrder =>
    [
        0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0x5D, 0x57, 0x6E, 0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46, 0x68, 0x1B, 0x20, 0xA0,
    ];

    /// <summary>Returns the announcement with all four signatures made by the given keys.</summary>
    /// <exception cref="ArgumentException">When a key does not match the corresponding id or bitcoin key of the message.</exception>
    public static ChannelAnnouncement Sign(ChannelAnnouncement message, Key nodeKey1, Key nodeKey2, Key bitcoinKey1, Key bitcoinKey2)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(nodeKey1);
        ArgumentNullException.ThrowIfNull(nodeKey2);
        ArgumentNullException.ThrowIfNull(bitcoinKey1);
        ArgumentNullException.ThrowIfNull(bitcoinKey2);
        RequireMatch(nodeKey1, message.NodeId1.Span, nameof(nodeKey1));
        RequireMatch(nodeKey2, message.NodeId2.Span, nameof(nodeKey2));
        RequireMatch(bitcoinKey1, message.BitcoinKey1.Span, nameof(bitcoinKey1));
        RequireMatch(bitcoinKey2, message.BitcoinKey2.Span, nameof(bitcoinKey2));
        var hash = ChannelAnnouncementHash(message);
        return message with
        {
            NodeSignature1 = Sign(nodeKey1, hash),
            NodeSignature2 = Sign(nodeKey2, hash),
            BitcoinSignature1 = Sign(bitcoinKey1, hash),
            BitcoinSignature2 = Sign(bitcoinKey2, hash),
        };
    }

    /// <summary>True when all four signatures of the announcement are valid.</summary>
    public static bool Verify(ChannelAnnouncement message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var hash = ChannelAnnouncementHash(message);
        return Verify(message.NodeId1.ToPubKey(), hash, message.NodeSignature1)
            && Verify(message.NodeId2.ToPubKey(), hash, message.NodeSignature2)
            && Verify(message.BitcoinKey1.ToPubKey(), hash, message.BitcoinSignature1)
            && Verify(message.BitcoinKey2.ToPubKey(), hash, message.BitcoinSignature2);
    }

    /// <summary>Returns the node announcement signed by <paramref name="nodeKey"/>.</summary>
    /// <exception cref="ArgumentException">When the key is not the message's node id.</exception>
    public static NodeAnnouncement Sign(NodeAnnouncement message, Key nodeKey)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(nodeKey);
        RequireMatch(nodeKey, message.NodeId.Span, nameof(nodeKey));
        return message with { Signature = Sign(nodeKey, NodeAnnouncementHash(message)) };
    }

    /// <summary>True when the node announcement is signed by its node id.</summary>
    public static bool Verify(NodeAnnouncement message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return Verify(message.NodeId.ToPubKey(), NodeAnnouncementHash(message), message.Signature);
    }

    /// <summary>Returns the channel update signed by <paramref name="nodeKey"/> (the originating node).</summary>
    public static ChannelUpdate Sign(ChannelUpdate message, Key nodeKey)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(nodeKey);
        return message with { Signature = Sign(nodeKey, ChannelUpdateHash(message)) };
    }

    /// <summary>True when the channel update is signed by <paramref name="origin"/>.</summary>
    public static bool Verify(ChannelUpdate message, NodeId origin)
    {
        ArgumentNullException.ThrowIfNull(message);
        return Verify(origin.ToPubKey(), ChannelUpdateHash(message), message.Signature);
    }

    /// <summary>
    /// True when the channel update is signed by the end of <paramref name="announcement"/> its direction bit names
    /// (<c>node_id_1</c> for 0, <c>node_id_2</c> for 1) and refers to the same chain and channel.
    /// </summary>
    public static bool Verify(ChannelUpdate message, ChannelAnnouncement announcement)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(announcement);
        return message.ChainHash == announcement.ChainHash
            && message.ShortChannelId == announcement.ShortChannelId
            && Verify(message, message.Direction == 0 ? announcement.NodeId1 : announcement.NodeId2);
    }

    /// <summary>
    /// The BOLT 7 checksum of a <c>channel_update</c> for <c>checksums_tlv</c>: CRC32C (RFC 3720) of the message
    /// without its type, signature and timestamp (everything else, including any trailing data).
    /// </summary>
    public static uint ChannelUpdateChecksum(ChannelUpdate message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var bytes = message.Encode().AsSpan(ChannelUpdate.SignedDataOffset);
        const int timestampOffset = 32 + 8;
        var crc = Crc32C.Append(0, bytes[..timestampOffset]);
        return Crc32C.Append(crc, bytes[(timestampOffset + 4)..]);
    }

    private static uint256 DoubleSha256(ReadOnlySpan<byte> data)
    {
        Span<byte> first = stackalloc byte[32];
        SHA256.HashData(data, first);
        Span<byte> second = stackalloc byte[32];
        SHA256.HashData(first, second);
        return new uint256(second);
    }

    private static void RequireMatch(Key key, ReadOnlySpan<byte> expected, string name)
    {
        if (!key.PubKey.Compress().ToBytes().AsSpan().SequenceEqual(expected))
        {
            throw new ArgumentException("The key does not match the public key in the message.", name);
        }
    }
}

/// <summary>CRC32C (Castagnoli, RFC 3720 appendix B.4), using the hardware instruction where available.</summary>
public static class Crc32C
{
    /// <summary>Continues a CRC32C over <paramref name="data"/>; start with 0.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var state = ~crc;
        foreach (var b in data)
        {
            state = BitOperations.Crc32C(state, b);
        }
        return ~state;
    }

    /// <summary>The CRC32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);
}
