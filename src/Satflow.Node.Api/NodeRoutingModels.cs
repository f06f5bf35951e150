using System.Text.Json.Serialization;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api;

/// <summary>Limits of one payment.</summary>
/// <param name="MaxFee">Largest total routing fee (null: the node's default, 1 % + 5 sat).</param>
/// <param name="Timeout">How long the node keeps retrying failed parts (null: 60 seconds).</param>
public sealed record PaymentLimits(MilliSatoshi? MaxFee = null, TimeSpan? Timeout = null)
{
    /// <summary>The node's defaults.</summary>
    public static PaymentLimits Default { get; } = new();
}

/// <summary>One channel of a route.</summary>
/// <param name="Node">The node the channel leads to.</param>
/// <param name="ShortChannelId">The channel.</param>
/// <param name="Amount">The HTLC amount on this channel.</param>
/// <param name="Fee">What <paramref name="Node"/> keeps for forwarding (0 at the recipient).</param>
/// <param name="CltvExpiryDelta">The HTLC's expiry on this channel, in blocks from now.</param>
public sealed record RouteHopInfo(
    [property: JsonPropertyName("node_id")] NodeId Node,
    ShortChannelId ShortChannelId,
    [property: JsonPropertyName("amount_msat")] MilliSatoshi Amount,
    [property: JsonPropertyName("fee_msat")] MilliSatoshi Fee,
    [property: JsonPropertyName("cltv_expiry_delta")] int CltvExpiryDelta);

/// <summary>The route a payment would take now.</summary>
/// <param name="Destination">The recipient.</param>
/// <param name="Amount">What the recipient receives.</param>
/// <param name="TotalAmount">What we send (amount plus fees).</param>
/// <param name="TotalFee">The fees of all forwarding nodes.</param>
/// <param name="TotalCltvExpiryDelta">How many blocks the first HTLC is locked at most.</param>
/// <param name="Hops">The channels, first to last.</param>
public sealed record RouteInfo(
    NodeId Destination,
    [property: JsonPropertyName("amount_msat")] MilliSatoshi Amount,
    [property: JsonPropertyName("total_amount_msat")] MilliSatoshi TotalAmount,
    [property: JsonPropertyName("total_fee_msat")] MilliSatoshi TotalFee,
    [property: JsonPropertyName("total_cltv_expiry_delta")] int TotalCltvExpiryDelta,
    IReadOnlyList<RouteHopInfo> Hops);
