using Satflow.Lightning.Types;

namespace Satflow.Payments;

/// <summary>Why a payments operation was refused.</summary>
public enum PaymentsErrorReason
{
    /// <summary>The arguments do not describe a valid invoice or payment.</summary>
    InvalidArgument,
    /// <summary>No invoice with that payment hash exists.</summary>
    InvoiceNotFound,
    /// <summary>An invoice with that payment hash already exists.</summary>
    InvoiceAlreadyExists,
    /// <summary>The invoice is not open (already settled, canceled or expired).</summary>
    InvoiceNotOpen,
    /// <summary>The invoice expired before it was paid.</summary>
    InvoiceExpired,
    /// <summary>The payment secret presented does not match the invoice's.</summary>
    WrongPaymentSecret,
    /// <summary>Less than the invoice amount was received.</summary>
    Underpaid,
    /// <summary>More than twice the invoice amount was received (BOLT 4).</summary>
    Overpaid,
    /// <summary>No outgoing payment with that payment hash exists.</summary>
    PaymentNotFound,
    /// <summary>A pending or succeeded payment for the hash exists: paying again is refused.</summary>
    DuplicatePayment,
    /// <summary>The outgoing payment is not pending, so it cannot succeed or fail now.</summary>
    PaymentNotPending,
    /// <summary>The preimage does not hash to the payment hash.</summary>
    WrongPreimage,
    /// <summary>A stored record is corrupted or has an unknown version.</summary>
    CorruptRecord,
}

/// <summary>The base of every error raised by Satflow.Payments; <see cref="Reason"/> says what went wrong.</summary>
public class PaymentsException : Exception
{
    /// <summary>Creates the error.</summary>
    /// <param name="reason">Why the operation was refused.</param>
    /// <param name="message">A human-readable explanation.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public PaymentsException(PaymentsErrorReason reason, string message, Exception? inner = null)
        : base(message, inner)
    {
        Reason = reason;
    }

    /// <summary>Why the operation was refused.</summary>
    public PaymentsErrorReason Reason { get; }
}

/// <summary>An invoice operation was refused (not found, not open, expired, wrong secret, wrong amount...).</summary>
public sealed class InvoiceException : PaymentsException
{
    /// <summary>Creates the error.</summary>
    /// <param name="reason">Why the operation was refused.</param>
    /// <param name="paymentHash">The invoice's payment hash.</param>
    /// <param name="message">A human-readable explanation.</param>
    public InvoiceException(PaymentsErrorReason reason, PaymentHash paymentHash, string message)
        : base(reason, message)
    {
        PaymentHash = paymentHash;
    }

    /// <summary>The invoice's payment hash.</summary>
    public PaymentHash PaymentHash { get; }
}

/// <summary>An outgoing payment operation was refused (not found, not pending, wrong preimage).</summary>
public sealed class PaymentStateException : PaymentsException
{
    /// <summary>Creates the error.</summary>
    /// <param name="reason">Why the operation was refused.</param>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="message">A human-readable explanation.</param>
    public PaymentStateException(PaymentsErrorReason reason, PaymentHash paymentHash, string message)
        : base(reason, message)
    {
        PaymentHash = paymentHash;
    }

    /// <summary>The payment hash.</summary>
    public PaymentHash PaymentHash { get; }
}

/// <summary>
/// Paying a payment hash that already has a pending or succeeded payment: the payment is refused, never made twice.
/// </summary>
public sealed class DuplicatePaymentException : PaymentsException
{
    /// <summary>Creates the error.</summary>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="existingState">The state of the existing payment.</param>
    public DuplicatePaymentException(PaymentHash paymentHash, OutgoingPaymentState existingState)
        : base(PaymentsErrorReason.DuplicatePayment, $"A payment for hash {paymentHash} is already {existingState}; paying it again is refused.")
    {
        PaymentHash = paymentHash;
        ExistingState = existingState;
    }

    /// <summary>The payment hash.</summary>
    public PaymentHash PaymentHash { get; }

    /// <summary>The state of the payment already recorded for the hash.</summary>
    public OutgoingPaymentState ExistingState { get; }
}

/// <summary>A stored record could not be decoded: corrupted bytes or an unknown format version.</summary>
public sealed class PaymentRecordCorruptException : PaymentsException
{
    /// <summary>Creates the error.</summary>
    /// <param name="message">What is wrong with the record.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public PaymentRecordCorruptException(string message, Exception? inner = null)
        : base(PaymentsErrorReason.CorruptRecord, message, inner)
    {
    }

    /// <summary>The store key of the record, when known.</summary>
    public string? Key { get; init; }
}
