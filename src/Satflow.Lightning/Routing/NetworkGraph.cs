using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Routing;

/// <summary>
/// The fee, CLTV and HTLC limits one side of a channel announces for forwarding in its direction
/// (the fields of a BOLT 7 <c>channel_update</c>).
/// </summary>
/// <param name="FeeBaseMsat">Fixed fee per forwarded HTLC, in millisatoshis.</param>
/// <param name="FeeProportionalMillionths">Fee per million millisatoshis forwarded.</param>
/// <param name="CltvExpiryDelta">Blocks the forwarding node subtracts from the incoming HTLC expiry.</param>
/// <param name="HtlcMinimum">Smallest HTLC the channel forwards.</param>
/// <param name="HtlcMaximum">Largest HTLC the channel forwards.</param>
/// <param name="Disabled">True when the direction is announced as disabled.</param>
/// <param name="Timestamp">The <c>channel_update</c> timestamp (newer updates replace older ones).</param>
public readonly record struct ChannelPolicy(
    uint FeeBaseMsat,
    uint FeeProportionalMillionths,
    ushort CltvExpiryDelta,
    MilliSatoshi HtlcMinimum,
    MilliSatoshi HtlcMaximum,
    bool Disabled = false,
    uint Timestamp = 0)
{
    /// <summary>The fee charged for forwarding <paramref name="amount"/> (BOLT 7: base + amount × proportional / 1,000,000, rounded down).</summary>
    public MilliSatoshi FeeFor(MilliSatoshi amount) => new(FeeMsat(amount.Value));

    internal ulong FeeMsat(ulong amountMsat) =>
        FeeBaseMsat + (ulong)((UInt128)amountMsat * FeeProportionalMillionths / 1_000_000);
}

/// <summary>A snapshot of one announced channel.</summary>
/// <param name="ShortChannelId">The channel.</param>
/// <param name="Node1">The lexicographically lesser node (direction 0 goes from it).</param>
/// <param name="Node2">The other node (direction 1 goes from it).</param>
/// <param name="Capacity">The funding amount.</param>
/// <param name="Policy1">The policy of direction 0 (node 1 → node 2), if an update was seen.</param>
/// <param name="Policy2">The policy of direction 1 (node 2 → node 1), if an update was seen.</param>
public sealed record ChannelInfo(
    ShortChannelId ShortChannelId,
    NodeId Node1,
    NodeId Node2,
    MilliSatoshi Capacity,
    ChannelPolicy? Policy1,
    ChannelPolicy? Policy2);

/// <summary>
/// The public channel graph used for pathfinding. Nodes and channels live in flat arrays indexed by small integers
/// (a node's channels are an index list) so that a search over the ~50,000 public channels touches little memory.
/// Not thread-safe: the owner serialises updates and searches. Gossip signatures are checked by the gossip layer
/// before anything reaches here.
/// </summary>
public sealed class NetworkGraph
{
    private readonly Dictionary<NodeId, int> _nodeIndex = [];
    private readonly List<NodeId> _nodes = [];
    private readonly List<List<int>> _nodeChannels = [];
    private readonly Dictionary<ShortChannelId, int> _channelIndex = [];
    private readonly Stack<int> _freeChannelSlots = new();

    // Channel c: endpoints _node1[c] < _node2[c] (as NodeId order), direction d policy at _policies[2c + d].
    private ShortChannelId[] _scids = new ShortChannelId[16];
    private int[] _node1 = new int[16];
    private int[] _node2 = new int[16];
    private ulong[] _capacityMsat = new ulong[16];
    private DirectedPolicy[] _policies = new DirectedPolicy[32];
    private int _channelSlots;

    // The router's view of the topology: for node v, entries [start[v], start[v + 1]) of the neighbour and edge arrays
    // list every channel at v as (the other end u, the directed edge u → v = 2c + direction). Rebuilt lazily after
    // channels are added or removed (policy updates do not change it): a search then scans contiguous memory instead of
    // chasing a list per node and both endpoint arrays per channel.
    private int _topologyVersion;
    private int _adjacencyVersion = -1;
    private int[] _adjacencyStart = [0];
    private int[] _adjacencyNeighbour = [];
    private int[] _adjacencyEdge = [];

    /// <summary>Number of known nodes.</summary>
    public int NodeCount => _nodes.Count;

    /// <summary>Number of known channels.</summary>
    public int ChannelCount => _channelIndex.Count;

