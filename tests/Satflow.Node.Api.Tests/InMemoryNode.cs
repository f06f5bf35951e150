using System.Net;
using System.Security.Cryptography;
using NBitcoin;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api.Tests;

/// <summary>
/// A test double of <see cref="INodeOperations"/>: an in-memory node with a wallet balance, peers, channels, real
/// signed BOLT 11 invoices and payments, and the same typed errors a real node reports. Shared with the CLI tests.
/// </summary>
public sealed partial class InMemoryNode : INodeOperations, INodeOfferOperations
{
    private readonly object _gate = new();
    private readonly Key _key = new(Convert.FromHexString("e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734"));
    private readonly Dictionary<NodeId, PeerInfo> _peers = [];
    private readonly List<ChannelInfo> _channels = [];
    private readonly List<InvoiceInfo> _invoices = [];
    private readonly Dictionary<PaymentHash, PaymentPreimage> _preimages = [];
    private readonly List<PaymentInfo> _payments = [];
    private int _addressIndex;
    private Money _confirmed = Money.Coins(1);

    /// <summary>Peers with this port refuse connections (to test <see cref="NodeErrorCode.Unavailable"/>).</summary>
    public const int UnreachablePort = 1;

    /// <summary>The clock used for invoice timestamps and expiry.</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Calls made, in order (operation names).</summary>
    public List<string> Calls { get; } = [];

    /// <summary>When set, every operation throws this (to test the 500 path).</summary>
    public Exception? FailWith { get; set; }

    public NodeId NodeId => new(_key.PubKey);

    private void Enter(string name)
    {
        lock (_gate)
        {
            Calls.Add(name);
        }
        if (FailWith is { } ex)
        {
            throw ex;
        }
    }

    public Task<NodeInfo> GetInfoAsync(CancellationToken cancellationToken)
    {
        Enter("info");
        lock (_gate)
        {
            return Task.FromResult(new NodeInfo(NodeId, "in-memory", "regtest", 101, ["127.0.0.1:9735"], _peers.Count,
                _channels.Count(c => c.State != ChannelState.Closed), _channels.Count(c => c.State == ChannelState.Normal), "test"));
        }
    }

    public Task<NodeWalletAddress> GetNewAddressAsync(CancellationToken cancellationToken)
    {
        Enter("address");
        lock (_gate)
        {
            var key = new Key(SHA256.HashData([.. _key.ToBytes(), (byte)_addressIndex++]));
            return Task.FromResult(new NodeWalletAddress(key.PubKey.GetAddress(ScriptPubKeyType.Segwit, Network.RegTest).ToString(), "p2wpkh"));
        }
    }

    public Task<NodeWalletBalance> GetBalanceAsync(CancellationToken cancellationToken)
    {
        Enter("balance");
        lock (_gate)
        {
            return Task.FromResult(new NodeWalletBalance(_confirmed, Money.Zero, Money.Zero, _confirmed, 101));
        }
    }

    public Task<PeerInfo> ConnectPeerAsync(NodeId nodeId, DnsEndPoint address, CancellationToken cancellationToken)
    {
        Enter("connect");
        if (address.Port == UnreachablePort)
        {
            throw new NodeOperationException(NodeErrorCode.Unavailable, $"cannot reach {address.Host}:{address.Port}: connection refused");
        }
        var peer = new PeerInfo(nodeId, $"{address.Host}:{address.Port}", Inbound: false);
        lock (_gate)
        {
            _peers[nodeId] = peer;
        }
        return Task.FromResult(peer);
    }

