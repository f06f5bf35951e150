using NBitcoin;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Gossip;

/// <summary>Policy of a <see cref="GossipStore"/>.</summary>
public sealed record GossipOptions
{
    /// <summary>A channel whose newest update (both directions) is older than this is pruned; older updates are refused (BOLT 7: two weeks).</summary>
    public TimeSpan StaleAfter { get; init; } = TimeSpan.FromDays(14);

    /// <summary>How far in the future a timestamp may lie.</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromHours(1);

    /// <summary>One rate-limit token per channel direction (and per node announcement) comes back every interval.</summary>
    public TimeSpan RateLimitInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The most tokens a channel direction (or node) can save up: a burst of this many updates passes.</summary>
    public int RateLimitBurst { get; init; } = 3;

    /// <summary>The most short channel ids one <c>reply_channel_range</c> carries (the 65,535-byte message limit allows ~2,700 with timestamps and checksums).</summary>
    public int MaxIdsPerReply { get; init; } = 2_000;

    /// <summary>The most short channel ids one <c>query_short_channel_ids</c> asks for.</summary>
    public int MaxIdsPerQuery { get; init; } = 500;

    /// <summary>
    /// How long the peer of one of our public channels must stay offline before we announce the channel disabled
    /// (a grace period, so that a brief reconnection does not make the channel flap; see <see cref="ChannelStatusTracker"/>).
    /// </summary>
    public TimeSpan DisableAfter { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The most gossip messages one step of an <c>initial_routing_sync</c> dump sends to a peer (see
    /// <see cref="InitialSyncCursor"/>); a channel's announcement is never separated from its updates.
    /// </summary>
    public int InitialSyncBatchSize { get; init; } = 1_000;
}

/// <summary>One announced channel as the store holds it.</summary>
/// <param name="Announcement">The signed <c>channel_announcement</c>.</param>
/// <param name="Capacity">The funding output's value.</param>
/// <param name="FundingOutPoint">The funding output (spending it closes the channel).</param>
/// <param name="AnnouncedAt">When the announcement was accepted (unix seconds; used to prune channels that never got an update).</param>
/// <param name="Update1">The newest <c>channel_update</c> of direction 0 (from node 1).</param>
/// <param name="Update2">The newest <c>channel_update</c> of direction 1 (from node 2).</param>
public sealed record GossipChannel(ChannelAnnouncement Announcement, Money Capacity, OutPoint FundingOutPoint, uint AnnouncedAt, ChannelUpdate? Update1, ChannelUpdate? Update2)
{
    /// <summary>The channel's short id.</summary>
    public ShortChannelId ShortChannelId => Announcement.ShortChannelId;

    /// <summary>The update of a direction.</summary>
    /// <param name="direction">0 or 1.</param>
    public ChannelUpdate? UpdateOf(int direction) => direction == 0 ? Update1 : Update2;

    /// <summary>The newest update timestamp of either direction, or 0.</summary>
    public uint LatestUpdateTimestamp => Math.Max(Update1?.Timestamp ?? 0, Update2?.Timestamp ?? 0);
}

/// <summary>What changed in a <see cref="GossipStore"/> since the last <see cref="GossipStore.TakeChanges"/> (for persistence).</summary>
/// <param name="ChangedChannels">Channels added or updated.</param>
/// <param name="RemovedChannels">Channels removed.</param>
/// <param name="ChangedNodes">Node announcements added or replaced.</param>
/// <param name="RemovedNodes">Node announcements removed (their last channel went).</param>
public sealed record GossipChanges(
    IReadOnlyList<ShortChannelId> ChangedChannels,
    IReadOnlyList<ShortChannelId> RemovedChannels,
    IReadOnlyList<NodeId> ChangedNodes,
    IReadOnlyList<NodeId> RemovedNodes)
{
    /// <summary>True when nothing changed.</summary>
    public bool IsEmpty => ChangedChannels.Count == 0 && RemovedChannels.Count == 0 && ChangedNodes.Count == 0 && RemovedNodes.Count == 0;
}

/// <summary>
/// The BOLT 7 gossip store: validates <c>channel_announcement</c> (signatures, ordering, features, and against the
/// chain through an <see cref="IUtxoLookup"/>), <c>channel_update</c> (signature, freshness, rate limit, HTLC limits)
/// and <c>node_announcement</c>; keeps the newest of each; mirrors channels and policies into a
/// <see cref="NetworkGraph"/>; removes channels whose funding output is spent or whose updates went stale; answers
/// the gossip queries (see <c>GossipStore.Sync.cs</c>) and serialises itself for persistence. Bad gossip never throws:
/// every refusal is a <see cref="GossipVerdict"/>. Not thread-safe; no clock of its own (callers pass <c>now</c>).
/// </summary>
public sealed partial class GossipStore
{
    private readonly SortedDictionary<ShortChannelId, GossipChannel> _channels = [];
    private readonly Dictionary<OutPoint, ShortChannelId> _byFunding = [];
    private readonly Dictionary<NodeId, NodeAnnouncement> _nodes = [];
    private readonly Dictionary<NodeId, int> _nodeChannelCounts = [];
    private readonly Dictionary<(ShortChannelId, int), TokenBucket> _updateBuckets = [];
    private readonly Dictionary<NodeId, TokenBucket> _nodeBuckets = [];
    private readonly HashSet<ShortChannelId> _changedChannels = [];
    private readonly HashSet<ShortChannelId> _removedChannels = [];
    private readonly HashSet<NodeId> _changedNodes = [];
    private readonly HashSet<NodeId> _removedNodes = [];

    /// <summary>Creates an empty store.</summary>
    /// <param name="chainHash">The chain whose gossip is accepted.</param>
    /// <param name="graph">The graph kept in step with the store (channels, policies); a new one when null.</param>
    /// <param name="options">Policy (defaults when null).</param>
    public GossipStore(ChainHash chainHash, NetworkGraph? graph = null, GossipOptions? options = null)
    {
        ChainHash = chainHash;
        Graph = graph ?? new NetworkGraph();
        Options = options ?? new GossipOptions();
    }

    /// <summary>The chain.</summary>
    public ChainHash ChainHash { get; }

    /// <summary>The graph mirrored from the store.</summary>
    public NetworkGraph Graph { get; }

    /// <summary>The policy.</summary>
    public GossipOptions Options { get; }

    /// <summary>Number of announced channels.</summary>
    public int ChannelCount => _channels.Count;

    /// <summary>Number of node announcements.</summary>
    public int NodeAnnouncementCount => _nodes.Count;

    /// <summary>Number of nodes with at least one announced channel.</summary>
    public int NodeCount => _nodeChannelCounts.Count;

    /// <summary>The announced channels in short-channel-id order.</summary>
    public IEnumerable<GossipChannel> Channels => _channels.Values;

    /// <summary>The node announcements.</summary>
    public IEnumerable<NodeAnnouncement> NodeAnnouncements => _nodes.Values;

    /// <summary>Looks a channel up.</summary>
    /// <param name="shortChannelId">The channel.</param>
    /// <param name="channel">The channel, when known.</param>
    public bool TryGetChannel(ShortChannelId shortChannelId, out GossipChannel channel) => _channels.TryGetValue(shortChannelId, out channel!);

    /// <summary>Looks a node announcement up.</summary>
    /// <param name="nodeId">The node.</param>
    /// <param name="announcement">Its newest announcement, when known.</param>
    public bool TryGetNodeAnnouncement(NodeId nodeId, out NodeAnnouncement announcement) => _nodes.TryGetValue(nodeId, out announcement!);

    /// <summary>True when the node has at least one announced channel.</summary>
    /// <param name="nodeId">The node.</param>
    public bool HasChannels(NodeId nodeId) => _nodeChannelCounts.ContainsKey(nodeId);

    // ------------------------------------------------------------------ channel_announcement

    /// <summary>
    /// The checks of a <c>channel_announcement</c> that need no chain: chain hash, node id order, features and the four
    /// signatures. <see cref="GossipVerdict.Duplicate"/> when the channel is known already.
    /// </summary>
    /// <param name="announcement">The message.</param>
    public GossipVerdict CheckChannelAnnouncement(ChannelAnnouncement announcement)
    {
        ArgumentNullException.ThrowIfNull(announcement);
        try
        {
            if (announcement.ChainHash != ChainHash)
            {
                return GossipVerdict.WrongChain;
            }
            if (_channels.ContainsKey(announcement.ShortChannelId))
            {
                return GossipVerdict.Duplicate;
            }
            if (announcement.NodeId1.CompareTo(announcement.NodeId2) >= 0)
            {
                return GossipVerdict.NodeIdsNotOrdered;
            }
            if (HasUnknownEvenBit(announcement.FeatureBytes.Span))
            {
                return GossipVerdict.UnknownRequiredFeature;
            }
            if (!Messages.Primitives.Point.IsValid(announcement.BitcoinKey1.Span) || !Messages.Primitives.Point.IsValid(announcement.BitcoinKey2.Span))
            {
                return GossipVerdict.Malformed;
            }
            return GossipSignatures.Verify(announcement) ? GossipVerdict.Accepted : GossipVerdict.InvalidSignature;
        }
        catch (Exception e) when (e is WireFormatException or FormatException or ArgumentException)
        {
            return GossipVerdict.Malformed;
        }
    }

    /// <summary>
    /// Validates a <c>channel_announcement</c> (see <see cref="CheckChannelAnnouncement"/>) and against the chain: the
    /// output at the short channel id must exist, be unspent and pay to the P2WSH 2-of-2 of the two bitcoin keys; its
    /// value is the capacity. Accepted announcements are stored and added to the graph.
    /// </summary>
    /// <param name="announcement">The message.</param>
    /// <param name="chain">The chain lookup.</param>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels the chain lookup.</param>
    public async Task<GossipVerdict> AddChannelAnnouncementAsync(ChannelAnnouncement announcement, IUtxoLookup chain, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(announcement);
        ArgumentNullException.ThrowIfNull(chain);
        var verdict = CheckChannelAnnouncement(announcement);
        if (verdict != GossipVerdict.Accepted)
        {
            return verdict;
        }
        FundingOutputLookup funding;
        try
        {
            funding = await chain.LookupAsync(announcement.ShortChannelId, cancellationToken).ConfigureAwait(false);
        }
        catch (UtxoLookupException)
        {
            return GossipVerdict.ChainUnavailable;
        }
        return CompleteChannelAnnouncement(announcement, funding, now);
    }

    /// <summary>
    /// Completes a <c>channel_announcement</c> that passed <see cref="CheckChannelAnnouncement"/> with the chain's answer
    /// for its short channel id (for hosts that look the output up themselves).
    /// </summary>
    /// <param name="announcement">The message.</param>
    /// <param name="funding">What the chain holds at the short channel id.</param>
    /// <param name="now">The current time.</param>
    public GossipVerdict CompleteChannelAnnouncement(ChannelAnnouncement announcement, FundingOutputLookup funding, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(announcement);
        ArgumentNullException.ThrowIfNull(funding);
        if (_channels.ContainsKey(announcement.ShortChannelId))
        {
            return GossipVerdict.Duplicate;
        }
        switch (funding.State)
        {
            case FundingOutputState.Missing:
                return GossipVerdict.FundingOutputMissing;
            case FundingOutputState.Spent:
                return GossipVerdict.FundingOutputSpent;
        }
        if (funding.Output is null || funding.OutPoint is null)
        {
            return GossipVerdict.FundingOutputMissing;
        }
        Script expected;
        try
        {
            expected = Transactions.Bolt3Scripts.Funding(announcement.BitcoinKey1.ToPubKey(), announcement.BitcoinKey2.ToPubKey()).WitHash.ScriptPubKey;
        }
        catch (FormatException)
        {
            return GossipVerdict.Malformed;
        }
        if (funding.Output.ScriptPubKey != expected)
        {
            return GossipVerdict.FundingScriptMismatch;
        }
        Insert(new GossipChannel(announcement, funding.Output.Value, funding.OutPoint, ToUnix(now), null, null));
        return GossipVerdict.Accepted;
    }

    /// <summary>
    /// Adds one of this node's own channels (the announcement both sides signed, the funding output known to us). The
    /// signatures are still checked; the chain is not asked.
    /// </summary>
    /// <param name="announcement">The fully signed announcement.</param>
    /// <param name="capacity">The funding amount.</param>
    /// <param name="fundingOutPoint">The funding output.</param>
    /// <param name="now">The current time.</param>
    public GossipVerdict AddLocalChannel(ChannelAnnouncement announcement, Money capacity, OutPoint fundingOutPoint, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(announcement);
        ArgumentNullException.ThrowIfNull(capacity);
        ArgumentNullException.ThrowIfNull(fundingOutPoint);
        var verdict = CheckChannelAnnouncement(announcement);
        if (verdict == GossipVerdict.Accepted)
        {
            Insert(new GossipChannel(announcement, capacity, fundingOutPoint, ToUnix(now), null, null));
        }
        return verdict;
    }

    private void Insert(GossipChannel channel)
    {
        var a = channel.Announcement;
        _channels[a.ShortChannelId] = channel;
        _byFunding[channel.FundingOutPoint] = a.ShortChannelId;
        _nodeChannelCounts[a.NodeId1] = _nodeChannelCounts.GetValueOrDefault(a.NodeId1) + 1;
        _nodeChannelCounts[a.NodeId2] = _nodeChannelCounts.GetValueOrDefault(a.NodeId2) + 1;
        Graph.AddChannel(a, MilliSatoshi.FromSatoshis((ulong)channel.Capacity.Satoshi));
        foreach (var update in new[] { channel.Update1, channel.Update2 })
        {
            if (update is not null)
            {
                Graph.ApplyChannelUpdate(update);
            }
        }
        MarkChanged(a.ShortChannelId);
    }

    private static bool HasUnknownEvenBit(ReadOnlySpan<byte> features)
    {
        // No channel_announcement feature is defined: every even (required) bit is unknown.
        for (var i = 0; i < features.Length; i++)
        {
            if ((features[i] & 0x55) != 0)
            {
                return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------------ channel_update

    /// <summary>
    /// Validates and stores a <c>channel_update</c>: the channel must be announced, the signature must be the
    /// direction's node, the timestamp newer than the stored one, not in the future, not stale; the HTLC limits
    /// consistent; and the direction within its rate limit (unless <paramref name="local"/>).
    /// </summary>
    /// <param name="update">The message.</param>
    /// <param name="now">The current time.</param>
    /// <param name="local">True for this node's own updates (no rate limit).</param>
    public GossipVerdict AddChannelUpdate(ChannelUpdate update, DateTimeOffset now, bool local = false)
    {
        ArgumentNullException.ThrowIfNull(update);
        try
        {
            if (update.ChainHash != ChainHash)
            {
                return GossipVerdict.WrongChain;
            }
            if (!_channels.TryGetValue(update.ShortChannelId, out var channel))
            {
                return GossipVerdict.UnknownChannel;
            }
            var direction = update.Direction;
            var stored = channel.UpdateOf(direction);
            if (stored is not null && update.Timestamp <= stored.Timestamp)
            {
                return stored.Timestamp == update.Timestamp && stored.Encode().AsSpan().SequenceEqual(update.Encode()) ? GossipVerdict.Duplicate : GossipVerdict.Outdated;
            }
            if (CheckTimestamp(update.Timestamp, now) is { } timeVerdict)
            {
                return timeVerdict;
            }
            if (update.HtlcMinimumMsat > update.HtlcMaximumMsat || update.HtlcMaximumMsat > MilliSatoshi.FromSatoshis((ulong)channel.Capacity.Satoshi))
            {
                return GossipVerdict.InvalidHtlcLimits;
            }
            if (!GossipSignatures.Verify(update, channel.Announcement))
            {
                return GossipVerdict.InvalidSignature;
            }
            if (!local && !TakeToken(_updateBuckets, (update.ShortChannelId, direction), now))
            {
                return GossipVerdict.RateLimited;
            }
            _channels[update.ShortChannelId] = direction == 0 ? channel with { Update1 = update } : channel with { Update2 = update };
            Graph.ApplyChannelUpdate(update);
            MarkChanged(update.ShortChannelId);
            return GossipVerdict.Accepted;
        }
        catch (Exception e) when (e is WireFormatException or FormatException or ArgumentException)
        {
            return GossipVerdict.Malformed;
        }
    }

    // ------------------------------------------------------------------ node_announcement

    /// <summary>
    /// Validates and stores a <c>node_announcement</c>: the node must have an announced channel, the signature must be
    /// its own, the timestamp newer than the stored one and not in the future, and the node within its rate limit.
    /// </summary>
    /// <param name="announcement">The message.</param>
    /// <param name="now">The current time.</param>
    /// <param name="local">True for this node's own announcement (no rate limit).</param>
    public GossipVerdict AddNodeAnnouncement(NodeAnnouncement announcement, DateTimeOffset now, bool local = false)
    {
        ArgumentNullException.ThrowIfNull(announcement);
        try
        {
            if (!_nodeChannelCounts.ContainsKey(announcement.NodeId))
            {
                return GossipVerdict.NodeWithoutChannel;
            }
            if (_nodes.TryGetValue(announcement.NodeId, out var stored) && announcement.Timestamp <= stored.Timestamp)
            {
                return stored.Timestamp == announcement.Timestamp && stored.Encode().AsSpan().SequenceEqual(announcement.Encode()) ? GossipVerdict.Duplicate : GossipVerdict.Outdated;
            }
            if (ToUnix(now) + (long)Options.MaxFutureSkew.TotalSeconds < announcement.Timestamp)
            {
                return GossipVerdict.TimestampInFuture;
            }
            if (!GossipSignatures.Verify(announcement))
            {
                return GossipVerdict.InvalidSignature;
            }
            if (!local && !TakeToken(_nodeBuckets, announcement.NodeId, now))
            {
                return GossipVerdict.RateLimited;
            }
            _nodes[announcement.NodeId] = announcement;
            Graph.AddNode(announcement.NodeId);
            _changedNodes.Add(announcement.NodeId);
            _removedNodes.Remove(announcement.NodeId);
            return GossipVerdict.Accepted;
        }
        catch (Exception e) when (e is WireFormatException or FormatException or ArgumentException)
        {
            return GossipVerdict.Malformed;
        }
    }

    // ------------------------------------------------------------------ removal

    /// <summary>Removes a channel (closed, or pruned by the host). False when it was not stored.</summary>
    /// <param name="shortChannelId">The channel.</param>
    public bool RemoveChannel(ShortChannelId shortChannelId)
    {
        if (!_channels.Remove(shortChannelId, out var channel))
        {
            return false;
        }
        _byFunding.Remove(channel.FundingOutPoint);
        _updateBuckets.Remove((shortChannelId, 0));
        _updateBuckets.Remove((shortChannelId, 1));
        Graph.RemoveChannel(shortChannelId);
        foreach (var node in new[] { channel.Announcement.NodeId1, channel.Announcement.NodeId2 })
        {
            var count = _nodeChannelCounts.GetValueOrDefault(node) - 1;
            if (count > 0)
            {
                _nodeChannelCounts[node] = count;
                continue;
            }
            _nodeChannelCounts.Remove(node);
            _nodeBuckets.Remove(node);
            if (_nodes.Remove(node))
            {
                _removedNodes.Add(node);
                _changedNodes.Remove(node);
            }
        }
        _changedChannels.Remove(shortChannelId);
        _removedChannels.Add(shortChannelId);
        return true;
    }

    /// <summary>
    /// A block connected: channels whose funding output one of its transactions spends are closed and removed.
    /// Returns the removed channels.
    /// </summary>
    /// <param name="transactions">The block's transactions.</param>
    public IReadOnlyList<ShortChannelId> BlockConnected(IEnumerable<Transaction> transactions)
    {
        ArgumentNullException.ThrowIfNull(transactions);
        var removed = new List<ShortChannelId>();
        if (_byFunding.Count == 0)
        {
            return removed;
        }
        foreach (var tx in transactions)
        {
            foreach (var input in tx.Inputs)
            {
                if (_byFunding.TryGetValue(input.PrevOut, out var scid) && RemoveChannel(scid))
                {
                    removed.Add(scid);
                }
            }
        }
        return removed;
    }

    /// <summary>
    /// Removes stale channels: those whose newest update of both directions (or, without any update, whose
    /// announcement) is older than <see cref="GossipOptions.StaleAfter"/>. Returns the removed channels.
    /// </summary>
    /// <param name="now">The current time.</param>
    /// <param name="keep">Channels never pruned (e.g. this node's own), or null.</param>
    public IReadOnlyList<ShortChannelId> PruneStale(DateTimeOffset now, Func<ShortChannelId, bool>? keep = null)
    {
        var horizon = ToUnix(now) - (long)Options.StaleAfter.TotalSeconds;
        var stale = _channels.Values
            .Where(c => Math.Max(c.LatestUpdateTimestamp, c.Update1 is null && c.Update2 is null ? c.AnnouncedAt : 0u) < horizon)
            .Select(c => c.ShortChannelId)
            .Where(s => keep is null || !keep(s))
            .ToList();
        foreach (var scid in stale)
        {
            RemoveChannel(scid);
        }
        return stale;
    }

    /// <summary>Returns and clears what changed since the previous call (the host persists it).</summary>
    public GossipChanges TakeChanges()
    {
        var changes = new GossipChanges([.. _changedChannels], [.. _removedChannels], [.. _changedNodes], [.. _removedNodes]);
        _changedChannels.Clear();
        _removedChannels.Clear();
        _changedNodes.Clear();
        _removedNodes.Clear();
        return changes;
    }

    private void MarkChanged(ShortChannelId scid)
    {
        _changedChannels.Add(scid);
        _removedChannels.Remove(scid);
    }

    private GossipVerdict? CheckTimestamp(uint timestamp, DateTimeOffset now)
    {
        var unix = ToUnix(now);
        if (timestamp > unix + (long)Options.MaxFutureSkew.TotalSeconds)
        {
            return GossipVerdict.TimestampInFuture;
        }
        if (timestamp < unix - (long)Options.StaleAfter.TotalSeconds)
        {
            return GossipVerdict.TimestampTooOld;
        }
        return null;
    }

    private bool TakeToken<TKey>(Dictionary<TKey, TokenBucket> buckets, TKey key, DateTimeOffset now)
        where TKey : notnull
    {
        var burst = Math.Max(1, Options.RateLimitBurst);
        var bucket = buckets.TryGetValue(key, out var b) ? b : new TokenBucket(burst, now);
        var interval = Options.RateLimitInterval;
        if (interval > TimeSpan.Zero && now > bucket.Since)
        {
            var refill = (now - bucket.Since).Ticks / interval.Ticks;
            if (refill > 0)
            {
                bucket = new TokenBucket((int)Math.Min(burst, bucket.Tokens + refill), bucket.Tokens + refill >= burst ? now : bucket.Since + TimeSpan.FromTicks(refill * interval.Ticks));
            }
        }
        if (bucket.Tokens <= 0)
        {
            buckets[key] = bucket;
            return false;
        }
        buckets[key] = bucket with { Tokens = bucket.Tokens - 1 };
        return true;
    }

    internal static uint ToUnix(DateTimeOffset time)
    {
        var seconds = time.ToUnixTimeSeconds();
        return seconds <= 0 ? 0 : seconds >= uint.MaxValue ? uint.MaxValue : (uint)seconds;
    }

    private readonly record struct TokenBucket(int Tokens, DateTimeOffset Since);
}
