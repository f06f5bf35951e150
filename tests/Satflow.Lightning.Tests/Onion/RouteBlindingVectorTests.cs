using System.Text.Json;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using static Satflow.Lightning.Tests.Onion.OnionVectorSupport;

namespace Satflow.Lightning.Tests.Onion;

/// <summary><c>bolts/bolt04/route-blinding-test.json</c>: Bob→Carol blinded by Bob, joined to Dave→Eve blinded by Eve.</summary>
public sealed class RouteBlindingVectorTests
{
    private const string File = "bolts/bolt04/route-blinding-test.json";

    private static JsonElement Root => Load(File);

    private static JsonElement GenHop(int i) => Root.GetProperty("generate").GetProperty("hops")[i];

    private static JsonElement UnblindHop(int i) => Root.GetProperty("unblind").GetProperty("hops")[i];

    public static TheoryData<int> Hops => Range(4);

    /// <summary>Creates the two routes as their authors did: hops 0-1 with Bob's session key, hops 2-3 with Eve's.</summary>
    private static (BlindedRouteCreation BobCarol, BlindedRouteCreation DaveEve) CreateRoutes()
    {
        BlindedRouteCreation Part(int from) => RouteBlinding.Create(
            Priv(GenHop(from).Str("session_key")),
            [Pub(GenHop(from).Str("node_id")), Pub(GenHop(from + 1).Str("node_id"))],
            [GenHop(from).HexOf("encoded_tlvs"), GenHop(from + 1).HexOf("encoded_tlvs")]);
        return (Part(0), Part(2));
    }

