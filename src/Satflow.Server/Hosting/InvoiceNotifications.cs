using System.Collections.Concurrent;
using Satflow.Merchant;
using Satflow.Merchant.Invoices;
using Satflow.Payouts;
using Satflow.Webhooks;

namespace Satflow.Server.Hosting;

/// <summary>The <c>data</c> object of an <c>invoice.*</c> webhook.</summary>
/// <param name="InvoiceId">The invoice.</param>
/// <param name="StoreId">Its store.</param>
/// <param name="Sequence">The invoice event number (from 1, per invoice).</param>
/// <param name="Status">Invoice status after the event.</param>
/// <param name="AdditionalStatus">Additional status after the event.</param>
/// <param name="ManuallyMarked">Marked by hand.</param>
/// <param name="OverPaid">Paid more than due.</param>
/// <param name="PartiallyPaid">Expired with a partial payment.</param>
/// <param name="AfterExpiration">A payment arrived after expiry.</param>
public sealed record InvoiceWebhookData(string InvoiceId, string StoreId, long Sequence, string Status, string AdditionalStatus, bool ManuallyMarked, bool OverPaid, bool PartiallyPaid, bool AfterExpiration);

/// <summary>
/// Fans invoice events out: to the webhook outbox (one <c>invoice.*</c> event per lifecycle change) and to checkout
/// pages waiting for a status change (server-sent events).
/// </summary>
public sealed class InvoiceNotifications
{
    private readonly WebhookPublisher _publisher;
    private readonly TimeProvider _time;
    private readonly ILogger<InvoiceNotifications> _log;
    private readonly ServerMetrics _metrics;
    private readonly Lock _payoutLock = new();
    private Task _payoutChain = Task.CompletedTask;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    /// <summary>Creates the fan-out.</summary>
    /// <param name="publisher">The webhook publisher.</param>
    /// <param name="time">The clock.</param>
    /// <param name="log">Logger.</param>
    /// <param name="metrics">Counters.</param>
    public InvoiceNotifications(WebhookPublisher publisher, TimeProvider time, ILogger<InvoiceNotifications> log, ServerMetrics metrics)
    {
        _metrics = metrics;
        _publisher = publisher;
        _time = time;
        _log = log;
    }

    /// <summary>The webhook event type of an invoice event, or null when it has none (payment events).</summary>
    /// <param name="type">The invoice event type.</param>
    /// <returns>The webhook type.</returns>
    public static string? WebhookTypeOf(InvoiceEventType type) => type switch
    {
        InvoiceEventType.Created => WebhookEventTypes.InvoiceCreated,
        InvoiceEventType.Processing => WebhookEventTypes.InvoiceProcessing,
        InvoiceEventType.Settled => WebhookEventTypes.InvoiceSettled,
        InvoiceEventType.Expired => WebhookEventTypes.InvoiceExpired,
        InvoiceEventType.Invalid => WebhookEventTypes.InvoiceInvalid,
        _ => null,
    };

    /// <summary>The webhook event type of a payout's new state.</summary>
    /// <param name="state">The state.</param>
    /// <returns>The type.</returns>
    public static string WebhookTypeOf(PayoutState state) => state switch
    {
        PayoutState.AwaitingApproval => WebhookEventTypes.PayoutCreated,
        PayoutState.AwaitingPayment => WebhookEventTypes.PayoutApproved,
        PayoutState.InProgress => WebhookEventTypes.PayoutInProgress,
        PayoutState.Completed => WebhookEventTypes.PayoutCompleted,
        PayoutState.Failed => WebhookEventTypes.PayoutFailed,
        _ => WebhookEventTypes.PayoutCancelled,
    };

    /// <summary>
    /// Publishes a <c>payout.*</c> webhook for a stored payout change (the payouts library raises a synchronous event;
    /// the publication continues in the background and failures are logged). Changes are published in the order they arrive.
    /// </summary>
    /// <param name="change">The change.</param>
    public void EnqueuePayoutChange(PayoutChangedEventArgs change)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (change.PreviousState == change.Payout.State)
        {
            return;
        }

