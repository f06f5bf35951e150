using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Gossip;

/// <summary>
/// The sending side of an <c>initial_routing_sync</c> (BOLT 7, for a peer that did not negotiate
/// <c>gossip_queries</c> and set feature bit 3 in <c>init</c>): "send gossip messages for all known channels and nodes,
/// as if they were just received". The store's channels are walked in short-channel-id order — each channel's
/// <c>channel_announcement</c> followed by its <c>channel_update</c>s — then the <c>node_announcement</c>s in node-id
/// order, so every announcement precedes the messages that depend on it. The walk is paced: each
/// <see cref="NextBatch"/> returns at most a bounded number of messages (the host sends one batch per timer tick) and
/// reads the store as it is then, so channels removed meanwhile are skipped and updates are the newest. Gossip the store
/// accepts after the cursor was created is not part of the walk: the host relays it as it arrives. Pure; not thread-safe.
/// </summary>
public sealed class InitialSyncCursor
{
    private readonly GossipStore _store;
    private readonly ShortChannelId[] _channels;
    private readonly NodeId[] _nodes;
    private int _nextChannel;
    private int _nextNode;

    /// <summary>Snapshots what the store holds now (the ids only; messages are read at each batch).</summary>
    /// <param name="store">The store to dump.</param>
    public InitialSyncCursor(GossipStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _channels = [.. store.Channels.Select(c => c.ShortChannelId)];
        _nodes = [.. store.NodeAnnouncements.Select(n => n.NodeId).Order()];
    }

    /// <summary>True once every channel and node of the snapshot was handed out.</summary>
    public bool IsComplete => _nextChannel >= _channels.Length && _nextNode >= _nodes.Length;

    /// <summary>Messages handed out so far.</summary>
    public int SentCount { get; private set; }

    /// <summary>
    /// The next messages to send: at most <paramref name="maxMessages"/>, except that a channel's announcement and its
    /// updates (at most three messages) always travel in one batch. Empty once <see cref="IsComplete"/>.
    /// </summary>
    /// <param name="maxMessages">The batch bound (at least 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">When <paramref name="maxMessages"/> is below 1.</exception>
    public IReadOnlyList<LightningMessage> NextBatch(int maxMessages)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        var batch = new List<LightningMessage>();
        while (_nextChannel < _channels.Length)
        {
            if (!_store.TryGetChannel(_channels[_nextChannel], out var channel))
            {
                _nextChannel++; // closed or pruned since the snapshot
                continue;
            }
            var size = 1 + (channel.Update1 is null ? 0 : 1) + (channel.Update2 is null ? 0 : 1);
            if (batch.Count > 0 && batch.Count + size > maxMessages)
            {
                return Handed(batch);
            }
            batch.Add(channel.Announcement);
            if (channel.Update1 is { } u1)
            {
                batch.Add(u1);
            }
            if (channel.Update2 is { } u2)
            {
                batch.Add(u2);
            }
            _nextChannel++;
        }
        while (_nextNode < _nodes.Length && batch.Count < maxMessages)
        {
            if (_store.TryGetNodeAnnouncement(_nodes[_nextNode], out var node))
            {
                batch.Add(node);
            }
            _nextNode++;
        }
        return Handed(batch);
    }

    private List<LightningMessage> Handed(List<LightningMessage> batch)
    {
        SentCount += batch.Count;
        return batch;
    }
}
