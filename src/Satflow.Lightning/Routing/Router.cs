using System.Globalization;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Routing;

/// <summary>
/// Pathfinding over a <see cref="NetworkGraph"/>: a Dijkstra search from the recipient back to the payer (so fees and
/// CLTV deltas accumulate the way HTLCs are built, as in LDK and LND), minimising fee + <see cref="ProbabilisticScorer"/>
/// penalty, and a multi-part splitter on top. Pure: the caller passes the time; nothing is kept between calls.
/// </summary>
public static class Router
{
    /// <summary>
    /// Finds the cheapest route (fees plus scorer penalties) paying <paramref name="amount"/> to <paramref name="target"/>.
    /// </summary>
    /// <param name="graph">The channel graph.</param>
    /// <param name="scorer">Learned liquidity and penalty tuning.</param>
    /// <param name="source">The payer (our node).</param>
    /// <param name="target">The recipient.</param>
    /// <param name="amount">What the recipient must receive.</param>
    /// <param name="finalCltvExpiryDelta">The invoice's <c>min_final_cltv_expiry_delta</c>.</param>
    /// <param name="now">The current time (for the scorer's decay).</param>
    /// <param name="routeHints">BOLT 11 <c>r</c> fields: each a list of hops ending at the recipient.</param>
    /// <param name="constraints">Fee, CLTV and hop limits, exclusions.</param>
    /// <returns>The route, or a typed failure saying why there is none.</returns>
    public static RouteResult FindRoute(
        NetworkGraph graph,
        ProbabilisticScorer scorer,
        NodeId source,
        NodeId target,
        MilliSatoshi amount,
        int finalCltvExpiryDelta,
        DateTimeOffset now,
        IReadOnlyList<IReadOnlyList<RouteHintHop>>? routeHints = null,
        RouteConstraints? constraints = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(scorer);
        constraints ??= RouteConstraints.Default;
        if (Validate(graph, source, amount, finalCltvExpiryDelta, constraints) is { } invalid)
        {
            return invalid;
        }

        if (source == target)
        {
            return RouteResult.Fail(RouteFailureReason.InvalidRequest, "The payer and the recipient are the same node.");
        }

        using var search = new Search(graph, scorer, now, source, constraints);
        if (search.SetTarget(target, routeHints) is { } targetFailure)
        {
            return targetFailure;
        }

        return search.Run(amount.Value, finalCltvExpiryDelta, MaxFee(constraints), diagnose: true);
    }

    /// <summary>
    /// Finds the cheapest route to any of the blinded paths of an invoice or offer. Each path is one virtual channel
    /// from its introduction node to the recipient charging the aggregated fee and CLTV delta; the returned route ends
    /// at the chosen introduction node (<see cref="Route.BlindedPathIndex"/>) and its last hop's fee is the path's fee.
    /// Paths whose introduction node is the payer itself are skipped.
    /// </summary>
    /// <param name="graph">The channel graph.</param>
    /// <param name="scorer">Learned liquidity and penalty tuning.</param>
    /// <param name="source">The payer.</param>
    /// <param name="blindedPaths">The candidate paths.</param>
    /// <param name="amount">What the recipient must receive.</param>
    /// <param name="finalCltvExpiryDelta">CLTV delta added after the path (0 when the aggregated delta already includes it).</param>
    /// <param name="now">The current time.</param>
    /// <param name="constraints">Fee, CLTV and hop limits, exclusions.</param>
    /// <returns>The route, or a typed failure.</returns>
    public static RouteResult FindRouteToBlindedPaths(
        NetworkGraph graph,
        ProbabilisticScorer scorer,
        NodeId source,
        IReadOnlyList<BlindedPathCandidate> blindedPaths,
        MilliSatoshi amount,
        int finalCltvExpiryDelta,
        DateTimeOffset now,
        RouteConstraints? constraints = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(blindedPaths);
        constraints ??= RouteConstraints.Default;
        if (Validate(graph, source, amount, finalCltvExpiryDelta, constraints) is { } invalid)
        {
            return invalid;
        }

        using var search = new Search(graph, scorer, now, source, constraints);
        if (search.SetBlindedTarget(blindedPaths) is { } targetFailure)
        {
            return targetFailure;
        }

        return search.Run(amount.Value, finalCltvExpiryDelta, MaxFee(constraints), diagnose: true);
    }

