using System.Net;
using System.Reflection;
using NBitcoin;
using Satflow.Bitcoin.Wallet;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;
using Satflow.Node.Api;
using Satflow.Payments;
using Channels = Satflow.Lightning.Channels;

namespace Satflow.Node;

/// <summary>
/// The admin API's <see cref="INodeOperations"/> over a <see cref="LightningNode"/> and its on-chain wallet: it waits
/// for outcomes the node reports asynchronously (channel funded, payment settled) and maps refusals to
/// <see cref="NodeOperationException"/> codes.
/// </summary>
public sealed partial class NodeOperations : INodeOperations, INodeOfferOperations
{
    private readonly LightningNode _node;
    private readonly OnChainWallet _wallet;
    private readonly TimeProvider _time;

    /// <summary>Wraps a node.</summary>
    /// <param name="node">The node.</param>
    /// <param name="wallet">Its on-chain wallet.</param>
    /// <param name="time">The clock for the payment wait.</param>
    /// <param name="paymentWait">How long a payment call waits for the outcome before answering "pending".</param>
    public NodeOperations(LightningNode node, OnChainWallet wallet, TimeProvider time, TimeSpan? paymentWait = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(wallet);
        ArgumentNullException.ThrowIfNull(time);
        _node = node;
        _wallet = wallet;
        _time = time;
        PaymentWait = paymentWait ?? TimeSpan.FromSeconds(60);
    }

    /// <summary>How long payment calls wait for the outcome.</summary>
    public TimeSpan PaymentWait { get; }

    /// <inheritdoc />
    public Task<NodeInfo> GetInfoAsync(CancellationToken cancellationToken)
    {
        var info = _node.GetInfo();
        var listen = _node.ListenEndPoint is { } endPoint ? new[] { endPoint.ToString() } : [];
        var version = typeof(NodeOperations).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        return Task.FromResult(new NodeInfo(info.NodeId, info.Alias, _wallet.Network.Name.ToLowerInvariant(), info.BlockHeight, listen, info.PeerCount, info.ChannelCount, info.ActiveChannelCount, version));
    }

    /// <inheritdoc />
    public Task<NodeWalletAddress> GetNewAddressAsync(CancellationToken cancellationToken)
    {
        var address = _wallet.GetNewAddress(AddressType.P2wpkh);
        return Task.FromResult(new NodeWalletAddress(address.Address, "p2wpkh"));
    }

    /// <inheritdoc />
    public Task<NodeWalletBalance> GetBalanceAsync(CancellationToken cancellationToken)
    {
        var balance = _wallet.GetBalance();
        return Task.FromResult(new NodeWalletBalance(balance.Confirmed, balance.Unconfirmed, balance.Immature, balance.Total, _wallet.Tip?.Height));
    }

