using NBitcoin;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;

namespace Satflow.Node.Tests;

public sealed class GossipTests
{
    private static async Task<ShortChannelId> OpenAsync(LightningHarness h, HarnessNode funder, HarnessNode fundee)
    {
        var channelId = await h.OpenChannelAsync(funder, fundee, Money.Satoshis(1_000_000));
        return funder.Node.GetChannel(channelId)!.ShortChannelId!.Value;
    }

    private static void AssertBothPolicies(NetworkGraph graph, ShortChannelId scid)
    {
        Assert.True(graph.TryGetChannel(scid, out var info), $"{scid} is not in the graph");
        Assert.NotNull(info.Policy1);
        Assert.NotNull(info.Policy2);
        Assert.Equal(MilliSatoshi.FromSatoshis(1_000_000), info.Capacity);
        Assert.Equal(ForwardingPolicy.Default.CltvExpiryDelta, info.Policy1!.Value.CltvExpiryDelta);
        Assert.Equal((uint)ForwardingPolicy.Default.BaseFee.Value, info.Policy2!.Value.FeeBaseMsat);
    }

    [Fact]
    public async Task A_public_channel_is_announced_by_both_peers_after_six_confirmations()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        var scid = await OpenAsync(h, a, b); // 3 confirmations
        Assert.All(new[] { a, b }, n => Assert.True(Assert.Single(n.Node.ListChannels()).IsPublic));
        // Usable, so in both graphs with both policies (exchanged with the peer), but not announced yet.
        AssertBothPolicies(a.Node.Graph, scid);
        AssertBothPolicies(b.Node.Graph, scid);
        Assert.Empty((await a.Node.GetGraphSummaryAsync()).OurAnnouncedChannels);

