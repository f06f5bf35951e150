using Microsoft.Extensions.Time.Testing;

namespace Satflow.Webhooks.Tests;

/// <summary>The contract of <see cref="IWebhookStore"/>; each backend supplies fresh stores.</summary>
public abstract class WebhookStoreConformanceTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeMilliseconds(1764124800123));

    protected IWebhookStore Store { get; private set; } = null!;

    protected abstract Task<IWebhookStore> OpenAsync();

    public async Task InitializeAsync() => Store = await OpenAsync();

    public async Task DisposeAsync() => await Store.DisposeAsync();

    private WebhookDelivery Delivery(string subscriptionId, int secondsAfter) => new()
    {
        Id = Guid.NewGuid().ToString("N"),
        SubscriptionId = subscriptionId,
        EventId = "evt" + secondsAfter,
        EventType = WebhookEventTypes.PayoutCompleted,
        Body = "{\"n\":" + secondsAfter + ",\"text\":\"h\u00e9llo\"}",
        CreatedAt = _time.GetUtcNow().AddSeconds(secondsAfter),
    };

    [Fact]
    public async Task Subscriptions_round_trip_update_list_and_delete()
    {
        var a = WebhookSubscription.Create("owner-a", new Uri("https://a.example/x?y=1"), _time, eventTypes: ["invoice.*", "payout.completed"]);
        _time.Advance(TimeSpan.FromSeconds(1));
        var b = WebhookSubscription.Create("owner-a", new Uri("http://127.0.0.1:9/x"), _time);
        await Store.SaveSubscriptionAsync(a);
        await Store.SaveSubscriptionAsync(b);
        await Store.SaveSubscriptionAsync(WebhookSubscription.Create("owner-b", new Uri("https://b.example"), _time));

        var read = await Store.GetSubscriptionAsync(a.Id);
        Assert.NotNull(read);
        Assert.Equal(a.Url, read.Url);
        Assert.Equal(a.Secret, read.Secret);
        Assert.Equal(a.EventTypes, read.EventTypes);
        Assert.Equal(a.CreatedAt, read.CreatedAt);
        Assert.True(read.Enabled);
        Assert.Equal([a.Id, b.Id], (await Store.ListSubscriptionsAsync("owner-a")).Select(s => s.Id));

        await Store.SaveSubscriptionAsync(a with { Enabled = false, Url = new Uri("https://c.example/") });
        var updated = (await Store.GetSubscriptionAsync(a.Id))!;
        Assert.False(updated.Enabled);
        Assert.Equal("https://c.example/", updated.Url.AbsoluteUri);

        Assert.True(await Store.DeleteSubscriptionAsync(a.Id));
        Assert.False(await Store.DeleteSubscriptionAsync(a.Id));
        Assert.Null(await Store.GetSubscriptionAsync(a.Id));
        Assert.Empty(await Store.ListSubscriptionsAsync("nobody"));
    }

    [Fact]
    public async Task Invalid_subscriptions_are_not_stored()
    {
        var bad = WebhookSubscription.Create("o", new Uri("https://a.example"), _time) with { Url = new Uri("http://example.com") };
        await Assert.ThrowsAsync<WebhookException>(() => Store.SaveSubscriptionAsync(bad));
        Assert.Null(await Store.GetSubscriptionAsync(bad.Id));
    }

    [Fact]
    public async Task Outbox_orders_pending_and_lists_newest_first_per_subscription()
    {
        var d1 = Delivery("s1", 1);
        var d2 = Delivery("s1", 2);
        var d3 = Delivery("s2", 3);
        await Store.EnqueueAsync([d2, d1]);
        await Store.EnqueueAsync([d3]);

        Assert.Equal([d1.Id, d2.Id, d3.Id], (await Store.ListPendingDeliveriesAsync(10)).Select(d => d.Id));
        Assert.Equal([d1.Id], (await Store.ListPendingDeliveriesAsync(1)).Select(d => d.Id));
        Assert.Equal([d2.Id, d1.Id], (await Store.ListDeliveriesAsync("s1", 10)).Select(d => d.Id));
        var read = (await Store.GetDeliveryAsync(d1.Id))!;
        Assert.Equal(d1, read);
    }

    [Fact]
    public async Task A_duplicate_in_a_batch_enqueues_nothing()
    {
        var d1 = Delivery("s1", 1);
        await Store.EnqueueAsync([d1]);
        var fresh = Delivery("s1", 2);
        var error = await Assert.ThrowsAsync<WebhookException>(() => Store.EnqueueAsync([fresh, d1]));
        Assert.Equal(WebhookErrorReason.StorageFailure, error.Reason);
        Assert.Null(await Store.GetDeliveryAsync(fresh.Id));
    }

    [Fact]
    public async Task Attempts_and_delivery_state_are_recorded_together()
    {
        var d = Delivery("s1", 1);
        await Store.EnqueueAsync([d]);
        var a1 = new WebhookDeliveryAttempt
        {
            DeliveryId = d.Id, Number = 1, StartedAt = _time.GetUtcNow(), Duration = TimeSpan.FromMilliseconds(12.345),
            Error = "network error: refused",
        };
        await Store.RecordAttemptAsync(a1, d with { AttemptCount = 1, LastError = a1.Error });
        var a2 = new WebhookDeliveryAttempt
        {
            DeliveryId = d.Id, Number = 2, StartedAt = _time.GetUtcNow().AddSeconds(2), Duration = TimeSpan.FromSeconds(1),
            StatusCode = 204, ResponseSnippet = "", Succeeded = true,
        };
        var done = d with { AttemptCount = 2, LastStatusCode = 204, Status = WebhookDeliveryStatus.Delivered, CompletedAt = _time.GetUtcNow().AddSeconds(3) };
        await Store.RecordAttemptAsync(a2, done);

        Assert.Equal([a1, a2], await Store.ListAttemptsAsync(d.Id));
        Assert.Equal(done, await Store.GetDeliveryAsync(d.Id));
        Assert.Empty(await Store.ListPendingDeliveriesAsync(10));

        // A duplicate attempt number rolls back the delivery update too.
        await Assert.ThrowsAsync<WebhookException>(() => Store.RecordAttemptAsync(a2, done with { Status = WebhookDeliveryStatus.Failed }));
        Assert.Equal(WebhookDeliveryStatus.Delivered, (await Store.GetDeliveryAsync(d.Id))!.Status);

        var missing = await Assert.ThrowsAsync<WebhookException>(() => Store.UpdateDeliveryAsync(Delivery("s9", 9)));
        Assert.Equal(WebhookErrorReason.NotFound, missing.Reason);
    }
}

