using System.Security.Cryptography;
using System.Text;
using NBitcoin.DataEncoders;
using Satflow.Merchant.Accounts;

namespace Satflow.Merchant.ApiKeys;

/// <summary>A stored API key: only the SHA-256 of the secret is kept.</summary>
/// <param name="Id">The key id (public, shown in listings).</param>
/// <param name="UserId">The user the key acts for; its rights never exceed the user's store roles.</param>
/// <param name="Label">Display label.</param>
/// <param name="SecretHash">SHA-256 of the full token, lowercase hex.</param>
/// <param name="Scopes">The permissions the key may use.</param>
/// <param name="StoreId">When set, the key works only for this store.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="RevokedAt">Revocation time, if revoked.</param>
public sealed record ApiKeyRecord(
    ApiKeyId Id,
    UserId UserId,
    string Label,
    string SecretHash,
    IReadOnlySet<Permission> Scopes,
    StoreId? StoreId,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RevokedAt)
{
    /// <summary>Whether the key was revoked.</summary>
    public bool IsRevoked => RevokedAt is not null;

    /// <summary>Whether the key's own restrictions (scope, store, revocation) allow the permission on the store.</summary>
    /// <param name="store">The store acted on.</param>
    /// <param name="permission">The permission needed.</param>
    /// <returns>True when allowed by the key (the user's role must allow it too).</returns>
    public bool Permits(StoreId store, Permission permission)
        => !IsRevoked && Scopes.Contains(permission) && (StoreId is null || StoreId.Value == store);
}

/// <summary>A newly created key: the only time its secret exists in clear.</summary>
/// <param name="Record">What is stored.</param>
/// <param name="Token">The secret token to hand to the user once (<c>sfk_</c> + base58).</param>
public sealed record CreatedApiKey(ApiKeyRecord Record, string Token);

/// <summary>Secret generation, hashing and <c>Authorization</c> header parsing for API keys.</summary>
public static class ApiKeyTokens
{
    /// <summary>Every token starts with this prefix, so leaked keys are recognisable by scanners.</summary>
    public const string Prefix = "sfk_";

    /// <summary>The header scheme: <c>Authorization: token &lt;key&gt;</c>.</summary>
    public const string Scheme = "token";

    private const int SecretBytes = 32;
    private const int MaxTokenLength = 64;

