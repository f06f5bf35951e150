using NBitcoin.Secp256k1;
using Satflow.Lightning.Crypto;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests;

/// <summary>
/// The single <c>blinded_path</c> codec (<see cref="BlindedPath"/>) shared by offers, onion messages and blinded
/// payments, and the key helpers the onion code and the node id share.
/// </summary>
public sealed class BlindedPathTests
{
    private static readonly ECPrivKey KeyA = SphinxCrypto.PrivateKey(Convert.FromHexString("4141414141414141414141414141414141414141414141414141414141414141"));
    private static readonly ECPrivKey KeyB = SphinxCrypto.PrivateKey(Convert.FromHexString("4242424242424242424242424242424242424242424242424242424242424242"));

    private static NodeId IdA => NodeId.FromECPubKey(KeyA.CreatePubKey());

    private static NodeId IdB => NodeId.FromECPubKey(KeyB.CreatePubKey());

    private static BlindedPath Sample(SciddirOrPubkey first) =>
        new(first, IdB, [new BlindedHop(IdA, new byte[] { 1, 2, 3 }), new BlindedHop(IdB, ReadOnlySpan<byte>.Empty)]);

    [Fact]
    public void BothIntroductionFormsRoundTrip()
    {
        foreach (var first in new[] { SciddirOrPubkey.FromNodeId(IdA), SciddirOrPubkey.FromShortChannelId(new ShortChannelId(700000, 12, 1), 1) })
        {
            var bytes = Sample(first).ToBytes();
            var parsed = BlindedPath.Parse(bytes);
            Assert.Equal(first, parsed.FirstNodeId);
            Assert.Equal(IdB, parsed.FirstPathKey);
            Assert.Equal(2, parsed.Hops.Count);
            Assert.Equal(IdA, parsed.Hops[0].BlindedNodeId);
            Assert.Equal("010203", Convert.ToHexStringLower(parsed.Hops[0].EncryptedRecipientData));
            Assert.Equal(0, parsed.Hops[1].EncryptedRecipientData.Length);
            Assert.Equal(Convert.ToHexStringLower(bytes), Convert.ToHexStringLower(parsed.ToBytes()));
        }
        Assert.Equal(9 + 33 + 1 + (33 + 2 + 3) + (33 + 2), Sample(SciddirOrPubkey.FromShortChannelId(new ShortChannelId(1, 2, 3), 0)).ToBytes().Length);
    }

    [Fact]
    public void MalformedPathsGiveTypedReasons()
    {
        var good = Sample(SciddirOrPubkey.FromNodeId(IdA)).ToBytes();
        Assert.Equal("trailing bytes", Reason(() => BlindedPath.Parse([.. good, 0])));

        var unknownLeading = (byte[])good.Clone();
        unknownLeading[0] = 4;
        Assert.Equal("invalid sciddir_or_pubkey", Reason(() => BlindedPath.Parse(unknownLeading)));

        var badPathKey = (byte[])good.Clone();
        badPathKey[33] = 5;
        Assert.Equal("invalid point", Reason(() => BlindedPath.Parse(badPathKey)));

        var zeroHops = good[..(33 + 33 + 1)];
        zeroHops[^1] = 0;
        Assert.Equal("zero num_hops in blinded_path", Reason(() => BlindedPath.Parse(zeroHops)));

        Assert.IsAssignableFrom<WireFormatException>(Record.Exception(() => BlindedPath.Parse(good[..^1])));
        Assert.IsAssignableFrom<WireFormatException>(Record.Exception(() => BlindedPath.Parse([])));
    }

