using System.Text.Json;
using CsCheck;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using Satflow.TestSupport;
using static Satflow.Lightning.Tests.Gossip.GossipTestNetwork;

namespace Satflow.Lightning.Tests.Gossip;

public sealed class GossipSyncTests
{
    private readonly GossipTestNetwork _net = new();

    /// <summary>A store with <paramref name="count"/> channels in a line 0-1-2-..., two per block, with updates and node announcements.</summary>
    private async Task<GossipStore> FilledAsync(int count, GossipOptions? options = null)
    {
        var store = new GossipStore(ChainHash.Regtest, options: options);
        for (var i = 0; i < count; i++)
        {
            var ann = _net.Announce(i, i + 1, new ShortChannelId((uint)(1000 + (i / 2)), (uint)(i % 2), 0));
            Assert.Equal(GossipVerdict.Accepted, await store.AddChannelAnnouncementAsync(ann, _net, Now));
            Assert.Equal(GossipVerdict.Accepted, store.AddChannelUpdate(Update(ann, i, NowUnix - 100 - (uint)i, feeBase: (uint)i), Now));
            Assert.Equal(GossipVerdict.Accepted, store.AddChannelUpdate(Update(ann, i + 1, NowUnix - 50), Now));
        }
        for (var i = 0; i <= count; i++)
        {
            Assert.Equal(GossipVerdict.Accepted, store.AddNodeAnnouncement(NodeAnnouncement(i, NowUnix - 10, $"n{i}"), Now));
        }
        return store;
    }

    [Fact]
    public async Task Channel_range_replies_cover_the_query_contiguously_without_splitting_blocks()
    {
        var store = await FilledAsync(7, new GossipOptions { MaxIdsPerReply = 3 });
        var replies = store.AnswerChannelRange(new QueryChannelRange(ChainHash.Regtest, 900, 200) { QueryOptionFlags = QueryChannelRange.WantTimestamps | QueryChannelRange.WantChecksums });
        Assert.True(replies.Count >= 3);
        Assert.Equal(900u, replies[0].FirstBlocknum);
        Assert.Equal(1100ul, replies[^1].FirstBlocknum + (ulong)replies[^1].NumberOfBlocks);
        Assert.All(replies.SkipLast(1), r => Assert.Equal(0, r.SyncComplete));
        Assert.Equal(1, replies[^1].SyncComplete);
        for (var i = 1; i < replies.Count; i++)
        {
            Assert.True(replies[i].FirstBlocknum >= replies[i - 1].FirstBlocknum);
            Assert.Equal(replies[i - 1].FirstBlocknum + replies[i - 1].NumberOfBlocks, replies[i].FirstBlocknum); // contiguous
        }
        var ids = replies.SelectMany(r => r.ShortChannelIds).ToList();
        Assert.Equal(store.Channels.Select(c => c.ShortChannelId), ids);
        foreach (var reply in replies)
        {
            Assert.True(reply.ExtensionsMatchIds);
            Assert.True(reply.ShortChannelIds.Count <= 3);
            Assert.All(reply.ShortChannelIds, s => Assert.InRange(s.BlockHeight, reply.FirstBlocknum, reply.FirstBlocknum + reply.NumberOfBlocks - 1));
            // Every block's ids sit in one reply.
            Assert.DoesNotContain(replies.Where(r => r != reply).SelectMany(r => r.ShortChannelIds), s => reply.ShortChannelIds.Any(x => x.BlockHeight == s.BlockHeight));
            for (var i = 0; i < reply.ShortChannelIds.Count; i++)
            {
                Assert.True(store.TryGetChannel(reply.ShortChannelIds[i], out var channel));
                Assert.Equal(channel.Update1!.Timestamp, reply.Timestamps![i].NodeId1);
                Assert.Equal(GossipSignatures.ChannelUpdateChecksum(channel.Update2!), reply.Checksums![i].NodeId2);
            }
            // The replies survive the codec.
            Assert.Equal(reply.Encode(), LightningMessage.Decode(reply.Encode()).Encode());
        }
    }

