using CsCheck;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Routing.RoutingTestGraph;

namespace Satflow.Lightning.Tests.Routing;

public sealed class RouterPropertyTests
{
    private static readonly Gen<(int Seed, int Nodes, int Channels, ulong Amount)> Cases =
        Gen.Select(Gen.Int, Gen.Int[2, 30], Gen.Int[1, 90], Gen.ULong[1, 3_000_000_000]);

    /// <summary>A random graph with random policies (some missing, some disabled) and a few learned failures.</summary>
    private static (NetworkGraph Graph, ProbabilisticScorer Scorer, Random Rng) RandomGraph(int seed, int nodes, int channels)
    {
        var rng = new Random(seed);
        var g = new NetworkGraph();
        for (var i = 0; i < channels; i++)
        {
            var a = rng.Next(nodes);
            var b = rng.Next(nodes);
            if (a == b)
            {
                continue;
            }

            var scid = new ShortChannelId((ulong)rng.Next(1, 200));
            g.AddChannel(scid, Id(a), Id(b), MilliSatoshi.FromSatoshis((ulong)rng.Next(20_000, 5_000_000)));
            foreach (var from in new[] { Id(a), Id(b) })
            {
                if (rng.Next(8) == 0)
                {
                    continue; // no update seen for this direction
                }

                var htlcMin = rng.Next(4) == 0 ? (ulong)rng.Next(0, 2_000_000) : 0;
                var htlcMax = rng.Next(3) == 0 ? (ulong)rng.NextInt64(1, 3_000_000_000) : 0;
                g.UpdatePolicy(scid, from, Policy((uint)rng.Next(0, 5000), (uint)rng.Next(0, 5000), (ushort)rng.Next(0, 300), htlcMin, htlcMax, rng.Next(10) == 0));
            }
        }

        if (rng.Next(4) == 0)
        {
            g.RemoveChannel(new ShortChannelId((ulong)rng.Next(1, 200)));
        }

        return (g, new ProbabilisticScorer(), rng);
    }

    private static RouteConstraints RandomConstraints(Random rng) => new(
        MaxFee: rng.Next(3) == 0 ? new MilliSatoshi((ulong)rng.Next(0, 50_000)) : null,
        MaxCltvExpiryDelta: rng.Next(3) == 0 ? rng.Next(0, 1000) : 2016,
        MaxHops: rng.Next(1, 21),
        ExcludedNodes: rng.Next(4) == 0 ? new HashSet<NodeId> { Id(rng.Next(30)) } : null,
        ExcludedChannels: rng.Next(4) == 0 ? new HashSet<ShortChannelId> { new((ulong)rng.Next(1, 200)) } : null);

