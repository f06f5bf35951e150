using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Routing.RoutingTestGraph;

namespace Satflow.Lightning.Tests.Routing;

public sealed class RouterTests
{
    private static readonly NodeId S = Id(0), A = Id(1), B = Id(2), T = Id(3), P = Id(4), Q = Id(5);
    private static readonly ProbabilisticScorer FreshScorer = new();

    private static MilliSatoshi Msat(ulong v) => new(v);

    /// <summary>S → A → B → T; the payer's own channel charges nothing.</summary>
    private static NetworkGraph Line()
    {
        var g = new NetworkGraph();
        g.Channel(1, S, A, 1_000_000, Policy(5000, 5000, 10));
        g.Channel(2, A, B, 1_000_000, Policy(1000, 100, 40));
        g.Channel(3, B, T, 1_000_000, Policy(2000, 1000, 144));
        return g;
    }

    /// <summary>S → A → T (fee 1000) and S → B → T (fee 2000), large channels.</summary>
    private static NetworkGraph Diamond()
    {
        var g = new NetworkGraph();
        g.Channel(1, S, A, 100_000_000, Policy(0, 0, 10));
        g.Channel(2, S, B, 100_000_000, Policy(0, 0, 10));
        g.Channel(3, A, T, 100_000_000, Policy(1000, 0, 40));
        g.Channel(4, B, T, 100_000_000, Policy(2000, 0, 40));
        return g;
    }

    [Fact]
    public void LineRouteHasHandComputedAmountsFeesAndCltv()
    {
        var result = Router.FindRoute(Line(), FreshScorer, S, T, Msat(1_000_000), 18, Now);
        var route = Assert.IsType<Route>(result.Route);
        // B charges 2000 + 1,000,000 × 1000 / 1e6 = 3000 over B→T; A charges 1000 + ⌊1,003,000 × 100 / 1e6⌋ = 1100 over A→B.
        Assert.Equal(
            [
                new RouteHop(new ShortChannelId(1), A, Msat(1_004_100), Msat(1100), 202),
                new RouteHop(new ShortChannelId(2), B, Msat(1_003_000), Msat(3000), 162),
                new RouteHop(new ShortChannelId(3), T, Msat(1_000_000), Msat(0), 18),
            ],
            route.Hops);
        Assert.Equal(Msat(1_004_100), route.TotalAmount);
        Assert.Equal(Msat(4100), route.TotalFees);
        Assert.Equal(202, route.TotalCltvExpiryDelta);
    }

    [Fact]
    public void DiamondPicksTheCheaperBranch()
    {
        var route = Router.FindRoute(Diamond(), FreshScorer, S, T, Msat(1_000_000), 9, Now).Route!;
        Assert.Equal([A, T], route.Hops.Select(h => h.Node));
        Assert.Equal(Msat(1000), route.TotalFees);
        Assert.Equal(49, route.TotalCltvExpiryDelta);
    }

    [Fact]
    public void ParallelChannelsRespectHtlcLimitsAndDisabledFlag()
    {
        var g = new NetworkGraph();
        g.Channel(1, S, A, 10_000_000, Policy(0, 0, 10));
        g.Channel(20, A, T, 10_000_000, Policy(1000, 0, 40, htlcMin: 500_000, htlcMax: 2_000_000));
        g.Channel(21, A, T, 10_000_000, Policy(3000, 0, 40));

        ShortChannelId LastHop(ulong amount) => Router.FindRoute(g, FreshScorer, S, T, Msat(amount), 9, Now).Route!.Hops[^1].ShortChannelId;

        Assert.Equal(new ShortChannelId(20), LastHop(1_000_000));
        Assert.Equal(new ShortChannelId(21), LastHop(3_000_000)); // above htlc_maximum of 20
        Assert.Equal(new ShortChannelId(21), LastHop(100_000)); // below htlc_minimum of 20
        Assert.True(g.UpdatePolicy(new ShortChannelId(20), A, Policy(1000, 0, 40, disabled: true) with { Timestamp = 5 }));
        Assert.Equal(new ShortChannelId(21), LastHop(1_000_000));
    }

