using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Routing.RoutingTestGraph;

namespace Satflow.Lightning.Tests.Routing;

public sealed class NetworkGraphTests
{
    private static ChannelUpdate Update(ulong scid, byte channelFlags, uint timestamp, uint baseFee) =>
        new(default(Signature64), ChainHash.Regtest, new ShortChannelId(scid), timestamp, 1, channelFlags, 144,
            new MilliSatoshi(1000), baseFee, 250, new MilliSatoshi(50_000_000), ReadOnlyMemory<byte>.Empty);

    [Fact]
    public void ChannelUpdatesFollowBolt7Directions()
    {
        var (low, high) = Id(0) < Id(1) ? (Id(0), Id(1)) : (Id(1), Id(0));
        var g = new NetworkGraph();
        g.AddChannel(new ShortChannelId(5), high, low, MilliSatoshi.FromSatoshis(100_000)); // order of the arguments does not matter
        Assert.True(g.ApplyChannelUpdate(Update(5, 0, 10, 111)));
        Assert.True(g.ApplyChannelUpdate(Update(5, 1 | 2, 10, 222)));
        Assert.False(g.ApplyChannelUpdate(Update(5, 0, 9, 333))); // stale
        Assert.False(g.ApplyChannelUpdate(Update(6, 0, 10, 333))); // unknown channel

        Assert.True(g.TryGetChannel(new ShortChannelId(5), out var info));
        Assert.Equal(low, info.Node1);
        Assert.Equal(high, info.Node2);
        Assert.Equal(new ChannelPolicy(111, 250, 144, new MilliSatoshi(1000), new MilliSatoshi(50_000_000), false, 10), info.Policy1);
        Assert.Equal(new ChannelPolicy(222, 250, 144, new MilliSatoshi(1000), new MilliSatoshi(50_000_000), true, 10), info.Policy2);
        Assert.Equal(new MilliSatoshi(111 + 250), info.Policy1!.Value.FeeFor(new MilliSatoshi(1_000_000)));
    }

    [Fact]
    public void RemovedSlotsAreReusedAndCountsStayRight()
    {
        var g = new NetworkGraph();
        for (var i = 1; i <= 40; i++)
        {
            g.Channel((ulong)i, Id(i % 7), Id((i % 7) + 1), 1_000_000, Policy(0, 0, 10));
        }

        Assert.Equal(40, g.ChannelCount);
        Assert.Equal(8, g.NodeCount);
        for (var i = 1; i <= 40; i += 2)
        {
            Assert.True(g.RemoveChannel(new ShortChannelId((ulong)i)));
        }

        g.Channel(100, Id(20), Id(21), 5_000, Policy(0, 0, 10));
        Assert.Equal(21, g.ChannelCount);
        Assert.Equal(10, g.NodeCount);
        Assert.Equal(new ShortChannelId(100), Assert.Single(g.ChannelsOf(Id(20))).ShortChannelId);
        Assert.All(g.ChannelsOf(Id(1)), c => Assert.Equal(0UL, c.ShortChannelId.Value % 2));
        Assert.Throws<ArgumentException>(() => g.AddChannel(new ShortChannelId(101), Id(3), Id(3), MilliSatoshi.FromSatoshis(1)));
    }
}
