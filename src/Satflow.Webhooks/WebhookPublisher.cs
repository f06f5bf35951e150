using System.Text;

namespace Satflow.Webhooks;

/// <summary>
/// Puts events into the outbox: one <see cref="WebhookDelivery"/> per enabled subscription of the event's owner whose
/// filter selects the event type, persisted in one transaction before <see cref="PublishAsync"/> returns. The
/// <see cref="WebhookDeliveryEngine"/> sends them later, so events survive a restart between publishing and sending.
/// </summary>
public sealed class WebhookPublisher
{
    private readonly IWebhookStore _store;
    private readonly TimeProvider _time;

    /// <summary>Creates the publisher.</summary>
    public WebhookPublisher(IWebhookStore store, TimeProvider time)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Raised after deliveries were persisted (a host can wake its <see cref="WebhookDeliveryRunner"/>).</summary>
    public event EventHandler? Enqueued;

    /// <summary>Persists a delivery for each matching subscription.</summary>
    /// <returns>The deliveries created (none when nothing subscribes).</returns>
    /// <exception cref="WebhookException">An invalid event or a storage failure (then nothing was enqueued).</exception>
    public async Task<IReadOnlyList<WebhookDelivery>> PublishAsync(WebhookEvent webhookEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(webhookEvent);
        webhookEvent.Validate();
        var subscriptions = await _store.ListSubscriptionsAsync(webhookEvent.OwnerId, cancellationToken).ConfigureAwait(false);
        var matching = subscriptions.Where(s => s.Accepts(webhookEvent.Type)).ToArray();
        if (matching.Length == 0)
        {
            // Nothing subscribes (the common case for most events): no body is serialized and nothing is written.
            return [];
        }

        var body = Encoding.UTF8.GetString(webhookEvent.ToJsonBytes());
        var now = _time.GetUtcNow();
        var deliveries = matching
            .Select(s => new WebhookDelivery
            {
                Id = WebhookSubscription.NewId(),
                SubscriptionId = s.Id,
                EventId = webhookEvent.Id,
                EventType = webhookEvent.Type,
                Body = body,
                CreatedAt = now,
            })
            .ToArray();
        if (deliveries.Length > 0)
        {
            await _store.EnqueueAsync(deliveries, cancellationToken).ConfigureAwait(false);
            Enqueued?.Invoke(this, EventArgs.Empty);
        }

        return deliveries;
    }
}
