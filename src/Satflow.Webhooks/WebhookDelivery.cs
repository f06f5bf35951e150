namespace Satflow.Webhooks;

/// <summary>Where a delivery stands.</summary>
public enum WebhookDeliveryStatus
{
    /// <summary>In the outbox: not yet delivered, attempts remain.</summary>
    Pending,

    /// <summary>The endpoint answered 2xx.</summary>
    Delivered,

    /// <summary>Given up: a non-retryable answer, retries exhausted, or the subscription is gone/disabled.</summary>
    Failed,
}

/// <summary>
/// One event destined for one subscription: the outbox row. The body is fixed when the event is published and sent
/// unchanged on every attempt; a redelivery is a new delivery that copies it.
/// </summary>
public sealed record WebhookDelivery
{
    /// <summary>Unique id (sent as the <c>Satflow-Delivery</c> header).</summary>
    public required string Id { get; init; }

    /// <summary>The subscription it goes to.</summary>
    public required string SubscriptionId { get; init; }

    /// <summary>The event's id.</summary>
    public required string EventId { get; init; }

    /// <summary>The event's type.</summary>
    public required string EventType { get; init; }

    /// <summary>The exact JSON body (UTF-8 text) sent.</summary>
    public required string Body { get; init; }

    /// <summary>Where it stands.</summary>
    public WebhookDeliveryStatus Status { get; init; } = WebhookDeliveryStatus.Pending;

    /// <summary>When it entered the outbox.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>How many HTTP attempts were made so far (across restarts).</summary>
    public int AttemptCount { get; init; }

    /// <summary>The last HTTP status received, if any.</summary>
    public int? LastStatusCode { get; init; }

    /// <summary>The last error text (transport error, timeout or status), if any.</summary>
    public string? LastError { get; init; }

    /// <summary>When it reached <see cref="WebhookDeliveryStatus.Delivered"/> or <see cref="WebhookDeliveryStatus.Failed"/>.</summary>
    public DateTimeOffset? CompletedAt { get; init; }

    /// <summary>The delivery this one re-sends, for a redelivery.</summary>
    public string? RedeliveryOf { get; init; }
}

/// <summary>One HTTP attempt of a delivery, as kept in the delivery log.</summary>
public sealed record WebhookDeliveryAttempt
{
    /// <summary>The delivery.</summary>
    public required string DeliveryId { get; init; }

    /// <summary>1 for the first attempt of the delivery, then 2, 3, …</summary>
    public required int Number { get; init; }

    /// <summary>When the request was started.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>How long until the answer or the error.</summary>
    public required TimeSpan Duration { get; init; }

    /// <summary>The HTTP status, when an answer arrived.</summary>
    public int? StatusCode { get; init; }

    /// <summary>The transport error or timeout, when no answer arrived.</summary>
    public string? Error { get; init; }

    /// <summary>The start of the response body (capped by <see cref="WebhookDeliveryOptions.ResponseSnippetLength"/>).</summary>
    public string? ResponseSnippet { get; init; }

    /// <summary>True for a 2xx answer.</summary>
    public bool Succeeded { get; init; }
}