    [Fact]
    public async Task Range_outside_the_channels_or_of_another_chain_gets_one_reply()
    {
        var store = await FilledAsync(2);
        var empty = Assert.Single(store.AnswerChannelRange(new QueryChannelRange(ChainHash.Regtest, 0, 10)));
        Assert.Empty(empty.ShortChannelIds);
        Assert.Equal(1, empty.SyncComplete);
        Assert.Equal(10u, empty.NumberOfBlocks);
        var wrong = Assert.Single(store.AnswerChannelRange(new QueryChannelRange(ChainHash.Bitcoin, 0, uint.MaxValue)));
        Assert.Equal(0, wrong.SyncComplete);
        var all = Assert.Single(store.AnswerChannelRange(new QueryChannelRange(ChainHash.Regtest, 0, uint.MaxValue)));
        Assert.Equal(2, all.ShortChannelIds.Count);
        Assert.Null(all.Timestamps);
        var end = Assert.IsType<ReplyShortChannelIdsEnd>(Assert.Single(store.AnswerShortChannelIds(new QueryShortChannelIds(ChainHash.Bitcoin, [new ShortChannelId(1000, 0, 0)]))));
        Assert.Equal(0, end.FullInformation);
    }

    private static string Describe(GossipChannel c) =>
        $"{Convert.ToHexString(c.Announcement.Encode())}/{c.Capacity}/{c.FundingOutPoint}/{Convert.ToHexString(c.Update1?.Encode() ?? [])}/{Convert.ToHexString(c.Update2?.Encode() ?? [])}";

    [Fact]
    public void The_bolt7_vector_queries_are_answered()
    {
        // The vectors' chain hash is the regtest genesis hash in display order (not ChainHash.Regtest's wire order):
        // a store on that chain answers them fully, one on regtest answers "not my chain".
        GossipStore? store = null;
        using var doc = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt07/extended-queries.json"));
        var answered = 0;
        foreach (var entry in doc.RootElement.EnumerateArray())
        {
            LightningMessage message;
            try
            {
                message = LightningMessage.Decode(Convert.FromHexString(entry.GetProperty("hex").GetString()!));
            }
            catch (WireFormatException)
            {
                continue; // the zlib entries, refused by the default decoder
            }
            switch (message)
            {
                case QueryChannelRange q:
                    store ??= new GossipStore(q.ChainHash);
                    Assert.Equal(0, Assert.Single(new GossipStore(ChainHash.Regtest).AnswerChannelRange(q)).SyncComplete);
                    var replies = store.AnswerChannelRange(q);
                    Assert.Equal(q.FirstBlocknum, replies[0].FirstBlocknum);
                    Assert.Equal((ulong)q.FirstBlocknum + q.NumberOfBlocks, (ulong)replies[^1].FirstBlocknum + replies[^1].NumberOfBlocks);
                    Assert.Equal(((q.QueryOptionFlags ?? 0) & 1) != 0, replies[0].Timestamps is not null);
                    Assert.Equal(((q.QueryOptionFlags ?? 0) & 2) != 0, replies[0].Checksums is not null);
                    answered++;
                    break;
                case QueryShortChannelIds q:
                    store ??= new GossipStore(q.ChainHash);
                    Assert.Equal(1, Assert.IsType<ReplyShortChannelIdsEnd>(Assert.Single(store.AnswerShortChannelIds(q))).FullInformation);
                    answered++;
                    break;
            }
        }
        Assert.True(answered >= 3, $"only {answered} queries answered");
    }

