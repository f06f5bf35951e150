using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Gossip;

/// <summary>
/// The querying side of BOLT 7 gossip sync with one peer: ask for the peer's channels in a block range (with
/// timestamps), collect the short channel ids this node lacks or holds older updates of, and ask for them with
/// <c>query_short_channel_ids</c>, one query in flight at a time (BOLT 7). Pure: the host sends what it returns.
/// </summary>
public sealed class GossipSyncSession
{
    private readonly GossipStore _store;
    private readonly Queue<ShortChannelId> _wanted = new();
    private readonly HashSet<ShortChannelId> _queued = [];
    private bool _rangeComplete;
    private bool _queryInFlight;

    /// <summary>Creates a session (nothing is sent until <see cref="Start"/>).</summary>
    /// <param name="store">The store whose gaps are filled.</param>
    public GossipSyncSession(GossipStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <summary>True once the range query was answered completely and every wanted channel was asked for and answered.</summary>
    public bool IsComplete => _rangeComplete && !_queryInFlight && _wanted.Count == 0;

    /// <summary>Whether <see cref="Start"/> was called.</summary>
    public bool Started { get; private set; }

    /// <summary>The number of short channel ids asked for so far.</summary>
    public int RequestedCount { get; private set; }

    /// <summary>Starts the sync: the <c>query_channel_range</c> to send (all blocks from <paramref name="firstBlock"/>, with timestamps).</summary>
    /// <param name="firstBlock">The first block of interest.</param>
    public QueryChannelRange Start(uint firstBlock = 0)
    {
        Started = true;
        return new QueryChannelRange(_store.ChainHash, firstBlock, uint.MaxValue - firstBlock) { QueryOptionFlags = QueryChannelRange.WantTimestamps };
    }

    /// <summary>
    /// Handles a <c>reply_channel_range</c>: queues the ids worth asking for (unknown channels, or channels whose peer
    /// timestamps are newer than ours). Returns the <c>query_short_channel_ids</c> to send now, if any.
    /// </summary>
    /// <param name="reply">The reply.</param>
    public QueryShortChannelIds? OnReplyChannelRange(ReplyChannelRange reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        if (!Started || reply.ChainHash != _store.ChainHash)
        {
            return null;
        }
        var timestamps = reply.ExtensionsMatchIds ? reply.Timestamps : null;
        for (var i = 0; i < reply.ShortChannelIds.Count; i++)
        {
            var scid = reply.ShortChannelIds[i];
            if (_queued.Contains(scid))
            {
                continue;
            }
            var want = !_store.TryGetChannel(scid, out var known)
                || (timestamps is not null && (timestamps[i].NodeId1 > (known.Update1?.Timestamp ?? 0) || timestamps[i].NodeId2 > (known.Update2?.Timestamp ?? 0)));
            if (want)
            {
                _queued.Add(scid);
                _wanted.Enqueue(scid);
            }
        }
        if (reply.SyncComplete == 1)
        {
            _rangeComplete = true;
        }
        return NextQuery();
    }

    /// <summary>Handles <c>reply_short_channel_ids_end</c>: returns the next query to send, if any.</summary>
    /// <param name="end">The message.</param>
    public QueryShortChannelIds? OnReplyShortChannelIdsEnd(ReplyShortChannelIdsEnd end)
    {
        ArgumentNullException.ThrowIfNull(end);
        if (end.ChainHash != _store.ChainHash)
        {
            return null;
        }
        _queryInFlight = false;
        return NextQuery();
    }

    private QueryShortChannelIds? NextQuery()
    {
        if (_queryInFlight || _wanted.Count == 0)
        {
            return null;
        }
        var batch = new List<ShortChannelId>();
        while (batch.Count < Math.Max(1, _store.Options.MaxIdsPerQuery) && _wanted.TryDequeue(out var scid))
        {
            batch.Add(scid);
        }
        batch.Sort();
        _queryInFlight = true;
        RequestedCount += batch.Count;
        return new QueryShortChannelIds(_store.ChainHash, batch);
    }
}
