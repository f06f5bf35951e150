using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Gossip;

public sealed partial class GossipStore
{
    /// <summary><c>query_flags</c> bit: the <c>channel_announcement</c>.</summary>
    public const ulong QueryAnnouncement = 1;

    /// <summary><c>query_flags</c> bit: node 1's <c>channel_update</c>.</summary>
    public const ulong QueryUpdate1 = 2;

    /// <summary><c>query_flags</c> bit: node 2's <c>channel_update</c>.</summary>
    public const ulong QueryUpdate2 = 4;

    /// <summary><c>query_flags</c> bit: node 1's <c>node_announcement</c>.</summary>
    public const ulong QueryNode1 = 8;

    /// <summary><c>query_flags</c> bit: node 2's <c>node_announcement</c>.</summary>
    public const ulong QueryNode2 = 16;

    private const ulong QueryEverything = QueryAnnouncement | QueryUpdate1 | QueryUpdate2 | QueryNode1 | QueryNode2;

    /// <summary>
    /// Answers a <c>query_channel_range</c> (BOLT 7): the stored channels whose funding block lies in the range, in
    /// block order, split over replies of at most <see cref="GossipOptions.MaxIdsPerReply"/> ids without splitting a
    /// block (unless one block alone is larger); the replies cover the queried range contiguously and only the last has
    /// <c>sync_complete</c> set. Timestamps and checksums are added when the query asks for them. For another chain
    /// the answer is one empty reply with <c>sync_complete</c> 0.
    /// </summary>
    /// <param name="query">The query.</param>
    public IReadOnlyList<ReplyChannelRange> AnswerChannelRange(QueryChannelRange query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.ChainHash != ChainHash)
        {
            return [new ReplyChannelRange(query.ChainHash, query.FirstBlocknum, query.NumberOfBlocks, 0, [])];
        }
        var first = (ulong)query.FirstBlocknum;
        var end = Math.Min(first + query.NumberOfBlocks, (ulong)uint.MaxValue + 1);
        var wantTimestamps = ((query.QueryOptionFlags ?? 0) & QueryChannelRange.WantTimestamps) != 0;
        var wantChecksums = ((query.QueryOptionFlags ?? 0) & QueryChannelRange.WantChecksums) != 0;
        var inRange = _channels.Values.Where(c => c.ShortChannelId.BlockHeight >= first && c.ShortChannelId.BlockHeight < end).ToList();

        var chunks = new List<List<GossipChannel>>();
        var current = new List<GossipChannel>();
        var max = Math.Max(1, Options.MaxIdsPerReply);
        for (var i = 0; i < inRange.Count; i++)
        {
            var channel = inRange[i];
            var startsBlock = current.Count == 0 || current[^1].ShortChannelId.BlockHeight != channel.ShortChannelId.BlockHeight;
            var blockSize = 0;
            if (startsBlock)
            {
                while (i + blockSize < inRange.Count && inRange[i + blockSize].ShortChannelId.BlockHeight == channel.ShortChannelId.BlockHeight)
                {
                    blockSize++;
                }
            }
            if (current.Count > 0 && (current.Count >= max || (startsBlock && current.Count + blockSize > max)))
            {
                chunks.Add(current);
                current = [];
            }
            current.Add(channel);
        }
        if (current.Count > 0 || chunks.Count == 0)
        {
            chunks.Add(current);
        }