    [Fact]
    public async Task Short_channel_id_queries_send_announcement_updates_and_each_node_once_honouring_query_flags()
    {
        var store = await FilledAsync(3);
        var scids = store.Channels.Select(c => c.ShortChannelId).ToList();
        var all = store.AnswerShortChannelIds(new QueryShortChannelIds(ChainHash.Regtest, [.. scids, new ShortChannelId(5, 5, 5)]));
        Assert.Equal(3, all.OfType<ChannelAnnouncement>().Count());
        Assert.Equal(6, all.OfType<ChannelUpdate>().Count());
        Assert.Equal(4, all.OfType<NodeAnnouncement>().Select(n => n.NodeId).Distinct().Count());
        Assert.Equal(4, all.OfType<NodeAnnouncement>().Count());
        Assert.Equal(1, Assert.IsType<ReplyShortChannelIdsEnd>(all[^1]).FullInformation);
        // Every update follows its announcement.
        var seen = new HashSet<ShortChannelId>();
        foreach (var m in all)
        {
            if (m is ChannelAnnouncement a)
            {
                seen.Add(a.ShortChannelId);
            }
            if (m is ChannelUpdate u)
            {
                Assert.Contains(u.ShortChannelId, seen);
            }
        }
        var flagged = store.AnswerShortChannelIds(new QueryShortChannelIds(ChainHash.Regtest, [scids[0], scids[1]]) { QueryFlags = [GossipStore.QueryUpdate2, GossipStore.QueryAnnouncement | GossipStore.QueryNode1] });
        Assert.Collection(flagged,
            m => Assert.Equal(1, Assert.IsType<ChannelUpdate>(m).Direction),
            m => Assert.Equal(scids[1], Assert.IsType<ChannelAnnouncement>(m).ShortChannelId),
            m => Assert.IsType<NodeAnnouncement>(m),
            m => Assert.IsType<ReplyShortChannelIdsEnd>(m));
    }

    [Fact]
    public async Task Two_stores_sync_through_range_and_id_queries()
    {
        var options = new GossipOptions { MaxIdsPerReply = 2, MaxIdsPerQuery = 2 };
        var source = await FilledAsync(5, options);
        var target = new GossipStore(ChainHash.Regtest, options: options);
        // The target already knows one channel, with older updates: it is asked for again; a second, identical, is not.
        var known = source.Channels.ToList();
        Assert.Equal(GossipVerdict.Accepted, await target.AddChannelAnnouncementAsync(known[0].Announcement, _net, Now));
        Assert.Equal(GossipVerdict.Accepted, await target.AddChannelAnnouncementAsync(known[1].Announcement, _net, Now));
        target.AddChannelUpdate(known[1].Update1!, Now);
        target.AddChannelUpdate(known[1].Update2!, Now);

        var session = new GossipSyncSession(target);
        var toSource = new Queue<LightningMessage>([session.Start()]);
        var rounds = 0;
        while (toSource.Count > 0 && rounds++ < 100)
        {
            var outgoing = toSource.Dequeue() switch
            {
                QueryChannelRange q => source.AnswerChannelRange(q).Cast<LightningMessage>().ToList(),
                QueryShortChannelIds q => source.AnswerShortChannelIds(q).ToList(),
                _ => throw new InvalidOperationException(),
            };
            foreach (var message in outgoing)
            {
                var next = message switch
                {
                    ReplyChannelRange r => session.OnReplyChannelRange(r),
                    ReplyShortChannelIdsEnd e => session.OnReplyShortChannelIdsEnd(e),
                    _ => await ApplyAsync(target, message),
                };
                if (next is not null)
                {
                    toSource.Enqueue(next);
                }
            }
        }
        Assert.True(session.IsComplete);
        Assert.Equal(4, session.RequestedCount); // 5 channels, one already up to date
        Assert.Equal(source.Channels.Select(Describe), target.Channels.Select(Describe));
        Assert.Equal(source.NodeAnnouncementCount, target.NodeAnnouncementCount);
        Assert.Equal(source.Graph.ChannelCount, target.Graph.ChannelCount);
    }

    private async Task<QueryShortChannelIds?> ApplyAsync(GossipStore store, LightningMessage message)
    {
        var verdict = message switch
        {
            ChannelAnnouncement a => await store.AddChannelAnnouncementAsync(a, _net, Now),
            ChannelUpdate u => store.AddChannelUpdate(u, Now),
            NodeAnnouncement n => store.AddNodeAnnouncement(n, Now),
            _ => GossipVerdict.Malformed,
        };
        Assert.True(verdict is GossipVerdict.Accepted or GossipVerdict.Duplicate, $"{message.GetType().Name}: {verdict}");
        return null;
    }