    [Fact]
    public void StaleUpdatesAreIgnored()
    {
        var g = Diamond();
        Assert.True(g.UpdatePolicy(new ShortChannelId(3), A, Policy(9000, 0, 40) with { Timestamp = 10 }));
        Assert.False(g.UpdatePolicy(new ShortChannelId(3), A, Policy(1, 0, 40) with { Timestamp = 9 }));
        var info = g.ChannelsOf(T).Single(c => c.ShortChannelId.Value == 3);
        var fromA = info.Node1 == A ? info.Policy1 : info.Policy2;
        Assert.Equal(9000U, fromA!.Value.FeeBaseMsat);
        Assert.Equal([B, T], Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 9, Now).Route!.Hops.Select(h => h.Node));
    }

    [Fact]
    public void RemovedChannelIsNotUsed()
    {
        var g = Diamond();
        Assert.True(g.RemoveChannel(new ShortChannelId(3)));
        Assert.False(g.RemoveChannel(new ShortChannelId(3)));
        Assert.Equal(3, g.ChannelCount);
        Assert.Equal([B, T], Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 9, Now).Route!.Hops.Select(h => h.Node));
    }

    [Fact]
    public void TopologyChangesBetweenSearchesAreSeen()
    {
        // The router caches the graph's adjacency and reuses its label buffers between searches: a channel removed or
        // added after a search must be seen by the next one, and a fee rate whose product with the amount overflows
        // 64 bits must be refused cleanly rather than wrap around.
        var g = Diamond();
        Assert.Equal([A, T], Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 9, Now).Route!.Hops.Select(h => h.Node));
        Assert.True(g.RemoveChannel(new ShortChannelId(3)));
        Assert.Equal([B, T], Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 9, Now).Route!.Hops.Select(h => h.Node));
        g.Channel(5, A, T, 100_000_000, Policy(10, 0, 40));
        Assert.Equal([A, T], Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 9, Now).Route!.Hops.Select(h => h.Node));
        Assert.True(g.RemoveChannel(new ShortChannelId(1)));
        Assert.True(g.RemoveChannel(new ShortChannelId(2)));
        Assert.Equal(RouteFailureReason.SourceHasNoChannels, Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 9, Now).Failure!.Reason);

        var huge = new NetworkGraph();
        huge.Channel(1, S, A, 2_000_000_000_000_000, Policy(0, 0, 10));
        huge.Channel(2, A, T, 2_000_000_000_000_000, Policy(0, uint.MaxValue, 10));
        var result = Router.FindRoute(huge, FreshScorer, S, T, Msat(1_000_000_000_000_000), 9, Now);
        Assert.Equal(RouteFailureReason.NoRouteWithEnoughLiquidity, result.Failure!.Reason);
        var small = Router.FindRoute(huge, FreshScorer, S, T, Msat(1_000), 9, Now).Route!;
        Assert.Equal(new MilliSatoshi(1_000 + (ulong)(1_000UL * uint.MaxValue / 1_000_000)), small.TotalAmount);
    }

    [Fact]
    public void RouteHintReachesPrivateRecipient()
    {
        var g = new NetworkGraph();
        g.Channel(1, S, A, 1_000_000, Policy(0, 0, 10));
        RouteHintHop[] hint = [new(A, new ShortChannelId(99), 100, 10, 30)];
        var route = Router.FindRoute(g, FreshScorer, S, T, Msat(2_000_000), 9, Now, [hint]).Route!;
        // A charges 100 + 2,000,000 × 10 / 1e6 = 120 over the private channel.
        Assert.Equal(
            [
                new RouteHop(new ShortChannelId(1), A, Msat(2_000_120), Msat(120), 39),
                new RouteHop(new ShortChannelId(99), T, Msat(2_000_000), Msat(0), 9, FromRouteHint: true),
            ],
            route.Hops);
    }

    [Fact]
    public void MultiHopRouteHintThroughPrivateNodes()
    {
        var g = new NetworkGraph();
        g.Channel(1, S, A, 1_000_000, Policy(0, 0, 10));
        RouteHintHop[] hint = [new(A, new ShortChannelId(98), 1000, 0, 20), new(P, new ShortChannelId(99), 500, 0, 30)];
        var route = Router.FindRoute(g, FreshScorer, S, T, Msat(10_000), 9, Now, [hint]).Route!;
        Assert.Equal([A, P, T], route.Hops.Select(h => h.Node));
        Assert.Equal([11_500UL, 10_500, 10_000], route.Hops.Select(h => h.Amount.Value));
        Assert.Equal([59, 39, 9], route.Hops.Select(h => h.CltvExpiryDelta));
    }

    [Fact]
    public void FeeAndCltvLimitsGiveTypedFailures()
    {
        var g = Line();
        Assert.True(Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 18, Now, constraints: new(MaxFee: Msat(4100))).IsSuccess);
        var fee = Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 18, Now, constraints: new(MaxFee: Msat(4099))).Failure!;
        Assert.Equal(RouteFailureReason.ExceedsMaxFee, fee.Reason);
        Assert.Contains("4100", fee.Message, StringComparison.Ordinal);
        Assert.True(Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 18, Now, constraints: new(MaxCltvExpiryDelta: 202)).IsSuccess);
        Assert.Equal(RouteFailureReason.ExceedsMaxCltv,
            Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 18, Now, constraints: new(MaxCltvExpiryDelta: 201)).Failure!.Reason);
        Assert.Equal(RouteFailureReason.NoPath,
            Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 18, Now, constraints: new(MaxHops: 2)).Failure!.Reason);
    }

    [Fact]
    public void ClearReasonsForUnreachableRecipients()
    {
        var g = Line();
        Assert.Equal(RouteFailureReason.RecipientUnknown, Router.FindRoute(g, FreshScorer, S, Q, Msat(1000), 9, Now).Failure!.Reason);
        g.AddNode(Q);
        Assert.Equal(RouteFailureReason.RecipientHasNoChannels, Router.FindRoute(g, FreshScorer, S, Q, Msat(1000), 9, Now).Failure!.Reason);
        Assert.Equal(RouteFailureReason.SourceHasNoChannels, Router.FindRoute(g, FreshScorer, Q, T, Msat(1000), 9, Now).Failure!.Reason);
        g.Channel(7, P, Q, 1_000_000, Policy(0, 0, 10));
        Assert.Equal(RouteFailureReason.NoPath, Router.FindRoute(g, FreshScorer, S, Q, Msat(1000), 9, Now).Failure!.Reason);
        var liquidity = Router.FindRoute(g, FreshScorer, S, T, MilliSatoshi.FromSatoshis(2_000_000), 9, Now).Failure!;
        Assert.Equal(RouteFailureReason.NoRouteWithEnoughLiquidity, liquidity.Reason);
        Assert.StartsWith("No route with enough liquidity", liquidity.Message, StringComparison.Ordinal);
        Assert.True(g.UpdatePolicy(new ShortChannelId(3), B, Policy(2000, 1000, 144, disabled: true) with { Timestamp = 1 }));
        Assert.Equal(RouteFailureReason.RecipientOffline, Router.FindRoute(g, FreshScorer, S, T, Msat(1000), 9, Now).Failure!.Reason);
        Assert.Equal(RouteFailureReason.InvalidRequest, Router.FindRoute(g, FreshScorer, S, S, Msat(1000), 9, Now).Failure!.Reason);
        Assert.Equal(RouteFailureReason.InvalidRequest, Router.FindRoute(g, FreshScorer, S, T, Msat(0), 9, Now).Failure!.Reason);
    }

    [Fact]
    public void ExclusionsAreRespected()
    {
        var g = Diamond();
        var viaB = Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 9, Now, constraints: new(ExcludedNodes: new HashSet<NodeId> { A })).Route!;
        Assert.Equal([B, T], viaB.Hops.Select(h => h.Node));
        var viaB2 = Router.FindRoute(g, FreshScorer, S, T, Msat(1_000_000), 9, Now,
            constraints: new(ExcludedChannels: new HashSet<ShortChannelId> { new(3) })).Route!;
        Assert.Equal([B, T], viaB2.Hops.Select(h => h.Node));
    }

    [Fact]
    public void ScorerLearnsFromFailureAndForgetsOverTime()
    {
        var g = Diamond();
        var scorer = new ProbabilisticScorer();
        var first = Router.FindRoute(g, scorer, S, T, Msat(1_000_000), 9, Now).Route!;
        Assert.Equal(A, first.Hops[0].Node);

        scorer.PaymentPathFailed(g, first, 1, Now); // A → T could not forward 1,000,000 msat
        var capacity = MilliSatoshi.FromSatoshis(100_000_000);
        Assert.Equal((Msat(0), Msat(999_999)), scorer.EstimatedLiquidity(new ShortChannelId(3), DirectionFrom(g, 3, A), capacity, Now));
        // The first hop carried 1,000,000 + A's fee of 1000, so it had at least that much.
        Assert.Equal((Msat(1_001_000), capacity), scorer.EstimatedLiquidity(new ShortChannelId(1), DirectionFrom(g, 1, S), capacity, Now));
        Assert.Equal(0, scorer.SuccessProbability(new ShortChannelId(3), DirectionFrom(g, 3, A), Msat(1_000_000), capacity, Now));

        var second = Router.FindRoute(g, scorer, S, T, Msat(1_000_000), 9, Now).Route!;
        Assert.Equal([B, T], second.Hops.Select(h => h.Node));

        // One half-life later the unknown part of the range has shrunk by half toward the prior.
        var halfLife = scorer.Parameters.EffectiveHalfLife;
        var (_, max) = scorer.EstimatedLiquidity(new ShortChannelId(3), DirectionFrom(g, 3, A), capacity, Now + halfLife);
        Assert.Equal(capacity.Value - ((capacity.Value - 999_999) / 2), max.Value, 1UL);
        var later = Router.FindRoute(g, scorer, S, T, Msat(1_000_000), 9, Now + TimeSpan.FromDays(1)).Route!;
        Assert.Equal(A, later.Hops[0].Node);
    }

    [Fact]
    public void ScorerSuccessMovesLiquidity()
    {
        var g = Diamond();
        var scorer = new ProbabilisticScorer();
        var route = Router.FindRoute(g, scorer, S, T, Msat(5_000_000), 9, Now).Route!;
        scorer.PaymentPathSucceeded(g, route, Now);
        var capacity = MilliSatoshi.FromSatoshis(100_000_000);
        Assert.Equal((Msat(0), Msat(capacity.Value - 5_001_000)), scorer.EstimatedLiquidity(new ShortChannelId(1), DirectionFrom(g, 1, S), capacity, Now));
        Assert.Equal((Msat(0), Msat(capacity.Value - 5_000_000)), scorer.EstimatedLiquidity(new ShortChannelId(3), DirectionFrom(g, 3, A), capacity, Now));
        Assert.Equal(2, scorer.LearnedChannelDirections);
    }

    [Fact]
    public void PenaltyGrowsWithAmountAndCltv()
    {
        var scorer = new ProbabilisticScorer(new ScorerParameters(BasePenaltyMsat: 100, LiquidityPenaltyMultiplierMsat: 10_000, CltvPenaltyMsatPerBlock: 2));
        var cap = Msat(1_000_000);
        var scid = new ShortChannelId(1);
        // Uniform prior: P(fits) = (1,000,000 + 1 − 900,000) / 1,000,001 ≈ 0.1, so the liquidity term is ≈ 10,000.
        Assert.Equal(100 + 80 + 10_000, scorer.Penalty(scid, 0, Msat(900_000), cap, 40, Now), 5.0);
        Assert.Equal(100 + 80, scorer.Penalty(scid, 0, Msat(0), cap, 40, Now), 0.001);
        Assert.True(double.IsPositiveInfinity(scorer.Penalty(scid, 0, Msat(1_000_001), cap, 40, Now)));
    }

    [Fact]
    public void BlindedPathsActAsVirtualLastChannels()
    {
        var g = new NetworkGraph();
        g.Channel(1, S, A, 1_000_000, Policy(0, 0, 10));
        g.Channel(2, A, B, 1_000_000, Policy(1000, 0, 40));
        BlindedPathCandidate[] paths =
        [
            new(B, 500, 0, 100, Msat(0), Msat(100_000_000)),
            new(A, 5000, 0, 100, Msat(0), Msat(100_000_000)),
            new(Q, 0, 0, 0, Msat(0), Msat(100_000_000)), // unknown introduction node: ignored
        ];
        var route = Router.FindRouteToBlindedPaths(g, FreshScorer, S, paths, Msat(1_000_000), 0, Now).Route!;
        Assert.Equal(0, route.BlindedPathIndex);
        Assert.Equal(
            [
                new RouteHop(new ShortChannelId(1), A, Msat(1_001_500), Msat(1000), 140),
                new RouteHop(new ShortChannelId(2), B, Msat(1_000_500), Msat(500), 100),
            ],
            route.Hops);
        Assert.Equal(Msat(1500), route.TotalFees);

        // Above path 0's htlc_maximum only path 1 (through A) is left.
        paths[0] = paths[0] with { HtlcMaximum = Msat(500_000) };
        var other = Router.FindRouteToBlindedPaths(g, FreshScorer, S, paths, Msat(1_000_000), 0, Now).Route!;
        Assert.Equal(1, other.BlindedPathIndex);
        Assert.Equal([new RouteHop(new ShortChannelId(1), A, Msat(1_005_000), Msat(5000), 100)], other.Hops);

        Assert.Equal(RouteFailureReason.RecipientUnknown,
            Router.FindRouteToBlindedPaths(g, FreshScorer, S, [paths[2]], Msat(1000), 0, Now).Failure!.Reason);
    }

    [Fact]
    public void MultiPathSplitsAmountLargerThanAnyChannel()
    {
        var g = new NetworkGraph();
        g.Channel(1, S, A, 600_000, Policy(0, 0, 10));
        g.Channel(2, S, B, 600_000, Policy(0, 0, 10));
        g.Channel(3, A, T, 600_000, Policy(1000, 100, 40));
        g.Channel(4, B, T, 600_000, Policy(1000, 100, 40));
        var amount = MilliSatoshi.FromSatoshis(1_000_000);

        Assert.Equal(RouteFailureReason.NoRouteWithEnoughLiquidity, Router.FindRoute(g, FreshScorer, S, T, amount, 9, Now).Failure!.Reason);
        var result = Router.FindMultiPathRoute(g, FreshScorer, S, T, amount, 9, 8, Now);
        Assert.True(result.IsSuccess, result.Failure?.Message);
        Assert.InRange(result.Parts.Count, 2, 8);
        Assert.Equal(amount.Value, result.Parts.Sum(p => (decimal)p.RecipientAmount.Value));
        var perChannel = result.Parts.SelectMany(p => p.Hops).GroupBy(h => h.ShortChannelId).ToDictionary(x => x.Key, x => x.Sum(h => (decimal)h.Amount.Value));
        Assert.All(perChannel.Values, total => Assert.True(total <= 600_000_000m));
        Assert.Equal(result.TotalFees.Value, result.Parts.Sum(p => (decimal)p.TotalFees.Value));

        var tooMuch = Router.FindMultiPathRoute(g, FreshScorer, S, T, MilliSatoshi.FromSatoshis(1_300_000), 9, 8, Now).Failure!;
        Assert.Equal(RouteFailureReason.NoRouteWithEnoughLiquidity, tooMuch.Reason);
        Assert.Equal(RouteFailureReason.NoRouteWithEnoughLiquidity,
            Router.FindMultiPathRoute(g, FreshScorer, S, T, amount, 9, 1, Now).Failure!.Reason);
    }

    [Fact]
    public void MultiPathUsesOneRouteWhenItFits()
    {
        var result = Router.FindMultiPathRoute(Diamond(), FreshScorer, S, T, Msat(1_000_000), 9, 4, Now);
        Assert.Equal([A, T], Assert.Single(result.Parts).Hops.Select(h => h.Node));
    }

    private static int DirectionFrom(NetworkGraph g, ulong scid, NodeId from)
    {
        Assert.True(g.TryGetChannel(new ShortChannelId(scid), out var info));
        return info.Node1 == from ? 0 : 1;
    }
}