        var p = change.Payout;
        var data = new { payoutId = p.Id.Value, storeId = p.StoreId, pullPaymentId = p.PullPaymentId?.Value, state = p.State.ToString(),
            previousState = change.PreviousState?.ToString(), method = p.Method.ToString(), amount = p.Amount, currency = p.Currency, proof = p.Proof };
        var e = WebhookEvent.Create(WebhookTypeOf(p.State), p.StoreId, data, _time);
        lock (_payoutLock)
        {
            _payoutChain = _payoutChain.ContinueWith(async _ =>
            {
                try
                {
                    await _publisher.PublishAsync(e).ConfigureAwait(false);
                }
                catch (WebhookException ex)
                {
                    _log.LogError(ex, "Could not enqueue the webhook of payout {PayoutId} ({Reason})", p.Id.Value, ex.Reason);
                }
            }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
        }
    }

    /// <summary>A task that completes at the next change of the invoice (take it before reading the state, so no change is missed).</summary>
    /// <param name="invoiceId">The invoice.</param>
    /// <returns>The task.</returns>
    public Task NextChangeAsync(InvoiceId invoiceId)
        => _waiters.GetOrAdd(invoiceId.Value, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Publishes the webhooks of one operation's events and wakes the checkout pages of the invoice.</summary>
    /// <param name="events">The events.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>A task.</returns>
    public async Task PublishAsync(InvoiceEvents? events, CancellationToken cancellationToken = default)
    {
        if (events is null || events.Events.Count == 0)
        {
            return;
        }

        try
        {
            foreach (var e in events.Events)
            {
                _metrics.InvoiceEvents.Add(1, new KeyValuePair<string, object?>("type", e.Type.ToString()));
                if (WebhookTypeOf(e.Type) is not { } type)
                {
                    continue;
                }

                var data = new InvoiceWebhookData(events.InvoiceId.Value, events.StoreId.Value, e.Sequence, e.Status.ToString(), e.AdditionalStatus.ToString(),
                    e.ManuallyMarked, e.OverPaid, e.PartiallyPaid, e.AfterExpiration);
                await _publisher.PublishAsync(WebhookEvent.Create(type, events.StoreId.Value, data, _time), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (WebhookException ex)
        {
            _log.LogError(ex, "Could not enqueue the webhooks of invoice {InvoiceId} ({Reason})", events.InvoiceId.Value, ex.Reason);
        }
        finally
        {
            if (_waiters.TryRemove(events.InvoiceId.Value, out var waiter))
            {
                waiter.TrySetResult();
            }
        }
    }
}

/// <summary>
/// The seam where the wallet and the Lightning node report payments: records the payment on its invoice (invoice and
/// ledger in one transaction) and publishes the resulting events.
/// </summary>
public sealed class PaymentRecorder
{
    private readonly MerchantService _merchant;
    private readonly InvoiceNotifications _notifications;

    /// <summary>Creates the recorder.</summary>
    /// <param name="merchant">The merchant service.</param>
    /// <param name="notifications">The event fan-out.</param>
    public PaymentRecorder(MerchantService merchant, InvoiceNotifications notifications)
    {
        _merchant = merchant;
        _notifications = notifications;
    }

    /// <summary>Records a payment seen on a destination.</summary>
    /// <param name="lookupKey">The address, or the payment hash hex.</param>
    /// <param name="observation">What was seen.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The events, or null when no invoice owns the destination.</returns>
    public async Task<InvoiceEvents?> RecordAsync(string lookupKey, PaymentObservation observation, CancellationToken cancellationToken = default)
    {
        var events = await _merchant.RecordPaymentAsync(lookupKey, observation, cancellationToken).ConfigureAwait(false);
        await _notifications.PublishAsync(events, cancellationToken).ConfigureAwait(false);
        return events;
    }
}
