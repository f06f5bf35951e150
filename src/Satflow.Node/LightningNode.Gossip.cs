using System.Net;
using Microsoft.Extensions.Logging;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Net;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;
using Satflow.Storage;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>The primary store namespace of the gossip records (channels, node announcements, pending announcement signatures).</summary>
    public const string GossipNamespace = "gossip";

    private const string GossipChannelsNamespace = "channels";
    private const string GossipNodesNamespace = "nodes";
    private const string GossipSignaturesNamespace = "announcement-signatures";

    /// <summary>BOLT 7: a channel is announced once its funding transaction has this many confirmations.</summary>
    public const int AnnouncementDepth = 6;

    private static readonly TimeSpan OwnUpdateRefresh = TimeSpan.FromDays(7);

    private readonly Dictionary<NodeId, GossipPeer> _gossipPeers = [];
    private readonly Dictionary<ChannelId, AnnouncementSignatures> _remoteAnnouncementSignatures = [];
    private readonly Dictionary<ShortChannelId, ChannelUpdate> _ownUpdates = [];
    private readonly Dictionary<ShortChannelId, ChannelUpdate> _peerUpdates = [];
    private GossipStore? _gossipStore;
    private DateTimeOffset? _lastGossipSync;
    private uint _lastNodeAnnouncementTimestamp;

    private GossipStore Gossip => _gossipStore ??= new GossipStore(_options.ChainHash, Graph, _options.Gossip);

    private ChannelStatusTracker ChannelStatus => _channelStatus ??= new ChannelStatusTracker(Gossip.Options);

    private ChannelStatusTracker? _channelStatus;

    /// <summary>BOLT 9 <c>init</c> feature bit 3, <c>initial_routing_sync</c>: the peer wants a full dump of our gossip (only without <c>gossip_queries</c>).</summary>
    public const int InitialRoutingSyncBit = 3;

    private IUtxoLookup UtxoLookup => _utxoLookup ??= _deps.ChainSource is { } chain ? new ChainUtxoLookup(chain) : NoUtxoLookup.Instance;

    private IUtxoLookup? _utxoLookup;

    private DateTimeOffset Now => _deps.Time.GetUtcNow();

    private uint NowUnix => (uint)Math.Clamp(Now.ToUnixTimeSeconds(), 0, uint.MaxValue);

    /// <summary>A summary of the channel graph and of this node's gossip.</summary>
    /// <param name="cancellationToken">Cancels the wait for the node's lock.</param>
    public async Task<GraphSummary> GetGraphSummaryAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var own = _channels.Values
                .Where(s => s.ShortChannelId is { } scid && Gossip.TryGetChannel(scid, out _))
                .Select(s => s.ShortChannelId!.Value)
                .OrderBy(s => s)
                .ToList();
            return new GraphSummary(Graph.NodeCount, Graph.ChannelCount, Gossip.ChannelCount, Gossip.NodeAnnouncementCount, own,
                _lastGossipSync, _gossipPeers.Values.Count(p => p.Session is { IsComplete: false }));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>What the graph knows of one node: its announcement (if any) and its channels.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="cancellationToken">Cancels the wait for the node's lock.</param>
    /// <returns>Null when the graph does not know the node.</returns>
    public async Task<GraphNodeSummary?> GetGraphNodeAsync(NodeId nodeId, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!Graph.ContainsNode(nodeId))
            {
                return null;
            }
            Gossip.TryGetNodeAnnouncement(nodeId, out var announcement);
            return new GraphNodeSummary(nodeId, announcement?.AliasText, announcement?.RgbColor.ToString(),
                announcement is null ? null : DateTimeOffset.FromUnixTimeSeconds(announcement.Timestamp),
                announcement?.Addresses.Select(a => a.ToString() ?? string.Empty).ToList() ?? [],
                Graph.ChannelsOf(nodeId));
        }
        finally
        {
            _gate.Release();
        }
    }

    // ------------------------------------------------------------------ restore and persistence

    private async Task RestoreGossipAsync(CancellationToken cancellationToken)
    {
        var channels = await _store.Store.ListAsync(GossipNamespace, GossipChannelsNamespace, cancellationToken).ConfigureAwait(false);
        var channelRecords = new List<ReadOnlyMemory<byte>>();
        foreach (var key in channels)
        {
            if (await _store.Store.ReadAsync(GossipNamespace, GossipChannelsNamespace, key, cancellationToken).ConfigureAwait(false) is { } value)
            {
                channelRecords.Add(value);
            }
        }
        var nodeRecords = new List<ReadOnlyMemory<byte>>();
        foreach (var key in await _store.Store.ListAsync(GossipNamespace, GossipNodesNamespace, cancellationToken).ConfigureAwait(false))
        {
            if (await _store.Store.ReadAsync(GossipNamespace, GossipNodesNamespace, key, cancellationToken).ConfigureAwait(false) is { } value)
            {
                nodeRecords.Add(value);
            }
        }
        try
        {
            _gossipStore = GossipStore.Restore(_options.ChainHash, channelRecords, nodeRecords, Graph, _options.Gossip);
            foreach (var key in await _store.Store.ListAsync(GossipNamespace, GossipSignaturesNamespace, cancellationToken).ConfigureAwait(false))
            {
                if (await _store.Store.ReadAsync(GossipNamespace, GossipSignaturesNamespace, key, cancellationToken).ConfigureAwait(false) is { } value
                    && LightningMessage.Decode(value.Span) is AnnouncementSignatures signatures)
                {
                    _remoteAnnouncementSignatures[signatures.ChannelId] = signatures;
                }
            }
        }
        catch (Lightning.Wire.WireFormatException e)
        {
            throw new NodeStateCorruptException($"A gossip record is unreadable: {e.Message}", e);
        }
        if (Gossip.TryGetNodeAnnouncement(NodeId, out var ours))
        {
            _lastNodeAnnouncementTimestamp = ours.Timestamp;
        }
        foreach (var slot in _channels.Values)
        {
            if (slot.ShortChannelId is not { } scid)
            {
                continue;
            }
            // Every channel starts offline: the disable grace period runs from the start until its peer is back.
            ChannelStatus.PeerDisconnected(scid, Now);
            if (Gossip.TryGetChannel(scid, out var stored))
            {
                var direction = NodeId < slot.Peer ? 0 : 1;
                if (stored.UpdateOf(direction) is { } update)
                {
                    _ownUpdates[scid] = update;
                }
                if (stored.UpdateOf(1 - direction) is { } peerUpdate)
                {
                    _peerUpdates[scid] = peerUpdate;
                }
            }
            else if (slot.Channel.State == ChannelState.Normal)
            {
                AddOwnChannelToGraph(slot, scid);
            }
        }
    }

    private async Task PersistGossipAsync(CancellationToken cancellationToken)
    {
        var changes = Gossip.TakeChanges();
        if (changes.IsEmpty)
        {
            return;
        }
        var ops = new List<KvOperation>();
        ops.AddRange(changes.ChangedChannels.Select(s => KvOperation.Write(GossipNamespace, GossipChannelsNamespace, ScidKey(s), Gossip.EncodeChannel(s))));
        ops.AddRange(changes.RemovedChannels.Select(s => KvOperation.Remove(GossipNamespace, GossipChannelsNamespace, ScidKey(s))));
        ops.AddRange(changes.ChangedNodes.Select(n => KvOperation.Write(GossipNamespace, GossipNodesNamespace, Convert.ToHexStringLower(n.Span), Gossip.EncodeNode(n))));
        ops.AddRange(changes.RemovedNodes.Select(n => KvOperation.Remove(GossipNamespace, GossipNodesNamespace, Convert.ToHexStringLower(n.Span))));
        await _store.CommitAsync(ops, cancellationToken).ConfigureAwait(false);
    }

    private static string ScidKey(ShortChannelId scid) => scid.Value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    // ------------------------------------------------------------------ peers

    private async Task GossipPeerConnectedAsync(PeerInfo peer, CancellationToken cancellationToken)
    {
        var state = new GossipPeer { Connected = true, GossipQueries = peer.Features.Supports(Lightning.Features.FeatureRegistry.GossipQueries.EvenBit) };
        _gossipPeers[peer.NodeId] = state;
        if (!state.GossipQueries)
        {
            // BOLT 7: without gossip_queries the peer is relayed all gossip from now on; with initial_routing_sync it
            // first gets everything we know, a bounded batch now and the rest at each timer tick.
            if (peer.Features.IsSet(InitialRoutingSyncBit))
            {
                state.InitialSync = new InitialSyncCursor(Gossip);
                await SendInitialSyncBatchAsync(peer.NodeId, state, cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        // Ask for gossip of the last two weeks from now on, and sync the graph through range queries.
        var first = (uint)Math.Max(0, NowUnix - (long)Gossip.Options.StaleAfter.TotalSeconds);
        await SendAsync(peer.NodeId, new GossipTimestampFilter(_options.ChainHash, first, uint.MaxValue - first), cancellationToken).ConfigureAwait(false);
        state.Session = new GossipSyncSession(Gossip);
        await SendAsync(peer.NodeId, state.Session.Start(), cancellationToken).ConfigureAwait(false);
    }

    private void GossipPeerDisconnected(NodeId peer)
    {
        _gossipPeers.Remove(peer);
        foreach (var slot in _channels.Values.Where(s => s.Peer == peer))
        {
            if (slot.ShortChannelId is { } scid)
            {
                // The disable grace period starts now (the timer announces the channel disabled if the peer stays away).
                ChannelStatus.PeerDisconnected(scid, Now);
            }
        }
    }

    private async Task SendInitialSyncBatchAsync(NodeId peer, GossipPeer state, CancellationToken cancellationToken)
    {
        if (state.InitialSync is not { } cursor)
        {
            return;
        }
        foreach (var message in cursor.NextBatch(Math.Max(1, Gossip.Options.InitialSyncBatchSize)))
        {
            await SendAsync(peer, message, cancellationToken).ConfigureAwait(false);
        }
        if (cursor.IsComplete)
        {
            state.InitialSync = null;
            GossipLog.InitialSyncSent(_logger, peer, cursor.SentCount);
        }
    }

    /// <summary>
    /// Drives the gossip timers: announces our public channels disabled once their peer has been offline for the grace
    /// period (<see cref="GossipOptions.DisableAfter"/>) or as soon as they are closing, and enabled again when usable;
    /// and sends the next batch of every running <c>initial_routing_sync</c> dump. Hosts call this periodically
    /// (<see cref="NodeRunner"/> does); the node has no thread of its own.
    /// </summary>
    /// <param name="cancellationToken">Cancels the work.</param>
    public async Task ProcessGossipTimersAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await UpdateChannelStatusesAsync(cancellationToken).ConfigureAwait(false);
            foreach (var (peer, state) in _gossipPeers.Where(p => p.Value.Connected && p.Value.InitialSync is not null).OrderBy(p => p.Key).ToList())
            {
                await SendInitialSyncBatchAsync(peer, state, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Signs and broadcasts a disabled (or re-enabled) <c>channel_update</c> for each announced channel of ours whose
    /// announced status no longer matches what <see cref="ChannelStatusTracker"/> decides.
    /// </summary>
    private async Task UpdateChannelStatusesAsync(CancellationToken cancellationToken)
    {
        var relay = new List<LightningMessage>();
        foreach (var slot in _channels.Values.OrderBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal).ToList())
        {
            if (slot.ShortChannelId is not { } scid || !slot.IsPublic || !Gossip.TryGetChannel(scid, out _)
                || slot.Channel.State == ChannelState.AwaitingFundingConfirmation)
            {
                continue;
            }
            var availability = slot.Channel.State != ChannelState.Normal ? ChannelAvailability.Closing
                : slot.Channel.IsOffline ? ChannelAvailability.Offline : ChannelAvailability.Usable;
            var announcedDisabled = _ownUpdates.TryGetValue(scid, out var current) && current.IsDisabled;
            var action = ChannelStatus.Evaluate(scid, availability, announcedDisabled, Now);
            ChannelUpdate update;
            if (action != ChannelStatusAction.None)
            {
                update = OwnUpdate(slot, scid, disabled: action == ChannelStatusAction.Disable);
            }
            else if (availability == ChannelAvailability.Offline && current is not null && current.Timestamp + (uint)OwnUpdateRefresh.TotalSeconds <= NowUnix)
            {
                // A long outage: refresh the (disabled) update weekly like a usable channel's, so the channel is not
                // pruned as stale by others before its peer comes back.
                update = OwnUpdate(slot, scid);
            }
            else
            {
                continue;
            }
            if (Gossip.AddChannelUpdate(update, Now, local: true) == GossipVerdict.Accepted)
            {
                relay.Add(update);
                Log.ChannelNote(_logger, slot.ChannelId, $"{scid} announced {(update.IsDisabled ? "disabled" : "enabled")} ({availability})");
            }
        }
        if (relay.Count > 0)
        {
            await PersistGossipAsync(cancellationToken).ConfigureAwait(false);
            await RelayAsync(null, relay, cancellationToken).ConfigureAwait(false);
        }
    }

    private GossipPeer GossipPeerOf(NodeId peer)
    {
        if (!_gossipPeers.TryGetValue(peer, out var state))
        {
            state = new GossipPeer();
            _gossipPeers[peer] = state;
        }
        return state;
    }

    // ------------------------------------------------------------------ incoming gossip

    private async Task<bool> DispatchGossipAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken)
    {
        switch (message)
        {
            case AnnouncementSignatures signatures:
                await OnAnnouncementSignaturesAsync(peer, signatures, cancellationToken).ConfigureAwait(false);
                return true;
            case ChannelAnnouncement announcement:
                await OnChannelAnnouncementAsync(peer, announcement, cancellationToken).ConfigureAwait(false);
                return true;
            case ChannelUpdate update:
                await OnChannelUpdateAsync(peer, update, cancellationToken).ConfigureAwait(false);
                return true;
            case NodeAnnouncement node:
                if (Gossip.AddNodeAnnouncement(node, Now) == GossipVerdict.Accepted)
                {
                    await PersistGossipAsync(cancellationToken).ConfigureAwait(false);
                    await RelayAsync(peer, [node], cancellationToken).ConfigureAwait(false);
                }
                return true;
            case QueryChannelRange query:
                foreach (var reply in Gossip.AnswerChannelRange(query))
                {
                    await SendAsync(peer, reply, cancellationToken).ConfigureAwait(false);
                }
                return true;
            case QueryShortChannelIds query:
                foreach (var answer in Gossip.AnswerShortChannelIds(query))
                {
                    await SendAsync(peer, answer, cancellationToken).ConfigureAwait(false);
                }
                return true;
            case GossipTimestampFilter filter:
                GossipPeerOf(peer).Filter = filter;
                foreach (var stored in Gossip.GossipInFilter(filter))
                {
                    await SendAsync(peer, stored, cancellationToken).ConfigureAwait(false);
                }
                return true;
            case ReplyChannelRange reply:
                await SyncStepAsync(peer, s => s.OnReplyChannelRange(reply), cancellationToken).ConfigureAwait(false);
                return true;
            case ReplyShortChannelIdsEnd end:
                await SyncStepAsync(peer, s => s.OnReplyShortChannelIdsEnd(end), cancellationToken).ConfigureAwait(false);
                return true;
            default:
                return false;
        }
    }

    private async Task SyncStepAsync(NodeId peer, Func<GossipSyncSession, QueryShortChannelIds?> step, CancellationToken cancellationToken)
    {
        if (!_gossipPeers.TryGetValue(peer, out var state) || state.Session is not { } session)
        {
            return;
        }
        var wasComplete = session.IsComplete;
        if (step(session) is { } query)
        {
            await SendAsync(peer, query, cancellationToken).ConfigureAwait(false);
        }
        if (!wasComplete && session.IsComplete)
        {
            _lastGossipSync = Now;
            GossipLog.SyncComplete(_logger, peer, Gossip.ChannelCount, Gossip.NodeAnnouncementCount);
        }
    }

    private async Task OnChannelAnnouncementAsync(NodeId peer, ChannelAnnouncement announcement, CancellationToken cancellationToken)
    {
        var verdict = await Gossip.AddChannelAnnouncementAsync(announcement, UtxoLookup, Now, cancellationToken).ConfigureAwait(false);
        if (verdict != GossipVerdict.Accepted)
        {
            if (verdict.IsMisbehaviour())
            {
                GossipLog.Refused(_logger, peer, "channel_announcement", announcement.ShortChannelId.ToString(), verdict);
            }
            return;
        }
        await PersistGossipAsync(cancellationToken).ConfigureAwait(false);
        await RelayAsync(peer, [announcement], cancellationToken).ConfigureAwait(false);
        if (OwnSlotOf(announcement.ShortChannelId) is { } slot)
        {
            // The peer announced our channel before we did: add our side's update to it.
            await AnnounceOwnChannelAsync(slot, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task OnChannelUpdateAsync(NodeId peer, ChannelUpdate update, CancellationToken cancellationToken)
    {
        if (OwnSlotOf(update.ShortChannelId) is { } slot && !Gossip.TryGetChannel(update.ShortChannelId, out _))
        {
            // An update of one of our channels that is not announced (yet, or never: a private channel). Only the
            // channel peer's own direction is taken, signed by it.
            if (slot.Peer != peer || update.ChainHash != _options.ChainHash || update.Direction != (slot.Peer < NodeId ? 0 : 1)
                || !GossipSignatures.Verify(update, slot.Peer)
                || (_peerUpdates.TryGetValue(update.ShortChannelId, out var known) && known.Timestamp >= update.Timestamp))
            {
                return;
            }
            _peerUpdates[update.ShortChannelId] = update;
            AddOwnChannelToGraph(slot, update.ShortChannelId);
            Graph.ApplyChannelUpdate(update);
            return;
        }
        var verdict = Gossip.AddChannelUpdate(update, Now);
        if (verdict != GossipVerdict.Accepted)
        {
            if (verdict.IsMisbehaviour())
            {
                GossipLog.Refused(_logger, peer, "channel_update", update.ShortChannelId.ToString(), verdict);
            }
            return;
        }
        if (OwnSlotOf(update.ShortChannelId) is not null)
        {
            _peerUpdates[update.ShortChannelId] = update;
        }
        await PersistGossipAsync(cancellationToken).ConfigureAwait(false);
        if (!update.DontForward)
        {
            await RelayAsync(peer, [update], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends accepted gossip to every other connected peer that wants it (BOLT 7): a <c>gossip_queries</c> peer gets
    /// what its <c>gossip_timestamp_filter</c> covers (nothing without a filter), except our own gossip, which ignores
    /// filters; a peer without <c>gossip_queries</c> gets everything.
    /// </summary>
    private async Task RelayAsync(NodeId? from, IReadOnlyList<LightningMessage> messages, CancellationToken cancellationToken)
    {
        var now = NowUnix;
        var own = messages.Select(IsOwnGossip).ToList();
        var timestamps = messages.Select(m => Gossip.FilterTimestampOf(m, now)).ToList();
        foreach (var (peer, state) in _gossipPeers.OrderBy(p => p.Key).ToList())
        {
            if (peer == from || !state.Connected)
            {
                continue;
            }
            for (var i = 0; i < messages.Count; i++)
            {
                var wanted = !state.GossipQueries || own[i] || (state.Filter is { } filter && GossipStore.InFilter(filter, timestamps[i]));
                if (wanted)
                {
                    await SendAsync(peer, messages[i], cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Gossip this node generated: our node_announcement, our channels' announcements and our direction's updates.</summary>
    private bool IsOwnGossip(LightningMessage message) => message switch
    {
        NodeAnnouncement n => n.NodeId == NodeId,
        ChannelAnnouncement a => a.NodeId1 == NodeId || a.NodeId2 == NodeId,
        ChannelUpdate u => OwnSlotOf(u.ShortChannelId) is { } slot && u.Direction == (NodeId < slot.Peer ? 0 : 1),
        _ => false,
    };

    // ------------------------------------------------------------------ our channels

    private ChannelSlot? OwnSlotOf(ShortChannelId scid) => _channels.Values.FirstOrDefault(s => s.ShortChannelId == scid);

    /// <summary>Called when a channel became usable (channel_ready exchanged) or was reestablished.</summary>
    private async Task OnChannelActiveForGossipAsync(ChannelSlot slot, CancellationToken cancellationToken)
    {
        if (slot.Channel.State != ChannelState.Normal || slot.Channel.IsOffline || slot.ShortChannelId is not { } scid || !_channels.ContainsKey(slot.ChannelId))
        {
            return;
        }
        AddOwnChannelToGraph(slot, scid);
        var update = OwnUpdate(slot, scid);
        // The peer is back: the outage (and its disable grace period) ends; a disabled update was just replaced.
        ChannelStatus.Evaluate(scid, ChannelAvailability.Usable, update.IsDisabled, Now);
        var peer = GossipPeerOf(slot.Peer);
        if (peer.UpdatesSent.Add(slot.ChannelId))
        {
            // The channel peer always learns our policy (for a private channel it is the only one who does).
            await SendAsync(slot.Peer, update, cancellationToken).ConfigureAwait(false);
        }
        await AnnounceOwnChannelAsync(slot, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Our current channel_update of a channel: the last one while it still matches the channel's policy and is less
    /// than a week old, else a newly signed one (timestamps strictly increase).
    /// </summary>
    /// <param name="slot">The channel.</param>
    /// <param name="scid">Its short channel id.</param>
    /// <param name="disabled">
    /// The <c>disable</c> bit; by default set for a channel that is not in the normal state, kept as announced while the
    /// peer is offline (the status timer decides when to flip it) and cleared for a usable channel.
    /// </param>
    private ChannelUpdate OwnUpdate(ChannelSlot slot, ShortChannelId scid, bool? disabled = null)
    {
        _ownUpdates.TryGetValue(scid, out var existing);
        var disable = disabled ?? (slot.Channel.State != ChannelState.Normal || (slot.Channel.IsOffline && existing is { IsDisabled: true }));
        var unsigned = UnsignedOwnUpdate(slot, scid, existing, disable);
        if (existing is not null && existing.Timestamp + (uint)OwnUpdateRefresh.TotalSeconds > NowUnix && SamePolicy(existing, unsigned))
        {
            return existing;
        }
        var update = GossipSignatures.Sign(unsigned, _nodeKey);
        _ownUpdates[scid] = update;
        Graph.ApplyChannelUpdate(update);
        return update;
    }

    private static bool SamePolicy(ChannelUpdate a, ChannelUpdate b) =>
        a.FeeBaseMsat == b.FeeBaseMsat && a.FeeProportionalMillionths == b.FeeProportionalMillionths && a.CltvExpiryDelta == b.CltvExpiryDelta
        && a.HtlcMinimumMsat == b.HtlcMinimumMsat && a.HtlcMaximumMsat == b.HtlcMaximumMsat && a.ChannelFlags == b.ChannelFlags
        && a.MessageFlags == b.MessageFlags;

    private ChannelUpdate UnsignedOwnUpdate(ChannelSlot slot, ShortChannelId scid, ChannelUpdate? previous, bool disabled)
    {
        var policy = GossipPolicyOf(slot);
        var capacity = MilliSatoshi.FromSatoshis((ulong)slot.Channel.Parameters.FundingAmount.Satoshi);
        var maximum = policy.HtlcMaximum is { } m && m < capacity ? m : capacity;
        var minimum = policy.HtlcMinimum > maximum ? maximum : policy.HtlcMinimum;
        var direction = NodeId < slot.Peer ? 0 : 1;
        var timestamp = Math.Max(NowUnix, previous is null ? 0 : previous.Timestamp + 1);
        return new ChannelUpdate(default, _options.ChainHash, scid, timestamp, (byte)(1 | (slot.IsPublic ? 0 : 2)), (byte)(direction | (disabled ? 2 : 0)),
            policy.CltvExpiryDelta, minimum, (uint)Math.Min(policy.BaseFee.Value, uint.MaxValue), policy.FeeProportionalMillionths, maximum, Array.Empty<byte>());
    }

    /// <summary>The forwarding policy announced for a channel (its own, or the node's default).</summary>
    private ForwardingPolicy GossipPolicyOf(ChannelSlot slot) => GetChannelPolicy(slot.ChannelId);

    private void AddOwnChannelToGraph(ChannelSlot slot, ShortChannelId scid)
    {
        if (!Graph.TryGetChannel(scid, out _))
        {
            Graph.AddChannel(scid, NodeId, slot.Peer, MilliSatoshi.FromSatoshis((ulong)slot.Channel.Parameters.FundingAmount.Satoshi));
        }
        if (_ownUpdates.TryGetValue(scid, out var ours))
        {
            Graph.ApplyChannelUpdate(ours);
        }
        if (_peerUpdates.TryGetValue(scid, out var theirs))
        {
            Graph.ApplyChannelUpdate(theirs);
        }
    }

    private bool DeepEnoughToAnnounce(ChannelSlot slot) =>
        slot.FundingConfirmedHeight is { } confirmed && _height - confirmed + 1 >= AnnouncementDepth;

    /// <summary>
    /// Drives a public channel's announcement: once the funding is 6 blocks deep, send our
    /// <c>announcement_signatures</c> (once per connection); with the peer's, build the signed
    /// <c>channel_announcement</c>, store it with both sides' updates and our <c>node_announcement</c>, and relay them.
    /// </summary>
    private async Task AnnounceOwnChannelAsync(ChannelSlot slot, CancellationToken cancellationToken)
    {
        if (!slot.IsPublic || slot.ShortChannelId is not { } scid || slot.Channel.State != ChannelState.Normal || !DeepEnoughToAnnounce(slot))
        {
            return;
        }
        var relay = new List<LightningMessage>();
        if (!Gossip.TryGetChannel(scid, out _))
        {
            var unsigned = UnsignedAnnouncement(slot, scid);
            var hash = GossipSignatures.ChannelAnnouncementHash(unsigned);
            var nodeSignature = GossipSignatures.Sign(_nodeKey, hash);
            var bitcoinSignature = GossipSignatures.Sign(slot.Keys.FundingKey, hash);
            var peer = GossipPeerOf(slot.Peer);
            if (!slot.Channel.IsOffline && peer.SignaturesSent.Add(slot.ChannelId))
            {
                await SendAsync(slot.Peer, new AnnouncementSignatures(slot.ChannelId, scid, nodeSignature, bitcoinSignature), cancellationToken).ConfigureAwait(false);
            }
            if (!_remoteAnnouncementSignatures.TryGetValue(slot.ChannelId, out var remote) || remote.ShortChannelId != scid)
            {
                return;
            }
            var weAreFirst = NodeId < slot.Peer;
            var announcement = unsigned with
            {
                NodeSignature1 = weAreFirst ? nodeSignature : remote.NodeSignature,
                NodeSignature2 = weAreFirst ? remote.NodeSignature : nodeSignature,
                BitcoinSignature1 = weAreFirst ? bitcoinSignature : remote.BitcoinSignature,
                BitcoinSignature2 = weAreFirst ? remote.BitcoinSignature : bitcoinSignature,
            };
            var verdict = Gossip.AddLocalChannel(announcement, slot.Channel.Parameters.FundingAmount, slot.Channel.Parameters.FundingOutPoint, Now);
            if (verdict != GossipVerdict.Accepted)
            {
                Log.ChannelNote(_logger, slot.ChannelId, $"could not announce {scid}: {verdict}");
                return;
            }
            relay.Add(announcement);
            Log.ChannelNote(_logger, slot.ChannelId, $"announced {scid}");
        }
        if (_remoteAnnouncementSignatures.Remove(slot.ChannelId))
        {
            // The announcement is stored now: the peer's half is no longer needed.
            await _store.CommitAsync([KvOperation.Remove(GossipNamespace, GossipSignaturesNamespace, NodeStore.KeyOf(slot.ChannelId))], cancellationToken).ConfigureAwait(false);
        }
        Gossip.TryGetChannel(scid, out var stored);
        var direction = NodeId < slot.Peer ? 0 : 1;
        var ours = OwnUpdate(slot, scid);
        if (stored.UpdateOf(direction) is not { } storedOurs || storedOurs.Timestamp < ours.Timestamp)
        {
            if (Gossip.AddChannelUpdate(ours, Now, local: true) == GossipVerdict.Accepted)
            {
                relay.Add(ours);
            }
        }
        if (_peerUpdates.TryGetValue(scid, out var theirs) && Gossip.AddChannelUpdate(theirs, Now) == GossipVerdict.Accepted)
        {
            relay.Add(theirs);
        }
        if (OwnNodeAnnouncement() is { } node)
        {
            relay.Add(node);
        }
        await PersistGossipAsync(cancellationToken).ConfigureAwait(false);
        await RelayAsync(null, relay, cancellationToken).ConfigureAwait(false);
    }

    private ChannelAnnouncement UnsignedAnnouncement(ChannelSlot slot, ShortChannelId scid)
    {
        var local = new Point(slot.Channel.Parameters.Local.FundingPubKey);
        var remote = new Point(slot.Channel.Parameters.Remote.FundingPubKey);
        var weAreFirst = NodeId < slot.Peer;
        return new ChannelAnnouncement(default, default, default, default, Array.Empty<byte>(), _options.ChainHash, scid,
            weAreFirst ? NodeId : slot.Peer, weAreFirst ? slot.Peer : NodeId, weAreFirst ? local : remote, weAreFirst ? remote : local, Array.Empty<byte>());
    }

    /// <summary>Our node_announcement, (re)built when missing or a week old; null when it was not accepted (no announced channel).</summary>
    private NodeAnnouncement? OwnNodeAnnouncement()
    {
        if (Gossip.TryGetNodeAnnouncement(NodeId, out var existing) && existing.Timestamp + (uint)OwnUpdateRefresh.TotalSeconds > NowUnix)
        {
            return null;
        }
        var alias = _options.Alias;
        while (System.Text.Encoding.UTF8.GetByteCount(alias) > Bytes32.Length)
        {
            alias = alias[..^1];
        }
        var addresses = new List<NetworkAddress>();
        if (ListenEndPoint is { } endPoint && !endPoint.Address.Equals(IPAddress.Any) && !endPoint.Address.Equals(IPAddress.IPv6Any))
        {
            addresses.Add(endPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
                ? new IPv6NetworkAddress(endPoint.Address, (ushort)endPoint.Port)
                : new IPv4NetworkAddress(endPoint.Address, (ushort)endPoint.Port));
        }
        var id = NodeId.Span;
        var timestamp = Math.Max(NowUnix, _lastNodeAnnouncementTimestamp + 1);
        var unsigned = new NodeAnnouncement(default, Array.Empty<byte>(), timestamp, NodeId, new RgbColor(id[1], id[2], id[3]),
            NodeAnnouncement.EncodeAlias(alias), addresses, Array.Empty<byte>(), Array.Empty<byte>());
        var signed = GossipSignatures.Sign(unsigned, _nodeKey);
        if (Gossip.AddNodeAnnouncement(signed, Now, local: true) != GossipVerdict.Accepted)
        {
            return null;
        }
        _lastNodeAnnouncementTimestamp = timestamp;
        return signed;
    }

    private async Task OnAnnouncementSignaturesAsync(NodeId peer, AnnouncementSignatures signatures, CancellationToken cancellationToken)
    {
        if (!_channels.TryGetValue(signatures.ChannelId, out var slot) || slot.Peer != peer || !slot.IsPublic)
        {
            return;
        }
        if (slot.ShortChannelId is not { } scid || scid != signatures.ShortChannelId)
        {
            // The peer may have seen the funding confirm before us; a different scid is its mistake (or a reorg).
            if (slot.ShortChannelId is not null)
            {
                await SendAsync(peer, new Warning(slot.ChannelId, "announcement_signatures for another short_channel_id"u8.ToArray()), cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        var hash = GossipSignatures.ChannelAnnouncementHash(UnsignedAnnouncement(slot, scid));
        if (!GossipSignatures.Verify(peer.ToPubKey(), hash, signatures.NodeSignature)
            || !GossipSignatures.Verify(slot.Channel.Parameters.Remote.FundingPubKey, hash, signatures.BitcoinSignature))
        {
            Log.PeerWarning(_logger, peer, $"invalid announcement_signatures for {scid}");
            await SendAsync(peer, new Warning(slot.ChannelId, "invalid announcement_signatures"u8.ToArray()), cancellationToken).ConfigureAwait(false);
            return;
        }
        var state = GossipPeerOf(peer);
        if (Gossip.TryGetChannel(scid, out _))
        {
            // Already announced: the peer lacks our half (e.g. after a reconnection); answer once.
            if (state.SignaturesSent.Add(slot.ChannelId))
            {
                await SendAsync(peer, new AnnouncementSignatures(slot.ChannelId, scid, GossipSignatures.Sign(_nodeKey, hash), GossipSignatures.Sign(slot.Keys.FundingKey, hash)), cancellationToken).ConfigureAwait(false);
            }
            return;
        }
        _remoteAnnouncementSignatures[slot.ChannelId] = signatures;
        await _store.CommitAsync([KvOperation.Write(GossipNamespace, GossipSignaturesNamespace, NodeStore.KeyOf(slot.ChannelId), signatures.Encode())], cancellationToken).ConfigureAwait(false);
        await AnnounceOwnChannelAsync(slot, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Block hook: closed channels leave the graph, stale ones are pruned, our channels are announced and refreshed.</summary>
    private async Task GossipBlockConnectedAsync(NBitcoin.Block block, CancellationToken cancellationToken)
    {
        Gossip.BlockConnected(block.Transactions);
        var spent = block.Transactions.SelectMany(t => t.Inputs).Select(i => i.PrevOut).ToHashSet();
        foreach (var slot in _channels.Values.ToList())
        {
            if (slot.ShortChannelId is { } scid && spent.Contains(slot.Channel.Parameters.FundingOutPoint))
            {
                // Our own channel closed: gone from the graph whether it was announced or not.
                Graph.RemoveChannel(scid);
                _ownUpdates.Remove(scid);
                _peerUpdates.Remove(scid);
                ChannelStatus.Forget(scid);
            }
        }
        var own = _channels.Values.Where(s => s.ShortChannelId is not null).Select(s => s.ShortChannelId!.Value).ToHashSet();
        Gossip.PruneStale(Now, own.Contains);
        foreach (var slot in _channels.Values.Where(s => s.ShortChannelId is not null && !spent.Contains(s.Channel.Parameters.FundingOutPoint))
            .OrderBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal).ToList())
        {
            await OnChannelActiveForGossipAsync(slot, cancellationToken).ConfigureAwait(false);
        }
        // A channel that started closing is announced disabled with the next block (or timer tick), whichever is first.
        await UpdateChannelStatusesAsync(cancellationToken).ConfigureAwait(false);
        await PersistGossipAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed class GossipPeer
    {
        /// <summary>False for the state kept for a channel peer that is not connected (announcement bookkeeping only).</summary>
        public bool Connected { get; init; }

        /// <summary>Whether <c>gossip_queries</c> is negotiated: relays then follow the peer's timestamp filter.</summary>
        public bool GossipQueries { get; init; }

        /// <summary>The running <c>initial_routing_sync</c> dump, if any.</summary>
        public InitialSyncCursor? InitialSync { get; set; }

        public GossipTimestampFilter? Filter { get; set; }

        public GossipSyncSession? Session { get; set; }

        public HashSet<ChannelId> UpdatesSent { get; } = [];

        public HashSet<ChannelId> SignaturesSent { get; } = [];
    }
}

internal static partial class GossipLog
{
    [LoggerMessage(700, LogLevel.Information, "Gossip sync with {Peer} complete: {Channels} channels, {Nodes} node announcements")]
    public static partial void SyncComplete(ILogger logger, NodeId peer, int channels, int nodes);

    [LoggerMessage(701, LogLevel.Warning, "Peer {Peer} sent an invalid {Kind} for {ShortChannelId}: {Verdict}")]
    public static partial void Refused(ILogger logger, NodeId peer, string kind, string shortChannelId, GossipVerdict verdict);

    [LoggerMessage(702, LogLevel.Information, "Initial routing sync to {Peer} complete: {Messages} gossip messages")]
    public static partial void InitialSyncSent(ILogger logger, NodeId peer, int messages);
}

/// <summary>A summary of the node's channel graph (<c>GET /v1/graph</c>).</summary>
/// <param name="NodeCount">Nodes in the graph.</param>
/// <param name="ChannelCount">Channels in the graph (announced ones and our own private ones).</param>
/// <param name="AnnouncedChannelCount">Channels validated from gossip (announced).</param>
/// <param name="NodeAnnouncementCount">Node announcements held.</param>
/// <param name="OurAnnouncedChannels">Our own channels that are announced.</param>
/// <param name="LastSync">When a gossip sync with a peer last completed, if ever (since start).</param>
/// <param name="SyncingPeers">Peers whose sync is still running.</param>
public sealed record GraphSummary(
    int NodeCount,
    int ChannelCount,
    int AnnouncedChannelCount,
    int NodeAnnouncementCount,
    IReadOnlyList<ShortChannelId> OurAnnouncedChannels,
    DateTimeOffset? LastSync,
    int SyncingPeers);

/// <summary>One node of the graph (<c>GET /v1/graph/nodes/{id}</c>).</summary>
/// <param name="NodeId">The node.</param>
/// <param name="Alias">Its announced alias, if it announced itself.</param>
/// <param name="Color">Its announced colour (<c>#rrggbb</c>), if any.</param>
/// <param name="AnnouncedAt">Its announcement's timestamp, if any.</param>
/// <param name="Addresses">Its announced addresses.</param>
/// <param name="Channels">Its channels in the graph.</param>
public sealed record GraphNodeSummary(
    NodeId NodeId,
    string? Alias,
    string? Color,
    DateTimeOffset? AnnouncedAt,
    IReadOnlyList<string> Addresses,
    IReadOnlyList<Lightning.Routing.ChannelInfo> Channels);
