using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Satflow.Merchant.Idempotency;

/// <summary>The stored response of a completed idempotent request.</summary>
/// <param name="StatusCode">HTTP status code.</param>
/// <param name="ContentType">Content type of <paramref name="Body"/>.</param>
/// <param name="Body">The response body.</param>
public sealed record IdempotentResponse(int StatusCode, string ContentType, byte[] Body);

/// <summary>An idempotency record: who (scope) used which key for which request, and its response once done.</summary>
/// <param name="Scope">The caller: <c>key:&lt;api key id&gt;</c> or <c>user:&lt;user id&gt;</c>.</param>
/// <param name="Key">The client's <c>Idempotency-Key</c>.</param>
/// <param name="RequestHash">SHA-256 of the request (see <see cref="IdempotencyKeys.HashRequest"/>), lowercase hex.</param>
/// <param name="Response">The response, or null while the first request is still being processed.</param>
/// <param name="CreatedAt">When the key was first seen.</param>
public sealed record IdempotencyRecord(string Scope, string Key, string RequestHash, IdempotentResponse? Response, DateTimeOffset CreatedAt);

/// <summary>Where idempotency records live (the merchant repository implements it).</summary>
public interface IIdempotencyStore
{
    /// <summary>Inserts the record unless one exists for (scope, key); returns the existing one, or null when inserted.</summary>
    /// <param name="record">A record without response.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The existing record, or null when this call reserved the key.</returns>
    Task<IdempotencyRecord?> TryReserveIdempotencyKeyAsync(IdempotencyRecord record, CancellationToken cancellationToken = default);

    /// <summary>Stores the response of a reserved key.</summary>
    /// <param name="scope">The scope.</param>
    /// <param name="key">The key.</param>
    /// <param name="response">The response.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task CompleteIdempotencyKeyAsync(string scope, string key, IdempotentResponse response, CancellationToken cancellationToken = default);

    /// <summary>Drops a reservation whose request failed before producing a response, so the client may retry.</summary>
    /// <param name="scope">The scope.</param>
    /// <param name="key">The key.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    Task ReleaseIdempotencyKeyAsync(string scope, string key, CancellationToken cancellationToken = default);

    /// <summary>Deletes records created before a time (retention).</summary>
    /// <param name="before">The cut-off.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>How many were deleted.</returns>
    Task<int> PurgeIdempotencyKeysAsync(DateTimeOffset before, CancellationToken cancellationToken = default);
}

/// <summary>Why an idempotency key was refused.</summary>
public enum IdempotencyConflict
{
    /// <summary>The key was used before with a different request (HTTP 422).</summary>
    DifferentRequest,
    /// <summary>The first request with this key is still being processed (HTTP 409).</summary>
    InProgress,
    /// <summary>The key itself is malformed (HTTP 400).</summary>
    InvalidKey,
}

/// <summary>A typed idempotency refusal.</summary>
public sealed class IdempotencyConflictException : MerchantException
{
    /// <summary>Creates the error.</summary>
    /// <param name="conflict">Why.</param>
    /// <param name="message">Explanation.</param>
    public IdempotencyConflictException(IdempotencyConflict conflict, string message)
        : base(conflict == IdempotencyConflict.InvalidKey ? MerchantErrorReason.InvalidArgument : MerchantErrorReason.ConcurrencyConflict, message)
    {
        Conflict = conflict;
    }

    /// <summary>Why the key was refused.</summary>
    public IdempotencyConflict Conflict { get; }
}

/// <summary>The decision for an incoming request carrying an idempotency key.</summary>
/// <param name="Replay">When not null, return this stored response instead of processing the request.</param>
public sealed record IdempotencyDecision(IdempotentResponse? Replay)
{
    /// <summary>Whether the request should be processed (the key is now reserved for it).</summary>
    public bool ShouldProcess => Replay is null;
}

/// <summary>Idempotency-key protocol: reserve → process → complete (or release on failure).</summary>
public static class IdempotencyKeys
{
    /// <summary>Longest accepted key.</summary>
    public const int MaxKeyLength = 255;

    /// <summary>The scope string of an API key.</summary>
    /// <param name="id">The key id.</param>
    /// <returns><c>key:&lt;id&gt;</c>.</returns>
    public static string ScopeOf(ApiKeyId id) => "key:" + id.Value;

    /// <summary>The scope string of a user session.</summary>
    /// <param name="id">The user id.</param>
    /// <returns><c>user:&lt;id&gt;</c>.</returns>
    public static string ScopeOf(UserId id) => "user:" + id.Value;

