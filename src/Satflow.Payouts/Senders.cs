using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Payouts;

/// <summary>What a Lightning node knows about a payment hash.</summary>
public enum LightningPaymentState
{
    /// <summary>The node has never been asked to pay this hash (so paying it now cannot pay twice).</summary>
    Unknown,

    /// <summary>In flight.</summary>
    Pending,

    /// <summary>Paid; the preimage is known.</summary>
    Succeeded,

    /// <summary>Failed for good (no HTLC outstanding).</summary>
    Failed,
}

/// <summary>A Lightning payment's status as reported by the sender.</summary>
/// <param name="State">Where it stands.</param>
/// <param name="Preimage">The preimage, when succeeded.</param>
/// <param name="Fee">Routing fees paid, when known.</param>
/// <param name="FailureReason">Why it failed, when failed.</param>
public sealed record LightningPaymentStatus(LightningPaymentState State, PaymentPreimage? Preimage = null, MilliSatoshi? Fee = null, string? FailureReason = null);

/// <summary>A Lightning payment to make for a payout.</summary>
/// <param name="PayoutId">The payout.</param>
/// <param name="Invoice">The BOLT 11 invoice.</param>
/// <param name="PaymentHash">The invoice's payment hash: the idempotency reference.</param>
/// <param name="Amount">The amount to send (the invoice amount when it has one).</param>
public sealed record LightningPayoutRequest(PayoutId PayoutId, string Invoice, PaymentHash PaymentHash, MilliSatoshi Amount);

/// <summary>
/// Pays BOLT 11 invoices for the payout processor (implemented over the Lightning node). Contract:
/// <see cref="GetStatusAsync"/> answers from the node's durable payment records keyed by payment hash, and returns
/// <see cref="LightningPaymentState.Unknown"/> only when the node has never started paying that hash; the node records
/// a payment before sending any HTLC. The processor never calls <see cref="PayAsync"/> for a hash whose status it has
/// not established as unknown after a crash.
/// </summary>
public interface ILightningPayoutSender
{
    /// <summary>Pays (or starts paying) the invoice; returns the status reached (pending is fine).</summary>
    Task<LightningPaymentStatus> PayAsync(LightningPayoutRequest request, CancellationToken cancellationToken);

    /// <summary>The status of the payment to <paramref name="paymentHash"/>.</summary>
    Task<LightningPaymentStatus> GetStatusAsync(PaymentHash paymentHash, CancellationToken cancellationToken);
}

/// <summary>One output of an on-chain payout batch.</summary>
/// <param name="PayoutId">The payout.</param>
/// <param name="Address">Where to pay.</param>
/// <param name="Amount">How much.</param>
public sealed record OnChainPayoutOutput(PayoutId PayoutId, BitcoinAddress Address, Money Amount);

/// <summary>What the wallet knows about a transaction id.</summary>
public enum OnChainTransactionState
{
    /// <summary>Never broadcast by this wallet, not in the mempool, not in the chain.</summary>
    Unknown,

    /// <summary>Broadcast, unconfirmed.</summary>
    InMempool,

    /// <summary>In the chain; see <see cref="OnChainTransactionStatus.Confirmations"/>.</summary>
    Confirmed,

    /// <summary>One of its inputs was spent by another transaction: it can never confirm.</summary>
    Conflicted,
}

/// <summary>A transaction's status.</summary>
/// <param name="State">Where it stands.</param>
/// <param name="Confirmations">Confirmations when confirmed.</param>
public sealed record OnChainTransactionStatus(OnChainTransactionState State, int Confirmations = 0);

/// <summary>
/// Pays a batch of outputs in one transaction for the payout processor (implemented over the store's wallet).
/// Contract: <see cref="CreateTransactionAsync"/> returns a signed transaction paying every output and does NOT
/// broadcast it (the processor records its txid first) and keeps its inputs reserved; <see cref="BroadcastAsync"/> is
/// idempotent (re-broadcasting the same transaction is harmless); <see cref="GetStatusAsync"/> reports
/// <see cref="OnChainTransactionState.Unknown"/> for a transaction it never broadcast.
/// </summary>
public interface IOnChainPayoutSender
{
    /// <summary>Builds and signs (without broadcasting) one transaction paying all <paramref name="outputs"/>.</summary>
    Task<Transaction> CreateTransactionAsync(PayoutBatchId batchId, IReadOnlyList<OnChainPayoutOutput> outputs, CancellationToken cancellationToken);

    /// <summary>Broadcasts a transaction (again, if need be).</summary>
    Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken);

    /// <summary>The status of <paramref name="txId"/>.</summary>
    Task<OnChainTransactionStatus> GetStatusAsync(uint256 txId, CancellationToken cancellationToken);
}
