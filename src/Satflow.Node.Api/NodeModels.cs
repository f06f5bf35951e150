using System.Text.Json.Serialization;
using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api;

/// <summary>The node's identity, chain position and counters (<c>GET /v1/info</c>, <c>satflow node info</c>).</summary>
/// <param name="NodeId">The node's public key.</param>
/// <param name="Alias">The node's alias (up to 32 bytes of UTF-8, as in BOLT 7 node_announcement).</param>
/// <param name="Network">regtest, signet, testnet or mainnet.</param>
/// <param name="BlockHeight">The height of the chain tip the node has processed.</param>
/// <param name="ListenAddresses">Where the node accepts Lightning peer connections (<c>host:port</c>).</param>
/// <param name="PeerCount">Connected peers.</param>
/// <param name="ChannelCount">Channels not yet closed (any state).</param>
/// <param name="ActiveChannelCount">Channels in <see cref="ChannelState.Normal"/> state.</param>
/// <param name="Version">The node software version.</param>
public sealed record NodeInfo(
    NodeId NodeId,
    string Alias,
    string Network,
    int BlockHeight,
    IReadOnlyList<string> ListenAddresses,
    int PeerCount,
    int ChannelCount,
    int ActiveChannelCount,
    string Version);

/// <summary>A fresh receive address of the node's on-chain wallet.</summary>
/// <param name="Address">The address in the network's encoding.</param>
/// <param name="Type">p2wpkh or p2tr.</param>
public sealed record NodeWalletAddress(string Address, string Type);

/// <summary>The node's on-chain wallet balance (same field names as the standalone <c>satflow wallet balance</c>).</summary>
/// <param name="Confirmed">Spendable, confirmed coins.</param>
/// <param name="Unconfirmed">Coins in unconfirmed transactions.</param>
/// <param name="Immature">Coinbase outputs younger than 100 blocks.</param>
/// <param name="Total">The sum of the three.</param>
/// <param name="TipHeight">The height the wallet is synced to, if it has synced.</param>
public sealed record NodeWalletBalance(
    [property: JsonPropertyName("confirmed_sat")] Money Confirmed,
    [property: JsonPropertyName("unconfirmed_sat")] Money Unconfirmed,
    [property: JsonPropertyName("immature_sat")] Money Immature,
    [property: JsonPropertyName("total_sat")] Money Total,
    int? TipHeight);

/// <summary>A connected peer.</summary>
/// <param name="NodeId">The peer's node id.</param>
/// <param name="Address">The remote <c>host:port</c> of the connection.</param>
/// <param name="Inbound">True when the peer dialled us.</param>
public sealed record PeerInfo(NodeId NodeId, string Address, bool Inbound);

/// <summary>Where a channel is in its life.</summary>
public enum ChannelState
{
    /// <summary>open_channel / accept_channel / funding_created / funding_signed in progress.</summary>
    Opening,

    /// <summary>Funding transaction broadcast; waiting for confirmations and channel_ready from both sides.</summary>
    AwaitingConfirmation,

    /// <summary>Usable for payments.</summary>
    Normal,

    /// <summary>shutdown sent or received; HTLCs are draining.</summary>
    ShuttingDown,

    /// <summary>closing_signed negotiation or the mutual close transaction waits to confirm.</summary>
    Closing,

    /// <summary>A commitment transaction was broadcast (by us or the peer); outputs are being swept.</summary>
    ForceClosing,

    /// <summary>Fully resolved on chain.</summary>
    Closed,
}

/// <summary>A channel with a peer.</summary>
/// <param name="ChannelId">The BOLT 2 channel id (the temporary id while <see cref="ChannelState.Opening"/>).</param>
/// <param name="ShortChannelId">The short channel id once the funding transaction is confirmed.</param>
/// <param name="PeerNodeId">The peer at the other end.</param>
/// <param name="State">The channel's state.</param>
/// <param name="Capacity">The funding amount.</param>
/// <param name="LocalBalance">Our balance (to_local), without in-flight HTLCs.</param>
/// <param name="RemoteBalance">The peer's balance (to_remote), without in-flight HTLCs.</param>
/// <param name="FundingOutpoint">The funding output, once known.</param>
/// <param name="Initiator">True when we opened (and funded) the channel.</param>
public sealed record ChannelInfo(
    ChannelId ChannelId,
    ShortChannelId? ShortChannelId,
    NodeId PeerNodeId,
    ChannelState State,
    [property: JsonPropertyName("capacity_sat")] Money Capacity,
    [property: JsonPropertyName("local_balance_msat")] MilliSatoshi LocalBalance,
    [property: JsonPropertyName("remote_balance_msat")] MilliSatoshi RemoteBalance,
    OutPoint? FundingOutpoint,
    bool Initiator)
{
    /// <summary>Whether the channel is announced to the network (false: private, reachable through route hints).</summary>
    [JsonPropertyName("public")]
    public bool IsPublic { get; init; } = true;
}