    /// <summary>
    /// Splits <paramref name="amount"/> over up to <paramref name="maxParts"/> routes (BOLT 4 basic multi-part payment).
    /// It first tries a single route; otherwise it repeatedly finds the best route for the remaining amount (halving the
    /// shard until one fits), reserves that shard's liquidity in a temporary view of the scorer so later shards see the
    /// channels as partly used, and continues until the amount is covered. The fee limit applies to the total.
    /// </summary>
    /// <param name="graph">The channel graph.</param>
    /// <param name="scorer">Learned liquidity (not modified).</param>
    /// <param name="source">The payer.</param>
    /// <param name="target">The recipient.</param>
    /// <param name="amount">The total the recipient must receive.</param>
    /// <param name="finalCltvExpiryDelta">The invoice's <c>min_final_cltv_expiry_delta</c>.</param>
    /// <param name="maxParts">Largest number of parts (at least 1).</param>
    /// <param name="now">The current time.</param>
    /// <param name="routeHints">BOLT 11 route hints.</param>
    /// <param name="constraints">Limits; the fee limit is for all parts together.</param>
    /// <returns>The parts, or a typed failure when the total cannot be reached.</returns>
    public static MultiPathRouteResult FindMultiPathRoute(
        NetworkGraph graph,
        ProbabilisticScorer scorer,
        NodeId source,
        NodeId target,
        MilliSatoshi amount,
        int finalCltvExpiryDelta,
        int maxParts,
        DateTimeOffset now,
        IReadOnlyList<IReadOnlyList<RouteHintHop>>? routeHints = null,
        RouteConstraints? constraints = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(scorer);
        constraints ??= RouteConstraints.Default;
        if (maxParts < 1)
        {
            return MultiPathRouteResult.Fail(RouteFailureReason.InvalidRequest, "At least one part is needed.");
        }

        if (Validate(graph, source, amount, finalCltvExpiryDelta, constraints) is { Failure: { } invalid })
        {
            return MultiPathRouteResult.Fail(invalid.Reason, invalid.Message);
        }

        if (source == target)
        {
            return MultiPathRouteResult.Fail(RouteFailureReason.InvalidRequest, "The payer and the recipient are the same node.");
        }

        using var search = new Search(graph, scorer, now, source, constraints);
        if (search.SetTarget(target, routeHints) is { Failure: { } targetFailure })
        {
            return MultiPathRouteResult.Fail(targetFailure.Reason, targetFailure.Message);
        }

        var feeBudget = MaxFee(constraints);
        var whole = search.Run(amount.Value, finalCltvExpiryDelta, feeBudget, diagnose: true);
        if (whole.Route is { } single)
        {
            return MultiPathRouteResult.Success([single]);
        }

        if (maxParts == 1 || whole.Failure!.Reason is not (RouteFailureReason.NoRouteWithEnoughLiquidity or RouteFailureReason.ExceedsMaxFee))
        {
            return MultiPathRouteResult.Fail(whole.Failure!.Reason, whole.Failure.Message);
        }

        if (search.CapacityBound() is { } bound && bound < amount.Value)
        {
            return MultiPathRouteResult.Fail(RouteFailureReason.NoRouteWithEnoughLiquidity, string.Create(CultureInfo.InvariantCulture,
                $"No route with enough liquidity: the usable channels of the payer or of the recipient hold at most {bound} msat in total, less than {amount.Value} msat."));
        }

        search.EnableInFlight();
        var parts = new List<Route>();
        var remaining = amount.Value;
        var minShard = Math.Max(1UL, amount.Value / (2UL * (ulong)maxParts));
        while (remaining > 0)
        {
            if (parts.Count == maxParts)
            {
                return SplitFailure(amount.Value, remaining, maxParts);
            }

            var attempt = remaining;
            Route? found = null;
            while (true)
            {
                var result = search.Run(attempt, finalCltvExpiryDelta, feeBudget, diagnose: false);
                if (result.Route is { } r)
                {
                    found = r;
                    break;
                }

                if (attempt <= minShard)
                {
                    break;
                }

                attempt = Math.Max(attempt / 2, minShard);
            }

            if (found is null)
            {
                return SplitFailure(amount.Value, remaining, maxParts);
            }

            parts.Add(found);
            remaining -= attempt;
            feeBudget -= found.TotalFees.Value;
            search.Reserve(found);
        }

        return MultiPathRouteResult.Success(parts);
    }

