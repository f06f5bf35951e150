using NBitcoin;

namespace Satflow.Payouts;

/// <summary>Settings of a <see cref="PayoutProcessor"/>.</summary>
public sealed record PayoutProcessorOptions
{
    /// <summary>The chain (to parse addresses and stored transactions).</summary>
    public required Network Network { get; init; }

    /// <summary>At most this many outputs per on-chain transaction (default 100).</summary>
    public int MaxOnChainBatchSize { get; init; } = 100;

    /// <summary>
    /// An on-chain batch is made once the oldest approved on-chain payout has waited this long, or as soon as a full
    /// batch is waiting (default 1 hour; zero pays every run).
    /// </summary>
    public TimeSpan OnChainBatchDelay { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Confirmations before on-chain payouts are completed (default 1).</summary>
    public int RequiredConfirmations { get; init; } = 1;

    /// <summary>At most this many Lightning payouts are started per run (default 50).</summary>
    public int MaxLightningPaymentsPerRun { get; init; } = 50;

    /// <summary>
    /// This processor's identity for the store's lease (default: random per instance). A host that restarts should
    /// reuse its id (e.g. from configuration) so it takes its own lease back at once instead of waiting for it to lapse.
    /// </summary>
    public string InstanceId { get; init; } = Guid.NewGuid().ToString("N");

    /// <summary>How long a run's lease lasts (default 10 minutes; far longer than any sender call should take).</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>What one <see cref="PayoutProcessor.RunOnceAsync"/> did.</summary>
public sealed record PayoutProcessorReport
{
    /// <summary>In-progress payouts whose status was asked.</summary>
    public int Reconciled { get; init; }

    /// <summary>Lightning payments sent (first sends and re-sends of references the node never saw).</summary>
    public int LightningSent { get; init; }

    /// <summary>On-chain batches recorded and broadcast.</summary>
    public int BatchesCreated { get; init; }

    /// <summary>Payouts completed.</summary>
    public int Completed { get; init; }

    /// <summary>Payouts failed.</summary>
    public int Failed { get; init; }

    /// <summary>Sender calls that threw (their payouts stay in progress for reconciliation).</summary>
    public int SenderErrors { get; init; }

    /// <summary>True when another instance holds the store's lease, so this run did nothing.</summary>
    public bool LeaseHeldElsewhere { get; init; }
}

/// <summary>
/// Pays one store's approved payouts, on a schedule the host drives by calling <see cref="RunOnceAsync"/>.
/// <para>Never paid twice: before a sender is called the processor durably records an attempt carrying the
/// idempotency reference and moves the payout to <see cref="PayoutState.InProgress"/> (a compare-and-swap, so two
/// processors cannot both take it). Lightning: the reference is the payment hash. On-chain: the sender builds and
/// signs one transaction for a batch without broadcasting it; the batch (txid and raw transaction) and the payouts'
/// attempts are recorded in one commit; only then is it broadcast. Every run first reconciles in-progress payouts by
/// asking the sender about the reference: succeeded/confirmed completes them, failed/conflicted fails them, pending
/// waits, and unknown (the sender never saw it) re-sends the same payment hash or re-broadcasts the very same
/// transaction, which cannot pay twice. A sender call that throws leaves the payout in progress for the next run.</para>
/// <para>Only one processor instance works on a store at a time: each run first takes (or renews) the store's
/// <see cref="ProcessorLease"/> by compare-and-swap, and runs of one instance are serialised, so a live processor's
/// in-flight payment is never mistaken for one lost in a crash.</para>
/// </summary>
public sealed class PayoutProcessor
{
    private readonly string _storeId;
    private readonly IPayoutStore _store;
    private readonly PayoutProcessorOptions _options;
    private readonly ILightningPayoutSender? _lightning;
    private readonly IOnChainPayoutSender? _onChain;
    private readonly SemaphoreSlim _running = new(1, 1);

    /// <summary>Creates a processor for <paramref name="storeId"/>; a method without a sender is not paid.</summary>
    public PayoutProcessor(string storeId, IPayoutStore store, PayoutProcessorOptions options, ILightningPayoutSender? lightning, IOnChainPayoutSender? onChain)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(storeId);
        _storeId = storeId;
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(options.Network);
        if (options.MaxOnChainBatchSize < 1 || options.RequiredConfirmations < 1 || options.MaxLightningPaymentsPerRun < 1 || options.OnChainBatchDelay < TimeSpan.Zero
            || options.LeaseDuration <= TimeSpan.Zero || string.IsNullOrWhiteSpace(options.InstanceId))
        {
            throw new PayoutsException(PayoutsErrorReason.InvalidConfiguration, "Processor options: batch size, confirmations and payments per run >= 1, delay >= 0, a positive lease and an instance id.");
        }

        _lightning = lightning;
        _onChain = onChain;
    }

    /// <summary>Raised after a payout is stored in a new state.</summary>
    public event EventHandler<PayoutChangedEventArgs>? PayoutChanged;

    /// <summary>Reconciles in-progress payouts, pays approved Lightning payouts and, when due, makes an on-chain batch.</summary>
    /// <param name="now">The current time (from the host's <see cref="TimeProvider"/>).</param>
    /// <param name="cancellationToken">Cancels the run (a payout whose attempt was recorded stays in progress).</param>
    /// <exception cref="PayoutsException">A storage failure, or a sender that broke its contract.</exception>
    public async Task<PayoutProcessorReport> RunOnceAsync(DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await _running.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunLockedAsync(now, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _running.Release();
        }
    }

    /// <summary>Gives the store's lease up (on a clean shutdown) so another instance can take over at once.</summary>
    public async Task ReleaseLeaseAsync(CancellationToken cancellationToken = default)
    {
        var lease = await _store.GetLeaseAsync(LeaseName, cancellationToken).ConfigureAwait(false);
        if (lease is not null && lease.Owner == _options.InstanceId)
        {
            var changes = new PayoutChangeSet();
            changes.Leases.Add(lease with { ExpiresAt = DateTimeOffset.UnixEpoch });
            try
            {
                await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
            }
            catch (PayoutsException e) when (e.Reason == PayoutsErrorReason.Conflict)
            {
                // Someone else took it meanwhile.
            }
        }
    }

    private string LeaseName => "payout-processor:" + _storeId;

    private async Task<bool> TryTakeLeaseAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var lease = await _store.GetLeaseAsync(LeaseName, cancellationToken).ConfigureAwait(false);
        if (lease is not null && lease.Owner != _options.InstanceId && lease.ExpiresAt > now)
        {
            return false;
        }

        var changes = new PayoutChangeSet();
        changes.Leases.Add(lease is null
            ? new ProcessorLease { Name = LeaseName, Owner = _options.InstanceId, ExpiresAt = now + _options.LeaseDuration }
            : lease with { Owner = _options.InstanceId, ExpiresAt = now + _options.LeaseDuration });
        try
        {
            await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (PayoutsException e) when (e.Reason == PayoutsErrorReason.Conflict)
        {
            return false;
        }
    }

    private async Task<PayoutProcessorReport> RunLockedAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!await TryTakeLeaseAsync(now, cancellationToken).ConfigureAwait(false))
        {
            return new PayoutProcessorReport { LeaseHeldElsewhere = true };
        }