    /// <summary>Adds a node (no effect when it is already known).</summary>
    public void AddNode(NodeId node) => NodeIndexOrAdd(node);

    /// <summary>True when the node is known (it has or had a channel, or was added).</summary>
    public bool ContainsNode(NodeId node) => _nodeIndex.ContainsKey(node);

    /// <summary>
    /// Adds (or re-adds with a new capacity) a channel between two nodes. The order of <paramref name="nodeA"/> and
    /// <paramref name="nodeB"/> does not matter: directions follow BOLT 7 (direction 0 from the lesser node id).
    /// </summary>
    /// <exception cref="ArgumentException">When both ends are the same node.</exception>
    public void AddChannel(ShortChannelId shortChannelId, NodeId nodeA, NodeId nodeB, MilliSatoshi capacity)
    {
        if (nodeA == nodeB)
        {
            throw new ArgumentException("A channel needs two different nodes.", nameof(nodeB));
        }

        var (first, second) = nodeA < nodeB ? (nodeA, nodeB) : (nodeB, nodeA);
        if (_channelIndex.TryGetValue(shortChannelId, out var existing))
        {
            if (_nodes[_node1[existing]] == first && _nodes[_node2[existing]] == second)
            {
                _capacityMsat[existing] = capacity.Value;
                return;
            }

            RemoveChannel(shortChannelId);
        }

        var n1 = NodeIndexOrAdd(first);
        var n2 = NodeIndexOrAdd(second);
        int c;
        if (_freeChannelSlots.Count > 0)
        {
            c = _freeChannelSlots.Pop();
        }
        else
        {
            c = _channelSlots++;
            if (c == _scids.Length)
            {
                var size = c * 2;
                Array.Resize(ref _scids, size);
                Array.Resize(ref _node1, size);
                Array.Resize(ref _node2, size);
                Array.Resize(ref _capacityMsat, size);
                Array.Resize(ref _policies, size * 2);
            }
        }

        _scids[c] = shortChannelId;
        _node1[c] = n1;
        _node2[c] = n2;
        _capacityMsat[c] = capacity.Value;
        _policies[2 * c] = default;
        _policies[(2 * c) + 1] = default;
        _channelIndex[shortChannelId] = c;
        _nodeChannels[n1].Add(c);
        _nodeChannels[n2].Add(c);
        _topologyVersion++;
    }

    /// <summary>Adds the channel of a (signature-checked) <c>channel_announcement</c>; the capacity comes from the funding output.</summary>
    public void AddChannel(ChannelAnnouncement announcement, MilliSatoshi capacity)
    {
        ArgumentNullException.ThrowIfNull(announcement);
        AddChannel(announcement.ShortChannelId, announcement.NodeId1, announcement.NodeId2, capacity);
    }

    /// <summary>Removes a channel (closed or pruned). Returns false when it was unknown. Nodes stay known.</summary>
    public bool RemoveChannel(ShortChannelId shortChannelId)
    {
        if (!_channelIndex.Remove(shortChannelId, out var c))
        {
            return false;
        }

        _nodeChannels[_node1[c]].Remove(c);
        _nodeChannels[_node2[c]].Remove(c);
        _policies[2 * c] = default;
        _policies[(2 * c) + 1] = default;
        _node1[c] = -1;
        _node2[c] = -1;
        _freeChannelSlots.Push(c);
        _topologyVersion++;
        return true;
    }

    /// <summary>
    /// Sets the policy of one direction of a channel (direction 0 from the lesser node id, 1 from the other).
    /// An update with a timestamp older than the stored one is ignored. Returns false when the channel is unknown,
    /// the direction is not 0 or 1, or the update is stale.
    /// </summary>
    public bool UpdatePolicy(ShortChannelId shortChannelId, int direction, ChannelPolicy policy)
    {
        if (direction is not (0 or 1) || !_channelIndex.TryGetValue(shortChannelId, out var c))
        {
            return false;
        }

        ref var slot = ref _policies[(2 * c) + direction];
        if (slot.Present && policy.Timestamp < slot.Policy.Timestamp)
        {
            return false;
        }

        slot = new DirectedPolicy(policy, true);
        return true;
    }

    /// <summary>Sets the policy of the direction going out of <paramref name="from"/>. Returns false when it is not an end of the channel or the update is stale.</summary>
    public bool UpdatePolicy(ShortChannelId shortChannelId, NodeId from, ChannelPolicy policy)
    {
        if (!_channelIndex.TryGetValue(shortChannelId, out var c))
        {
            return false;
        }

        var direction = _nodes[_node1[c]] == from ? 0 : _nodes[_node2[c]] == from ? 1 : -1;
        return direction >= 0 && UpdatePolicy(shortChannelId, direction, policy);
    }