    /// <summary>Throws unless the key is 1–255 printable ASCII characters.</summary>
    /// <param name="key">The key.</param>
    /// <exception cref="IdempotencyConflictException">Malformed key.</exception>
    public static void Validate(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > MaxKeyLength || key.Any(c => c is < '!' or > '~'))
        {
            throw new IdempotencyConflictException(IdempotencyConflict.InvalidKey, $"An idempotency key must be 1 to {MaxKeyLength} printable ASCII characters without spaces.");
        }
    }

    /// <summary>A collision-free SHA-256 of method, path and body (each length-prefixed), lowercase hex.</summary>
    /// <param name="method">HTTP method.</param>
    /// <param name="path">Path and query.</param>
    /// <param name="body">Request body.</param>
    /// <returns>64 hex characters.</returns>
    public static string HashRequest(string method, string path, ReadOnlySpan<byte> body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (var part in new[] { Encoding.UTF8.GetBytes(method ?? ""), Encoding.UTF8.GetBytes(path ?? "") })
        {
            BinaryPrimitives.WriteInt32BigEndian(length, part.Length);
            hash.AppendData(length);
            hash.AppendData(part);
        }

        BinaryPrimitives.WriteInt32BigEndian(length, body.Length);
        hash.AppendData(length);
        hash.AppendData(body);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Reserves the key for this request, or says to replay the stored response.</summary>
    /// <param name="store">The record store.</param>
    /// <param name="scope">The caller's scope.</param>
    /// <param name="key">The client's key.</param>
    /// <param name="requestHash">The request hash.</param>
    /// <param name="now">Current time.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>Process, or replay.</returns>
    /// <exception cref="IdempotencyConflictException">Same key with a different request, still in progress, or malformed.</exception>
    public static async Task<IdempotencyDecision> BeginAsync(IIdempotencyStore store, string scope, string key, string requestHash, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        Validate(key);
        if (string.IsNullOrEmpty(scope))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "An idempotency scope is required.");
        }

        var existing = await store.TryReserveIdempotencyKeyAsync(new IdempotencyRecord(scope, key, requestHash, null, now), cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            return new IdempotencyDecision(null);
        }

        if (!string.Equals(existing.RequestHash, requestHash, StringComparison.Ordinal))
        {
            throw new IdempotencyConflictException(IdempotencyConflict.DifferentRequest, "This idempotency key was already used with a different request.");
        }

        return existing.Response is { } response
            ? new IdempotencyDecision(response)
            : throw new IdempotencyConflictException(IdempotencyConflict.InProgress, "A request with this idempotency key is still being processed.");
    }
}

/// <summary>
/// The reserved idempotency key of the request being processed, handed explicitly to the write creating an invoice
/// (<see cref="Invoices.CreateInvoiceRequest.Idempotency"/>) so that it stores the key's response in the same
/// transaction (one write fewer per request, and no window in which the invoice exists but the key has no response).
/// The idempotency middleware creates it after reserving the key; an endpoint that creates an invoice registers how to
/// render the response with <see cref="RespondWithInvoice"/>; the repository's invoice insert then completes the key
/// atomically with the insert (a key already completed or released rolls the insert back) and records the stored
/// response in <see cref="Response"/>.
/// </summary>
public sealed class IdempotentCompletion
{
    private Func<Invoices.Invoice, IdempotentResponse>? _invoiceResponse;

    /// <summary>Creates the completion for a reserved key.</summary>
    /// <param name="scope">The caller's scope.</param>
    /// <param name="key">The reserved key.</param>
    public IdempotentCompletion(string scope, string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(scope);
        ArgumentException.ThrowIfNullOrEmpty(key);
        Scope = scope;
        Key = key;
    }

    /// <summary>The caller's scope.</summary>
    public string Scope { get; }

    /// <summary>The reserved key.</summary>
    public string Key { get; }

    /// <summary>The response stored together with the invoice, or null while the key is not completed that way.</summary>
    public IdempotentResponse? Response { get; private set; }

    /// <summary>Registers how the response of the invoice this request creates is rendered (used once).</summary>
    /// <param name="render">Renders the response from the invoice about to be inserted.</param>
    public void RespondWithInvoice(Func<Invoices.Invoice, IdempotentResponse> render)
    {
        ArgumentNullException.ThrowIfNull(render);
        _invoiceResponse = render;
    }

    /// <summary>Takes the registered renderer (null when none, or already taken): only one write completes the key.</summary>
    /// <returns>The renderer, or null.</returns>
    public Func<Invoices.Invoice, IdempotentResponse>? TakeInvoiceResponse() => Interlocked.Exchange(ref _invoiceResponse, null);

    /// <summary>Records that the key was completed with <paramref name="response"/> in the invoice's transaction.</summary>
    /// <param name="response">The stored response.</param>
    public void MarkCompleted(IdempotentResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        Response = response;
    }
}