    private static (BlindedHopSecrets Secrets, BlindedHop Hop) Created(int index)
    {
        var (bobCarol, daveEve) = CreateRoutes();
        var part = index < 2 ? bobCarol : daveEve;
        return (part.Secrets[index % 2], part.Route.Hops[index % 2]);
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Generate_EncodedTlvsFromFields(int index)
    {
        var tlv = VectorTlvs.EncryptedData(GenHop(index).GetProperty("tlvs"));
        Assert.Equal(GenHop(index).Str("encoded_tlvs"), ToHex(tlv.Encode()));
        Assert.Equal(GenHop(index).Str("encoded_tlvs"), ToHex(EncryptedDataTlv.Decode(GenHop(index).HexOf("encoded_tlvs")).Encode()));
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Generate_PathKeySharedSecretAndRho(int index)
    {
        var (secrets, _) = Created(index);
        Assert.Equal(GenHop(index).Str("path_key"), PubHex(secrets.PathKey));
        Assert.Equal(GenHop(index).Str("path_key"), PubHex(Priv(GenHop(index).Str("path_privkey")).CreatePubKey()));
        Assert.Equal(GenHop(index).B32("shared_secret"), secrets.SharedSecret);
        Assert.Equal(GenHop(index).B32("rho"), secrets.Rho);
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Generate_BlindedNodeIdAndEncryptedData(int index)
    {
        var (_, hop) = Created(index);
        Assert.Equal(GenHop(index).Str("blinded_node_id"), PubHex(hop.BlindedNodeId));
        Assert.Equal(GenHop(index).Str("encrypted_data"), ToHex(hop.EncryptedRecipientData));
    }

    [Fact]
    public void Route_ConcatenationMatchesAndRoundTrips()
    {
        var (bobCarol, daveEve) = CreateRoutes();
        var route = new BlindedPath(bobCarol.Route.FirstNodeId, bobCarol.Route.FirstPathKey, [.. bobCarol.Route.Hops, .. daveEve.Route.Hops]);
        var expected = Root.GetProperty("route");
        Assert.Equal(expected.Str("first_node_id"), route.FirstNodeId.NodeId!.Value.ToString());
        Assert.Equal(expected.Str("first_path_key"), PubHex(route.FirstPathKey));
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(expected.GetProperty("hops")[i].Str("blinded_node_id"), PubHex(route.Hops[i].BlindedNodeId));
            Assert.Equal(expected.GetProperty("hops")[i].Str("encrypted_data"), ToHex(route.Hops[i].EncryptedRecipientData));
        }
        // Carol's override points at the first path key of Eve's route.
        Assert.Equal(GenHop(1).GetProperty("tlvs").Str("next_path_key_override"), PubHex(daveEve.Route.FirstPathKey));
        var bytes = route.ToBytes();
        var parsed = BlindedPath.Parse(bytes);
        Assert.Equal(ToHex(bytes), ToHex(parsed.ToBytes()));
        Assert.Equal(4, parsed.Hops.Count);
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Unblind_BlindedPrivateKey(int index)
    {
        var hop = UnblindHop(index);
        var blinded = RouteBlinding.DeriveBlindedPrivateKey(Priv(hop.Str("node_privkey")), Pub(hop.Str("path_key")));
        Assert.Equal(hop.Str("blinded_privkey"), ToHex(SphinxCrypto.PrivateKeyBytes(blinded)));
        Assert.Equal(Root.GetProperty("route").GetProperty("hops")[index].Str("blinded_node_id"), PubHex(blinded.CreatePubKey()));
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Unblind_DecryptedDataAndNextPathKey(int index)
    {
        var hop = UnblindHop(index);
        var encrypted = Root.GetProperty("route").GetProperty("hops")[index].HexOf("encrypted_data");
        var result = RouteBlinding.Decrypt(Priv(hop.Str("node_privkey")), Pub(hop.Str("path_key")), encrypted);
        Assert.Equal(hop.Str("decrypted_data"), ToHex(result.Plaintext.Span));
        Assert.Equal(hop.Str("next_path_key"), PubHex(result.ComputedNextPathKey));
        var expectedNext = hop.TryGetProperty("next_path_key_override", out var o) ? o.GetString()! : hop.Str("next_path_key");
        Assert.Equal(expectedNext, PubHex(result.NextPathKey));
        Assert.Equal(hop.Str("decrypted_data"), ToHex(result.Data.Encode()));
        if (index + 1 < 4)
        {
            Assert.Equal(UnblindHop(index + 1).Str("path_key"), PubHex(result.NextPathKey));
        }
    }

    [Fact]
    public void Unblind_DecodedFields()
    {
        var bob = EncryptedDataTlv.Decode(UnblindHop(0).HexOf("decrypted_data"));
        Assert.Equal("0x0x1729", bob.ShortChannelId!.Value.ToString());
        Assert.Equal(new PaymentRelay(36, 150, new Types.MilliSatoshi(10000)), bob.PaymentRelay);
        Assert.Equal(new PaymentConstraints(748005, new Types.MilliSatoshi(1500)), bob.PaymentConstraints);
        Assert.True(bob.AllowedFeatures!.IsEmpty);
        Assert.Equal(561ul, Assert.Single(bob.UnknownRecords).Type);
        var eve = EncryptedDataTlv.Decode(UnblindHop(3).HexOf("decrypted_data"));
        Assert.Equal("deadbeef", ToHex(eve.PathId!.Value.Span));
        Assert.True(eve.AllowedFeatures!.IsSet(113));
        Assert.Equal(65535ul, Assert.Single(eve.UnknownRecords).Type);
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Unblind_WrongKeyOrTamperedDataIsInvalidOnionBlinding(int index)
    {
        var hop = UnblindHop(index);
        var encrypted = Root.GetProperty("route").GetProperty("hops")[index].HexOf("encrypted_data");
        var wrong = Priv(UnblindHop((index + 1) % 4).Str("node_privkey"));
        Assert.Equal(FailureCode.InvalidOnionBlinding,
            Assert.Throws<OnionException>(() => RouteBlinding.Decrypt(wrong, Pub(hop.Str("path_key")), encrypted)).FailureCode);
        encrypted[5] ^= 1;
        var error = Assert.Throws<OnionException>(() => RouteBlinding.Decrypt(Priv(hop.Str("node_privkey")), Pub(hop.Str("path_key")), encrypted));
        Assert.Equal(FailureCode.InvalidOnionBlinding, error.FailureCode);
        Assert.IsAssignableFrom<WireFormatException>(error);
    }
}
