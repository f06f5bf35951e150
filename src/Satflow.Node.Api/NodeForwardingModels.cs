using System.Text.Json.Serialization;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api;

/// <summary>Where a forwarded HTLC stands.</summary>
public enum ForwardState
{
    /// <summary>The outgoing HTLC is in flight.</summary>
    Pending,

    /// <summary>Fulfilled: the fee was earned.</summary>
    Settled,

    /// <summary>Refused by our policy or failed downstream: the incoming HTLC was failed back.</summary>
    Failed,
}

/// <summary>One HTLC the node was asked to forward (<c>GET /v1/forwards</c>, <c>satflow forwards list</c>).</summary>
/// <param name="IncomingChannelId">The channel it came in on.</param>
/// <param name="IncomingShortChannelId">That channel's short id.</param>
/// <param name="OutgoingChannelId">The channel it went out on (null when refused before one was chosen).</param>
/// <param name="OutgoingShortChannelId">The short id the onion asked for, or of the channel used.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="AmountIn">The incoming amount.</param>
/// <param name="AmountOut">The outgoing amount.</param>
/// <param name="Fee">What we earned (zero unless settled).</param>
/// <param name="State">Pending, settled or failed.</param>
/// <param name="FailureReason">Why it failed.</param>
/// <param name="ReceivedAt">When the incoming HTLC was decided.</param>
/// <param name="ResolvedAt">When the outcome was learned.</param>
public sealed record ForwardInfo(
    ChannelId IncomingChannelId,
    ShortChannelId? IncomingShortChannelId,
    ChannelId? OutgoingChannelId,
    ShortChannelId? OutgoingShortChannelId,
    PaymentHash PaymentHash,
    [property: JsonPropertyName("amount_in_msat")] MilliSatoshi AmountIn,
    [property: JsonPropertyName("amount_out_msat")] MilliSatoshi AmountOut,
    [property: JsonPropertyName("fee_msat")] MilliSatoshi Fee,
    ForwardState State,
    string? FailureReason,
    DateTimeOffset ReceivedAt,
    DateTimeOffset? ResolvedAt);

/// <summary>A channel's forwarding policy (<c>POST /v1/channels/{channel}/policy</c>).</summary>
/// <param name="ChannelId">The channel.</param>
/// <param name="BaseFee">The fixed fee per forwarded HTLC.</param>
/// <param name="FeePpm">The proportional fee in millionths.</param>
/// <param name="CltvDelta">Blocks required between incoming and outgoing expiry.</param>
/// <param name="HtlcMinimum">The smallest HTLC forwarded.</param>
/// <param name="HtlcMaximum">The largest HTLC forwarded (null: the channel's capacity).</param>
public sealed record ChannelPolicyInfo(
    ChannelId ChannelId,
    [property: JsonPropertyName("base_fee_msat")] MilliSatoshi BaseFee,
    [property: JsonPropertyName("fee_ppm")] uint FeePpm,
    [property: JsonPropertyName("cltv_delta")] ushort CltvDelta,
    [property: JsonPropertyName("htlc_min_msat")] MilliSatoshi HtlcMinimum,
    [property: JsonPropertyName("htlc_max_msat")] MilliSatoshi? HtlcMaximum);

/// <summary>Body of <c>POST /v1/channels/{channel}/policy</c>.</summary>
/// <param name="BaseFeeMsat">The base fee in millisatoshis.</param>
/// <param name="FeePpm">The proportional fee in millionths.</param>
/// <param name="CltvDelta">The CLTV delta in blocks.</param>
/// <param name="HtlcMinMsat">The smallest HTLC (default 1 msat).</param>
/// <param name="HtlcMaxMsat">The largest HTLC (default: the capacity).</param>
public sealed record SetChannelPolicyRequest(long? BaseFeeMsat, long? FeePpm, long? CltvDelta, long? HtlcMinMsat, long? HtlcMaxMsat);