    private static MultiPathRouteResult SplitFailure(ulong amount, ulong remaining, int maxParts) =>
        MultiPathRouteResult.Fail(RouteFailureReason.NoRouteWithEnoughLiquidity, string.Create(CultureInfo.InvariantCulture,
            $"No route with enough liquidity: only {amount - remaining} of {amount} msat could be routed in at most {maxParts} parts."));

    private static ulong MaxFee(RouteConstraints constraints) => constraints.MaxFee?.Value ?? ulong.MaxValue;

    private static RouteResult? Validate(NetworkGraph graph, NodeId source, MilliSatoshi amount, int finalCltv, RouteConstraints constraints)
    {
        if (amount.Value == 0 || amount > MilliSatoshi.MaxMoney)
        {
            return RouteResult.Fail(RouteFailureReason.InvalidRequest, $"The amount {amount} is not payable (must be above zero and at most 21 million BTC).");
        }

        if (finalCltv < 0 || constraints.MaxHops < 1 || constraints.MaxCltvExpiryDelta < 0)
        {
            return RouteResult.Fail(RouteFailureReason.InvalidRequest, "The final CLTV delta, hop limit and CLTV limit must not be negative (at least one hop).");
        }

        if (constraints.FirstHops is { } firstHops)
        {
            if (!firstHops.Any(h => h.AvailableToSend.Value > 0))
            {
                return RouteResult.Fail(RouteFailureReason.SourceHasNoChannels, "Our node has no usable channel with a balance to send.");
            }
        }
        else if (!graph.TryGetNodeIndex(source, out var s) || graph.ChannelsAt(s).Count == 0)
        {
            return RouteResult.Fail(RouteFailureReason.SourceHasNoChannels, "Our node has no channels in the graph.");
        }

        return null;
    }

    /// <summary>The state of one request: the graph plus virtual nodes/edges for hints and blinded paths, and the labels.</summary>
    private sealed class Search : IDisposable
    {
        private readonly NetworkGraph _graph;
        private readonly ProbabilisticScorer _scorer;
        private readonly DateTimeOffset _now;
        private readonly RouteConstraints _constraints;
        private readonly NodeId _sourceId;
        private readonly int _graphNodes;
        private int _source;
        private readonly List<NodeId> _virtualNodes = [];
        private readonly Dictionary<NodeId, int> _virtualIndex = [];
        private readonly List<VirtualEdge> _edges = [];
        private readonly Dictionary<int, List<int>> _incoming = [];
        private readonly HashSet<int> _excludedNodes = [];
        private readonly HashSet<int> _excludedChannels = [];
        private Dictionary<int, ulong>? _inFlight;
        private Dictionary<int, ulong>? _firstHopLiquidity;
        private readonly Dictionary<ShortChannelId, ulong> _firstHopUsed = [];
        private IReadOnlyList<BlindedPathCandidate>? _blinded;
        private int _target;
        private NodeId _targetId;

        // Labels of the current Dijkstra run; a label whose Run differs from _run is "infinite, not settled", so a new
        // run needs no clearing. The array and the queue are reused across searches on the same thread (the array is
        // ~600 KB for the public network: allocating it per search put it on the large object heap every time).
        private Label[] _labels = [];
        private int _run;
        private PriorityQueue<int, double> _queue = null!;

        [ThreadStatic]
        private static Label[]? t_labels;

        [ThreadStatic]
        private static int t_run;

        [ThreadStatic]
        private static PriorityQueue<int, double>? t_queue;

