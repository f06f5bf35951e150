using Satflow.Payouts;

namespace Satflow.Server.Hosting;

/// <summary>
/// The automatic payout processors (sandbox and production modes): every <see cref="ServerOptions.PayoutInterval"/>,
/// one <see cref="PayoutProcessor"/> per store with approved or in-progress payouts pays Lightning payouts through the
/// node (<see cref="NodeLightningPayoutSender"/>) and batches on-chain payouts from the node's wallet
/// (<see cref="WalletOnChainPayoutSender"/>). The processor's records and the senders' durable state (payment hash,
/// the batch's signed transaction) make a payout paid once, across crashes and retries.
/// </summary>
public sealed class PayoutProcessingService : BackgroundService
{
    private readonly ServerNode _node;
    private readonly IPayoutStore _store;
    private readonly ServerOptions _options;
    private readonly InvoiceNotifications _notifications;
    private readonly TimeProvider _time;
    private readonly ILogger<PayoutProcessingService> _log;
    private readonly Dictionary<string, PayoutProcessor> _processors = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Creates the service.</summary>
    /// <param name="node">The node holder.</param>
    /// <param name="store">The payout store.</param>
    /// <param name="options">Options (interval, batch delay, network).</param>
    /// <param name="notifications">Publishes payout webhooks.</param>
    /// <param name="time">Clock.</param>
    /// <param name="log">Logger.</param>
    public PayoutProcessingService(ServerNode node, IPayoutStore store, ServerOptions options, InvoiceNotifications notifications, TimeProvider time, ILogger<PayoutProcessingService> log)
    {
        _node = node;
        _store = store;
        _options = options;
        _notifications = notifications;
        _time = time;
        _log = log;
    }

    /// <summary>Runs every store's processor once (what the timer does).</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The reports, by store.</returns>
    public async Task<IReadOnlyDictionary<string, PayoutProcessorReport>> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        var host = await _node.WhenReadyAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunLockedAsync(host, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<IReadOnlyDictionary<string, PayoutProcessorReport>> RunLockedAsync(Satflow.Node.Hosting.NodeHost host, CancellationToken cancellationToken)
    {
        var pending = await _store.ListPayoutsAsync(new PayoutQuery { States = [PayoutState.AwaitingPayment, PayoutState.InProgress] }, cancellationToken).ConfigureAwait(false);
        var reports = new Dictionary<string, PayoutProcessorReport>(StringComparer.Ordinal);
        foreach (var storeId in pending.Select(p => p.StoreId).Distinct(StringComparer.Ordinal))
        {
            if (!_processors.TryGetValue(storeId, out var processor))
            {
                processor = new PayoutProcessor(storeId, _store, new PayoutProcessorOptions
                {
                    Network = _options.Network,
                    OnChainBatchDelay = _options.OnChainBatchDelay,
                    InstanceId = "satflowd-" + Environment.MachineName,
                }, new NodeLightningPayoutSender(host.Node), new WalletOnChainPayoutSender(host.Wallet, host.Chain, host.Chain));
                processor.PayoutChanged += (_, e) => _notifications.EnqueuePayoutChange(e);
                _processors[storeId] = processor;
            }

            reports[storeId] = await processor.RunOnceAsync(_time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }

        return reports;
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _node.WhenReadyAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Merchant.MerchantException or OperationCanceledException)
        {
            return;
        }

        using var timer = new PeriodicTimer(_options.PayoutInterval, _time);
        try
        {
            do
            {
                try
                {
                    foreach (var (store, report) in await RunOnceAsync(stoppingToken).ConfigureAwait(false))
                    {
                        if (report.LightningSent + report.BatchesCreated + report.Completed + report.Failed + report.SenderErrors > 0)
                        {
                            _log.LogInformation("Payouts of store {Store}: {Lightning} Lightning sent, {Batches} batches, {Completed} completed, {Failed} failed, {Errors} sender errors",
                                store, report.LightningSent, report.BatchesCreated, report.Completed, report.Failed, report.SenderErrors);
                        }
                    }
                }
                catch (PayoutsException e)
                {
                    _log.LogError(e, "Payout processing failed ({Reason})", e.Reason);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }

        foreach (var processor in _processors.Values)
        {
            try
            {
                await processor.ReleaseLeaseAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (PayoutsException e)
            {
                _log.LogWarning(e, "Releasing the payout lease failed ({Reason})", e.Reason);
            }
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _gate.Dispose();
        base.Dispose();
    }
}
