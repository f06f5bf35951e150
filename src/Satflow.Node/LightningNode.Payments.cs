using Satflow.Lightning.Invoices;
using Satflow.Lightning.Payments;
using Satflow.Lightning.Types;
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
    /// <remarks>
    /// The invoice carries a route hint (<c>r</c> field) for each usable channel the network graph does not know
    /// (unannounced channels), at most <see cref="MaxInvoiceRouteHints"/> of them with the most inbound liquidity, so
    /// that a payer who knows only the public graph can reach us through the channel's peer.
    /// </remarks>
    public Task<InvoiceRecord> CreateInvoiceAsync(MilliSatoshi? amount, string description, ulong expirySeconds = Bolt11Invoice.DefaultExpirySeconds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(description);
        return CreateInvoiceAsync(new InvoiceRequest { Amount = amount, Description = description, ExpirySeconds = expirySeconds }, cancellationToken);
    }

    /// <summary>
    /// Creates and stores a BOLT 11 invoice that commits to a description by its hash (<c>h</c> field), as LNURL-pay
    /// (LUD-06) requires: the hash of the LNURL metadata. Route hints as for <see cref="CreateInvoiceAsync(MilliSatoshi?, string, ulong, CancellationToken)"/>.
    /// </summary>
    /// <param name="amount">The amount (null: any amount).</param>
    /// <param name="descriptionHash">SHA-256 of the description.</param>
    /// <param name="expirySeconds">How long it stays payable.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    public Task<InvoiceRecord> CreateInvoiceAsync(MilliSatoshi? amount, Bytes32 descriptionHash, ulong expirySeconds = Bolt11Invoice.DefaultExpirySeconds, CancellationToken cancellationToken = default) =>
        CreateInvoiceAsync(new InvoiceRequest { Amount = amount, DescriptionHash = descriptionHash, ExpirySeconds = expirySeconds }, cancellationToken);

    private async Task<InvoiceRecord> CreateInvoiceAsync(InvoiceRequest request, CancellationToken cancellationToken)
    {
        IReadOnlyList<IReadOnlyList<RouteHintHop>> hints;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            hints = PrivateRouteHints();
        }
        finally
        {
            _gate.Release();
        }
        return await Invoices.CreateAsync(request with { MinFinalCltvExpiryDelta = _options.FinalCltvExpiryDelta, RouteHints = hints }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Pays a BOLT 11 invoice through the network with the default limits; see
    /// <see cref="PayInvoiceAsync(string, MilliSatoshi?, PaymentOptions, CancellationToken)"/>.
    /// </summary>
    /// <param name="bolt11">The invoice.</param>
    /// <param name="amount">The amount when the invoice has none (otherwise null or equal to it).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The payment record: pending, or already settled or failed.</returns>
    /// <exception cref="NodeOperationRefusedException">Bad or expired invoice, no route to the payee, or the hash was already paid.</exception>
    public Task<OutgoingPaymentRecord> PayInvoiceAsync(string bolt11, MilliSatoshi? amount = null, CancellationToken cancellationToken = default) =>
        PayInvoiceAsync(bolt11, amount, PaymentOptions.Default, cancellationToken);

    /// <summary>
    /// Pays a BOLT 11 invoice through the network: finds routes (the invoice's route hints included; split into
    /// several parts when the payee supports <c>basic_mpp</c> and no single route has the liquidity), records the
    /// payment as pending, sends the parts and returns. Failed parts are retried on other routes until the timeout;
    /// the outcome arrives later (<see cref="WaitForPaymentAsync"/>, <see cref="LookupPaymentAsync"/>).
    /// </summary>
    /// <param name="bolt11">The invoice.</param>
    /// <param name="amount">The amount when the invoice has none (otherwise null or equal to it).</param>
    /// <param name="options">Fee limit, timeout, attempt and part limits.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The payment record: pending, or already settled or failed.</returns>
    /// <exception cref="NodeOperationRefusedException">Bad or expired invoice, no route to the payee, or the hash was already paid.</exception>
    public async Task<OutgoingPaymentRecord> PayInvoiceAsync(string bolt11, MilliSatoshi? amount, PaymentOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
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
        var hints = invoice.RouteHints
            .Select(h => (IReadOnlyList<Lightning.Routing.RouteHintHop>)[.. h.Select(x => new Lightning.Routing.RouteHintHop(x.NodeId, x.ShortChannelId, x.FeeBaseMsat, x.FeeProportionalMillionths, x.CltvExpiryDelta))])
            .ToList();
        var mpp = Lightning.Features.FeatureRegistry.BasicMpp.IsSetIn(invoice.Features);
        return await SendPaymentAsync(invoice.PayeeNodeId, invoice.PaymentHash, toPay, invoice.PaymentSecret, null, invoice.Encoded, delta, cancellationToken, hints, mpp, options).ConfigureAwait(false);
    }

    /// <summary>Sends a spontaneous payment (the preimage travels in onion TLV 5482373484) with the default limits.</summary>
    /// <param name="destination">The recipient (any node the network graph or our channels reach).</param>
    /// <param name="amount">The amount.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The payment record (pending, or already settled or failed).</returns>
    /// <exception cref="NodeOperationRefusedException">No route to the recipient.</exception>
    public Task<OutgoingPaymentRecord> KeysendAsync(NodeId destination, MilliSatoshi amount, CancellationToken cancellationToken = default) =>
        KeysendAsync(destination, amount, PaymentOptions.Default, cancellationToken);

    /// <summary>Sends a spontaneous payment through the network (one part; retried on other routes until the timeout).</summary>
    /// <param name="destination">The recipient.</param>
    /// <param name="amount">The amount.</param>
    /// <param name="options">Fee limit, timeout and attempt limit.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The payment record (pending, or already settled or failed).</returns>
    /// <exception cref="NodeOperationRefusedException">No route to the recipient.</exception>
    public async Task<OutgoingPaymentRecord> KeysendAsync(NodeId destination, MilliSatoshi amount, PaymentOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var preimage = new PaymentPreimage(RandomBytes32());
        return await SendPaymentAsync(destination, preimage.Hash, amount, null, preimage, null, _options.FinalCltvExpiryDelta, cancellationToken, [], false, options).ConfigureAwait(false);
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

    private async Task<OutgoingPaymentRecord> SendPaymentAsync(NodeId destination, PaymentHash hash, MilliSatoshi amount, PaymentSecret? secret, PaymentPreimage? keysend, string? bolt11, uint finalDelta,
        CancellationToken cancellationToken, IReadOnlyList<IReadOnlyList<Lightning.Routing.RouteHintHop>> hints, bool mpp, PaymentOptions options)
    {
        if (amount.Value == 0 || amount > MilliSatoshi.MaxMoney)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "A payment needs a positive amount (at most 21 million BTC).");
        }
        if (destination == NodeId)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "This node does not pay itself.");
        }
        if (options.Timeout is { } t && t <= TimeSpan.Zero || options.MaxAttempts < 1 || options.MaxParts < 1)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "The timeout, attempt and part limits must be positive.");
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_height < 0)
            {
                throw new NodeOperationRefusedException(NodeErrorReason.ChannelNotReady, "The node has not seen the chain yet.");
            }
            // The padding SendPartUnlockedAsync adds to every hop (FinalCltvPadding) is not part of the route's deltas.
            var parameters = new PaymentParameters(destination, hash, secret, amount, checked((int)finalDelta), _deps.Time.GetUtcNow() + (options.Timeout ?? PaymentOptions.DefaultTimeout),
                options.FeeLimitFor(amount), options.MaxAttempts, mpp && secret is not null && options.MaxParts > 1, options.MaxParts, hints.Count == 0 ? null : hints,
                MaxCltvExpiryDelta: 2016 - (int)FinalCltvPadding);
            return await StartSessionUnlockedAsync(parameters, keysend, bolt11, cancellationToken).ConfigureAwait(false);
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