    /// <summary>Creates a key with a random 256-bit secret.</summary>
    /// <param name="userId">The owner.</param>
    /// <param name="label">A label (at most 100 characters).</param>
    /// <param name="scopes">At least one permission.</param>
    /// <param name="storeId">Optional store restriction.</param>
    /// <param name="now">Creation time.</param>
    /// <returns>The record and the one-time token.</returns>
    public static CreatedApiKey Create(UserId userId, string label, IEnumerable<Permission> scopes, StoreId? storeId, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(scopes);
        var set = scopes.ToHashSet();
        if (set.Count == 0)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "An API key needs at least one scope.");
        }

        if (label is null || label.Length > 100)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "An API key label must be at most 100 characters.");
        }

        var token = Prefix + Encoders.Base58.EncodeData(RandomNumberGenerator.GetBytes(SecretBytes));
        var record = new ApiKeyRecord(ApiKeyId.New(), userId, label, HashToken(token), set, storeId, now, null);
        return new CreatedApiKey(record, token);
    }

    /// <summary>SHA-256 of a token, lowercase hex: the lookup key stored in the database.</summary>
    /// <param name="token">The token.</param>
    /// <returns>64 hex characters.</returns>
    public static string HashToken(string token)
        => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token ?? "")));

    /// <summary>Parses an <c>Authorization</c> header value of the form <c>token sfk_...</c>.</summary>
    /// <param name="headerValue">The header value, or null when absent.</param>
    /// <returns>The token.</returns>
    /// <exception cref="ApiKeyAuthenticationException">Missing, wrong scheme or malformed token.</exception>
    public static string ParseAuthorizationHeader(string? headerValue)
    {
        if (string.IsNullOrWhiteSpace(headerValue))
        {
            throw new ApiKeyAuthenticationException(AuthenticationFailure.MissingHeader, "No Authorization header.");
        }

        var value = headerValue.Trim();
        var space = value.IndexOf(' ', StringComparison.Ordinal);
        if (space < 0)
        {
            throw new ApiKeyAuthenticationException(AuthenticationFailure.WrongScheme, "The Authorization header must be 'token <key>'.");
        }

        if (!value.AsSpan(0, space).Equals(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiKeyAuthenticationException(AuthenticationFailure.WrongScheme, "The Authorization scheme must be 'token'.");
        }

        var token = value[(space + 1)..].TrimStart(' ');
        if (!IsWellFormed(token))
        {
            throw new ApiKeyAuthenticationException(AuthenticationFailure.MalformedToken, "The API key is malformed.");
        }

        return token;
    }

    /// <summary>Whether a token has the shape of a Satflow API key (prefix + base58 of the right length).</summary>
    /// <param name="token">The candidate.</param>
    /// <returns>True when well-formed.</returns>
    public static bool IsWellFormed(string? token)
    {
        if (token is null || token.Length <= Prefix.Length || token.Length > MaxTokenLength || !token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var body = token.AsSpan(Prefix.Length);
        foreach (var c in body)
        {
            if (!char.IsAsciiLetterOrDigit(c) || c is '0' or 'O' or 'I' or 'l')
            {
                return false;
            }
        }

        try
        {
            return Encoders.Base58.DecodeData(body.ToString()).Length == SecretBytes;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>Authenticates a header against a key lookup.</summary>
    /// <param name="headerValue">The <c>Authorization</c> header value.</param>
    /// <param name="findByHash">Looks a key up by <see cref="HashToken"/>.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The key.</returns>
    /// <exception cref="ApiKeyAuthenticationException">Any authentication failure.</exception>
    public static async Task<ApiKeyRecord> AuthenticateAsync(string? headerValue, Func<string, CancellationToken, Task<ApiKeyRecord?>> findByHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(findByHash);
        var token = ParseAuthorizationHeader(headerValue);
        var record = await findByHash(HashToken(token), cancellationToken).ConfigureAwait(false)
            ?? throw new ApiKeyAuthenticationException(AuthenticationFailure.UnknownKey, "Unknown API key.");
        if (record.IsRevoked)
        {
            throw new ApiKeyAuthenticationException(AuthenticationFailure.Revoked, "The API key was revoked.");
        }

        return record;
    }
}

/// <summary>Why authentication failed.</summary>
public enum AuthenticationFailure
{
    /// <summary>No header.</summary>
    MissingHeader,
    /// <summary>A scheme other than <c>token</c>, or no scheme.</summary>
    WrongScheme,
    /// <summary>The key does not have the shape of a Satflow key.</summary>
    MalformedToken,
    /// <summary>No such key.</summary>
    UnknownKey,
    /// <summary>The key was revoked.</summary>
    Revoked,
}

/// <summary>A typed authentication failure (HTTP 401).</summary>
public sealed class ApiKeyAuthenticationException : MerchantException
{
    /// <summary>Creates the error.</summary>
    /// <param name="failure">Why.</param>
    /// <param name="message">Explanation.</param>
    public ApiKeyAuthenticationException(AuthenticationFailure failure, string message)
        : base(MerchantErrorReason.Forbidden, message)
    {
        Failure = failure;
    }

    /// <summary>Why authentication failed.</summary>
    public AuthenticationFailure Failure { get; }
}

/// <summary>Who is acting: a logged-in user, or an API key acting for its user.</summary>
/// <param name="UserId">The user.</param>
/// <param name="ApiKey">The key, when authenticated by key.</param>
public sealed record MerchantPrincipal(UserId UserId, ApiKeyRecord? ApiKey)
{
    /// <summary>Whether the principal may use a permission on a store, given the user's role there.</summary>
    /// <param name="store">The store.</param>
    /// <param name="role">The user's role in the store, or null when not a member.</param>
    /// <param name="permission">The permission.</param>
    /// <returns>True when both the role and (if any) the key allow it.</returns>
    public bool IsAllowed(StoreId store, StoreRole? role, Permission permission)
        => role is { } r && r.Grants(permission) && (ApiKey is null || (ApiKey.UserId == UserId && ApiKey.Permits(store, permission)));

    /// <summary>Throws unless <see cref="IsAllowed"/>.</summary>
    /// <param name="store">The store.</param>
    /// <param name="role">The user's role in the store.</param>
    /// <param name="permission">The permission.</param>
    /// <exception cref="MerchantException">Forbidden.</exception>
    public void Demand(StoreId store, StoreRole? role, Permission permission)
    {
        if (!IsAllowed(store, role, permission))
        {
            throw new MerchantException(MerchantErrorReason.Forbidden, $"Permission '{permission.ToScopeName()}' is required on store {store}.");
        }
    }
}
