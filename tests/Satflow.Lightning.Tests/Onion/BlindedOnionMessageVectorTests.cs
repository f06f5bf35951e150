using System.Text.Json;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Wire;
using static Satflow.Lightning.Tests.Onion.OnionVectorSupport;

namespace Satflow.Lightning.Tests.Onion;

/// <summary><c>bolts/bolt04/blinded-onion-message-onion-test.json</c>: an onion message Alice→Bob→Carol→Dave joining Dave's blinded path.</summary>
public sealed class BlindedOnionMessageVectorTests
{
    private const string File = "bolts/bolt04/blinded-onion-message-onion-test.json";

    private static JsonElement Root => Load(File);

    private static JsonElement GenHop(int i) => Root.GetProperty("generate").GetProperty("hops")[i];

    private static JsonElement RouteHop(int i) => Root.GetProperty("route").GetProperty("hops")[i];

    private static JsonElement DecryptHop(int i) => Root.GetProperty("decrypt").GetProperty("hops")[i];

    public static TheoryData<int> Hops => Range(4);

    private static ECPubKey NodeId(int i) => Priv(DecryptHop(i).Str("privkey")).CreatePubKey();

    private static BlindedRouteCreation CreateHop(int i) =>
        RouteBlinding.Create(Priv(GenHop(i).Str("path_key_secret")), [NodeId(i)], [GenHop(i).HexOf("encrypted_data_tlv")]);

