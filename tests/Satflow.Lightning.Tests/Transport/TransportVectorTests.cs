using System.Text;
using System.Text.Json;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Transport;
using Satflow.Lightning.Types;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Transport;

/// <summary>BOLT 8 Appendix A: initiator and responder handshakes (success and every failure) and message encryption.</summary>
public sealed class TransportVectorTests
{
    private static readonly Lazy<JsonElement> Vectors = new(() =>
    {
        using var doc = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt08-transport.json"));
        return doc.RootElement.Clone();
    });

    public static TheoryData<string> InitiatorCases() => Names("initiator");

    public static TheoryData<string> ResponderCases() => Names("responder");

    public static TheoryData<int> MessageIndexes()
    {
        var data = new TheoryData<int>();
        foreach (var o in Vectors.Value.GetProperty("message_encryption").GetProperty("outputs").EnumerateArray())
        {
            data.Add(o.GetProperty("index").GetInt32());
        }
        return data;
    }

    [Fact]
    public void VectorCounts()
    {
        Assert.Equal(5, Vectors.Value.GetProperty("initiator").GetArrayLength());
        Assert.Equal(10, Vectors.Value.GetProperty("responder").GetArrayLength());
        Assert.Equal(6, Vectors.Value.GetProperty("message_encryption").GetProperty("outputs").GetArrayLength());
    }

    [Theory]
    [MemberData(nameof(InitiatorCases))]
    public void InitiatorMatches(string name)
    {
        var c = Case("initiator", name);
        var handshake = NoiseHandshake.Initiator(Priv(c, "ls_priv"), NodeId.Parse(S(c, "rs_pub")), Priv(c, "e_priv"));
        Assert.Equal(S(c, "ls_pub"), Convert.ToHexStringLower(Priv(c, "ls_priv").CreatePubKey().ToBytes(true)));
        Assert.Equal(S(c, "e_pub"), Convert.ToHexStringLower(Priv(c, "e_priv").CreatePubKey().ToBytes(true)));
        Assert.Equal(S(c, "act_one_output"), Convert.ToHexStringLower(handshake.WriteActOne()));

        var actTwo = Convert.FromHexString(S(c, "act_two_input"));
        if (c.TryGetProperty("error", out var error))
        {
            var ex = Assert.Throws<TransportException>(() => handshake.ReadActTwo(actTwo));
            Assert.Equal(ExpectedReason(error), ex.Reason);
            Assert.Equal(HandshakeState.Failed, handshake.State);
            return;
        }
        Assert.Equal(S(c, "act_three_output"), Convert.ToHexStringLower(handshake.ReadActTwo(actTwo)));
        Assert.Equal(HandshakeState.Complete, handshake.State);
        var (sk, rk, _) = handshake.Keys;
        Assert.Equal(S(c, "sk"), Convert.ToHexStringLower(sk));
        Assert.Equal(S(c, "rk"), Convert.ToHexStringLower(rk));
    }

    [Theory]
    [MemberData(nameof(ResponderCases))]
    public void ResponderMatches(string name)
    {
        var c = Case("responder", name);
        var handshake = NoiseHandshake.Responder(Priv(c, "ls_priv"), Priv(c, "e_priv"));
        var error = c.TryGetProperty("error", out var e) ? ExpectedReason(e) : null;
        var actOne = Convert.FromHexString(S(c, "act_one_input"));
        if (error is not null && error.StartsWith("ACT1", StringComparison.Ordinal))
        {
            var ex = Assert.Throws<TransportException>(() => handshake.ReadActOne(actOne));
            Assert.Equal(error, ex.Reason);
            Assert.Equal(HandshakeState.Failed, handshake.State);
            return;
        }
        Assert.Equal(S(c, "act_two_output"), Convert.ToHexStringLower(handshake.ReadActOne(actOne)));
        var actThree = Convert.FromHexString(S(c, "act_three_input"));
        if (error is not null)
        {
            var ex = Assert.Throws<TransportException>(() => handshake.ReadActThree(actThree));
            Assert.Equal(error, ex.Reason);
            Assert.Equal(HandshakeState.Failed, handshake.State);
            Assert.Null(handshake.RemoteStatic);
            return;
        }
        handshake.ReadActThree(actThree);
        Assert.Equal(HandshakeState.Complete, handshake.State);
        var (sk, rk, _) = handshake.Keys;
        Assert.Equal(S(c, "sk"), Convert.ToHexStringLower(sk));
        Assert.Equal(S(c, "rk"), Convert.ToHexStringLower(rk));
        // The responder learns the initiator's static key (the initiator vector's ls.pub).
        Assert.Equal(S(Case("initiator", "transport-initiator successful handshake"), "ls_pub"), handshake.RemoteStatic!.Value.ToString());
    }

