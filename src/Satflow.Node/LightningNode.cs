using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NBitcoin;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;
using Satflow.Payments;

namespace Satflow.Node;

/// <summary>
/// A Lightning node: peers (through an <see cref="Transport.IPeerTransport"/>), channels (opening handshake, BOLT 2 state
/// machine, BOLT 5 monitor), single-hop payments (BOLT 11 invoices and keysend) and the chain (funding confirmation,
/// monitor claims). Every state change is persisted in one atomic batch before the messages that depend on it are sent.
/// All work runs under one lock, driven by the transport's callbacks, the host's block feed and API calls; the node
/// owns no thread and reads time only through its <see cref="TimeProvider"/>.
/// </summary>
public sealed partial class LightningNode : IPeerMessageHandler, Bitcoin.Chain.IBlockListener, IAsyncDisposable
{
    private readonly NodeOptions _options;
    private readonly NodeDependencies _deps;
    private readonly NodeStore _store;
    private readonly ILogger _logger;
    private readonly RandomFill _random;
    private readonly byte[] _seed;
    private readonly Key _nodeKey;
    private readonly ECPrivKey _nodeSecret;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<ChannelId, ChannelSlot> _channels = [];
    private readonly Dictionary<ChannelId, PendingOpening> _openings = [];
    private readonly Dictionary<(ChannelId, ulong), OfferedHtlcRecord> _offered = [];
    private readonly Dictionary<(ChannelId, ulong), ReceivedHtlcRecord> _received = [];
    private readonly Dictionary<PaymentHash, TaskCompletionSource<OutgoingPaymentRecord>> _paymentWaiters = [];
    private uint _nextKeyIndex;
    private int _height = -1;
    private uint256 _tipHash = uint256.Zero;
    private int _disposed;

    private LightningNode(NodeDependencies deps, NodeOptions options)
    {
        _deps = deps;
        _options = options;
        _seed = deps.Seed.ToArray();
        _nodeKey = DeriveNodeKey(_seed);
        _nodeSecret = ECPrivKey.Create(_nodeKey.ToBytes());
        NodeId = new NodeId(_nodeKey.PubKey);
        if (deps.Transport.LocalNodeId != NodeId)
        {
            throw new ArgumentException("The transport's node id is not the one the seed derives.", nameof(deps));
        }
        _store = new NodeStore(deps.Store);
        _logger = (ILogger?)deps.Loggers?.CreateLogger<LightningNode>() ?? NullLogger.Instance;
        _random = deps.Random ?? System.Security.Cryptography.RandomNumberGenerator.Fill;
        Invoices = new InvoiceService(deps.Store, _nodeKey, options.Network, deps.Time, _random);
        Payments = new PaymentTracker(deps.Store, deps.Time);
    }

    /// <summary>Our node id.</summary>
    public NodeId NodeId { get; }

    /// <summary>The options.</summary>
    public NodeOptions Options => _options;

    /// <summary>The invoices we issued.</summary>
    public InvoiceService Invoices { get; }

    /// <summary>The payments we made.</summary>
    public PaymentTracker Payments { get; }

    /// <summary>The height of the last block the node was given (-1 before the first).</summary>
    public int BlockHeight => _height;

    /// <summary>The last block the node processed (persisted: a host resumes its chain feed after it).</summary>
    public Bitcoin.Chain.ChainTip? BestBlock => _height < 0 ? null : new Bitcoin.Chain.ChainTip(_height, _tipHash);

    /// <summary>The node key path under the seed: <c>m/1017'/0'/6'/0'</c> (next to the channel key families 0..5).</summary>
    public static KeyPath NodeKeyPath { get; } = new("1017'/0'/6'/0'");

    /// <summary>Derives the node identity key from a seed (hosts need it to build the transport first).</summary>
    /// <param name="seed">The node seed (16..64 bytes).</param>
    public static Key DeriveNodeKey(ReadOnlySpan<byte> seed)
    {
        if (seed.Length is < 16 or > 64)
        {
            throw new ArgumentException("The node seed must be 16..64 bytes.", nameof(seed));
        }
        return ExtKey.CreateFromSeed(seed.ToArray()).Derive(NodeKeyPath).PrivateKey;
    }

    /// <summary>The node identity key as the secp256k1 library type (for the transport).</summary>
    /// <param name="seed">The node seed.</param>
    public static ECPrivKey DeriveNodeSecret(ReadOnlySpan<byte> seed) => ECPrivKey.Create(DeriveNodeKey(seed).ToBytes());

