using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Idempotency;
using Satflow.Merchant.Rates;
using Satflow.Payouts;
using Satflow.Webhooks;

namespace Satflow.Server.Api;

/// <summary>
/// What an API endpoint requires. Every endpoint under <c>/api/v1/</c> carries one (the tests enumerate the endpoints
/// and fail for one without it). <see cref="Permission"/> null means "any valid key" (the caller's own API keys).
/// </summary>
/// <param name="Permission">The scope, or null for any authenticated key.</param>
/// <param name="StoreScoped">True when the scope is checked on the <c>{storeId}</c> route value together with the user's store role; false when the key itself must hold the scope.</param>
public sealed record ApiScope(Permission? Permission, bool StoreScoped);

/// <summary>The authenticated caller of an API request.</summary>
public static class ApiPrincipal
{
    /// <summary>The principal of the request (set by <see cref="ApiAuthenticationMiddleware"/>).</summary>
    /// <param name="context">The request.</param>
    /// <returns>The principal.</returns>
    public static MerchantPrincipal Of(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Items[typeof(MerchantPrincipal)] as MerchantPrincipal
            ?? throw new MerchantException(MerchantErrorReason.Forbidden, "The request is not authenticated.");
    }
}

/// <summary>Writes RFC 9457 problem documents for the typed domain errors.</summary>
public static class ApiProblems
{
    /// <summary>Writes a problem response.</summary>
    /// <param name="context">The request.</param>
    /// <param name="status">HTTP status.</param>
    /// <param name="title">Short title.</param>
    /// <param name="detail">Detail.</param>
    /// <param name="code">A machine-readable reason (the typed error's enum value).</param>
    /// <returns>A task.</returns>
    public static Task WriteAsync(HttpContext context, int status, string title, string detail, string code)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail, Type = "https://satflow.dev/problems/" + code };
        problem.Extensions["code"] = code;
        return context.Response.WriteAsync(JsonSerializer.Serialize(problem, ApiJson.Options));
    }

    /// <summary>Maps a typed error to a status, or null when the exception is not a client-facing domain error.</summary>
    /// <param name="e">The exception.</param>
    /// <returns>(status, title, code) or null.</returns>
    public static (int Status, string Title, string Code)? Map(Exception e) => e switch
    {
        ApiKeyAuthenticationException a => (401, "Unauthorized", a.Failure.ToString()),
        IdempotencyConflictException i => i.Conflict switch
        {
            IdempotencyConflict.InvalidKey => (400, "Invalid idempotency key", i.Conflict.ToString()),
            IdempotencyConflict.InProgress => (409, "Request in progress", i.Conflict.ToString()),
            _ => (422, "Idempotency key reused", i.Conflict.ToString()),
        },
        RateRuleParseException r => (422, "Invalid rate rules", r.Error.ToString()),
        RateEvaluationException r => (422, "Rate unavailable", r.Error.ToString()),
        MerchantException m => m.Reason switch
        {
            MerchantErrorReason.NotFound => (404, "Not found", m.Reason.ToString()),
            MerchantErrorReason.Forbidden => (403, "Forbidden", m.Reason.ToString()),
            MerchantErrorReason.AlreadyExists => (409, "Conflict", m.Reason.ToString()),
            MerchantErrorReason.ConcurrencyConflict => (409, "Conflict", m.Reason.ToString()),
            MerchantErrorReason.InvalidState => (409, "Invalid state", m.Reason.ToString()),
            MerchantErrorReason.PaymentMethodUnavailable => (422, "Payment method unavailable", m.Reason.ToString()),
            MerchantErrorReason.InvalidArgument or MerchantErrorReason.AmountOverflow or MerchantErrorReason.InvalidPasswordHash => (400, "Invalid request", m.Reason.ToString()),
            _ => null,
        },
        WebhookException w => w.Reason switch
        {
            WebhookErrorReason.StorageFailure or WebhookErrorReason.UnsupportedSchemaVersion => null,
            WebhookErrorReason.NotFound => (404, "Not found", w.Reason.ToString()),
            _ => (400, "Invalid webhook request", w.Reason.ToString()),
        },
        PayoutsException p => p.Reason switch
        {
            PayoutsErrorReason.NotFound => (404, "Not found", p.Reason.ToString()),
            PayoutsErrorReason.InvalidArgument or PayoutsErrorReason.InvalidDestination => (400, "Invalid request", p.Reason.ToString()),
            PayoutsErrorReason.InvalidState or PayoutsErrorReason.Conflict => (409, "Conflict", p.Reason.ToString()),
            PayoutsErrorReason.NotActive or PayoutsErrorReason.LimitExceeded => (422, "Claim refused", p.Reason.ToString()),
            _ => null,
        },
        JsonException or BadHttpRequestException => (400, "Invalid request body", "InvalidJson"),
        _ => null,
    };
}