        public Search(NetworkGraph graph, ProbabilisticScorer scorer, DateTimeOffset now, NodeId source, RouteConstraints constraints)
        {
            _graph = graph;
            _scorer = scorer;
            _now = now;
            _constraints = constraints;
            _sourceId = source;
            _graphNodes = graph.NodeCount;
            if (!graph.TryGetNodeIndex(source, out _source))
            {
                _source = Resolve(source);
            }

            AddFirstHops(constraints.FirstHops);
            if (constraints.ExcludedNodes is { } nodes)
            {
                foreach (var n in nodes)
                {
                    if (graph.TryGetNodeIndex(n, out var i))
                    {
                        _excludedNodes.Add(i);
                    }
                }
            }

            if (constraints.ExcludedChannels is { } channels)
            {
                foreach (var scid in channels)
                {
                    if (graph.TryGetChannelIndex(scid, out var c))
                    {
                        _excludedChannels.Add(c);
                    }
                }
            }
        }

        private void AddFirstHops(IReadOnlyList<FirstHop>? firstHops)
        {
            if (firstHops is null)
            {
                return;
            }

            _firstHopLiquidity = [];
            foreach (var hop in firstHops)
            {
                if (hop.AvailableToSend.Value == 0 || _constraints.ExcludedChannels?.Contains(hop.ShortChannelId) == true)
                {
                    continue;
                }

                if (_source < _graphNodes && _graph.TryGetChannelIndex(hop.ShortChannelId, out var c)
                    && (_graph.Node1(c) == _source || _graph.Node2(c) == _source)
                    && _graph.NodeAt(_graph.Node1(c) == _source ? _graph.Node2(c) : _graph.Node1(c)) == hop.Peer)
                {
                    _firstHopLiquidity[c] = hop.AvailableToSend.Value;
                    continue;
                }

                var policy = new ChannelPolicy(0, 0, 0, hop.HtlcMinimum, hop.AvailableToSend);
                AddEdge(new VirtualEdge(_source, Resolve(hop.Peer), policy, hop.ShortChannelId, -1, FirstHop: true));
            }
        }

        private ulong FirstHopUsed(ShortChannelId scid) => _firstHopUsed.Count == 0 ? 0 : _firstHopUsed.GetValueOrDefault(scid);

        public RouteResult? SetTarget(NodeId target, IReadOnlyList<IReadOnlyList<RouteHintHop>>? hints)
        {
            _targetId = target;
            var usableHints = hints?.Where(h => h is { Count: > 0 }).ToList() ?? [];
            var known = _graph.TryGetNodeIndex(target, out var t);
            var directPeer = _constraints.FirstHops?.Any(h => h.Peer == target && h.AvailableToSend.Value > 0) == true;
            if (!known && usableHints.Count == 0 && !directPeer)
            {
                return RouteResult.Fail(RouteFailureReason.RecipientUnknown, $"The recipient {target} is not in the network graph and the invoice has no route hints.");
            }

            if (known && _graph.ChannelsAt(t).Count == 0 && usableHints.Count == 0 && !directPeer)
            {
                return RouteResult.Fail(RouteFailureReason.RecipientHasNoChannels, $"The recipient {target} has no channels and the invoice has no route hints.");
            }

            _target = Resolve(target);
            foreach (var hint in usableHints)
            {
                for (var i = 0; i < hint.Count; i++)
                {
                    var hop = hint[i];
                    if (_constraints.ExcludedChannels?.Contains(hop.ShortChannelId) == true || (_firstHopLiquidity is not null && hop.Node == _sourceId))
                    {
                        continue;
                    }

                    // (a hint out of the payer itself is one of its own channels: the first hops describe those exactly)
                    var to = i + 1 < hint.Count ? Resolve(hint[i + 1].Node) : _target;
                    var from = Resolve(hop.Node);
                    if (from == to)
                    {
                        continue;
                    }

                    var policy = new ChannelPolicy(hop.FeeBaseMsat, hop.FeeProportionalMillionths, hop.CltvExpiryDelta, MilliSatoshi.Zero, MilliSatoshi.MaxMoney);
                    AddEdge(new VirtualEdge(from, to, policy, hop.ShortChannelId, -1));
                }
            }

            Allocate();
            return null;
        }

