using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Net;

/// <summary>
/// The Lightning peer layer over TCP (the node's I/O host): accepts and dials connections, runs the BOLT 8 handshake
/// and the BOLT 1 <c>init</c> exchange, keeps peers alive with <c>ping</c>/<c>pong</c>, gives each peer a bounded send
/// queue and a reader loop, delivers messages to an <see cref="IPeerMessageHandler"/> and redials persistent peers
/// with exponential backoff. At most one connection per node id: a newer connection in the same direction
/// <b>replaces</b> the older one (closed with <see cref="DisconnectReason.Replaced"/> and reported disconnected before
/// the new one is reported connected), because the older socket is the one most likely to be dead; when both nodes
/// dial each other, the connection dialled by the smaller node id is kept on both sides and the other is dropped
/// (<see cref="DisconnectReason.DuplicateConnection"/>). All timing uses the injected
/// <see cref="TimeProvider"/>. A misbehaving peer only ever loses its own connection.
/// </summary>
public sealed class PeerManager : IAsyncDisposable
{
    private readonly ECPrivKey _nodeKey;
    private readonly PeerManagerOptions _options;
    private readonly IPeerMessageHandler _handler;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<NodeId, PeerConnection> _connected = new();
    private readonly ConcurrentDictionary<NodeId, PersistentPeer> _persistent = new();
    private readonly ConcurrentDictionary<Task, byte> _tasks = new();
    private readonly SemaphoreSlim _registration = new(1, 1);
    private readonly SemaphoreSlim _inboundHandshakes;
    private TcpListener? _listener;
    private int _disposed;

    /// <summary>Creates the manager; call <see cref="Start"/> to listen.</summary>
    /// <param name="nodeKey">Our node key (BOLT 8 static key).</param>
    /// <param name="options">Settings.</param>
    /// <param name="handler">Receives connections, messages and disconnections.</param>
    /// <param name="timeProvider">The clock for every timeout and interval; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="logger">Logging; none when null.</param>
    /// <exception cref="ArgumentException">When <paramref name="options"/> are invalid.</exception>
    public PeerManager(ECPrivKey nodeKey, PeerManagerOptions options, IPeerMessageHandler handler, TimeProvider? timeProvider = null, ILogger<PeerManager>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(nodeKey);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        options.Validate();
        _nodeKey = nodeKey;
        _options = options;
        _handler = handler;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _inboundHandshakes = new SemaphoreSlim(options.MaxPendingInboundHandshakes, options.MaxPendingInboundHandshakes);
        LocalNodeId = NodeId.FromBytes(nodeKey.CreatePubKey().ToBytes(true));
    }

    /// <summary>Our node id.</summary>
    public NodeId LocalNodeId { get; }

    /// <summary>The bound listening address (with the actual port) once started, or null.</summary>
    public IPEndPoint? LocalEndPoint => _listener?.LocalEndpoint as IPEndPoint;