    /// <summary>
    /// Restores the node from its store (channels, monitors, HTLC bookkeeping) and attaches it to the transport. Channels
    /// start offline; <c>channel_reestablish</c> goes out when their peer connects.
    /// </summary>
    /// <param name="dependencies">The composition.</param>
    /// <param name="options">Policy (defaults when null).</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <exception cref="NodeStateCorruptException">A stored record is unreadable.</exception>
    public static async Task<LightningNode> StartAsync(NodeDependencies dependencies, NodeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dependencies);
        var node = new LightningNode(dependencies, options ?? new NodeOptions());
        await node.RestoreAsync(cancellationToken).ConfigureAwait(false);
        dependencies.Transport.Attach(node);
        return node;
    }

    private async Task RestoreAsync(CancellationToken cancellationToken)
    {
        _nextKeyIndex = await _store.ReadNextKeyIndexAsync(cancellationToken).ConfigureAwait(false);
        if (await _store.ReadTipAsync(cancellationToken).ConfigureAwait(false) is { } tip)
        {
            _height = tip.Height;
            _tipHash = tip.Hash;
        }
        var monitors = (await _store.ReadAllAsync(NodeStore.MonitorsNamespace, cancellationToken).ConfigureAwait(false))
            .ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);
        foreach (var (key, value) in await _store.ReadAllAsync(NodeStore.ChannelsNamespace, cancellationToken).ConfigureAwait(false))
        {
            var channelId = NodeStore.ParseChannelKey(key);
            var record = ChannelRecord.Decode(value.Span);
            var keys = LocalChannelKeys.Derive(_seed, record.KeyIndex);
            if (!monitors.TryGetValue(key, out var monitorBytes))
            {
                throw new NodeStateCorruptException($"Channel {channelId} has no monitor record.");
            }
            var slot = ChannelSlot.Restore(record, keys, monitorBytes, _deps.ClaimFeeWallet);
            if (slot.ChannelId != channelId)
            {
                throw new NodeStateCorruptException($"Channel record '{key}' holds channel {slot.ChannelId}.");
            }
            _channels.Add(channelId, slot);
        }
        foreach (var slot in _channels.Values)
        {
            // A restored channel is offline until its peer reconnects and the reestablish completes.
            var output = slot.Channel.PeerDisconnected();
            if (!output.IsEmpty)
            {
                await ApplyAsync(slot, output, [], cancellationToken).ConfigureAwait(false);
            }
        }
        foreach (var (channelId, record) in await _store.ReadOfferedHtlcsAsync(cancellationToken).ConfigureAwait(false))
        {
            _offered[(channelId, record.HtlcId)] = record;
        }
        foreach (var (channelId, record) in await _store.ReadReceivedHtlcsAsync(cancellationToken).ConfigureAwait(false))
        {
            _received[(channelId, record.HtlcId)] = record;
        }
        await RestoreForwardingAsync(cancellationToken).ConfigureAwait(false);
        var inFlight = _offered.Values.Select(o => o.PaymentHash).ToHashSet();
        foreach (var payment in await Payments.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (payment.State == OutgoingPaymentState.Pending && !inFlight.Contains(payment.PaymentHash))
            {
                // Its HTLC was never written, so it was never sent: the payment did not leave and may be retried.
                await Payments.FailAsync(payment.PaymentHash, PaymentFailureReason.Aborted, "The node stopped before the payment was sent; nothing left this node.", cancellationToken).ConfigureAwait(false);
            }
        }
        await RestoreRecoveriesAsync(cancellationToken).ConfigureAwait(false);
        await RestoreGossipAsync(cancellationToken).ConfigureAwait(false);
        Log.Restored(_logger, _channels.Count, _offered.Count, _received.Count);
    }

    // ---------------------------------------------------------------- peers

    /// <summary>Connects to a peer.</summary>
    /// <param name="nodeId">The peer.</param>
    /// <param name="endPoint">Its address (transports that need none ignore it).</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <exception cref="PeerConnectionException">The connection failed.</exception>
    public Task<PeerInfo> ConnectAsync(NodeId nodeId, IPEndPoint? endPoint, CancellationToken cancellationToken = default) =>
        _deps.Transport.ConnectAsync(nodeId, endPoint, cancellationToken);

    /// <summary>Disconnects a peer; false when it was not connected.</summary>
    /// <param name="nodeId">The peer.</param>
    public Task<bool> DisconnectAsync(NodeId nodeId) => _deps.Transport.DisconnectAsync(nodeId);

    /// <summary>The connected peers.</summary>
    public IReadOnlyList<PeerInfo> ListPeers() => _deps.Transport.ListPeers();

    /// <summary>Where the transport listens, if it does.</summary>
    public IPEndPoint? ListenEndPoint => _deps.Transport.ListenEndPoint;

    /// <inheritdoc />
    public async ValueTask OnPeerConnectedAsync(PeerInfo peer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(peer);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var slot in SlotsOf(peer.NodeId))
            {
                // Whatever state we restored, the peer hears our channel_reestablish first.
                await ApplyAsync(slot, slot.Channel.PeerDisconnected(), [], cancellationToken).ConfigureAwait(false);
                await SendAsync(peer.NodeId, slot.Channel.CreateReestablish(), cancellationToken).ConfigureAwait(false);
            }
            await SendRecoveryRequestsAsync(peer.NodeId, cancellationToken).ConfigureAwait(false);
            await GossipPeerConnectedAsync(peer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask OnPeerDisconnectedAsync(NodeId peer, DisconnectReason reason)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            GossipPeerDisconnected(peer);
            foreach (var (tempId, opening) in _openings.Where(o => o.Value.Peer == peer).ToList())
            {
                _openings.Remove(tempId);
                opening.Completion.TrySetException(new NodeOperationRefusedException(NodeErrorReason.PeerNotConnected, $"Peer {peer} disconnected during the opening handshake ({reason})."));
            }
            foreach (var slot in SlotsOf(peer))
            {
                await ApplyAsync(slot, slot.Channel.PeerDisconnected(), [], CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask OnMessageAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await DispatchAsync(peer, message, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task DispatchAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken)
    {
        switch (message)
        {
            case OpenChannel open:
                await OnOpenChannelAsync(peer, open, cancellationToken).ConfigureAwait(false);
                return;
            case AcceptChannel accept:
                await OnAcceptChannelAsync(peer, accept, cancellationToken).ConfigureAwait(false);
                return;
            case FundingCreated created:
                await OnFundingCreatedAsync(peer, created, cancellationToken).ConfigureAwait(false);
                return;
            case FundingSigned signed:
                await OnFundingSignedAsync(peer, signed, cancellationToken).ConfigureAwait(false);
                return;
            case Error error:
                await OnErrorAsync(peer, error, cancellationToken).ConfigureAwait(false);
                return;
            case Warning warning:
                Log.PeerWarning(_logger, peer, System.Text.Encoding.ASCII.GetString(warning.Data.Span));
                return;
            case AnnouncementSignatures or ChannelAnnouncement or ChannelUpdate or NodeAnnouncement or QueryChannelRange or ReplyChannelRange
                or QueryShortChannelIds or ReplyShortChannelIdsEnd or GossipTimestampFilter:
                await DispatchGossipAsync(peer, message, cancellationToken).ConfigureAwait(false);
                return;
        }
        if (ChannelIdOf(message) is not { } channelId)
        {
            return; // gossip, pings and unknown odd messages: not ours to handle
        }
        if (!_channels.TryGetValue(channelId, out var slot) || slot.Peer != peer)
        {
            await SendAsync(peer, new Error(channelId, "unknown channel"u8.ToArray()), cancellationToken).ConfigureAwait(false);
            return;
        }
        ChannelOutput output;
        try
        {
            output = slot.Channel.Handle(message);
        }
        catch (ChannelProtocolException e)
        {
            Log.ProtocolViolation(_logger, channelId, peer, e.Message);
            output = slot.Channel.ForceClose("protocol violation: " + e.Message);
        }
        await ApplyAsync(slot, output, [], cancellationToken).ConfigureAwait(false);
        if (message is ChannelReady or ChannelReestablish)
        {
            await OnChannelActiveForGossipAsync(slot, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task OnErrorAsync(NodeId peer, Error error, CancellationToken cancellationToken)
    {
        var text = System.Text.Encoding.ASCII.GetString(error.Data.Span);
        Log.PeerError(_logger, peer, error.ChannelId, text);
        if (_openings.TryGetValue(error.ChannelId, out var opening) && opening.Peer == peer)
        {
            _openings.Remove(error.ChannelId);
            opening.Completion.TrySetException(new NodeOperationRefusedException(NodeErrorReason.Rejected, $"The peer refused the channel: {text}"));
            return;
        }
        var all = error.ChannelId == default;
        foreach (var slot in SlotsOf(peer).Where(s => all || s.ChannelId == error.ChannelId))
        {
            await ApplyAsync(slot, slot.Channel.Handle(error), [], cancellationToken).ConfigureAwait(false);
        }
    }

    private static ChannelId? ChannelIdOf(LightningMessage message) => message switch
    {
        ChannelReady m => m.ChannelId,
        UpdateAddHtlc m => m.ChannelId,
        UpdateFulfillHtlc m => m.ChannelId,
        UpdateFailHtlc m => m.ChannelId,
        UpdateFailMalformedHtlc m => m.ChannelId,
        UpdateFee m => m.ChannelId,
        CommitmentSigned m => m.ChannelId,
        RevokeAndAck m => m.ChannelId,
        ChannelReestablish m => m.ChannelId,
        Shutdown m => m.ChannelId,
        ClosingSigned m => m.ChannelId,
        _ => null,
    };

    private IEnumerable<ChannelSlot> SlotsOf(NodeId peer) => _channels.Values.Where(s => s.Peer == peer).OrderBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal).ToList();

    private async Task SendAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await _deps.Transport.SendAsync(peer, message, cancellationToken).ConfigureAwait(false);
        }
        catch (PeerNotConnectedException)
        {
            // The state is persisted; channel_reestablish retransmits what the peer missed.
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _deps.Transport.DisposeAsync().ConfigureAwait(false);
        foreach (var waiter in _paymentWaiters.Values)
        {
            waiter.TrySetCanceled();
        }
        _gate.Dispose();
    }
}