        public RouteResult? SetBlindedTarget(IReadOnlyList<BlindedPathCandidate> paths)
        {
            if (paths.Count == 0)
            {
                return RouteResult.Fail(RouteFailureReason.InvalidRequest, "No blinded path was given.");
            }

            _blinded = paths;
            _target = _graphNodes + _virtualNodes.Count;
            _virtualNodes.Add(default);
            for (var i = 0; i < paths.Count; i++)
            {
                var p = paths[i];
                // (an introduction node missing from the graph is still reachable when it is the peer of a first hop)
                if (p.IntroductionNode == _sourceId || (!_graph.TryGetNodeIndex(p.IntroductionNode, out var intro) && !_virtualIndex.TryGetValue(p.IntroductionNode, out intro)))
                {
                    continue;
                }

                var policy = new ChannelPolicy(p.FeeBaseMsat, p.FeeProportionalMillionths, p.CltvExpiryDelta, p.HtlcMinimum, p.HtlcMaximum);
                AddEdge(new VirtualEdge(intro, _target, policy, default, i));
            }

            if (!_incoming.ContainsKey(_target))
            {
                return RouteResult.Fail(RouteFailureReason.RecipientUnknown, "No introduction node of the blinded paths is in the network graph.");
            }

            Allocate();
            return null;
        }

        public void EnableInFlight() => _inFlight = [];

        /// <summary>The smaller of the total usable capacity out of the payer and into the recipient (null when a hint or blinded path makes it unknown).</summary>
        public ulong? CapacityBound()
        {
            if (_target >= _graphNodes || _incoming.ContainsKey(_target))
            {
                return null;
            }

            return Math.Min(UsableCapacity(_source, outgoing: true), UsableCapacity(_target, outgoing: false));
        }

        private ulong UsableCapacity(int node, bool outgoing)
        {
            UInt128 total = 0;
            if (outgoing && node == _source && _firstHopLiquidity is not null)
            {
                foreach (var liquidity in _firstHopLiquidity.Values)
                {
                    total += liquidity;
                }

                foreach (var edge in _edges.Where(e => e.FirstHop))
                {
                    total += edge.Policy.HtlcMaximum.Value;
                }

                return (ulong)UInt128.Min(total, ulong.MaxValue);
            }

            foreach (var c in _graph.ChannelsAt(node))
            {
                var nodeIsFirst = _graph.Node1(c) == node;
                ref readonly var slot = ref _graph.PolicyAt(c, nodeIsFirst == outgoing ? 0 : 1);
                if (slot.Present && !slot.Policy.Disabled && !_excludedChannels.Contains(c))
                {
                    total += _graph.CapacityMsat(c);
                }
            }

            return (ulong)UInt128.Min(total, ulong.MaxValue);
        }

        public void Reserve(Route route)
        {
            if (_firstHopLiquidity is not null && route.Hops.Count > 0)
            {
                var first = route.Hops[0];
                _firstHopUsed[first.ShortChannelId] = FirstHopUsed(first.ShortChannelId) + first.Amount.Value;
            }

            var from = _source;
            foreach (var hop in route.Hops)
            {
                var to = Resolve(hop.Node);
                if (_graph.TryGetChannelIndex(hop.ShortChannelId, out var c) && from < _graphNodes && to < _graphNodes)
                {
                    var direction = _graph.Node1(c) == from ? 0 : 1;
                    var key = (2 * c) + direction;
                    _inFlight![key] = _inFlight.GetValueOrDefault(key) + hop.Amount.Value;
                }

                from = to;
            }
        }

