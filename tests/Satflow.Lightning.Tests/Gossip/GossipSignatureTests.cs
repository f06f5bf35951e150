using System.Net;
using NBitcoin;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using SHA256 = System.Security.Cryptography.SHA256;

namespace Satflow.Lightning.Tests.Gossip;

public sealed class GossipSignatureTests
{
    private static readonly Key Node1 = new(Enumerable.Repeat((byte)0x11, 32).ToArray());
    private static readonly Key Node2 = new(Enumerable.Repeat((byte)0x22, 32).ToArray());
    private static readonly Key Bitcoin1 = new(Enumerable.Repeat((byte)0x33, 32).ToArray());
    private static readonly Key Bitcoin2 = new(Enumerable.Repeat((byte)0x44, 32).ToArray());

    private static ChannelAnnouncement UnsignedAnnouncement()
    {
        var (a, b) = (new NodeId(Node1.PubKey), new NodeId(Node2.PubKey));
        var (k1, k2, b1, b2) = a < b ? (Node1, Node2, Bitcoin1, Bitcoin2) : (Node2, Node1, Bitcoin2, Bitcoin1);
        return new ChannelAnnouncement(
            default, default, default, default, new byte[] { 0x01 }, ChainHash.Regtest, new ShortChannelId(700_000, 12, 1),
            new NodeId(k1.PubKey), new NodeId(k2.PubKey), new Point(b1.PubKey), new Point(b2.PubKey), new byte[] { 0xAB });
    }

    private static (Key n1, Key n2, Key b1, Key b2) KeysOf(ChannelAnnouncement a) =>
        a.NodeId1 == new NodeId(Node1.PubKey) ? (Node1, Node2, Bitcoin1, Bitcoin2) : (Node2, Node1, Bitcoin2, Bitcoin1);

    [Fact]
    public void Channel_announcement_hash_covers_everything_after_the_four_signatures()
    {
        var message = UnsignedAnnouncement();
        var bytes = message.Encode();
        var expected = new uint256(SHA256.HashData(SHA256.HashData(bytes.AsSpan(258))));
        Assert.Equal(expected, GossipSignatures.ChannelAnnouncementHash(message));
        // Signatures do not change the hash; trailing data does.
        Assert.Equal(expected, GossipSignatures.ChannelAnnouncementHash(message with { NodeSignature1 = Signature64.FromBytes(new byte[64].Select(_ => (byte)9).ToArray()) }));
        Assert.NotEqual(expected, GossipSignatures.ChannelAnnouncementHash(message with { ExtraData = new byte[] { 0xAC } }));
    }

    [Fact]
    public void Channel_announcement_sign_and_verify()
    {
        var unsigned = UnsignedAnnouncement();
        var (n1, n2, b1, b2) = KeysOf(unsigned);
        var signed = GossipSignatures.Sign(unsigned, n1, n2, b1, b2);
        Assert.True(GossipSignatures.Verify(signed));
        var decoded = Assert.IsType<ChannelAnnouncement>(LightningMessage.Decode(signed.Encode()));
        Assert.True(GossipSignatures.Verify(decoded));
        Assert.False(GossipSignatures.Verify(decoded with { ShortChannelId = new ShortChannelId(700_000, 12, 2) }));
        Assert.False(GossipSignatures.Verify(decoded with { BitcoinSignature2 = decoded.BitcoinSignature1 }));
        Assert.Throws<ArgumentException>(() => GossipSignatures.Sign(unsigned, n2, n1, b1, b2));
    }

    [Fact]
    public void Node_announcement_sign_and_verify()
    {
        var message = new NodeAnnouncement(
            default, new byte[] { 0x08, 0x00 }, 1_700_000_000, new NodeId(Node1.PubKey), new RgbColor(1, 2, 3), NodeAnnouncement.EncodeAlias("satflow ⚡"),
            [new IPv4NetworkAddress(IPAddress.Parse("198.51.100.1"), 9735), new DnsHostnameNetworkAddress("node.example.com", 9735)],
            ReadOnlyMemory<byte>.Empty, ReadOnlyMemory<byte>.Empty);
        var signed = GossipSignatures.Sign(message, Node1);
        var bytes = signed.Encode();
        var expected = new uint256(SHA256.HashData(SHA256.HashData(bytes.AsSpan(66))));
        Assert.Equal(expected, GossipSignatures.NodeAnnouncementHash(signed));
        var decoded = Assert.IsType<NodeAnnouncement>(LightningMessage.Decode(bytes));
        Assert.True(GossipSignatures.Verify(decoded));
        Assert.Equal("satflow ⚡", decoded.AliasText);
        Assert.Equal(2, decoded.Addresses.Count);
        Assert.False(GossipSignatures.Verify(decoded with { Timestamp = decoded.Timestamp + 1 }));
        Assert.Throws<ArgumentException>(() => GossipSignatures.Sign(message, Node2));
    }