    [Fact]
    public void AnyReturnedRouteIsValidAndFailuresAreTyped()
    {
        var found = 0;
        Cases.Sample(c =>
        {
            var (g, scorer, rng) = RandomGraph(c.Seed, c.Nodes, c.Channels);
            var source = Id(rng.Next(c.Nodes));
            var target = Id(rng.Next(c.Nodes));
            var constraints = RandomConstraints(rng);
            var finalCltv = rng.Next(0, 200);
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var result = Router.FindRoute(g, scorer, source, target, new MilliSatoshi(c.Amount), finalCltv, Now, constraints: constraints);
                if (result.Route is not { } route)
                {
                    Assert.True(Enum.IsDefined(result.Failure!.Reason));
                    Assert.False(string.IsNullOrWhiteSpace(result.Failure.Message));
                    break;
                }

                AssertValid(g, route, source, target, c.Amount, finalCltv, constraints);
                Interlocked.Increment(ref found);
                // Learn a failure somewhere on the route, then search again with that knowledge.
                scorer.PaymentPathFailed(g, route, rng.Next(route.Hops.Count), Now);
            }
        }, iter: 300);
        Assert.True(found > 20, $"only {found} routes were found: the generator is too sparse to test anything");
    }

    [Fact]
    public void MultiPathPartsAreValidAndAddUp()
    {
        var split = 0;
        Cases.Sample(c =>
        {
            var (g, scorer, rng) = RandomGraph(c.Seed, c.Nodes, c.Channels);
            var source = Id(rng.Next(c.Nodes));
            var target = Id(rng.Next(c.Nodes));
            var constraints = RandomConstraints(rng);
            var result = Router.FindMultiPathRoute(g, scorer, source, target, new MilliSatoshi(c.Amount), 18, rng.Next(1, 9), Now, constraints: constraints);
            if (!result.IsSuccess)
            {
                Assert.True(Enum.IsDefined(result.Failure!.Reason));
                Assert.Empty(result.Parts);
                return;
            }

            Assert.Equal(c.Amount, result.Parts.Sum(p => (decimal)p.RecipientAmount.Value));
            if (result.Parts.Count > 1)
            {
                Interlocked.Increment(ref split);
            }
            foreach (var part in result.Parts)
            {
                AssertValid(g, part, source, target, part.RecipientAmount.Value, 18, constraints with { MaxFee = null });
            }

            if (constraints.MaxFee is { } maxFee)
            {
                Assert.True(result.TotalFees <= maxFee);
            }

            foreach (var group in result.Parts.SelectMany(p => p.Hops).GroupBy(h => h.ShortChannelId))
            {
                Assert.True(g.TryGetChannel(group.Key, out var info));
                Assert.True(group.Sum(h => (decimal)h.Amount.Value) <= info.Capacity.Value);
            }
        }, iter: 400);
        Assert.True(split > 0, "no payment was split: the generator never exercises multi-part splitting");
    }

    private static void AssertValid(NetworkGraph g, Route route, NodeId source, NodeId target, ulong amount, int finalCltv, RouteConstraints constraints)
    {
        Assert.NotEmpty(route.Hops);
        Assert.InRange(route.Hops.Count, 1, constraints.MaxHops);
        Assert.Equal(source, route.Source);
        var last = route.Hops[^1];
        Assert.Equal(target, last.Node);
        Assert.Equal(amount, last.Amount.Value);
        Assert.Equal(finalCltv, last.CltvExpiryDelta);
        Assert.Equal(0UL, last.Fee.Value);
        Assert.Equal(route.Hops.Count + 1, route.Hops.Select(h => h.Node).Append(source).Distinct().Count());
        var from = source;
        for (var i = 0; i < route.Hops.Count; i++)
        {
            var hop = route.Hops[i];
            Assert.True(g.TryGetChannel(hop.ShortChannelId, out var info));
            Assert.False(constraints.ExcludedChannels?.Contains(hop.ShortChannelId) ?? false);
            var policy = PolicyFrom(info, from, hop.Node);
            Assert.False(policy.Disabled);
            Assert.True(hop.Amount >= policy.HtlcMinimum);
            Assert.True(hop.Amount <= info.Capacity);
            Assert.True(policy.HtlcMaximum.Value == 0 || hop.Amount <= policy.HtlcMaximum);
            if (i + 1 < route.Hops.Count)
            {
                Assert.False(constraints.ExcludedNodes?.Contains(hop.Node) ?? false);
                var next = route.Hops[i + 1];
                Assert.True(g.TryGetChannel(next.ShortChannelId, out var nextInfo));
                var forward = PolicyFrom(nextInfo, hop.Node, next.Node);
                var fee = forward.FeeFor(next.Amount);
                Assert.Equal(fee, hop.Fee);
                Assert.Equal(next.Amount + fee, hop.Amount);
                Assert.Equal(next.CltvExpiryDelta + forward.CltvExpiryDelta, hop.CltvExpiryDelta);
            }

            from = hop.Node;
        }

        Assert.Equal(route.TotalAmount - new MilliSatoshi(amount), route.TotalFees);
        Assert.True(constraints.MaxFee is not { } max || route.TotalFees <= max);
        Assert.True(route.TotalCltvExpiryDelta <= constraints.MaxCltvExpiryDelta);
    }

    private static ChannelPolicy PolicyFrom(ChannelInfo info, NodeId from, NodeId to)
    {
        if (info.Node1 == from && info.Node2 == to)
        {
            return Assert.NotNull(info.Policy1);
        }

        Assert.True(info.Node2 == from && info.Node1 == to, "consecutive hops must share a node");
        return Assert.NotNull(info.Policy2);
    }
}