    /// <summary>Starts listening on <see cref="PeerManagerOptions.ListenEndPoint"/> (nothing to do when it is null).</summary>
    /// <exception cref="InvalidOperationException">When already started or disposed.</exception>
    /// <exception cref="SocketException">When the address cannot be bound.</exception>
    public void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (_listener is not null)
        {
            throw new InvalidOperationException("The peer manager is already started.");
        }
        if (_options.ListenEndPoint is not { } endPoint)
        {
            return;
        }
        var listener = new TcpListener(endPoint);
        listener.Start();
        _listener = listener;
        Log.Listening(_logger, listener.LocalEndpoint);
        Track(AcceptLoopAsync(listener));
    }

    /// <summary>
    /// Dials <paramref name="nodeId"/> at <paramref name="endPoint"/> and completes once both <c>init</c> messages were
    /// exchanged. When <paramref name="persistent"/> is true the peer is remembered (even if this attempt fails) and
    /// redialled with backoff whenever the connection drops, until <see cref="DisconnectAsync"/>.
    /// </summary>
    /// <exception cref="PeerConnectionException">When the TCP connection, the handshake or the init exchange fails.</exception>
    /// <exception cref="ArgumentException">When <paramref name="nodeId"/> is our own node id.</exception>
    public async Task<PeerInfo> ConnectAsync(NodeId nodeId, IPEndPoint endPoint, bool persistent = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (nodeId == LocalNodeId)
        {
            throw new ArgumentException("A node does not connect to itself.", nameof(nodeId));
        }
        if (persistent)
        {
            var entry = _persistent.AddOrUpdate(nodeId, _ => new PersistentPeer(endPoint), (_, old) => old.EndPoint.Equals(endPoint) ? old : new PersistentPeer(endPoint));
            try
            {
                return await DialAsync(nodeId, endPoint, cancellationToken).ConfigureAwait(false);
            }
            catch (PeerConnectionException)
            {
                ScheduleReconnect(nodeId, entry);
                throw;
            }
        }
        return await DialAsync(nodeId, endPoint, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Queues <paramref name="message"/> for a connected peer; waits while its send queue is full.</summary>
    /// <exception cref="PeerNotConnectedException">When the peer is not connected (or disconnects while waiting).</exception>
    /// <exception cref="ArgumentException">When the message encodes to more than 65535 bytes.</exception>
    public async ValueTask SendAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var bytes = message.Encode();
        if (bytes.Length > Transport.LightningTransport.MaxMessageLength)
        {
            throw new ArgumentException($"The message encodes to {bytes.Length} bytes; the limit is {Transport.LightningTransport.MaxMessageLength}.", nameof(message));
        }
        if (!_connected.TryGetValue(peer, out var connection))
        {
            throw new PeerNotConnectedException(peer);
        }
        await connection.SendAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Forgets <paramref name="peer"/> as persistent (stopping reconnection) and closes its connection, waiting until the
    /// handler was told. Returns false when it was not connected.
    /// </summary>
    public async Task<bool> DisconnectAsync(NodeId peer)
    {
        if (_persistent.TryRemove(peer, out var entry))
        {
            await entry.Cancel.CancelAsync().ConfigureAwait(false);
        }
        if (!_connected.TryGetValue(peer, out var connection))
        {
            return false;
        }
        connection.Close(DisconnectReason.LocalRequest, null, "requested");
        await connection.MonitorTask.ConfigureAwait(false);
        return true;
    }

    /// <summary>The connected peers.</summary>
    public IReadOnlyList<PeerInfo> ListPeers() =>
        [.. _connected.Values.Where(c => c.Info is not null).Select(c => c.Info! with { IsPersistent = _persistent.ContainsKey(c.NodeId) })];

    /// <summary>True when <paramref name="peer"/> is connected (both <c>init</c> messages exchanged).</summary>
    public bool IsConnected(NodeId peer) => _connected.ContainsKey(peer);

    /// <summary>Stops listening, closes every connection (the handler sees <see cref="DisconnectReason.ManagerStopped"/>) and stops reconnecting.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _listener?.Stop();
        foreach (var entry in _persistent.Values)
        {
            await entry.Cancel.CancelAsync().ConfigureAwait(false);
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var connection in _connected.Values)
        {
            connection.Close(DisconnectReason.ManagerStopped, null, "stopping");
        }
        while (!_tasks.IsEmpty)
        {
            // Every tracked task handles its own failures; this only waits for them to end.
            await Task.WhenAll(_tasks.Keys).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await Task.Yield();
        }
        _listener?.Dispose();
    }

    private async Task<PeerInfo> DialAsync(NodeId nodeId, IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        ConfigureSocket(socket);
        try
        {
            using var timeout = new CancellationTokenSource(_options.HandshakeTimeout, _time);
            using var connectToken = CancellationTokenSource.CreateLinkedTokenSource(linked.Token, timeout.Token);
            await socket.ConnectAsync(endPoint, connectToken.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            throw new PeerConnectionException(DisconnectReason.ConnectFailed, $"Could not connect to {endPoint}: {e.Message}", e);
        }
        var connection = new PeerConnection(socket, PeerDirection.Outbound, nodeId, _options, _handler, _time, _logger, _stopping.Token);
        try
        {
            await connection.EstablishAsync(_nodeKey, linked.Token).ConfigureAwait(false);
        }
        catch (PeerConnectionException e) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The connection attempt was cancelled.", e, cancellationToken);
        }
        return await RegisterAsync(connection).ConfigureAwait(false);
    }

    private async Task AcceptLoopAsync(TcpListener listener)
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptSocketAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                if (token.IsCancellationRequested)
                {
                    return;
                }
                Log.AcceptFailed(_logger, e);
                continue;
            }
            if (!_inboundHandshakes.Wait(0, CancellationToken.None))
            {
                // Too many half-open inbound connections: shed this one rather than queue it.
                socket.Close(0);
                continue;
            }
            socket.NoDelay = true;
            ConfigureSocket(socket);
            Track(HandleInboundAsync(socket));
        }
    }

    private async Task HandleInboundAsync(Socket socket)
    {
        var connection = new PeerConnection(socket, PeerDirection.Inbound, null, _options, _handler, _time, _logger, _stopping.Token);
        try
        {
            try
            {
                await connection.EstablishAsync(_nodeKey, _stopping.Token).ConfigureAwait(false);
            }
            finally
            {
                _inboundHandshakes.Release();
            }
            await RegisterAsync(connection).ConfigureAwait(false);
        }
        catch (PeerConnectionException e)
        {
            Log.ConnectionFailed(_logger, connection.RemoteEndPoint, e.Reason, e.Message);
        }
    }

    /// <summary>Makes an established connection the one for its node id (replacing an older one) and starts it.</summary>
    private async Task<PeerInfo> RegisterAsync(PeerConnection connection)
    {
        try
        {
            await _registration.WaitAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e)
        {
            connection.Abandon(DisconnectReason.ManagerStopped);
            throw new PeerConnectionException(DisconnectReason.ManagerStopped, "The peer manager is stopping.", e);
        }
        try
        {
            if (_connected.TryGetValue(connection.NodeId, out var old))
            {
                if (!NewConnectionWins(old, connection))
                {
                    connection.Abandon(DisconnectReason.DuplicateConnection);
                    if (connection.Direction == PeerDirection.Outbound)
                    {
                        // We wanted a connection and we have one: the one the peer dialled.
                        return old.Info! with { IsPersistent = _persistent.ContainsKey(old.NodeId) };
                    }
                    throw new PeerConnectionException(DisconnectReason.DuplicateConnection, $"Already connected to {connection.NodeId} through the connection it dialled.");
                }
                old.Close(DisconnectReason.Replaced, null, "a newer connection arrived");
                await old.MonitorTask.ConfigureAwait(false);
            }
            _connected[connection.NodeId] = connection;
            connection.MonitorTask = MonitorAsync(connection);
            Track(connection.MonitorTask);
            Log.PeerConnected(_logger, connection.NodeId, connection.Direction, connection.RemoteEndPoint);
            connection.Start(_persistent.ContainsKey(connection.NodeId));
        }
        finally
        {
            _registration.Release();
        }
        return connection.Info! with { IsPersistent = _persistent.ContainsKey(connection.NodeId) };
    }

    /// <summary>
    /// One connection per node: a new connection in the same direction replaces the old one (the old socket is probably
    /// dead). When both nodes dial each other at once, both must keep the same connection, so the tie-break keeps the
    /// one dialled by the node with the smaller node id.
    /// </summary>
    private bool NewConnectionWins(PeerConnection old, PeerConnection candidate)
    {
        if (old.Direction == candidate.Direction)
        {
            return true;
        }
        var weAreSmaller = LocalNodeId < candidate.NodeId;
        var dialledBySmaller = candidate.Direction == PeerDirection.Outbound ? weAreSmaller : !weAreSmaller;
        return dialledBySmaller;
    }

    private async Task MonitorAsync(PeerConnection connection)
    {
        var reason = await connection.Completion.ConfigureAwait(false);
        _connected.TryRemove(new KeyValuePair<NodeId, PeerConnection>(connection.NodeId, connection));
        Log.PeerDisconnected(_logger, connection.NodeId, reason);
        try
        {
            await _handler.OnPeerDisconnectedAsync(connection.NodeId, reason).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // An application bug must not take the peer layer down; it is logged.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.HandlerFailed(_logger, e, connection.NodeId);
        }
        if (reason is not (DisconnectReason.LocalRequest or DisconnectReason.ManagerStopped or DisconnectReason.Replaced)
            && _persistent.TryGetValue(connection.NodeId, out var entry))
        {
            ScheduleReconnect(connection.NodeId, entry);
        }
    }

    private void ScheduleReconnect(NodeId nodeId, PersistentPeer entry)
    {
        if (_stopping.IsCancellationRequested || entry.Cancel.IsCancellationRequested)
        {
            return;
        }
        // A loop already running sees the request when it ends (it may be finishing a dial whose connection just dropped).
        Volatile.Write(ref entry.Requested, 1);
        if (Interlocked.Exchange(ref entry.Reconnecting, 1) != 0)
        {
            return;
        }
        Track(Task.Run(() => ReconnectLoopAsync(nodeId, entry)));
    }

    private async Task ReconnectLoopAsync(NodeId nodeId, PersistentPeer entry)
    {
        var token = entry.Cancel.Token;
        Volatile.Write(ref entry.Requested, 0);
        try
        {
            for (var attempt = 0; !token.IsCancellationRequested; attempt++)
            {
                if (!_persistent.TryGetValue(nodeId, out var current) || current != entry || _connected.ContainsKey(nodeId))
                {
                    return;
                }
                var delay = ReconnectBackoff.Delay(attempt, _options.ReconnectInitialDelay, _options.ReconnectMaxDelay, Random.Shared.NextDouble());
                Log.Reconnecting(_logger, nodeId, entry.EndPoint, delay);
                await Task.Delay(delay, _time, token).ConfigureAwait(false);
                if (_connected.ContainsKey(nodeId))
                {
                    return;
                }
                try
                {
                    await DialAsync(nodeId, entry.EndPoint, token).ConfigureAwait(false);
                    return;
                }
                catch (PeerConnectionException e)
                {
                    Log.ConnectionFailed(_logger, entry.EndPoint, e.Reason, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Forgotten or stopping.
        }
        finally
        {
            Interlocked.Exchange(ref entry.Reconnecting, 0);
            if (Volatile.Read(ref entry.Requested) != 0 && !_connected.ContainsKey(nodeId))
            {
                ScheduleReconnect(nodeId, entry);
            }
        }
    }

    private void ConfigureSocket(Socket socket)
    {
        if (_options.SocketSendBufferSize is { } size)
        {
            socket.SendBufferSize = size;
        }
    }

    private void Track(Task task)
    {
        _tasks.TryAdd(task, 0);
        _ = task.ContinueWith(t => _tasks.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>A peer we redial: its address and the token that stops redialling.</summary>
    private sealed class PersistentPeer(IPEndPoint endPoint)
    {
        public IPEndPoint EndPoint { get; } = endPoint;

        public CancellationTokenSource Cancel { get; } = new();

        public int Reconnecting;

        public int Requested;
    }
}