    /// <inheritdoc />
    public async Task<Api.PeerInfo> ConnectPeerAsync(NodeId nodeId, DnsEndPoint address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        IPAddress ip;
        if (!IPAddress.TryParse(address.Host, out var parsed))
        {
            var resolved = await Dns.GetHostAddressesAsync(address.Host, cancellationToken).ConfigureAwait(false);
            ip = resolved.FirstOrDefault() ?? throw new NodeOperationException(NodeErrorCode.Unavailable, $"{address.Host} does not resolve.");
        }
        else
        {
            ip = parsed;
        }
        try
        {
            var peer = await _node.ConnectAsync(nodeId, new IPEndPoint(ip, address.Port), cancellationToken).ConfigureAwait(false);
            return ToApi(peer);
        }
        catch (PeerConnectionException e)
        {
            throw new NodeOperationException(NodeErrorCode.Unavailable, $"Could not connect to {nodeId}@{address.Host}:{address.Port}: {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new NodeOperationException(NodeErrorCode.InvalidArgument, e.Message, e);
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<Api.PeerInfo>> ListPeersAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<Api.PeerInfo>>([.. _node.ListPeers().Select(ToApi)]);

    /// <inheritdoc />
    public async Task DisconnectPeerAsync(NodeId nodeId, CancellationToken cancellationToken)
    {
        if (!await _node.DisconnectAsync(nodeId).ConfigureAwait(false))
        {
            throw new NodeOperationException(NodeErrorCode.PeerNotConnected, $"Peer {nodeId} is not connected.");
        }
    }

    /// <inheritdoc />
    public Task<ChannelInfo> OpenChannelAsync(NodeId nodeId, Money capacity, CancellationToken cancellationToken) =>
        OpenChannelAsync(nodeId, capacity, _node.Options.PublicChannels, cancellationToken);

    /// <inheritdoc />
    public async Task<ChannelInfo> OpenChannelAsync(NodeId nodeId, Money capacity, bool announce, CancellationToken cancellationToken)
    {
        var channelId = await Call(async () =>
        {
            var temporary = await _node.OpenChannelAsync(nodeId, capacity, default, announce, cancellationToken).ConfigureAwait(false);
            return await _node.WaitForChannelAsync(temporary, cancellationToken).ConfigureAwait(false);
        }).ConfigureAwait(false);
        return ToApi(_node.GetChannel(channelId) ?? throw new NodeOperationException(NodeErrorCode.NotFound, $"Channel {channelId} vanished."));
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<ChannelInfo>> ListChannelsAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ChannelInfo>>([.. _node.ListChannels().Select(ToApi)]);

    /// <inheritdoc />
    public async Task<ChannelCloseResult> CloseChannelAsync(ChannelId channelId, bool force, CancellationToken cancellationToken)
    {
        await Call(async () =>
        {
            await _node.CloseChannelAsync(channelId, force, cancellationToken).ConfigureAwait(false);
            return true;
        }).ConfigureAwait(false);
        var channel = _node.GetChannel(channelId);
        return new ChannelCloseResult(channelId, channel is null ? Api.ChannelState.Closed : ToApi(channel).State, _node.GetClosingTransactionId(channelId));
    }

    /// <inheritdoc />
    public async Task<ChannelRestoreResult> RestoreChannelsAsync(byte[] backup, CancellationToken cancellationToken)
    {
        try
        {
            return new ChannelRestoreResult(await _node.RestoreFromBackupAsync(backup, cancellationToken).ConfigureAwait(false));
        }
        catch (Lightning.Backup.StaticChannelBackupException e)
        {
            throw new NodeOperationException(NodeErrorCode.InvalidArgument, $"Not a usable static channel backup of this node ({e.Error}): {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public async Task<InvoiceInfo> CreateInvoiceAsync(MilliSatoshi amount, string? description, TimeSpan? expiry, CancellationToken cancellationToken)
    {
        var seconds = expiry is { } e ? (ulong)Math.Max(1, e.TotalSeconds) : Lightning.Invoices.Bolt11Invoice.DefaultExpirySeconds;
        var record = await Call(() => _node.CreateInvoiceAsync(amount, description ?? string.Empty, seconds, cancellationToken)).ConfigureAwait(false);
        return ToApi(record);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<InvoiceInfo>> ListInvoicesAsync(CancellationToken cancellationToken) =>
        [.. (await _node.Invoices.ListAsync(cancellationToken).ConfigureAwait(false)).OrderByDescending(i => i.CreatedAt).Select(ToApi)];

    /// <inheritdoc />
    public async Task<InvoiceInfo> GetInvoiceAsync(PaymentHash paymentHash, CancellationToken cancellationToken) =>
        ToApi(await _node.Invoices.LookupAsync(paymentHash, cancellationToken).ConfigureAwait(false)
            ?? throw new NodeOperationException(NodeErrorCode.NotFound, $"No invoice {paymentHash}."));

    /// <inheritdoc />
    public async Task<PaymentInfo> PayInvoiceAsync(string bolt11, MilliSatoshi? amount, CancellationToken cancellationToken)
    {
        var record = await Call(() => _node.PayInvoiceAsync(bolt11, amount, cancellationToken)).ConfigureAwait(false);
        return ToApi(await WaitAsync(record, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    public async Task<PaymentInfo> PayInvoiceAsync(string bolt11, MilliSatoshi? amount, PaymentLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var options = new PaymentOptions(limits.MaxFee, limits.Timeout);
        var record = await Call(() => _node.PayInvoiceAsync(bolt11, amount, options, cancellationToken)).ConfigureAwait(false);
        return ToApi(await WaitAsync(record, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    public async Task<RouteInfo> FindRouteAsync(NodeId destination, MilliSatoshi amount, CancellationToken cancellationToken)
    {
        var result = await _node.FindRouteAsync(destination, amount, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.Route is not { } route)
        {
            throw new NodeOperationException(result.Failure!.Reason == Lightning.Routing.RouteFailureReason.InvalidRequest ? NodeErrorCode.InvalidArgument : NodeErrorCode.NoRoute, result.Failure.Message);
        }
        return new RouteInfo(destination, route.RecipientAmount, route.TotalAmount, route.TotalFees, route.TotalCltvExpiryDelta,
            [.. route.Hops.Select(h => new RouteHopInfo(h.Node, h.ShortChannelId, h.Amount, h.Fee, h.CltvExpiryDelta))]);
    }

    /// <inheritdoc />
    public async Task<PaymentInfo> KeysendAsync(NodeId destination, MilliSatoshi amount, CancellationToken cancellationToken)
    {
        var record = await Call(() => _node.KeysendAsync(destination, amount, cancellationToken)).ConfigureAwait(false);
        return ToApi(await WaitAsync(record, cancellationToken).ConfigureAwait(false));
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<PaymentInfo>> ListPaymentsAsync(CancellationToken cancellationToken) =>
        [.. (await _node.ListPaymentsAsync(cancellationToken).ConfigureAwait(false)).OrderByDescending(p => p.StartedAt).Select(ToApi)];

    /// <inheritdoc />
    public async Task<PaymentInfo> GetPaymentAsync(PaymentHash paymentHash, CancellationToken cancellationToken) =>
        ToApi(await _node.LookupPaymentAsync(paymentHash, cancellationToken).ConfigureAwait(false)
            ?? throw new NodeOperationException(NodeErrorCode.NotFound, $"No payment {paymentHash}."));

    /// <inheritdoc />
    public async Task<IReadOnlyList<ForwardInfo>> ListForwardsAsync(CancellationToken cancellationToken) =>
        [.. (await _node.ListForwardsAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Select(f => new ForwardInfo(
            f.IncomingChannelId, f.IncomingShortChannelId, f.OutgoingChannelId, f.OutgoingShortChannelId, f.PaymentHash,
            f.IncomingAmount, f.OutgoingAmount, f.FeeEarned,
            f.Status switch { Persistence.ForwardStatus.Settled => ForwardState.Settled, Persistence.ForwardStatus.Failed => ForwardState.Failed, _ => ForwardState.Pending },
            f.FailureReason, f.ReceivedAt, f.ResolvedAt))];

    /// <inheritdoc />
    public Task<ChannelPolicyInfo> SetChannelPolicyAsync(ChannelPolicyInfo policy, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return Call(async () =>
        {
            await _node.SetChannelPolicyAsync(policy.ChannelId, new ForwardingPolicy(policy.BaseFee, policy.FeePpm, policy.CltvDelta, policy.HtlcMinimum, policy.HtlcMaximum), cancellationToken).ConfigureAwait(false);
            var stored = _node.GetChannelPolicy(policy.ChannelId);
            return new ChannelPolicyInfo(policy.ChannelId, stored.BaseFee, stored.FeeProportionalMillionths, stored.CltvExpiryDelta, stored.HtlcMinimum, stored.HtlcMaximum);
        });
    }

    private async Task<OutgoingPaymentRecord> WaitAsync(OutgoingPaymentRecord record, CancellationToken cancellationToken)
    {
        if (record.State != OutgoingPaymentState.Pending)
        {
            return record;
        }
        try
        {
            return await _node.WaitForPaymentAsync(record.PaymentHash, cancellationToken).WaitAsync(PaymentWait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return await _node.LookupPaymentAsync(record.PaymentHash, cancellationToken).ConfigureAwait(false) ?? record;
        }
    }

    private static async Task<T> Call<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (NodeOperationRefusedException e)
        {
            throw new NodeOperationException(Map(e.Reason), e.Message, e);
        }
        catch (PaymentsException e)
        {
            throw new NodeOperationException(NodeErrorCode.InvalidArgument, e.Message, e);
        }
    }

    internal static NodeErrorCode Map(NodeErrorReason reason) => reason switch
    {
        NodeErrorReason.InvalidArgument => NodeErrorCode.InvalidArgument,
        NodeErrorReason.NotFound => NodeErrorCode.NotFound,
        NodeErrorReason.PeerNotConnected => NodeErrorCode.PeerNotConnected,
        NodeErrorReason.InsufficientFunds => NodeErrorCode.InsufficientFunds,
        NodeErrorReason.AlreadyPaid => NodeErrorCode.AlreadyPaid,
        NodeErrorReason.ChannelNotReady => NodeErrorCode.ChannelNotReady,
        NodeErrorReason.InvoiceExpired => NodeErrorCode.InvoiceExpired,
        NodeErrorReason.NoRoute => NodeErrorCode.NoRoute,
        NodeErrorReason.Rejected => NodeErrorCode.Rejected,
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "unknown reason"),
    };

    private static Api.PeerInfo ToApi(Lightning.Net.PeerInfo peer) =>
        new(peer.NodeId, peer.RemoteEndPoint.ToString(), peer.Direction == PeerDirection.Inbound);

    private static ChannelInfo ToApi(NodeChannel c) => new(
        c.ChannelId, c.ShortChannelId, c.Peer, ToApi(c.State), c.Capacity, c.LocalBalance, c.RemoteBalance, c.FundingOutPoint, c.IsFunder)
    {
        IsPublic = c.IsPublic,
    };

    private static Api.ChannelState ToApi(Channels.ChannelState state) => state switch
    {
        Channels.ChannelState.AwaitingFundingConfirmation => Api.ChannelState.AwaitingConfirmation,
        Channels.ChannelState.Normal => Api.ChannelState.Normal,
        Channels.ChannelState.ShuttingDown => Api.ChannelState.ShuttingDown,
        Channels.ChannelState.NegotiatingClose => Api.ChannelState.Closing,
        Channels.ChannelState.Closed => Api.ChannelState.Closed,
        Channels.ChannelState.ForceClosed or Channels.ChannelState.LocalDataLoss => Api.ChannelState.ForceClosing,
        _ => Api.ChannelState.Opening,
    };

    private static InvoiceInfo ToApi(InvoiceRecord r)
    {
        var description = Lightning.Invoices.Bolt11Invoice.TryDecode(r.Bolt11, out var invoice, out _) ? invoice!.Description : null;
        var state = r.State switch
        {
            Satflow.Payments.InvoiceState.Settled => Api.InvoiceState.Settled,
            Satflow.Payments.InvoiceState.Open => Api.InvoiceState.Open,
            _ => Api.InvoiceState.Expired,
        };
        return new InvoiceInfo(r.PaymentHash, r.Bolt11, r.Amount, description, state, r.CreatedAt, r.ExpiresAt, r.SettledAmount,
            r.State == Satflow.Payments.InvoiceState.Settled ? r.ResolvedAt : null);
    }

    private static PaymentInfo ToApi(OutgoingPaymentRecord p) => new(
        p.PaymentHash, p.Destination, p.Amount, p.Fee ?? MilliSatoshi.Zero,
        p.State switch { OutgoingPaymentState.Succeeded => PaymentState.Succeeded, OutgoingPaymentState.Failed => PaymentState.Failed, _ => PaymentState.Pending },
        p.FailureMessage, p.Preimage, p.Bolt11, p.StartedAt, p.CompletedAt)
    {
        Parts = (int?)p.Parts,
        Attempts = (int?)p.HtlcAttempts,
    };

    /// <inheritdoc />
    public async Task<GraphInfo> GetGraphInfoAsync(CancellationToken cancellationToken) =>
        GraphApiMapping.ToApi(await _node.GetGraphSummaryAsync(cancellationToken).ConfigureAwait(false));

    /// <inheritdoc />
    public async Task<GraphNodeInfo> GetGraphNodeAsync(NodeId nodeId, CancellationToken cancellationToken) =>
        GraphApiMapping.ToApi(await _node.GetGraphNodeAsync(nodeId, cancellationToken).ConfigureAwait(false)
            ?? throw new NodeOperationException(NodeErrorCode.NotFound, $"The graph does not know node {nodeId}."));
}
