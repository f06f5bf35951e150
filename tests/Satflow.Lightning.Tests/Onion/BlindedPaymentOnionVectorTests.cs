using System.Text.Json;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Onion.OnionVectorSupport;

namespace Satflow.Lightning.Tests.Onion;

/// <summary><c>bolts/bolt04/blinded-payment-onion-test.json</c>: Alice (clear) then Bob, Carol, Dave, Eve (blinded).</summary>
public sealed class BlindedPaymentOnionVectorTests
{
    private const string File = "bolts/bolt04/blinded-payment-onion-test.json";

    private static JsonElement Root => Load(File);

    private static JsonElement Generate => Root.GetProperty("generate");

    private static JsonElement RouteHop(int i) => Generate.GetProperty("full_route").GetProperty("hops")[i];

    private static JsonElement BlindedHopJson(int i) => Generate.GetProperty("blinded_route").GetProperty("hops")[i];

    private static JsonElement DecryptHop(int i) => Root.GetProperty("decrypt").GetProperty("hops")[i];

    public static TheoryData<int> AllHops => Range(5);

    public static TheoryData<int> BlindedHops => Range(4);

    private static byte[] AssociatedData => Generate.HexOf("associated_data");

    [Fact]
    public void Construct_OnionMatches()
    {
        var hops = Enumerable.Range(0, 5)
            .Select(i => new OnionHop(Pub(RouteHop(i).Str("pubkey")), StripLength(RouteHop(i).HexOf("payload"))))
            .ToList();
        var built = OnionPacket.Create(Priv(Generate.Str("session_key")), hops, AssociatedData);
        Assert.Equal(Generate.Str("onion"), ToHex(built.Packet.ToBytes()));
        Assert.Equal(DecryptHop(0).Str("onion"), Generate.Str("onion"));
    }

