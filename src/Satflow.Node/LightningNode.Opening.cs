using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Channels.Opening;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Types;
using Satflow.Node.Funding;
using Satflow.Node.Persistence;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>
    /// Starts opening a channel funded by our wallet: sends <c>open_channel</c> and returns the temporary channel id.
    /// The handshake continues as the peer answers; <see cref="WaitForChannelAsync"/> completes when the funding
    /// transaction is broadcast (after <c>funding_signed</c>).
    /// </summary>
    /// <param name="peer">A connected peer.</param>
    /// <param name="capacity">The channel capacity.</param>
    /// <param name="pushAmount">An amount given to the peer at opening (usually zero).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="NodeOperationRefusedException">Peer not connected or a capacity out of bounds.</exception>
    public Task<ChannelId> OpenChannelAsync(NodeId peer, Money capacity, MilliSatoshi pushAmount = default, CancellationToken cancellationToken = default) =>
        OpenChannelAsync(peer, capacity, pushAmount, _options.PublicChannels, cancellationToken);

    /// <summary>Opens a channel, announced to the network (public) or not (private: reachable through invoice route hints).</summary>
    /// <param name="peer">A connected peer.</param>
    /// <param name="capacity">The channel capacity.</param>
    /// <param name="pushAmount">An amount given to the peer at opening (usually zero).</param>
    /// <param name="announce">True for a public channel (BOLT 7 announcement after 6 confirmations), false for an unannounced one.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <exception cref="NodeOperationRefusedException">Peer not connected or a capacity out of bounds.</exception>
    public async Task<ChannelId> OpenChannelAsync(NodeId peer, Money capacity, MilliSatoshi pushAmount, bool announce, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(capacity);
        if (!_deps.Transport.IsConnected(peer))
        {
            throw new NodeOperationRefusedException(NodeErrorReason.PeerNotConnected, $"Peer {peer} is not connected.");
        }
        if (capacity < _options.MinChannelSize || capacity > _options.MaxChannelSize)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, $"A channel must hold {_options.MinChannelSize}..{_options.MaxChannelSize} BTC; {capacity} asked.");
        }
        var feerate = await _deps.FeeEstimator.EstimateFeeRateAsync(_options.FeeTarget, cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var (keyIndex, keys) = await AllocateKeysAsync(cancellationToken).ConfigureAwait(false);
            var temporaryId = new ChannelId(RandomBytes32());
            var options = new OutboundChannelOptions(_options.ChainHash, capacity, pushAmount, feerate.SatPerKw, LocalLimits(capacity), AnnounceChannel: announce);
            OutboundChannelOpening opening;
            try
            {
                opening = OutboundChannelOpening.Create(options, keys, temporaryId);
            }
            catch (ArgumentException e)
            {
                throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, e.Message, e);
            }
            _openings[temporaryId] = new PendingOpening(peer, keyIndex, keys, opening, null, feerate.SatPerKw);
            await _deps.Transport.SendAsync(peer, opening.OpenChannel, cancellationToken).ConfigureAwait(false);
            return temporaryId;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Waits until a channel we are opening is funded (returns its channel id) or the opening fails.</summary>
    /// <param name="temporaryChannelId">The id <see cref="OpenChannelAsync(NodeId, Money, MilliSatoshi, bool, CancellationToken)"/> returned.</param>
    /// <param name="cancellationToken">Abandons the wait.</param>
    /// <exception cref="NodeOperationRefusedException">The peer refused or disconnected, or the wallet could not fund.</exception>
    public async Task<ChannelId> WaitForChannelAsync(ChannelId temporaryChannelId, CancellationToken cancellationToken = default)
    {
        Task<ChannelId> task;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_openings.TryGetValue(temporaryChannelId, out var opening))
            {
                task = opening.Completion.Task;
            }
            else if (_channels.Values.FirstOrDefault(s => s.TemporaryChannelId == temporaryChannelId) is { } slot)
            {
                return slot.ChannelId;
            }
            else
            {
                throw new NodeOperationRefusedException(NodeErrorReason.NotFound, $"No channel opening {temporaryChannelId}.");
            }
        }
        finally
        {
            _gate.Release();
        }
        return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private ChannelLimits LocalLimits(Money capacity)
    {
        var reserve = Money.Satoshis(Math.Max(_options.DustLimit.Satoshi, (long)(capacity.Satoshi * _options.ReserveFraction)));
        return new ChannelLimits(_options.DustLimit, MilliSatoshi.FromSatoshis((ulong)capacity.Satoshi), reserve, new MilliSatoshi(1), _options.ToSelfDelay, _options.MaxAcceptedHtlcs);
    }

    private async Task<(uint Index, LocalChannelKeys Keys)> AllocateKeysAsync(CancellationToken cancellationToken)
    {
        var index = _nextKeyIndex;
        // Persisted before use: a key index is never handed out twice, even across a crash.
        await _store.CommitAsync([NodeStore.WriteNextKeyIndex(index + 1)], cancellationToken).ConfigureAwait(false);
        _nextKeyIndex = index + 1;
        return (index, LocalChannelKeys.Derive(_seed, index));
    }

    private Bytes32 RandomBytes32()
    {
        Span<byte> bytes = stackalloc byte[32];
        _random(bytes);
        return new Bytes32(bytes);
    }

    private async Task OnOpenChannelAsync(NodeId peer, OpenChannel open, CancellationToken cancellationToken)
    {
        if (_openings.ContainsKey(open.TemporaryChannelId))
        {
            await SendAsync(peer, new Error(open.TemporaryChannelId, "temporary_channel_id already in use"u8.ToArray()), cancellationToken).ConfigureAwait(false);
            return;
        }
        var feerate = await _deps.FeeEstimator.EstimateFeeRateAsync(_options.FeeTarget, cancellationToken).ConfigureAwait(false);
        var capacity = Money.Satoshis((long)open.FundingSatoshis.Value);
        var policy = InboundChannelPolicy.FromFeeEstimate(LocalLimits(capacity), _options.MinChannelSize, _options.MaxChannelSize, 2016, feerate.SatPerKw, _options.MinimumDepth);
        var (keyIndex, keys) = await AllocateKeysAsync(cancellationToken).ConfigureAwait(false);
        InboundChannelOpening opening;
        try
        {
            opening = InboundChannelOpening.FromOpenChannel(open, policy, keys, _options.ChainHash);
        }
        catch (ChannelOpeningException e)
        {
            Log.OpeningFailed(_logger, peer, e.Message);
            await SendAsync(peer, e.ToErrorMessage(open.TemporaryChannelId), cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (ArgumentException e)
        {
            // Our limits do not fit this channel (too small a capacity for our dust limit and reserve).
            Log.OpeningFailed(_logger, peer, e.Message);
            await SendAsync(peer, new Error(open.TemporaryChannelId, System.Text.Encoding.ASCII.GetBytes("channel refused: " + e.Message)), cancellationToken).ConfigureAwait(false);
            return;
        }
        _openings[open.TemporaryChannelId] = new PendingOpening(peer, keyIndex, keys, null, opening, open.FeeratePerKw);
        await SendAsync(peer, opening.AcceptChannel, cancellationToken).ConfigureAwait(false);
    }

    private async Task OnAcceptChannelAsync(NodeId peer, AcceptChannel accept, CancellationToken cancellationToken)
    {
        if (!_openings.TryGetValue(accept.TemporaryChannelId, out var pending) || pending.Peer != peer || pending.Outbound is not { } opening)
        {
            await SendAsync(peer, new Error(accept.TemporaryChannelId, "unknown temporary channel"u8.ToArray()), cancellationToken).ConfigureAwait(false);
            return;
        }
        try
        {
            var output = opening.HandleAcceptChannel(accept);
            var funding = await _deps.FundingWallet.CreateFundingTransactionAsync(output.ScriptPubKey, output.Amount, new Bitcoin.Chain.FeeRatePerKw(pending.FeeratePerKw), cancellationToken).ConfigureAwait(false);
            pending.Funding = funding;
            var created = opening.CreateFundingCreated(funding.OutPoint);
            await SendAsync(peer, created, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelOpeningException e)
        {
            FailOpening(accept.TemporaryChannelId, pending, NodeErrorReason.Rejected, e.Message);
            await SendAsync(peer, e.ToErrorMessage(accept.TemporaryChannelId), cancellationToken).ConfigureAwait(false);
        }
        catch (Bitcoin.Wallet.WalletException e)
        {
            FailOpening(accept.TemporaryChannelId, pending, e is Bitcoin.Wallet.InsufficientFundsException ? NodeErrorReason.InsufficientFunds : NodeErrorReason.Rejected, "The wallet cannot fund the channel: " + e.Message);
            await SendAsync(peer, new Error(accept.TemporaryChannelId, "funding failed"u8.ToArray()), cancellationToken).ConfigureAwait(false);
        }
    }

    private void FailOpening(ChannelId temporaryId, PendingOpening pending, NodeErrorReason reason, string message)
    {
        _openings.Remove(temporaryId);
        Log.OpeningFailed(_logger, pending.Peer, message);
        pending.Completion.TrySetException(new NodeOperationRefusedException(reason, message));
    }

    private async Task OnFundingCreatedAsync(NodeId peer, FundingCreated created, CancellationToken cancellationToken)
    {
        if (!_openings.TryGetValue(created.TemporaryChannelId, out var pending) || pending.Peer != peer || pending.Inbound is not { } opening)
        {
            await SendAsync(peer, new Error(created.TemporaryChannelId, "unknown temporary channel"u8.ToArray()), cancellationToken).ConfigureAwait(false);
            return;
        }
        InboundFundingResult result;
        try
        {
            result = opening.HandleFundingCreated(created);
        }
        catch (ChannelOpeningException e)
        {
            FailOpening(created.TemporaryChannelId, pending, NodeErrorReason.Rejected, e.Message);
            await SendAsync(peer, e.ToErrorMessage(created.TemporaryChannelId), cancellationToken).ConfigureAwait(false);
            return;
        }
        if (_channels.ContainsKey(result.Channel.Parameters.ChannelId))
        {
            FailOpening(created.TemporaryChannelId, pending, NodeErrorReason.Rejected, "funding_created reuses the outpoint of an existing channel");
            await SendAsync(peer, new Error(created.TemporaryChannelId, "channel id already in use"u8.ToArray()), cancellationToken).ConfigureAwait(false);
            return;
        }
        _openings.Remove(created.TemporaryChannelId);
        // The channel and its monitor are persisted before funding_signed lets the funder broadcast.
        var slot = await AddFundedChannelAsync(pending, result.Channel, null, [result.FundingSigned], cancellationToken).ConfigureAwait(false);
        pending.Completion.TrySetResult(slot.ChannelId);
    }

    private async Task OnFundingSignedAsync(NodeId peer, FundingSigned signed, CancellationToken cancellationToken)
    {
        var entry = _openings.FirstOrDefault(o => o.Value.Peer == peer && o.Value.Outbound?.ChannelId == signed.ChannelId);
        if (entry.Value is not { Outbound: { } opening, Funding: { } funding } pending)
        {
            await SendAsync(peer, new Error(signed.ChannelId, "unexpected funding_signed"u8.ToArray()), cancellationToken).ConfigureAwait(false);
            return;
        }
        FundedChannel funded;
        try
        {
            funded = opening.HandleFundingSigned(signed);
        }
        catch (ChannelOpeningException e)
        {
            FailOpening(entry.Key, pending, NodeErrorReason.Rejected, e.Message);
            await SendAsync(peer, e.ToErrorMessage(signed.ChannelId), cancellationToken).ConfigureAwait(false);
            return;
        }
        _openings.Remove(entry.Key);
        var slot = await AddFundedChannelAsync(pending, funded, funding.Transaction, [], cancellationToken).ConfigureAwait(false);
        // Only now, with the peer's signature of our commitment persisted, may the funding transaction go out.
        try
        {
            await _deps.FundingWallet.BroadcastFundingAsync(funding.Transaction, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Bitcoin.Chain.BroadcastRejectedException or Bitcoin.Chain.ChainSourceException)
        {
            Log.BroadcastFailed(_logger, funding.Transaction.GetHash(), "funding", e.Message);
        }
        pending.Completion.TrySetResult(slot.ChannelId);
    }

    private async Task<ChannelSlot> AddFundedChannelAsync(PendingOpening pending, FundedChannel funded, Transaction? fundingTransaction, IReadOnlyList<LightningMessage> after, CancellationToken cancellationToken)
    {
        // As fundee the funding transaction must confirm within 2016 blocks of this tip (BOLT 2), see FundingTimeoutOps.
        var channel = Channel.FromFunded(funded, pending.Keys, out var output, ChannelOptions.Default with { MaxDustHtlcExposure = _options.MaxDustHtlcExposure }, _height >= 0 ? (uint)_height : null);
        var monitor = new ChannelMonitor(funded.Parameters, pending.Keys, _deps.FundingWallet.GetSweepScript(), _deps.ClaimFeeWallet);
        if (_height >= 0)
        {
            // The monitor starts at the current tip; later blocks are fed as they connect.
            monitor.BlockConnected((uint)_height, _tipHash, [], await CurrentFeerateAsync(cancellationToken).ConfigureAwait(false));
        }
        var slot = ChannelSlot.Create(pending.Peer, pending.KeyIndex, pending.Keys, channel, monitor, funded.TemporaryChannelId);
        slot.FundingTransaction = fundingTransaction;
        _channels.Add(slot.ChannelId, slot);
        await ApplyAsync(slot, output, [], cancellationToken, after).ConfigureAwait(false);
        Log.ChannelFunded(_logger, slot.ChannelId, slot.Peer, funded.Parameters.FundingAmount);
        await WriteBackupAsync(cancellationToken).ConfigureAwait(false);
        return slot;
    }

    /// <summary>
    /// Called for a channel whose funding transaction is not in the chain at block <paramref name="height"/> (before the
    /// block's batch is written). As fundee, 2016 blocks after <c>funding_signed</c> the channel is forgotten (BOLT 2
    /// <c>channel_ready</c>: "SHOULD forget the channel if it does not see the correct funding transaction after a
    /// timeout of 2016 blocks"): returns the <c>error</c> for the peer and the batch then deletes the channel instead of
    /// writing it (<see cref="ForgetUnfundedChannelAsync"/> completes it). The funder never forgets (its coins are in the
    /// funding transaction): null.
    /// </summary>
    private static ChannelOutput? FundingTimeoutOutput(ChannelSlot slot, int height)
    {
        if (height < 0)
        {
            return null;
        }
        var output = slot.Channel.FundingUnconfirmedAt((uint)height, out var forget);
        return forget ? output : null;
    }

    /// <summary>The writes that forget a fundee channel whose funding never confirmed (nothing of ours is at stake).</summary>
    private static IEnumerable<Storage.KvOperation> ForgetChannelOps(ChannelSlot slot) =>
        [NodeStore.RemoveChannel(slot.ChannelId), NodeStore.RemoveMonitor(slot.ChannelId)];

    /// <summary>After the block's batch deleted it: drops the channel from memory, tells the peer, rewrites the backup.</summary>
    private async Task ForgetUnfundedChannelAsync(ChannelSlot slot, ChannelOutput output, int height, CancellationToken cancellationToken)
    {
        _channels.Remove(slot.ChannelId);
        ForgottenChannels.Add(slot.ChannelId);
        Log.ChannelNote(_logger, slot.ChannelId, $"funding transaction {slot.Channel.Parameters.FundingOutPoint.Hash} not confirmed {Channel.FundingTimeoutBlocks} blocks after funding_signed (height {height}); channel forgotten");
        foreach (var message in output.Messages)
        {
            await SendAsync(slot.Peer, message, cancellationToken).ConfigureAwait(false);
        }
        await WriteBackupAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The funder's funding transaction is still not in the chain: broadcast it again at every block (a lost broadcast,
    /// a restarted backend or an evicted transaction must not strand the channel; BOLT 2 asks the funder to make sure
    /// it confirms within 2016 blocks). A refusal (already in the mempool, already confirmed) is only logged.
    /// </summary>
    private async Task RebroadcastFundingAsync(ChannelSlot slot, CancellationToken cancellationToken)
    {
        if (!slot.Channel.Parameters.LocalIsFunder || slot.FundingConfirmedHeight is not null || slot.FundingTransaction is not { } funding)
        {
            return;
        }
        try
        {
            await _deps.FundingWallet.BroadcastFundingAsync(funding, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Bitcoin.Chain.BroadcastRejectedException or Bitcoin.Chain.ChainSourceException)
        {
            Log.BroadcastFailed(_logger, funding.GetHash(), "funding (rebroadcast)", e.Message);
        }
    }

    /// <summary>Fundee channels forgotten while the node ran because their funding transaction never confirmed (BOLT 2, 2016 blocks).</summary>
    public List<ChannelId> ForgottenChannels { get; } = [];

    private async ValueTask<uint> CurrentFeerateAsync(CancellationToken cancellationToken) =>
        (await _deps.FeeEstimator.EstimateFeeRateAsync(_options.FeeTarget, cancellationToken).ConfigureAwait(false)).SatPerKw;

    private sealed class PendingOpening(NodeId peer, uint keyIndex, LocalChannelKeys keys, OutboundChannelOpening? outbound, InboundChannelOpening? inbound, uint feeratePerKw)
    {
        public NodeId Peer { get; } = peer;

        public uint KeyIndex { get; } = keyIndex;

        public LocalChannelKeys Keys { get; } = keys;

        public OutboundChannelOpening? Outbound { get; } = outbound;

        public InboundChannelOpening? Inbound { get; } = inbound;

        public uint FeeratePerKw { get; } = feeratePerKw;

        public FundingTransaction? Funding { get; set; }

        public TaskCompletionSource<ChannelId> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