    /// <summary>Applies the decoded fields of a (signature-checked) <c>channel_update</c>; see <see cref="UpdatePolicy(ShortChannelId, int, ChannelPolicy)"/>.</summary>
    public bool ApplyChannelUpdate(ChannelUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        var policy = new ChannelPolicy(update.FeeBaseMsat, update.FeeProportionalMillionths, update.CltvExpiryDelta,
            update.HtlcMinimumMsat, update.HtlcMaximumMsat, update.IsDisabled, update.Timestamp);
        return UpdatePolicy(update.ShortChannelId, update.Direction, policy);
    }

    /// <summary>Looks a channel up.</summary>
    public bool TryGetChannel(ShortChannelId shortChannelId, out ChannelInfo channel)
    {
        if (!_channelIndex.TryGetValue(shortChannelId, out var c))
        {
            channel = null!;
            return false;
        }

        channel = Snapshot(c);
        return true;
    }

    /// <summary>The channels of a node (empty when unknown).</summary>
    public IReadOnlyList<ChannelInfo> ChannelsOf(NodeId node) =>
        _nodeIndex.TryGetValue(node, out var n) ? [.. _nodeChannels[n].Select(Snapshot)] : [];

    private ChannelInfo Snapshot(int c)
    {
        var p1 = _policies[2 * c];
        var p2 = _policies[(2 * c) + 1];
        return new ChannelInfo(_scids[c], _nodes[_node1[c]], _nodes[_node2[c]], new MilliSatoshi(_capacityMsat[c]),
            p1.Present ? p1.Policy : null, p2.Present ? p2.Policy : null);
    }

    private int NodeIndexOrAdd(NodeId node)
    {
        if (!_nodeIndex.TryGetValue(node, out var n))
        {
            n = _nodes.Count;
            _nodeIndex.Add(node, n);
            _nodes.Add(node);
            _nodeChannels.Add([]);
        }

        return n;
    }

    // ---- internal accessors for the router (indices stay valid while the graph is not modified) ----

    internal bool TryGetNodeIndex(NodeId node, out int index) => _nodeIndex.TryGetValue(node, out index);

    internal bool TryGetChannelIndex(ShortChannelId scid, out int index) => _channelIndex.TryGetValue(scid, out index);

    internal NodeId NodeAt(int index) => _nodes[index];

    internal List<int> ChannelsAt(int node) => _nodeChannels[node];

    internal int Node1(int c) => _node1[c];

    internal int Node2(int c) => _node2[c];

    internal ShortChannelId ScidAt(int c) => _scids[c];

    internal ulong CapacityMsat(int c) => _capacityMsat[c];

    internal ref readonly DirectedPolicy PolicyAt(int c, int direction) => ref _policies[(2 * c) + direction];

    /// <summary>The policy of directed edge <c>2c + direction</c>.</summary>
    internal ref readonly DirectedPolicy PolicyOfEdge(int edge) => ref _policies[edge];

    /// <summary>The incoming-edge adjacency (see the field comment), rebuilt when the topology changed since the last call.</summary>
    internal void GetIncomingAdjacency(out int[] start, out int[] neighbour, out int[] edge)
    {
        if (_adjacencyVersion != _topologyVersion)
        {
            var n = _nodes.Count;
            var begin = new int[n + 1];
            for (var v = 0; v < n; v++)
            {
                begin[v + 1] = begin[v] + _nodeChannels[v].Count;
            }

            var neighbours = new int[begin[n]];
            var edges = new int[begin[n]];
            for (var v = 0; v < n; v++)
            {
                var i = begin[v];
                foreach (var c in _nodeChannels[v])
                {
                    var n1 = _node1[c];
                    var vIsFirst = n1 == v;
                    neighbours[i] = vIsFirst ? _node2[c] : n1;
                    edges[i] = (2 * c) + (vIsFirst ? 1 : 0);
                    i++;
                }
            }

            _adjacencyStart = begin;
            _adjacencyNeighbour = neighbours;
            _adjacencyEdge = edges;
            _adjacencyVersion = _topologyVersion;
        }

        start = _adjacencyStart;
        neighbour = _adjacencyNeighbour;
        edge = _adjacencyEdge;
    }

    internal readonly record struct DirectedPolicy(ChannelPolicy Policy, bool Present);
}
