using Satflow.Lightning.Types;

namespace Satflow.Lightning.Routing;

/// <summary>
/// One channel of a route. Hop <c>i</c> carries the HTLC from the previous node (the payer for hop 0) to <see cref="Node"/>.
/// </summary>
/// <param name="ShortChannelId">The channel used.</param>
/// <param name="Node">The node at the receiving end of the channel.</param>
/// <param name="Amount">The HTLC amount on this channel (what <see cref="Node"/> receives).</param>
/// <param name="Fee">What <see cref="Node"/> keeps for forwarding to the next hop (0 for the last hop; for the last hop before a blinded path, the path's aggregated fee).</param>
/// <param name="CltvExpiryDelta">The HTLC expiry on this channel relative to the current block height (add the height for <c>outgoing_cltv_value</c>).</param>
/// <param name="FromRouteHint">True when the channel came from an invoice route hint rather than the public graph.</param>
public sealed record RouteHop(
    ShortChannelId ShortChannelId,
    NodeId Node,
    MilliSatoshi Amount,
    MilliSatoshi Fee,
    int CltvExpiryDelta,
    bool FromRouteHint = false);

/// <summary>A route from the payer to the recipient (or to a blinded path's introduction node).</summary>
/// <param name="Source">The payer.</param>
/// <param name="Hops">The channels, first to last.</param>
/// <param name="RecipientAmount">What the recipient (or the blinded path) receives.</param>
/// <param name="BlindedPathIndex">When paying to blinded paths, the index of the chosen path; the last hop then ends at its introduction node.</param>
public sealed record Route(NodeId Source, IReadOnlyList<RouteHop> Hops, MilliSatoshi RecipientAmount, int? BlindedPathIndex = null)
{
    /// <summary>What the payer sends (recipient amount plus all fees).</summary>
    public MilliSatoshi TotalAmount => Hops.Count == 0 ? RecipientAmount : Hops[0].Amount;

    /// <summary>All fees paid to forwarding nodes (and to the blinded path).</summary>
    public MilliSatoshi TotalFees => TotalAmount - RecipientAmount;

    /// <summary>The HTLC expiry on the first channel, relative to the current block height.</summary>
    public int TotalCltvExpiryDelta => Hops.Count == 0 ? 0 : Hops[0].CltvExpiryDelta;
}

/// <summary>One hop of a BOLT 11 route hint (<c>r</c> field): the channel from <see cref="Node"/> toward the next hint hop or the recipient.</summary>
/// <param name="Node">The node at the start of the channel.</param>
/// <param name="ShortChannelId">The (usually private) channel.</param>
/// <param name="FeeBaseMsat">Base fee of <see cref="Node"/> for this channel.</param>
/// <param name="FeeProportionalMillionths">Proportional fee of <see cref="Node"/>.</param>
/// <param name="CltvExpiryDelta">CLTV delta of <see cref="Node"/>.</param>
public sealed record RouteHintHop(NodeId Node, ShortChannelId ShortChannelId, uint FeeBaseMsat, uint FeeProportionalMillionths, ushort CltvExpiryDelta);

/// <summary>
/// A blinded path from an invoice or offer, seen by the router as one virtual channel from its introduction node to the
/// recipient with the path's aggregated fee, CLTV delta and HTLC limits (BOLT 12 <c>blinded_payinfo</c>).
/// </summary>
/// <param name="IntroductionNode">The first (unblinded) node of the path.</param>
/// <param name="FeeBaseMsat">Aggregated base fee.</param>
/// <param name="FeeProportionalMillionths">Aggregated proportional fee.</param>
/// <param name="CltvExpiryDelta">Aggregated CLTV delta of the blinded hops.</param>
/// <param name="HtlcMinimum">Smallest amount the path accepts.</param>
/// <param name="HtlcMaximum">Largest amount the path accepts.</param>
public sealed record BlindedPathCandidate(
    NodeId IntroductionNode,
    uint FeeBaseMsat,
    uint FeeProportionalMillionths,
    ushort CltvExpiryDelta,
    MilliSatoshi HtlcMinimum,
    MilliSatoshi HtlcMaximum);

