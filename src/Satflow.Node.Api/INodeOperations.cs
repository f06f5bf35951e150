using System.Net;
using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api;

/// <summary>
/// Everything the admin API (and so the CLI) can ask of a running Lightning node. The node implements it; the REST
/// server (<see cref="NodeApiServer"/>) only translates HTTP to these calls and back.
/// </summary>
/// <remarks>
/// Implementations report every expected failure (unknown channel, not enough funds, peer offline, bad invoice...) as a
/// <see cref="NodeOperationException"/> with the matching <see cref="NodeErrorCode"/>; any other exception is treated as
/// an internal error (HTTP 500). Cancelling the token abandons the wait, not necessarily the operation on the node.
/// The API server calls these methods concurrently (one call per HTTP request), so implementations must be thread-safe.
/// </remarks>
public interface INodeOperations
{
    /// <summary>The node's identity, chain position and counters.</summary>
    Task<NodeInfo> GetInfoAsync(CancellationToken cancellationToken);

    /// <summary>Hands out a fresh receive address of the node's on-chain wallet (used to fund channels).</summary>
    Task<NodeWalletAddress> GetNewAddressAsync(CancellationToken cancellationToken);

    /// <summary>The node's on-chain wallet balance.</summary>
    Task<NodeWalletBalance> GetBalanceAsync(CancellationToken cancellationToken);

    /// <summary>Connects to a peer (BOLT 8 handshake and BOLT 1 init) and returns it once connected.</summary>
    /// <param name="nodeId">The peer's node id; the handshake fails unless the remote proves this key.</param>
    /// <param name="address">Host (IP literal or name) and port to dial.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <exception cref="NodeOperationException"><see cref="NodeErrorCode.Unavailable"/> when the peer cannot be reached or the handshake fails.</exception>
    Task<PeerInfo> ConnectPeerAsync(NodeId nodeId, DnsEndPoint address, CancellationToken cancellationToken);

    /// <summary>The currently connected peers.</summary>
    Task<IReadOnlyList<PeerInfo>> ListPeersAsync(CancellationToken cancellationToken);

