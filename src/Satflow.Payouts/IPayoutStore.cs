namespace Satflow.Payouts;

/// <summary>A filter for <see cref="IPayoutStore.ListPayoutsAsync"/>; null members do not filter.</summary>
public sealed record PayoutQuery
{
    /// <summary>Only this store's payouts.</summary>
    public string? StoreId { get; init; }

    /// <summary>Only claims on this pull payment.</summary>
    public PullPaymentId? PullPaymentId { get; init; }

    /// <summary>Only payouts in these states.</summary>
    public IReadOnlyList<PayoutState>? States { get; init; }
}

/// <summary>
/// Records written together by <see cref="IPayoutStore.CommitAsync"/>. A record whose <c>Version</c> is 0 is
/// inserted (and must not exist); any other is updated only if the stored version still equals it (optimistic
/// concurrency). Stored versions become <c>Version + 1</c>.
/// </summary>
public sealed class PayoutChangeSet
{
    /// <summary>Pull payments to write.</summary>
    public List<PullPayment> PullPayments { get; } = [];

    /// <summary>Payouts to write.</summary>
    public List<Payout> Payouts { get; } = [];

    /// <summary>On-chain batches to write.</summary>
    public List<OnChainPayoutBatch> Batches { get; } = [];

    /// <summary>Payment requests to write.</summary>
    public List<PaymentRequest> PaymentRequests { get; } = [];

    /// <summary>Processor leases to write.</summary>
    public List<ProcessorLease> Leases { get; } = [];

    /// <summary>How many records it holds.</summary>
    public int Count => PullPayments.Count + Payouts.Count + Batches.Count + PaymentRequests.Count + Leases.Count;
}

/// <summary>
/// Durable storage of pull payments, payouts, on-chain batches and payment requests
/// (<see cref="PayoutStore"/>: in memory, SQLite or PostgreSQL). Reads return records with their stored
/// <c>Version</c>; <see cref="CommitAsync"/> is all-or-nothing. Failures throw <see cref="PayoutsException"/>.
/// </summary>
public interface IPayoutStore : IAsyncDisposable
{
    /// <summary>The pull payment, or null.</summary>
    Task<PullPayment?> GetPullPaymentAsync(PullPaymentId id, CancellationToken cancellationToken = default);

    /// <summary>A store's pull payments, oldest first.</summary>
    Task<IReadOnlyList<PullPayment>> ListPullPaymentsAsync(string storeId, CancellationToken cancellationToken = default);

    /// <summary>The payout, or null.</summary>
    Task<Payout?> GetPayoutAsync(PayoutId id, CancellationToken cancellationToken = default);

    /// <summary>Payouts matching <paramref name="query"/>, oldest first.</summary>
    Task<IReadOnlyList<Payout>> ListPayoutsAsync(PayoutQuery query, CancellationToken cancellationToken = default);

    /// <summary>The batch, or null.</summary>
    Task<OnChainPayoutBatch?> GetBatchAsync(PayoutBatchId id, CancellationToken cancellationToken = default);

    /// <summary>The payment request, or null.</summary>
    Task<PaymentRequest?> GetPaymentRequestAsync(PaymentRequestId id, CancellationToken cancellationToken = default);

    /// <summary>A store's payment requests, oldest first.</summary>
    Task<IReadOnlyList<PaymentRequest>> ListPaymentRequestsAsync(string storeId, CancellationToken cancellationToken = default);

    /// <summary>The processor lease, or null.</summary>
    Task<ProcessorLease?> GetLeaseAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Writes every record of <paramref name="changes"/> or none.</summary>
    /// <exception cref="PayoutsException"><see cref="PayoutsErrorReason.Conflict"/> when a version does not match
    /// (or an inserted record exists); <see cref="PayoutsErrorReason.StorageFailure"/> when the backend fails.</exception>
    Task CommitAsync(PayoutChangeSet changes, CancellationToken cancellationToken = default);
}
