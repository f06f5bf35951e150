namespace Satflow.Merchant;

/// <summary>Why a merchant-domain operation was refused.</summary>
public enum MerchantErrorReason
{
    /// <summary>An argument was malformed or out of range.</summary>
    InvalidArgument,
    /// <summary>The referenced entity does not exist.</summary>
    NotFound,
    /// <summary>An entity with the same identity already exists.</summary>
    AlreadyExists,
    /// <summary>The operation is not allowed in the entity's current state.</summary>
    InvalidState,
    /// <summary>The caller lacks the permission.</summary>
    Forbidden,
    /// <summary>Someone else changed the entity since it was read (optimistic concurrency).</summary>
    ConcurrencyConflict,
    /// <summary>A stored password hash could not be parsed.</summary>
    InvalidPasswordHash,
    /// <summary>A journal entry does not balance or is otherwise invalid.</summary>
    UnbalancedEntry,
    /// <summary>An amount overflowed its integer range.</summary>
    AmountOverflow,
    /// <summary>A payment method provider returned something unusable, or none is configured.</summary>
    PaymentMethodUnavailable,
    /// <summary>The database schema is newer than this code understands.</summary>
    UnsupportedSchemaVersion,
    /// <summary>The persistence configuration is invalid.</summary>
    InvalidConfiguration,
    /// <summary>The database failed.</summary>
    StorageFailure,
}

/// <summary>The typed error of the merchant domain; subclasses carry more detail.</summary>
public class MerchantException : Exception
{
    /// <summary>Creates the error.</summary>
    /// <param name="reason">Why.</param>
    /// <param name="message">A human-readable explanation.</param>
    /// <param name="inner">The underlying cause, if any.</param>
    public MerchantException(MerchantErrorReason reason, string message, Exception? inner = null)
        : base(message, inner)
    {
        Reason = reason;
    }

    /// <summary>Why the operation was refused.</summary>
    public MerchantErrorReason Reason { get; }
}
