using Microsoft.Extensions.Time.Testing;

namespace Satflow.Webhooks.Tests;

/// <summary>The per-owner subscription cache of <see cref="SqlWebhookStore"/> and the publisher's no-subscriber path.</summary>
public sealed class SubscriptionCacheTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1764124800123));
    private SqlWebhookStore _store = null!;

    public async Task InitializeAsync() => _store = await SqlWebhookStore.OpenSqliteAsync(_dir.File("wh.db"));

    public async Task DisposeAsync() => await _store.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Create_update_and_delete_through_the_store_are_seen_by_the_next_lookup_at_once()
    {
        // Fill the cache with "nothing subscribes".
        Assert.Empty(await _store.ListSubscriptionsAsync("shop"));
        Assert.Empty(await _store.ListSubscriptionsAsync("shop"));

        var sub = WebhookSubscription.Create("shop", new Uri("http://127.0.0.1:9/hook"), _time, eventTypes: ["invoice.created"]);
        await _store.SaveSubscriptionAsync(sub);
        var listed = Assert.Single(await _store.ListSubscriptionsAsync("shop"));
        Assert.True(listed.Enabled);

        await _store.SaveSubscriptionAsync(sub with { Enabled = false });
        Assert.False(Assert.Single(await _store.ListSubscriptionsAsync("shop")).Enabled);

        await _store.SaveSubscriptionAsync(sub with { Enabled = true, EventTypes = ["payout.*"] });
        Assert.Equal(["payout.*"], Assert.Single(await _store.ListSubscriptionsAsync("shop")).EventTypes);

        // Moving a subscription to another owner changes both owners' lists.
        Assert.Empty(await _store.ListSubscriptionsAsync("other"));
        await _store.SaveSubscriptionAsync(sub with { OwnerId = "other" });
        Assert.Empty(await _store.ListSubscriptionsAsync("shop"));
        Assert.Single(await _store.ListSubscriptionsAsync("other"));

        Assert.True(await _store.DeleteSubscriptionAsync(sub.Id));
        Assert.Empty(await _store.ListSubscriptionsAsync("other"));
    }

    [Fact]
    public async Task The_publisher_enqueues_for_a_subscription_created_after_an_event_found_none()
    {
        var publisher = new WebhookPublisher(_store, _time);
        var enqueued = 0;
        publisher.Enqueued += (_, _) => enqueued++;
        Assert.Empty(await publisher.PublishAsync(WebhookEvent.Create(WebhookEventTypes.InvoiceCreated, "shop", new { n = 1 }, _time)));
        Assert.Equal(0, enqueued);
        Assert.Empty(await _store.ListPendingDeliveriesAsync(10));

        var sub = WebhookSubscription.Create("shop", new Uri("http://127.0.0.1:9/hook"), _time);
        await _store.SaveSubscriptionAsync(sub);
        var delivery = Assert.Single(await publisher.PublishAsync(WebhookEvent.Create(WebhookEventTypes.InvoiceCreated, "shop", new { n = 2 }, _time)));
        Assert.Equal(sub.Id, delivery.SubscriptionId);
        Assert.Equal(1, enqueued);
        Assert.Equal(2, WebhookEvent.Parse(System.Text.Encoding.UTF8.GetBytes(Assert.Single(await _store.ListPendingDeliveriesAsync(10)).Body)).Data.GetProperty("n").GetInt32());

        await _store.DeleteSubscriptionAsync(sub.Id);
        Assert.Empty(await publisher.PublishAsync(WebhookEvent.Create(WebhookEventTypes.InvoiceCreated, "shop", new { n = 3 }, _time)));
        Assert.Equal(1, enqueued);
    }

    [Fact]
    public async Task An_invalid_event_is_refused_even_when_nothing_subscribes()
    {
        var publisher = new WebhookPublisher(_store, _time);
        var bad = WebhookEvent.Create(WebhookEventTypes.InvoiceCreated, "shop", new { n = 1 }, _time) with { Type = "" };
        await Assert.ThrowsAsync<WebhookException>(() => publisher.PublishAsync(bad));
    }
}
