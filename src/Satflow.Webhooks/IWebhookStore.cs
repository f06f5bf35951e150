namespace Satflow.Webhooks;

/// <summary>
/// Durable storage for subscriptions, the outbox of deliveries and the delivery log. Implementations:
/// <see cref="SqlWebhookStore"/> on SQLite or PostgreSQL. Every method is atomic; failures throw
/// <see cref="WebhookException"/> (<see cref="WebhookErrorReason.StorageFailure"/>).
/// </summary>
public interface IWebhookStore : IAsyncDisposable
{
    /// <summary>Inserts or replaces a subscription.</summary>
    Task SaveSubscriptionAsync(WebhookSubscription subscription, CancellationToken cancellationToken = default);

    /// <summary>The subscription, or null.</summary>
    Task<WebhookSubscription?> GetSubscriptionAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>An owner's subscriptions, oldest first.</summary>
    Task<IReadOnlyList<WebhookSubscription>> ListSubscriptionsAsync(string ownerId, CancellationToken cancellationToken = default);

    /// <summary>Deletes a subscription (its deliveries stay in the log); false when it did not exist.</summary>
    Task<bool> DeleteSubscriptionAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Adds deliveries to the outbox, all or none.</summary>
    Task EnqueueAsync(IReadOnlyList<WebhookDelivery> deliveries, CancellationToken cancellationToken = default);

    /// <summary>The delivery, or null.</summary>
    Task<WebhookDelivery?> GetDeliveryAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>A subscription's deliveries, newest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<WebhookDelivery>> ListDeliveriesAsync(string subscriptionId, int limit, CancellationToken cancellationToken = default);

    /// <summary>Pending deliveries, oldest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<WebhookDelivery>> ListPendingDeliveriesAsync(int limit, CancellationToken cancellationToken = default);

    /// <summary>Appends an attempt to the log and stores the delivery's new state, in one transaction.</summary>
    Task RecordAttemptAsync(WebhookDeliveryAttempt attempt, WebhookDelivery delivery, CancellationToken cancellationToken = default);

    /// <summary>Stores a delivery's new state without an attempt (e.g. failed because its subscription is gone).</summary>
    Task UpdateDeliveryAsync(WebhookDelivery delivery, CancellationToken cancellationToken = default);

    /// <summary>A delivery's attempts in order.</summary>
    Task<IReadOnlyList<WebhookDeliveryAttempt>> ListAttemptsAsync(string deliveryId, CancellationToken cancellationToken = default);
}