/// <summary>Turns typed domain errors thrown by API endpoints into problem responses (unexpected errors stay 500).</summary>
public sealed class ApiErrorMiddleware(RequestDelegate next)
{
    /// <summary>Runs the middleware.</summary>
    /// <param name="context">The request.</param>
    /// <returns>A task.</returns>
    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception e) when (!context.Response.HasStarted && ApiProblems.Map(e) is { } p)
        {
            await ApiProblems.WriteAsync(context, p.Status, p.Title, e.Message, p.Code).ConfigureAwait(false);
        }
    }
}

/// <summary>Authenticates every <c>/api/v1/</c> request by its <c>Authorization: token &lt;key&gt;</c> header (401 otherwise).</summary>
public sealed class ApiAuthenticationMiddleware(RequestDelegate next)
{
    /// <summary>Runs the middleware.</summary>
    /// <param name="context">The request.</param>
    /// <param name="merchant">The merchant service.</param>
    /// <returns>A task.</returns>
    public async Task InvokeAsync(HttpContext context, MerchantService merchant)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(merchant);
        MerchantPrincipal principal;
        try
        {
            principal = await merchant.AuthenticateAsync(context.Request.Headers.Authorization.ToString() is { Length: > 0 } h ? h : null, context.RequestAborted).ConfigureAwait(false);
        }
        catch (ApiKeyAuthenticationException e)
        {
            context.Response.Headers.WWWAuthenticate = "token";
            await ApiProblems.WriteAsync(context, 401, "Unauthorized", e.Message, e.Failure.ToString()).ConfigureAwait(false);
            return;
        }

        context.Items[typeof(MerchantPrincipal)] = principal;
        await next(context).ConfigureAwait(false);
    }
}

/// <summary>
/// Honours <c>Idempotency-Key</c> on every API POST (required there): the same key and request replay the stored
/// response; the same key with another request is refused; a failed (5xx or thrown) request releases the key.
/// </summary>
public sealed class IdempotencyMiddleware(RequestDelegate next)
{
    /// <summary>The request header.</summary>
    public const string HeaderName = "Idempotency-Key";

    /// <summary>The response header set on a replayed response.</summary>
    public const string ReplayHeader = "Idempotent-Replayed";

    private const int MaxBody = 1 << 20;

    /// <summary>Runs the middleware.</summary>
    /// <param name="context">The request.</param>
    /// <param name="merchant">The repository (idempotency store).</param>
    /// <param name="time">The clock.</param>
    /// <returns>A task.</returns>
    public async Task InvokeAsync(HttpContext context, Merchant.Persistence.IMerchantRepository merchant, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(merchant);
        ArgumentNullException.ThrowIfNull(time);
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var key = context.Request.Headers[HeaderName].ToString();
        if (key.Length == 0)
        {
            await ApiProblems.WriteAsync(context, 400, "Idempotency key required", $"Every POST needs an {HeaderName} header.", "MissingIdempotencyKey").ConfigureAwait(false);
            return;
        }

        var principal = ApiPrincipal.Of(context);
        var scope = principal.ApiKey is { } k ? IdempotencyKeys.ScopeOf(k.Id) : IdempotencyKeys.ScopeOf(principal.UserId);
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            await ApiProblems.WriteAsync(context, 413, "Request too large", $"Request bodies are limited to {MaxBody} bytes.", "BodyTooLarge").ConfigureAwait(false);
            return;
        }

