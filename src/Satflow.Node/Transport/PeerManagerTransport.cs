using System.Net;
using Microsoft.Extensions.Logging;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;

namespace Satflow.Node.Transport;

/// <summary>The real transport: a <see cref="PeerManager"/> (TCP, BOLT 8, init, ping, reconnection).</summary>
public sealed class PeerManagerTransport : IPeerTransport
{
    private readonly ECPrivKey _nodeKey;
    private readonly PeerManagerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory? _loggers;
    private PeerManager? _manager;

    /// <summary>Creates the transport; nothing listens until <see cref="Attach"/>.</summary>
    /// <param name="nodeKey">The node's identity key.</param>
    /// <param name="options">Listen address, chain, features and timeouts.</param>
    /// <param name="timeProvider">The clock for timeouts and pings.</param>
    /// <param name="loggers">Optional loggers.</param>
    public PeerManagerTransport(ECPrivKey nodeKey, PeerManagerOptions options, TimeProvider timeProvider, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(nodeKey);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _nodeKey = nodeKey;
        _options = options;
        _time = timeProvider;
        _loggers = loggers;
        LocalNodeId = NodeId.FromBytes(nodeKey.CreatePubKey().ToBytes(true));
    }

    /// <inheritdoc />
    public NodeId LocalNodeId { get; }

    /// <inheritdoc />
    public IPEndPoint? ListenEndPoint => _manager?.LocalEndPoint;

    private PeerManager Manager => _manager ?? throw new InvalidOperationException("The transport is not attached to a node yet.");

    /// <inheritdoc />
    public void Attach(IPeerMessageHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (_manager is not null)
        {
            throw new InvalidOperationException("The transport is already attached.");
        }
        _manager = new PeerManager(_nodeKey, _options, handler, _time, _loggers?.CreateLogger<PeerManager>());
        _manager.Start();
    }

    /// <inheritdoc />
    public Task<PeerInfo> ConnectAsync(NodeId nodeId, IPEndPoint? endPoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return Manager.ConnectAsync(nodeId, endPoint, persistent: false, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask SendAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken = default) =>
        Manager.SendAsync(peer, message, cancellationToken);

    /// <inheritdoc />
    public Task<bool> DisconnectAsync(NodeId peer) => Manager.DisconnectAsync(peer);

    /// <inheritdoc />
    public IReadOnlyList<PeerInfo> ListPeers() => _manager?.ListPeers() ?? [];

    /// <inheritdoc />
    public bool IsConnected(NodeId peer) => _manager?.IsConnected(peer) ?? false;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_manager is not null)
        {
            await _manager.DisposeAsync().ConfigureAwait(false);
        }
    }
}
