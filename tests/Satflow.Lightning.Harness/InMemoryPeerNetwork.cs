using System.Net;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;
using Satflow.Node.Transport;

namespace Satflow.Lightning.Harness;

/// <summary>
/// Peers in one process: messages are encoded to wire bytes, queued in one global FIFO, and handed to the receiving
/// node only when the test calls <see cref="DeliverAllAsync"/> / <see cref="DeliverOneAsync"/>, so every run is the
/// same interleaving. Messages queued on a link that is then cut are lost, as on a real connection.
/// </summary>
public sealed class InMemoryPeerNetwork
{
    private readonly Dictionary<NodeId, InMemoryPeerTransport> _transports = [];
    private readonly HashSet<(NodeId, NodeId)> _links = [];
    private readonly Dictionary<NodeId, Features.FeatureBits> _features = [];
    private readonly LinkedList<Envelope> _queue = new();
    private readonly TimeProvider _time;

    /// <summary>Creates an empty network.</summary>
    /// <param name="time">The clock stamped on connections.</param>
    public InMemoryPeerNetwork(TimeProvider time) => _time = time;

    /// <summary>Messages waiting for delivery.</summary>
    public int PendingCount => _queue.Count;

    /// <summary>Every message delivered so far (type name), in order; handy to assert on a protocol flow.</summary>
    public List<(NodeId From, NodeId To, LightningMessage Message)> Delivered { get; } = [];

    /// <summary>Creates the transport of a node.</summary>
    /// <param name="nodeId">The node id.</param>
    public InMemoryPeerTransport CreateTransport(NodeId nodeId)
    {
        var transport = new InMemoryPeerTransport(this, nodeId);
        _transports[nodeId] = transport;
        return transport;
    }

    internal void Remove(InMemoryPeerTransport transport)
    {
        if (_transports.TryGetValue(transport.LocalNodeId, out var current) && current == transport)
        {
            _transports.Remove(transport.LocalNodeId);
        }
    }

    /// <summary>Whether two nodes are linked.</summary>
    public bool AreConnected(NodeId a, NodeId b) => _links.Contains(Ordered(a, b));

    /// <summary>Links two nodes and tells both (the init exchange is assumed to have succeeded).</summary>
    public async Task<PeerInfo> ConnectAsync(NodeId from, NodeId to, CancellationToken cancellationToken = default)
    {
        if (!_transports.TryGetValue(from, out var a) || a.Handler is null)
        {
            throw new InvalidOperationException($"Node {from} is not on the network.");
        }
        if (!_transports.TryGetValue(to, out var b) || b.Handler is null)
        {
            throw new PeerConnectionException(DisconnectReason.ConnectFailed, $"Node {to} is not reachable.");
        }
        if (!_links.Add(Ordered(from, to)))
        {
            return InfoFor(to, PeerDirection.Outbound);
        }
        await a.Handler.OnPeerConnectedAsync(InfoFor(to, PeerDirection.Outbound), cancellationToken).ConfigureAwait(false);
        await b.Handler.OnPeerConnectedAsync(InfoFor(from, PeerDirection.Inbound), cancellationToken).ConfigureAwait(false);
        return InfoFor(to, PeerDirection.Outbound);
    }

    /// <summary>Cuts the link between two nodes: queued messages between them are dropped and both are told.</summary>
    public async Task<bool> DisconnectAsync(NodeId a, NodeId b)
    {
        if (!_links.Remove(Ordered(a, b)))
        {
            return false;
        }
        for (var node = _queue.First; node is not null;)
        {
            var next = node.Next;
            if ((node.Value.From == a && node.Value.To == b) || (node.Value.From == b && node.Value.To == a))
            {
                _queue.Remove(node);
            }
            node = next;
        }
        foreach (var (self, other) in new[] { (a, b), (b, a) })
        {
            if (_transports.TryGetValue(self, out var t) && t.Handler is not null)
            {
                await t.Handler.OnPeerDisconnectedAsync(other, DisconnectReason.RemoteClosed).ConfigureAwait(false);
            }
        }
        return true;
    }

    /// <summary>Cuts every link of a node (a crash): queued messages to and from it are dropped; its peers are told.</summary>
    public async Task IsolateAsync(NodeId node)
    {
        foreach (var link in _links.Where(l => l.Item1 == node || l.Item2 == node).ToList())
        {
            await DisconnectAsync(link.Item1, link.Item2).ConfigureAwait(false);
        }
    }

    /// <summary>The peers linked to a node.</summary>
    public IReadOnlyList<NodeId> PeersOf(NodeId node) =>
        [.. _links.Where(l => l.Item1 == node || l.Item2 == node).Select(l => l.Item1 == node ? l.Item2 : l.Item1)];

