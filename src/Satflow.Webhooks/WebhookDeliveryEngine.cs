using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Satflow.Webhooks;

/// <summary>
/// Sends outbox deliveries over HTTP with a Polly pipeline: an exponential-backoff retry with jitter on 5xx, 408,
/// 429, network errors (<see cref="HttpRequestException"/>) and per-attempt timeouts, no retry on other answers, and
/// a per-attempt timeout. Every attempt is written to the delivery log together with the delivery's new state before
/// the next one starts, so a restart resumes with the attempts left. Delays and timeouts run on the injected
/// <see cref="TimeProvider"/>; a <c>Retry-After</c> header (seconds or a date) replaces the computed delay, capped at
/// <see cref="WebhookDeliveryOptions.MaxDelay"/>. Run one engine per store (a host drives it through <see cref="WebhookDeliveryRunner"/>).
/// </summary>
public sealed class WebhookDeliveryEngine
{
    /// <summary>Header naming the event type.</summary>
    public const string EventHeader = "Satflow-Event";

    /// <summary>Header carrying the event id.</summary>
    public const string EventIdHeader = "Satflow-Event-Id";

    /// <summary>Header carrying the delivery id.</summary>
    public const string DeliveryHeader = "Satflow-Delivery";

    private readonly IWebhookStore _store;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly WebhookDeliveryOptions _options;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _inFlight = new(StringComparer.Ordinal);