public sealed class SqliteWebhookStoreTests : WebhookStoreConformanceTests, IDisposable
{
    private readonly TempDirectory _dir = new();

    protected override async Task<IWebhookStore> OpenAsync() => await SqlWebhookStore.OpenSqliteAsync(_dir.File("wh.db"));

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Reopening_keeps_data_and_a_newer_schema_is_refused()
    {
        var file = _dir.File("reopen.db");
        await using (var first = await SqlWebhookStore.OpenSqliteAsync(file))
        {
            await first.SaveSubscriptionAsync(WebhookSubscription.Create("o", new Uri("https://a.example"), TimeProvider.System));
        }

        await using (var reopened = await SqlWebhookStore.OpenSqliteAsync(file))
        {
            Assert.Single(await reopened.ListSubscriptionsAsync("o"));
        }

        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + file + ";Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO satflow_schema_migrations (component, version) VALUES ('webhooks', 99)";
            await command.ExecuteNonQueryAsync();
        }

        var error = await Assert.ThrowsAsync<WebhookException>(() => SqlWebhookStore.OpenSqliteAsync(file));
        Assert.Equal(WebhookErrorReason.UnsupportedSchemaVersion, error.Reason);
    }

    [Fact]
    public async Task Bad_paths_are_typed_errors()
    {
        Assert.Equal(WebhookErrorReason.InvalidConfiguration, (await Assert.ThrowsAsync<WebhookException>(() => SqlWebhookStore.OpenSqliteAsync(""))).Reason);
        Assert.Equal(WebhookErrorReason.StorageFailure, (await Assert.ThrowsAsync<WebhookException>(() => SqlWebhookStore.OpenSqliteAsync("/proc/satflow/x.db"))).Reason);
    }
}

public sealed class PostgresWebhookStoreTests(PostgresServerFixture server) : WebhookStoreConformanceTests, IClassFixture<PostgresServerFixture>
{
    protected override async Task<IWebhookStore> OpenAsync()
    {
        // A schema per test keeps tests independent.
        var schema = server.Schema + "_" + Guid.NewGuid().ToString("N")[..8];
        return await SqlWebhookStore.OpenPostgresAsync(server.ConnectionString, schema);
    }

    [Fact]
    public async Task Migrations_are_recorded_once_and_a_bad_schema_name_is_refused()
    {
        var schema = server.Schema + "_m";
        await (await SqlWebhookStore.OpenPostgresAsync(server.ConnectionString, schema)).DisposeAsync();
        await (await SqlWebhookStore.OpenPostgresAsync(server.ConnectionString, schema)).DisposeAsync();
        await using var command = server.DataSource.CreateCommand($"SELECT count(*) FROM \"{schema}\".satflow_schema_migrations WHERE component = 'webhooks'");
        Assert.Equal((long)SqlWebhookStore.CurrentSchemaVersion, await command.ExecuteScalarAsync());
        var error = await Assert.ThrowsAsync<WebhookException>(() => SqlWebhookStore.OpenPostgresAsync(server.ConnectionString, "Bad-Name"));
        Assert.Equal(WebhookErrorReason.InvalidConfiguration, error.Reason);
    }

    [Fact]
    public async Task An_unreachable_server_is_a_storage_failure()
    {
        var error = await Assert.ThrowsAsync<WebhookException>(() =>
            SqlWebhookStore.OpenPostgresAsync("Host=127.0.0.1;Port=1;Username=postgres;Database=postgres;Timeout=3", "x"));
        Assert.Equal(WebhookErrorReason.StorageFailure, error.Reason);
    }
}
