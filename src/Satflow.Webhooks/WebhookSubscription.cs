using System.Net;
using System.Security.Cryptography;

namespace Satflow.Webhooks;

/// <summary>
/// Where a store's (or any owner's) events are delivered: an endpoint URL, the secret that signs every request, an
/// event filter (empty means every event) and whether it is enabled.
/// </summary>
public sealed record WebhookSubscription
{
    /// <summary>The shortest accepted signing secret, in characters.</summary>
    public const int MinimumSecretLength = 16;

    /// <summary>Unique id.</summary>
    public required string Id { get; init; }

    /// <summary>The store (or other owner) whose events this receives.</summary>
    public required string OwnerId { get; init; }

    /// <summary>The endpoint; https, or http on a loopback host only.</summary>
    public required Uri Url { get; init; }

    /// <summary>The HMAC-SHA256 key for <see cref="WebhookSignature"/>.</summary>
    public required string Secret { get; init; }

    /// <summary>Event filters (a type, <c>prefix.*</c> or <c>*</c>); empty selects every event.</summary>
    public IReadOnlyList<string> EventTypes { get; init; } = [];

    /// <summary>Disabled subscriptions receive nothing new.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Creates a validated subscription with a fresh id (and a fresh 32-byte hex secret when none is given).</summary>
    /// <exception cref="WebhookException">Bad owner, URL, secret or filter.</exception>
    public static WebhookSubscription Create(string ownerId, Uri url, TimeProvider time, string? secret = null, IEnumerable<string>? eventTypes = null)
    {
        ArgumentNullException.ThrowIfNull(time);
        var subscription = new WebhookSubscription
        {
            Id = NewId(),
            OwnerId = ownerId,
            Url = url,
            Secret = secret ?? Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            EventTypes = eventTypes?.ToArray() ?? [],
            CreatedAt = time.GetUtcNow(),
        };
        subscription.Validate();
        return subscription;
    }

    /// <summary>A random 128-bit id in lower-case hex.</summary>
    internal static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>Checks every field.</summary>
    /// <exception cref="WebhookException">The first broken rule.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Id) || Id.Length > 64)
        {
            throw new WebhookException(WebhookErrorReason.InvalidArgument, "A subscription needs an id of at most 64 characters.");
        }

        if (string.IsNullOrWhiteSpace(OwnerId) || OwnerId.Length > 128)
        {
            throw new WebhookException(WebhookErrorReason.InvalidArgument, "A subscription needs an owner id of at most 128 characters.");
        }

        ValidateUrl(Url);
        if (Secret is null || Secret.Length < MinimumSecretLength || Secret.Length > 256)
        {
            throw new WebhookException(WebhookErrorReason.InvalidSecret, $"The signing secret must be {MinimumSecretLength} to 256 characters.");
        }

        foreach (var filter in EventTypes ?? throw new WebhookException(WebhookErrorReason.InvalidEventType, "The event filter list is null."))
        {
            if (!WebhookEventTypes.IsValidFilter(filter))
            {
                throw new WebhookException(WebhookErrorReason.InvalidEventType, $"'{filter}' is not an event type, 'prefix.*' or '*'.");
            }
        }
    }

    /// <summary>True when this subscription is enabled and its filter selects <paramref name="eventType"/>.</summary>
    public bool Accepts(string eventType) =>
        Enabled && (EventTypes.Count == 0 || EventTypes.Any(f => WebhookEventTypes.Matches(f, eventType)));

    /// <summary>
    /// Accepts absolute https URLs, and http only when the host is a loopback address or <c>localhost</c>
    /// (for development and tests). No user info, no fragments.
    /// </summary>
    /// <exception cref="WebhookException">With <see cref="WebhookErrorReason.InvalidUrl"/>.</exception>
    public static void ValidateUrl(Uri? url)
    {
        if (url is null || !url.IsAbsoluteUri)
        {
            throw new WebhookException(WebhookErrorReason.InvalidUrl, "The webhook URL must be absolute.");
        }

        if (!string.IsNullOrEmpty(url.UserInfo) || !string.IsNullOrEmpty(url.Fragment))
        {
            throw new WebhookException(WebhookErrorReason.InvalidUrl, "The webhook URL must not carry credentials or a fragment.");
        }

        if (string.IsNullOrEmpty(url.Host))
        {
            throw new WebhookException(WebhookErrorReason.InvalidUrl, "The webhook URL needs a host.");
        }

        if (url.Scheme == Uri.UriSchemeHttps)
        {
            return;
        }

        if (url.Scheme == Uri.UriSchemeHttp && IsLoopback(url))
        {
            return;
        }

        throw new WebhookException(WebhookErrorReason.InvalidUrl, $"The webhook URL must use https (http is allowed only on a loopback host): '{url}'.");
    }

    private static bool IsLoopback(Uri url) =>
        url.IsLoopback || (IPAddress.TryParse(url.DnsSafeHost, out var address) && IPAddress.IsLoopback(address));
}