        public RouteResult Run(ulong amountMsat, int finalCltv, ulong maxFeeMsat, bool diagnose)
        {
            if (Dijkstra(amountMsat, finalCltv, maxFeeMsat, _constraints.MaxCltvExpiryDelta))
            {
                return RouteResult.Success(BuildRoute(amountMsat));
            }

            if (!diagnose)
            {
                return RouteResult.Fail(RouteFailureReason.NoRouteWithEnoughLiquidity, "No route with enough liquidity.");
            }

            var amountText = amountMsat.ToString(CultureInfo.InvariantCulture);
            if (!Reachable())
            {
                if (_blinded is null && RecipientOffline())
                {
                    return RouteResult.Fail(RouteFailureReason.RecipientOffline, $"The recipient {_targetId} appears offline: all of its channels are disabled.");
                }

                return RouteResult.Fail(RouteFailureReason.NoPath,
                    $"No path connects us to the recipient within {_constraints.MaxHops} hops through enabled channels.");
            }

            if (Dijkstra(amountMsat, finalCltv, ulong.MaxValue, int.MaxValue))
            {
                var best = BuildRoute(amountMsat);
                if (best.TotalFees.Value > maxFeeMsat)
                {
                    return RouteResult.Fail(RouteFailureReason.ExceedsMaxFee, string.Create(CultureInfo.InvariantCulture,
                        $"Every route to pay {amountText} msat costs more than the fee limit of {maxFeeMsat} msat (the best found costs {best.TotalFees.Value} msat)."));
                }

                return RouteResult.Fail(RouteFailureReason.ExceedsMaxCltv, string.Create(CultureInfo.InvariantCulture,
                    $"Every route to pay {amountText} msat locks funds longer than the limit of {_constraints.MaxCltvExpiryDelta} blocks (the best found needs {best.TotalCltvExpiryDelta})."));
            }

            return RouteResult.Fail(RouteFailureReason.NoRouteWithEnoughLiquidity,
                $"No route with enough liquidity for {amountText} msat: paths exist but their capacity, HTLC limits or known balances are too small.");
        }

        private int Resolve(NodeId node)
        {
            if (_graph.TryGetNodeIndex(node, out var i))
            {
                return i;
            }

            if (!_virtualIndex.TryGetValue(node, out i))
            {
                i = _graphNodes + _virtualNodes.Count;
                _virtualIndex.Add(node, i);
                _virtualNodes.Add(node);
            }

            return i;
        }

        private NodeId NodeAt(int index) => index < _graphNodes ? _graph.NodeAt(index) : _virtualNodes[index - _graphNodes];

        private void AddEdge(VirtualEdge edge)
        {
            _edges.Add(edge);
            if (!_incoming.TryGetValue(edge.To, out var list))
            {
                list = [];
                _incoming.Add(edge.To, list);
            }

            list.Add(_edges.Count - 1);
        }

        private void Allocate()
        {
            var n = _graphNodes + _virtualNodes.Count;
            var labels = t_labels;
            t_labels = null; // rented: a search that never returns it (an exception) just leaves a fresh one for the next
            if (labels is null || labels.Length < n)
            {
                labels = new Label[n + (n / 8)];
                t_run = 0;
            }

            _labels = labels;
            _run = t_run;
            _queue = t_queue ?? new PriorityQueue<int, double>();
            t_queue = null;
        }

        /// <summary>Gives the buffers back to the thread for the next search.</summary>
        public void Dispose()
        {
            if (_labels.Length > 0)
            {
                t_labels = _labels;
                t_run = _run;
                _queue.Clear();
                t_queue = _queue;
                _labels = [];
            }
        }

        private void NextRun()
        {
            if (_run == int.MaxValue)
            {
                Array.Clear(_labels);
                _run = 0;
            }

            _run++;
        }

        private double CostOf(int node) => _labels[node].Run == _run ? _labels[node].Cost : double.PositiveInfinity;

