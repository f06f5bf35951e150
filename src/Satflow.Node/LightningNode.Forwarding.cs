using System.Collections.Concurrent;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;
using Satflow.Storage;
using OnionAttribution = Satflow.Lightning.Onion.AttributionData;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>An outgoing expiry closer than this many blocks to the tip is refused (<c>expiry_too_soon</c>).</summary>
    internal const uint MinOutgoingCltvBlocks = 12;

    /// <summary>An outgoing expiry further than this many blocks from the tip is refused (<c>expiry_too_far</c>).</summary>
    internal const uint MaxOutgoingCltvBlocks = 2016 + 144;

    /// <summary>Work that must wait until the batch being built is written (waking payment waiters, sending more parts).</summary>
    private readonly List<Func<Task>> _afterCommit = [];

    /// <summary>Forwards whose incoming HTLC is not settled yet, by incoming (channel, HTLC id).</summary>
    private readonly Dictionary<(ChannelId, ulong), ForwardRecord> _forwards = [];

    /// <summary>Pending forwards by outgoing (channel, HTLC id) → incoming key.</summary>
    private readonly Dictionary<(ChannelId, ulong), (ChannelId, ulong)> _forwardsByOutgoing = [];

    private readonly ConcurrentDictionary<ChannelId, ForwardingPolicy> _policies = new();

    private List<Func<Task>> TakeAfterCommit()
    {
        var taken = _afterCommit.ToList();
        _afterCommit.Clear();
        return taken;
    }

    // ---------------------------------------------------------------- policy

    /// <summary>Sets a channel's own forwarding policy (persisted; announced in the <c>channel_update</c>s we build for it).</summary>
    /// <param name="channelId">The channel.</param>
    /// <param name="policy">The policy.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="NodeOperationRefusedException">No such channel, or an inconsistent policy.</exception>
    public async Task SetChannelPolicyAsync(ChannelId channelId, ForwardingPolicy policy, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (policy.HtlcMaximum is { } max && max < policy.HtlcMinimum)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, $"htlc_maximum {max.Value} msat is below htlc_minimum {policy.HtlcMinimum.Value} msat.");
        }
        if (policy.BaseFee.Value > uint.MaxValue)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "The base fee does not fit a channel_update (at most 4294967295 msat).");
        }
        if (policy.CltvExpiryDelta == 0)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "The CLTV delta must be at least 1 block.");
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_channels.ContainsKey(channelId))
            {
                throw new NodeOperationRefusedException(NodeErrorReason.NotFound, $"No channel {channelId}.");
            }
            await _store.CommitAsync([PolicyRecord.Write(channelId, policy)], cancellationToken).ConfigureAwait(false);
            _policies[channelId] = policy;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A channel's forwarding policy: its own, or <see cref="NodeOptions.DefaultForwardingPolicy"/>.</summary>
    /// <param name="channelId">The channel.</param>
    public ForwardingPolicy GetChannelPolicy(ChannelId channelId) =>
        _policies.TryGetValue(channelId, out var policy) ? policy : _options.DefaultForwardingPolicy;

    /// <summary>
    /// Our signed <c>channel_update</c> for a channel, from its policy: direction from the node id order, disabled
    /// while the channel is offline or not normal, <c>htlc_maximum_msat</c> capped at the capacity.
    /// </summary>
    internal ChannelUpdate BuildChannelUpdate(ChannelSlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        var policy = GetChannelPolicy(slot.ChannelId);
        var direction = NodeId.Span.SequenceCompareTo(slot.Peer.Span) < 0 ? 0 : 1;
        var disabled = slot.Channel.IsOffline || slot.Channel.State != ChannelState.Normal ? 2 : 0;
        var capacity = new MilliSatoshi(checked((ulong)slot.Channel.Parameters.FundingAmount.Satoshi * 1000));
        var maximum = policy.HtlcMaximum is { } max && max < capacity ? max : capacity;
        var timestamp = (uint)Math.Clamp(_deps.Time.GetUtcNow().ToUnixTimeSeconds(), 0, uint.MaxValue);
        var unsigned = new ChannelUpdate(
            default,
            _options.ChainHash,
            slot.ShortChannelId ?? default,
            timestamp,
            1,
            (byte)(direction | disabled),
            policy.CltvExpiryDelta,
            policy.HtlcMinimum,
            (uint)Math.Min(policy.BaseFee.Value, uint.MaxValue),
            policy.FeeProportionalMillionths,
            maximum,
            ReadOnlyMemory<byte>.Empty);
        return unsigned with { Signature = GossipSignatures.Sign(_nodeKey, GossipSignatures.ChannelUpdateHash(unsigned)) };
    }

    // ---------------------------------------------------------------- history

    /// <summary>The forwarding history (oldest first), optionally filtered.</summary>
    /// <param name="status">Only forwards in this status.</param>
    /// <param name="since">Only forwards received at or after this time.</param>
    /// <param name="limit">At most this many (the most recent).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <exception cref="NodeStateCorruptException">A stored record is unreadable.</exception>
    public async Task<IReadOnlyList<ForwardRecord>> ListForwardsAsync(ForwardStatus? status = null, DateTimeOffset? since = null, int? limit = null, CancellationToken cancellationToken = default)
    {
        var all = await _store.ReadAllAsync(ForwardRecord.Namespace, cancellationToken).ConfigureAwait(false);
        var records = all.Select(e => ForwardRecord.Decode(e.Value.Span))
            .Where(r => status is null || r.Status == status)
            .Where(r => since is null || r.ReceivedAt >= since)
            .OrderBy(r => r.ReceivedAt).ThenBy(r => r.Key, StringComparer.Ordinal)
            .ToList();
        return limit is { } n && n >= 0 && records.Count > n ? records[^n..] : records;
    }

    private async Task RestoreForwardingAsync(CancellationToken cancellationToken)
    {
        foreach (var (key, value) in await _store.ReadAllAsync(PolicyRecord.Namespace, cancellationToken).ConfigureAwait(false))
        {
            _policies[NodeStore.ParseChannelKey(key)] = PolicyRecord.Decode(value.Span);
        }
        foreach (var (_, value) in await _store.ReadAllAsync(ForwardRecord.Namespace, cancellationToken).ConfigureAwait(false))
        {
            var record = ForwardRecord.Decode(value.Span);
            var incoming = (record.IncomingChannelId, record.IncomingHtlcId);
            if (record.Status == ForwardStatus.Pending && record.OutgoingChannelId is { } outChannel && record.OutgoingHtlcId is { } outHtlc)
            {
                _forwards[incoming] = record;
                _forwardsByOutgoing[(outChannel, outHtlc)] = incoming;
            }
            else if (_received.ContainsKey(incoming))
            {
                // Resolved downstream before a crash, the incoming HTLC not settled yet: settled when its channel is.
                _forwards[incoming] = record;
            }
        }
    }

    // ---------------------------------------------------------------- deciding

    /// <summary>What an incoming HTLC that we forwarded (or are forwarding) gets: wait, the preimage, or the failure.</summary>
    private static Decision ForwardedDecision(ForwardRecord forward) => forward switch
    {
        { Status: ForwardStatus.Settled, Preimage: { } preimage } => new Decision(preimage, null, null),
        { Status: ForwardStatus.Failed, FailurePacket: { } packet } => new Decision(null, packet.ToArray(), null) { Attribution = forward.AttributionData?.ToArray() },
        _ => new Decision(null, null, null) { Pending = true },
    };

    private bool IsForwardPending(ChannelId channelId, ulong htlcId) =>
        _forwards.TryGetValue((channelId, htlcId), out var forward) && forward.Status == ForwardStatus.Pending;

    /// <summary>
    /// An incoming HTLC whose onion asks us to forward: checks our policy for the outgoing channel (BOLT 4 failures
    /// with our <c>channel_update</c>), then offers the outgoing HTLC with the forward record in the same batch.
    /// </summary>
    private async Task<Decision> DecideForwardAsync(ChannelSlot incoming, ReceivedHtlcRecord htlc, PeeledOnion peeled, CancellationToken cancellationToken)
    {
        var now = _deps.Time.GetUtcNow();
        var record = new ForwardRecord(incoming.ChannelId, htlc.HtlcId, incoming.ShortChannelId, htlc.Amount, htlc.CltvExpiry, htlc.PaymentHash, peeled.SharedSecret, now);
        Decision Refuse(FailureMessage message, string detail)
        {
            var failed = record with { Status = ForwardStatus.Failed, ResolvedAt = now, FailureReason = $"{message.Code.Name}: {detail}" };
            Log.ChannelNote(_logger, incoming.ChannelId, $"refused to forward HTLC {htlc.HtlcId}: {failed.FailureReason}");
            return OriginateFailure(peeled.SharedSecret, message, TimeSpan.Zero) with { Ops = [failed.Write()] };
        }
        PaymentOnionPayload payload;
        try
        {
            payload = PaymentOnionPayload.Decode(peeled.Payload.Span);
            payload.ValidateUnblinded(isFinal: false);
        }
        catch (OnionException e)
        {
            return Refuse(e.ToFailureMessage(), "bad onion payload: " + e.Message);
        }
        var scid = payload.ShortChannelId!.Value;
        var amount = payload.AmountToForward!.Value;
        var outgoingCltv = payload.OutgoingCltvValue!.Value;
        record = record with { OutgoingShortChannelId = scid, OutgoingAmount = amount, OutgoingCltvExpiry = outgoingCltv };
        var target = _channels.Values.FirstOrDefault(s => s.ShortChannelId == scid);
        if (target is null || target.ChannelId == incoming.ChannelId)
        {
            return Refuse(FailureMessage.Simple(FailureCode.UnknownNextPeer), $"no channel {scid}");
        }
        byte[]? signedUpdate = null;
        byte[] Update() => signedUpdate ??= BuildChannelUpdate(target).Encode();
        if (target.Channel.State is ChannelState.NegotiatingClose or ChannelState.Closed or ChannelState.ForceClosed or ChannelState.LocalDataLoss
            && !_channels.Values.Any(s => s.Peer == target.Peer && s.Channel.State == ChannelState.Normal))
        {
            return Refuse(FailureMessage.Simple(FailureCode.PermanentChannelFailure), $"channel {scid} is closing or closed");
        }
        var outgoing = SelectOutgoingChannel(scid, target.Peer, amount);
        if (outgoing is null)
        {
            return Refuse(FailureMessage.TemporaryChannelFailure(Update()), $"channel {scid} is offline or not ready");
        }
        var policy = GetChannelPolicy(target.ChannelId);
        if (amount.Value == 0 || amount < policy.HtlcMinimum)
        {
            return Refuse(FailureMessage.AmountBelowMinimum(htlc.Amount, Update()), $"{amount.Value} msat is below the minimum {policy.HtlcMinimum.Value} msat");
        }
        if (policy.HtlcMaximum is { } maximum && amount > maximum)
        {
            return Refuse(FailureMessage.TemporaryChannelFailure(Update()), $"{amount.Value} msat is above the maximum {maximum.Value} msat");
        }
        var fee = policy.FeeFor(amount);
        if (htlc.Amount < amount || (htlc.Amount - amount) < fee)
        {
            return Refuse(FailureMessage.FeeInsufficient(htlc.Amount, Update()), $"{htlc.Amount.Value} msat in for {amount.Value} msat out pays less than the fee {fee.Value} msat");
        }
        if ((ulong)htlc.CltvExpiry < (ulong)outgoingCltv + policy.CltvExpiryDelta)
        {
            return Refuse(FailureMessage.IncorrectCltvExpiry(htlc.CltvExpiry, Update()), $"incoming expiry {htlc.CltvExpiry} is less than {policy.CltvExpiryDelta} blocks above the outgoing {outgoingCltv}");
        }
        var height = (ulong)Math.Max(0, _height);
        if (outgoingCltv < height + MinOutgoingCltvBlocks)
        {
            return Refuse(FailureMessage.ExpiryTooSoon(Update()), $"outgoing expiry {outgoingCltv} is less than {MinOutgoingCltvBlocks} blocks above the tip {height}");
        }
        if (outgoingCltv > height + MaxOutgoingCltvBlocks)
        {
            return Refuse(FailureMessage.Simple(FailureCode.ExpiryTooFar), $"outgoing expiry {outgoingCltv} is more than {MaxOutgoingCltvBlocks} blocks above the tip {height}");
        }
        if (outgoing.Channel.AvailableToSend < amount)
        {
            return Refuse(FailureMessage.TemporaryChannelFailure(Update()), $"channel {scid} cannot send {amount.Value} msat now");
        }
        ChannelOutput output;
        ulong outgoingId;
        try
        {
            output = outgoing.Channel.AddHtlc(amount, htlc.PaymentHash, outgoingCltv, peeled.NextPacket!.ToBytes(), out outgoingId);
        }
        catch (ChannelUpdateRefusedException e)
        {
            // A dust HTLC over the outgoing channel's max_dust_htlc_exposure_msat (ChannelRefusalReason.DustExposureExceeded):
            // BOLT 2 "SHOULD NOT send this HTLC", "SHOULD fail the corresponding incoming HTLC" — temporary_channel_failure,
            // like every other refusal but the HTLC minimum.
            return e.Reason == ChannelRefusalReason.BelowHtlcMinimum
                ? Refuse(FailureMessage.AmountBelowMinimum(htlc.Amount, Update()), e.Message)
                : Refuse(FailureMessage.TemporaryChannelFailure(Update()), e.Message);
        }
        record = record with { OutgoingChannelId = outgoing.ChannelId, OutgoingHtlcId = outgoingId, OutgoingShortChannelId = outgoing.ShortChannelId ?? scid, Status = ForwardStatus.Pending };
        _forwards[(incoming.ChannelId, htlc.HtlcId)] = record;
        _forwardsByOutgoing[(outgoing.ChannelId, outgoingId)] = (incoming.ChannelId, htlc.HtlcId);
        await ApplyAsync(outgoing, output, [record.Write()], cancellationToken, deferrable: true).ConfigureAwait(false);
        return new Decision(null, null, null) { Pending = true };
    }

    /// <summary>
    /// BOLT 2 <c>max_dust_htlc_exposure_msat</c>, receiving: a committed incoming HTLC that is trimmed and puts a
    /// commitment's dust balance above our limit "SHOULD" be failed "once it's committed" and its preimage not revealed.
    /// We fail it back with <c>temporary_channel_failure</c> (our <c>channel_update</c> of the incoming channel; inside a
    /// blinded route, <c>invalid_onion_blinding</c>) before forwarding or settling; the channel stays open. Null when the
    /// HTLC is within the limit, its onion is unreadable (it gets that failure), or its preimage is already released.
    /// </summary>
    private async Task<Decision?> DustExposureDecisionAsync(ChannelSlot slot, ReceivedHtlcRecord htlc, CancellationToken cancellationToken)
    {
        if (!slot.Channel.IsIncomingOverDustExposure(htlc.HtlcId) || _mppFailed.ContainsKey((slot.ChannelId, htlc.HtlcId)))
        {
            return null;
        }
        if (await Invoices.LookupAsync(htlc.PaymentHash, cancellationToken).ConfigureAwait(false) is { State: Satflow.Payments.InvoiceState.Settled })
        {
            return null; // settled before a crash, or another part of the payment completed it: the preimage is out
        }
        var sha = new Bytes32(System.Security.Cryptography.SHA256.HashData(htlc.Onion.Span));
        if (htlc.PathKey is not null)
        {
            return new Decision(null, null, (sha, FailureCode.InvalidOnionBlinding.Value));
        }
        PeeledOnion peeled;
        try
        {
            peeled = Satflow.Node.Payments.FinalHopOnion.PeelPacket(_nodeSecret, htlc.PaymentHash, htlc.Onion.Span);
        }
        catch (OnionException)
        {
            return null;
        }
        var exposure = slot.Channel.DustExposure;
        Log.ChannelNote(_logger, slot.ChannelId, $"failing incoming HTLC {htlc.HtlcId} of {htlc.Amount.Value} msat: trimmed HTLCs would exceed max_dust_htlc_exposure_msat {exposure.Limit.Value} (local {exposure.OnLocalCommitment.Value}, remote {exposure.OnRemoteCommitment.Value} msat)");
        return OriginateFailure(peeled.SharedSecret, FailureMessage.TemporaryChannelFailure(BuildChannelUpdate(slot).Encode()), TimeSpan.Zero);
    }

    // ---------------------------------------------------------------- outcomes

    /// <summary>One of our offered HTLCs was fulfilled or failed by the peer: a forward's outgoing HTLC or a payment part of ours.</summary>
    private async Task OnOfferedResolvedAsync(ChannelSlot slot, ulong htlcId, PaymentPreimage? preimage, HtlcFailed? failed, List<KvOperation> ops, List<Func<Task>> followUps, CancellationToken cancellationToken)
    {
        if (ResolveForward(slot.ChannelId, htlcId, preimage, failed, null, ops) is { } incomingChannel)
        {
            followUps.Add(() => DecideIncomingAsync(incomingChannel, cancellationToken));
            return;
        }
        await ResolveOfferedPartAsync(slot, htlcId, preimage, failed is null ? null : (offered, route) => DecodePartFailure(offered, route, failed), ops, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Records a forward's outcome (in <paramref name="ops"/>): settled with the preimage, or failed with the failure
    /// to return upstream (downstream's packet wrapped with our layer and attribution data, or our own failure).
    /// Returns the incoming channel to settle, or null when the HTLC is not a pending forward.
    /// </summary>
    private ChannelId? ResolveForward(ChannelId outgoingChannel, ulong outgoingHtlc, PaymentPreimage? preimage, HtlcFailed? failed, FailureMessage? ownFailure, List<KvOperation> ops)
    {
        if (!_forwardsByOutgoing.Remove((outgoingChannel, outgoingHtlc), out var key) || !_forwards.TryGetValue(key, out var forward))
        {
            return null;
        }
        var now = _deps.Time.GetUtcNow();
        var hold = OnionAttribution.ToHoldTimeUnits(now - forward.ReceivedAt);
        var secret = forward.SharedSecret;
        if (preimage is { } p && p.Hash == forward.PaymentHash)
        {
            forward = forward with { Status = ForwardStatus.Settled, Preimage = p, ResolvedAt = now };
        }
        else
        {
            byte[] returned;
            byte[] attribution;
            string reason;
            if (failed is { MalformedFailureCode: { } malformed })
            {
                // BOLT 4: the next peer could not read the onion we sent; we report it upstream as our own failure.
                var code = new FailureCode(malformed);
                var packet = FailurePacket.Create(secret, FailureMessage.BadOnion(code.IsBadOnion && code.IsKnown ? code : FailureCode.InvalidOnionVersion, failed.Sha256OfOnion ?? Bytes32.Zero));
                attribution = OnionAttribution.Create([], packet, hold, secret);
                returned = FailurePacket.Wrap(packet, secret);
                reason = $"{code.Name}: the next node could not read the onion";
            }
            else if (failed is { Reason: { } downstream })
            {
                var previous = failed.AttributionData is { Length: OnionAttribution.Length } a ? a.Span : default;
                attribution = OnionAttribution.Create(previous, downstream.Span, hold, secret);
                returned = FailurePacket.Wrap(downstream.Span, secret);
                reason = "failed downstream";
            }
            else
            {
                var message = ownFailure ?? FailureMessage.Simple(FailureCode.PermanentChannelFailure);
                var packet = FailurePacket.Create(secret, message);
                attribution = OnionAttribution.Create([], packet, hold, secret);
                returned = FailurePacket.Wrap(packet, secret);
                reason = $"{message.Code.Name}: the outgoing HTLC was resolved on chain without a preimage";
            }
            forward = forward with { Status = ForwardStatus.Failed, ResolvedAt = now, FailureReason = reason, FailurePacket = returned, AttributionData = attribution };
        }
        _forwards[key] = forward;
        ops.Add(forward.Write());
        return key.Item1;
    }

    /// <summary>Settles the incoming HTLCs of a channel whose forwards resolved (after the outcome was written).</summary>
    private async Task DecideIncomingAsync(ChannelId channelId, CancellationToken cancellationToken)
    {
        if (!_channels.TryGetValue(channelId, out var slot))
        {
            return;
        }
        await DecideReceivedAsync(slot, cancellationToken).ConfigureAwait(false);
        if (slot.Channel.IsOffline || slot.Channel.State is not (ChannelState.Normal or ChannelState.ShuttingDown))
        {
            // The incoming HTLCs of settled forwards cannot be fulfilled now: the monitor must know their preimages so
            // that it claims them on chain (and closes in time) — downstream has already been paid.
            var preimages = _forwards.Where(f => f.Key.Item1 == channelId && f.Value is { Status: ForwardStatus.Settled, Preimage: not null } && _received.ContainsKey(f.Key))
                .Select(f => f.Value.Preimage!.Value).Distinct().ToList();
            foreach (var preimage in preimages)
            {
                await ApplyAsync(slot, slot.Channel.ProvidePreimage(preimage), [], cancellationToken).ConfigureAwait(false);
            }
        }
        if (_options.AutoFlush && slot.Channel.HasChangesToSign)
        {
            await ApplyAsync(slot, slot.Channel.SignCommitment(), [], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A forward's outgoing HTLC was resolved on chain (the outgoing channel force closed): settle or fail the incoming.</summary>
    private async Task<bool> ResolveForwardOnChainAsync(ChannelSlot slot, HtlcResolvedOnChain resolved, CancellationToken cancellationToken)
    {
        var ops = new List<KvOperation>();
        var incomingChannel = ResolveForward(slot.ChannelId, resolved.HtlcId, resolved.Preimage, null, FailureMessage.Simple(FailureCode.PermanentChannelFailure), ops);
        if (incomingChannel is not { } channelId)
        {
            return false;
        }
        await _store.CommitAsync(ops, cancellationToken).ConfigureAwait(false);
        await DecideIncomingAsync(channelId, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// The outgoing channel is fully resolved on chain and some forwards over it never got an outcome (an HTLC the
    /// monitor had nothing to claim, e.g. trimmed as dust): nobody can claim them any more, so their incoming HTLCs fail.
    /// </summary>
    private async Task FailForwardsOfResolvedChannelAsync(ChannelId channelId, CancellationToken cancellationToken)
    {
        var stuck = _forwardsByOutgoing.Keys.Where(k => k.Item1 == channelId).ToList();
        if (stuck.Count == 0)
        {
            return;
        }
        var ops = new List<KvOperation>();
        var incoming = new HashSet<ChannelId>();
        foreach (var (channel, htlc) in stuck)
        {
            if (ResolveForward(channel, htlc, null, null, FailureMessage.Simple(FailureCode.PermanentChannelFailure), ops) is { } incomingChannel)
            {
                incoming.Add(incomingChannel);
            }
        }
        await _store.CommitAsync(ops, cancellationToken).ConfigureAwait(false);
        foreach (var channel in incoming)
        {
            await DecideIncomingAsync(channel, cancellationToken).ConfigureAwait(false);
        }
    }
}
