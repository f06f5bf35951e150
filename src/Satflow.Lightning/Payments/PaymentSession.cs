using System.Globalization;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Payments;

/// <summary>
/// One outgoing payment as a state machine without a clock or thread of its own: it chooses routes for the amount not
/// yet in flight (<see cref="NextParts"/>), learns from each part's outcome (<see cref="PartSucceeded"/>,
/// <see cref="PartFailed"/>: scorer updates, <c>channel_update</c>s from failures applied to the graph, channels and
/// nodes excluded after permanent failures), retries failed shards until the deadline or the attempt limit, and splits
/// the amount over several routes (basic multi-part payment) when the recipient supports it and no single route has
/// enough liquidity. The sum of the parts in flight and settled never exceeds the amount, and once the recipient has
/// settled a part no new part is ever sent. Paying BOLT 12 blinded paths (<see cref="PaymentParameters.BlindedPaths"/>),
/// routes end at an introduction node; a failure reported from there is the path's failure (penalised, other paths
/// remain) and parts may be split over several paths when the invoice allows <c>basic_mpp</c>. Not thread-safe: the
/// host serialises calls (the node does so under its lock).
/// </summary>
public sealed class PaymentSession
{
    private readonly NetworkGraph _graph;
    private readonly ProbabilisticScorer _scorer;
    private readonly Dictionary<int, PaymentPartRecord> _parts = [];
    private readonly HashSet<ShortChannelId> _excludedChannels = [];
    private readonly HashSet<NodeId> _excludedNodes = [];
    private readonly Dictionary<ShortChannelId, ulong> _failedAmounts = [];
    private readonly Dictionary<int, ulong> _failedPathAmounts = [];
    private readonly Dictionary<int, int> _pathFailures = [];
    private readonly HashSet<int> _excludedPaths = [];
    private string? _lastFailure;
    private int _nextPartId;
    private readonly int _attemptOffset;

    /// <summary>Starts a session (or resumes one from its recorded parts after a restart).</summary>
    /// <param name="parameters">What to pay.</param>
    /// <param name="graph">The network graph (updated from <c>channel_update</c>s carried by failures).</param>
    /// <param name="scorer">The scorer (learns from every part's outcome).</param>
    /// <param name="source">Our node.</param>
    /// <param name="parts">Parts recorded before a restart (null for a new payment).</param>
    /// <param name="earlierAttempts">Parts sent before a restart, counting <paramref name="parts"/> (new part ids continue after it).</param>
    /// <exception cref="ArgumentException">Invalid parameters (zero amount, non-positive limits).</exception>
    public PaymentSession(PaymentParameters parameters, NetworkGraph graph, ProbabilisticScorer scorer, NodeId source, IEnumerable<PaymentPartRecord>? parts = null, int earlierAttempts = 0)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(scorer);
        if (parameters.Amount.Value == 0 || parameters.Amount > MilliSatoshi.MaxMoney)
        {
            throw new ArgumentException("The amount must be above zero and at most 21 million BTC.", nameof(parameters));
        }

        if (parameters.MaxAttempts < 1 || parameters.MaxParts < 1 || parameters.FinalCltvExpiryDelta < 0)
        {
            throw new ArgumentException("The attempt and part limits must be at least 1 and the final CLTV delta not negative.", nameof(parameters));
        }

        Parameters = parameters;
        _graph = graph;
        _scorer = scorer;
        Source = source;
        foreach (var part in parts ?? [])
        {
            _parts[part.PartId] = part;
            _nextPartId = Math.Max(_nextPartId, part.PartId + 1);
            if (part.Status == PaymentPartStatus.Succeeded)
            {
                State = PaymentSessionState.Succeeded;
            }
        }

        if ((InFlightAmount + SucceededAmount) > parameters.Amount)
        {
            throw new ArgumentException("The recorded parts in flight and settled add up to more than the amount.", nameof(parts));
        }

