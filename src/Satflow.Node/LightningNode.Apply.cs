using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Node.Payments;
using Satflow.Node.Persistence;
using Satflow.Payments;
using Satflow.Storage;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>
    /// Applies what a channel operation produced: monitor updates go to the monitor; the channel, the monitor and every
    /// record the events change are written in ONE batch; only then are the messages sent and the monitor's
    /// transactions broadcast. Events may lead to more channel operations (settling a received HTLC, answering a
    /// shutdown, signing), each applied the same way.
    /// </summary>
    private async Task ApplyAsync(ChannelSlot slot, ChannelOutput output, IReadOnlyList<KvOperation> extra, CancellationToken cancellationToken, IReadOnlyList<LightningMessage>? after = null, bool deferrable = false)
    {
        // Without AutoFlush, local updates (add, fulfill, fail) wait in the slot's outbox: nothing was sent, so nothing
        // depends on them yet; the next write of the channel (at the latest the flush that signs them) carries them
        // all in one batch, before their messages go out.
        var ops = new List<KvOperation>(slot.DeferredOps);
        ops.AddRange(extra);
        slot.DeferredOps.Clear();
        var broadcasts = new List<MonitorBroadcast>();
        var monitorEvents = new List<MonitorEvent>();
        foreach (var update in output.MonitorUpdates)
        {
            var result = slot.Monitor.ApplyUpdate(update);
            broadcasts.AddRange(result.Broadcasts);
            monitorEvents.AddRange(result.Events);
        }
        var followUps = new List<Func<Task>>();
        foreach (var e in output.Events)
        {
            switch (e)
            {
                case HtlcReceived received:
                    var record = new ReceivedHtlcRecord(received.Id, received.Amount, received.PaymentHash, received.CltvExpiry, received.Onion) { PathKey = received.PathKey };
                    _received[(slot.ChannelId, received.Id)] = record;
                    ops.Add(NodeStore.WriteReceivedHtlc(slot.ChannelId, record));
                    break;
                case HtlcFulfilled fulfilled:
                    await OnOfferedResolvedAsync(slot, fulfilled.Id, fulfilled.Preimage, null, ops, followUps, cancellationToken).ConfigureAwait(false);
                    break;
                case HtlcFailed failed:
                    await OnOfferedResolvedAsync(slot, failed.Id, null, failed, ops, followUps, cancellationToken).ConfigureAwait(false);
                    break;
                case ChannelReadyEvent ready:
                    slot.ShortChannelId = ready.ShortChannelId;
                    Log.ChannelNote(_logger, slot.ChannelId, $"ready as {ready.ShortChannelId}");
                    break;
                case ShutdownRequested:
                    followUps.Add(() => ApplyAsync(slot, slot.Channel.Shutdown(_deps.FundingWallet.GetSweepScript()), [], cancellationToken));
                    break;
                case ChannelClosed closed:
                    Log.ChannelNote(_logger, slot.ChannelId, $"closed cooperatively by {closed.ClosingTransaction.GetHash()}");
                    followUps.Add(() => BroadcastAsync(closed.ClosingTransaction, "cooperative close", cancellationToken));
                    followUps.Add(() => WriteBackupAsync(cancellationToken));
                    break;
                case LocalDataLoss:
                    Log.ChannelNote(_logger, slot.ChannelId, "the peer proved we lost state; waiting for it to force close");
                    break;
            }
        }
        var completions = TakeAfterCommit();
        if (deferrable && !_options.AutoFlush && (after is null || after.Count == 0))
        {
            slot.DeferredOps.AddRange(ops);
            slot.DeferredMessages.AddRange(output.Messages);
            slot.DeferredMonitorChange |= output.MonitorUpdates.Count > 0;
            slot.DeferredBroadcasts.AddRange(broadcasts);
            foreach (var completion in completions)
            {
                await completion().ConfigureAwait(false);
            }
            await HandleMonitorEventsAsync(slot, monitorEvents, cancellationToken).ConfigureAwait(false);
            foreach (var followUp in followUps)
            {
                await followUp().ConfigureAwait(false);
            }
            return;
        }
        var messages = slot.DeferredMessages.Concat(output.Messages).ToList();
        var monitorChanged = slot.DeferredMonitorChange || output.MonitorUpdates.Count > 0;
        broadcasts.InsertRange(0, slot.DeferredBroadcasts);
        slot.DeferredMessages.Clear();
        slot.DeferredBroadcasts.Clear();
        slot.DeferredMonitorChange = false;
        if (messages.Count == 0 && !monitorChanged && output.Events.Count == 0 && ops.Count == 0 && (after is null || after.Count == 0))
        {
            // Nothing to send, no monitor update, no event: only an update the peer proposed and has not committed
            // (update_add/fulfill/fail received). BOLT 2 forgets those on reconnection, so they need no write; the
            // channel is written with the commitment that makes them binding.
            slot.UnpersistedChanges = true;
        }
        else
        {
            // The monitor only changes with its updates: rewriting it for every update_add_htlc would cost O(history).
            ops.AddRange(slot.Persist(monitorChanged));
            await _store.CommitAsync(ops, cancellationToken).ConfigureAwait(false);
            slot.UnpersistedChanges = false;
        }

        foreach (var message in messages)
        {
            await SendAsync(slot.Peer, message, cancellationToken).ConfigureAwait(false);
        }
        foreach (var message in after ?? [])
        {
            await SendAsync(slot.Peer, message, cancellationToken).ConfigureAwait(false);
        }
        foreach (var broadcast in broadcasts)
        {
            await BroadcastAsync(broadcast.Transaction, broadcast.Purpose.ToString(), cancellationToken).ConfigureAwait(false);
        }
        foreach (var completion in completions)
        {
            await completion().ConfigureAwait(false);
        }
        await HandleMonitorEventsAsync(slot, monitorEvents, cancellationToken).ConfigureAwait(false);
        foreach (var followUp in followUps)
        {
            await followUp().ConfigureAwait(false);
        }
        await DecideReceivedAsync(slot, cancellationToken).ConfigureAwait(false);
        if (_options.AutoFlush && slot.Channel.HasChangesToSign)
        {
            await ApplyAsync(slot, slot.Channel.SignCommitment(), [], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Signs a commitment on every channel with unsigned updates (one <c>commitment_signed</c> covers all of them).
    /// With <see cref="NodeOptions.AutoFlush"/> off, the host (or the test harness) calls this to batch updates.
    /// </summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>How many commitments were signed.</returns>
    public async Task<int> FlushAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var signed = 0;
            foreach (var slot in _channels.Values.OrderBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal).ToList())
            {
                await DecideReceivedAsync(slot, cancellationToken).ConfigureAwait(false);
                if (slot.Channel.HasChangesToSign)
                {
                    await ApplyAsync(slot, slot.Channel.SignCommitment(), [], cancellationToken).ConfigureAwait(false);
                    signed++;
                }
                else if (slot.HasDeferred)
                {
                    await ApplyAsync(slot, ChannelOutput.Empty, [], cancellationToken).ConfigureAwait(false);
                    signed++;
                }
            }
            return signed;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Whether any channel has updates waiting for a signature (the harness flushes until none has).</summary>
    public bool HasChangesToSign => _channels.Values.Any(s => s.Channel.HasChangesToSign || s.HasDeferred);

    private async Task BroadcastAsync(NBitcoin.Transaction transaction, string purpose, CancellationToken cancellationToken)
    {
        try
        {
            await _deps.Broadcaster.BroadcastAsync(transaction, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Bitcoin.Chain.BroadcastRejectedException or Bitcoin.Chain.ChainSourceException)
        {
            // Claims are offered again at every block; a refusal now (not yet mature, already spent) is expected.
            Log.BroadcastFailed(_logger, transaction.GetHash(), purpose, e.Message);
        }
    }

    /// <summary>Settles or fails the committed incoming HTLCs of a channel that are still undecided.</summary>
    private async Task DecideReceivedAsync(ChannelSlot slot, CancellationToken cancellationToken)
    {
        // ApplyAsync calls back into this method; the outer call keeps deciding until nothing is left, so a nested
        // call returns at once instead of settling the same HTLCs again (which made settling quadratic in the number
        // of HTLCs in flight — found by bench/Satflow.PaymentsLoad).
        if (slot.DecidingReceived)
        {
            return;
        }
        slot.DecidingReceived = true;
        try
        {
            while (true)
            {
                if (slot.Channel.IsOffline || slot.Channel.State is not (ChannelState.Normal or ChannelState.ShuttingDown))
                {
                    return;
                }
                // Incoming HTLCs we forward wait for their outgoing HTLC; the rest are decided now.
                var pending = _received.Where(r => r.Key.Item1 == slot.ChannelId && !IsForwardPending(r.Key.Item1, r.Key.Item2) && !IsMppHeld(r.Key.Item1, r.Key.Item2))
                    .OrderBy(r => r.Key.Item2).Select(r => r.Value).ToList();
                if (pending.Count == 0)
                {
                    return;
                }
                foreach (var htlc in pending)
                {
                    if (!_received.ContainsKey((slot.ChannelId, htlc.HtlcId))
                        || slot.Channel.IsOffline
                        || slot.Channel.State is not (ChannelState.Normal or ChannelState.ShuttingDown))
                    {
                        continue;
                    }
                    var decision = await DecideAsync(slot, htlc, cancellationToken).ConfigureAwait(false);
                    if (decision.Pending)
                    {
                        continue;
                    }
                    ChannelOutput output;
                    try
                    {
                        output = decision switch
                        {
                            { Preimage: { } preimage } => slot.Channel.FulfillHtlc(htlc.HtlcId, preimage),
                            { Malformed: { } malformed } => slot.Channel.FailMalformedHtlc(htlc.HtlcId, malformed.Sha256, malformed.Code),
                            { Attribution: { } attribution } => slot.Channel.FailHtlc(htlc.HtlcId, decision.FailurePacket!, attribution),
                            _ => slot.Channel.FailHtlc(htlc.HtlcId, decision.FailurePacket!),
                        };
                    }
                    catch (ChannelUpdateRefusedException e) when (e.Reason == ChannelRefusalReason.UnknownHtlc)
                    {
                        // Already settled before a crash (the channel state says so): only the bookkeeping is left.
                        output = ChannelOutput.Empty;
                    }
                    _received.Remove((slot.ChannelId, htlc.HtlcId));
                    _forwards.Remove((slot.ChannelId, htlc.HtlcId));
                    await ApplyAsync(slot, output, [.. decision.Ops, NodeStore.RemoveReceivedHtlc(slot.ChannelId, htlc.HtlcId)], cancellationToken, deferrable: true).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            slot.DecidingReceived = false;
        }
    }

    private sealed record Decision(PaymentPreimage? Preimage, byte[]? FailurePacket, (Bytes32 Sha256, ushort Code)? Malformed)
    {
        /// <summary>The BOLT 4 <c>attribution_data</c> sent with <see cref="FailurePacket"/>.</summary>
        public byte[]? Attribution { get; init; }

        /// <summary>A decision to wait (a forwarded HTLC whose outgoing HTLC is still pending).</summary>
        public bool Pending { get; init; }

        /// <summary>Records written with the decision (e.g. a refused forward's history entry).</summary>
        public IReadOnlyList<KvOperation> Ops { get; init; } = [];
    }

    /// <summary>
    /// The failure this node originates for an HTLC whose onion it peeled (BOLT 4): the packet with our HMAC, its
    /// attribution data (hold time in 100 ms units) and our <c>ammag</c> layer.
    /// </summary>
    private static Decision OriginateFailure(Bytes32 sharedSecret, FailureMessage message, TimeSpan holdTime)
    {
        var packet = FailurePacket.Create(sharedSecret, message);
        var attribution = Lightning.Onion.AttributionData.Create([], packet, Lightning.Onion.AttributionData.ToHoldTimeUnits(holdTime), sharedSecret);
        return new Decision(null, FailurePacket.Wrap(packet, sharedSecret), null) { Attribution = attribution };
    }

    private async Task<Decision> DecideAsync(ChannelSlot slot, ReceivedHtlcRecord htlc, CancellationToken cancellationToken)
    {
        if (_forwards.TryGetValue((slot.ChannelId, htlc.HtlcId), out var forward))
        {
            return ForwardedDecision(forward);
        }
        if (await DustExposureDecisionAsync(slot, htlc, cancellationToken).ConfigureAwait(false) is { } dust)
        {
            return dust; // BOLT 2 max_dust_htlc_exposure_msat (LightningNode.Forwarding.cs)
        }
        if (await DecideOfferPaymentAsync(slot, htlc, cancellationToken).ConfigureAwait(false) is { } blinded)
        {
            return blinded; // route blinding: our blinded payment path's final hop, or a blinded hop (LightningNode.Offers.cs)
        }
        PeeledOnion peeled;
        try
        {
            peeled = FinalHopOnion.PeelPacket(_nodeSecret, htlc.PaymentHash, htlc.Onion.Span);
        }
        catch (OnionException e)
        {
            var sha = e.Sha256OfOnion ?? new Bytes32(System.Security.Cryptography.SHA256.HashData(htlc.Onion.Span));
            var code = (e.FailureCode.Value & FailureCode.BadOnionFlag) != 0 ? e.FailureCode : FailureCode.InvalidOnionVersion;
            return new Decision(null, null, (sha, code.Value));
        }
        if (!peeled.IsFinal)
        {
            if (await DecideBlindedForwardAsync(slot, htlc, peeled, null, cancellationToken).ConfigureAwait(false) is { } introduction)
            {
                return introduction; // we are the introduction node of a blinded path (LightningNode.Offers.cs)
            }
            return await DecideForwardAsync(slot, htlc, peeled, cancellationToken).ConfigureAwait(false);
        }
        Decision Fail(FailureMessage message) => OriginateFailure(peeled.SharedSecret, message, TimeSpan.Zero);
        var unknown = FailureMessage.IncorrectOrUnknownPaymentDetails(htlc.Amount, (uint)Math.Max(0, _height));
        PaymentOnionPayload payload;
        try
        {
            payload = FinalHopOnion.DecodeFinalPayload(peeled);
        }
        catch (OnionException e)
        {
            return Fail(e.ToFailureMessage());
        }
        if (htlc.Amount < payload.AmountToForward!.Value)
        {
            return Fail(FailureMessage.FinalIncorrectHtlcAmount(htlc.Amount));
        }
        if (htlc.CltvExpiry < payload.OutgoingCltvValue!.Value)
        {
            return Fail(FailureMessage.FinalIncorrectCltvExpiry(htlc.CltvExpiry));
        }
        if (payload.KeysendPreimage is { } keysend)
        {
            return keysend.Hash == htlc.PaymentHash ? new Decision(keysend, null, null) : Fail(unknown);
        }
        if (payload.PaymentData is not { } data)
        {
            return Fail(unknown); // no payment secret
        }
        if (data.TotalAmount > htlc.Amount)
        {
            return await DecideMppPartAsync(slot, htlc, data, Fail, cancellationToken).ConfigureAwait(false); // one part of a multi-part payment
        }
        var invoice = await Invoices.LookupAsync(htlc.PaymentHash, cancellationToken).ConfigureAwait(false);
        if (invoice is null)
        {
            return Fail(unknown);
        }
        if (invoice.State == Satflow.Payments.InvoiceState.Settled && invoice.PaymentSecret == data.PaymentSecret)
        {
            // Settled before a crash, the HTLC not yet fulfilled: release the preimage again.
            return new Decision(invoice.Preimage, null, null);
        }
        if (_height >= 0 && htlc.CltvExpiry < (ulong)_height + invoice.MinFinalCltvExpiryDelta)
        {
            return Fail(unknown);
        }
        try
        {
            var settled = await Invoices.SettleAsync(htlc.PaymentHash, data.PaymentSecret, htlc.Amount, cancellationToken).ConfigureAwait(false);
            return new Decision(settled.Preimage, null, null);
        }
        catch (PaymentsException)
        {
            return Fail(unknown);
        }
    }
}
