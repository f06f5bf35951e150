using System.Text;

namespace Satflow.Webhooks.Tests;

public sealed class DeliveryEngineTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };
    private SqlWebhookStore _store = null!;

    private static WebhookDeliveryOptions FastOptions => new()
    {
        MaxAttempts = 4,
        BaseDelay = TimeSpan.FromMilliseconds(10),
        MaxDelay = TimeSpan.FromMilliseconds(40),
        AttemptTimeout = TimeSpan.FromSeconds(5),
        ResponseSnippetLength = 16,
    };

    public async Task InitializeAsync() => _store = await SqlWebhookStore.OpenSqliteAsync(_dir.File("webhooks.db"));

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _http.Dispose();
        _dir.Dispose();
    }

    private async Task<(WebhookSubscription Subscription, WebhookDelivery Delivery)> PublishAsync(Uri url, string type = WebhookEventTypes.InvoiceSettled)
    {
        var subscription = WebhookSubscription.Create("store1", url, TimeProvider.System);
        await _store.SaveSubscriptionAsync(subscription);
        var publisher = new WebhookPublisher(_store, TimeProvider.System);
        var deliveries = await publisher.PublishAsync(WebhookEvent.Create(type, "store1", new { InvoiceId = "inv1" }, TimeProvider.System));
        return (subscription, Assert.Single(deliveries));
    }

    private WebhookDeliveryEngine Engine(WebhookDeliveryOptions? options = null) => new(_store, _http, TimeProvider.System, options ?? FastOptions);

    [Theory]
    [InlineData(500)]
    [InlineData(503)]
    [InlineData(408)]
    [InlineData(429)]
    public async Task Retryable_statuses_are_retried_until_success(int status)
    {
        await using var server = new ScriptedServer(new ScriptedAnswer(status, Body: "busy"), new ScriptedAnswer(status), new ScriptedAnswer(200, Body: "thanks"));
        var (_, delivery) = await PublishAsync(server.Url);

        var final = await Engine().DeliverAsync(delivery.Id);

        Assert.Equal(WebhookDeliveryStatus.Delivered, final.Status);
        Assert.Equal(3, final.AttemptCount);
        Assert.Equal(200, final.LastStatusCode);
        Assert.NotNull(final.CompletedAt);
        var log = await _store.ListAttemptsAsync(delivery.Id);
        Assert.Equal([1, 2, 3], log.Select(a => a.Number));
        Assert.Equal([status, status, 200], log.Select(a => a.StatusCode ?? 0));
        Assert.Equal([false, false, true], log.Select(a => a.Succeeded));
        Assert.Equal("busy", log[0].ResponseSnippet);
        Assert.Equal($"HTTP {status}", log[0].Error);
        Assert.Equal("thanks", log[2].ResponseSnippet);
        Assert.All(log, a => Assert.True(a.Duration >= TimeSpan.Zero));
        Assert.Equal(3, server.Requests.Count);
        Assert.Equal(WebhookDeliveryStatus.Delivered, (await _store.GetDeliveryAsync(delivery.Id))!.Status);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(401)]
    [InlineData(404)]
    [InlineData(410)]
    public async Task Other_client_errors_are_not_retried(int status)
    {
        await using var server = new ScriptedServer(new ScriptedAnswer(status, Body: "nope"));
        var (_, delivery) = await PublishAsync(server.Url);

        var final = await Engine().DeliverAsync(delivery.Id);

        Assert.Equal(WebhookDeliveryStatus.Failed, final.Status);
        Assert.Equal(1, final.AttemptCount);
        Assert.Equal(status, final.LastStatusCode);
        Assert.Single(server.Requests);
        Assert.Single(await _store.ListAttemptsAsync(delivery.Id));
    }

    [Fact]
    public async Task Retries_stop_after_max_attempts()
    {
        await using var server = new ScriptedServer(Enumerable.Repeat(new ScriptedAnswer(500), 10).ToArray());
        var (_, delivery) = await PublishAsync(server.Url);

        var final = await Engine().DeliverAsync(delivery.Id);

        Assert.Equal(WebhookDeliveryStatus.Failed, final.Status);
        Assert.Equal(4, final.AttemptCount);
        Assert.Equal(4, server.Requests.Count);
        Assert.Equal(4, (await _store.ListAttemptsAsync(delivery.Id)).Count);
    }

    [Fact]
    public async Task Request_is_signed_and_carries_the_stored_body_and_headers()
    {
        await using var server = new ScriptedServer();
        var (subscription, delivery) = await PublishAsync(server.Url);

        await Engine().DeliverAsync(delivery.Id);

        var request = Assert.Single(server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/hook", request.Path);
        Assert.Equal(delivery.Body, Encoding.UTF8.GetString(request.Body));
        Assert.StartsWith("application/json", request.Headers["Content-Type"], StringComparison.Ordinal);
        Assert.Equal("invoice.settled", request.Headers[WebhookDeliveryEngine.EventHeader]);
        Assert.Equal(delivery.EventId, request.Headers[WebhookDeliveryEngine.EventIdHeader]);
        Assert.Equal(delivery.Id, request.Headers[WebhookDeliveryEngine.DeliveryHeader]);
        Assert.True(WebhookSignature.Verify(subscription.Secret, request.Headers[WebhookSignature.HeaderName], request.Body, WebhookSignature.DefaultTolerance, DateTimeOffset.UtcNow, out var failure), failure.ToString());
        var parsed = WebhookEvent.Parse(request.Body);
        Assert.Equal("inv1", parsed.Data.GetProperty("invoiceId").GetString());
    }

    [Fact]
    public async Task Response_snippet_is_capped()
    {
        await using var server = new ScriptedServer(new ScriptedAnswer(200, Body: new string('x', 5000)));
        var (_, delivery) = await PublishAsync(server.Url);
        await Engine().DeliverAsync(delivery.Id);
        Assert.Equal(new string('x', 16), Assert.Single(await _store.ListAttemptsAsync(delivery.Id)).ResponseSnippet);
    }

    [Fact]
    public async Task Timeouts_are_logged_and_retried()
    {
        await using var server = new ScriptedServer(new ScriptedAnswer(200, TimeSpan.FromSeconds(3)), new ScriptedAnswer(200, Body: "ok"));
        var (_, delivery) = await PublishAsync(server.Url);

        var final = await Engine(FastOptions with { AttemptTimeout = TimeSpan.FromMilliseconds(300) }).DeliverAsync(delivery.Id);

        Assert.Equal(WebhookDeliveryStatus.Delivered, final.Status);
        var log = await _store.ListAttemptsAsync(delivery.Id);
        // The retry answers at once, but on a loaded machine it may still miss the 300 ms budget and be retried again:
        // every attempt before the last timed out, the last one got the 200.
        Assert.InRange(log.Count, 2, 4);
        Assert.All(log.Take(log.Count - 1), attempt =>
        {
            Assert.Null(attempt.StatusCode);
            Assert.StartsWith("timed out", attempt.Error, StringComparison.Ordinal);
            Assert.True(attempt.Duration >= TimeSpan.FromMilliseconds(250));
        });
        Assert.Equal(200, log[^1].StatusCode);
    }

    [Fact]
    public async Task Network_errors_are_logged_and_retried()
    {
        var closed = new Uri($"http://127.0.0.1:{ScriptedServer.FreePort()}/hook");
        var (_, delivery) = await PublishAsync(closed);

        var final = await Engine().DeliverAsync(delivery.Id);

        Assert.Equal(WebhookDeliveryStatus.Failed, final.Status);
        var log = await _store.ListAttemptsAsync(delivery.Id);
        Assert.Equal(4, log.Count);
        Assert.All(log, a =>
        {
            Assert.Null(a.StatusCode);
            Assert.StartsWith("network error", a.Error, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Redelivery_sends_the_same_body_as_a_new_linked_delivery()
    {
        await using var server = new ScriptedServer(new ScriptedAnswer(400));
        var (_, delivery) = await PublishAsync(server.Url);
        var engine = Engine();
        Assert.Equal(WebhookDeliveryStatus.Failed, (await engine.DeliverAsync(delivery.Id)).Status);

        var again = await engine.RedeliverAsync(delivery.Id);

        Assert.NotEqual(delivery.Id, again.Id);
        Assert.Equal(delivery.Id, again.RedeliveryOf);
        Assert.Equal(WebhookDeliveryStatus.Delivered, again.Status);
        Assert.Equal(delivery.Body, again.Body);
        var requests = server.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.Equal(requests[0].Body, requests[1].Body);
        Assert.Equal(again.Id, requests[1].Headers[WebhookDeliveryEngine.DeliveryHeader]);
        var listed = await _store.ListDeliveriesAsync(delivery.SubscriptionId, 10);
        Assert.Equal(2, listed.Count);
        Assert.Equal(WebhookDeliveryStatus.Failed, (await _store.GetDeliveryAsync(delivery.Id))!.Status);
        await Assert.ThrowsAsync<WebhookException>(() => engine.RedeliverAsync("missing"));
    }

    [Fact]
    public async Task Deliveries_to_disabled_or_deleted_subscriptions_fail_without_a_request()
    {
        await using var server = new ScriptedServer();
        var (subscription, delivery) = await PublishAsync(server.Url);
        await _store.SaveSubscriptionAsync(subscription with { Enabled = false });
        var final = await Engine().DeliverAsync(delivery.Id);
        Assert.Equal(WebhookDeliveryStatus.Failed, final.Status);
        Assert.Equal("subscription disabled", final.LastError);
        Assert.Empty(server.Requests);

        var (other, second) = await PublishAsync(server.Url);
        Assert.True(await _store.DeleteSubscriptionAsync(other.Id));
        Assert.Equal("subscription deleted", (await Engine().DeliverAsync(second.Id)).LastError);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Publishing_respects_filters_and_owners()
    {
        var time = TimeProvider.System;
        await _store.SaveSubscriptionAsync(WebhookSubscription.Create("store1", new Uri("https://a.example/1"), time, eventTypes: ["payout.*"]));
        await _store.SaveSubscriptionAsync(WebhookSubscription.Create("store1", new Uri("https://a.example/2"), time));
        await _store.SaveSubscriptionAsync(WebhookSubscription.Create("store2", new Uri("https://a.example/3"), time));
        var publisher = new WebhookPublisher(_store, time);
        var raised = 0;
        publisher.Enqueued += (_, _) => raised++;
        Assert.Single(await publisher.PublishAsync(WebhookEvent.Create(WebhookEventTypes.InvoiceSettled, "store1", new { }, time)));
        Assert.Equal(2, (await publisher.PublishAsync(WebhookEvent.Create(WebhookEventTypes.PayoutCompleted, "store1", new { }, time))).Count);
        Assert.Empty(await publisher.PublishAsync(WebhookEvent.Create(WebhookEventTypes.PayoutCompleted, "nobody", new { }, time)));
        Assert.Equal(2, raised);
        Assert.Equal(3, (await _store.ListPendingDeliveriesAsync(100)).Count);
    }

    [Fact]
    public async Task Outbox_survives_a_restart_and_resumes_the_attempt_count()
    {
        await using var server = new ScriptedServer(new ScriptedAnswer(500), new ScriptedAnswer(500), new ScriptedAnswer(500));
        var (_, delivery) = await PublishAsync(server.Url);
        // First run: two attempts allowed in this process, both 500s, delivery stays pending.
        using (var cts = new CancellationTokenSource())
        {
            var engine = Engine(FastOptions with { MaxAttempts = 4, BaseDelay = TimeSpan.FromSeconds(30), MaxDelay = TimeSpan.FromSeconds(30), UseJitter = false });
            var run = engine.DeliverAsync(delivery.Id, cts.Token);
            while ((await _store.ListAttemptsAsync(delivery.Id)).Count < 1)
            {
                await Task.Delay(20);
            }

            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        }

        await _store.DisposeAsync();
        _store = await SqlWebhookStore.OpenSqliteAsync(_dir.File("webhooks.db"));
        var pending = Assert.Single(await _store.ListPendingDeliveriesAsync(10));
        Assert.Equal(delivery.Id, pending.Id);
        Assert.Equal(1, pending.AttemptCount);

        var processed = await Engine().DeliverPendingAsync();
        Assert.Equal(1, processed);
        var final = (await _store.GetDeliveryAsync(delivery.Id))!;
        Assert.Equal(WebhookDeliveryStatus.Delivered, final.Status);
        Assert.Equal(4, final.AttemptCount);
        Assert.Equal([1, 2, 3, 4], (await _store.ListAttemptsAsync(delivery.Id)).Select(a => a.Number));
        Assert.Empty(await _store.ListPendingDeliveriesAsync(10));
    }

    [Fact]
    public async Task Runner_delivers_on_wake_and_stops_on_cancellation()
    {
        await using var server = new ScriptedServer();
        var engine = Engine();
        var runner = new WebhookDeliveryRunner(engine, TimeProvider.System, TimeSpan.FromHours(1));
        using var cts = new CancellationTokenSource();
        var loop = runner.RunAsync(cts.Token);
        var (_, delivery) = await PublishAsync(server.Url);
        runner.Wake();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await _store.GetDeliveryAsync(delivery.Id))!.Status == WebhookDeliveryStatus.Pending && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(WebhookDeliveryStatus.Delivered, (await _store.GetDeliveryAsync(delivery.Id))!.Status);
        await cts.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(loop.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Backoff_delays_run_on_the_injected_time_provider()
    {
        await using var server = new ScriptedServer(new ScriptedAnswer(500), new ScriptedAnswer(200));
        var (_, delivery) = await PublishAsync(server.Url);
        var time = new WatchedTimeProvider(DateTimeOffset.UtcNow);
        var engine = new WebhookDeliveryEngine(_store, _http, time, FastOptions with { BaseDelay = TimeSpan.FromHours(1), MaxDelay = TimeSpan.FromHours(2), UseJitter = false, AttemptTimeout = TimeSpan.FromDays(1) });

        var run = engine.DeliverAsync(delivery.Id);
        await WaitForAttemptsAsync(delivery.Id, 1);
        // Advance only once the engine waits on the backoff timer; before that an advance would be lost.
        await time.WaitForTimerAsync(TimeSpan.FromHours(1));
        await Task.Delay(200);
        Assert.Single(server.Requests);
        time.Advance(TimeSpan.FromMinutes(59));
        await Task.Delay(200);
        Assert.Single(server.Requests);
        time.Advance(TimeSpan.FromMinutes(1));
        var final = await run.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(WebhookDeliveryStatus.Delivered, final.Status);
        var log = await _store.ListAttemptsAsync(delivery.Id);
        Assert.Equal(TimeSpan.FromHours(1), log[1].StartedAt - log[0].StartedAt);
    }

    [Fact]
    public async Task Retry_after_replaces_the_computed_backoff()
    {
        await using var server = new ScriptedServer(new ScriptedAnswer(429, RetryAfter: "120"), new ScriptedAnswer(200));
        var (_, delivery) = await PublishAsync(server.Url);
        var time = new WatchedTimeProvider(DateTimeOffset.UtcNow);
        var engine = new WebhookDeliveryEngine(_store, _http, time, FastOptions with { BaseDelay = TimeSpan.FromHours(1), MaxDelay = TimeSpan.FromHours(2), UseJitter = false, AttemptTimeout = TimeSpan.FromDays(1) });

        var run = engine.DeliverAsync(delivery.Id);
        await WaitForAttemptsAsync(delivery.Id, 1);
        await time.WaitForTimerAsync(TimeSpan.FromMinutes(2));
        time.Advance(TimeSpan.FromMinutes(2));
        var final = await run.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(WebhookDeliveryStatus.Delivered, final.Status);
        var log = await _store.ListAttemptsAsync(delivery.Id);
        Assert.Equal(TimeSpan.FromMinutes(2), log[1].StartedAt - log[0].StartedAt);
    }

    private async Task WaitForAttemptsAsync(string deliveryId, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await _store.ListAttemptsAsync(deliveryId)).Count < count)
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for attempts");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task One_engine_never_sends_the_same_delivery_twice_at_once()
    {
        await using var server = new ScriptedServer(new ScriptedAnswer(200, TimeSpan.FromMilliseconds(300)));
        var (_, delivery) = await PublishAsync(server.Url);
        var engine = Engine();
        var first = engine.DeliverAsync(delivery.Id);
        var second = engine.DeliverAsync(delivery.Id);
        var pass = engine.DeliverPendingAsync();
        var results = await Task.WhenAll(first, second);
        await pass;
        Assert.Single(server.Requests);
        Assert.Equal(WebhookDeliveryStatus.Delivered, (await _store.GetDeliveryAsync(delivery.Id))!.Status);
        Assert.Contains(results, r => r is { Status: WebhookDeliveryStatus.Delivered });
    }

    [Fact]
    public void Invalid_options_are_refused()
    {
        Assert.Equal(WebhookErrorReason.InvalidConfiguration,
            Assert.Throws<WebhookException>(() => new WebhookDeliveryEngine(_store, _http, TimeProvider.System, new WebhookDeliveryOptions { MaxAttempts = 0 })).Reason);
    }

    /// <summary>A fake clock that remembers the due time of every timer created on it, so a test can advance it only
    /// once the code under test waits (the attempt is logged before the retry's delay timer exists).</summary>
    private sealed class WatchedTimeProvider(DateTimeOffset start) : Microsoft.Extensions.Time.Testing.FakeTimeProvider(start)
    {
        private readonly List<TimeSpan> _dueTimes = [];

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            lock (_dueTimes)
            {
                _dueTimes.Add(dueTime);
            }

            return base.CreateTimer(callback, state, dueTime, period);
        }

        public async Task WaitForTimerAsync(TimeSpan dueTime)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                lock (_dueTimes)
                {
                    if (_dueTimes.Contains(dueTime))
                    {
                        return;
                    }
                }

                Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for a {dueTime} timer");
                await Task.Delay(10);
            }
        }
    }
}