    /// <summary>Creates the engine. The <paramref name="http"/> client's own timeout should be infinite or longer than
    /// <see cref="WebhookDeliveryOptions.AttemptTimeout"/>; its handler should not follow redirects.</summary>
    /// <exception cref="WebhookException">Invalid options.</exception>
    public WebhookDeliveryEngine(IWebhookStore store, HttpClient http, TimeProvider time, WebhookDeliveryOptions? options = null)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _http = http ?? throw new ArgumentNullException(nameof(http));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _options = options ?? new WebhookDeliveryOptions();
        _options.Validate();
    }

    /// <summary>True for answers worth retrying: 408, 429 and 5xx.</summary>
    public static bool IsRetryableStatus(int statusCode) => statusCode is 408 or 429 or >= 500;

    /// <summary>Sends a pending delivery until it succeeds, fails for good or runs out of attempts; a delivery that is
    /// no longer pending, or that this engine is already sending, is returned as stored.</summary>
    /// <returns>The delivery's final stored state.</returns>
    /// <exception cref="WebhookException"><see cref="WebhookErrorReason.NotFound"/>, or a storage failure.</exception>
    public async Task<WebhookDelivery> DeliverAsync(string deliveryId, CancellationToken cancellationToken = default)
    {
        var delivery = await _store.GetDeliveryAsync(deliveryId, cancellationToken).ConfigureAwait(false)
            ?? throw new WebhookException(WebhookErrorReason.NotFound, $"Delivery '{deliveryId}' does not exist.");
        if (delivery.Status != WebhookDeliveryStatus.Pending || !_inFlight.TryAdd(delivery.Id, 0))
        {
            return delivery;
        }

        try
        {
            // Re-read under the in-flight mark: another call may have finished it since the first read.
            var current = await _store.GetDeliveryAsync(delivery.Id, cancellationToken).ConfigureAwait(false) ?? delivery;
            return current.Status == WebhookDeliveryStatus.Pending
                ? await DeliverPendingAsync(current, cancellationToken).ConfigureAwait(false)
                : current;
        }
        finally
        {
            _inFlight.TryRemove(delivery.Id, out _);
        }
    }

    private async Task<WebhookDelivery> DeliverPendingAsync(WebhookDelivery delivery, CancellationToken cancellationToken)
    {
        var subscription = await _store.GetSubscriptionAsync(delivery.SubscriptionId, cancellationToken).ConfigureAwait(false);
        if (subscription is null || !subscription.Enabled)
        {
            var abandoned = delivery with
            {
                Status = WebhookDeliveryStatus.Failed,
                LastError = subscription is null ? "subscription deleted" : "subscription disabled",
                CompletedAt = _time.GetUtcNow(),
            };
            await _store.UpdateDeliveryAsync(abandoned, cancellationToken).ConfigureAwait(false);
            return abandoned;
        }

        var remaining = _options.MaxAttempts - delivery.AttemptCount;
        if (remaining <= 0)
        {
            var exhausted = delivery with { Status = WebhookDeliveryStatus.Failed, CompletedAt = _time.GetUtcNow() };
            await _store.UpdateDeliveryAsync(exhausted, cancellationToken).ConfigureAwait(false);
            return exhausted;
        }

        var state = new DeliveryState(delivery, subscription, Encoding.UTF8.GetBytes(delivery.Body));
        var pipeline = BuildPipeline(remaining - 1);
        await pipeline.ExecuteAsync(
            static async (args, attemptToken) => await args.Engine.AttemptAsync(args.State, attemptToken, args.Outer).ConfigureAwait(false),
            (Engine: this, State: state, Outer: cancellationToken),
            cancellationToken).ConfigureAwait(false);
        return state.Delivery;
    }

    /// <summary>Sends every pending delivery (up to <see cref="WebhookDeliveryOptions.BatchSize"/>), a few at a time.</summary>
    /// <returns>How many deliveries were processed.</returns>
    public async Task<int> DeliverPendingAsync(CancellationToken cancellationToken = default)
    {
        var pending = await _store.ListPendingDeliveriesAsync(_options.BatchSize, cancellationToken).ConfigureAwait(false);
        await Parallel.ForEachAsync(
            pending,
            new ParallelOptions { MaxDegreeOfParallelism = _options.MaxConcurrentDeliveries, CancellationToken = cancellationToken },
            async (d, ct) => await DeliverAsync(d.Id, ct).ConfigureAwait(false)).ConfigureAwait(false);
        return pending.Count;
    }

    /// <summary>
    /// Re-sends a past delivery (whatever its status): a new delivery with the same subscription and the same body,
    /// linked through <see cref="WebhookDelivery.RedeliveryOf"/>, persisted and then sent.
    /// </summary>
    /// <returns>The new delivery's final state.</returns>
    /// <exception cref="WebhookException"><see cref="WebhookErrorReason.NotFound"/>, or a storage failure.</exception>
    public async Task<WebhookDelivery> RedeliverAsync(string deliveryId, CancellationToken cancellationToken = default)
    {
        var original = await _store.GetDeliveryAsync(deliveryId, cancellationToken).ConfigureAwait(false)
            ?? throw new WebhookException(WebhookErrorReason.NotFound, $"Delivery '{deliveryId}' does not exist.");
        var copy = new WebhookDelivery
        {
            Id = WebhookSubscription.NewId(),
            SubscriptionId = original.SubscriptionId,
            EventId = original.EventId,
            EventType = original.EventType,
            Body = original.Body,
            CreatedAt = _time.GetUtcNow(),
            RedeliveryOf = original.Id,
        };
        await _store.EnqueueAsync([copy], cancellationToken).ConfigureAwait(false);
        return await DeliverAsync(copy.Id, cancellationToken).ConfigureAwait(false);
    }

    private ResiliencePipeline<AttemptOutcome> BuildPipeline(int retries)
    {
        var builder = new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = _time };
        if (retries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<AttemptOutcome>
            {
                MaxRetryAttempts = retries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = _options.UseJitter,
                Delay = _options.BaseDelay,
                MaxDelay = _options.MaxDelay,
                ShouldHandle = static args => ValueTask.FromResult(
                    args.Outcome.Result is { Retryable: true }
                    || args.Outcome.Exception is HttpRequestException or TimeoutRejectedException),

                // A Retry-After from the endpoint (429/503) wins over the computed backoff, capped at MaxDelay.
                DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(
                    args.Outcome.Result?.RetryAfter is { } after ? (after < _options.MaxDelay ? after : _options.MaxDelay) : null),
            });
        }

        builder.AddTimeout(_options.AttemptTimeout);
        return builder.Build();
    }

    private async ValueTask<AttemptOutcome> AttemptAsync(DeliveryState state, CancellationToken attemptToken, CancellationToken outer)
    {
        var number = state.Delivery.AttemptCount + 1;
        var startedAt = _time.GetUtcNow();
        var started = _time.GetTimestamp();
        AttemptOutcome outcome;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, state.Subscription.Url)
            {
                Content = new ByteArrayContent(state.Body),
            };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            request.Headers.TryAddWithoutValidation(WebhookSignature.HeaderName, WebhookSignature.CreateHeader(state.Subscription.Secret, startedAt, state.Body));
            request.Headers.TryAddWithoutValidation(EventHeader, state.Delivery.EventType);
            request.Headers.TryAddWithoutValidation(EventIdHeader, state.Delivery.EventId);
            request.Headers.TryAddWithoutValidation(DeliveryHeader, state.Delivery.Id);
            request.Headers.TryAddWithoutValidation("User-Agent", _options.UserAgent);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var snippet = await ReadSnippetAsync(response, attemptToken).ConfigureAwait(false);
            var ok = status is >= 200 and < 300;
            outcome = new AttemptOutcome(status, ok ? null : string.Create(CultureInfo.InvariantCulture, $"HTTP {status}"), snippet, ok, !ok && IsRetryableStatus(status))
            {
                RetryAfter = RetryAfterOf(response, startedAt),
            };
        }
        catch (HttpRequestException e)
        {
            outcome = new AttemptOutcome(null, "network error: " + e.Message, null, false, true);
        }
        catch (OperationCanceledException) when (!outer.IsCancellationRequested)
        {
            outcome = new AttemptOutcome(null, string.Create(CultureInfo.InvariantCulture, $"timed out after {_options.AttemptTimeout.TotalSeconds:0.###} s"), null, false, true);
        }

        var attempt = new WebhookDeliveryAttempt
        {
            DeliveryId = state.Delivery.Id,
            Number = number,
            StartedAt = startedAt,
            Duration = _time.GetElapsedTime(started),
            StatusCode = outcome.StatusCode,
            Error = outcome.Error,
            ResponseSnippet = outcome.Snippet,
            Succeeded = outcome.Succeeded,
        };
        var final = outcome.Succeeded || !outcome.Retryable || number >= _options.MaxAttempts;
        var updated = state.Delivery with
        {
            AttemptCount = number,
            LastStatusCode = outcome.StatusCode,
            LastError = outcome.Error,
            Status = outcome.Succeeded ? WebhookDeliveryStatus.Delivered : final ? WebhookDeliveryStatus.Failed : WebhookDeliveryStatus.Pending,
            CompletedAt = final ? _time.GetUtcNow() : null,
        };
        await _store.RecordAttemptAsync(attempt, updated, outer).ConfigureAwait(false);
        state.Delivery = updated;
        return outcome;
    }

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response, DateTimeOffset now)
    {
        var header = response.Headers.RetryAfter;
        var delay = header?.Delta ?? (header?.Date is { } date ? date - now : null);
        return delay is { } d && d > TimeSpan.Zero ? d : null;
    }

    private async Task<string?> ReadSnippetAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (_options.ResponseSnippetLength == 0)
        {
            return null;
        }

        // UTF-8 uses at most 4 bytes per character; read no more than that, then cut to the character limit.
        var buffer = new byte[_options.ResponseSnippetLength * 4];
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var total = 0;
            int read;
            while (total < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false)) > 0)
            {
                total += read;
            }

            var text = Encoding.UTF8.GetString(buffer, 0, total);
            return text.Length > _options.ResponseSnippetLength ? text[.._options.ResponseSnippetLength] : text;
        }
    }

    private sealed class DeliveryState(WebhookDelivery delivery, WebhookSubscription subscription, byte[] body)
    {
        public WebhookDelivery Delivery { get; set; } = delivery;

        public WebhookSubscription Subscription { get; } = subscription;

        public byte[] Body { get; } = body;
    }

    private sealed record AttemptOutcome(int? StatusCode, string? Error, string? Snippet, bool Succeeded, bool Retryable)
    {
        public TimeSpan? RetryAfter { get; init; }
    }
}