    [Fact]
    public async Task Timestamp_filter_selects_stored_gossip_in_its_window()
    {
        var store = await FilledAsync(3);
        var everything = store.GossipInFilter(new GossipTimestampFilter(ChainHash.Regtest, 0, uint.MaxValue));
        Assert.Equal(3 + 6 + 4, everything.Count);
        // Only node 2's newer updates (NowUnix - 50) and the node announcements (NowUnix - 10) are in this window.
        var recent = store.GossipInFilter(new GossipTimestampFilter(ChainHash.Regtest, NowUnix - 60, 100));
        Assert.Equal(3, recent.OfType<ChannelAnnouncement>().Count());
        Assert.All(recent.OfType<ChannelUpdate>(), u => Assert.Equal(NowUnix - 50, u.Timestamp));
        Assert.Equal(3, recent.OfType<ChannelUpdate>().Count());
        Assert.Equal(4, recent.OfType<NodeAnnouncement>().Count());
        Assert.Empty(store.GossipInFilter(new GossipTimestampFilter(ChainHash.Regtest, NowUnix, 100)));
        Assert.Empty(store.GossipInFilter(new GossipTimestampFilter(ChainHash.Bitcoin, 0, uint.MaxValue)));
        Assert.True(GossipStore.InFilter(new GossipTimestampFilter(ChainHash.Regtest, 10, 5), 14));
        Assert.False(GossipStore.InFilter(new GossipTimestampFilter(ChainHash.Regtest, 10, 5), 15));
        Assert.False(GossipStore.InFilter(new GossipTimestampFilter(ChainHash.Regtest, 10, 5), 9));
        Assert.True(GossipStore.InFilter(new GossipTimestampFilter(ChainHash.Regtest, uint.MaxValue, uint.MaxValue), uint.MaxValue));
        var ann = store.Channels.First();
        Assert.Equal(ann.LatestUpdateTimestamp, store.FilterTimestampOf(ann.Announcement, 7));
    }

    [Fact]
    public async Task Persistence_round_trip_restores_channels_updates_nodes_and_the_graph()
    {
        var store = await FilledAsync(4);
        var changes = store.TakeChanges();
        Assert.Equal(4, changes.ChangedChannels.Count);
        Assert.Equal(5, changes.ChangedNodes.Count);
        var channelRecords = changes.ChangedChannels.Select(s => (ReadOnlyMemory<byte>)store.EncodeChannel(s)).ToList();
        var nodeRecords = changes.ChangedNodes.Select(n => (ReadOnlyMemory<byte>)store.EncodeNode(n)).ToList();
        var restored = GossipStore.Restore(ChainHash.Regtest, channelRecords, nodeRecords);
        Assert.Equal(store.Channels.Select(Describe), restored.Channels.Select(Describe));
        Assert.Equal(store.NodeAnnouncements.OrderBy(n => n.NodeId).Select(n => n.Encode()), restored.NodeAnnouncements.OrderBy(n => n.NodeId).Select(n => n.Encode()));
        Assert.Equal(store.Graph.ChannelCount, restored.Graph.ChannelCount);
        Assert.True(restored.TakeChanges().IsEmpty);
        foreach (var channel in store.Channels)
        {
            Assert.True(restored.Graph.TryGetChannel(channel.ShortChannelId, out var info));
            Assert.True(store.Graph.TryGetChannel(channel.ShortChannelId, out var original));
            Assert.Equal(original, info with { });
        }
        // The restored store keeps validating: an outdated update is refused, a spend removes the channel.
        var first = restored.Channels.First();
        Assert.Equal(GossipVerdict.Duplicate, restored.AddChannelUpdate(first.Update1!, Now));
        Assert.Throws<GossipStoreFormatException>(() => GossipStore.Restore(ChainHash.Bitcoin, channelRecords, []));
    }

