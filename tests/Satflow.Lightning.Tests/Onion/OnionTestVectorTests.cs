using System.Text.Json;
using Satflow.Lightning.Onion;
using static Satflow.Lightning.Tests.Onion.OnionVectorSupport;

namespace Satflow.Lightning.Tests.Onion;

/// <summary><c>bolts/bolt04/onion-test.json</c>: a 5-hop payment onion with variable-length payloads.</summary>
public sealed class OnionTestVectorTests
{
    private const string File = "bolts/bolt04/onion-test.json";

    private static JsonElement Root => Load(File);

    private static JsonElement Hop(int i) => Root.GetProperty("generate").GetProperty("hops")[i];

    public static TheoryData<int> Hops => Range(5);

    private static OnionConstruction Build()
    {
        var generate = Root.GetProperty("generate");
        var hops = new List<OnionHop>();
        foreach (var hop in generate.GetProperty("hops").EnumerateArray())
        {
            hops.Add(new OnionHop(Pub(hop.Str("pubkey")), StripLength(hop.HexOf("payload"))));
        }
        return OnionPacket.Create(Priv(generate.Str("session_key")), hops, generate.HexOf("associated_data"));
    }

    [Fact]
    public void Construct_ProducesTheVectorOnion()
    {
        var built = Build();
        Assert.Equal(Root.Str("onion"), ToHex(built.Packet.ToBytes()));
        Assert.Equal(OnionPacket.PaymentPacketLength, built.Packet.Length);
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Peel_EachHopRecoversItsPayload(int index)
    {
        var associatedData = Root.GetProperty("generate").HexOf("associated_data");
        var packet = OnionPacket.ParsePayment(Root.HexOf("onion"));
        var secrets = Build().SharedSecrets;
        PeeledOnion? peeled = null;
        for (var i = 0; i <= index; i++)
        {
            peeled = packet.Peel(Priv(Root.GetProperty("decode")[i].GetString()!), associatedData);
            if (i < index)
            {
                Assert.NotNull(peeled.NextPacket);
                packet = peeled.NextPacket!;
                // The forwarded onion re-serializes and re-parses to the same bytes.
                Assert.Equal(packet.ToBytes(), OnionPacket.ParsePayment(packet.ToBytes()).ToBytes());
            }
        }
        Assert.Equal(StripLength(Hop(index).HexOf("payload")), peeled!.Payload.ToArray());
        Assert.Equal(secrets[index], peeled.SharedSecret);
        Assert.Equal(index == 4, peeled.IsFinal);
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Peel_WrongKeyIsInvalidHmac(int index)
    {
        var associatedData = Root.GetProperty("generate").HexOf("associated_data");
        var packet = OnionPacket.ParsePayment(Root.HexOf("onion"));
        for (var i = 0; i < index; i++)
        {
            packet = packet.Peel(Priv(Root.GetProperty("decode")[i].GetString()!), associatedData).NextPacket!;
        }
        var wrongKey = Priv(Root.GetProperty("decode")[(index + 1) % 5].GetString()!);
        var error = Assert.Throws<OnionException>(() => packet.Peel(wrongKey, associatedData));
        Assert.Equal(FailureCode.InvalidOnionHmac, error.FailureCode);
        Assert.Equal(packet.ComputeSha256(), error.Sha256OfOnion);
    }

    [Fact]
    public void Peel_WrongAssociatedDataIsInvalidHmac()
    {
        var packet = OnionPacket.ParsePayment(Root.HexOf("onion"));
        var error = Assert.Throws<OnionException>(() => packet.Peel(Priv(Root.GetProperty("decode")[0].GetString()!), new byte[32]));
        Assert.Equal(FailureCode.InvalidOnionHmac, error.FailureCode);
        Assert.True(error.FailureCode.IsBadOnion);
        Assert.Equal(FailureCode.InvalidOnionHmac, error.ToFailureMessage().Code);
        Assert.Equal(error.Sha256OfOnion, error.ToFailureMessage().Sha256OfOnion);
    }

    [Fact]
    public void Peel_BadVersionAndBadKey()
    {
        var key = Priv(Root.GetProperty("decode")[0].GetString()!);
        var bytes = Root.HexOf("onion");
        bytes[0] = 1;
        var version = Assert.Throws<OnionException>(() => OnionPacket.ParsePayment(bytes).Peel(key, []));
        Assert.Equal(FailureCode.InvalidOnionVersion, version.FailureCode);
        Assert.Equal(OnionPacket.ParsePayment(bytes).ComputeSha256(), version.Sha256OfOnion);
        bytes = Root.HexOf("onion");
        bytes[1] = 4;
        var badKey = Assert.Throws<OnionException>(() => OnionPacket.ParsePayment(bytes).Peel(key, []));
        Assert.Equal(FailureCode.InvalidOnionKey, badKey.FailureCode);
        Assert.Throws<OnionException>(() => OnionPacket.ParsePayment(bytes.AsSpan(0, 1365)));
    }
}