    [Theory]
    [MemberData(nameof(MessageIndexes))]
    public void MessageEncryptionMatches(int index)
    {
        var m = Vectors.Value.GetProperty("message_encryption");
        var expected = m.GetProperty("outputs").EnumerateArray().Single(o => o.GetProperty("index").GetInt32() == index).GetProperty("ciphertext").GetString();
        var plaintext = Encoding.ASCII.GetBytes(S(m, "plaintext"));
        using var sender = LightningTransport.FromKeys(Bytes32.Parse(S(m, "sk")), Bytes32.Parse(S(m, "rk")), Bytes32.Parse(S(m, "ck")));
        // The receiver mirrors the sender: its receiving key is the sender's sending key.
        using var receiver = LightningTransport.FromKeys(Bytes32.Parse(S(m, "rk")), Bytes32.Parse(S(m, "sk")), Bytes32.Parse(S(m, "ck")));
        byte[] frame = [];
        for (var i = 0; i <= index; i++)
        {
            frame = sender.Encrypt(plaintext);
            Assert.Equal(plaintext, receiver.DecryptFrame(frame));
        }
        Assert.Equal(expected, Convert.ToHexStringLower(frame));
    }

    [Fact]
    public void HandshakeKeysMatchTheMessageVectorKeys()
    {
        var i = Case("initiator", "transport-initiator successful handshake");
        var r = Case("responder", "transport-responder successful handshake");
        var initiator = NoiseHandshake.Initiator(Priv(i, "ls_priv"), NodeId.Parse(S(i, "rs_pub")), Priv(i, "e_priv"));
        var responder = NoiseHandshake.Responder(Priv(r, "ls_priv"), Priv(r, "e_priv"));
        responder.ReadActThree(initiator.ReadActTwo(responder.ReadActOne(initiator.WriteActOne())));
        Assert.Equal(S(Vectors.Value.GetProperty("message_encryption"), "ck"), Convert.ToHexStringLower(initiator.Keys.Ck));

        using var a = initiator.CreateTransport();
        using var b = responder.CreateTransport();
        var expected = Vectors.Value.GetProperty("message_encryption").GetProperty("outputs")[0].GetProperty("ciphertext").GetString();
        var frame = a.Encrypt("hello"u8);
        Assert.Equal(expected, Convert.ToHexStringLower(frame));
        Assert.Equal("hello"u8.ToArray(), b.DecryptFrame(frame));
        Assert.Equal("pong"u8.ToArray(), a.DecryptFrame(b.Encrypt("pong"u8)));
    }

    private static string ExpectedReason(JsonElement error) => error.GetString()!.Split(' ')[0];

    private static JsonElement Case(string side, string name) =>
        Vectors.Value.GetProperty(side).EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    private static string S(JsonElement e, string name) => e.GetProperty(name).GetString()!;

    private static ECPrivKey Priv(JsonElement e, string name) => ECPrivKey.Create(Convert.FromHexString(S(e, name)));

    private static TheoryData<string> Names(string side)
    {
        var data = new TheoryData<string>();
        foreach (var c in Vectors.Value.GetProperty(side).EnumerateArray())
        {
            data.Add(c.GetProperty("name").GetString()!);
        }
        return data;
    }
}
