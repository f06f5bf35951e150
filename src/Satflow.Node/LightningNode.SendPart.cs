using NBitcoin.Secp256k1;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Node.Payments;
using Satflow.Node.Persistence;
using Satflow.Storage;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>
    /// Sends one HTLC along a multi-hop route (called with the gate held): builds the onion (intermediate hops get
    /// <c>amt_to_forward</c>, <c>outgoing_cltv_value</c> and <c>short_channel_id</c>; the final hop <c>payment_data</c>
    /// or the keysend preimage), offers the HTLC on our channel of the route's first hop (or another usable channel to
    /// the same peer) and persists the <see cref="OfferedHtlcRecord"/> (part id, route, every hop's shared secret) in
    /// the same batch as the channel, before the add is sent. The outcome arrives in <see cref="OnPartResolvedAsync"/>.
    /// </summary>
    /// <param name="request">The part.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The HTLC id on the outgoing channel.</returns>
    /// <exception cref="NodeOperationRefusedException">
    /// Nothing was sent: <see cref="NodeErrorReason.InvalidArgument"/> (bad route), <see cref="NodeErrorReason.ChannelNotReady"/>
    /// (no chain yet), <see cref="NodeErrorReason.NoRoute"/> (no usable channel to the first hop) or
    /// <see cref="NodeErrorReason.InsufficientFunds"/> (the channel cannot carry the amount now).
    /// </exception>
    internal async Task<ulong> SendPartUnlockedAsync(PartRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var route = request.Route;
        if (route.Hops.Count is 0 or > AttributionData.MaxHops)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, $"A route needs 1 to {AttributionData.MaxHops} hops; this one has {route.Hops.Count}.");
        }
        if (route.Hops.Any(h => h.Amount.Value == 0 || h.CltvExpiryDelta < 0))
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "Every hop needs a positive amount and a non-negative CLTV delta.");
        }
        if (route.BlindedPathIndex is not null)
        {
            return await SendBlindedPartUnlockedAsync(request, cancellationToken).ConfigureAwait(false); // BOLT 12 (LightningNode.Offers.cs)
        }
        if (_height < 0)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.ChannelNotReady, "The node has not seen the chain yet.");
        }
        var first = route.Hops[0];
        var slot = SelectOutgoingChannel(first.ShortChannelId, first.Node, first.Amount)
            ?? throw new NodeOperationRefusedException(NodeErrorReason.NoRoute, $"No usable channel with {first.Node} (not ready, offline or closing).");
        var height = (uint)_height;
        var expiries = route.Hops.Select(h => checked(height + (uint)h.CltvExpiryDelta + FinalCltvPadding)).ToArray();
        var onionHops = new List<OnionHop>(route.Hops.Count);
        for (var i = 0; i < route.Hops.Count; i++)
        {
            PaymentOnionPayload payload;
            if (i < route.Hops.Count - 1)
            {
                var next = route.Hops[i + 1];
                payload = new PaymentOnionPayload { AmountToForward = next.Amount, OutgoingCltvValue = expiries[i + 1], ShortChannelId = next.ShortChannelId };
            }
            else
            {
                payload = new PaymentOnionPayload
                {
                    AmountToForward = route.Hops[i].Amount,
                    OutgoingCltvValue = expiries[i],
                    PaymentData = request.PaymentSecret is { } secret ? new PaymentData(secret, request.TotalAmount) : null,
                    KeysendPreimage = request.KeysendPreimage,
                    PaymentMetadata = request.PaymentMetadata,
                };
            }
            onionHops.Add(new OnionHop(route.Hops[i].Node.ToECPubKey(), payload.Encode()));
        }
        OnionConstruction construction;
        try
        {
            construction = OnionPacket.Create(NewSessionKey(), onionHops, request.PaymentHash.Value.ToArray());
        }
        catch (ArgumentException e)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "The route's payloads do not fit a payment onion: " + e.Message, e);
        }
        ChannelOutput output;
        ulong htlcId;
        try
        {
            output = slot.Channel.AddHtlc(first.Amount, request.PaymentHash, expiries[0], construction.Packet.ToBytes(), out htlcId);
        }
        catch (ChannelUpdateRefusedException e)
        {
            var reason = e.Reason is ChannelRefusalReason.InsufficientBalance or ChannelRefusalReason.MaxHtlcValueInFlightExceeded or ChannelRefusalReason.MaxAcceptedHtlcsExceeded or ChannelRefusalReason.FunderCannotAffordFee
                ? NodeErrorReason.InsufficientFunds
                : NodeErrorReason.ChannelNotReady;
            throw new NodeOperationRefusedException(reason, "The channel refused the payment: " + e.Message, e);
        }
        var secrets = construction.SharedSecrets.ToArray();
        var offered = new OfferedHtlcRecord(htlcId, request.PaymentHash, first.Amount, secrets[^1])
        {
            PartId = request.PartId,
            Route = route,
            HopSharedSecrets = secrets,
        };
        _offered[(slot.ChannelId, htlcId)] = offered;
        await ApplyAsync(slot, output, [NodeStore.WriteOfferedHtlc(slot.ChannelId, offered)], cancellationToken, deferrable: true).ConfigureAwait(false);
        return htlcId;
    }

    /// <summary><see cref="SendPartUnlockedAsync"/> taking the gate (for callers that do not hold it).</summary>
    /// <param name="request">The part.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    internal async Task<ulong> SendPartAsync(PartRequest request, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await SendPartUnlockedAsync(request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Called (under the gate) with every part outcome before <see cref="OnPartResolvedAsync"/> sees it (diagnostics, tests).</summary>
    internal Action<PartResult>? PartObserver { get; set; }

    /// <summary>
    /// Offers an HTLC with a caller-built onion on a channel, with no payment bookkeeping: its outcome is only seen by
    /// the channel (probes, and tests that feed a peer arbitrary onions).
    /// </summary>
    /// <exception cref="NodeOperationRefusedException">No such usable channel, or the channel refused the HTLC.</exception>
    internal async Task<ulong> OfferRawHtlcAsync(ChannelId channelId, MilliSatoshi amount, PaymentHash paymentHash, uint cltvExpiry, ReadOnlyMemory<byte> onion, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_channels.TryGetValue(channelId, out var slot))
            {
                throw new NodeOperationRefusedException(NodeErrorReason.NotFound, $"No channel {channelId}.");
            }
            ChannelOutput output;
            try
            {
                output = slot.Channel.AddHtlc(amount, paymentHash, cltvExpiry, onion, out var id);
                await ApplyAsync(slot, output, [], cancellationToken, deferrable: true).ConfigureAwait(false);
                return id;
            }
            catch (ChannelUpdateRefusedException e)
            {
                throw new NodeOperationRefusedException(NodeErrorReason.ChannelNotReady, "The channel refused the HTLC: " + e.Message, e);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The channel to send on toward <paramref name="peer"/>: the channel <paramref name="shortChannelId"/> when it is
    /// usable and can carry <paramref name="amount"/>, otherwise another usable channel to the same peer that can
    /// (non-strict forwarding), otherwise the usable one with the most to send; null when none is usable.
    /// </summary>
    private ChannelSlot? SelectOutgoingChannel(ShortChannelId shortChannelId, NodeId peer, MilliSatoshi amount)
    {
        var usable = _channels.Values
            .Where(s => s.Peer == peer && s.Channel.State == ChannelState.Normal && !s.Channel.IsOffline)
            .OrderByDescending(s => s.ShortChannelId == shortChannelId)
            .ThenByDescending(s => s.Channel.AvailableToSend.Value)
            .ThenBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal)
            .ToList();
        return usable.FirstOrDefault(s => s.Channel.AvailableToSend >= amount) ?? usable.FirstOrDefault();
    }

    private ECPrivKey NewSessionKey()
    {
        Span<byte> bytes = stackalloc byte[32];
        while (true)
        {
            _random(bytes);
            if (ECPrivKey.TryCreate(bytes, out var key))
            {
                return key;
            }
        }
    }

    /// <summary>
    /// An offered HTLC resolved (fulfilled, failed, or settled on chain): removes its record (in <paramref name="ops"/>)
    /// and hands the part's outcome to <see cref="OnPartResolvedAsync"/>. False when it was not one of our parts.
    /// </summary>
    private async Task<bool> ResolveOfferedPartAsync(ChannelSlot slot, ulong htlcId, PaymentPreimage? preimage, Func<OfferedHtlcRecord, Route, PartFailure>? failure, List<KvOperation> ops, CancellationToken cancellationToken)
    {
        if (!_offered.Remove((slot.ChannelId, htlcId), out var offered))
        {
            return false;
        }
        ops.Add(NodeStore.RemoveOfferedHtlc(slot.ChannelId, htlcId));
        var route = offered.Route ?? new Route(NodeId, [new RouteHop(slot.ShortChannelId ?? default, slot.Peer, offered.Amount, MilliSatoshi.Zero, 0)], offered.Amount);
        var result = preimage is { } p && p.Hash == offered.PaymentHash
            ? new PartResult(offered.PaymentHash, offered.PartId, route, p, null)
            : new PartResult(offered.PaymentHash, offered.PartId, route, null, failure?.Invoke(offered, route)
                ?? new PartFailure(null, null, false, "The HTLC failed."));
        PartObserver?.Invoke(result);
        await OnPartResolvedAsync(result, ops, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Decrypts and attributes the failure of one of our parts (BOLT 4, with attribution data when sent).</summary>
    private static PartFailure DecodePartFailure(OfferedHtlcRecord offered, Route route, HtlcFailed failed)
    {
        var last = route.Hops.Count - 1;
        string Who(int index) => index != last ? $"Hop {index} ({route.Hops[index].Node})"
            : route.BlindedPathIndex is { } path ? $"Blinded path {path} (introduction node {route.Hops[index].Node})" : "The recipient";
        if (failed.MalformedFailureCode is { } malformedCode)
        {
            // Our peer could not read the onion we built: it (hop 0) reports it in update_fail_malformed_htlc.
            var code = new FailureCode(malformedCode);
            var message = failed.Sha256OfOnion is { } sha && code.IsBadOnion && code.IsKnown ? FailureMessage.BadOnion(code, sha) : null;
            return new PartFailure(0, message, code.IsPermanent, $"{Who(0)} could not read the payment onion ({code.Name}).");
        }
        if (failed.Reason is not { } reason)
        {
            return new PartFailure(null, null, false, "The HTLC failed without a reason.");
        }
        DecryptedFailure decrypted;
        try
        {
            decrypted = FailurePacket.Decrypt(reason.Span, failed.AttributionData is { } a ? a.Span : default, offered.HopSharedSecrets);
        }
        catch (Lightning.Wire.WireFormatException e)
        {
            return new PartFailure(null, null, false, "A hop returned a failure whose message is malformed: " + e.Message);
        }
        if (decrypted is { FailingHopIndex: { } blindedIndex, Message: { } } && blindedIndex > last && route.BlindedPathIndex is not null)
        {
            // A hop inside the blinded path after the introduction node: it is the path's failure.
            decrypted = decrypted with { FailingHopIndex = last };
        }
        if (decrypted is { FailingHopIndex: { } index, Message: { } failure } && index <= last)
        {
            var description = failure.Code == FailureCode.IncorrectOrUnknownPaymentDetails && index == last
                ? "The recipient rejected the payment: unknown payment hash, wrong payment secret or amount, or expired invoice (incorrect_or_unknown_payment_details)."
                : $"{Who(index)} failed the payment: {failure.Code.Name}.";
            return new PartFailure(index, failure, failure.Code.IsPermanent, description);
        }
        if (decrypted.AttributionFailedAtHop is { } blamed && blamed <= last)
        {
            return new PartFailure(blamed, null, false, $"The failure was unreadable; the attribution data points at hop {blamed} ({route.Hops[blamed].Node}).");
        }
        return route.Hops.Count == 1
            ? new PartFailure(0, null, false, "The recipient failed the payment with an unreadable failure.")
            : new PartFailure(null, null, false, "A hop failed the payment with an unreadable failure.");
    }
}