    [Fact]
    public async Task Corrupt_records_only_ever_throw_the_typed_exception()
    {
        var store = await FilledAsync(1);
        var channel = store.EncodeChannel(store.Channels.First().ShortChannelId);
        var node = store.EncodeNode(Id(0));
        Assert.Throws<GossipStoreFormatException>(() => GossipStore.DecodeChannel(node));
        Assert.Throws<GossipStoreFormatException>(() => GossipStore.DecodeNode(channel));
        Assert.Throws<GossipStoreFormatException>(() => GossipStore.DecodeChannel([2, .. channel.AsSpan(1)]));
        Assert.Throws<GossipStoreFormatException>(() => GossipStore.DecodeChannel(channel.AsSpan(0, channel.Length - 1)));
        Assert.Throws<GossipStoreFormatException>(() => GossipStore.DecodeChannel([.. channel, 0]));
        Gen.Byte.Array[0, 600].Sample(bytes =>
        {
            Survives(() => GossipStore.DecodeChannel(bytes));
            Survives(() => GossipStore.DecodeNode(bytes));
        }, iter: 2000);
        Gen.Select(Gen.Int[0, channel.Length - 1], Gen.Byte, Gen.Int[0, 2]).Sample((position, value, kind) =>
        {
            var mutated = kind switch
            {
                0 => [.. channel.AsSpan(0, position), value, .. channel.AsSpan(position + 1)],
                1 => channel.AsSpan(0, position).ToArray(),
                _ => [.. channel.AsSpan(0, position), value, .. channel.AsSpan(position)],
            };
            Survives(() => GossipStore.DecodeChannel(mutated));
        }, iter: 2000);
    }

    private static void Survives(Action decode)
    {
        try
        {
            decode();
        }
        catch (GossipStoreFormatException)
        {
        }
    }

    [Fact]
    public async Task Mutated_gossip_never_throws_from_the_store()
    {
        var source = await FilledAsync(2);
        var valid = source.AnswerShortChannelIds(new QueryShortChannelIds(ChainHash.Regtest, [.. source.Channels.Select(c => c.ShortChannelId)]))
            .Where(m => m is not ReplyShortChannelIdsEnd).Select(m => m.Encode()).ToArray();
        var store = new GossipStore(ChainHash.Regtest);
        foreach (var bytes in valid)
        {
            await FeedAsync(store, bytes);
        }
        Assert.Equal(2, store.ChannelCount);
        // Mutations: decoding throws only WireFormatException; whatever decodes gets a verdict, never an exception.
        // (Few iterations: every accepted-looking message costs signature checks.)
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Int[0, 400], Gen.Byte, Gen.Int[0, 2]).Sample((index, position, value, kind) =>
        {
            var original = valid[index];
            var p = Math.Min(position, original.Length - 1);
            byte[] mutated = kind switch
            {
                0 => [.. original.AsSpan(0, p), value, .. original.AsSpan(p + 1)],
                1 => original.AsSpan(0, p).ToArray(),
                _ => [.. original, value],
            };
            FeedAsync(store, mutated).GetAwaiter().GetResult();
        }, iter: 300, threads: 1);
        Gen.Byte.Array[0, 500].Sample(bytes => FeedAsync(store, bytes).GetAwaiter().GetResult(), iter: 1000, threads: 1);
    }

    private async Task FeedAsync(GossipStore store, byte[] bytes)
    {
        LightningMessage message;
        try
        {
            message = LightningMessage.Decode(bytes);
        }
        catch (WireFormatException)
        {
            return;
        }
        _ = message switch
        {
            ChannelAnnouncement a => await store.AddChannelAnnouncementAsync(a, _net, Now),
            ChannelUpdate u => store.AddChannelUpdate(u, Now),
            NodeAnnouncement n => store.AddNodeAnnouncement(n, Now),
            _ => GossipVerdict.Malformed,
        };
    }
}