    [Fact]
    public void Node_announcement_keeps_unknown_address_tail_verbatim_so_signatures_survive()
    {
        var message = new NodeAnnouncement(
            default, ReadOnlyMemory<byte>.Empty, 5, new NodeId(Node2.PubKey), default, default,
            [new IPv6NetworkAddress(IPAddress.IPv6Loopback, 9735)], new byte[] { 0x07, 0xFF, 0xEE }, new byte[] { 0x01 });
        var signed = GossipSignatures.Sign(message, Node2);
        var decoded = Assert.IsType<NodeAnnouncement>(LightningMessage.Decode(signed.Encode()));
        Assert.Single(decoded.Addresses);
        Assert.Equal([0x07, 0xFF, 0xEE], decoded.UnparsedAddresses.ToArray());
        Assert.True(GossipSignatures.Verify(decoded));
    }

    [Fact]
    public void Channel_update_sign_verify_and_direction()
    {
        var announcement = UnsignedAnnouncement();
        var (n1, n2, _, _) = KeysOf(announcement);
        var update = new ChannelUpdate(default, ChainHash.Regtest, announcement.ShortChannelId, 1_700_000_000, 1, 1, 144, new MilliSatoshi(1000), 1000, 100, new MilliSatoshi(5_000_000_000), ReadOnlyMemory<byte>.Empty);
        var signed = GossipSignatures.Sign(update, n2);
        var bytes = signed.Encode();
        Assert.Equal(new uint256(SHA256.HashData(SHA256.HashData(bytes.AsSpan(66)))), GossipSignatures.ChannelUpdateHash(signed));
        var decoded = Assert.IsType<ChannelUpdate>(LightningMessage.Decode(bytes));
        Assert.Equal(1, decoded.Direction);
        Assert.True(GossipSignatures.Verify(decoded, announcement));
        Assert.True(GossipSignatures.Verify(decoded, announcement.NodeId2));
        Assert.False(GossipSignatures.Verify(decoded with { ChannelFlags = 0 }, announcement));
        Assert.False(GossipSignatures.Verify(GossipSignatures.Sign(update, n1), announcement));
    }

    [Fact]
    public void Verify_rejects_a_high_s_or_garbage_signature()
    {
        var hash = new uint256(SHA256.HashData("x"u8));
        var good = GossipSignatures.Sign(Node1, hash);
        Assert.True(GossipSignatures.Verify(Node1.PubKey, hash, good));
        // s' = n - s has the same validity in ECDSA but is non-canonical: must be refused.
        var n = System.Numerics.BigInteger.Parse("0FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", System.Globalization.NumberStyles.HexNumber);
        var s = new System.Numerics.BigInteger(good.Span[32..], isUnsigned: true, isBigEndian: true);
        var highS = (n - s).ToByteArray(isUnsigned: true, isBigEndian: true);
        var bytes = good.ToArray();
        highS.CopyTo(bytes.AsSpan(64 - highS.Length));
        Assert.False(GossipSignatures.Verify(Node1.PubKey, hash, Signature64.FromBytes(bytes)));
        Assert.False(GossipSignatures.Verify(Node1.PubKey, hash, Signature64.FromBytes(Enumerable.Repeat((byte)0xFF, 64).ToArray())));
    }

    [Fact]
    public void Crc32c_matches_the_rfc3720_check_value()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        // RFC 3720 B.4: 32 bytes of zeros.
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
        Assert.Equal(0x62A8AB43u, Crc32C.Compute(Enumerable.Repeat((byte)0xFF, 32).ToArray()));
    }

    [Fact]
    public void Channel_update_checksum_ignores_signature_and_timestamp_only()
    {
        var update = new ChannelUpdate(default, ChainHash.Regtest, new ShortChannelId(1, 2, 3), 100, 1, 0, 40, new MilliSatoshi(1), 2, 3, new MilliSatoshi(4), ReadOnlyMemory<byte>.Empty);
        var checksum = GossipSignatures.ChannelUpdateChecksum(update);
        var bytes = update.Encode();
        var expected = Crc32C.Compute([.. bytes[66..(66 + 40)], .. bytes[(66 + 44)..]]);
        Assert.Equal(expected, checksum);
        Assert.Equal(checksum, GossipSignatures.ChannelUpdateChecksum(update with { Timestamp = 999, Signature = GossipSignatures.Sign(Node1, uint256.One) }));
        Assert.NotEqual(checksum, GossipSignatures.ChannelUpdateChecksum(update with { FeeBaseMsat = 3 }));
        Assert.NotEqual(checksum, GossipSignatures.ChannelUpdateChecksum(update with { ChannelFlags = 2 }));
    }
}
