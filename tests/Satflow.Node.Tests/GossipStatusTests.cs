using NBitcoin;
using Satflow.Lightning.Features;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Net;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.Tests;

/// <summary>BOLT 7 left-overs: disabled channel_updates while a peer is offline or a channel closes, initial_routing_sync.</summary>
public sealed class GossipStatusTests
{
    private static ChannelPolicy? PolicyFrom(HarnessNode observer, ShortChannelId scid, HarnessNode from)
    {
        Assert.True(observer.Node.Graph.TryGetChannel(scid, out var info), $"{observer} does not know {scid}");
        return info.Node1 == from.NodeId ? info.Policy1 : info.Policy2;
    }

    private static bool DisabledFrom(HarnessNode observer, ShortChannelId scid, HarnessNode from) =>
        PolicyFrom(observer, scid, from) is { } policy ? policy.Disabled : throw new InvalidOperationException($"{observer} has no policy of {from} for {scid}");

    /// <summary>What the host does every few seconds: every node's gossip timers, then the network settles.</summary>
    private static async Task TickAsync(LightningHarness h)
    {
        foreach (var node in h.Nodes.Where(n => n.IsRunning))
        {
            await node.Node.ProcessGossipTimersAsync();
        }
        await h.SettleAsync();
    }

    [Fact]
    public async Task A_channel_whose_peer_stays_offline_is_announced_disabled_so_payers_route_around_it_until_it_is_back()
    {
        // x pays d over a (cheap) or b (expensive); x only learns a–d through gossip relayed by a.
        await using var h = await LightningHarness.CreateAsync(4);
        var (x, a, b, d) = (h[0], h[1], h[2], h[3]);
        await h.OpenChannelAsync(x, a, Money.Satoshis(1_000_000));
        var ad = await h.OpenChannelAsync(a, d, Money.Satoshis(1_000_000), MilliSatoshi.FromSatoshis(300_000));
        await h.OpenChannelAsync(x, b, Money.Satoshis(1_000_000));
        var bd = await h.OpenChannelAsync(b, d, Money.Satoshis(1_000_000), MilliSatoshi.FromSatoshis(300_000));
        await b.Node.SetChannelPolicyAsync(bd, new ForwardingPolicy(new MilliSatoshi(20_000), 2_000, 40, new MilliSatoshi(1)));
        await h.MineBlocksAsync(6); // every channel announced
        var adScid = a.Node.GetChannel(ad)!.ShortChannelId!.Value;
        var amount = MilliSatoshi.FromSatoshis(10_000);
        Assert.False(DisabledFrom(x, adScid, a));
        Assert.False(DisabledFrom(x, adScid, d));
        Assert.Equal(a.NodeId, (await x.Node.FindRouteAsync(d.NodeId, amount)).Route!.Hops[0].Node);

        // A short outage (within the grace period) changes nothing anyone sees.
        await h.DisconnectAsync(a, d);
        h.Time.Advance(TimeSpan.FromMinutes(3));
        await TickAsync(h);
        await h.ConnectAsync(a, d);
        h.Time.Advance(TimeSpan.FromMinutes(3));
        await TickAsync(h);
        Assert.DoesNotContain(h.Network.Delivered, m => m.Message is ChannelUpdate { IsDisabled: true });
        Assert.False(DisabledFrom(x, adScid, a));

        // A long one: after the grace period both ends announce their direction disabled; x hears a directly and d
        // through b, and routes over b.
        await h.DisconnectAsync(a, d);
        await TickAsync(h);
        h.Time.Advance(TimeSpan.FromMinutes(4));
        await TickAsync(h);
        Assert.False(DisabledFrom(x, adScid, a));
        h.Time.Advance(TimeSpan.FromMinutes(1));
        await TickAsync(h);
        foreach (var observer in new[] { x, a, b, d })
        {
            Assert.True(DisabledFrom(observer, adScid, a), $"{observer} still sees a→d enabled");
            Assert.True(DisabledFrom(observer, adScid, d), $"{observer} still sees d→a enabled");
        }
        var disabledUpdates = h.Network.Delivered.Count(m => m.Message is ChannelUpdate { IsDisabled: true });
        // The graph output shows it.
        var seen = (await x.Node.GetGraphNodeAsync(a.NodeId))!.Channels.Single(c => c.ShortChannelId == adScid);
        Assert.True((seen.Node1 == a.NodeId ? seen.Policy1 : seen.Policy2)!.Value.Disabled);

        var around = (await x.Node.FindRouteAsync(d.NodeId, amount)).Route!;
        Assert.Equal([b.NodeId, d.NodeId], around.Hops.Select(hop => hop.Node));
        var paid = await h.PayAsync(x, d, amount);
        Assert.Equal(OutgoingPaymentState.Succeeded, paid.State);
        Assert.Equal(1u, paid.HtlcAttempts);
        Assert.Equal(b.Node.GetChannelPolicy(bd).FeeFor(amount), paid.Fee);

        // More ticks while still offline announce nothing new.
        h.Time.Advance(TimeSpan.FromMinutes(10));
        await TickAsync(h);
        Assert.Equal(disabledUpdates, h.Network.Delivered.Count(m => m.Message is ChannelUpdate { IsDisabled: true }));

        // Back: the reestablish re-enables both directions everywhere, and x routes over a again.
        await h.ConnectAsync(a, d);
        foreach (var observer in new[] { x, a, b, d })
        {
            Assert.False(DisabledFrom(observer, adScid, a), $"{observer} still sees a→d disabled");
            Assert.False(DisabledFrom(observer, adScid, d), $"{observer} still sees d→a disabled");
        }
        Assert.Equal(a.NodeId, (await x.Node.FindRouteAsync(d.NodeId, amount)).Route!.Hops[0].Node);
        var again = await h.PayAsync(x, d, amount);
        Assert.Equal(OutgoingPaymentState.Succeeded, again.State);
        Assert.Equal(a.Node.GetChannelPolicy(ad).FeeFor(amount), again.Fee);
    }