        _attemptOffset = Math.Max(0, earlierAttempts - _parts.Count);
        _nextPartId = Math.Max(_nextPartId, earlierAttempts);
    }

    /// <summary>What is paid.</summary>
    public PaymentParameters Parameters { get; }

    /// <summary>Our node.</summary>
    public NodeId Source { get; }

    /// <summary>Where the payment stands.</summary>
    public PaymentSessionState State { get; private set; }

    /// <summary>The preimage once a part has settled.</summary>
    public PaymentPreimage? Preimage { get; private set; }

    /// <summary>Why the payment failed (when <see cref="State"/> is <see cref="PaymentSessionState.Failed"/>).</summary>
    public PaymentFailure? Failure { get; private set; }

    /// <summary>Every part sent so far (attempts).</summary>
    public IReadOnlyCollection<PaymentPartRecord> Parts => _parts.Values;

    /// <summary>Number of parts sent (first tries and retries).</summary>
    public int Attempts => _parts.Count + _attemptOffset;

    /// <summary>Amount (to the recipient) of the parts in flight.</summary>
    public MilliSatoshi InFlightAmount => Sum(PaymentPartStatus.InFlight, r => r.RecipientAmount);

    /// <summary>Amount (to the recipient) of the settled parts.</summary>
    public MilliSatoshi SucceededAmount => Sum(PaymentPartStatus.Succeeded, r => r.RecipientAmount);

    /// <summary>Fees of the settled parts.</summary>
    public MilliSatoshi FeePaid => Sum(PaymentPartStatus.Succeeded, r => r.TotalFees);

    /// <summary>Number of settled parts.</summary>
    public int SucceededParts => _parts.Values.Count(p => p.Status == PaymentPartStatus.Succeeded);

    /// <summary>True while parts are in flight.</summary>
    public bool HasPartsInFlight => _parts.Values.Any(p => p.Status == PaymentPartStatus.InFlight);

    /// <summary>True when the session has nothing more to do: succeeded or failed, and no part in flight.</summary>
    public bool IsComplete => State != PaymentSessionState.Pending && !HasPartsInFlight;

    /// <summary>Channels the session no longer uses (after permanent or repeated failures).</summary>
    public IReadOnlySet<ShortChannelId> ExcludedChannels => _excludedChannels;

    /// <summary>Nodes the session no longer routes through.</summary>
    public IReadOnlySet<NodeId> ExcludedNodes => _excludedNodes;

    /// <summary>
    /// Indexes (in <see cref="PaymentParameters.BlindedPaths"/>) of the blinded paths the session no longer uses: a path
    /// that failed twice, or once without multi-part support (its failure comes back as <c>invalid_onion_blinding</c>
    /// from the introduction node, so the payer cannot tell which blinded hop failed: the whole path is penalised).
    /// </summary>
    public IReadOnlySet<int> ExcludedBlindedPaths => _excludedPaths;

    /// <summary>Largest number of times a blinded path may fail before it is left out (with multi-part support).</summary>
    public const int MaxBlindedPathFailures = 2;

    /// <summary>
    /// Chooses the parts to send now for the amount neither in flight nor settled: one route first, several (MPP) when
    /// the recipient supports it and no single route can carry the amount. Returns nothing when there is nothing to
    /// send; the session fails (see <see cref="Failure"/>) when the amount cannot be placed and nothing is in flight,
    /// or when the deadline or the attempt limit is reached with nothing in flight.
    /// </summary>
    /// <param name="firstHops">Our usable channels with their exact sendable balances (null: use the graph's estimates).</param>
    /// <param name="now">The current time.</param>
    public IReadOnlyList<PaymentPart> NextParts(IReadOnlyList<FirstHop>? firstHops, DateTimeOffset now)
    {
        if (State != PaymentSessionState.Pending)
        {
            return [];
        }

        var remaining = Parameters.Amount - InFlightAmount - SucceededAmount;
        if (remaining.Value == 0)
        {
            return [];
        }

        var inFlight = HasPartsInFlight;
        if (now >= Parameters.Deadline)
        {
            return WaitOrFail(inFlight, PaymentFailureKind.DeadlinePassed, string.Create(CultureInfo.InvariantCulture,
                $"The deadline passed after {Attempts} attempt(s) without completing the payment"));
        }

        if (Attempts >= Parameters.MaxAttempts)
        {
            return WaitOrFail(inFlight, PaymentFailureKind.AttemptsExhausted, string.Create(CultureInfo.InvariantCulture,
                $"Gave up after {Attempts} attempt(s)"));
        }

        if (Parameters.BlindedPaths is { Count: > 0 } paths && UsableBlindedPaths(paths, remaining).Count == 0)
        {
            return WaitOrFail(inFlight, PaymentFailureKind.BlindedPathsFailed, string.Create(CultureInfo.InvariantCulture,
                $"Every blinded path of the invoice failed ({paths.Count} path(s), {Attempts} attempt(s))"));
        }

        var feeInFlight = Sum(PaymentPartStatus.InFlight, r => r.TotalFees) + FeePaid;
        MilliSatoshi? feeBudget = Parameters.MaxFee is { } max ? new MilliSatoshi(max.Value - Math.Min(max.Value, feeInFlight.Value)) : null;
        // The scorer's learned bounds decay with time, so a channel that just failed may look barely possible again a
        // moment later; within one payment, a channel is not asked again for an amount at least as large as one it
        // could not forward (as LND's mission control): such routes are rejected and the search repeated without it.
        var excluded = new HashSet<ShortChannelId>(_excludedChannels);
        IReadOnlyList<Route> routes;
        RouteFailure? failure;
        while (true)
        {
            (routes, failure) = FindRoutes(remaining, inFlight, feeBudget, excluded, firstHops, now);
            var retried = routes.SelectMany(r => r.Hops)
                .Where(h => _failedAmounts.TryGetValue(h.ShortChannelId, out var failed) && h.Amount.Value >= failed)
                .Select(h => h.ShortChannelId).ToList();
            if (retried.Count == 0)
            {
                break;
            }

            excluded.UnionWith(retried);
        }

        if (failure is { Reason: RouteFailureReason.NoPath } && excluded.Count > _excludedChannels.Count)
        {
            failure = new RouteFailure(RouteFailureReason.NoRouteWithEnoughLiquidity, string.Create(CultureInfo.InvariantCulture,
                $"No route with enough liquidity for {remaining.Value} msat: the channels that could carry it have already failed to forward as much."));
        }

        return routes.Count == 0 ? NoRoutes(failure, inFlight) : Record(routes);
    }

    private (IReadOnlyList<Route> Routes, RouteFailure? Failure) FindRoutes(MilliSatoshi remaining, bool inFlight, MilliSatoshi? feeBudget, IReadOnlySet<ShortChannelId> excluded,
        IReadOnlyList<FirstHop>? firstHops, DateTimeOffset now)
    {
        var constraints = new RouteConstraints(feeBudget, Parameters.MaxCltvExpiryDelta, 20, excluded, _excludedNodes, firstHops);
        if (Parameters.BlindedPaths is { Count: > 0 } blinded)
        {
            return FindBlindedRoutes(blinded, remaining, inFlight, constraints, firstHops, now);
        }

        if (Parameters.PayeeSupportsMpp && Parameters.PaymentSecret is not null)
        {
            var inFlightParts = _parts.Values.Count(p => p.Status == PaymentPartStatus.InFlight);
            var result = Router.FindMultiPathRoute(_graph, _scorer, Source, Parameters.Payee, remaining, Parameters.FinalCltvExpiryDelta,
                Math.Max(1, Math.Min(Parameters.MaxParts - inFlightParts, Parameters.MaxAttempts - Attempts)), now, Parameters.RouteHints, constraints);
            return (result.Parts, result.Failure);
        }

        // Without multi-part support the whole amount goes in one HTLC: never a second one while one is in flight.
        var single = inFlight ? null : Router.FindRoute(_graph, _scorer, Source, Parameters.Payee, remaining, Parameters.FinalCltvExpiryDelta, now, Parameters.RouteHints, constraints);
        return (single?.Route is { } route ? [route] : [], single?.Failure);
    }

    /// <summary>
    /// The blinded paths still worth trying, with their original index and an HTLC maximum lowered below the smallest
    /// amount each already failed to carry. Without multi-part support a path must take the whole remaining amount.
    /// </summary>
    private List<(int Index, BlindedPathCandidate Path)> UsableBlindedPaths(IReadOnlyList<BlindedPathCandidate> paths, MilliSatoshi remaining)
    {
        var usable = new List<(int, BlindedPathCandidate)>(paths.Count);
        for (var i = 0; i < paths.Count; i++)
        {
            if (_excludedPaths.Contains(i))
            {
                continue;
            }

            var path = paths[i];
            if (_failedPathAmounts.TryGetValue(i, out var failed))
            {
                path = path with { HtlcMaximum = new MilliSatoshi(Math.Min(path.HtlcMaximum.Value, failed - 1)) };
            }

            var smallest = Parameters.PayeeSupportsMpp ? path.HtlcMinimum.Value : remaining.Value;
            if (path.HtlcMaximum.Value >= Math.Max(1, smallest))
            {
                usable.Add((i, path));
            }
        }

        return usable;
    }

    /// <summary>
    /// Routes to the invoice's blinded paths: one route for the whole amount when one can carry it, otherwise (when the
    /// recipient supports <c>basic_mpp</c>) shards found one by one, halving the shard until a route fits and
    /// reserving each shard's amount on our first hop so the next shard goes elsewhere. All or nothing.
    /// </summary>
    private (IReadOnlyList<Route> Routes, RouteFailure? Failure) FindBlindedRoutes(IReadOnlyList<BlindedPathCandidate> paths, MilliSatoshi remaining, bool inFlight,
        RouteConstraints constraints, IReadOnlyList<FirstHop>? firstHops, DateTimeOffset now)
    {
        var mpp = Parameters.PayeeSupportsMpp;
        if (inFlight && !mpp)
        {
            return ([], null); // the whole amount is one HTLC: never a second one while it is in flight
        }

        var usable = UsableBlindedPaths(paths, remaining);
        var candidates = usable.Select(u => u.Path).ToList();
        RouteResult Find(MilliSatoshi amount, IReadOnlyList<FirstHop>? hops) =>
            Router.FindRouteToBlindedPaths(_graph, _scorer, Source, candidates, amount, Parameters.FinalCltvExpiryDelta, now, constraints with { FirstHops = hops });

        Route Original(Route route) => route with { BlindedPathIndex = usable[route.BlindedPathIndex!.Value].Index };

        var single = Find(remaining, firstHops);
        if (single.Route is { } whole)
        {
            return ([Original(whole)], null);
        }

        var inFlightParts = _parts.Values.Count(p => p.Status == PaymentPartStatus.InFlight);
        var maxParts = Math.Min(Parameters.MaxParts - inFlightParts, Parameters.MaxAttempts - Attempts);
        if (!mpp || maxParts < 2)
        {
            return ([], single.Failure);
        }

        var available = firstHops?.ToDictionary(h => h.ShortChannelId, h => h.AvailableToSend.Value);
        var routes = new List<Route>();
        var left = remaining.Value;
        var shard = remaining.Value / 2;
        var smallest = Math.Max(1, remaining.Value / 1024);
        var feeLeft = constraints.MaxFee?.Value;
        while (left > 0 && routes.Count < maxParts && shard >= smallest)
        {
            var amount = Math.Min(shard, left);
            var hops = firstHops?.Select(h => h with { AvailableToSend = new MilliSatoshi(available![h.ShortChannelId]) }).ToList();
            var shardConstraints = feeLeft is { } f ? constraints with { MaxFee = new MilliSatoshi(f) } : constraints;
            var found = Router.FindRouteToBlindedPaths(_graph, _scorer, Source, candidates, new MilliSatoshi(amount), Parameters.FinalCltvExpiryDelta, now, shardConstraints with { FirstHops = hops });
            if (found.Route is not { Hops.Count: > 0 } route)
            {
                shard /= 2;
                continue;
            }

            routes.Add(Original(route));
            left -= amount;
            feeLeft -= route.TotalFees.Value;
            if (available is not null && available.TryGetValue(route.Hops[0].ShortChannelId, out var before))
            {
                available[route.Hops[0].ShortChannelId] = before - Math.Min(before, route.Hops[0].Amount.Value);
            }
        }

        return left == 0
            ? (routes, null)
            : ([], single.Failure is { Reason: RouteFailureReason.NoRouteWithEnoughLiquidity or RouteFailureReason.ExceedsMaxFee or RouteFailureReason.ExceedsMaxCltv } or null
                ? new RouteFailure(RouteFailureReason.NoRouteWithEnoughLiquidity, string.Create(CultureInfo.InvariantCulture,
                    $"No route with enough liquidity for {remaining.Value} msat over the invoice's blinded paths, even split in up to {maxParts} parts."))
                : single.Failure);
    }

    private List<PaymentPart> NoRoutes(RouteFailure? failure, bool inFlight)
    {
        if (failure is null)
        {
            return [];
        }

        var (kind, message) = Describe(failure);
        return WaitOrFail(inFlight, kind, message);
    }

    private List<PaymentPart> Record(IReadOnlyList<Route> routes)
    {
        var parts = new List<PaymentPart>(routes.Count);
        foreach (var route in routes)
        {
            var part = new PaymentPart(_nextPartId++, route);
            _parts[part.PartId] = new PaymentPartRecord(part.PartId, route, PaymentPartStatus.InFlight);
            parts.Add(part);
        }

        CheckInvariant();
        return parts;
    }

    /// <summary>Ends the session when the deadline has passed and nothing is in flight (call from a periodic timer).</summary>
    /// <param name="now">The current time.</param>
    /// <returns>True when this call failed the session.</returns>
    public bool CheckDeadline(DateTimeOffset now)
    {
        if (State != PaymentSessionState.Pending || now < Parameters.Deadline || HasPartsInFlight)
        {
            return false;
        }

        Fail(PaymentFailureKind.DeadlinePassed, string.Create(CultureInfo.InvariantCulture, $"The deadline passed after {Attempts} attempt(s) without completing the payment"));
        return true;
    }

    /// <summary>Records that the recipient settled a part: the payment has succeeded; the scorer learns the path had the liquidity.</summary>
    /// <param name="partId">The part.</param>
    /// <param name="preimage">The preimage it was settled with.</param>
    /// <param name="now">The current time.</param>
    /// <returns>False when the part is unknown, already resolved, or the preimage does not match the hash (nothing changes then).</returns>
    public bool PartSucceeded(int partId, PaymentPreimage preimage, DateTimeOffset now)
    {
        if (!_parts.TryGetValue(partId, out var part) || part.Status != PaymentPartStatus.InFlight || preimage.Hash != Parameters.PaymentHash)
        {
            return false;
        }

        _parts[partId] = part with { Status = PaymentPartStatus.Succeeded };
        _scorer.PaymentPathSucceeded(_graph, part.Route, now);
        Preimage = preimage;
        State = PaymentSessionState.Succeeded;
        Failure = null;
        CheckInvariant();
        return true;
    }

    /// <summary>
    /// Records that a part failed and learns from it. The amount becomes available for <see cref="NextParts"/> again,
    /// unless the failure ends the payment (the recipient rejected it).
    /// </summary>
    /// <param name="partId">The part.</param>
    /// <param name="failure">What is known about the failure.</param>
    /// <param name="now">The current time.</param>
    /// <returns>False when the part is unknown or already resolved.</returns>
    public bool PartFailed(int partId, PaymentPartFailure failure, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(failure);
        if (!_parts.TryGetValue(partId, out var part) || part.Status != PaymentPartStatus.InFlight)
        {
            return false;
        }

        _parts[partId] = part with { Status = PaymentPartStatus.Failed };
        _lastFailure = failure.Description;
        Learn(part.Route, failure, now);
        CheckInvariant();
        return true;
    }

    private void Learn(Route route, PaymentPartFailure failure, DateTimeOffset now)
    {
        var hops = route.Hops;
        if (failure.ErringNodeIndex is not { } index || failure.Message is not { } message)
        {
            if (failure.ErringNodeIndex == -1 && hops.Count > 0)
            {
                // Our own channel refused: its balance changed since we chose it; the next first-hop list is fresh, but
                // do not try this channel again in this payment.
                _excludedChannels.Add(hops[0].ShortChannelId);
                return;
            }

            if (route.BlindedPathIndex is { } path && hops.Count > 0 && (failure.ErringNodeIndex == hops.Count - 1 || (failure.ErringNodeIndex is null && hops.Count == 1)))
            {
                BlindedPathFailed(path, route, failure.Description);
                return;
            }

            if (failure.ErringNodeIndex is { } blamed && blamed >= 0 && blamed < hops.Count - 1)
            {
                _excludedNodes.Add(hops[blamed].Node); // an unreadable failure that attribution data pins on this node
                return;
            }

            // Unattributable (unreadable) failure: avoid every intermediate node of the route; a direct route has none.
            if (hops.Count <= 1)
            {
                Fail(PaymentFailureKind.RecipientRejected, "The recipient failed the payment with an unreadable error: " + failure.Description);
                return;
            }

            for (var i = 0; i < hops.Count - 1; i++)
            {
                _excludedNodes.Add(hops[i].Node);
            }

            return;
        }

        if (index < 0 || index >= hops.Count)
        {
            Fail(PaymentFailureKind.RecipientRejected, "The payment failed at an unknown hop: " + failure.Description);
            return;
        }

        var code = message.Code;
        var isFinal = index == hops.Count - 1;
        if (isFinal && route.BlindedPathIndex is null)
        {
            if (code == FailureCode.MppTimeout)
            {
                return; // the recipient gave up waiting for the other shards; they are sent again
            }

            if (code == FailureCode.TemporaryNodeFailure && Attempts < Parameters.MaxAttempts)
            {
                return;
            }

            Fail(PaymentFailureKind.RecipientRejected, code == FailureCode.IncorrectOrUnknownPaymentDetails
                ? "The recipient rejected the payment: unknown payment hash, wrong payment secret or amount, or expired invoice (incorrect_or_unknown_payment_details)."
                : $"The recipient rejected the payment ({code.Name}).");
            return;
        }

        if (isFinal)
        {
            // The introduction node of a blinded path (or a node inside it, which the introduction node reports as
            // invalid_onion_blinding) failed: that path is penalised, the others remain.
            if (code != FailureCode.MppTimeout)
            {
                BlindedPathFailed(route.BlindedPathIndex!.Value, route, failure.Description);
            }

            return;
        }

        var erring = hops[index].Node;
        var channel = hops[index + 1].ShortChannelId;
        var updateApplied = message.ChannelUpdate is { } update && ApplyChannelUpdate(update.Span, erring, channel);
        if (code.IsNode)
        {
            _excludedNodes.Add(erring);
            return;
        }

        if (code == FailureCode.TemporaryChannelFailure)
        {
            // Liquidity: the channel could not forward this amount. The scorer lowers its upper bound (and raises the
            // earlier hops' lower bounds); a route hint channel is not in the graph, so it is left out instead.
            _scorer.PaymentPathFailed(_graph, route, index + 1, now);
            var failedAmount = hops[index + 1].Amount.Value;
            _failedAmounts[channel] = _failedAmounts.TryGetValue(channel, out var known) ? Math.Min(known, failedAmount) : failedAmount;
            if (hops[index + 1].FromRouteHint || !_graph.TryGetChannel(channel, out _))
            {
                _excludedChannels.Add(channel);
            }

            return;
        }

        if (!code.IsPermanent && updateApplied && (code == FailureCode.FeeInsufficient || code == FailureCode.IncorrectCltvExpiry || code == FailureCode.AmountBelowMinimum))
        {
            return; // the graph now has the channel's current policy: the next route accounts for it
        }

        _excludedChannels.Add(channel);
    }

    /// <summary>
    /// A blinded path failed to carry a part: it is not asked again for as much (with multi-part support a smaller
    /// shard may still pass), and it is left out after <see cref="MaxBlindedPathFailures"/> failures or at once when
    /// the whole amount must go in one HTLC.
    /// </summary>
    private void BlindedPathFailed(int path, Route route, string description)
    {
        var amount = route.RecipientAmount.Value;
        _failedPathAmounts[path] = _failedPathAmounts.TryGetValue(path, out var known) ? Math.Min(known, amount) : amount;
        var failures = _pathFailures[path] = _pathFailures.GetValueOrDefault(path) + 1;
        if (!Parameters.PayeeSupportsMpp || failures >= MaxBlindedPathFailures)
        {
            _excludedPaths.Add(path);
        }

        _lastFailure = string.Create(CultureInfo.InvariantCulture, $"blinded path {path} failed: {description}");
    }

    private bool ApplyChannelUpdate(ReadOnlySpan<byte> bytes, NodeId origin, ShortChannelId expected)
    {
        ChannelUpdate? update = null;
        try
        {
            update = LightningMessage.Decode(bytes) as ChannelUpdate;
        }
        catch (WireFormatException)
        {
        }

        if (update is null && bytes.Length > 0)
        {
            // Older implementations send the channel_update without its type prefix.
            var prefixed = new byte[bytes.Length + 2];
            prefixed[0] = (byte)(MessageTypes.ChannelUpdate >> 8);
            prefixed[1] = unchecked((byte)MessageTypes.ChannelUpdate);
            bytes.CopyTo(prefixed.AsSpan(2));
            try
            {
                update = LightningMessage.Decode(prefixed) as ChannelUpdate;
            }
            catch (WireFormatException)
            {
            }
        }

        return update is not null && update.ShortChannelId == expected && GossipSignatures.Verify(update, origin) && _graph.ApplyChannelUpdate(update);
    }

    private List<PaymentPart> WaitOrFail(bool inFlight, PaymentFailureKind kind, string message)
    {
        if (!inFlight)
        {
            Fail(kind, _lastFailure is null || kind is PaymentFailureKind.NoRouteWithEnoughLiquidity or PaymentFailureKind.RecipientOffline
                ? Sentence(message)
                : Sentence(message) + " Last failure: " + Sentence(_lastFailure));
        }

        return [];
    }

    private static string Sentence(string text) => text.EndsWith('.') ? text : text + ".";

    private (PaymentFailureKind Kind, string Message) Describe(RouteFailure failure)
    {
        var kind = failure.Reason switch
        {
            RouteFailureReason.InvalidRequest => PaymentFailureKind.InvalidRequest,
            RouteFailureReason.SourceHasNoChannels => PaymentFailureKind.NoUsableChannel,
            RouteFailureReason.RecipientUnknown => PaymentFailureKind.RecipientUnknown,
            RouteFailureReason.RecipientHasNoChannels or RouteFailureReason.RecipientOffline => PaymentFailureKind.RecipientOffline,
            RouteFailureReason.NoPath => PaymentFailureKind.NoRoute,
            RouteFailureReason.ExceedsMaxFee => PaymentFailureKind.ExceedsMaxFee,
            RouteFailureReason.ExceedsMaxCltv => PaymentFailureKind.ExceedsMaxCltv,
            _ => PaymentFailureKind.NoRouteWithEnoughLiquidity,
        };
        var prefix = kind switch
        {
            PaymentFailureKind.RecipientOffline => "Recipient offline",
            PaymentFailureKind.NoRouteWithEnoughLiquidity => "No route with enough liquidity",
            PaymentFailureKind.NoRoute => "No route",
            _ => null,
        };
        var message = failure.Message;
        if (Attempts > 0)
        {
            message = Sentence(message) + string.Create(CultureInfo.InvariantCulture, $" {Attempts} attempt(s) made.");
        }

        return (kind, prefix is null || message.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? message : prefix + ": " + message);
    }

    private void Fail(PaymentFailureKind kind, string message)
    {
        if (State != PaymentSessionState.Pending)
        {
            return;
        }

        State = PaymentSessionState.Failed;
        Failure = new PaymentFailure(kind, message);
    }

    private MilliSatoshi Sum(PaymentPartStatus status, Func<Route, MilliSatoshi> selector) =>
        new(_parts.Values.Where(p => p.Status == status).Aggregate(0UL, (sum, p) => checked(sum + selector(p.Route).Value)));

    private void CheckInvariant()
    {
        if ((InFlightAmount + SucceededAmount) > Parameters.Amount)
        {
            throw new InvalidOperationException("Payment session invariant broken: more in flight and settled than the amount.");
        }
    }
}
