using Satflow.Lightning.Gossip;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Gossip.GossipTestNetwork;

namespace Satflow.Lightning.Tests.Gossip;

public sealed class InitialSyncCursorTests
{
    private readonly GossipTestNetwork _net = new();

    /// <summary>
    /// <paramref name="count"/> channels in a line 0-1-2-..., in blocks given out of order; channel i has both updates
    /// unless <paramref name="oneUpdate"/> says otherwise; every node announced.
    /// </summary>
    private async Task<GossipStore> FilledAsync(int count, Func<int, bool>? oneUpdate = null)
    {
        var store = new GossipStore(ChainHash.Regtest);
        for (var i = 0; i < count; i++)
        {
            var ann = _net.Announce(i, i + 1, new ShortChannelId((uint)(2000 - (7 * i % 11)), (uint)i, 0));
            Assert.Equal(GossipVerdict.Accepted, await store.AddChannelAnnouncementAsync(ann, _net, Now));
            Assert.Equal(GossipVerdict.Accepted, store.AddChannelUpdate(Update(ann, i, NowUnix - 100), Now));
            if (oneUpdate?.Invoke(i) != true)
            {
                Assert.Equal(GossipVerdict.Accepted, store.AddChannelUpdate(Update(ann, i + 1, NowUnix - 50), Now));
            }
        }
        for (var i = 0; i <= count; i++)
        {
            Assert.Equal(GossipVerdict.Accepted, store.AddNodeAnnouncement(NodeAnnouncement(i, NowUnix - 10, $"n{i}"), Now));
        }
        return store;
    }

    private static List<IReadOnlyList<LightningMessage>> Drain(InitialSyncCursor cursor, int batch)
    {
        var batches = new List<IReadOnlyList<LightningMessage>>();
        while (!cursor.IsComplete)
        {
            batches.Add(cursor.NextBatch(batch));
            Assert.True(batches.Count < 10_000);
        }
        return batches;
    }

    [Fact]
    public async Task The_dump_sends_each_announcement_with_its_updates_in_channel_order_then_the_nodes_in_bounded_batches()
    {
        var store = await FilledAsync(9, oneUpdate: i => i % 3 == 0);
        var cursor = new InitialSyncCursor(store);
        Assert.False(cursor.IsComplete);
        var batches = Drain(cursor, 4);
        Assert.Empty(cursor.NextBatch(4));
        Assert.True(batches.Count > 1);
        Assert.All(batches, b => Assert.InRange(b.Count, 1, 4));

        var expected = new List<LightningMessage>();
        foreach (var channel in store.Channels.OrderBy(c => c.ShortChannelId))
        {
            expected.Add(channel.Announcement);
            expected.AddRange(new[] { channel.Update1, channel.Update2 }.OfType<ChannelUpdate>());
        }
        expected.AddRange(store.NodeAnnouncements.OrderBy(n => n.NodeId));
        var all = batches.SelectMany(b => b).ToList();
        Assert.Equal(expected, all);
        Assert.Equal(9 + 9 + 6 + 10, all.Count);
        Assert.Equal(all.Count, cursor.SentCount);
        // A channel's announcement and updates never straddle two batches.
        foreach (var batch in batches)
        {
            Assert.IsNotType<ChannelUpdate>(batch[0]);
        }
    }

    [Fact]
    public async Task A_batch_of_one_still_keeps_a_channel_together()
    {
        var store = await FilledAsync(2);
        var cursor = new InitialSyncCursor(store);
        var batches = Drain(cursor, 1);
        Assert.Equal([3, 3, 1, 1, 1], batches.Select(b => b.Count));
        Assert.Throws<ArgumentOutOfRangeException>(() => cursor.NextBatch(0));
        Assert.Throws<ArgumentNullException>(() => new InitialSyncCursor(null!));
    }

    [Fact]
    public async Task The_dump_replayed_into_an_empty_store_rebuilds_the_same_graph()
    {
        var store = await FilledAsync(12, oneUpdate: i => i == 4);
        var cursor = new InitialSyncCursor(store);
        var copy = new GossipStore(ChainHash.Regtest);
        foreach (var message in Drain(cursor, 5).SelectMany(b => b))
        {
            var verdict = message switch
            {
                ChannelAnnouncement a => await copy.AddChannelAnnouncementAsync(a, _net, Now),
                ChannelUpdate u => copy.AddChannelUpdate(u, Now),
                NodeAnnouncement n => copy.AddNodeAnnouncement(n, Now),
                _ => throw new InvalidOperationException(message.GetType().Name),
            };
            Assert.Equal(GossipVerdict.Accepted, verdict);
        }
        Assert.Equal(store.ChannelCount, copy.ChannelCount);
        Assert.Equal(store.NodeAnnouncementCount, copy.NodeAnnouncementCount);
        foreach (var channel in store.Channels)
        {
            Assert.True(copy.TryGetChannel(channel.ShortChannelId, out var copied));
            Assert.Equal(channel with { AnnouncedAt = 0 }, copied with { AnnouncedAt = 0 });
            Assert.True(copy.Graph.TryGetChannel(channel.ShortChannelId, out var info));
            Assert.Equal(channel.Update2 is null, info.Policy2 is null);
        }
    }

    [Fact]
    public async Task Gossip_changed_during_the_dump_is_read_when_its_turn_comes()
    {
        var store = await FilledAsync(6);
        var cursor = new InitialSyncCursor(store);
        var first = cursor.NextBatch(3);
        var channels = store.Channels.Select(c => c.ShortChannelId).ToList();
        Assert.Equal(channels[0], Assert.IsType<ChannelAnnouncement>(first[0]).ShortChannelId);

        // Channel 1 closes, channel 2 gets a newer update, a new channel appears: the dump skips the first, sends the
        // newest update of the second and leaves the third to the normal relay.
        Assert.True(store.RemoveChannel(channels[1]));
        Assert.True(store.TryGetChannel(channels[2], out var second));
        var from = Enumerable.Range(0, 7).First(i => Id(i) == second.Announcement.NodeId1);
        var newer = Update(second.Announcement, from, NowUnix - 1, feeBase: 77);
        Assert.Equal(GossipVerdict.Accepted, store.AddChannelUpdate(newer, Now));
        var added = _net.Announce(20, 21, new ShortChannelId(1, 1, 1));
        Assert.Equal(GossipVerdict.Accepted, await store.AddChannelAnnouncementAsync(added, _net, Now));

        var rest = Drain(cursor, 100).SelectMany(b => b).ToList();
        Assert.DoesNotContain(rest, m => m is ChannelAnnouncement a && (a.ShortChannelId == channels[1] || a.ShortChannelId == added.ShortChannelId));
        Assert.Contains(newer, rest);
        Assert.Equal(4, rest.OfType<ChannelAnnouncement>().Count());
    }
}
