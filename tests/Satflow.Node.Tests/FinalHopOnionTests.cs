using CsCheck;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using Satflow.Node.Payments;

namespace Satflow.Node.Tests;

public sealed class FinalHopOnionTests
{
    private static readonly ECPrivKey NodeKey = ECPrivKey.Create(Enumerable.Repeat((byte)0x42, 32).ToArray());
    private static readonly NodeId Node = NodeId.FromECPubKey(NodeKey.CreatePubKey());
    private static readonly PaymentHash Hash = new PaymentPreimage(new Bytes32(Enumerable.Repeat((byte)7, 32).ToArray())).Hash;

    private static void Counter(Span<byte> buffer)
    {
        for (var i = 0; i < buffer.Length; i++)
        {
            buffer[i] = (byte)(i + 1);
        }
    }

    [Fact]
    public void Invoice_payment_onion_peels_to_amount_cltv_and_secret()
    {
        var secret = new PaymentSecret(new Bytes32(Enumerable.Repeat((byte)9, 32).ToArray()));
        var (onion, shared) = FinalHopOnion.Create(Node, Hash, new MilliSatoshi(123_456), 500, secret, null, Counter);
        Assert.Equal(OnionPacket.PaymentPacketLength, onion.Length);

        var peeled = FinalHopOnion.Peel(NodeKey, Hash, onion);
        Assert.Equal(new MilliSatoshi(123_456), peeled.Payload.AmountToForward);
        Assert.Equal(500u, peeled.Payload.OutgoingCltvValue);
        Assert.Equal(secret, peeled.Payload.PaymentData!.PaymentSecret);
        Assert.Equal(new MilliSatoshi(123_456), peeled.Payload.PaymentData.TotalAmount);
        Assert.Null(peeled.Payload.KeysendPreimage);
        Assert.Equal(shared, peeled.SharedSecret);
    }

    [Fact]
    public void Keysend_onion_carries_the_preimage_in_tlv_5482373484()
    {
        var preimage = new PaymentPreimage(new Bytes32(Enumerable.Repeat((byte)7, 32).ToArray()));
        var (onion, _) = FinalHopOnion.Create(Node, Hash, new MilliSatoshi(1000), 144, null, preimage, Counter);
        var peeled = FinalHopOnion.Peel(NodeKey, Hash, onion);
        Assert.Equal(preimage, peeled.Payload.KeysendPreimage);
        Assert.Null(peeled.Payload.PaymentData);
    }

    [Fact]
    public void An_onion_bound_to_another_payment_hash_fails_its_hmac()
    {
        var (onion, _) = FinalHopOnion.Create(Node, Hash, new MilliSatoshi(1000), 144, null, null, Counter);
        var other = new PaymentPreimage(new Bytes32(Enumerable.Repeat((byte)8, 32).ToArray())).Hash;
        var e = Assert.Throws<OnionException>(() => FinalHopOnion.Peel(NodeKey, other, onion));
        Assert.Equal(FailureCode.InvalidOnionHmac, e.FailureCode);
    }

    [Fact]
    public void A_failure_encrypted_with_the_peeled_secret_opens_with_the_senders_secret()
    {
        var (onion, shared) = FinalHopOnion.Create(Node, Hash, new MilliSatoshi(1000), 144, null, null, Counter);
        var peeled = FinalHopOnion.Peel(NodeKey, Hash, onion);
        var packet = FailurePacket.Create(peeled.SharedSecret, FailureMessage.IncorrectOrUnknownPaymentDetails(new MilliSatoshi(1000), 101));
        var opened = FailurePacket.TryOpen(packet, shared);
        Assert.NotNull(opened);
        Assert.Equal(FailureCode.IncorrectOrUnknownPaymentDetails, opened!.Code);
    }

    [Fact]
    public void Random_bytes_and_mutated_onions_only_raise_wire_format_errors()
    {
        var (valid, _) = FinalHopOnion.Create(Node, Hash, new MilliSatoshi(5000), 200, null, null, Counter);
        Gen.Byte.Array[0, 1400].Sample(bytes => AssertTyped(bytes), iter: 200);
        Gen.Int[0, valid.Length - 1].Select(Gen.Byte).Sample((position, value) =>
        {
            var mutated = (byte[])valid.Clone();
            mutated[position] ^= (byte)(value | 1);
            AssertTyped(mutated);
        }, iter: 200);
    }

    private static void AssertTyped(byte[] bytes)
    {
        try
        {
            FinalHopOnion.Peel(NodeKey, Hash, bytes);
        }
        catch (WireFormatException)
        {
        }
    }
}
