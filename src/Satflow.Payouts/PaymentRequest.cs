using System.Text.Json.Serialization;

namespace Satflow.Payouts;

/// <summary>Where a payment request stands at a given time.</summary>
public enum PaymentRequestStatus
{
    /// <summary>Open: something is still due and it has not expired.</summary>
    Pending,

    /// <summary>Paid in full.</summary>
    Completed,

    /// <summary>Past its expiry with something still due.</summary>
    Expired,

    /// <summary>Archived by the store.</summary>
    Archived,
}

/// <summary>One settled invoice counted toward a payment request.</summary>
/// <param name="InvoiceId">The settled invoice (its id in the invoicing system).</param>
/// <param name="Amount">The amount it paid, in the request's currency.</param>
/// <param name="SettledAt">When it settled.</param>
public sealed record PaymentRequestPayment(string InvoiceId, decimal Amount, DateTimeOffset SettledAt);

/// <summary>
/// A long-lived request for money (e.g. a bill): an amount in a currency, a title/description, an optional expiry,
/// and whether the payer may pay in parts. Each payment is an invoice created by the host for
/// <see cref="PaymentRequestService.NextInvoiceAmountAsync"/>'s amount and recorded when it settles.
/// </summary>
public sealed record PaymentRequest
{
    /// <summary>Unique id.</summary>
    public required PaymentRequestId Id { get; init; }

    /// <summary>The store asking to be paid.</summary>
    public required string StoreId { get; init; }

    /// <summary>A title shown to the payer.</summary>
    public required string Title { get; init; }

    /// <summary>An optional longer description.</summary>
    public string? Description { get; init; }

    /// <summary>The amount asked.</summary>
    public required decimal Amount { get; init; }

    /// <summary>The currency of <see cref="Amount"/>.</summary>
    public required string Currency { get; init; }

    /// <summary>When it stops accepting payments (null: never).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>When set the payer may pay any part of what is due; otherwise exactly what is due.</summary>
    public bool AllowPartialPayments { get; init; }

    /// <summary>Archived requests accept nothing.</summary>
    public bool Archived { get; init; }

    /// <summary>The payments counted so far.</summary>
    public IReadOnlyList<PaymentRequestPayment> Payments { get; init; } = [];

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The storage version this copy was read at (0 before the first save).</summary>
    [JsonIgnore]
    public long Version { get; init; }

    /// <summary>The sum of <see cref="Payments"/>.</summary>
    [JsonIgnore]
    public decimal AmountPaid => Payments.Sum(p => p.Amount);

    /// <summary>What is still due.</summary>
    [JsonIgnore]
    public decimal AmountDue => Math.Max(0, Amount - AmountPaid);

    /// <summary>The status at <paramref name="now"/>.</summary>
    public PaymentRequestStatus StatusAt(DateTimeOffset now) =>
        Archived ? PaymentRequestStatus.Archived
        : AmountDue == 0 ? PaymentRequestStatus.Completed
        : ExpiresAt is { } e && now >= e ? PaymentRequestStatus.Expired
        : PaymentRequestStatus.Pending;
}
