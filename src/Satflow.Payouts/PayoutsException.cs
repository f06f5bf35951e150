namespace Satflow.Payouts;

/// <summary>Why a payouts operation was refused or failed.</summary>
public enum PayoutsErrorReason
{
    /// <summary>An argument is missing, out of range or malformed.</summary>
    InvalidArgument,

    /// <summary>The pull payment, payout, batch or payment request does not exist.</summary>
    NotFound,

    /// <summary>The operation is not allowed in the record's current state (e.g. approving a completed payout).</summary>
    InvalidState,

    /// <summary>The pull payment or payment request is expired, not started yet, or archived.</summary>
    NotActive,

    /// <summary>The amount breaks a limit: per-claim minimum/maximum, or more than what remains.</summary>
    LimitExceeded,

    /// <summary>The claim destination is not a valid BOLT 11 invoice or address for this network, is expired, or is not allowed.</summary>
    InvalidDestination,

    /// <summary>Another writer changed the record first (optimistic concurrency); re-read and retry.</summary>
    Conflict,

    /// <summary>The configuration (options, database path, schema name) is unusable.</summary>
    InvalidConfiguration,

    /// <summary>The database was written by a newer version of this library.</summary>
    UnsupportedSchemaVersion,

    /// <summary>The storage backend failed.</summary>
    StorageFailure,

    /// <summary>A payout sender broke its contract (e.g. a transaction that does not pay the batch).</summary>
    SenderContractViolation,
}

/// <summary>A typed payouts error; <see cref="Reason"/> says which rule was broken.</summary>
public sealed class PayoutsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PayoutsException(PayoutsErrorReason reason, string message, Exception? inner = null)
        : base(message, inner)
    {
        Reason = reason;
    }

    /// <summary>Creates the exception.</summary>
    public PayoutsException() : this(PayoutsErrorReason.InvalidArgument, "Invalid payouts operation.") { }

    /// <summary>Creates the exception.</summary>
    public PayoutsException(string message) : this(PayoutsErrorReason.InvalidArgument, message) { }

    /// <summary>Creates the exception.</summary>
    public PayoutsException(string message, Exception inner) : this(PayoutsErrorReason.InvalidArgument, message, inner) { }

    /// <summary>Which rule was broken.</summary>
    public PayoutsErrorReason Reason { get; }
}