/// <summary>Limits on an acceptable route.</summary>
/// <param name="MaxFee">Largest total fee (null: no limit).</param>
/// <param name="MaxCltvExpiryDelta">Largest total CLTV delta (BOLT 4 suggests at most 2016 blocks).</param>
/// <param name="MaxHops">Largest number of channels (an onion holds at most 20 hops).</param>
/// <param name="ExcludedChannels">Channels never used.</param>
/// <param name="ExcludedNodes">Nodes never used as intermediate hops.</param>
/// <param name="FirstHops">
/// The payer's own usable channels with their exact sendable balances. When set, only these channels leave the payer
/// (graph channels of the payer not listed are ignored, channels missing from the graph such as unannounced ones are
/// added), their liquidity is exact instead of estimated, and the payer need not be in the graph.
/// </param>
public sealed record RouteConstraints(
    MilliSatoshi? MaxFee = null,
    int MaxCltvExpiryDelta = 2016,
    int MaxHops = 20,
    IReadOnlySet<ShortChannelId>? ExcludedChannels = null,
    IReadOnlySet<NodeId>? ExcludedNodes = null,
    IReadOnlyList<FirstHop>? FirstHops = null)
{
    /// <summary>No fee limit, 2016 blocks, 20 hops, nothing excluded.</summary>
    public static RouteConstraints Default { get; } = new();
}

/// <summary>One of the payer's own channels, used as the first hop of a route with its exact sendable balance.</summary>
/// <param name="ShortChannelId">The channel (real or alias short channel id, as the peer knows it).</param>
/// <param name="Peer">The node at the other end.</param>
/// <param name="AvailableToSend">What the channel can send now (one HTLC of at most this amount).</param>
/// <param name="HtlcMinimum">The smallest HTLC the peer accepts.</param>
public sealed record FirstHop(ShortChannelId ShortChannelId, NodeId Peer, MilliSatoshi AvailableToSend, MilliSatoshi HtlcMinimum = default);

/// <summary>Why no route was returned.</summary>
public enum RouteFailureReason
{
    /// <summary>The request itself is invalid (zero or too large amount, payer equals recipient, bad limits).</summary>
    InvalidRequest,

    /// <summary>The payer is not in the graph or has no channels.</summary>
    SourceHasNoChannels,

    /// <summary>The recipient is not in the graph and no route hint or blinded path leads to it.</summary>
    RecipientUnknown,

    /// <summary>The recipient is known but has no channels and no route hints.</summary>
    RecipientHasNoChannels,

    /// <summary>Every channel to the recipient is disabled (the recipient is probably offline).</summary>
    RecipientOffline,

    /// <summary>No path of usable channels connects payer and recipient at all (within the hop limit and exclusions).</summary>
    NoPath,

    /// <summary>Paths exist but none has enough capacity, HTLC limits or learned liquidity for the amount.</summary>
    NoRouteWithEnoughLiquidity,

    /// <summary>Every route found costs more than the fee limit.</summary>
    ExceedsMaxFee,

    /// <summary>Every route found locks funds longer than the CLTV limit.</summary>
    ExceedsMaxCltv,
}

/// <summary>A typed pathfinding failure with a message for the user.</summary>
/// <param name="Reason">The category.</param>
/// <param name="Message">A clear explanation (for example "no route with enough liquidity for 5000000 msat").</param>
public sealed record RouteFailure(RouteFailureReason Reason, string Message);

/// <summary>Either a route or a typed failure.</summary>
public sealed record RouteResult
{
    private RouteResult(Route? route, RouteFailure? failure)
    {
        Route = route;
        Failure = failure;
    }

    /// <summary>The route, when one was found.</summary>
    public Route? Route { get; }

    /// <summary>The failure, when none was found.</summary>
    public RouteFailure? Failure { get; }

    /// <summary>True when <see cref="Route"/> is set.</summary>
    public bool IsSuccess => Route is not null;

    internal static RouteResult Success(Route route) => new(route, null);

    internal static RouteResult Fail(RouteFailureReason reason, string message) => new(null, new RouteFailure(reason, message));
}

/// <summary>Either the parts of a multi-part payment or a typed failure.</summary>
public sealed record MultiPathRouteResult
{
    private MultiPathRouteResult(IReadOnlyList<Route> parts, RouteFailure? failure)
    {
        Parts = parts;
        Failure = failure;
    }

    /// <summary>The parts (empty on failure); their recipient amounts add up to the requested amount.</summary>
    public IReadOnlyList<Route> Parts { get; }

    /// <summary>The failure, when the amount could not be covered.</summary>
    public RouteFailure? Failure { get; }

    /// <summary>True when the parts cover the amount.</summary>
    public bool IsSuccess => Failure is null;

    /// <summary>Total fees of all parts.</summary>
    public MilliSatoshi TotalFees => new(Parts.Aggregate(0UL, (sum, p) => sum + p.TotalFees.Value));

    internal static MultiPathRouteResult Success(IReadOnlyList<Route> parts) => new(parts, null);

    internal static MultiPathRouteResult Fail(RouteFailureReason reason, string message) => new([], new RouteFailure(reason, message));
}
