using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Types;
using Satflow.Merchant;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Ledger;
using Satflow.Merchant.Persistence;
using Satflow.Node;
using Satflow.Node.Hosting;
using Satflow.Node.Persistence;
using Satflow.Payments;
using Satflow.Payouts;

namespace Satflow.Server.Hosting;

/// <summary>
/// Books every movement of the in-process node's wallet and channel balances in the ledger and reconciles the ledger
/// with those balances. <see cref="SyncAsync"/> scans the node and posts one balanced entry per movement (see
/// <see cref="NodeLedgerEntries"/>), keyed by txid, outpoint, payment hash, channel id or forward, so a restart or a
/// re-scan never books twice:
/// <list type="bullet">
/// <item>wallet outputs no invoice owns (coinbase, deposits) → operator capital; outputs to invoice addresses are the
/// invoices' (booked when the payment settles);</item>
/// <item>transactions the wallet made: channel funding → transfer to the Lightning asset; payout batch outputs → the
/// store's payout; anything else → operator withdrawal; the mining fee → the payer's fees (the store for a batch);</item>
/// <item>channels: the opening balance (push received, or push given when we funded); a cooperative close (or the
/// first sweep of a force close) reaching the wallet → Lightning to on-chain, the rest (closing fee, msat remainder)
/// to fees;</item>
/// <item>Lightning: node invoices no store owns → capital; payments sent → the store's payout or operator spending
/// (amount and routing fee); settled forwards → routing income.</item>
/// </list>
/// <see cref="ReportAsync"/> then compares the ledger with the wallet balance (confirmed + unconfirmed + immature) and
/// the local balances of the node's channels (HTLCs in flight excluded; a closed channel counts until its close is in
/// the wallet), listing known reasons for a difference as <see cref="ReconciliationItem"/>s.
/// </summary>
public sealed class NodeReconciliation : IDisposable
{
    private readonly ServerNode _node;
    private readonly IMerchantRepository _repository;
    private readonly IPayoutStore? _payouts;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HashSet<string> _booked = new(StringComparer.Ordinal);
    private readonly HashSet<string> _storeOwned = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _closeTransactions = new(StringComparer.Ordinal);
    private readonly HashSet<string> _handledTransactions = new(StringComparer.Ordinal);
    private bool _loaded;

    /// <summary>Creates the service.</summary>
    /// <param name="node">The node holder.</param>
    /// <param name="repository">The merchant repository (ledger, invoices).</param>
    /// <param name="time">Clock for entry and report times.</param>
    /// <param name="payouts">The payout store (to recognise store payouts), when payouts are configured.</param>
    public NodeReconciliation(ServerNode node, IMerchantRepository repository, TimeProvider time, IPayoutStore? payouts = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(repository);
        ArgumentNullException.ThrowIfNull(time);
        _node = node;
        _repository = repository;
        _time = time;
        _payouts = payouts;
    }