    [Fact]
    public void ConstructionEnforcesTheWireLimits()
    {
        Assert.Throws<ArgumentException>(() => new BlindedPath(SciddirOrPubkey.FromNodeId(IdA), IdB, []));
        var hop = new BlindedHop(IdA, ReadOnlySpan<byte>.Empty);
        Assert.Throws<ArgumentException>(() => new BlindedPath(SciddirOrPubkey.FromNodeId(IdA), IdB, Enumerable.Repeat(hop, 256).ToList()));
        Assert.Equal(255, new BlindedPath(SciddirOrPubkey.FromNodeId(IdA), IdB, Enumerable.Repeat(hop, 255).ToList()).Hops.Count);
        Assert.Throws<ArgumentException>(() => new BlindedHop(IdA, new byte[ushort.MaxValue + 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => SciddirOrPubkey.FromShortChannelId(new ShortChannelId(1, 2, 3), 2));
    }

    [Fact]
    public void CreatedRouteIsABlindedPathThatPaymentHopsAccept()
    {
        var created = RouteBlinding.Create(KeyA, [KeyA.CreatePubKey(), KeyB.CreatePubKey()], [new byte[] { 2, 8, 0, 0, 0, 0, 0, 0, 0, 1 }, new byte[] { 1, 0 }]);
        var path = BlindedPath.Parse(created.Route.ToBytes());
        Assert.Equal(IdA, path.FirstNodeId.NodeId);
        Assert.Equal(NodeId.FromECPubKey(created.Secrets[0].PathKey), path.FirstPathKey);
        var hops = BlindedPaymentRoute.BuildHops([], path, new MilliSatoshi(1000), new MilliSatoshi(1000), 500);
        Assert.Equal(2, hops.Count);
        Assert.Equal(IdA, NodeId.FromECPubKey(hops[0].PublicKey));
        Assert.Equal(path.Hops[1].BlindedNodeId, NodeId.FromECPubKey(hops[1].PublicKey));
        var decrypted = RouteBlinding.Decrypt(KeyB, created.Secrets[1].PathKey, path.Hops[1].EncryptedRecipientData);
        Assert.Equal("0100", Convert.ToHexStringLower(decrypted.Plaintext.Span));

        var viaChannel = new BlindedPath(SciddirOrPubkey.FromShortChannelId(new ShortChannelId(1, 2, 3), 0), path.FirstPathKey, path.Hops);
        Assert.Throws<ArgumentException>(() => BlindedPaymentRoute.BuildHops([], viaChannel, new MilliSatoshi(1000), new MilliSatoshi(1000), 500));
    }

    [Fact]
    public void NodeIdConvertsToAndFromTheSecp256k1Type()
    {
        var pub = KeyA.CreatePubKey();
        var id = NodeId.FromECPubKey(pub);
        Assert.Equal(Convert.ToHexStringLower(pub.ToBytes(true)), id.ToString());
        Assert.Equal(Convert.ToHexStringLower(pub.ToBytes(true)), Convert.ToHexStringLower(id.ToECPubKey().ToBytes(true)));
        Assert.Throws<FormatException>(() => default(NodeId).ToECPubKey());
    }

    [Fact]
    public void CompressedPointParsingRejectsOtherEncodings()
    {
        var pub = KeyA.CreatePubKey();
        Assert.True(Secp256k1Helpers.TryParseCompressedPoint(pub.ToBytes(true), out var parsed));
        Assert.Equal(Convert.ToHexStringLower(pub.ToBytes(true)), Convert.ToHexStringLower(parsed.ToBytes(true)));
        Assert.False(Secp256k1Helpers.TryParseCompressedPoint(pub.ToBytes(false), out _));
        var wrongPrefix = pub.ToBytes(true);
        wrongPrefix[0] = 4;
        Assert.False(Secp256k1Helpers.TryParseCompressedPoint(wrongPrefix, out _));
        Assert.False(Secp256k1Helpers.TryParseCompressedPoint(pub.ToBytes(true).AsSpan(0, 32), out _));
        // x = 5 has no y on secp256k1: 5^3 + 7 = 132 is not a square mod p (Euler's criterion).
        var offCurve = new byte[33];
        offCurve[0] = 2;
        offCurve[32] = 5;
        Assert.False(Secp256k1Helpers.TryParseCompressedPoint(offCurve, out _));
        Assert.False(NodeId.TryFromBytes(offCurve, out _));
        Assert.Null(SphinxCrypto.TryParsePoint(offCurve));
    }

    [Fact]
    public void OneEcdhServesTransportAndOnion()
    {
        var expected = Secp256k1Helpers.Ecdh(KeyA, KeyB.CreatePubKey());
        Assert.Equal(expected, Secp256k1Helpers.Ecdh(KeyB, KeyA.CreatePubKey()));
        Assert.Equal(new Bytes32(expected), SphinxCrypto.SharedSecret(KeyB.CreatePubKey(), KeyA));
        var shared = KeyB.CreatePubKey().GetSharedPubkey(KeyA).ToBytes(true);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(shared), expected);
    }

    private static string Reason(Action action) => Assert.IsAssignableFrom<WireFormatException>(Record.Exception(action)).Reason;
}