/// <summary>The outcome of a close request.</summary>
/// <param name="ChannelId">The channel.</param>
/// <param name="State">Its state after the request (<see cref="ChannelState.ShuttingDown"/>, <see cref="ChannelState.Closing"/> or <see cref="ChannelState.ForceClosing"/>).</param>
/// <param name="ClosingTxid">The broadcast closing or commitment transaction, when there is one already.</param>
public sealed record ChannelCloseResult(ChannelId ChannelId, ChannelState State, uint256? ClosingTxid);

/// <summary>The outcome of a restore from a static channel backup.</summary>
/// <param name="Recovering">The channels put under recovery (channels the node holds or already recovers are skipped).</param>
public sealed record ChannelRestoreResult(IReadOnlyList<ChannelId> Recovering);

/// <summary>Where an invoice we issued stands.</summary>
public enum InvoiceState
{
    /// <summary>Payable.</summary>
    Open,

    /// <summary>Paid: the preimage was released.</summary>
    Settled,

    /// <summary>Expired unpaid.</summary>
    Expired,
}

/// <summary>An invoice the node issued.</summary>
/// <param name="PaymentHash">Identifies the invoice and its payment.</param>
/// <param name="Bolt11">The encoded invoice.</param>
/// <param name="Amount">The requested amount (null for an any-amount invoice).</param>
/// <param name="Description">The description, if any.</param>
/// <param name="State">Open, settled or expired.</param>
/// <param name="CreatedAt">The invoice timestamp.</param>
/// <param name="ExpiresAt">When it stops being payable.</param>
/// <param name="AmountReceived">What the payer actually paid, once settled.</param>
/// <param name="SettledAt">When it was paid.</param>
public sealed record InvoiceInfo(
    PaymentHash PaymentHash,
    string Bolt11,
    [property: JsonPropertyName("amount_msat")] MilliSatoshi? Amount,
    string? Description,
    InvoiceState State,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    [property: JsonPropertyName("amount_received_msat")] MilliSatoshi? AmountReceived,
    DateTimeOffset? SettledAt);

/// <summary>Where an outgoing payment stands.</summary>
public enum PaymentState
{
    /// <summary>HTLCs in flight.</summary>
    Pending,

    /// <summary>The recipient released the preimage.</summary>
    Succeeded,

    /// <summary>Every attempt failed; nothing is in flight.</summary>
    Failed,
}

/// <summary>An outgoing payment.</summary>
/// <param name="PaymentHash">Identifies the payment.</param>
/// <param name="Destination">The recipient node.</param>
/// <param name="Amount">What the recipient gets.</param>
/// <param name="Fee">Routing fees paid (or offered, while pending).</param>
/// <param name="State">Pending, succeeded or failed.</param>
/// <param name="FailureReason">Why it failed (when <see cref="PaymentState.Failed"/>).</param>
/// <param name="Preimage">The proof of payment (when <see cref="PaymentState.Succeeded"/>).</param>
/// <param name="Bolt11">The paid invoice; null for keysend.</param>
/// <param name="CreatedAt">When the payment was started.</param>
/// <param name="CompletedAt">When it succeeded or failed.</param>
public sealed record PaymentInfo(
    PaymentHash PaymentHash,
    NodeId Destination,
    [property: JsonPropertyName("amount_msat")] MilliSatoshi Amount,
    [property: JsonPropertyName("fee_msat")] MilliSatoshi Fee,
    PaymentState State,
    string? FailureReason,
    PaymentPreimage? Preimage,
    string? Bolt11,
    DateTimeOffset CreatedAt,
    DateTimeOffset? CompletedAt)
{
    /// <summary>How many parts the recipient settled (more than one for a multi-part payment; null when unknown).</summary>
    public int? Parts { get; init; }

    /// <summary>How many HTLCs were sent, retries included (null when unknown).</summary>
    public int? Attempts { get; init; }
}

/// <summary>The answer to a disconnect request.</summary>
/// <param name="NodeId">The peer.</param>
/// <param name="Disconnected">Always true: failures are errors.</param>
public sealed record PeerDisconnectResult(NodeId NodeId, bool Disconnected);