    [Theory]
    [MemberData(nameof(Hops))]
    public void Generate_EncryptedDataTlvFromFields(int index)
    {
        var tlv = VectorTlvs.EncryptedData(GenHop(index).GetProperty("tlvs"));
        Assert.Equal(GenHop(index).Str("encrypted_data_tlv"), ToHex(tlv.Encode()));
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Generate_SharedSecretBlindingAndPathKeys(int index)
    {
        var hop = GenHop(index);
        var created = CreateHop(index);
        var secrets = created.Secrets[0];
        Assert.Equal(hop.Str("E"), PubHex(secrets.PathKey));
        Assert.Equal(hop.B32("ss"), secrets.SharedSecret);
        Assert.Equal(hop.B32("HMAC256('blinded_node_id', ss)"), SphinxCrypto.GenerateKey(SphinxCrypto.BlindedNodeId, secrets.SharedSecret));
        Assert.Equal(hop.B32("H(E || ss)"), SphinxCrypto.BlindingFactor(secrets.PathKey, secrets.SharedSecret));
        Assert.Equal(hop.B32("rho"), secrets.Rho);
        // next_e is the next private path key: its point is the next path key E(i+1).
        Assert.Equal(PubHex(Priv(hop.Str("next_e")).CreatePubKey()), PubHex(RouteBlinding.NextPathKey(secrets.PathKey, secrets.SharedSecret)));
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Generate_BlindedNodeIdAndEncryptedRecipientData(int index)
    {
        var hop = CreateHop(index).Route.Hops[0];
        Assert.Equal(GenHop(index).Str("blinded_node_id"), PubHex(hop.BlindedNodeId));
        Assert.Equal(GenHop(index).Str("encrypted_recipient_data"), ToHex(hop.EncryptedRecipientData));
        Assert.Equal(RouteHop(index).Str("encrypted_recipient_data"), ToHex(hop.EncryptedRecipientData));
    }

    [Fact]
    public void Route_DavesPathPrependedWithAlice()
    {
        var alice = CreateHop(0);
        var bobToDave = RouteBlinding.Create(Priv(GenHop(1).Str("path_key_secret")), [NodeId(1), NodeId(2), NodeId(3)],
            [GenHop(1).HexOf("encrypted_data_tlv"), GenHop(2).HexOf("encrypted_data_tlv"), GenHop(3).HexOf("encrypted_data_tlv")]);
        // Alice's data overrides the next path key with the first path key of Dave's path.
        Assert.Equal(GenHop(0).GetProperty("tlvs").Str("next_path_key_override"), PubHex(bobToDave.Route.FirstPathKey));
        var route = new Types.BlindedPath(alice.Route.FirstNodeId, alice.Route.FirstPathKey, [.. alice.Route.Hops, .. bobToDave.Route.Hops]);
        Assert.Equal(Root.GetProperty("route").Str("first_node_id"), route.FirstNodeId.NodeId!.Value.ToString());
        Assert.Equal(Root.GetProperty("route").Str("first_path_key"), PubHex(route.FirstPathKey));
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(RouteHop(i).Str("blinded_node_id"), PubHex(route.Hops[i].BlindedNodeId));
            Assert.Equal(RouteHop(i).Str("encrypted_recipient_data"), ToHex(route.Hops[i].EncryptedRecipientData));
        }
    }

    private static OnionMessage BuildMessage()
    {
        var hops = new List<OnionHop>();
        for (var i = 0; i < 4; i++)
        {
            var payload = new OnionMessagePayload
            {
                EncryptedRecipientData = RouteHop(i).HexOf("encrypted_recipient_data"),
                UnknownRecords = i == 3 ? [new TlvRecord(1, Root.GetProperty("onionmessage").HexOf("unknown_tag_1"))] : [],
            };
            hops.Add(new OnionHop(Pub(RouteHop(i).Str("blinded_node_id")), payload.Encode()));
        }
        return OnionMessage.Create(Priv(Root.GetProperty("generate").Str("session_key")), Pub(Root.GetProperty("route").Str("first_path_key")), hops);
    }

    [Fact]
    public void OnionMessage_PacketMatches()
    {
        var message = BuildMessage();
        Assert.Equal(Root.GetProperty("onionmessage").Str("onion_message_packet"), ToHex(message.Packet.ToBytes()));
        Assert.Equal(OnionPacket.PaymentPacketLength, message.Packet.Length);
    }

    [Fact]
    public void OnionMessage_WireMessageMatchesAliceInput()
    {
        Assert.Equal(DecryptHop(0).Str("onion_message"), ToHex(BuildMessage().Encode()));
    }

    [Theory]
    [MemberData(nameof(Hops))]
    public void Decrypt_EachHop(int index)
    {
        var hop = DecryptHop(index);
        var message = OnionMessage.Decode(hop.HexOf("onion_message"));
        Assert.Equal(hop.Str("onion_message"), ToHex(message.Encode()));
        var received = message.Receive(Priv(hop.Str("privkey")));
        Assert.Equal(index == 3, received.IsFinal);
        Assert.Equal(GenHop(index).Str("encrypted_data_tlv"), ToHex(received.RecipientData.Plaintext.Span));
        if (index < 3)
        {
            Assert.Equal(hop.Str("next_node_id"), received.NextNodeId!.Value.ToString());
            Assert.Equal(DecryptHop(index + 1).Str("onion_message"), ToHex(received.NextMessage!.Encode()));
            Assert.Empty(received.Payload.UnknownRecords);
        }
        else
        {
            var tlvs = hop.GetProperty("tlvs");
            var unknown = Assert.Single(received.Payload.UnknownRecords);
            Assert.Equal(1ul, unknown.Type);
            Assert.Equal(tlvs.Str("unknown_tag_1"), ToHex(unknown.Value.Span));
            Assert.Equal(tlvs.Str("encrypted_recipient_data"), ToHex(received.Payload.EncryptedRecipientData!.Value.Span));
            Assert.Equal("deadbeefbadc0ffeedeadbeefbadc0ffeedeadbeefbadc0ffeedeadbeefbadc0", ToHex(received.RecipientData.Data.PathId!.Value.Span));
        }
    }

    [Fact]
    public void ReplyPath_RoundTripsInsideThePayload()
    {
        var route = RouteBlinding.Create(Priv(GenHop(1).Str("path_key_secret")), [NodeId(1), NodeId(2)],
            [GenHop(1).HexOf("encrypted_data_tlv"), GenHop(2).HexOf("encrypted_data_tlv")]).Route;
        var payload = new OnionMessagePayload { ReplyPath = route, InvoiceRequest = new byte[] { 0x00, 0x01, 0xaa } };
        var decoded = OnionMessagePayload.Decode(payload.Encode());
        Assert.Equal(ToHex(route.ToBytes()), ToHex(decoded.ReplyPath!.ToBytes()));
        Assert.Equal("0001aa", ToHex(decoded.InvoiceRequest!.Value.Span));
        var viaChannel = new Types.BlindedPath(Types.SciddirOrPubkey.FromShortChannelId(new Types.ShortChannelId(1, 2, 3), 1), route.FirstPathKey, route.Hops);
        var parsed = Types.BlindedPath.Parse(viaChannel.ToBytes());
        Assert.Equal(new Types.ShortChannelId(1, 2, 3), parsed.FirstNodeId.ShortChannelId);
        Assert.Equal((byte)1, parsed.FirstNodeId.Direction);
    }

    [Fact]
    public void LargeMessagesUseThe32768ByteSize()
    {
        var hops = new List<OnionHop>
        {
            new(NodeId(0), new OnionMessagePayload { EncryptedRecipientData = new byte[32], Invoice = new byte[2000] }.Encode()),
        };
        var message = OnionMessage.Create(Priv(Root.GetProperty("generate").Str("session_key")), NodeId(1), hops);
        Assert.Equal(32834, message.Packet.Length);
        Assert.Equal(32834, OnionMessage.Decode(message.Encode()).Packet.Length);
    }

    [Fact]
    public void Receive_ForwardingHopWithExtraFieldsIsIgnored()
    {
        var hops = new List<OnionHop>();
        for (var i = 0; i < 2; i++)
        {
            var payload = new OnionMessagePayload
            {
                EncryptedRecipientData = RouteHop(i).HexOf("encrypted_recipient_data"),
                Invoice = i == 0 ? new byte[] { 1 } : (ReadOnlyMemory<byte>?)null,
            };
            hops.Add(new OnionHop(Pub(RouteHop(i).Str("blinded_node_id")), payload.Encode()));
        }
        var message = OnionMessage.Create(Priv(Root.GetProperty("generate").Str("session_key")), Pub(Root.GetProperty("route").Str("first_path_key")), hops);
        var error = Assert.Throws<OnionException>(() => message.Receive(Priv(DecryptHop(0).Str("privkey"))));
        Assert.Contains("ignored", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Receive_WrongPathKeyFails()
    {
        var message = OnionMessage.Decode(DecryptHop(1).HexOf("onion_message"));
        var wrong = message with { PathKey = Pub(Root.GetProperty("route").Str("first_path_key")) };
        Assert.Equal(FailureCode.InvalidOnionHmac, Assert.Throws<OnionException>(() => wrong.Receive(Priv(DecryptHop(1).Str("privkey")))).FailureCode);
    }
}