    [Fact]
    public async Task A_restarted_node_whose_peer_does_not_come_back_disables_the_channel_after_the_grace_period()
    {
        await using var h = await LightningHarness.CreateAsync(3);
        var (a, b, c) = (h[0], h[1], h[2]);
        var channelId = await h.OpenChannelAsync(a, b, Money.Satoshis(1_000_000));
        var scid = a.Node.GetChannel(channelId)!.ShortChannelId!.Value;
        await h.MineBlocksAsync(3);
        await h.ConnectAsync(c, a);
        Assert.False(DisabledFrom(c, scid, a));

        await h.CrashAsync(a);
        await h.RestartAsync(a); // restored with every channel offline
        await h.ConnectAsync(c, a);
        await TickAsync(h);
        Assert.False(DisabledFrom(c, scid, a));
        h.Time.Advance(new GossipOptions().DisableAfter);
        await TickAsync(h);
        Assert.True(DisabledFrom(c, scid, a));
        Assert.True(DisabledFrom(a, scid, a));

        // A long outage: the disabled update is re-signed weekly, so nobody prunes the channel as stale.
        var first = PolicyFrom(c, scid, a)!.Value.Timestamp;
        h.Time.Advance(TimeSpan.FromDays(8));
        await TickAsync(h);
        Assert.True(PolicyFrom(c, scid, a)!.Value.Timestamp > first);
        Assert.True(DisabledFrom(c, scid, a));
        h.Time.Advance(TimeSpan.FromDays(7));
        await TickAsync(h);
        await h.MineBlocksAsync(1); // pruning runs with the block feed
        Assert.True(DisabledFrom(c, scid, a));
        Assert.Equal(1, (await c.Node.GetGraphSummaryAsync()).AnnouncedChannelCount);

        // The disabled update survives a restart too, and the peer's return re-enables it.
        await h.CrashAsync(a);
        await h.RestartAsync(a);
        Assert.True(DisabledFrom(a, scid, a));
        await h.ConnectAsync(a, b);
        await h.ConnectAsync(c, a);
        Assert.False(DisabledFrom(a, scid, a));
        Assert.False(DisabledFrom(c, scid, a));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_closing_channel_is_disabled_at_once_and_leaves_every_graph_when_its_funding_is_spent(bool force)
    {
        await using var h = await LightningHarness.CreateAsync(3);
        var (a, b, c) = (h[0], h[1], h[2]);
        var channelId = await h.OpenChannelAsync(a, b, Money.Satoshis(1_000_000));
        var scid = a.Node.GetChannel(channelId)!.ShortChannelId!.Value;
        await h.MineBlocksAsync(3);
        await h.ConnectAsync(c, a);
        Assert.False(DisabledFrom(c, scid, a));

        await a.Node.CloseChannelAsync(channelId, force);
        await h.SettleAsync();
        await TickAsync(h); // no grace period: the channel will never carry a payment again
        Assert.True(DisabledFrom(c, scid, a));
        Assert.True(DisabledFrom(b, scid, a));
        Assert.True(DisabledFrom(a, scid, a));

        await h.MineUntilMempoolEmptyAsync();
        foreach (var node in new[] { a, b, c })
        {
            Assert.False(node.Node.Graph.TryGetChannel(scid, out _), $"{node} still has {scid}");
            var summary = await node.Node.GetGraphSummaryAsync();
            Assert.Equal(0, summary.AnnouncedChannelCount);
            Assert.Empty(summary.OurAnnouncedChannels);
        }
        await h.CrashAsync(c);
        await h.RestartAsync(c);
        Assert.False(c.Node.Graph.TryGetChannel(scid, out _));
    }

    [Fact]
    public async Task A_peer_without_gossip_queries_that_asks_for_initial_routing_sync_gets_the_whole_graph_in_paced_batches()
    {
        var options = new HarnessOptions { Node = new NodeOptions { AutoFlush = false, MinimumDepth = 3, Gossip = new GossipOptions { InitialSyncBatchSize = 2 } } };
        await using var h = await LightningHarness.CreateAsync(3, options);
        var (a, b, c) = (h[0], h[1], h[2]);
        await h.OpenChannelAsync(a, b, Money.Satoshis(1_000_000));
        var bc = await h.OpenChannelAsync(b, c, Money.Satoshis(1_000_000));
        await h.MineBlocksAsync(3); // both announced; a hears b–c from b
        Assert.Equal(2, (await a.Node.GetGraphSummaryAsync()).AnnouncedChannelCount);
        Assert.Equal(3, (await a.Node.GetGraphSummaryAsync()).NodeAnnouncementCount);

        var legacy = PeerManagerOptions.DefaultFeatures.Without(FeatureRegistry.GossipQueries.OddBit);
        var wantsSync = RecordingPeer.Join(h, legacy.With(LightningNode.InitialRoutingSyncBit));
        var quiet = RecordingPeer.Join(h, legacy);
        await h.Network.ConnectAsync(wantsSync.NodeId, a.NodeId);
        await h.Network.ConnectAsync(quiet.NodeId, a.NodeId);
        await h.SettleAsync();
        // A batch of 2 still carries a channel's announcement with both its updates.
        Assert.Equal(3, wantsSync.Gossip.Count);
        var counts = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            await a.Node.ProcessGossipTimersAsync();
            await h.SettleAsync();
            counts.Add(wantsSync.Gossip.Count);
        }
        Assert.Equal([6, 8, 9, 9], counts);
        Assert.Empty(quiet.Gossip);
        // Never a query or filter: the peer did not negotiate gossip_queries.
        Assert.DoesNotContain(wantsSync.Received, m => m is GossipTimestampFilter or QueryChannelRange or QueryShortChannelIds);
        Assert.DoesNotContain(quiet.Received, m => m is GossipTimestampFilter or QueryChannelRange or QueryShortChannelIds);

        // BOLT 7 order: each channel_announcement with its channel_updates, then the node_announcements.
        var kinds = wantsSync.Gossip.Select(m => m.GetType().Name).ToList();
        Assert.Equal(
            ["ChannelAnnouncement", "ChannelUpdate", "ChannelUpdate", "ChannelAnnouncement", "ChannelUpdate", "ChannelUpdate",
             "NodeAnnouncement", "NodeAnnouncement", "NodeAnnouncement"], kinds);
        // And it is the real graph: a fresh store checking everything against the chain accepts all of it.
        var store = new GossipStore(ChainHash.Regtest);
        var chain = new ChainUtxoLookup(h.Chain.Devnet);
        foreach (var message in wantsSync.Gossip)
        {
            var verdict = message switch
            {
                ChannelAnnouncement ann => await store.AddChannelAnnouncementAsync(ann, chain, h.Time.GetUtcNow()),
                ChannelUpdate update => store.AddChannelUpdate(update, h.Time.GetUtcNow()),
                NodeAnnouncement node => store.AddNodeAnnouncement(node, h.Time.GetUtcNow()),
                _ => GossipVerdict.Malformed,
            };
            Assert.Equal(GossipVerdict.Accepted, verdict);
        }
        Assert.Equal(2, store.ChannelCount);
        Assert.Equal(3, store.NodeAnnouncementCount);

        // From now on both legacy peers are relayed every new gossip (they have no filter to ask with).
        await b.Node.SetChannelPolicyAsync(bc, new ForwardingPolicy(new MilliSatoshi(7_000), 70, 40, new MilliSatoshi(1)));
        await h.MineBlocksAsync(1);
        foreach (var peer in new[] { wantsSync, quiet })
        {
            var relayed = peer.Gossip.OfType<ChannelUpdate>().Where(u => u.FeeBaseMsat == 7_000).ToList();
            Assert.Single(relayed);
            Assert.True(GossipSignatures.Verify(relayed[0], b.NodeId));
        }
    }

    /// <summary>A bare peer on the in-memory network that only records what it receives (an old node's view).</summary>
    private sealed class RecordingPeer : IPeerMessageHandler
    {
        private RecordingPeer(NodeId nodeId) => NodeId = nodeId;

        public NodeId NodeId { get; }

        public List<LightningMessage> Received { get; } = [];

        public List<LightningMessage> Gossip => [.. Received.Where(m => m is ChannelAnnouncement or ChannelUpdate or NodeAnnouncement)];

        public static RecordingPeer Join(LightningHarness h, FeatureBits features)
        {
            var peer = new RecordingPeer(new NodeId(new Key().PubKey));
            h.Network.SetFeatures(peer.NodeId, features);
            h.Network.CreateTransport(peer.NodeId).Attach(peer);
            return peer;
        }

        public ValueTask OnPeerConnectedAsync(PeerInfo peer, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnMessageAsync(NodeId peer, LightningMessage message, CancellationToken cancellationToken)
        {
            Received.Add(message);
            return ValueTask.CompletedTask;
        }

        public ValueTask OnPeerDisconnectedAsync(NodeId peer, DisconnectReason reason) => ValueTask.CompletedTask;
    }
}
