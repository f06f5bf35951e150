namespace Satflow.Webhooks;

/// <summary>Why a webhook operation was refused or failed.</summary>
public enum WebhookErrorReason
{
    /// <summary>The endpoint URL is not https (or http on a loopback host), or is not absolute.</summary>
    InvalidUrl,

    /// <summary>The signing secret is missing or too short.</summary>
    InvalidSecret,

    /// <summary>An event type is not of the form <c>noun.verb</c> (lower case, dots, underscores).</summary>
    InvalidEventType,

    /// <summary>An id, owner or other argument is empty or malformed.</summary>
    InvalidArgument,

    /// <summary>The subscription or delivery does not exist.</summary>
    NotFound,

    /// <summary>The configuration (options, database path, schema name) is unusable.</summary>
    InvalidConfiguration,

    /// <summary>The database was written by a newer version of this library.</summary>
    UnsupportedSchemaVersion,

    /// <summary>The storage backend failed (I/O, SQL error, unreachable server).</summary>
    StorageFailure,
}

/// <summary>A typed webhook error; <see cref="Reason"/> says which rule was broken.</summary>
public sealed class WebhookException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WebhookException(WebhookErrorReason reason, string message, Exception? inner = null)
        : base(message, inner)
    {
        Reason = reason;
    }

    /// <summary>Creates the exception.</summary>
    public WebhookException() : this(WebhookErrorReason.InvalidArgument, "Invalid webhook operation.") { }

    /// <summary>Creates the exception.</summary>
    public WebhookException(string message) : this(WebhookErrorReason.InvalidArgument, message) { }

    /// <summary>Creates the exception.</summary>
    public WebhookException(string message, Exception inner) : this(WebhookErrorReason.InvalidArgument, message, inner) { }

    /// <summary>Which rule was broken.</summary>
    public WebhookErrorReason Reason { get; }
}
