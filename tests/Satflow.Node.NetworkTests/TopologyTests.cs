using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;

namespace Satflow.Node.NetworkTests;

/// <summary>The topology builders themselves: channels open and confirmed, graphs filled, random topologies sound.</summary>
public sealed class TopologyTests
{
    [Fact]
    public async Task A_line_has_every_channel_normal_and_in_every_nodes_graph_with_both_policies()
    {
        await using var t = await Topologies.CreateLineAsync(5, Money.Satoshis(500_000), TestPolicies.Harness);
        Assert.Equal(4, t.Channels.Count);
        foreach (var c in t.Channels)
        {
            Assert.Equal(c.Funder + 1, c.Fundee);
            Assert.Equal(ChannelState.Normal, t[c.Funder].Node.GetChannel(c.ChannelId)!.State);
            Assert.Equal(ChannelState.Normal, t[c.Fundee].Node.GetChannel(c.ChannelId)!.State);
        }
        var expected = Topologies.PolicyOf(TestPolicies.Forwarding, Money.Satoshis(500_000));
        Assert.Equal(2_000u, expected.FeeBaseMsat);
        Assert.Equal(MilliSatoshi.FromSatoshis(500_000), expected.HtlcMaximum);
        foreach (var node in t.Harness.Nodes)
        {
            Assert.True(node.Node.Graph.ChannelCount >= 4);
            foreach (var c in t.Channels)
            {
                Assert.True(node.Node.Graph.TryGetChannel(c.ShortChannelId, out var info));
                Assert.Equal(MilliSatoshi.FromSatoshis(500_000), info.Capacity);
                // A node's own channels carry the channel_updates its peers sent (their own timestamps); the rest ours.
                Assert.Equal(expected, info.Policy1!.Value with { Timestamp = expected.Timestamp });
                Assert.Equal(expected, info.Policy2!.Value with { Timestamp = expected.Timestamp });
            }
        }
    }

    [Fact]
    public async Task A_diamond_has_two_disjoint_branches_that_meet_before_the_payee()
    {
        await using var t = await Topologies.CreateDiamondAsync(2, Money.Satoshis(300_000), Money.Satoshis(200_000), Money.Satoshis(400_000), TestPolicies.Harness);
        Assert.Equal(7, t.Harness.Nodes.Count);
        Assert.Equal(
            [(0, 1), (1, 2), (2, 5), (0, 3), (3, 4), (4, 5), (5, 6)],
            t.Channels.Select(c => (c.Funder, c.Fundee)).ToArray());
        Assert.Equal(Money.Satoshis(300_000), t.Between(1, 2).Capacity);
        Assert.Equal(Money.Satoshis(200_000), t.Between(4, 5).Capacity);
        Assert.Equal(Money.Satoshis(400_000), t.Between(6, 5).Capacity);
        Assert.Throws<InvalidOperationException>(() => t.Between(1, 3));
    }

    [Fact]
    public async Task A_node_can_advertise_a_policy_other_than_the_one_it_applies()
    {
        await using var t = await Topologies.CreateLineAsync(3, Money.Satoshis(300_000), TestPolicies.Harness);
        t.FillGraphs((end, _, policy) => end == 1 ? policy with { FeeBaseMsat = 0, FeeProportionalMillionths = 0, Timestamp = 2 } : policy);
        Assert.True(t[0].Node.Graph.TryGetChannel(t.Between(1, 2).ShortChannelId, out var info));
        var fromNode1 = t[1].NodeId < t[2].NodeId ? info.Policy1 : info.Policy2;
        var fromNode2 = t[1].NodeId < t[2].NodeId ? info.Policy2 : info.Policy1;
        Assert.Equal(0u, fromNode1!.Value.FeeBaseMsat);
        Assert.Equal(2_000u, fromNode2!.Value.FeeBaseMsat);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(42)]
    [InlineData(31337)]
    public void Preferential_attachment_is_connected_seeded_and_heavy_tailed(int seed)
    {
        var specs = RandomTopology.PreferentialAttachment(100, 2, Money.Satoshis(1_000_000), Money.Satoshis(5_000_000), new Random(seed));
        var again = RandomTopology.PreferentialAttachment(100, 2, Money.Satoshis(1_000_000), Money.Satoshis(5_000_000), new Random(seed));
        Assert.Equal(specs, again);
        Assert.Equal(3 + (97 * 2), specs.Count);
        Assert.All(specs, s =>
        {
            Assert.NotEqual(s.Funder, s.Fundee);
            Assert.InRange(s.Capacity.Satoshi, 1_000_000, 5_000_000);
            Assert.Equal((ulong)s.Capacity.Satoshi * 500, s.Push.Value);
        });
        Assert.Equal(specs.Count, specs.Select(s => (Math.Min(s.Funder, s.Fundee), Math.Max(s.Funder, s.Fundee))).Distinct().Count());
        Assert.All(Enumerable.Range(1, 99), i => Assert.InRange(RandomTopology.HopDistance(specs, 0, i), 1, 10));
        var degrees = Enumerable.Range(0, 100).Select(i => specs.Count(s => s.Funder == i || s.Fundee == i)).Order().ToArray();
        Assert.True(degrees[0] >= 2, "every node has at least two channels");
        Assert.True(degrees[^1] >= 4 * degrees[50], $"a hub: max degree {degrees[^1]}, median {degrees[50]}");
    }

    [Fact]
    public void Hop_distance_is_the_fewest_channels_and_minus_one_when_unreachable()
    {
        ChannelSpec[] specs = [new(0, 1, Money.Satoshis(1)), new(1, 2, Money.Satoshis(1)), new(2, 3, Money.Satoshis(1)), new(0, 3, Money.Satoshis(1)), new(5, 6, Money.Satoshis(1))];
        Assert.Equal(0, RandomTopology.HopDistance(specs, 2, 2));
        Assert.Equal(1, RandomTopology.HopDistance(specs, 3, 0));
        Assert.Equal(2, RandomTopology.HopDistance(specs, 0, 2));
        Assert.Equal(-1, RandomTopology.HopDistance(specs, 0, 6));
    }
}
