using System.Text.RegularExpressions;

namespace Satflow.Payouts;

/// <summary>What a new payment request asks.</summary>
public sealed record CreatePaymentRequest
{
    /// <summary>The store asking.</summary>
    public required string StoreId { get; init; }

    /// <summary>A title shown to the payer.</summary>
    public required string Title { get; init; }

    /// <summary>An optional description.</summary>
    public string? Description { get; init; }

    /// <summary>The amount (positive).</summary>
    public required decimal Amount { get; init; }

    /// <summary>The currency code.</summary>
    public required string Currency { get; init; }

    /// <summary>When it stops accepting payments (null: never).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>Whether the payer may pay in parts.</summary>
    public bool AllowPartialPayments { get; init; }
}

/// <summary>
/// Payment requests: creation, the amount the next invoice may ask for, recording settled invoices (idempotent per
/// invoice) and archiving. The invoices themselves are created by the host's invoicing.
/// </summary>
public sealed partial class PaymentRequestService
{
    private readonly IPayoutStore _store;
    private readonly TimeProvider _time;

    /// <summary>Creates the service.</summary>
    public PaymentRequestService(IPayoutStore store, TimeProvider time)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    [GeneratedRegex("^[A-Z]{2,10}$")]
    private static partial Regex CurrencyCode();

    /// <summary>Creates a payment request.</summary>
    /// <exception cref="PayoutsException">Invalid fields.</exception>
    public async Task<PaymentRequest> CreateAsync(CreatePaymentRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var now = _time.GetUtcNow();
        if (string.IsNullOrWhiteSpace(request.StoreId) || request.StoreId.Length > 128 || string.IsNullOrWhiteSpace(request.Title) || request.Title.Length > 200)
        {
            throw Invalid("A store id (at most 128 characters) and a title (at most 200) are needed.");
        }

        if (request.Amount <= 0 || request.Currency is null || !CurrencyCode().IsMatch(request.Currency))
        {
            throw Invalid("A positive amount and a currency code (2 to 10 upper-case letters) are needed.");
        }

        if (request.ExpiresAt is { } e && e <= now)
        {
            throw Invalid("The expiry must be in the future.");
        }

        var created = new PaymentRequest
        {
            Id = PaymentRequestId.New(),
            StoreId = request.StoreId,
            Title = request.Title,
            Description = request.Description,
            Amount = request.Amount,
            Currency = request.Currency,
            ExpiresAt = request.ExpiresAt,
            AllowPartialPayments = request.AllowPartialPayments,
            CreatedAt = now,
        };
        var changes = new PayoutChangeSet();
        changes.PaymentRequests.Add(created);
        await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
        return created with { Version = 1 };
    }

    /// <summary>The payment request.</summary>
    /// <exception cref="PayoutsException"><see cref="PayoutsErrorReason.NotFound"/>.</exception>
    public async Task<PaymentRequest> GetAsync(PaymentRequestId id, CancellationToken cancellationToken = default) =>
        await _store.GetPaymentRequestAsync(id, cancellationToken).ConfigureAwait(false)
        ?? throw new PayoutsException(PayoutsErrorReason.NotFound, $"Payment request '{id}' does not exist.");

    /// <summary>A store's payment requests, oldest first.</summary>
    public Task<IReadOnlyList<PaymentRequest>> ListAsync(string storeId, CancellationToken cancellationToken = default) =>
        _store.ListPaymentRequestsAsync(storeId, cancellationToken);

    /// <summary>
    /// The amount the next invoice for this request may ask: what is due, or — when partial payments are allowed —
    /// <paramref name="requested"/> if it is positive and no more than what is due.
    /// </summary>
    /// <exception cref="PayoutsException">Not pending (completed, expired, archived), or a bad amount.</exception>
    public async Task<decimal> NextInvoiceAmountAsync(PaymentRequestId id, decimal? requested, CancellationToken cancellationToken = default)
    {
        var request = await GetAsync(id, cancellationToken).ConfigureAwait(false);
        var status = request.StatusAt(_time.GetUtcNow());
        if (status != PaymentRequestStatus.Pending)
        {
            throw new PayoutsException(PayoutsErrorReason.NotActive, $"The payment request is {status}.");
        }

        if (requested is null || requested == request.AmountDue)
        {
            return request.AmountDue;
        }

        if (!request.AllowPartialPayments)
        {
            throw new PayoutsException(PayoutsErrorReason.LimitExceeded, $"This request must be paid in full: {request.AmountDue} {request.Currency}.");
        }

        return requested > 0 && requested <= request.AmountDue
            ? requested.Value
            : throw new PayoutsException(PayoutsErrorReason.LimitExceeded, $"Pay between 0 and {request.AmountDue} {request.Currency}.");
    }

    /// <summary>Counts a settled invoice toward the request; recording the same invoice again changes nothing.
    /// A payment is counted even after expiry or when it overpays (the money arrived).</summary>
    /// <exception cref="PayoutsException">Bad arguments or a missing request.</exception>
    public Task<PaymentRequest> RecordPaymentAsync(PaymentRequestId id, string invoiceId, decimal amount, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(invoiceId) || invoiceId.Length > 128 || amount <= 0)
        {
            throw Invalid("An invoice id (at most 128 characters) and a positive amount are needed.");
        }

        return PayoutBookkeeping.RetryOnConflictAsync(async () =>
        {
            var request = await GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (request.Payments.Any(p => p.InvoiceId == invoiceId))
            {
                return request;
            }

            var updated = request with { Payments = [.. request.Payments, new PaymentRequestPayment(invoiceId, amount, _time.GetUtcNow())] };
            var changes = new PayoutChangeSet();
            changes.PaymentRequests.Add(updated);
            await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
            return updated with { Version = request.Version + 1 };
        });
    }

    /// <summary>Archives the request (it accepts nothing more).</summary>
    public Task<PaymentRequest> ArchiveAsync(PaymentRequestId id, CancellationToken cancellationToken = default) =>
        PayoutBookkeeping.RetryOnConflictAsync(async () =>
        {
            var request = await GetAsync(id, cancellationToken).ConfigureAwait(false);
            if (request.Archived)
            {
                return request;
            }

            var updated = request with { Archived = true };
            var changes = new PayoutChangeSet();
            changes.PaymentRequests.Add(updated);
            await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
            return updated with { Version = request.Version + 1 };
        });

    private static PayoutsException Invalid(string message) => new(PayoutsErrorReason.InvalidArgument, message);
}