    [Fact]
    public void Construct_FromTypedRouteAndAmounts()
    {
        var blinded = Generate.GetProperty("blinded_route");
        var route = new BlindedPath(
            SciddirOrPubkey.FromNodeId(NodeId.Parse(blinded.Str("first_node_id"))),
            NodeId.Parse(blinded.Str("first_path_key")),
            [.. Enumerable.Range(0, 4).Select(i => new BlindedHop(NodeId.Parse(BlindedHopJson(i).Str("blinded_node_id")), BlindedHopJson(i).HexOf("encrypted_data")))]);
        var aliceTlvs = RouteHop(0).GetProperty("tlvs");
        var alice = new PaymentOnionPayload
        {
            ShortChannelId = ShortChannelId.Parse(aliceTlvs.Str("outgoing_channel_id")),
            AmountToForward = new MilliSatoshi(aliceTlvs.GetProperty("amt_to_forward").GetUInt64()),
            OutgoingCltvValue = aliceTlvs.GetProperty("outgoing_cltv_value").GetUInt32(),
        };
        var eveTlvs = RouteHop(4).GetProperty("tlvs");
        var hops = BlindedPaymentRoute.BuildHops(
            [(Pub(RouteHop(0).Str("pubkey")), alice)],
            route,
            new MilliSatoshi(Generate.GetProperty("final_amount_msat").GetUInt64()),
            new MilliSatoshi(eveTlvs.GetProperty("total_amount_msat").GetUInt64()),
            Generate.GetProperty("final_cltv").GetUInt32());
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(RouteHop(i).Str("pubkey"), PubHex(hops[i].PublicKey));
            Assert.Equal(ToHex(StripLength(RouteHop(i).HexOf("payload"))), ToHex(hops[i].Payload.Span));
        }
        Assert.Equal(Generate.Str("onion"), ToHex(OnionPacket.Create(Priv(Generate.Str("session_key")), hops, AssociatedData).Packet.ToBytes()));
    }

    [Theory]
    [MemberData(nameof(AllHops))]
    public void Payload_DecodesToTheVectorFieldsAndReencodes(int index)
    {
        var raw = StripLength(RouteHop(index).HexOf("payload"));
        var payload = PaymentOnionPayload.Decode(raw);
        Assert.Equal(ToHex(raw), ToHex(payload.Encode()));
        var tlvs = RouteHop(index).GetProperty("tlvs");
        if (tlvs.TryGetProperty("amt_to_forward", out var amount))
        {
            Assert.Equal(new MilliSatoshi(amount.GetUInt64()), payload.AmountToForward);
        }
        if (tlvs.TryGetProperty("outgoing_cltv_value", out var cltv))
        {
            Assert.Equal(cltv.GetUInt32(), payload.OutgoingCltvValue);
        }
        if (tlvs.TryGetProperty("outgoing_channel_id", out var scid))
        {
            Assert.Equal(ShortChannelId.Parse(scid.GetString()!), payload.ShortChannelId);
        }
        if (tlvs.TryGetProperty("total_amount_msat", out var total))
        {
            Assert.Equal(new MilliSatoshi(total.GetUInt64()), payload.TotalAmount);
        }
        if (tlvs.TryGetProperty("current_path_key", out var pathKey))
        {
            Assert.Equal(pathKey.GetString(), PubHex(payload.CurrentPathKey!));
        }
        if (index == 0)
        {
            payload.ValidateUnblinded(isFinal: false);
            Assert.Null(payload.EncryptedRecipientData);
        }
        else
        {
            payload.ValidateBlinded(isFinal: index == 4);
            Assert.Equal(BlindedHopJson(index - 1).Str("encrypted_data"), ToHex(payload.EncryptedRecipientData!.Value.Span));
        }
    }

    [Theory]
    [MemberData(nameof(BlindedHops))]
    public void BlindedRoute_EncryptedDataRecreatedFromFields(int index)
    {
        // Bob->Carol was blinded with session key 0x02.., Dave->Eve with 0x01.. (as in route-blinding-test.json).
        var first = index < 2 ? 0 : 2;
        ECPubKey NodeId(int blindedIndex) => Priv(DecryptHop(blindedIndex + 1).Str("node_privkey")).CreatePubKey();
        ReadOnlyMemory<byte> Tlv(int blindedIndex) =>
            VectorTlvs.EncryptedData(RouteHop(blindedIndex + 1).GetProperty("tlvs").GetProperty("encrypted_recipient_data")).Encode();
        var session = Priv(index < 2 ? "0202020202020202020202020202020202020202020202020202020202020202" : "0101010101010101010101010101010101010101010101010101010101010101");
        var created = RouteBlinding.Create(session, [NodeId(first), NodeId(first + 1)], [Tlv(first), Tlv(first + 1)]);
        var hop = created.Route.Hops[index - first];
        Assert.Equal(BlindedHopJson(index).Str("blinded_node_id"), PubHex(hop.BlindedNodeId));
        Assert.Equal(BlindedHopJson(index).Str("encrypted_data"), ToHex(hop.EncryptedRecipientData));
        if (index == 0)
        {
            Assert.Equal(Generate.GetProperty("blinded_route").Str("first_path_key"), PubHex(created.Route.FirstPathKey));
            Assert.Equal(Generate.GetProperty("blinded_route").Str("first_node_id"), created.Route.FirstNodeId.NodeId!.Value.ToString());
        }
    }

    [Theory]
    [MemberData(nameof(AllHops))]
    public void Decrypt_EachHopPeelsAndForwards(int index)
    {
        var hop = DecryptHop(index);
        var key = Priv(hop.Str("node_privkey"));
        var packet = OnionPacket.ParsePayment(hop.HexOf("onion"));
        // Carol, Dave and Eve receive the path key in update_add_htlc: it is the previous hop's next_path_key.
        ECPubKey? incomingPathKey = index >= 2 ? Pub(DecryptHop(index - 1).Str("next_path_key")) : null;
        var peeled = packet.Peel(key, AssociatedData, incomingPathKey);
        Assert.Equal(ToHex(StripLength(RouteHop(index).HexOf("payload"))), ToHex(peeled.Payload.Span));
        Assert.Equal(index == 4, peeled.IsFinal);
        if (index < 4)
        {
            Assert.Equal(DecryptHop(index + 1).Str("onion"), ToHex(peeled.NextPacket!.ToBytes()));
        }
        if (index == 0)
        {
            return;
        }
        var payload = PaymentOnionPayload.Decode(peeled.Payload.Span);
        var pathKey = incomingPathKey ?? payload.CurrentPathKey!;
        var recipient = RouteBlinding.Decrypt(key, pathKey, payload.EncryptedRecipientData!.Value.Span);
        Assert.Equal(hop.Str("next_path_key"), PubHex(recipient.NextPathKey));
        var expected = VectorTlvs.EncryptedData(RouteHop(index).GetProperty("tlvs").GetProperty("encrypted_recipient_data"));
        Assert.Equal(ToHex(expected.Encode()), ToHex(recipient.Plaintext.Span));
    }

    [Fact]
    public void Decrypt_BlindedHopWithoutPathKeyFailsHmac()
    {
        var packet = OnionPacket.ParsePayment(DecryptHop(2).HexOf("onion"));
        var error = Assert.Throws<OnionException>(() => packet.Peel(Priv(DecryptHop(2).Str("node_privkey")), AssociatedData));
        Assert.Equal(FailureCode.InvalidOnionHmac, error.FailureCode);
    }

    [Fact]
    public void PayInfo_AggregatesTheRelays()
    {
        var relays = Enumerable.Range(1, 3)
            .Select(i => VectorTlvs.EncryptedData(RouteHop(i).GetProperty("tlvs").GetProperty("encrypted_recipient_data")).PaymentRelay!)
            .ToList();
        var payInfo = BlindedPayInfo.Aggregate(relays, 0);
        var expected = Generate.GetProperty("blinded_payinfo");
        Assert.Equal(new MilliSatoshi(expected.GetProperty("fee_base_msat").GetUInt64()), payInfo.FeeBase);
        Assert.Equal(expected.GetProperty("fee_proportional_millionths").GetUInt32(), payInfo.FeeProportionalMillionths);
        Assert.Equal(expected.GetProperty("cltv_expiry_delta").GetUInt32(), payInfo.CltvExpiryDelta);
        // The sender pays the final amount plus the aggregated fee to the introduction node.
        var final = Generate.GetProperty("final_amount_msat").GetUInt64();
        var toIntroduction = final + payInfo.FeeBase.Value + (final * payInfo.FeeProportionalMillionths / 1_000_000);
        Assert.Equal(RouteHop(0).GetProperty("tlvs").GetProperty("amt_to_forward").GetUInt64(), toIntroduction);
        Assert.Equal(RouteHop(0).GetProperty("tlvs").GetProperty("outgoing_cltv_value").GetUInt32(),
            Generate.GetProperty("final_cltv").GetUInt32() + payInfo.CltvExpiryDelta);
        // Each blinded hop derives what to forward from its payment_relay; the final node gets at least the final amount.
        var amount = new MilliSatoshi(toIntroduction);
        var cltv = Generate.GetProperty("final_cltv").GetUInt32() + payInfo.CltvExpiryDelta;
        for (var i = 1; i <= 3; i++)
        {
            var data = VectorTlvs.EncryptedData(RouteHop(i).GetProperty("tlvs").GetProperty("encrypted_recipient_data"));
            data.ValidateForPayment(isFinal: false, amount, cltv);
            (amount, cltv) = data.ForwardingValues(amount, cltv);
        }
        Assert.True(amount >= new MilliSatoshi(final));
        Assert.Equal(Generate.GetProperty("final_cltv").GetUInt32(), cltv);
        var eve = VectorTlvs.EncryptedData(RouteHop(4).GetProperty("tlvs").GetProperty("encrypted_recipient_data"));
        eve.ValidateForPayment(isFinal: true, amount, cltv);
        Assert.Equal(FailureCode.InvalidOnionBlinding,
            Assert.Throws<OnionException>(() => eve.ValidateForPayment(isFinal: true, new MilliSatoshi(49), cltv)).FailureCode);
        Assert.Equal(FailureCode.InvalidOnionBlinding,
            Assert.Throws<OnionException>(() => eve.ValidateForPayment(isFinal: true, amount, 750_001)).FailureCode);
        Assert.Equal(FailureCode.InvalidOnionBlinding,
            Assert.Throws<OnionException>(() => eve.ValidateForPayment(isFinal: false, amount, cltv)).FailureCode);
    }
}
