using NBitcoin.Secp256k1;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.Payments;

/// <summary>What the final hop of a payment found in its onion.</summary>
/// <param name="Payload">The decoded, validated final payload.</param>
/// <param name="SharedSecret">The shared secret (to encrypt a failure back to the payer).</param>
public sealed record FinalHopPayload(PaymentOnionPayload Payload, Bytes32 SharedSecret);

/// <summary>Builds and reads single-hop payment onions (we pay a direct peer; the peer is the final hop).</summary>
public static class FinalHopOnion
{
    /// <summary>Builds the onion of a payment to a direct peer.</summary>
    /// <param name="destination">The peer (final hop).</param>
    /// <param name="paymentHash">The payment hash (the onion's associated data).</param>
    /// <param name="amount">The amount.</param>
    /// <param name="cltvExpiry">The HTLC's absolute CLTV expiry.</param>
    /// <param name="paymentSecret">The invoice's payment secret, or null for keysend.</param>
    /// <param name="keysendPreimage">The keysend preimage (TLV 5482373484), or null for an invoice payment.</param>
    /// <param name="random">Fills the session key.</param>
    /// <returns>The 1366-byte onion and the shared secret to decrypt a failure.</returns>
    public static (byte[] Onion, Bytes32 SharedSecret) Create(NodeId destination, PaymentHash paymentHash, MilliSatoshi amount, uint cltvExpiry, PaymentSecret? paymentSecret, PaymentPreimage? keysendPreimage, RandomFill random)
    {
        ArgumentNullException.ThrowIfNull(random);
        var payload = new PaymentOnionPayload
        {
            AmountToForward = amount,
            OutgoingCltvValue = cltvExpiry,
            PaymentData = paymentSecret is { } secret ? new PaymentData(secret, amount) : null,
            KeysendPreimage = keysendPreimage,
        };
        Span<byte> sessionBytes = stackalloc byte[32];
        ECPrivKey? sessionKey = null;
        while (sessionKey is null)
        {
            random(sessionBytes);
            ECPrivKey.TryCreate(sessionBytes, out sessionKey);
        }
        var construction = OnionPacket.Create(sessionKey, [new OnionHop(destination.ToECPubKey(), payload.Encode())], paymentHash.Value.ToArray());
        return (construction.Packet.ToBytes(), construction.SharedSecrets[0]);
    }

    /// <summary>Peels an incoming HTLC's onion, which must be for us as the final hop.</summary>
    /// <param name="nodeKey">Our node key.</param>
    /// <param name="paymentHash">The HTLC's payment hash.</param>
    /// <param name="onion">The <c>onion_routing_packet</c>.</param>
    /// <exception cref="OnionException">A malformed onion, a bad payload, or an onion asking us to forward.</exception>
    public static FinalHopPayload Peel(ECPrivKey nodeKey, PaymentHash paymentHash, ReadOnlySpan<byte> onion)
    {
        var peeled = PeelPacket(nodeKey, paymentHash, onion);
        return new FinalHopPayload(DecodeFinalPayload(peeled), peeled.SharedSecret);
    }

    /// <summary>Checks and decrypts the packet (BOLT 4 BADONION failures are raised here, before any shared secret exists).</summary>
    /// <param name="nodeKey">Our node key.</param>
    /// <param name="paymentHash">The HTLC's payment hash.</param>
    /// <param name="onion">The <c>onion_routing_packet</c>.</param>
    /// <exception cref="OnionException">A BADONION failure (version, key or HMAC).</exception>
    public static PeeledOnion PeelPacket(ECPrivKey nodeKey, PaymentHash paymentHash, ReadOnlySpan<byte> onion)
    {
        ArgumentNullException.ThrowIfNull(nodeKey);
        var packet = OnionPacket.ParsePayment(onion);
        return packet.Peel(nodeKey, paymentHash.Value.ToArray());
    }

    /// <summary>Decodes and checks the final hop payload of a peeled onion.</summary>
    /// <param name="peeled">The peeled onion.</param>
    /// <exception cref="OnionException">A bad payload, or an onion asking us to forward.</exception>
    public static PaymentOnionPayload DecodeFinalPayload(PeeledOnion peeled)
    {
        ArgumentNullException.ThrowIfNull(peeled);
        var payload = PaymentOnionPayload.Decode(peeled.Payload.Span);
        if (!peeled.IsFinal)
        {
            // We do not forward: an onion asking us to is a payment to an unknown next peer.
            throw new OnionException(FailureCode.UnknownNextPeer, "this node does not forward payments");
        }
        payload.ValidateUnblinded(isFinal: true);
        return payload;
    }
}
