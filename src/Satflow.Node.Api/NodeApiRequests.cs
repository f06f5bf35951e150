namespace Satflow.Node.Api;

/// <summary>
/// Request bodies of the REST API as they arrive on the wire. Fields are raw (strings and plain numbers) so the server
/// can reject each bad field with a precise message instead of a generic JSON error.
/// </summary>
/// <param name="NodeId">The peer's node id (66 hex characters).</param>
/// <param name="Address">The peer's <c>host:port</c>.</param>
public sealed record ConnectPeerRequest(string? NodeId, string? Address);

/// <summary>Body of <c>POST /v1/channels</c>.</summary>
/// <param name="NodeId">The connected peer.</param>
/// <param name="AmountSat">The channel capacity in satoshis.</param>
public sealed record OpenChannelRequest(string? NodeId, long? AmountSat)
{
    /// <summary>True for an unannounced channel (default: the node's setting, public).</summary>
    public bool? Private { get; init; }
}

/// <summary>Body of <c>POST /v1/channels/{id}/close</c> (optional).</summary>
/// <param name="Force">Close unilaterally.</param>
public sealed record CloseChannelRequest(bool? Force);

/// <summary>Body of <c>POST /v1/channels/restore</c>.</summary>
/// <param name="Backup">The static channel backup file, base64.</param>
public sealed record RestoreChannelsRequest(string? Backup);

/// <summary>Body of <c>POST /v1/invoices</c>.</summary>
/// <param name="AmountMsat">The amount in millisatoshis.</param>
/// <param name="Description">The description.</param>
/// <param name="ExpirySeconds">Seconds until the invoice expires.</param>
public sealed record CreateInvoiceRequest(long? AmountMsat, string? Description, long? ExpirySeconds);

/// <summary>Body of <c>POST /v1/pay</c>.</summary>
/// <param name="Bolt11">The invoice.</param>
/// <param name="AmountMsat">The amount for an any-amount invoice.</param>
public sealed record PayInvoiceRequest(string? Bolt11, long? AmountMsat)
{
    /// <summary>The largest total routing fee in millisatoshis (optional).</summary>
    public long? MaxFeeMsat { get; init; }

    /// <summary>How long to keep retrying, in seconds (optional).</summary>
    public long? TimeoutSeconds { get; init; }
}

/// <summary>Body of <c>POST /v1/keysend</c>.</summary>
/// <param name="NodeId">The recipient.</param>
/// <param name="AmountMsat">The amount in millisatoshis.</param>
public sealed record KeysendRequest(string? NodeId, long? AmountMsat);

/// <summary>An RFC 7807 problem document (<c>application/problem+json</c>) as the API returns it.</summary>
/// <param name="Type">A URI naming the problem kind.</param>
/// <param name="Title">A short summary of the problem kind.</param>
/// <param name="Status">The HTTP status.</param>
/// <param name="Detail">What went wrong with this request, in one line.</param>
/// <param name="Code">The error code in snake_case (a <see cref="NodeErrorCode"/>, or <c>unauthorized</c>, <c>malformed_request</c>, <c>internal</c>).</param>
public sealed record ApiProblem(string Type, string Title, int Status, string Detail, string Code);