    /// <summary>Books the node's movements not booked yet, then builds the report.</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The report.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.PaymentMethodUnavailable"/> when the node is not running.</exception>
    public async Task<ReconciliationReport> ReportAsync(CancellationToken cancellationToken = default)
    {
        var host = await _node.WhenReadyAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var scan = await ScanAsync(host, cancellationToken).ConfigureAwait(false);
            var balances = await _repository.GetBalancesAsync(null, cancellationToken).ConfigureAwait(false);
            return ReconciliationReport.Create(balances, scan.Wallet, scan.Channels, _time.GetUtcNow(), scan.Items);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Books the node's movements not booked yet.</summary>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>How many entries this call posted.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.PaymentMethodUnavailable"/> when the node is not running.</exception>
    public async Task<int> SyncAsync(CancellationToken cancellationToken = default)
    {
        var host = await _node.WhenReadyAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return (await ScanAsync(host, cancellationToken).ConfigureAwait(false)).Posted;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();

    private sealed record Scan(MilliSatoshi Wallet, MilliSatoshi Channels, IReadOnlyList<ReconciliationItem> Items, int Posted);

    private static MilliSatoshi Msat(Money money) => MilliSatoshi.FromSatoshis((ulong)money.Satoshi);

    private static string Hex(ChannelId id) => id.Value.ToHex();

    private async Task<Scan> ScanAsync(NodeHost host, CancellationToken ct)
    {
        await LoadBookedAsync(ct).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        var node = host.Node;
        var wallet = host.Wallet;
        var items = new List<ReconciliationItem>();
        var posted = 0;

        async Task Post(JournalEntry? entry)
        {
            if (entry is null || _booked.Contains(entry.Id))
            {
                return;
            }

            try
            {
                await _repository.PostJournalEntriesAsync([entry], ct).ConfigureAwait(false);
                posted++;
            }
            catch (MerchantException e) when (e.Reason == MerchantErrorReason.AlreadyExists)
            {
                // Posted by another process or an earlier run: nothing to do.
            }

            Remember(entry);
        }

        // The node's lists are read one after the other, not atomically: a movement completing between two reads can make
        // one report momentarily not exact (listed as a difference); the next scan sees both sides.
        var channels = node.ListChannels();
        var closing = new Dictionary<uint256, NodeChannel>();
        foreach (var c in channels)
        {
            if (node.GetClosingTransactionId(c.ChannelId) is { } closingTxId)
            {
                closing[closingTxId] = c;
            }
        }

        var funding = new Dictionary<OutPoint, NodeChannel>();
        foreach (var c in channels)
        {
            funding.TryAdd(c.FundingOutPoint, c);
        }

        var (lightningPayouts, batchPayouts) = await ListPayoutsAsync(ct).ConfigureAwait(false);
        var transactions = wallet.ListTransactions();
        var balance = wallet.GetBalance();

        // ---- channels: opening balances
        var hadNodeEntries = _booked.Any(id => id.StartsWith("node:", StringComparison.Ordinal));
        foreach (var c in channels)
        {
            var id = "node:channel-open:" + Hex(c.ChannelId);
            if (_booked.Contains(id))
            {
                continue;
            }

            // Exact while the funding is unconfirmed (no payment can have moved the balance yet); otherwise the balance
            // at first sight is the opening balance (the first run over an existing node, or a restart of an older one).
            var exact = c.State == ChannelState.AwaitingFundingConfirmation;
            if (!exact && hadNodeEntries && c.PendingHtlcs > 0)
            {
                continue;
            }

            var capacity = Msat(c.Capacity);
            var entry = c.IsFunder
                ? NodeLedgerEntries.PushSent(Hex(c.ChannelId), capacity > c.LocalBalance ? capacity - c.LocalBalance : MilliSatoshi.Zero, now)
                : NodeLedgerEntries.PushReceived(Hex(c.ChannelId), c.LocalBalance, now);
            entry ??= JournalEntry.Create(id, now, $"Channel {Hex(c.ChannelId)} opened with nothing pushed (memo: debit and credit the same account)",
                [Posting.Debit(new LedgerAccount(LedgerBooks.Node, LedgerAccountKind.Lightning), new MilliSatoshi(1)), Posting.Credit(new LedgerAccount(LedgerBooks.Node, LedgerAccountKind.Lightning), new MilliSatoshi(1))]);
            await Post(entry).ConfigureAwait(false);
        }

        // ---- wallet transactions
        var closedInWallet = new HashSet<ChannelId>();
        foreach (var tx in transactions)
        {
            var txid = tx.TxId;
            var outputs = tx.Transaction.Outputs;
            // Once a transaction is booked its classification is final: a channel the node has since forgotten must not
            // turn its funding into a withdrawal or its close into a deposit.
            if (_handledTransactions.Contains(txid.ToString()))
            {
                continue;
            }

            // A transaction that spends the wallet's coins is the node paying out (the wallet's own sends, and the
            // funding transactions the node builds from wallet coins): its outputs to others and its fee leave the wallet.
            var (spent, allInputsOurs) = SpentFromWallet(wallet, tx.Transaction);
            var paysOut = tx.IsOwn || spent.Value > 0;

            // A channel's closing transaction, or a transaction spending a channel's funding output or one of its
            // closing transaction's outputs that is not a wallet coin (a sweep after a force close), closes the channel:
            // what it pays the wallet, less any wallet coins it spent for fees, leaves the Lightning side.

            var closed = closing.GetValueOrDefault(txid);
            foreach (var input in tx.Transaction.Inputs)
            {
                closed ??= funding.GetValueOrDefault(input.PrevOut)
                    ?? (closing.TryGetValue(input.PrevOut.Hash, out var swept) && !IsWalletOutput(wallet, input.PrevOut) ? swept : null);
            }

            if (closed is not null)
            {
                var mine = outputs.Where(o => wallet.IsMine(o.ScriptPubKey)).Aggregate(MilliSatoshi.Zero, (sum, o) => sum + Msat(o.Value));
                if (spent >= mine && !closing.ContainsKey(txid))
                {
                    // Wallet coins spent on a closing channel's output (a fee bump of its anchor): the wallet's net cost is a fee.
                    await Post(NodeLedgerEntries.OnChainFee(LedgerBooks.Node, txid.ToString(), spent - mine, now)).ConfigureAwait(false);
                    continue;
                }

                closedInWallet.Add(closed.ChannelId);
                var received = mine > spent ? mine - spent : MilliSatoshi.Zero;
                var closeId = "node:channel-close:" + Hex(closed.ChannelId);
                if (!_booked.Contains(closeId) || _closeTransactions.GetValueOrDefault(closeId) == txid.ToString())
                {
                    _closeTransactions[closeId] = txid.ToString();
                    await Post(NodeLedgerEntries.ChannelClose(Hex(closed.ChannelId), closed.LocalBalance, received, now, txid.ToString())).ConfigureAwait(false);
                }
                else
                {
                    await Post(NodeLedgerEntries.Sweep(txid.ToString(), received, now)).ConfigureAwait(false);
                }

                continue;
            }

            if (paysOut)
            {
                var batch = batchPayouts.GetValueOrDefault(txid.ToString());
                for (var i = 0; i < outputs.Count; i++)
                {
                    var output = outputs[i];
                    if (wallet.IsMine(output.ScriptPubKey))
                    {
                        continue;
                    }

                    var outpoint = new OutPoint(txid, i);
                    var amount = Msat(output.Value);
                    if (funding.ContainsKey(outpoint))
                    {
                        await Post(NodeLedgerEntries.ChannelFunding(outpoint.ToString(), amount, now)).ConfigureAwait(false);
                    }
                    else if (batch?.FirstOrDefault(p => PaysTo(p, output, wallet.Network)) is { } payout)
                    {
                        await Post(NodeLedgerEntries.StorePayout(new StoreId(payout.StoreId), payout.Id.ToString(), txid.ToString(), false, amount, MilliSatoshi.Zero, now)).ConfigureAwait(false);
                    }
                    else
                    {
                        await Post(NodeLedgerEntries.Withdrawal(outpoint.ToString(), amount, now)).ConfigureAwait(false);
                    }
                }

                // The fee the wallet bears: the transaction's fee when every input is the wallet's; otherwise (a fee bump
                // of a channel's anchor, say) what the wallet spent beyond its outputs to itself and to others.
                var outputTotal = outputs.Aggregate(MilliSatoshi.Zero, (sum, o) => sum + Msat(o.Value));
                MilliSatoshi? fee = tx.Fee is { } known && allInputsOurs ? Msat(known) : spent >= outputTotal ? spent - outputTotal : null;
                if (fee is { } paid)
                {
                    var payer = batch is { Count: > 0 } ? new StoreId(batch[0].StoreId) : LedgerBooks.Node;
                    await Post(NodeLedgerEntries.OnChainFee(payer, txid.ToString(), paid, now)).ConfigureAwait(false);
                }
                else
                {
                    items.Add(new ReconciliationItem("fee-unknown", txid.ToString(), ReconciliationAsset.OnChain, 0,
                        "Spends wallet coins together with inputs the wallet does not know, so its fee cannot be attributed."));
                }

                continue;
            }

            for (var i = 0; i < outputs.Count; i++)
            {
                var output = outputs[i];
                if (!wallet.IsMine(output.ScriptPubKey))
                {
                    continue;
                }

                var outpoint = new OutPoint(txid, i).ToString();
                if (_booked.Contains("node:deposit:" + outpoint) || _storeOwned.Contains(outpoint))
                {
                    continue;
                }

                var amount = Msat(output.Value);
                var address = output.ScriptPubKey.GetDestinationAddress(wallet.Network)?.ToString();
                var invoice = address is null ? null : await _repository.FindInvoiceByPaymentDestinationAsync(PaymentMethodId.OnChain, address, ct).ConfigureAwait(false);
                if (invoice is null)
                {
                    await Post(NodeLedgerEntries.Deposit(outpoint, amount, now)).ConfigureAwait(false);
                }
                else if (invoice.Payments.Any(p => p.Method == PaymentMethodId.OnChain && p.Reference == outpoint && p.Settled))
                {
                    _storeOwned.Add(outpoint);
                }
                else
                {
                    items.Add(new ReconciliationItem("invoice-output-unsettled", outpoint, ReconciliationAsset.OnChain, (long)amount.Value,
                        $"Pays invoice {invoice.Id}; booked when the payment settles ({(tx.Height is null ? "unconfirmed" : "awaiting confirmations")})."));
                }
            }
        }

        // ---- Lightning: received, sent, forwarded
        foreach (var record in await node.Invoices.ListAsync(ct).ConfigureAwait(false))
        {
            if (record.State != InvoiceState.Settled)
            {
                continue;
            }

            var hash = record.PaymentHash.ToString();
            if (_booked.Contains("node:ln-received:" + hash) || _storeOwned.Contains(hash))
            {
                continue;
            }

            var amount = record.SettledAmount ?? record.Amount ?? MilliSatoshi.Zero;
            var invoice = await _repository.FindInvoiceByPaymentDestinationAsync(PaymentMethodId.Lightning, hash, ct).ConfigureAwait(false);
            if (invoice is null)
            {
                await Post(NodeLedgerEntries.LightningReceived(hash, amount, record.ResolvedAt ?? now)).ConfigureAwait(false);
            }
            else if (invoice.Payments.Any(p => p.Method == PaymentMethodId.Lightning && p.Reference == hash && p.Settled))
            {
                _storeOwned.Add(hash);
            }
            else
            {
                items.Add(new ReconciliationItem("invoice-payment-unrecorded", hash, ReconciliationAsset.Lightning, (long)amount.Value,
                    $"Settled on the node for invoice {invoice.Id}; booked when the invoice records it."));
            }
        }

        foreach (var payment in await node.ListPaymentsAsync(ct).ConfigureAwait(false))
        {
            if (payment.State != OutgoingPaymentState.Succeeded)
            {
                continue;
            }

            var hash = payment.PaymentHash.ToString();
            var fee = payment.Fee ?? MilliSatoshi.Zero;
            var at = payment.CompletedAt ?? now;
            await Post(lightningPayouts.TryGetValue(hash, out var payout)
                ? NodeLedgerEntries.StorePayout(new StoreId(payout.StoreId), payout.Id.ToString(), hash, true, payment.Amount, fee, at)
                : NodeLedgerEntries.LightningSent(hash, payment.Amount, fee, at)).ConfigureAwait(false);
        }

        foreach (var forward in await node.ListForwardsAsync(ForwardStatus.Settled, cancellationToken: ct).ConfigureAwait(false))
        {
            await Post(NodeLedgerEntries.RoutingFee(forward.Key, forward.FeeEarned, forward.ResolvedAt ?? now)).ConfigureAwait(false);
        }

        // ---- the real channel balances, and what is in flight
        var channelTotal = MilliSatoshi.Zero;
        foreach (var c in channels)
        {
            if (closedInWallet.Contains(c.ChannelId) || _booked.Contains("node:channel-close:" + Hex(c.ChannelId)))
            {
                // Its close is in the wallet (and booked): the money is counted there.
                continue;
            }

            channelTotal += c.LocalBalance;
            if (c.State is ChannelState.ForceClosed or ChannelState.Closed)
            {
                items.Add(new ReconciliationItem("channel-closing", Hex(c.ChannelId), ReconciliationAsset.Lightning, 0,
                    $"Closed ({c.State}); its {c.LocalBalance.Value} msat count as channel balance until the closing or sweep transaction reaches the wallet."));
            }

            foreach (var h in node.GetHtlcs(c.ChannelId))
            {
                items.Add(new ReconciliationItem("htlc-in-flight", h.PaymentHash.ToString(), ReconciliationAsset.Lightning,
                    h.Direction == ChannelHtlcDirection.Outgoing ? -(long)h.Amount.Value : 0,
                    $"{h.Direction} HTLC {h.Id} of {h.Amount.Value} msat on channel {Hex(c.ChannelId)} ({h.State}); not in the channel balance until resolved."));
            }
        }

        return new Scan(Msat(balance.Total), channelTotal, items, posted);
    }

    /// <summary>What a transaction spends from the wallet's outputs (found through the wallet's transactions), and whether every input is the wallet's.</summary>
    private static (MilliSatoshi Spent, bool AllOurs) SpentFromWallet(Satflow.Bitcoin.Wallet.OnChainWallet wallet, Transaction tx)
    {
        var spent = MilliSatoshi.Zero;
        var all = true;
        foreach (var input in tx.Inputs)
        {
            var parent = tx.IsCoinBase ? null : wallet.GetTransaction(input.PrevOut.Hash);
            if (parent is not null && input.PrevOut.N < parent.Transaction.Outputs.Count && wallet.IsMine(parent.Transaction.Outputs[(int)input.PrevOut.N].ScriptPubKey))
            {
                spent += Msat(parent.Transaction.Outputs[(int)input.PrevOut.N].Value);
            }
            else
            {
                all = false;
            }
        }

        return (spent, all);
    }

    /// <summary>Notes a posted entry: its id, and the wallet transaction it classified (so the transaction is never classified again).</summary>
    private void Remember(JournalEntry entry)
    {
        _booked.Add(entry.Id);
        if (NodeLedgerEntries.CloseTransactionOf(entry) is { } closingTxId)
        {
            _closeTransactions[entry.Id] = closingTxId;
            _handledTransactions.Add(closingTxId);
            return;
        }

        var parts = entry.Id.Split(':');
        var txid = parts switch
        {
            ["node", "deposit" or "withdrawal" or "funding", var outpoint] => outpoint.Split('-')[0],
            ["node", "sweep", var id] => id,
            ["fee", var id] => id,
            ["payout", _, var reference] when reference.Length == 64 && entry.Postings.Any(p => p.Account.Kind == LedgerAccountKind.OnChainWallet) => reference,
            _ => null,
        };
        if (txid is not null)
        {
            _handledTransactions.Add(txid);
        }
    }

    private static bool IsWalletOutput(Satflow.Bitcoin.Wallet.OnChainWallet wallet, OutPoint outpoint)
        => wallet.GetTransaction(outpoint.Hash) is { } parent && outpoint.N < parent.Transaction.Outputs.Count && wallet.IsMine(parent.Transaction.Outputs[(int)outpoint.N].ScriptPubKey);

    private static bool PaysTo(Payout payout, TxOut output, Network network)
    {
        try
        {
            return BitcoinAddress.Create(payout.Destination.Value, network).ScriptPubKey == output.ScriptPubKey && payout.OnChainAmount == output.Value;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private async Task<(Dictionary<string, Payout> Lightning, Dictionary<string, List<Payout>> Batches)> ListPayoutsAsync(CancellationToken ct)
    {
        var lightning = new Dictionary<string, Payout>(StringComparer.OrdinalIgnoreCase);
        var batches = new Dictionary<string, List<Payout>>(StringComparer.OrdinalIgnoreCase);
        if (_payouts is null)
        {
            return (lightning, batches);
        }

        var payouts = await _payouts.ListPayoutsAsync(new PayoutQuery { States = [PayoutState.InProgress, PayoutState.Completed] }, ct).ConfigureAwait(false);
        foreach (var p in payouts)
        {
            if (p.Attempt is not { } attempt)
            {
                continue;
            }

            if (p.Method == PayoutMethod.Lightning)
            {
                lightning.TryAdd(attempt.Reference, p);
            }
            else
            {
                if (!batches.TryGetValue(attempt.Reference, out var list))
                {
                    batches[attempt.Reference] = list = [];
                }

                list.Add(p);
            }
        }

        return (lightning, batches);
    }

    private async Task LoadBookedAsync(CancellationToken ct)
    {
        if (_loaded)
        {
            return;
        }

        const int page = 1000;
        for (var skip = 0; ; skip += page)
        {
            var entries = await _repository.ListJournalEntriesAsync(null, skip, page, ct).ConfigureAwait(false);
            foreach (var e in entries)
            {
                Remember(e);
            }

            if (entries.Count < page)
            {
                break;
            }
        }

        _loaded = true;
    }
}

/// <summary>Books the node's balance movements in the ledger every few seconds (sandbox and production modes).</summary>
public sealed class NodeLedgerService : BackgroundService
{
    private readonly NodeReconciliation _reconciliation;
    private readonly TimeProvider _time;
    private readonly ILogger<NodeLedgerService> _log;

    /// <summary>Creates the service.</summary>
    /// <param name="reconciliation">The booking service.</param>
    /// <param name="time">Clock for the timer.</param>
    /// <param name="log">Logger.</param>
    public NodeLedgerService(NodeReconciliation reconciliation, TimeProvider time, ILogger<NodeLedgerService> log)
    {
        _reconciliation = reconciliation;
        _time = time;
        _log = log;
    }

    /// <summary>How often the node is scanned.</summary>
    public static TimeSpan Interval { get; } = TimeSpan.FromSeconds(2);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        try
        {
            do
            {
                try
                {
                    var posted = await _reconciliation.SyncAsync(stoppingToken).ConfigureAwait(false);
                    if (posted > 0)
                    {
                        _log.LogInformation("Ledger: booked {Count} node balance movements", posted);
                    }
                }
                catch (MerchantException e) when (e.Reason == MerchantErrorReason.PaymentMethodUnavailable)
                {
                    _log.LogDebug("Ledger: the node is not running ({Message})", e.Message);
                }
                catch (Exception e) when (e is MerchantException or PayoutsException or PaymentsException)
                {
                    _log.LogError(e, "Ledger: booking the node's movements failed");
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