        await h.MineBlocksAsync(2);
        Assert.Equal(0, (await a.Node.GetGraphSummaryAsync()).AnnouncedChannelCount);
        await h.MineBlocksAsync(1); // 6 confirmations
        foreach (var node in new[] { a, b })
        {
            var summary = await node.Node.GetGraphSummaryAsync();
            Assert.Equal([scid], summary.OurAnnouncedChannels);
            Assert.Equal(1, summary.AnnouncedChannelCount);
            Assert.Equal(2, summary.NodeAnnouncementCount);
            Assert.Equal(2, summary.NodeCount);
            AssertBothPolicies(node.Node.Graph, scid);
            var peer = await node.Node.GetGraphNodeAsync(node == a ? b.NodeId : a.NodeId);
            Assert.Equal("satflow", peer!.Alias);
            Assert.Equal(scid, Assert.Single(peer.Channels).ShortChannelId);
        }
        Assert.Null(await a.Node.GetGraphNodeAsync(new NodeId(new Key().PubKey)));
    }

    [Fact]
    public async Task A_third_node_learns_the_channel_by_relay_and_another_by_query_sync()
    {
        await using var h = await LightningHarness.CreateAsync(4);
        var (a, b, c, d) = (h[0], h[1], h[2], h[3]);
        var scid = await OpenAsync(h, a, b);
        await h.ConnectAsync(c, a); // before the announcement: c hears it relayed (its timestamp filter covers it)
        await h.MineBlocksAsync(3);
        AssertBothPolicies(c.Node.Graph, scid);
        Assert.Equal(2, (await c.Node.GetGraphSummaryAsync()).NodeAnnouncementCount);

        await h.ConnectAsync(d, b); // after: d syncs through query_channel_range / query_short_channel_ids
        AssertBothPolicies(d.Node.Graph, scid);
        var summary = await d.Node.GetGraphSummaryAsync();
        Assert.Equal(1, summary.AnnouncedChannelCount);
        Assert.Equal(2, summary.NodeAnnouncementCount);
        Assert.NotNull(summary.LastSync);
        Assert.Equal(0, summary.SyncingPeers);
        Assert.Empty(summary.OurAnnouncedChannels);
    }

    [Fact]
    public async Task The_graph_survives_a_restart()
    {
        await using var h = await LightningHarness.CreateAsync(3);
        var (a, b, c) = (h[0], h[1], h[2]);
        var scid = await OpenAsync(h, a, b);
        await h.MineBlocksAsync(3);
        await h.ConnectAsync(c, a);
        AssertBothPolicies(c.Node.Graph, scid);

        await h.CrashAsync(c);
        await h.RestartAsync(c); // not reconnected: everything comes from c's store
        AssertBothPolicies(c.Node.Graph, scid);
        Assert.Equal(2, (await c.Node.GetGraphSummaryAsync()).NodeAnnouncementCount);

        await h.CrashAsync(a);
        await h.RestartAsync(a);
        AssertBothPolicies(a.Node.Graph, scid);
        Assert.Equal([scid], (await a.Node.GetGraphSummaryAsync()).OurAnnouncedChannels);
        // After reconnecting, nothing is announced twice and the channel stays usable.
        await h.ConnectAsync(a, b);
        AssertBothPolicies(a.Node.Graph, scid);
        Assert.Equal(1, (await b.Node.GetGraphSummaryAsync()).AnnouncedChannelCount);
    }

    [Fact]
    public async Task A_private_channel_is_never_announced()
    {
        await using var h = await LightningHarness.CreateAsync(3, new HarnessOptions { Node = new NodeOptions { AutoFlush = false, MinimumDepth = 3, PublicChannels = false } });
        var (a, b, c) = (h[0], h[1], h[2]);
        await h.ConnectAsync(c, a);
        var scid = await OpenAsync(h, a, b);
        Assert.All(new[] { a, b }, n => Assert.False(Assert.Single(n.Node.ListChannels()).IsPublic));
        await h.MineBlocksAsync(10);
        // The two peers know each other's policy (for routing over their own channel)...
        AssertBothPolicies(a.Node.Graph, scid);
        AssertBothPolicies(b.Node.Graph, scid);
        foreach (var node in new[] { a, b })
        {
            var summary = await node.Node.GetGraphSummaryAsync();
            Assert.Equal(0, summary.AnnouncedChannelCount);
            Assert.Equal(0, summary.NodeAnnouncementCount);
        }
        // ...but nobody else learns of it, by relay or by sync.
        await h.ConnectAsync(c, b);
        Assert.Equal(0, c.Node.Graph.ChannelCount);
        Assert.Equal(0, (await c.Node.GetGraphSummaryAsync()).AnnouncedChannelCount);
    }

    [Fact]
    public async Task A_closed_channel_leaves_every_graph()
    {
        await using var h = await LightningHarness.CreateAsync(3);
        var (a, b, c) = (h[0], h[1], h[2]);
        var channelId = await h.OpenChannelAsync(a, b, Money.Satoshis(1_000_000));
        var scid = a.Node.GetChannel(channelId)!.ShortChannelId!.Value;
        await h.MineBlocksAsync(3);
        await h.ConnectAsync(c, a);
        Assert.True(c.Node.Graph.TryGetChannel(scid, out _));

        var chain = new ChainUtxoLookup(h.Chain.Devnet);
        var funding = await chain.LookupAsync(scid);
        Assert.Equal(FundingOutputState.Unspent, funding.State);
        Assert.Equal(a.Node.GetChannel(channelId)!.FundingOutPoint, funding.OutPoint);
        Assert.Equal(Money.Satoshis(1_000_000), funding.Output!.Value);
        Assert.Equal(FundingOutputState.Missing, (await chain.LookupAsync(new ShortChannelId(scid.BlockHeight, 999, 0))).State);
        Assert.Equal(FundingOutputState.Missing, (await chain.LookupAsync(new ShortChannelId(scid.BlockHeight, scid.TxIndex, 9))).State);
        Assert.Equal(FundingOutputState.Missing, (await chain.LookupAsync(new ShortChannelId(1_000_000, 0, 0))).State);

        await a.Node.CloseChannelAsync(channelId, force: false);
        await h.SettleAsync();
        await h.MineUntilMempoolEmptyAsync();
        Assert.Equal(FundingOutputState.Spent, (await chain.LookupAsync(scid)).State);
        foreach (var node in new[] { a, b, c })
        {
            Assert.False(node.Node.Graph.TryGetChannel(scid, out _), $"{node} still has {scid}");
            Assert.Equal(0, (await node.Node.GetGraphSummaryAsync()).AnnouncedChannelCount);
        }
        // And stays gone after a restart.
        await h.CrashAsync(c);
        await h.RestartAsync(c);
        Assert.False(c.Node.Graph.TryGetChannel(scid, out _));
    }

    [Fact]
    public async Task A_changed_forwarding_policy_is_announced_again()
    {
        await using var h = await LightningHarness.CreateAsync(3);
        var (a, b, c) = (h[0], h[1], h[2]);
        var channelId = await h.OpenChannelAsync(a, b, Money.Satoshis(1_000_000));
        var scid = a.Node.GetChannel(channelId)!.ShortChannelId!.Value;
        await h.MineBlocksAsync(3);
        await h.ConnectAsync(c, b);
        AssertBothPolicies(c.Node.Graph, scid);

        await a.Node.SetChannelPolicyAsync(channelId, new ForwardingPolicy(new MilliSatoshi(5_000), 250, 40, new MilliSatoshi(10)));
        await h.MineBlocksAsync(1); // the node refreshes its channel_update with the block feed
        foreach (var node in new[] { a, b, c })
        {
            Assert.True(node.Node.Graph.TryGetChannel(scid, out var info));
            var fromA = info.Node1 == a.NodeId ? info.Policy1 : info.Policy2;
            Assert.Equal(5_000u, fromA!.Value.FeeBaseMsat);
            Assert.Equal(250u, fromA.Value.FeeProportionalMillionths);
            Assert.Equal((ushort)40, fromA.Value.CltvExpiryDelta);
        }
    }
}
