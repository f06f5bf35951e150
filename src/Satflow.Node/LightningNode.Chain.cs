using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;
using Satflow.Storage;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>
    /// A block connected: funding transactions are looked for and their depth given to the channels, every monitor
    /// sees the block (and may ask for claims to be broadcast), and the tip is persisted with the changed monitors.
    /// </summary>
    /// <param name="block">The block.</param>
    /// <param name="height">Its height.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public async ValueTask BlockConnectedAsync(Block block, int height, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(block);
        var feerate = await CurrentFeerateAsync(cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var pending in _channels.Values.Where(s => s.HasDeferred).ToList())
            {
                // The block batch below writes channel states: their outboxes go first, with their records.
                await ApplyAsync(pending, Lightning.Channels.ChannelOutput.Empty, [], cancellationToken).ConfigureAwait(false);
            }
            var hash = block.GetHash();
            _height = height;
            _tipHash = hash;
            var slots = _channels.Values.OrderBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal).ToList();
            var results = new List<(ChannelSlot Slot, MonitorOutput Output)>();
            var forgotten = new Dictionary<ChannelSlot, ChannelOutput>();
            foreach (var slot in slots)
            {
                if (slot.FundingConfirmedHeight is null)
                {
                    var funding = slot.Channel.Parameters.FundingOutPoint;
                    for (var i = 0; i < block.Transactions.Count; i++)
                    {
                        if (block.Transactions[i].GetHash() == funding.Hash)
                        {
                            slot.FundingConfirmedHeight = height;
                            slot.ShortChannelId = new ShortChannelId((uint)height, (uint)i, (ushort)funding.N);
                            slot.FundingTransaction = null;
                            break;
                        }
                    }
                    if (slot.FundingConfirmedHeight is null && FundingTimeoutOutput(slot, height) is { } forget)
                    {
                        forgotten.Add(slot, forget); // fundee, 2016 blocks without the funding transaction (Opening.cs)
                        continue;
                    }
                }
                results.Add((slot, slot.Monitor.BlockConnected((uint)height, hash, block.Transactions, feerate)));
            }
            var ops = new List<KvOperation> { NodeStore.WriteTip(height, hash) };
            foreach (var slot in slots)
            {
                ops.AddRange(forgotten.ContainsKey(slot) ? ForgetChannelOps(slot) : slot.Persist());
            }
            await _store.CommitAsync(ops, cancellationToken).ConfigureAwait(false);
            foreach (var (slot, forget) in forgotten)
            {
                await ForgetUnfundedChannelAsync(slot, forget, height, cancellationToken).ConfigureAwait(false);
            }
            foreach (var slot in slots)
            {
                await RebroadcastFundingAsync(slot, cancellationToken).ConfigureAwait(false);
            }
            foreach (var (slot, output) in results)
            {
                foreach (var broadcast in output.Broadcasts)
                {
                    await BroadcastAsync(broadcast.Transaction, broadcast.Purpose.ToString(), cancellationToken).ConfigureAwait(false);
                }
                await HandleMonitorEventsAsync(slot, output.Events, cancellationToken).ConfigureAwait(false);
            }
            await FeedRecoveriesAsync(m => m.BlockConnected((uint)height, hash, block.Transactions, feerate), cancellationToken).ConfigureAwait(false);
            foreach (var slot in slots.Where(s => _channels.ContainsKey(s.ChannelId) && s.FundingConfirmedHeight is not null && s.ShortChannelId is not null))
            {
                var depth = (uint)(height - slot.FundingConfirmedHeight!.Value + 1);
                var output = slot.Channel.FundingConfirmed(depth, slot.ShortChannelId!.Value);
                if (!output.IsEmpty)
                {
                    await ApplyAsync(slot, output, [], cancellationToken).ConfigureAwait(false);
                }
            }
            await GossipBlockConnectedAsync(block, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A block was disconnected (reorg): monitors forget what it confirmed; funding confirmations in it are undone.</summary>
    /// <param name="header">The disconnected block's header.</param>
    /// <param name="height">Its height.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public async ValueTask BlockDisconnectedAsync(BlockHeader header, int height, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(header);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _height = height - 1;
            _tipHash = header.HashPrevBlock;
            var ops = new List<KvOperation> { NodeStore.WriteTip(_height, _tipHash) };
            var results = new List<(ChannelSlot, MonitorOutput)>();
            foreach (var slot in _channels.Values.OrderBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal).ToList())
            {
                if (slot.FundingConfirmedHeight >= height)
                {
                    slot.FundingConfirmedHeight = null;
                }
                results.Add((slot, slot.Monitor.BlockDisconnected((uint)height, header.GetHash())));
                ops.AddRange(slot.Persist());
            }
            await _store.CommitAsync(ops, cancellationToken).ConfigureAwait(false);
            foreach (var (slot, output) in results)
            {
                foreach (var broadcast in output.Broadcasts)
                {
                    await BroadcastAsync(broadcast.Transaction, broadcast.Purpose.ToString(), cancellationToken).ConfigureAwait(false);
                }
                await HandleMonitorEventsAsync(slot, output.Events, cancellationToken).ConfigureAwait(false);
            }
            await FeedRecoveriesAsync(m => m.BlockDisconnected((uint)height, header.GetHash()), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Every monitor event the node has reported, in order (what a host shows or a test asserts on).</summary>
    public IReadOnlyList<(ChannelId ChannelId, MonitorEvent Event)> MonitorEvents => _monitorEvents;

    private readonly List<(ChannelId, MonitorEvent)> _monitorEvents = [];

    private async Task HandleMonitorEventsAsync(ChannelSlot slot, IReadOnlyList<MonitorEvent> events, CancellationToken cancellationToken)
    {
        foreach (var e in events)
        {
            _monitorEvents.Add((slot.ChannelId, e));
            switch (e)
            {
                case HtlcResolvedOnChain { OfferedByUs: true } resolved:
                {
                    if (await ResolveForwardOnChainAsync(slot, resolved, cancellationToken).ConfigureAwait(false))
                    {
                        break;
                    }
                    var ops = new List<KvOperation>();
                    var failure = resolved.TimedOut ? "The channel was closed on chain and the HTLC timed out." : null;
                    if (!await ResolveOfferedPartAsync(slot, resolved.HtlcId, resolved.Preimage, (_, _) => new Payments.PartFailure(null, null, false, failure ?? "The HTLC was resolved on chain without a preimage."), ops, cancellationToken).ConfigureAwait(false)
                        && await ResolvePaymentAsync(resolved.PaymentHash, resolved.Preimage, failure, ops, cancellationToken).ConfigureAwait(false) is { } record)
                    {
                        _afterCommit.Add(() =>
                        {
                            CompletePayment(record);
                            return Task.CompletedTask;
                        });
                    }
                    var completions = TakeAfterCommit();
                    await _store.CommitAsync(ops, cancellationToken).ConfigureAwait(false);
                    foreach (var completion in completions)
                    {
                        await completion().ConfigureAwait(false);
                    }
                    break;
                }
                case MonitorForceClosed forced when slot.Channel.State is not (ChannelState.ForceClosed or ChannelState.Closed or ChannelState.LocalDataLoss):
                    // The monitor closed on chain to save an HTLC (deadline or preimage): the channel must stop taking
                    // updates and tell the peer, instead of staying Normal until the close is fully resolved.
                    Log.ChannelNote(_logger, slot.ChannelId, "force closed by the chain monitor: " + forced.Reason);
                    await ApplyAsync(slot, slot.Channel.ForceClosedByMonitor("force closed: " + forced.Reason), [], cancellationToken).ConfigureAwait(false);
                    break;
                case CommitmentConfirmed confirmed:
                    Log.ChannelNote(_logger, slot.ChannelId, $"{confirmed.Kind} transaction {confirmed.TxId} confirmed at {confirmed.Height}");
                    break;
                case ChannelFullyResolved:
                    slot.FullyResolved = true;
                    await FailForwardsOfResolvedChannelAsync(slot.ChannelId, cancellationToken).ConfigureAwait(false);
                    _channels.Remove(slot.ChannelId);
                    var removals = new List<KvOperation> { NodeStore.RemoveChannel(slot.ChannelId), NodeStore.RemoveMonitor(slot.ChannelId) };
                    foreach (var key in _received.Keys.Where(k => k.Item1 == slot.ChannelId).ToList())
                    {
                        _received.Remove(key);
                        _forwards.Remove(key);
                        removals.Add(NodeStore.RemoveReceivedHtlc(key.Item1, key.Item2));
                    }
                    await _store.CommitAsync(removals, cancellationToken).ConfigureAwait(false);
                    ClosedChannels.Add(slot.ChannelId);
                    Log.ChannelNote(_logger, slot.ChannelId, "fully resolved on chain; forgotten");
                    await WriteBackupAsync(cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>Channels that were fully resolved on chain and forgotten while the node ran.</summary>
    public List<ChannelId> ClosedChannels { get; } = [];
}