    /// <summary>
    /// Sets the <c>init</c> features a node shows its peers (default: <see cref="PeerManagerOptions.DefaultFeatures"/>),
    /// e.g. an old node without <c>gossip_queries</c>; takes effect on the next connection.
    /// </summary>
    public void SetFeatures(NodeId node, Features.FeatureBits features) => _features[node] = features;

    internal PeerInfo InfoFor(NodeId peer, PeerDirection direction) =>
        new(peer, new IPEndPoint(IPAddress.Loopback, 9735), direction, _features.GetValueOrDefault(peer, PeerManagerOptions.DefaultFeatures), _time.GetUtcNow(), false);

    internal void Enqueue(NodeId from, NodeId to, LightningMessage message)
    {
        if (!AreConnected(from, to))
        {
            throw new PeerNotConnectedException(to);
        }
        // Through the wire codec, so every message the nodes exchange round-trips like on a real connection.
        _queue.AddLast(new Envelope(from, to, message.Encode()));
    }

    /// <summary>Delivers the oldest queued message; false when none is queued.</summary>
    public async Task<bool> DeliverOneAsync(CancellationToken cancellationToken = default)
    {
        if (_queue.First is not { } first)
        {
            return false;
        }
        _queue.RemoveFirst();
        var envelope = first.Value;
        if (_transports.TryGetValue(envelope.To, out var target) && target.Handler is not null && AreConnected(envelope.From, envelope.To))
        {
            var message = LightningMessage.Decode(envelope.Bytes);
            Delivered.Add((envelope.From, envelope.To, message));
            await target.Handler.OnMessageAsync(envelope.From, message, cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>Delivers queued messages (and the ones they cause) until none is left.</summary>
    /// <param name="maxMessages">A bound that catches two nodes ping-ponging forever.</param>
    /// <param name="cancellationToken">Cancels delivery.</param>
    /// <returns>How many messages were delivered.</returns>
    public async Task<int> DeliverAllAsync(int maxMessages = 1_000_000, CancellationToken cancellationToken = default)
    {
        var count = 0;
        while (await DeliverOneAsync(cancellationToken).ConfigureAwait(false))
        {
            if (++count > maxMessages)
            {
                throw new InvalidOperationException($"More than {maxMessages} messages without quiescence.");
            }
        }
        return count;
    }

    /// <summary>Drops every queued message from <paramref name="from"/> to <paramref name="to"/> (a lossy link, for tests).</summary>
    public int Drop(NodeId from, NodeId to)
    {
        var dropped = 0;
        for (var node = _queue.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.From == from && node.Value.To == to)
            {
                _queue.Remove(node);
                dropped++;
            }
            node = next;
        }
        return dropped;
    }

    private static (NodeId, NodeId) Ordered(NodeId a, NodeId b) => a < b ? (a, b) : (b, a);

    private sealed record Envelope(NodeId From, NodeId To, byte[] Bytes);
}

/// <summary>One node's end of an <see cref="InMemoryPeerNetwork"/>.</summary>
public sealed class InMemoryPeerTransport : IPeerTransport
{
    private readonly InMemoryPeerNetwork _network;

    internal InMemoryPeerTransport(InMemoryPeerNetwork network, NodeId nodeId)
    {
        _network = network;
        LocalNodeId = nodeId;
    }

    /// <inheritdoc />
    public NodeId LocalNodeId { get; }

    /// <inheritdoc />
    public IPEndPoint? ListenEndPoint => null;

    internal IPeerMessageHandler? Handler { get; private set; }

    /// <inheritdoc />
    public void Attach(IPeerMessageHandler handler) => Handler = handler;

    /// <inheritdoc />
    public Task<PeerInfo> ConnectAsync(NodeId nodeId, IPEndPoint? endPoint, CancellationToken cancellationToken = default) =>
        _network.ConnectAsync(LocalNodeId, nodeId, cancellationToken);

    /// <inheritdoc />
    public ValueTask SendAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken = default)
    {
        _network.Enqueue(LocalNodeId, peer, message);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public Task<bool> DisconnectAsync(NodeId peer) => _network.DisconnectAsync(LocalNodeId, peer);

    /// <inheritdoc />
    public IReadOnlyList<PeerInfo> ListPeers() => [.. _network.PeersOf(LocalNodeId).Select(p => _network.InfoFor(p, PeerDirection.Outbound))];

    /// <inheritdoc />
    public bool IsConnected(NodeId peer) => _network.AreConnected(LocalNodeId, peer);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _network.Remove(this);
        Handler = null;
        return ValueTask.CompletedTask;
    }
}
