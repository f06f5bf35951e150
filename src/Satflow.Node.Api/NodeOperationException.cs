using System.Net;

namespace Satflow.Node.Api;

/// <summary>Why a node operation was refused; each maps to one HTTP status and problem type.</summary>
public enum NodeErrorCode
{
    /// <summary>A parameter is malformed or out of range (HTTP 400).</summary>
    InvalidArgument,

    /// <summary>No such channel, invoice, payment or peer (HTTP 404).</summary>
    NotFound,

    /// <summary>The operation needs a connected peer and it is not (HTTP 409).</summary>
    PeerNotConnected,

    /// <summary>Not enough on-chain funds or channel liquidity (HTTP 409).</summary>
    InsufficientFunds,

    /// <summary>The invoice was already paid (HTTP 409).</summary>
    AlreadyPaid,

    /// <summary>The channel is not in a state that allows the operation (HTTP 409).</summary>
    ChannelNotReady,

    /// <summary>The thing already exists or conflicts with the node's state, e.g. a duplicate payment in flight (HTTP 409).</summary>
    Conflict,

    /// <summary>The invoice has expired (HTTP 422).</summary>
    InvoiceExpired,

    /// <summary>No route to the destination with enough capacity (HTTP 422).</summary>
    NoRoute,

    /// <summary>The peer refused the request, e.g. an open_channel answered with an error (HTTP 422).</summary>
    Rejected,

    /// <summary>The node cannot serve this now: a peer is unreachable, the chain backend is down, the node is stopping (HTTP 503).</summary>
    Unavailable,
}

/// <summary>An expected failure of an <see cref="INodeOperations"/> call, reported to API clients as RFC 7807 problem+json.</summary>
public sealed class NodeOperationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NodeOperationException(NodeErrorCode code, string message) : base(message) => Code = code;

    /// <summary>Creates the exception.</summary>
    public NodeOperationException(NodeErrorCode code, string message, Exception innerException) : base(message, innerException) => Code = code;

    /// <summary>Creates an <see cref="NodeErrorCode.InvalidArgument"/> exception.</summary>
    public NodeOperationException() : this(NodeErrorCode.InvalidArgument, "invalid request") { }

    /// <summary>Creates an <see cref="NodeErrorCode.InvalidArgument"/> exception.</summary>
    public NodeOperationException(string message) : this(NodeErrorCode.InvalidArgument, message) { }

    /// <summary>Creates an <see cref="NodeErrorCode.InvalidArgument"/> exception.</summary>
    public NodeOperationException(string message, Exception innerException) : this(NodeErrorCode.InvalidArgument, message, innerException) { }

    /// <summary>Why the operation was refused.</summary>
    public NodeErrorCode Code { get; }

    /// <summary>The HTTP status an API server answers with for <paramref name="code"/>.</summary>
    public static HttpStatusCode StatusFor(NodeErrorCode code) => code switch
    {
        NodeErrorCode.InvalidArgument => HttpStatusCode.BadRequest,
        NodeErrorCode.NotFound => HttpStatusCode.NotFound,
        NodeErrorCode.PeerNotConnected or NodeErrorCode.InsufficientFunds or NodeErrorCode.AlreadyPaid
            or NodeErrorCode.ChannelNotReady or NodeErrorCode.Conflict => HttpStatusCode.Conflict,
        NodeErrorCode.InvoiceExpired or NodeErrorCode.NoRoute or NodeErrorCode.Rejected => HttpStatusCode.UnprocessableEntity,
        NodeErrorCode.Unavailable => HttpStatusCode.ServiceUnavailable,
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, "unknown error code"),
    };
}