        var replies = new List<ReplyChannelRange>(chunks.Count);
        for (var i = 0; i < chunks.Count; i++)
        {
            var last = i == chunks.Count - 1;
            var chunk = chunks[i];
            // Reply i covers [its first block, its last block + 1); the first starts at the query's first block and the
            // last ends at the query's end (a block split over two replies is covered by both).
            var start = i == 0 ? first : chunk[0].ShortChannelId.BlockHeight;
            var chunkEnd = last ? end : (ulong)chunk[^1].ShortChannelId.BlockHeight + 1;
            replies.Add(new ReplyChannelRange(ChainHash, (uint)start, (uint)Math.Min(chunkEnd - start, uint.MaxValue), last ? (byte)1 : (byte)0, [.. chunk.Select(c => c.ShortChannelId)])
            {
                Timestamps = wantTimestamps ? [.. chunk.Select(c => new ChannelUpdateTimestamps(c.Update1?.Timestamp ?? 0, c.Update2?.Timestamp ?? 0))] : null,
                Checksums = wantChecksums ? [.. chunk.Select(c => new ChannelUpdateChecksums(Checksum(c.Update1), Checksum(c.Update2)))] : null,
            });
        }
        return replies;
    }

    private static uint Checksum(ChannelUpdate? update) => update is null ? 0 : GossipSignatures.ChannelUpdateChecksum(update);

    /// <summary>
    /// Answers a <c>query_short_channel_ids</c> (BOLT 7): for each known channel its <c>channel_announcement</c>, its
    /// <c>channel_update</c>s and its nodes' <c>node_announcement</c>s (each node once; <c>query_flags</c> honoured),
    /// then <c>reply_short_channel_ids_end</c> (<c>full_information</c> 0 for another chain).
    /// </summary>
    /// <param name="query">The query.</param>
    public IReadOnlyList<LightningMessage> AnswerShortChannelIds(QueryShortChannelIds query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.ChainHash != ChainHash)
        {
            return [new ReplyShortChannelIdsEnd(query.ChainHash, 0)];
        }
        var messages = new List<LightningMessage>();
        var sentNodes = new HashSet<NodeId>();
        for (var i = 0; i < query.ShortChannelIds.Count; i++)
        {
            if (!_channels.TryGetValue(query.ShortChannelIds[i], out var channel))
            {
                continue;
            }
            var flags = query.QueryFlags is { } f && query.QueryFlagsMatchIds ? f[i] : QueryEverything;
            if ((flags & QueryAnnouncement) != 0)
            {
                messages.Add(channel.Announcement);
            }
            if ((flags & QueryUpdate1) != 0 && channel.Update1 is { } u1)
            {
                messages.Add(u1);
            }
            if ((flags & QueryUpdate2) != 0 && channel.Update2 is { } u2)
            {
                messages.Add(u2);
            }
            if ((flags & QueryNode1) != 0 && sentNodes.Add(channel.Announcement.NodeId1) && _nodes.TryGetValue(channel.Announcement.NodeId1, out var n1))
            {
                messages.Add(n1);
            }
            if ((flags & QueryNode2) != 0 && sentNodes.Add(channel.Announcement.NodeId2) && _nodes.TryGetValue(channel.Announcement.NodeId2, out var n2))
            {
                messages.Add(n2);
            }
        }
        messages.Add(new ReplyShortChannelIdsEnd(ChainHash, 1));
        return messages;
    }

    /// <summary>True when <paramref name="timestamp"/> lies in the filter's window (<c>first_timestamp</c> ≤ t &lt; first + range).</summary>
    /// <param name="filter">The peer's filter.</param>
    /// <param name="timestamp">The gossip's timestamp.</param>
    public static bool InFilter(GossipTimestampFilter filter, uint timestamp)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return timestamp >= filter.FirstTimestamp && timestamp - (ulong)filter.FirstTimestamp < filter.TimestampRange;
    }

    /// <summary>
    /// The timestamp a message is filtered by: its own for updates and node announcements; for a
    /// <c>channel_announcement</c> the newest of its stored updates (BOLT 7), or <paramref name="fallback"/> without any.
    /// </summary>
    /// <param name="message">A gossip message.</param>
    /// <param name="fallback">The timestamp used when there is none (e.g. now).</param>
    public uint FilterTimestampOf(LightningMessage message, uint fallback) => message switch
    {
        ChannelUpdate u => u.Timestamp,
        NodeAnnouncement n => n.Timestamp,
        ChannelAnnouncement a when _channels.TryGetValue(a.ShortChannelId, out var c) && c.LatestUpdateTimestamp > 0 => c.LatestUpdateTimestamp,
        _ => fallback,
    };

    /// <summary>
    /// The stored gossip a peer's new <c>gossip_timestamp_filter</c> asks for: each channel with an update in the window
    /// (its announcement, then its updates in the window), then the node announcements in the window. Empty for
    /// another chain.
    /// </summary>
    /// <param name="filter">The peer's filter.</param>
    public IReadOnlyList<LightningMessage> GossipInFilter(GossipTimestampFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var messages = new List<LightningMessage>();
        if (filter.ChainHash != ChainHash)
        {
            return messages;
        }
        foreach (var channel in _channels.Values)
        {
            var u1 = channel.Update1 is { } a && InFilter(filter, a.Timestamp) ? a : null;
            var u2 = channel.Update2 is { } b && InFilter(filter, b.Timestamp) ? b : null;
            if (u1 is null && u2 is null)
            {
                continue;
            }
            messages.Add(channel.Announcement);
            if (u1 is not null)
            {
                messages.Add(u1);
            }
            if (u2 is not null)
            {
                messages.Add(u2);
            }
        }
        messages.AddRange(_nodes.Values.Where(n => InFilter(filter, n.Timestamp)).OrderBy(n => n.NodeId));
        return messages;
    }
}
