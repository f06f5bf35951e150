using System.Text.Json;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Onion.OnionVectorSupport;

namespace Satflow.Lightning.Tests.Onion;

/// <summary><c>bolts/bolt04/onion-error-test.json</c>: a 256-byte padded failure from hops[4], wrapped back to the origin.</summary>
public sealed class OnionErrorTestVectorTests
{
    private const string File = "bolts/bolt04/onion-error-test.json";

    private static JsonElement Root => Load(File);

    private static JsonElement Hop(int i) => Root.GetProperty("generate").GetProperty("hops")[i];

    public static TheoryData<int> Hops => Range(5);

    private static IReadOnlyList<Bytes32> Secrets()
    {
        // The same route and session key as onion-test.json.
        var generate = Root.GetProperty("generate");
        var hops = generate.GetProperty("hops").EnumerateArray()
            .Select(h => new OnionHop(Pub(h.Str("pubkey")), new byte[] { 2, 0 }))
            .ToList();
        return OnionPacket.Create(Priv(generate.Str("session_key")), hops, []).SharedSecrets;
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void SharedSecretAndAmmagKeyPerHop(int index)
    {
        Assert.Equal(Hop(index).B32("hop_shared_secret"), Secrets()[index]);
        Assert.Equal(Hop(index).B32("ammag_key"), SphinxCrypto.GenerateKey(SphinxCrypto.Ammag, Secrets()[index]));
    }

    [Fact]
    public void ErringNode_UmKeyAndPayload()
    {
        var hop = Hop(4);
        var secret = hop.B32("hop_shared_secret");
        Assert.Equal(hop.B32("um_key"), SphinxCrypto.GenerateKey(SphinxCrypto.Um, secret));
        var packet = FailurePacket.Create(secret, Root.GetProperty("generate").HexOf("failure_message"));
        Assert.Equal(hop.Str("payload"), ToHex(packet.AsSpan(32)));
        Assert.Equal(FailureCode.TemporaryNodeFailure, FailureMessage.Decode(Root.GetProperty("generate").HexOf("failure_message")).Code);
    }

    [Fact]
    public void WrappedAtEveryHop_IsTheVectorErrorPacket()
    {
        var secrets = Secrets();
        var packet = FailurePacket.Create(secrets[4], FailureMessage.Simple(FailureCode.TemporaryNodeFailure));
        for (var i = 4; i >= 0; i--)
        {
            packet = FailurePacket.Wrap(packet, secrets[i]);
        }
        Assert.Equal(Root.Str("errorpacket"), ToHex(packet));
    }

    [Fact]
    public void Origin_DecryptsAndIdentifiesHop4()
    {
        var result = FailurePacket.Decrypt(Root.HexOf("errorpacket"), [], Secrets());
        Assert.True(result.IsDecrypted);
        Assert.Equal(4, result.FailingHopIndex);
        Assert.Equal(FailureCode.TemporaryNodeFailure, result.Message!.Code);
        Assert.Empty(result.HoldTimes);
        Assert.Null(result.AttributionFailedAtHop);
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Origin_WithTruncatedRouteCannotAttribute(int hopsKnown)
    {
        // Only the erring hop's secret makes the HMAC match: with fewer secrets nothing is attributed.
        var secrets = Secrets().Take(hopsKnown).ToList();
        var result = FailurePacket.Decrypt(Root.HexOf("errorpacket"), [], secrets);
        Assert.False(result.IsDecrypted);
        Assert.Null(result.Message);
    }
}
