using Satflow.Lightning.Channels;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Node.Payments;
using Satflow.Payments;
using Satflow.Storage;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>Creates and stores a BOLT 11 invoice signed by the node key.</summary>
    /// <param name="amount">The amount (null: any amount).</param>
    /// <param name="description">The description.</param>
    /// <param name="expirySeconds">How long it stays payable.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    public Task<InvoiceRecord> CreateInvoiceAsync(MilliSatoshi? amount, string description, ulong expirySeconds = Bolt11Invoice.DefaultExpirySeconds, CancellationToken cancellationToken = default) =>
        Invoices.CreateAsync(amount, description, expirySeconds, _options.FinalCltvExpiryDelta, cancellationToken);

    /// <summary>
    /// Pays a BOLT 11 invoice of a direct peer: records the payment as pending, offers the HTLC and returns. The outcome
    /// arrives as the peer answers (<see cref="WaitForPaymentAsync"/>, <see cref="LookupPaymentAsync"/>).
    /// </summary>
    /// <param name="bolt11">The invoice.</param>
    /// <param name="amount">The amount when the invoice has none (otherwise null or equal to it).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The payment record: pending, or failed when no channel could carry it.</returns>
    /// <exception cref="NodeOperationRefusedException">Bad or expired invoice, no channel with the payee, or the hash was already paid.</exception>
    public async Task<OutgoingPaymentRecord> PayInvoiceAsync(string bolt11, MilliSatoshi? amount = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bolt11);
        if (!Bolt11Invoice.TryDecode(bolt11, out var invoice, out var error))
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "Not a valid BOLT 11 invoice: " + error!.Message, error);
        }
        if (invoice!.Network != _options.Network)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, $"The invoice is for {invoice.Network}, this node runs on {_options.Network}.");
        }
        if (invoice.IsExpired(_deps.Time))
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvoiceExpired, $"The invoice expired at {invoice.ExpiresAt:O}.");
        }
        if (invoice.Amount is { } fixedAmount && amount is { } asked && asked != fixedAmount)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, $"The invoice asks for {fixedAmount.Value} msat, not {asked.Value}.");
        }
        var toPay = invoice.Amount ?? amount ?? throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "The invoice has no amount: give one.");
        var delta = (uint)Math.Min(invoice.MinFinalCltvExpiryDelta, 10_000);
        return await SendPaymentAsync(invoice.PayeeNodeId, invoice.PaymentHash, toPay, invoice.PaymentSecret, null, invoice.Encoded, delta, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a spontaneous payment to a direct peer (the preimage travels in onion TLV 5482373484).</summary>
    /// <param name="destination">The peer.</param>
    /// <param name="amount">The amount.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The payment record (pending, or failed when no channel could carry it).</returns>
    public async Task<OutgoingPaymentRecord> KeysendAsync(NodeId destination, MilliSatoshi amount, CancellationToken cancellationToken = default)
    {
        var preimage = new PaymentPreimage(RandomBytes32());
        return await SendPaymentAsync(destination, preimage.Hash, amount, null, preimage, null, _options.FinalCltvExpiryDelta, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits for a payment's outcome (returns at once when it is already settled or failed).</summary>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <exception cref="NodeOperationRefusedException">No such payment.</exception>
    public async Task<OutgoingPaymentRecord> WaitForPaymentAsync(PaymentHash paymentHash, CancellationToken cancellationToken = default)
    {
        Task<OutgoingPaymentRecord> task;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var record = await Payments.LookupAsync(paymentHash, cancellationToken).ConfigureAwait(false)
                ?? throw new NodeOperationRefusedException(NodeErrorReason.NotFound, $"No payment {paymentHash}.");
            if (record.State != OutgoingPaymentState.Pending)
            {
                return record;
            }
            if (!_paymentWaiters.TryGetValue(paymentHash, out var waiter))
            {
                waiter = new TaskCompletionSource<OutgoingPaymentRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
                _paymentWaiters[paymentHash] = waiter;
            }
            task = waiter.Task;
        }
        finally
        {
            _gate.Release();
        }
        return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every outgoing payment.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    public Task<IReadOnlyList<OutgoingPaymentRecord>> ListPaymentsAsync(CancellationToken cancellationToken = default) => Payments.ListAsync(cancellationToken);

    /// <summary>One outgoing payment, or null.</summary>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public Task<OutgoingPaymentRecord?> LookupPaymentAsync(PaymentHash paymentHash, CancellationToken cancellationToken = default) => Payments.LookupAsync(paymentHash, cancellationToken);

    /// <summary>Blocks added to the final CLTV so a recipient a few blocks ahead of us still accepts the payment.</summary>
    internal const uint FinalCltvPadding = 6;

    private async Task<OutgoingPaymentRecord> SendPaymentAsync(NodeId destination, PaymentHash hash, MilliSatoshi amount, PaymentSecret? secret, PaymentPreimage? keysend, string? bolt11, uint finalDelta, CancellationToken cancellationToken)
    {
        if (amount.Value == 0)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "A payment needs a positive amount.");
        }
        if (destination == NodeId)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "This node does not pay itself.");
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var candidates = _channels.Values.Where(s => s.Peer == destination).ToList();
            if (candidates.Count == 0)
            {
                throw new NodeOperationRefusedException(NodeErrorReason.NoRoute, $"No channel with {destination}: this node pays direct peers only.");
            }
            if (_height < 0)
            {
                throw new NodeOperationRefusedException(NodeErrorReason.ChannelNotReady, "The node has not seen the chain yet.");
            }
            var usable = candidates.Where(s => s.Channel.State == ChannelState.Normal && !s.Channel.IsOffline)
                .OrderByDescending(s => s.Channel.AvailableToSend.Value).FirstOrDefault();
            OutgoingPaymentRecord record;
            try
            {
                record = await Payments.BeginAsync(hash, amount, destination, bolt11, cancellationToken).ConfigureAwait(false);
            }
            catch (DuplicatePaymentException e)
            {
                throw new NodeOperationRefusedException(NodeErrorReason.AlreadyPaid, $"Payment hash {hash} is already {e.ExistingState.ToString().ToLowerInvariant()}: refusing to pay it twice.", e);
            }
            if (usable is null)
            {
                return await Payments.FailAsync(hash, PaymentFailureReason.NoRoute, $"No usable channel with {destination} (not ready, offline or closing).", cancellationToken).ConfigureAwait(false);
            }
            // Padding (added by SendPartUnlockedAsync): the recipient may already have seen blocks we have not (each
            // node follows the chain on its own poll); without it a payment made right after blocks were mined is
            // refused as "final CLTV too soon" (seen in the two-process CLI test). LND pads by 3; we use the anti-reorg depth.
            var route = new Route(NodeId, [new RouteHop(usable.ShortChannelId ?? default, destination, amount, MilliSatoshi.Zero, checked((int)finalDelta))], amount);
            try
            {
                await SendPartUnlockedAsync(new PartRequest(hash, route, secret, amount, keysend, 0), cancellationToken).ConfigureAwait(false);
            }
            catch (NodeOperationRefusedException e)
            {
                var reason = e.Reason == NodeErrorReason.InsufficientFunds ? PaymentFailureReason.InsufficientBalance : PaymentFailureReason.NoRoute;
                return await Payments.FailAsync(hash, reason, e.Message, cancellationToken).ConfigureAwait(false);
            }
            return record;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<OutgoingPaymentRecord?> ResolvePaymentAsync(PaymentHash hash, PaymentPreimage? preimage, string? failure, List<KvOperation> ops, CancellationToken cancellationToken, MilliSatoshi? fee = null, PaymentFailureReason failureReason = PaymentFailureReason.RecipientRejected)
    {
        var current = await Payments.LookupAsync(hash, cancellationToken).ConfigureAwait(false);
        if (current is not { State: OutgoingPaymentState.Pending })
        {
            return null;
        }
        var now = _deps.Time.GetUtcNow();
        var final = preimage is { } p && p.Hash == hash
            ? current with { State = OutgoingPaymentState.Succeeded, Preimage = p, Fee = fee ?? MilliSatoshi.Zero, CompletedAt = now }
            : current with
            {
                State = OutgoingPaymentState.Failed,
                FailureReason = failureReason,
                FailureMessage = failure ?? "The payment failed.",
                CompletedAt = now,
            };
        ops.Add(KvOperation.Write(PaymentTracker.PrimaryNamespace, PaymentTracker.SecondaryNamespace, InvoiceService.KeyOf(hash), final.Encode()));
        return final;
    }

    private void CompletePayment(OutgoingPaymentRecord record)
    {
        if (_paymentWaiters.Remove(record.PaymentHash, out var waiter))
        {
            waiter.TrySetResult(record);
        }
    }
}
