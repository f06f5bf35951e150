using System.Diagnostics;
using System.Net;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;
using Satflow.Node.Transport;

namespace Satflow.PaymentsLoad;

/// <summary>
/// An <see cref="IPeerTransport"/> decorator that times what the node sends and, by wrapping the handler it attaches,
/// how long the node spends on each incoming message.
/// </summary>
public sealed class TimedTransport(IPeerTransport inner, NodeProbe probe) : IPeerTransport
{
    public NodeId LocalNodeId => inner.LocalNodeId;

    public IPEndPoint? ListenEndPoint => inner.ListenEndPoint;

    public void Attach(IPeerMessageHandler handler) => inner.Attach(new TimedHandler(handler, probe));

    public Task<PeerInfo> ConnectAsync(NodeId nodeId, IPEndPoint? endPoint, CancellationToken cancellationToken = default) =>
        inner.ConnectAsync(nodeId, endPoint, cancellationToken);

    public async ValueTask SendAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        probe.SentByType.AddOrUpdate(message.GetType().Name, 1, (_, n) => n + 1);
        if (message is CommitmentSigned signed)
        {
            for (var i = 0; i < signed.HtlcSignatures.Count; i++)
            {
                probe.HtlcSignaturesSent.Add(Stopwatch.GetTimestamp());
            }
        }
        var start = Stopwatch.GetTimestamp();
        await inner.SendAsync(peer, message, cancellationToken).ConfigureAwait(false);
        probe.Sends.Add(start);
    }

    public Task<bool> DisconnectAsync(NodeId peer) => inner.DisconnectAsync(peer);

    public IReadOnlyList<PeerInfo> ListPeers() => inner.ListPeers();

    public bool IsConnected(NodeId peer) => inner.IsConnected(peer);

    public ValueTask DisposeAsync() => inner.DisposeAsync();

    private sealed class TimedHandler(IPeerMessageHandler node, NodeProbe probe) : IPeerMessageHandler
    {
        public ValueTask OnPeerConnectedAsync(PeerInfo peer, CancellationToken cancellationToken) => node.OnPeerConnectedAsync(peer, cancellationToken);

        public async ValueTask OnMessageAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken)
        {
            var start = Stopwatch.GetTimestamp();
            await node.OnMessageAsync(peer, message, cancellationToken).ConfigureAwait(false);
            probe.Handled.Add(start);
        }

        public ValueTask OnPeerDisconnectedAsync(NodeId peer, DisconnectReason reason) => node.OnPeerDisconnectedAsync(peer, reason);
    }
}
