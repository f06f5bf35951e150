namespace Satflow.Storage;

/// <summary>
/// The one exception type a key-value store raises for invalid arguments, unusable configuration and backend
/// failures. <see cref="Reason"/> says which. Cancellation still surfaces as <see cref="OperationCanceledException"/>
/// and use after disposal as <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class KeyValueStoreException : Exception
{
    /// <summary>Creates the exception with a reason and a human-readable message.</summary>
    /// <param name="reason">The machine-readable cause.</param>
    /// <param name="message">What went wrong, naming the offending value where useful.</param>
    public KeyValueStoreException(KeyValueStoreErrorReason reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    /// <summary>Creates the exception with a reason, a message and the underlying cause.</summary>
    /// <param name="reason">The machine-readable cause.</param>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The exception raised by the database driver.</param>
    public KeyValueStoreException(KeyValueStoreErrorReason reason, string message, Exception? innerException)
        : base(message, innerException)
    {
        Reason = reason;
    }

    /// <summary>The machine-readable cause.</summary>
    public KeyValueStoreErrorReason Reason { get; }
}