        private bool Dijkstra(ulong amountMsat, int finalCltv, ulong maxFeeMsat, int maxCltv)
        {
            NextRun();
            _queue.Clear();
            var labels = _labels;
            var run = _run;
            labels[_target] = new Label { Run = run, Cost = 0, Amount = amountMsat, Cltv = finalCltv, Hops = 0, NextNode = -1 };
            _queue.Enqueue(_target, 0);
            var maxHops = _constraints.MaxHops;
            var maxTotal = maxFeeMsat >= MilliSatoshi.MaxMoney.Value ? MilliSatoshi.MaxMoney.Value : Math.Min(MilliSatoshi.MaxMoney.Value, amountMsat + maxFeeMsat);
            var parameters = _scorer.Parameters;
            var basePenalty = (double)parameters.BasePenaltyMsat;
            _graph.GetIncomingAdjacency(out var start, out var neighbours, out var edges);
            var checkExcluded = _excludedChannels.Count > 0;

            while (_queue.TryDequeue(out var v, out var priority))
            {
                ref var lv = ref labels[v];
                if (lv.Settled == run || priority > lv.Cost)
                {
                    continue;
                }

                lv.Settled = run;
                if (v == _source)
                {
                    return true;
                }

                if (lv.Hops >= maxHops || (v != _target && _excludedNodes.Contains(v)))
                {
                    continue;
                }

                var amountIn = lv.Amount;
                var costV = lv.Cost;
                if (v < _graphNodes)
                {
                    for (var i = start[v]; i < start[v + 1]; i++)
                    {
                        var u = neighbours[i];
                        ref readonly var lu = ref labels[u];
                        var uCurrent = lu.Run == run;
                        if (uCurrent && (lu.Settled == run || costV + basePenalty >= lu.Cost))
                        {
                            continue; // settled, or fees and penalties (never negative) cannot improve u through this edge
                        }

                        var edge = edges[i];
                        var c = edge >> 1;
                        if (checkExcluded && _excludedChannels.Contains(c))
                        {
                            continue;
                        }

                        if (u == _source && _firstHopLiquidity is not null)
                        {
                            // Our own channel: the balance is known exactly, no fee and no liquidity guess.
                            if (!_firstHopLiquidity.TryGetValue(c, out var liquidity) || amountIn > liquidity - Math.Min(liquidity, FirstHopUsed(_graph.ScidAt(c))))
                            {
                                continue;
                            }

                            Relax(v, u, default, basePenalty, chargeFee: false, edge, maxTotal, maxCltv);
                            continue;
                        }

                        ref readonly var slot = ref _graph.PolicyOfEdge(edge);
                        if (!slot.Present || slot.Policy.Disabled)
                        {
                            continue;
                        }

                        var capacity = _graph.CapacityMsat(c);
                        var htlcMax = slot.Policy.HtlcMaximum.Value == 0 ? capacity : slot.Policy.HtlcMaximum.Value;
                        var used = _inFlight is null ? 0UL : _inFlight.GetValueOrDefault(edge);
                        if (amountIn < slot.Policy.HtlcMinimum.Value || amountIn > htlcMax || amountIn > capacity || used > capacity - amountIn)
                        {
                            continue;
                        }

                        var penalty = _scorer.PenaltyMsat(_graph.ScidAt(c), edge & 1, amountIn + used, capacity, slot.Policy.CltvExpiryDelta, _now);
                        if (double.IsPositiveInfinity(penalty))
                        {
                            continue;
                        }

                        Relax(v, u, slot.Policy, penalty, chargeFee: u != _source, edge, maxTotal, maxCltv);
                    }
                }

                if (_incoming.Count > 0 && _incoming.TryGetValue(v, out var extra))
                {
                    foreach (var e in extra)
                    {
                        var edge = _edges[e];
                        var u = edge.From;
                        if ((labels[u].Run == run && labels[u].Settled == run) || amountIn < edge.Policy.HtlcMinimum.Value || amountIn > edge.Policy.HtlcMaximum.Value
                            || (edge.FirstHop && amountIn > edge.Policy.HtlcMaximum.Value - Math.Min(edge.Policy.HtlcMaximum.Value, FirstHopUsed(edge.ShortChannelId))))
                        {
                            continue;
                        }

                        var penalty = parameters.BasePenaltyMsat + ((double)parameters.CltvPenaltyMsatPerBlock * edge.Policy.CltvExpiryDelta);
                        Relax(v, u, edge.Policy, penalty, chargeFee: u != _source || edge.BlindedIndex >= 0, ~e, maxTotal, maxCltv);
                    }
                }
            }

            return false;
        }

        private void Relax(int v, int u, in ChannelPolicy policy, double penalty, bool chargeFee, int edgeCode, ulong maxTotal, int maxCltv)
        {
            ref readonly var lv = ref _labels[v];
            var amountIn = lv.Amount;
            ulong fee = 0;
            var cltv = lv.Cltv;
            if (chargeFee)
            {
                // base + amount × ppm / 10^6 without UInt128 division (a software routine) unless the product overflows.
                var high = Math.BigMul(amountIn, policy.FeeProportionalMillionths, out var low);
                var proportional = high == 0 ? low / 1_000_000 : (ulong)(((UInt128)high << 64 | low) / 1_000_000);
                if (proportional > maxTotal || policy.FeeBaseMsat > maxTotal - proportional)
                {
                    return;
                }

                fee = policy.FeeBaseMsat + proportional;
                cltv += policy.CltvExpiryDelta;
            }

            if (fee > maxTotal - amountIn || cltv > maxCltv)
            {
                return;
            }

            var cost = lv.Cost + fee + penalty;
            ref var lu = ref _labels[u];
            if (lu.Run != _run)
            {
                lu = new Label { Run = _run, Cost = double.PositiveInfinity };
            }

            if (cost < lu.Cost)
            {
                lu.Cost = cost;
                lu.Amount = amountIn + fee;
                lu.Cltv = cltv;
                lu.Hops = lv.Hops + 1;
                lu.NextNode = v;
                lu.NextEdge = edgeCode;
                _queue.Enqueue(u, cost);
            }
        }