        var report = new Counter();
        await ReconcileAsync(now, report, cancellationToken).ConfigureAwait(false);
        if (_lightning is not null)
        {
            await PayLightningAsync(now, report, cancellationToken).ConfigureAwait(false);
        }

        if (_onChain is not null)
        {
            await MakeBatchAsync(now, report, cancellationToken).ConfigureAwait(false);
        }

        return new PayoutProcessorReport
        {
            Reconciled = report.Reconciled,
            LightningSent = report.LightningSent,
            BatchesCreated = report.Batches,
            Completed = report.Completed,
            Failed = report.Failed,
            SenderErrors = report.SenderErrors,
        };
    }

    private async Task ReconcileAsync(DateTimeOffset now, Counter report, CancellationToken cancellationToken)
    {
        var inProgress = await _store.ListPayoutsAsync(new PayoutQuery { StoreId = _storeId, States = [PayoutState.InProgress] }, cancellationToken).ConfigureAwait(false);
        foreach (var payout in inProgress.Where(p => p.Method == PayoutMethod.Lightning))
        {
            if (_lightning is null)
            {
                continue;
            }

            report.Reconciled++;
            LightningPaymentStatus status;
            try
            {
                status = await _lightning.GetStatusAsync(payout.Destination.PaymentHash!.Value, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException and not PayoutsException)
            {
                report.SenderErrors++;
                continue;
            }

            if (status.State == LightningPaymentState.Unknown)
            {
                // Recorded, but the node never saw the hash: the send did not happen. Record a new attempt, send again.
                var retry = payout with { Attempt = payout.Attempt! with { Number = payout.Attempt.Number + 1, RecordedAt = now }, UpdatedAt = now };
                if (payout.Destination.ExpiresAt is { } expiry && expiry <= now)
                {
                    await FailAsync([payout], "the invoice expired before it could be paid", now, report, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var recorded = await TrySaveAsync(retry, payout.State, cancellationToken).ConfigureAwait(false);
                if (recorded is not null)
                {
                    await SendLightningAsync(recorded, now, report, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                await ApplyLightningAsync(payout, status, now, report, cancellationToken).ConfigureAwait(false);
            }
        }

        if (_onChain is null)
        {
            return;
        }

        foreach (var batchId in inProgress.Where(p => p.Method == PayoutMethod.OnChain && p.Attempt?.BatchId is not null).Select(p => p.Attempt!.BatchId!.Value).Distinct())
        {
            report.Reconciled++;
            await ReconcileBatchAsync(batchId, now, report, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReconcileBatchAsync(PayoutBatchId batchId, DateTimeOffset now, Counter report, CancellationToken cancellationToken)
    {
        var batch = await _store.GetBatchAsync(batchId, cancellationToken).ConfigureAwait(false)
            ?? throw new PayoutsException(PayoutsErrorReason.NotFound, $"Batch '{batchId}' is referenced but missing.");
        OnChainTransactionStatus status;
        try
        {
            status = await _onChain!.GetStatusAsync(uint256.Parse(batch.TxId), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not PayoutsException)
        {
            report.SenderErrors++;
            return;
        }

        var payouts = new List<Payout>();
        foreach (var id in batch.PayoutIds)
        {
            if (await _store.GetPayoutAsync(id, cancellationToken).ConfigureAwait(false) is { State: PayoutState.InProgress } p && p.Attempt?.BatchId == batchId)
            {
                payouts.Add(p);
            }
        }

        switch (status.State)
        {
            case OnChainTransactionState.Unknown:
                // Recorded but never broadcast: broadcast the very same signed transaction.
                await BroadcastAsync(batch, StoredTransaction(batch), report, cancellationToken).ConfigureAwait(false);
                break;
            case OnChainTransactionState.InMempool:
            case OnChainTransactionState.Confirmed when status.Confirmations < _options.RequiredConfirmations:
                if (batch.State == OnChainBatchState.Recorded)
                {
                    await CommitBatchOnlyAsync(batch with { State = OnChainBatchState.Broadcast }, cancellationToken).ConfigureAwait(false);
                }

                break;
            case OnChainTransactionState.Confirmed when status.Confirmations >= _options.RequiredConfirmations:
            {
                var changes = new PayoutChangeSet();
                changes.Batches.Add(batch with { State = OnChainBatchState.Confirmed });
                var done = payouts.Select(p => p with { State = PayoutState.Completed, Proof = batch.TxId, UpdatedAt = now }).ToArray();
                changes.Payouts.AddRange(done);
                await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
                report.Completed += done.Length;
                Raise(done, PayoutState.InProgress);
                break;
            }

            case OnChainTransactionState.Conflicted:
            {
                var changes = new PayoutChangeSet();
                changes.Batches.Add(batch with { State = OnChainBatchState.Conflicted });
                await FailAsync(payouts, "the payout transaction was double-spent", now, report, cancellationToken, changes).ConfigureAwait(false);
                break;
            }

            default:
                break;
        }
    }

    private Transaction StoredTransaction(OnChainPayoutBatch batch)
    {
        try
        {
            var transaction = Transaction.Parse(batch.RawTransaction, _options.Network);
            return transaction.GetHash().ToString() == batch.TxId
                ? transaction
                : throw new PayoutsException(PayoutsErrorReason.StorageFailure, $"Batch '{batch.Id}' stores a transaction that does not match its txid.");
        }
        catch (FormatException e)
        {
            throw new PayoutsException(PayoutsErrorReason.StorageFailure, $"Batch '{batch.Id}' stores an unreadable transaction.", e);
        }
    }

    private async Task PayLightningAsync(DateTimeOffset now, Counter report, CancellationToken cancellationToken)
    {
        var ready = await _store.ListPayoutsAsync(new PayoutQuery { StoreId = _storeId, States = [PayoutState.AwaitingPayment] }, cancellationToken).ConfigureAwait(false);
        var lightning = ready.Where(p => p.Method == PayoutMethod.Lightning).Take(_options.MaxLightningPaymentsPerRun).ToArray();
        if (lightning.Length == 0)
        {
            return;
        }

        // Two payouts for one invoice would be one payment reported twice: the later one fails instead.
        var taken = (await _store.ListPayoutsAsync(new PayoutQuery { StoreId = _storeId, States = [PayoutState.InProgress, PayoutState.Completed] }, cancellationToken).ConfigureAwait(false))
            .Where(p => p.Method == PayoutMethod.Lightning && p.Attempt is not null)
            .Select(p => p.Attempt!.Reference)
            .ToHashSet(StringComparer.Ordinal);
        foreach (var payout in lightning)
        {
            if (payout.Destination.ExpiresAt is { } expiry && expiry <= now)
            {
                await FailAsync([payout], "the invoice expired before it could be paid", now, report, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (!taken.Add(payout.Destination.PaymentHash!.Value.Value.ToHex()))
            {
                await FailAsync([payout], "another payout already pays this invoice", now, report, cancellationToken).ConfigureAwait(false);
                continue;
            }

            var attempt = new PayoutAttempt { Reference = payout.Destination.PaymentHash!.Value.Value.ToHex(), Number = 1, RecordedAt = now };
            var recorded = await TrySaveAsync(payout with { State = PayoutState.InProgress, Attempt = attempt, UpdatedAt = now }, payout.State, cancellationToken).ConfigureAwait(false);
            if (recorded is not null)
            {
                await SendLightningAsync(recorded, now, report, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task SendLightningAsync(Payout recorded, DateTimeOffset now, Counter report, CancellationToken cancellationToken)
    {
        LightningPaymentStatus status;
        try
        {
            report.LightningSent++;
            status = await _lightning!.PayAsync(
                new LightningPayoutRequest(recorded.Id, recorded.Destination.Value, recorded.Destination.PaymentHash!.Value, recorded.PayAmount!.Value),
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not PayoutsException)
        {
            report.SenderErrors++;
            return;
        }

        await ApplyLightningAsync(recorded, status, now, report, cancellationToken).ConfigureAwait(false);
    }

    private async Task ApplyLightningAsync(Payout payout, LightningPaymentStatus status, DateTimeOffset now, Counter report, CancellationToken cancellationToken)
    {
        switch (status.State)
        {
            case LightningPaymentState.Succeeded:
                if (status.Preimage is not { } preimage || preimage.Hash != payout.Destination.PaymentHash)
                {
                    throw new PayoutsException(PayoutsErrorReason.SenderContractViolation, $"The Lightning sender reported success for payout '{payout.Id}' without the matching preimage.");
                }

                if (await TrySaveAsync(payout with { State = PayoutState.Completed, Proof = preimage.Value.ToHex(), UpdatedAt = now }, payout.State, cancellationToken).ConfigureAwait(false) is not null)
                {
                    report.Completed++;
                }

                break;
            case LightningPaymentState.Failed:
                await FailAsync([payout], status.FailureReason ?? "the Lightning payment failed", now, report, cancellationToken).ConfigureAwait(false);
                break;
            default:
                // Pending (or an unknown answer to a send): ask again next run.
                break;
        }
    }

    private async Task MakeBatchAsync(DateTimeOffset now, Counter report, CancellationToken cancellationToken)
    {
        var ready = (await _store.ListPayoutsAsync(new PayoutQuery { StoreId = _storeId, States = [PayoutState.AwaitingPayment] }, cancellationToken).ConfigureAwait(false))
            .Where(p => p.Method == PayoutMethod.OnChain)
            .OrderBy(p => p.UpdatedAt)
            .ToArray();
        if (ready.Length == 0 || (ready.Length < _options.MaxOnChainBatchSize && now - ready[0].UpdatedAt < _options.OnChainBatchDelay))
        {
            return;
        }

        var batchPayouts = ready.Take(_options.MaxOnChainBatchSize).ToArray();
        var batchId = PayoutBatchId.New();
        var outputs = batchPayouts.Select(p => new OnChainPayoutOutput(p.Id, BitcoinAddress.Create(p.Destination.Value, _options.Network), p.OnChainAmount!)).ToArray();
        Transaction transaction;
        try
        {
            transaction = await _onChain!.CreateTransactionAsync(batchId, outputs, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not PayoutsException)
        {
            // Nothing was recorded or broadcast; the payouts stay approved for the next run.
            report.SenderErrors++;
            return;
        }

        CheckPaysEveryOutput(transaction, outputs);
        var txId = transaction.GetHash().ToString();
        var batch = new OnChainPayoutBatch
        {
            Id = batchId,
            StoreId = _storeId,
            PayoutIds = batchPayouts.Select(p => p.Id).ToArray(),
            TxId = txId,
            RawTransaction = transaction.ToHex(),
            CreatedAt = now,
        };
        var inProgress = batchPayouts.Select(p => p with
        {
            State = PayoutState.InProgress,
            Attempt = new PayoutAttempt { Reference = txId, BatchId = batchId, Number = 1, RecordedAt = now },
            UpdatedAt = now,
        }).ToArray();
        var changes = new PayoutChangeSet();
        changes.Batches.Add(batch);
        changes.Payouts.AddRange(inProgress);
        try
        {
            await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
        }
        catch (PayoutsException e) when (e.Reason == PayoutsErrorReason.Conflict)
        {
            // A payout changed meanwhile (e.g. cancelled); the unbroadcast transaction is dropped and the next run rebatches.
            return;
        }

        report.Batches++;
        Raise(inProgress.Select(p => p with { Version = p.Version + 1 }), PayoutState.AwaitingPayment);
        await BroadcastAsync(batch with { Version = 1 }, transaction, report, cancellationToken).ConfigureAwait(false);
    }

    private async Task BroadcastAsync(OnChainPayoutBatch batch, Transaction transaction, Counter report, CancellationToken cancellationToken)
    {
        try
        {
            await _onChain!.BroadcastAsync(transaction, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not PayoutsException)
        {
            report.SenderErrors++;
            return;
        }

        if (batch.State == OnChainBatchState.Recorded)
        {
            await CommitBatchOnlyAsync(batch with { State = OnChainBatchState.Broadcast }, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task CommitBatchOnlyAsync(OnChainPayoutBatch batch, CancellationToken cancellationToken)
    {
        var changes = new PayoutChangeSet();
        changes.Batches.Add(batch);
        try
        {
            await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
        }
        catch (PayoutsException e) when (e.Reason == PayoutsErrorReason.Conflict)
        {
            // Another processor recorded the same fact.
        }
    }

    private static void CheckPaysEveryOutput(Transaction transaction, IReadOnlyList<OnChainPayoutOutput> outputs)
    {
        var available = transaction.Outputs.Select(o => (o.ScriptPubKey, o.Value)).ToList();
        foreach (var wanted in outputs)
        {
            var index = available.FindIndex(o => o.ScriptPubKey == wanted.Address.ScriptPubKey && o.Value >= wanted.Amount);
            if (index < 0)
            {
                throw new PayoutsException(PayoutsErrorReason.SenderContractViolation, $"The on-chain sender's transaction does not pay payout '{wanted.PayoutId}'.");
            }

            available.RemoveAt(index);
        }
    }

    private async Task FailAsync(IReadOnlyList<Payout> payouts, string reason, DateTimeOffset now, Counter report, CancellationToken cancellationToken, PayoutChangeSet? changes = null)
    {
        changes ??= new PayoutChangeSet();
        var failed = payouts.Select(p => p with { State = PayoutState.Failed, FailureReason = reason, UpdatedAt = now }).ToArray();
        changes.Payouts.AddRange(failed);
        await PayoutBookkeeping.ReleaseClaimsAsync(_store, changes, payouts, cancellationToken).ConfigureAwait(false);
        try
        {
            await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
        }
        catch (PayoutsException e) when (e.Reason == PayoutsErrorReason.Conflict)
        {
            return;
        }

        report.Failed += failed.Length;
        foreach (var p in payouts)
        {
            PayoutChanged?.Invoke(this, new PayoutChangedEventArgs(failed.First(f => f.Id == p.Id) with { Version = p.Version + 1 }, p.State));
        }
    }

    private async Task<Payout?> TrySaveAsync(Payout payout, PayoutState previous, CancellationToken cancellationToken)
    {
        var changes = new PayoutChangeSet();
        changes.Payouts.Add(payout);
        try
        {
            await _store.CommitAsync(changes, cancellationToken).ConfigureAwait(false);
        }
        catch (PayoutsException e) when (e.Reason == PayoutsErrorReason.Conflict)
        {
            // Another processor moved it first.
            return null;
        }

        var stored = payout with { Version = payout.Version + 1 };
        PayoutChanged?.Invoke(this, new PayoutChangedEventArgs(stored, previous));
        return stored;
    }

    private void Raise(IEnumerable<Payout> payouts, PayoutState previous)
    {
        foreach (var p in payouts)
        {
            PayoutChanged?.Invoke(this, new PayoutChangedEventArgs(p, previous));
        }
    }

    private sealed class Counter
    {
        public int Reconciled { get; set; }

        public int LightningSent { get; set; }

        public int Batches { get; set; }

        public int Completed { get; set; }

        public int Failed { get; set; }

        public int SenderErrors { get; set; }
    }
}
