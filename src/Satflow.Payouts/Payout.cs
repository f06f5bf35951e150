using System.Text.Json.Serialization;
using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Payouts;

/// <summary>
/// A payout's life: <see cref="AwaitingApproval"/> → <see cref="AwaitingPayment"/> → <see cref="InProgress"/> →
/// <see cref="Completed"/> or <see cref="Failed"/>; <see cref="Cancelled"/> from either awaiting state.
/// </summary>
public enum PayoutState
{
    /// <summary>Claimed; a store operator must approve it (and fix the rate).</summary>
    AwaitingApproval,

    /// <summary>Approved; a processor will pay it.</summary>
    AwaitingPayment,

    /// <summary>A payment attempt is recorded (and possibly sent); only reconciliation with the sender moves it on.</summary>
    InProgress,

    /// <summary>Paid.</summary>
    Completed,

    /// <summary>The payment failed for good; nothing was paid.</summary>
    Failed,

    /// <summary>Cancelled before any payment.</summary>
    Cancelled,
}

/// <summary>
/// The durable record of a payment attempt, written before the sender is called: the idempotency reference (the
/// payment hash for Lightning, the txid for on-chain), the batch for on-chain, and an attempt counter.
/// </summary>
public sealed record PayoutAttempt
{
    /// <summary>The reference the sender is asked about after a crash: payment hash or txid, lower-case hex.</summary>
    public required string Reference { get; init; }

    /// <summary>The on-chain batch (null for Lightning).</summary>
    public PayoutBatchId? BatchId { get; init; }

    /// <summary>1 for the first send, then 2, … when reconciliation found the sender never saw the reference.</summary>
    public required int Number { get; init; }

    /// <summary>When the attempt was recorded.</summary>
    public required DateTimeOffset RecordedAt { get; init; }
}

/// <summary>A payout: an amount owed to a destination, usually from a claim on a pull payment.</summary>
public sealed record Payout
{
    /// <summary>Unique id.</summary>
    public required PayoutId Id { get; init; }

    /// <summary>The store paying.</summary>
    public required string StoreId { get; init; }

    /// <summary>The pull payment claimed (null for a payout the store created directly, e.g. a refund).</summary>
    public PullPaymentId? PullPaymentId { get; init; }

    /// <summary>Where the money goes.</summary>
    public required PayoutDestination Destination { get; init; }

    /// <summary>The amount in <see cref="Currency"/>.</summary>
    public required decimal Amount { get; init; }

    /// <summary>The currency of <see cref="Amount"/>.</summary>
    public required string Currency { get; init; }

    /// <summary>Where it stands.</summary>
    public PayoutState State { get; init; } = PayoutState.AwaitingApproval;

    /// <summary>The rate fixed at approval: BTC per unit of <see cref="Currency"/>.</summary>
    public decimal? Rate { get; init; }

    /// <summary>What is sent, fixed at approval (whole satoshis for on-chain).</summary>
    public MilliSatoshi? PayAmount { get; init; }

    /// <summary>The recorded payment attempt (set when entering <see cref="PayoutState.InProgress"/>).</summary>
    public PayoutAttempt? Attempt { get; init; }

    /// <summary>Proof of payment once completed: the preimage (Lightning) or the txid (on-chain), hex.</summary>
    public string? Proof { get; init; }

    /// <summary>Why it failed or was cancelled.</summary>
    public string? FailureReason { get; init; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When its state last changed.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The storage version this copy was read at (0 before the first save).</summary>
    [JsonIgnore]
    public long Version { get; init; }

    /// <summary>How it is paid.</summary>
    [JsonIgnore]
    public PayoutMethod Method => Destination.Method;

    /// <summary>True in the final states.</summary>
    [JsonIgnore]
    public bool IsFinal => State is PayoutState.Completed or PayoutState.Failed or PayoutState.Cancelled;

    /// <summary>True while it counts against its pull payment (not cancelled or failed).</summary>
    [JsonIgnore]
    public bool CountsAgainstLimit => State is not (PayoutState.Failed or PayoutState.Cancelled);

    /// <summary>The on-chain amount.</summary>
    [JsonIgnore]
    public Money? OnChainAmount => PayAmount is { } m && Method == PayoutMethod.OnChain ? Money.Satoshis((long)m.TruncateToSatoshis()) : null;
}

/// <summary>Where an on-chain batch stands.</summary>
public enum OnChainBatchState
{
    /// <summary>Signed and recorded; maybe not broadcast yet.</summary>
    Recorded,

    /// <summary>Broadcast (accepted by the wallet/mempool).</summary>
    Broadcast,

    /// <summary>Confirmed deeply enough; its payouts are completed.</summary>
    Confirmed,

    /// <summary>Double-spent by another transaction; its payouts failed.</summary>
    Conflicted,
}

/// <summary>One on-chain transaction paying several payouts, recorded (with its txid and raw bytes) before broadcast.</summary>
public sealed record OnChainPayoutBatch
{
    /// <summary>Unique id.</summary>
    public required PayoutBatchId Id { get; init; }

    /// <summary>The store paying.</summary>
    public required string StoreId { get; init; }

    /// <summary>The payouts it pays.</summary>
    public required IReadOnlyList<PayoutId> PayoutIds { get; init; }

    /// <summary>The transaction id, lower-case hex.</summary>
    public required string TxId { get; init; }

    /// <summary>The signed transaction, hex; re-broadcast as is after a crash.</summary>
    public required string RawTransaction { get; init; }

    /// <summary>Where it stands.</summary>
    public OnChainBatchState State { get; init; } = OnChainBatchState.Recorded;

    /// <summary>When it was recorded.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The storage version this copy was read at (0 before the first save).</summary>
    [JsonIgnore]
    public long Version { get; init; }
}

/// <summary>
/// Who may run a store's payout processor: held by <see cref="Owner"/> until <see cref="ExpiresAt"/>, renewed on every
/// run. It keeps two processes from reconciling each other's in-flight payments.
/// </summary>
public sealed record ProcessorLease
{
    /// <summary>The lease name (one per store).</summary>
    public required string Name { get; init; }

    /// <summary>The processor instance holding it.</summary>
    public required string Owner { get; init; }

    /// <summary>When it lapses unless renewed.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>The storage version this copy was read at (0 before the first save).</summary>
    [JsonIgnore]
    public long Version { get; init; }
}
