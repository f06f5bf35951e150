using NBitcoin;
using Satflow.Bitcoin.Chain;
using Satflow.Bitcoin.Wallet;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;
using Satflow.Node;
using Satflow.Payments;
using Satflow.Payouts;

namespace Satflow.Server.Hosting;

/// <summary>
/// Pays Lightning payouts (BOLT 11, pasted or through LNURL-withdraw) with the in-process <see cref="LightningNode"/>.
/// The node records a payment under its hash before any HTLC leaves and refuses a hash that is pending or paid, so
/// <see cref="GetStatusAsync"/> answers from those durable records: <see cref="LightningPaymentState.Unknown"/> only
/// for a hash the node never started paying.
/// </summary>
public sealed class NodeLightningPayoutSender : ILightningPayoutSender
{
    private readonly LightningNode _node;

    /// <summary>Creates the sender.</summary>
    /// <param name="node">The node.</param>
    public NodeLightningPayoutSender(LightningNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        _node = node;
    }

    /// <inheritdoc />
    public async Task<LightningPaymentStatus> PayAsync(LightningPayoutRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (await _node.LookupPaymentAsync(request.PaymentHash, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            // Already started (a retry after a crash, or a concurrent run): never send it again.
            return Map(existing);
        }

        OutgoingPaymentRecord record;
        try
        {
            var hasAmount = Bolt11Invoice.TryDecode(request.Invoice, out var invoice, out _) && invoice!.Amount is not null;
            record = await _node.PayInvoiceAsync(request.Invoice, hasAmount ? null : request.Amount, cancellationToken).ConfigureAwait(false);
        }
        catch (NodeOperationRefusedException e)
        {
            // Refused before anything was recorded or sent (bad or expired invoice, no channel): the payment failed for good,
            // unless the refusal is because the hash is already known to the node.
            return await _node.LookupPaymentAsync(request.PaymentHash, cancellationToken).ConfigureAwait(false) is { } known
                ? Map(known)
                : new LightningPaymentStatus(LightningPaymentState.Failed, FailureReason: e.Message);
        }

        if (record.State == OutgoingPaymentState.Pending)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(TimeSpan.FromSeconds(30));
            try
            {
                record = await _node.WaitForPaymentAsync(record.PaymentHash, wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Still in flight: the next run reconciles it.
            }
        }

        return Map(record);
    }

    /// <inheritdoc />
    public async Task<LightningPaymentStatus> GetStatusAsync(PaymentHash paymentHash, CancellationToken cancellationToken)
        => await _node.LookupPaymentAsync(paymentHash, cancellationToken).ConfigureAwait(false) is { } record
            ? Map(record)
            : new LightningPaymentStatus(LightningPaymentState.Unknown);

    private static LightningPaymentStatus Map(OutgoingPaymentRecord record) => record.State switch
    {
        OutgoingPaymentState.Succeeded => new LightningPaymentStatus(LightningPaymentState.Succeeded, record.Preimage, record.Fee),
        OutgoingPaymentState.Failed => new LightningPaymentStatus(LightningPaymentState.Failed, FailureReason: record.FailureMessage ?? record.FailureReason?.ToString() ?? "failed"),
        _ => new LightningPaymentStatus(LightningPaymentState.Pending),
    };
}

/// <summary>
/// Pays on-chain payout batches from the node's <see cref="OnChainWallet"/>: one signed transaction per batch, built
/// without broadcasting and with its inputs leased (so no other spend takes them) until it is broadcast and mined.
/// Re-broadcasting the same transaction is harmless; a transaction the backend already has counts as broadcast.
/// </summary>
public sealed class WalletOnChainPayoutSender : IOnChainPayoutSender
{
    private const int LeaseBlocks = 1008;
    private readonly OnChainWallet _wallet;
    private readonly IBroadcaster _broadcaster;
    private readonly IFeeEstimator _fees;

    /// <summary>Creates the sender.</summary>
    /// <param name="wallet">The node's wallet.</param>
    /// <param name="broadcaster">Where transactions go.</param>
    /// <param name="fees">The fee estimator (normal target).</param>
    public WalletOnChainPayoutSender(OnChainWallet wallet, IBroadcaster broadcaster, IFeeEstimator fees)
    {
        ArgumentNullException.ThrowIfNull(wallet);
        ArgumentNullException.ThrowIfNull(broadcaster);
        ArgumentNullException.ThrowIfNull(fees);
        _wallet = wallet;
        _broadcaster = broadcaster;
        _fees = fees;
    }

    /// <inheritdoc />
    public async Task<Transaction> CreateTransactionAsync(PayoutBatchId batchId, IReadOnlyList<OnChainPayoutOutput> outputs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        var rate = await _fees.EstimateFeeRateAsync(ConfirmationTarget.Normal, cancellationToken).ConfigureAwait(false);
        // A WalletException (not enough funds...) is a sender error for the processor: the batch is retried on the next run.
        var funded = _wallet.CreateFundedPsbt([.. outputs.Select(o => new PaymentOutput(o.Address.ScriptPubKey, o.Amount))], rate, rbf: true, leaseBlocks: LeaseBlocks);
        _wallet.SignPsbt(funded.Psbt);
        funded.Psbt.Finalize();
        return funded.Psbt.ExtractTransaction();
    }

    /// <inheritdoc />
    public async Task BroadcastAsync(Transaction transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        try
        {
            await _broadcaster.BroadcastAsync(transaction, cancellationToken).ConfigureAwait(false);
        }
        catch (BroadcastRejectedException e) when (e.Code == -27 || e.Message.Contains("already", StringComparison.OrdinalIgnoreCase))
        {
            // Already in the mempool or the chain: broadcast.
        }
    }

    /// <inheritdoc />
    public Task<OnChainTransactionStatus> GetStatusAsync(uint256 txId, CancellationToken cancellationToken)
    {
        var tx = _wallet.GetTransaction(txId);
        if (tx is null)
        {
            return Task.FromResult(new OnChainTransactionStatus(OnChainTransactionState.Unknown));
        }

        var tip = _wallet.Tip?.Height ?? -1;
        return Task.FromResult(tx.Height is int h && tip >= h
            ? new OnChainTransactionStatus(OnChainTransactionState.Confirmed, tip - h + 1)
            : new OnChainTransactionStatus(OnChainTransactionState.InMempool));
    }
}
