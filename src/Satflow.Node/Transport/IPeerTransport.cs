using System.Net;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;

namespace Satflow.Node.Transport;

/// <summary>
/// How the node reaches its peers. The real implementation is <see cref="PeerManagerTransport"/> (TCP + BOLT 8 + init);
/// the test harness plugs an in-memory network in. Incoming traffic is delivered to the <see cref="IPeerMessageHandler"/>
/// given to <see cref="Attach"/> (the node).
/// </summary>
public interface IPeerTransport : IAsyncDisposable
{
    /// <summary>Our node id on this transport.</summary>
    NodeId LocalNodeId { get; }

    /// <summary>Where we listen, when we listen.</summary>
    IPEndPoint? ListenEndPoint { get; }

    /// <summary>Sets the handler incoming connections and messages go to, and starts listening. Called once.</summary>
    /// <param name="handler">The node.</param>
    void Attach(IPeerMessageHandler handler);

    /// <summary>Connects to a peer (returns when the init exchange is done).</summary>
    /// <param name="nodeId">The peer's node id.</param>
    /// <param name="endPoint">Its address (ignored by transports that need none).</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <exception cref="PeerConnectionException">The connection failed.</exception>
    Task<PeerInfo> ConnectAsync(NodeId nodeId, IPEndPoint? endPoint, CancellationToken cancellationToken = default);

    /// <summary>Queues a message for a connected peer.</summary>
    /// <param name="peer">The peer.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <exception cref="PeerNotConnectedException">The peer is not connected.</exception>
    ValueTask SendAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken = default);

    /// <summary>Disconnects a peer; false when it was not connected.</summary>
    /// <param name="peer">The peer.</param>
    Task<bool> DisconnectAsync(NodeId peer);

    /// <summary>The connected peers.</summary>
    IReadOnlyList<PeerInfo> ListPeers();

    /// <summary>Whether a peer is connected.</summary>
    /// <param name="peer">The peer.</param>
    bool IsConnected(NodeId peer);
}