        var hash = IdempotencyKeys.HashRequest(context.Request.Method, context.Request.Path + context.Request.QueryString, body);
        IdempotencyDecision decision;
        try
        {
            decision = await IdempotencyKeys.BeginAsync(merchant, scope, key, hash, time.GetUtcNow(), context.RequestAborted).ConfigureAwait(false);
        }
        catch (IdempotencyConflictException e)
        {
            var p = ApiProblems.Map(e)!.Value;
            await ApiProblems.WriteAsync(context, p.Status, p.Title, e.Message, p.Code).ConfigureAwait(false);
            return;
        }

        if (decision.Replay is { } replay)
        {
            context.Response.StatusCode = replay.StatusCode;
            context.Response.ContentType = replay.ContentType;
            context.Response.Headers[ReplayHeader] = "true";
            await context.Response.Body.WriteAsync(replay.Body, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        context.Request.Body = new MemoryStream(body, writable: false);
        var original = context.Response.Body;
        using var captured = new MemoryStream();
        context.Response.Body = captured;
        var completed = false;
        var completion = new IdempotentCompletion(scope, key);
        context.Features.Set(completion);
        try
        {
            await next(context).ConfigureAwait(false);
            if (completion.Response is not null)
            {
                // Completed in the same transaction as the invoice the request created: nothing left to write.
                completed = true;
            }
            else if (context.Response.StatusCode < 500)
            {
                await merchant.CompleteIdempotencyKeyAsync(scope, key,
                    new IdempotentResponse(context.Response.StatusCode, context.Response.ContentType ?? "application/json", captured.ToArray()), CancellationToken.None).ConfigureAwait(false);
                completed = true;
            }
        }
        finally
        {
            context.Features.Set<IdempotentCompletion?>(null);
            context.Response.Body = original;
            if (!completed && completion.Response is null)
            {
                await merchant.ReleaseIdempotencyKeyAsync(scope, key, CancellationToken.None).ConfigureAwait(false);
            }
        }

        await original.WriteAsync(captured.GetBuffer().AsMemory(0, (int)captured.Length), context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpContext context)
    {
        // Small bodies (an invoice request is ~100 bytes) are read into one pooled buffer: no per-request 8 KB chunk.
        var declared = context.Request.ContentLength;
        if (declared > MaxBody)
        {
            return null;
        }

        using var buffer = new MemoryStream(declared is > 0 and <= 64 * 1024 ? (int)declared + 1 : 256);
        var chunk = System.Buffers.ArrayPool<byte>.Shared.Rent(8192);
        try
        {
            int n;
            while ((n = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + n > MaxBody)
                {
                    return null;
                }

                buffer.Write(chunk, 0, n);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }
}

/// <summary>The endpoint filter enforcing <see cref="ApiScope"/> (403 without it).</summary>
public static class ApiScopeFilter
{
    /// <summary>Checks the endpoint's scope for the request's principal.</summary>
    /// <param name="context">The invocation.</param>
    /// <param name="next">The handler.</param>
    /// <returns>The handler's result.</returns>
    public static async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        var scope = http.GetEndpoint()?.Metadata.GetMetadata<ApiScope>()
            ?? throw new MerchantException(MerchantErrorReason.Forbidden, "This endpoint declares no scope.");
        var principal = ApiPrincipal.Of(http);
        if (scope.Permission is { } permission)
        {
            if (scope.StoreScoped)
            {
                var storeId = new StoreId(http.Request.RouteValues["storeId"] as string ?? "");
                var merchant = http.RequestServices.GetRequiredService<MerchantService>();
                await merchant.AuthorizeAsync(principal, storeId, permission, http.RequestAborted).ConfigureAwait(false);
            }
            else if (principal.ApiKey is { } key && !key.Scopes.Contains(permission))
            {
                throw new MerchantException(MerchantErrorReason.Forbidden, $"The API key lacks the '{permission.ToScopeName()}' scope.");
            }
        }

        return await next(context).ConfigureAwait(false);
    }
}
