using Satflow.Lightning.Types;

namespace Satflow.Merchant.Invoices;

/// <summary>The invoice status, as BTCPay Server defines it.</summary>
public enum InvoiceStatus
{
    /// <summary>Not (fully) paid yet, not expired.</summary>
    New,
    /// <summary>Paid in full (within tolerance) but not yet settled (waiting for confirmations).</summary>
    Processing,
    /// <summary>Paid in full and settled (confirmed, or a settled Lightning payment), or marked settled.</summary>
    Settled,
    /// <summary>Not paid in full before expiry.</summary>
    Expired,
    /// <summary>Paid, but the payments did not settle within the monitoring window; or marked invalid.</summary>
    Invalid,
}

/// <summary>Why an invoice is in its status.</summary>
public enum InvoiceAdditionalStatus
{
    /// <summary>Nothing more to say.</summary>
    None,
    /// <summary>Paid in full only after expiry (the status stays <see cref="InvoiceStatus.Expired"/>).</summary>
    PaidLate,
    /// <summary>Some but not enough was paid.</summary>
    PaidPartial,
    /// <summary>A person marked the status manually.</summary>
    Marked,
    /// <summary>Reserved: BTCPay's legacy "invalid" exception status; Satflow never sets it.</summary>
    Invalid,
    /// <summary>More than the amount due was paid.</summary>
    PaidOver,
}

/// <summary>The invoice events, named after BTCPay Server's webhook event types.</summary>
public enum InvoiceEventType
{
    /// <summary><c>InvoiceCreated</c>.</summary>
    Created,
    /// <summary><c>InvoiceReceivedPayment</c>: a new payment was seen.</summary>
    ReceivedPayment,
    /// <summary><c>InvoicePaymentSettled</c>: a payment settled (confirmed).</summary>
    PaymentSettled,
    /// <summary><c>InvoiceProcessing</c>: paid in full, waiting for settlement.</summary>
    Processing,
    /// <summary><c>InvoiceExpired</c>.</summary>
    Expired,
    /// <summary><c>InvoiceSettled</c>.</summary>
    Settled,
    /// <summary><c>InvoiceInvalid</c>.</summary>
    Invalid,
}

/// <summary>One invoice event (for webhooks).</summary>
/// <param name="Sequence">1-based, per invoice.</param>
/// <param name="Type">The event type.</param>
/// <param name="At">When.</param>
/// <param name="Status">Status after the event.</param>
/// <param name="AdditionalStatus">Additional status after the event.</param>
/// <param name="Payment">The payment concerned, for payment events.</param>
/// <param name="ManuallyMarked">For Settled/Invalid: set by a person.</param>
/// <param name="AfterExpiration">For payment events: the payment arrived after expiry.</param>
/// <param name="PartiallyPaid">For Expired: some payment had been received.</param>
/// <param name="OverPaid">For Processing/Settled: more than due was paid.</param>
public sealed record InvoiceEvent(
    long Sequence,
    InvoiceEventType Type,
    DateTimeOffset At,
    InvoiceStatus Status,
    InvoiceAdditionalStatus AdditionalStatus,
    PaymentReference? Payment,
    bool ManuallyMarked,
    bool AfterExpiration,
    bool PartiallyPaid,
    bool OverPaid);

/// <summary>Identifies a payment: its method and reference (<c>txid:vout</c> on-chain, payment hash hex on Lightning).</summary>
/// <param name="Method">The method.</param>
/// <param name="Reference">The reference.</param>
public sealed record PaymentReference(PaymentMethodId Method, string Reference);

/// <summary>What the node saw: a payment to one of the invoice's destinations.</summary>
/// <param name="Method">The method paid.</param>
/// <param name="Reference"><c>txid:vout</c> on-chain, the payment hash in hex on Lightning.</param>
/// <param name="Amount">Amount received.</param>
/// <param name="Confirmations">On-chain confirmations (0 when unconfirmed; ignored on Lightning).</param>
/// <param name="Settled">Lightning: the HTLC settled. On-chain: an override to treat the payment as settled regardless of confirmations.</param>
/// <param name="ReceivedAt">When the payment was first seen.</param>
/// <param name="Replaced">The payment was double-spent/replaced (RBF) and no longer counts.</param>
public sealed record PaymentObservation(
    PaymentMethodId Method,
    string Reference,
    MilliSatoshi Amount,
    int Confirmations,
    bool Settled,
    DateTimeOffset ReceivedAt,
    bool Replaced = false);

/// <summary>A payment recorded on an invoice.</summary>
/// <param name="Method">The method.</param>
/// <param name="Reference">The reference.</param>
/// <param name="Amount">Amount.</param>
/// <param name="Confirmations">On-chain confirmations.</param>
/// <param name="Settled">Settled per the invoice's confirmation policy.</param>
/// <param name="ReceivedAt">First seen.</param>
/// <param name="Accounted">Counted towards the invoice (false when it arrived after the monitoring window).</param>
/// <param name="Replaced">Double-spent / replaced; not counted.</param>
public sealed record InvoicePayment(
    PaymentMethodId Method,
    string Reference,
    MilliSatoshi Amount,
    int Confirmations,
    bool Settled,
    DateTimeOffset ReceivedAt,
    bool Accounted,
    bool Replaced)
{
    /// <summary>The payment's identity.</summary>
    public PaymentReference Id => new(Method, Reference);

    /// <summary>Counted towards the paid amount.</summary>
    public bool Counts => Accounted && !Replaced;
}

/// <summary>The outcome of <see cref="Invoice.RecordPayment"/>.</summary>
/// <param name="Payment">The payment as now recorded.</param>
/// <param name="IsNew">First time this payment was seen.</param>
/// <param name="BecameSettled">This call settled the payment (post it to the ledger now).</param>
/// <param name="Events">Events this call raised.</param>
public sealed record PaymentUpdate(InvoicePayment Payment, bool IsNew, bool BecameSettled, IReadOnlyList<InvoiceEvent> Events);

/// <summary>The amount an invoice was created for.</summary>
/// <param name="Amount">The amount.</param>
/// <param name="Currency"><c>BTC</c>, <c>SATS</c> or a fiat code.</param>
public sealed record InvoiceAmount(decimal Amount, string Currency);

/// <summary>The rate used to convert a fiat invoice, recorded at creation.</summary>
/// <param name="Pair">The pair (BTC_fiat).</param>
/// <param name="Rate">The rate used (the bid).</param>
/// <param name="Rule">The rule expression that produced it.</param>
public sealed record InvoiceRate(string Pair, decimal Rate, string Rule);