        private Route BuildRoute(ulong amountMsat)
        {
            var hops = new List<RouteHop>();
            int? blindedIndex = null;
            var node = _source;
            while (node != _target)
            {
                var next = _labels[node].NextNode;
                var code = _labels[node].NextEdge;
                if (code < 0 && _edges[~code].BlindedIndex >= 0)
                {
                    blindedIndex = _edges[~code].BlindedIndex;
                    break;
                }

                var scid = code >= 0 ? _graph.ScidAt(code >> 1) : _edges[~code].ShortChannelId;
                var fee = next == _target ? 0 : _labels[next].Amount - _labels[_labels[next].NextNode].Amount;
                hops.Add(new RouteHop(scid, NodeAt(next), new MilliSatoshi(_labels[next].Amount), new MilliSatoshi(fee), _labels[next].Cltv, code < 0 && !_edges[~code].FirstHop));
                node = next;
            }

            return new Route(_sourceId, hops, new MilliSatoshi(amountMsat), blindedIndex);
        }

        private bool Reachable()
        {
            var hops = new int[_graphNodes + _virtualNodes.Count];
            Array.Fill(hops, -1);
            var queue = new Queue<int>();
            hops[_target] = 0;
            queue.Enqueue(_target);
            while (queue.TryDequeue(out var v))
            {
                if (v == _source)
                {
                    return true;
                }

                if (hops[v] >= _constraints.MaxHops || (v != _target && _excludedNodes.Contains(v)))
                {
                    continue;
                }

                if (v < _graphNodes)
                {
                    foreach (var c in _graph.ChannelsAt(v))
                    {
                        var n1 = _graph.Node1(c);
                        var u = n1 == v ? _graph.Node2(c) : n1;
                        ref readonly var slot = ref _graph.PolicyAt(c, n1 == v ? 1 : 0);
                        var usable = u == _source && _firstHopLiquidity is not null ? _firstHopLiquidity.ContainsKey(c) : slot.Present && !slot.Policy.Disabled;
                        if (hops[u] < 0 && usable && !_excludedChannels.Contains(c))
                        {
                            hops[u] = hops[v] + 1;
                            queue.Enqueue(u);
                        }
                    }
                }

                if (_incoming.TryGetValue(v, out var extra))
                {
                    foreach (var e in extra)
                    {
                        var u = _edges[e].From;
                        if (hops[u] < 0)
                        {
                            hops[u] = hops[v] + 1;
                            queue.Enqueue(u);
                        }
                    }
                }
            }

            return false;
        }

        private bool RecipientOffline()
        {
            if (_target >= _graphNodes || _incoming.ContainsKey(_target))
            {
                return false;
            }

            var channels = _graph.ChannelsAt(_target);
            if (channels.Count == 0)
            {
                return false;
            }

            foreach (var c in channels)
            {
                ref readonly var slot = ref _graph.PolicyAt(c, _graph.Node1(c) == _target ? 1 : 0);
                if (slot.Present && !slot.Policy.Disabled)
                {
                    return false;
                }
            }

            return true;
        }

        private struct Label
        {
            public double Cost;
            public ulong Amount;
            public int Cltv;
            public int Hops;
            public int NextNode;
            public int NextEdge;
            public int Run;
            public int Settled;
        }

        private readonly record struct VirtualEdge(int From, int To, ChannelPolicy Policy, ShortChannelId ShortChannelId, int BlindedIndex, bool FirstHop = false);
    }
}
