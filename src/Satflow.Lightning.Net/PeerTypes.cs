using System.Net;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Net;

/// <summary>Who opened the TCP connection.</summary>
public enum PeerDirection
{
    /// <summary>The peer dialled us.</summary>
    Inbound,

    /// <summary>We dialled the peer.</summary>
    Outbound,
}

/// <summary>Why a connection ended (or never reached the connected state).</summary>
public enum DisconnectReason
{
    /// <summary>The application asked for it (<see cref="PeerManager.DisconnectAsync"/>).</summary>
    LocalRequest,

    /// <summary>The manager is being disposed.</summary>
    ManagerStopped,

    /// <summary>The remote closed the TCP connection.</summary>
    RemoteClosed,

    /// <summary>A socket error.</summary>
    IoError,

    /// <summary>The TCP connection could not be established.</summary>
    ConnectFailed,

    /// <summary>The BOLT 8 handshake failed (bad act, wrong node key).</summary>
    HandshakeFailed,

    /// <summary>The BOLT 8 handshake did not finish in time.</summary>
    HandshakeTimeout,

    /// <summary>The peer's <c>init</c> did not arrive in time.</summary>
    InitTimeout,

    /// <summary>The first message was not <c>init</c>, or <c>init</c> was malformed.</summary>
    InitProtocolViolation,

    /// <summary>The peer requires a feature we do not know or support, or lacks one we require.</summary>
    IncompatibleFeatures,

    /// <summary>The peer's <c>networks</c> do not include our chain.</summary>
    IncompatibleChain,

    /// <summary>The peer sent a message of an unknown even type.</summary>
    UnknownEvenMessage,

    /// <summary>The peer sent a message that does not parse.</summary>
    MalformedMessage,

    /// <summary>A message failed BOLT 8 decryption (MAC check).</summary>
    DecryptionFailed,

    /// <summary>No <c>pong</c> of the requested length arrived in time.</summary>
    PingTimeout,

    /// <summary>The peer stopped reading: a write could not complete within the send stall bound.</summary>
    SendStalled,

    /// <summary>A newer connection with the same node replaced this one.</summary>
    Replaced,

    /// <summary>
    /// A connection in the opposite direction with the same node already exists and wins the tie-break (the connection
    /// dialled by the node with the smaller node id is kept), so this one was dropped.
    /// </summary>
    DuplicateConnection,
}

/// <summary>A connected peer, as listed by <see cref="PeerManager.ListPeers"/>.</summary>
/// <param name="NodeId">The peer's node id (its BOLT 8 static key).</param>
/// <param name="RemoteEndPoint">The peer's TCP address.</param>
/// <param name="Direction">Who dialled.</param>
/// <param name="Features">The peer's combined <c>init</c> features.</param>
/// <param name="ConnectedSince">When both <c>init</c> messages had been exchanged (from the manager's <see cref="TimeProvider"/>).</param>
/// <param name="IsPersistent">Whether the manager reconnects to this peer when the connection drops.</param>
public sealed record PeerInfo(NodeId NodeId, IPEndPoint RemoteEndPoint, PeerDirection Direction, FeatureBits Features, DateTimeOffset ConnectedSince, bool IsPersistent);

/// <summary>
/// The application side of the peer layer. Calls for one peer are sequential (connected, then messages in arrival
/// order, then disconnected); calls for different peers may run concurrently. A slow handler slows that peer's reader
/// only (natural backpressure). Exceptions thrown by a handler are logged and do not stop the peer.
/// </summary>
public interface IPeerMessageHandler
{
    /// <summary>A peer finished the handshake and the <c>init</c> exchange.</summary>
    ValueTask OnPeerConnectedAsync(PeerInfo peer, CancellationToken cancellationToken);

    /// <summary>
    /// A message from a connected peer. <c>init</c>, <c>ping</c>, <c>pong</c> and unknown odd messages are handled by the
    /// manager and never delivered; <c>warning</c> and <c>error</c> are.
    /// </summary>
    ValueTask OnMessageAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken);

    /// <summary>A connected peer went away (called once per <see cref="OnPeerConnectedAsync"/>).</summary>
    ValueTask OnPeerDisconnectedAsync(NodeId peer, DisconnectReason reason);
}

/// <summary>A connection attempt failed before the peer was connected, or a send targeted a peer that is not connected.</summary>
public sealed class PeerConnectionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PeerConnectionException(DisconnectReason reason, string message, Exception? inner = null)
        : base(message, inner)
    {
        Reason = reason;
    }

    /// <summary>Creates the exception.</summary>
    public PeerConnectionException() : this(DisconnectReason.IoError, "The peer connection failed.") { }

    /// <summary>Creates the exception.</summary>
    public PeerConnectionException(string message) : this(DisconnectReason.IoError, message) { }

    /// <summary>Creates the exception.</summary>
    public PeerConnectionException(string message, Exception inner) : this(DisconnectReason.IoError, message, inner) { }

    /// <summary>Why the connection failed or ended.</summary>
    public DisconnectReason Reason { get; }
}

/// <summary>The send target is not (or no longer) connected.</summary>
public sealed class PeerNotConnectedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public PeerNotConnectedException(NodeId peer)
        : base($"Peer {peer} is not connected.")
    {
        Peer = peer;
    }

    /// <summary>Creates the exception.</summary>
    public PeerNotConnectedException() : base("The peer is not connected.") { }

    /// <summary>Creates the exception.</summary>
    public PeerNotConnectedException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public PeerNotConnectedException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The peer, when known.</summary>
    public NodeId? Peer { get; }
}
