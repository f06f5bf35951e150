using Satflow.Merchant;
using Satflow.Webhooks;

namespace Satflow.Server.Hosting;

/// <summary>Ticks every monitored invoice on a timer (expiry, end of the monitoring window) and publishes the events.</summary>
public sealed class InvoiceTickService : BackgroundService
{
    private readonly MerchantService _merchant;
    private readonly InvoiceNotifications _notifications;
    private readonly ServerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<InvoiceTickService> _log;

    /// <summary>Creates the service.</summary>
    /// <param name="merchant">The merchant service.</param>
    /// <param name="notifications">Event fan-out.</param>
    /// <param name="options">Options (tick interval).</param>
    /// <param name="time">The clock driving the timer.</param>
    /// <param name="log">Logger.</param>
    public InvoiceTickService(MerchantService merchant, InvoiceNotifications notifications, ServerOptions options, TimeProvider time, ILogger<InvoiceTickService> log)
    {
        _merchant = merchant;
        _notifications = notifications;
        _options = options;
        _time = time;
        _log = log;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.TickInterval, _time);
        try
        {
            do
            {
                try
                {
                    foreach (var events in await _merchant.TickAsync(stoppingToken).ConfigureAwait(false))
                    {
                        await _notifications.PublishAsync(events, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (MerchantException e)
                {
                    _log.LogError(e, "Invoice tick failed ({Reason})", e.Reason);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }
}

/// <summary>Runs the webhook delivery runner (outbox → HTTP, retries with backoff) for the server's lifetime.</summary>
public sealed class WebhookDeliveryService : BackgroundService
{
    private readonly WebhookDeliveryRunner _runner;
    private readonly ILogger<WebhookDeliveryService> _log;

    /// <summary>Creates the service; publishing wakes the runner at once.</summary>
    /// <param name="runner">The runner.</param>
    /// <param name="publisher">The publisher whose <see cref="WebhookPublisher.Enqueued"/> wakes the runner.</param>
    /// <param name="log">Logger.</param>
    public WebhookDeliveryService(WebhookDeliveryRunner runner, WebhookPublisher publisher, ILogger<WebhookDeliveryService> log)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        _runner = runner;
        _log = log;
        publisher.Enqueued += (_, _) => _runner.Wake();
        _runner.PassFailed += (_, e) => _log.LogError(e, "Webhook delivery pass failed ({Reason})", e.Reason);
    }

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _runner.RunAsync(stoppingToken);
}
