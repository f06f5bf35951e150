using NBitcoin.Secp256k1;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Onion;

/// <summary>
/// Sender side of a payment to a blinded route: the hops of the onion, ending with the blinded route's hops, as
/// BOLT 4 recommends (an unblinded onion to the introduction node carrying <c>current_path_key</c>).
/// </summary>
public static class BlindedPaymentRoute
{
    /// <summary>
    /// Builds the onion hops: the clear hops as given, then the introduction node (by its real node id, with
    /// <c>current_path_key</c>), the other blinded hops (by blinded node id, with only their
    /// <c>encrypted_recipient_data</c>) and the final hop (with <c>amt_to_forward</c>, <c>outgoing_cltv_value</c>
    /// and <c>total_amount_msat</c>).
    /// </summary>
    /// <param name="clearHops">The hops before the introduction node, with their payloads (their last hop forwards to the introduction node).</param>
    /// <param name="route">The blinded route from the recipient (its introduction node must be given by node id).</param>
    /// <param name="amount">The amount for the final node.</param>
    /// <param name="totalAmount">The total amount of the payment (equal to <paramref name="amount"/> unless multi-part).</param>
    /// <param name="finalCltvExpiry">The final node's <c>outgoing_cltv_value</c>.</param>
    /// <exception cref="ArgumentException">When the introduction node is given as a channel.</exception>
    public static IReadOnlyList<OnionHop> BuildHops(
        IReadOnlyList<(ECPubKey NodeId, PaymentOnionPayload Payload)> clearHops,
        BlindedPath route,
        MilliSatoshi amount,
        MilliSatoshi totalAmount,
        uint finalCltvExpiry)
    {
        ArgumentNullException.ThrowIfNull(clearHops);
        ArgumentNullException.ThrowIfNull(route);
        if (route.FirstNodeId.NodeId is not { } introduction)
        {
            throw new ArgumentException("Resolve a sciddir introduction node to its node id first.", nameof(route));
        }
        var hops = new List<OnionHop>(clearHops.Count + route.Hops.Count);
        hops.AddRange(clearHops.Select(h => new OnionHop(h.NodeId, h.Payload.Encode())));
        for (var i = 0; i < route.Hops.Count; i++)
        {
            var isFirst = i == 0;
            var isLast = i == route.Hops.Count - 1;
            var payload = new PaymentOnionPayload
            {
                EncryptedRecipientData = route.Hops[i].EncryptedRecipientData.ToArray(),
                CurrentPathKey = isFirst ? route.FirstPathKey.ToECPubKey() : null,
                AmountToForward = isLast ? amount : null,
                OutgoingCltvValue = isLast ? finalCltvExpiry : null,
                TotalAmount = isLast ? totalAmount : null,
            };
            var key = (isFirst ? introduction : route.Hops[i].BlindedNodeId).ToECPubKey();
            hops.Add(new OnionHop(key, payload.Encode()));
        }
        return hops;
    }
}