    /// <summary>Disconnects a peer.</summary>
    /// <exception cref="NodeOperationException"><see cref="NodeErrorCode.PeerNotConnected"/> when it is not connected.</exception>
    Task DisconnectPeerAsync(NodeId nodeId, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a channel funded by the node's on-chain wallet with a connected peer; returns once the funding
    /// transaction is broadcast (state <see cref="ChannelState.AwaitingConfirmation"/> or later).
    /// </summary>
    /// <param name="nodeId">The connected peer.</param>
    /// <param name="capacity">The funding amount (the channel capacity).</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <exception cref="NodeOperationException"><see cref="NodeErrorCode.PeerNotConnected"/>, <see cref="NodeErrorCode.InsufficientFunds"/>, <see cref="NodeErrorCode.InvalidArgument"/> (below the minimum size), or <see cref="NodeErrorCode.Rejected"/> (the peer refused).</exception>
    Task<ChannelInfo> OpenChannelAsync(NodeId nodeId, Money capacity, CancellationToken cancellationToken);

    /// <summary>Opens a channel that is announced to the network (public) or not (private), and waits until it is funded.</summary>
    /// <param name="nodeId">A connected peer.</param>
    /// <param name="capacity">The capacity, funded from the wallet.</param>
    /// <param name="announce">False for an unannounced (private) channel, reachable through invoice route hints.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    Task<ChannelInfo> OpenChannelAsync(NodeId nodeId, Money capacity, bool announce, CancellationToken cancellationToken);

    /// <summary>Every channel the node knows, open or closing (closed ones may be kept for a while).</summary>
    Task<IReadOnlyList<ChannelInfo>> ListChannelsAsync(CancellationToken cancellationToken);

    /// <summary>Closes a channel: cooperatively (shutdown + closing_signed), or unilaterally when <paramref name="force"/> is set.</summary>
    /// <param name="channelId">The channel.</param>
    /// <param name="force">Broadcast our latest commitment transaction instead of negotiating.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <exception cref="NodeOperationException"><see cref="NodeErrorCode.NotFound"/>, <see cref="NodeErrorCode.PeerNotConnected"/> (cooperative close needs the peer) or <see cref="NodeErrorCode.ChannelNotReady"/>.</exception>
    Task<ChannelCloseResult> CloseChannelAsync(ChannelId channelId, bool force, CancellationToken cancellationToken);

    /// <summary>
    /// Recovers the channels of a static channel backup after the loss of the node's data: each peer is asked to force
    /// close and our output of its commitment is swept to the wallet. <see cref="NodeErrorCode.InvalidArgument"/> when the
    /// file is not a backup of this node's seed or was modified.
    /// </summary>
    /// <param name="backup">The backup file's bytes.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    Task<ChannelRestoreResult> RestoreChannelsAsync(byte[] backup, CancellationToken cancellationToken);

    /// <summary>Creates and stores a BOLT 11 invoice signed by the node key.</summary>
    /// <param name="amount">The requested amount (more than zero).</param>
    /// <param name="description">The description (<c>d</c> field); null for an empty one.</param>
    /// <param name="expiry">How long the invoice stays payable; null for the node's default (1 hour).</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    Task<InvoiceInfo> CreateInvoiceAsync(MilliSatoshi amount, string? description, TimeSpan? expiry, CancellationToken cancellationToken);

    /// <summary>Every invoice the node issued, newest first.</summary>
    Task<IReadOnlyList<InvoiceInfo>> ListInvoicesAsync(CancellationToken cancellationToken);

    /// <summary>One issued invoice.</summary>
    /// <exception cref="NodeOperationException"><see cref="NodeErrorCode.NotFound"/>.</exception>
    Task<InvoiceInfo> GetInvoiceAsync(PaymentHash paymentHash, CancellationToken cancellationToken);

    /// <summary>
    /// Pays a BOLT 11 invoice and waits for the outcome: the result is <see cref="PaymentState.Succeeded"/> (with the
    /// preimage) or <see cref="PaymentState.Failed"/> (with a reason), or <see cref="PaymentState.Pending"/> if the node
    /// stops waiting while HTLCs are still in flight.
    /// </summary>
    /// <param name="bolt11">The invoice text.</param>
    /// <param name="amount">The amount to pay when the invoice has none; must be null or equal to it otherwise.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <exception cref="NodeOperationException"><see cref="NodeErrorCode.InvalidArgument"/> (bad or wrong-network invoice, amount missing), <see cref="NodeErrorCode.InvoiceExpired"/>, <see cref="NodeErrorCode.AlreadyPaid"/>, <see cref="NodeErrorCode.InsufficientFunds"/>, <see cref="NodeErrorCode.NoRoute"/>.</exception>
    Task<PaymentInfo> PayInvoiceAsync(string bolt11, MilliSatoshi? amount, CancellationToken cancellationToken);

    /// <summary>Pays a BOLT 11 invoice like <see cref="PayInvoiceAsync(string, MilliSatoshi?, CancellationToken)"/>, within a fee limit and retry timeout.</summary>
    /// <param name="bolt11">The invoice text.</param>
    /// <param name="amount">The amount to pay when the invoice has none.</param>
    /// <param name="limits">The fee limit and retry timeout.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    Task<PaymentInfo> PayInvoiceAsync(string bolt11, MilliSatoshi? amount, PaymentLimits limits, CancellationToken cancellationToken);

    /// <summary>The route a payment of <paramref name="amount"/> to <paramref name="destination"/> would take now (nothing is sent).</summary>
    /// <param name="destination">The recipient.</param>
    /// <param name="amount">What the recipient should receive.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NodeOperationException"><see cref="NodeErrorCode.NoRoute"/> with the reason (no route with enough liquidity, recipient offline, ...).</exception>
    Task<RouteInfo> FindRouteAsync(NodeId destination, MilliSatoshi amount, CancellationToken cancellationToken);

    /// <summary>Sends a spontaneous payment (keysend: the preimage travels in the onion) and waits for the outcome like <see cref="PayInvoiceAsync(string, MilliSatoshi?, CancellationToken)"/>.</summary>
    /// <param name="destination">The recipient node.</param>
    /// <param name="amount">The amount the recipient receives.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    Task<PaymentInfo> KeysendAsync(NodeId destination, MilliSatoshi amount, CancellationToken cancellationToken);

    /// <summary>Every outgoing payment, newest first.</summary>
    Task<IReadOnlyList<PaymentInfo>> ListPaymentsAsync(CancellationToken cancellationToken);

    /// <summary>One outgoing payment.</summary>
    /// <exception cref="NodeOperationException"><see cref="NodeErrorCode.NotFound"/>.</exception>
    Task<PaymentInfo> GetPaymentAsync(PaymentHash paymentHash, CancellationToken cancellationToken);

    /// <summary>The channel graph and gossip state: counts, our announced channels, the last sync.</summary>
    Task<GraphInfo> GetGraphInfoAsync(CancellationToken cancellationToken);

    /// <summary>One node of the graph: its announcement and channels.</summary>
    /// <exception cref="NodeOperationException"><see cref="NodeErrorCode.NotFound"/> when the graph does not know the node.</exception>
    Task<GraphNodeInfo> GetGraphNodeAsync(NodeId nodeId, CancellationToken cancellationToken);

    /// <summary>The forwarding history, oldest first.</summary>
    Task<IReadOnlyList<ForwardInfo>> ListForwardsAsync(CancellationToken cancellationToken);

    /// <summary>Sets a channel's forwarding policy and returns it as stored.</summary>
    /// <param name="policy">The channel and its new policy.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <exception cref="NodeOperationException"><see cref="NodeErrorCode.NotFound"/> for an unknown channel, <see cref="NodeErrorCode.InvalidArgument"/> for an inconsistent policy.</exception>
    Task<ChannelPolicyInfo> SetChannelPolicyAsync(ChannelPolicyInfo policy, CancellationToken cancellationToken);
}