    public Task<IReadOnlyList<PeerInfo>> ListPeersAsync(CancellationToken cancellationToken)
    {
        Enter("peers");
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<PeerInfo>>([.. _peers.Values]);
        }
    }

    public Task DisconnectPeerAsync(NodeId nodeId, CancellationToken cancellationToken)
    {
        Enter("disconnect");
        lock (_gate)
        {
            if (!_peers.Remove(nodeId))
            {
                throw new NodeOperationException(NodeErrorCode.PeerNotConnected, $"peer {nodeId} is not connected");
            }
        }
        return Task.CompletedTask;
    }

    public async Task<ChannelInfo> OpenChannelAsync(NodeId nodeId, Money capacity, bool announce, CancellationToken cancellationToken) =>
        (await OpenChannelAsync(nodeId, capacity, cancellationToken).ConfigureAwait(false)) with { IsPublic = announce };

    public Task<ChannelInfo> OpenChannelAsync(NodeId nodeId, Money capacity, CancellationToken cancellationToken)
    {
        Enter("open");
        lock (_gate)
        {
            if (!_peers.ContainsKey(nodeId))
            {
                throw new NodeOperationException(NodeErrorCode.PeerNotConnected, $"peer {nodeId} is not connected: run peer connect first");
            }
            if (capacity > _confirmed)
            {
                throw new NodeOperationException(NodeErrorCode.InsufficientFunds, $"the wallet has {_confirmed.Satoshi} sat confirmed; {capacity.Satoshi} sat needed");
            }
            _confirmed -= capacity;
            var txid = new uint256(SHA256.HashData(BitConverter.GetBytes(_channels.Count)));
            var channel = new ChannelInfo(
                ChannelId.FromFundingOutPoint(txid.ToBytes(), 0),
                new ShortChannelId(102, (uint)_channels.Count + 1, 0),
                nodeId,
                ChannelState.AwaitingConfirmation,
                capacity,
                MilliSatoshi.FromSatoshis((ulong)capacity.Satoshi),
                MilliSatoshi.Zero,
                new OutPoint(txid, 0),
                Initiator: true);
            _channels.Add(channel);
            return Task.FromResult(channel);
        }
    }

    /// <summary>Marks every channel awaiting confirmation as usable (what mining blocks does to a real node).</summary>
    public void ConfirmChannels()
    {
        lock (_gate)
        {
            for (var i = 0; i < _channels.Count; i++)
            {
                if (_channels[i].State == ChannelState.AwaitingConfirmation)
                {
                    _channels[i] = _channels[i] with { State = ChannelState.Normal };
                }
            }
        }
    }

    public Task<IReadOnlyList<ChannelInfo>> ListChannelsAsync(CancellationToken cancellationToken)
    {
        Enter("channels");
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<ChannelInfo>>([.. _channels]);
        }
    }

    public Task<ChannelRestoreResult> RestoreChannelsAsync(byte[] backup, CancellationToken cancellationToken)
    {
        Enter("restore");
        // The fake node accepts a backup made of 32-byte channel ids and recovers those it does not hold.
        if (backup.Length == 0 || backup.Length % 32 != 0)
        {
            throw new NodeOperationException(NodeErrorCode.InvalidArgument, "not a static channel backup of this node");
        }
        lock (_gate)
        {
            var ids = backup.Chunk(32).Select(c => new ChannelId(new Bytes32(c))).Where(id => _channels.All(ch => ch.ChannelId != id)).ToList();
            return Task.FromResult(new ChannelRestoreResult(ids));
        }
    }

    /// <inheritdoc />
    public Task<ChannelCloseResult> CloseChannelAsync(ChannelId channelId, bool force, CancellationToken cancellationToken)
    {
        Enter("close");
        lock (_gate)
        {
            var index = _channels.FindIndex(c => c.ChannelId == channelId);
            if (index < 0)
            {
                throw new NodeOperationException(NodeErrorCode.NotFound, $"no channel {channelId}");
            }
            var channel = _channels[index];
            if (!force && channel.State != ChannelState.Normal)
            {
                throw new NodeOperationException(NodeErrorCode.ChannelNotReady, $"channel {channelId} is {channel.State}; only a normal channel closes cooperatively (use --force)");
            }
            var state = force ? ChannelState.ForceClosing : ChannelState.Closing;
            _channels[index] = channel with { State = state };
            var closing = new uint256(SHA256.HashData(channelId.Value.ToArray()));
            return Task.FromResult(new ChannelCloseResult(channelId, state, closing));
        }
    }

    public Task<InvoiceInfo> CreateInvoiceAsync(MilliSatoshi amount, string? description, TimeSpan? expiry, CancellationToken cancellationToken)
    {
        Enter("invoice");
        var preimage = new PaymentPreimage(new Bytes32(RandomNumberGenerator.GetBytes(32)));
        var now = Time.GetUtcNow();
        var seconds = (ulong)(expiry ?? TimeSpan.FromHours(1)).TotalSeconds;
        var invoice = new Bolt11InvoiceBuilder(Bolt11Network.Regtest, (ulong)now.ToUnixTimeSeconds())
            .Amount(amount)
            .PaymentHash(preimage.Hash)
            .PaymentSecret(new PaymentSecret(new Bytes32(RandomNumberGenerator.GetBytes(32))))
            .Description(description ?? "")
            .Expiry(seconds)
            .Sign(_key);
        var info = new InvoiceInfo(preimage.Hash, invoice.Encoded, amount, description, InvoiceState.Open,
            DateTimeOffset.FromUnixTimeSeconds((long)invoice.Timestamp), invoice.ExpiresAt, null, null);
        lock (_gate)
        {
            _invoices.Insert(0, info);
            _preimages[preimage.Hash] = preimage;
        }
        return Task.FromResult(info);
    }

    public Task<IReadOnlyList<InvoiceInfo>> ListInvoicesAsync(CancellationToken cancellationToken)
    {
        Enter("invoices");
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<InvoiceInfo>>([.. _invoices]);
        }
    }

    public Task<InvoiceInfo> GetInvoiceAsync(PaymentHash paymentHash, CancellationToken cancellationToken)
    {
        Enter("invoice-lookup");
        lock (_gate)
        {
            return Task.FromResult(_invoices.Find(i => i.PaymentHash == paymentHash)
                ?? throw new NodeOperationException(NodeErrorCode.NotFound, $"no invoice with payment hash {paymentHash}"));
        }
    }

    /// <summary>
    /// Pays by decoding the invoice for real. An invoice of this node settles it (the preimage is known); any other
    /// payee fails with "no route" unless a normal channel has enough local balance, in which case it succeeds with a
    /// preimage only the test double knows.
    /// </summary>
    public Task<PaymentInfo> PayInvoiceAsync(string bolt11, MilliSatoshi? amount, CancellationToken cancellationToken)
    {
        Enter("pay");
        if (!Bolt11Invoice.TryDecode(bolt11, out var invoice, out var error))
        {
            throw new NodeOperationException(NodeErrorCode.InvalidArgument, $"not a valid BOLT 11 invoice: {error!.Message}");
        }
        if (invoice!.IsExpired(Time))
        {
            throw new NodeOperationException(NodeErrorCode.InvoiceExpired, $"the invoice expired at {invoice.ExpiresAt:u}");
        }
        var paid = invoice.Amount ?? amount ?? throw new NodeOperationException(NodeErrorCode.InvalidArgument, "the invoice has no amount: pass amount_msat");
        lock (_gate)
        {
            if (_payments.Exists(p => p.PaymentHash == invoice.PaymentHash && p.State == PaymentState.Succeeded))
            {
                throw new NodeOperationException(NodeErrorCode.AlreadyPaid, $"payment {invoice.PaymentHash} already succeeded");
            }
            var payment = Settle(invoice.PaymentHash, invoice.PayeeNodeId, paid, bolt11);
            return Task.FromResult(payment);
        }
    }

    /// <summary>The limits of the latest <c>pay</c> call with limits.</summary>
    public PaymentLimits? LastLimits { get; private set; }

    public Task<PaymentInfo> PayInvoiceAsync(string bolt11, MilliSatoshi? amount, PaymentLimits limits, CancellationToken cancellationToken)
    {
        LastLimits = limits;
        return PayInvoiceAsync(bolt11, amount, cancellationToken);
    }

    /// <summary>A one-hop route over a normal channel to <paramref name="destination"/> that can carry the amount.</summary>
    public Task<RouteInfo> FindRouteAsync(NodeId destination, MilliSatoshi amount, CancellationToken cancellationToken)
    {
        Enter("route");
        lock (_gate)
        {
            var channel = _channels.Find(c => c.State == ChannelState.Normal && c.PeerNodeId == destination && c.LocalBalance >= amount)
                ?? throw new NodeOperationException(NodeErrorCode.NoRoute, $"no route with enough liquidity to {destination} for {amount.Value} msat");
            return Task.FromResult(new RouteInfo(destination, amount, amount, MilliSatoshi.Zero, 18,
                [new RouteHopInfo(destination, channel.ShortChannelId!.Value, amount, MilliSatoshi.Zero, 18)]));
        }
    }

    private PaymentInfo Settle(PaymentHash hash, NodeId destination, MilliSatoshi amount, string? bolt11)
    {
        var now = Time.GetUtcNow();
        PaymentInfo payment;
        if (_preimages.TryGetValue(hash, out var preimage))
        {
            var index = _invoices.FindIndex(i => i.PaymentHash == hash);
            _invoices[index] = _invoices[index] with { State = InvoiceState.Settled, AmountReceived = amount, SettledAt = now };
            payment = new PaymentInfo(hash, destination, amount, MilliSatoshi.Zero, PaymentState.Succeeded, null, preimage, bolt11, now, now);
        }
        else if (_channels.Exists(c => c.State == ChannelState.Normal && c.LocalBalance >= amount))
        {
            var released = new PaymentPreimage(new Bytes32(SHA256.HashData(hash.Value.ToArray())));
            payment = new PaymentInfo(hash, destination, amount, new MilliSatoshi(1000), PaymentState.Succeeded, null, released, bolt11, now, now);
        }
        else
        {
            payment = new PaymentInfo(hash, destination, amount, MilliSatoshi.Zero, PaymentState.Failed, "no route with enough capacity", null, bolt11, now, now);
        }
        _payments.Insert(0, payment);
        return payment;
    }

    public Task<PaymentInfo> KeysendAsync(NodeId destination, MilliSatoshi amount, CancellationToken cancellationToken)
    {
        Enter("keysend");
        var preimage = new PaymentPreimage(new Bytes32(RandomNumberGenerator.GetBytes(32)));
        lock (_gate)
        {
            if (!_channels.Exists(c => c.State == ChannelState.Normal))
            {
                throw new NodeOperationException(NodeErrorCode.NoRoute, $"no usable channel towards {destination}");
            }
            _preimages[preimage.Hash] = preimage;
            var now = Time.GetUtcNow();
            var payment = new PaymentInfo(preimage.Hash, destination, amount, MilliSatoshi.Zero, PaymentState.Succeeded, null, preimage, null, now, now);
            _payments.Insert(0, payment);
            return Task.FromResult(payment);
        }
    }

    public Task<IReadOnlyList<PaymentInfo>> ListPaymentsAsync(CancellationToken cancellationToken)
    {
        Enter("payments");
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<PaymentInfo>>([.. _payments]);
        }
    }

    public Task<PaymentInfo> GetPaymentAsync(PaymentHash paymentHash, CancellationToken cancellationToken)
    {
        Enter("payment-lookup");
        lock (_gate)
        {
            return Task.FromResult(_payments.Find(p => p.PaymentHash == paymentHash)
                ?? throw new NodeOperationException(NodeErrorCode.NotFound, $"no payment with payment hash {paymentHash}"));
        }
    }

    // The fake graph: this node and its normal channels, each announced with the same policy both ways.
    private static readonly GraphPolicyInfo FakePolicy = new(new MilliSatoshi(1000), 1, 80, new MilliSatoshi(1), new MilliSatoshi(100_000_000), false, DateTimeOffset.UnixEpoch);

    private List<GraphChannelInfo> FakeGraphChannels() =>
        [.. _channels.Where(c => c.State == ChannelState.Normal && c.ShortChannelId is not null).Select(c =>
        {
            var (n1, n2) = NodeId < c.PeerNodeId ? (NodeId, c.PeerNodeId) : (c.PeerNodeId, NodeId);
            return new GraphChannelInfo(c.ShortChannelId!.Value, n1, n2, c.Capacity, FakePolicy, FakePolicy);
        })];

    public Task<GraphInfo> GetGraphInfoAsync(CancellationToken cancellationToken)
    {
        Enter("graph");
        lock (_gate)
        {
            var channels = FakeGraphChannels();
            var nodes = channels.SelectMany(c => new[] { c.Node1, c.Node2 }).Distinct().Count();
            return Task.FromResult(new GraphInfo(nodes, channels.Count, channels.Count, nodes, [.. channels.Select(c => c.ShortChannelId)], channels.Count > 0 ? Time.GetUtcNow() : null, 0));
        }
    }

    public Task<GraphNodeInfo> GetGraphNodeAsync(NodeId nodeId, CancellationToken cancellationToken)
    {
        Enter("graph-node");
        lock (_gate)
        {
            var channels = FakeGraphChannels().Where(c => c.Node1 == nodeId || c.Node2 == nodeId).ToList();
            if (channels.Count == 0)
            {
                throw new NodeOperationException(NodeErrorCode.NotFound, $"The graph does not know node {nodeId}.");
            }
            return Task.FromResult(new GraphNodeInfo(nodeId, nodeId == NodeId ? "in-memory" : null, null, null, [], channels));
        }
    }

    /// <summary>The forwarding history the fake reports (tests add entries).</summary>
    public List<ForwardInfo> Forwards { get; } = [];

    /// <summary>Policies set through the API, by channel.</summary>
    public Dictionary<ChannelId, ChannelPolicyInfo> Policies { get; } = [];

    public Task<IReadOnlyList<ForwardInfo>> ListForwardsAsync(CancellationToken cancellationToken)
    {
        Enter("forwards");
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<ForwardInfo>>([.. Forwards]);
        }
    }

    public Task<ChannelPolicyInfo> SetChannelPolicyAsync(ChannelPolicyInfo policy, CancellationToken cancellationToken)
    {
        Enter("policy");
        lock (_gate)
        {
            if (_channels.All(c => c.ChannelId != policy.ChannelId))
            {
                throw new NodeOperationException(NodeErrorCode.NotFound, $"no channel {policy.ChannelId}");
            }
            Policies[policy.ChannelId] = policy;
            return Task.FromResult(policy);
        }
    }
}
