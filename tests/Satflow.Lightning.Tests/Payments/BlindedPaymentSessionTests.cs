using CsCheck;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Payments;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Routing.RoutingTestGraph;

namespace Satflow.Lightning.Tests.Payments;

/// <summary>Payment sessions that pay BOLT 12 invoices: routes end at blinded paths' introduction nodes.</summary>
public sealed class BlindedPaymentSessionTests
{
    private static readonly NodeId S = Id(0), A = Id(1), B = Id(2), Recipient = Id(3), Peer = Id(9);
    private static readonly PaymentPreimage Preimage = new(new Bytes32(Enumerable.Repeat((byte)5, 32).ToArray()));
    private static readonly Bytes32 OnionSha = new(Enumerable.Repeat((byte)1, 32).ToArray());

    /// <summary>S → A and S → B; A and B are the introduction nodes of path 0 (fee 1000 msat) and path 1 (fee 2000 msat).</summary>
    private static NetworkGraph Graph(ulong capacitySat = 1_000_000)
    {
        var g = new NetworkGraph();
        g.Channel(1, S, A, capacitySat, Policy(0, 0, 10));
        g.Channel(2, S, B, capacitySat, Policy(0, 0, 10));
        return g;
    }

    private static BlindedPathCandidate PathVia(NodeId intro, uint fee, ulong maxMsat = 0) =>
        new(intro, fee, 0, 184, new MilliSatoshi(1), maxMsat == 0 ? MilliSatoshi.MaxMoney : new MilliSatoshi(maxMsat));

    private static PaymentParameters Request(ulong amountMsat, bool mpp, params BlindedPathCandidate[] paths) =>
        new(Recipient, Preimage.Hash, null, new MilliSatoshi(amountMsat), 0, Now + TimeSpan.FromMinutes(1), PayeeSupportsMpp: mpp, BlindedPaths: paths);

    private static FakeNetwork Network(ulong first = 1_000_000_000)
    {
        var n = new FakeNetwork(Recipient);
        n.Balance(1, S, first);
        n.Balance(2, S, first);
        return n;
    }

    /// <summary>The introduction node answers as BOLT 4 requires for any failure inside its blinded path.</summary>
    private static FailureMessage InvalidOnionBlinding() => FailureMessage.BadOnion(FailureCode.InvalidOnionBlinding, OnionSha);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_failed_blinded_path_is_penalised_and_the_payment_goes_over_another(bool mpp)
    {
        var session = new PaymentSession(Request(50_000_000, mpp, PathVia(A, 1000), PathVia(B, 2000)), Graph(), new ProbabilisticScorer(), S);
        var network = Network();
        network.RecipientCheck = part => part.Route.BlindedPathIndex == 0 ? InvalidOnionBlinding() : null;
        var now = Now;
        network.Run(session, Preimage, ref now);

        Assert.Equal(PaymentSessionState.Succeeded, session.State);
        var parts = session.Parts.OrderBy(p => p.PartId).ToList();
        Assert.Equal(2, parts.Count);
        Assert.Equal((0, PaymentPartStatus.Failed), (parts[0].Route.BlindedPathIndex!.Value, parts[0].Status));
        Assert.Equal((1, PaymentPartStatus.Succeeded), (parts[1].Route.BlindedPathIndex!.Value, parts[1].Status));
        Assert.Equal(new MilliSatoshi(2000), session.FeePaid);
        // Without multi-part support the path is out at once; with it, only amounts below the failed one remain possible.
        Assert.Equal(!mpp, session.ExcludedBlindedPaths.Contains(0));
    }

    [Fact]
    public void An_amount_above_every_path_maximum_is_split_over_the_paths_when_the_invoice_allows_mpp()
    {
        var paths = new[] { PathVia(A, 1000, 60_000_000), PathVia(B, 2000, 60_000_000) };
        var session = new PaymentSession(Request(100_000_000, true, paths), Graph(), new ProbabilisticScorer(), S);
        var now = Now;
        Network().Run(session, Preimage, ref now);

        Assert.Equal(PaymentSessionState.Succeeded, session.State);
        Assert.True(session.SucceededParts >= 2);
        Assert.Equal(new MilliSatoshi(100_000_000), session.SucceededAmount);
        // htlc_maximum_msat limits each HTLC: both shards may take the cheaper path, none above its maximum.
        Assert.All(session.Parts, p => Assert.True(p.Route.RecipientAmount.Value <= 60_000_000));
    }

    [Fact]
    public void Shards_are_spread_over_our_first_hops_when_none_carries_the_whole_amount()
    {
        // Each first hop holds 70,000 sat: 100,000 sat to one path only fits in two shards over both channels.
        var hops = new[] { new FirstHop(new ShortChannelId(1), A, new MilliSatoshi(70_000_000)), new FirstHop(new ShortChannelId(2), B, new MilliSatoshi(70_000_000)) };
        var graph = Graph();
        graph.Channel(3, A, B, 1_000_000, Policy(0, 0, 10), Policy(0, 0, 10));
        var session = new PaymentSession(Request(100_000_000, true, PathVia(B, 2000)), graph, new ProbabilisticScorer(), S);
        var network = Network(70_000_000);
        network.Balance(3, A, 1_000_000_000);
        var now = Now;
        network.Run(session, Preimage, ref now, firstHops: () => hops);

        Assert.Equal(PaymentSessionState.Succeeded, session.State);
        Assert.True(session.SucceededParts >= 2);
        Assert.Contains(session.Parts, p => p.Route.Hops[0].ShortChannelId == new ShortChannelId(1));
        Assert.Contains(session.Parts, p => p.Route.Hops[0].ShortChannelId == new ShortChannelId(2));
    }

    [Fact]
    public void Without_mpp_an_amount_above_every_path_maximum_fails_for_liquidity_before_sending()
    {
        var paths = new[] { PathVia(A, 1000, 60_000_000), PathVia(B, 2000, 60_000_000) };
        var session = new PaymentSession(Request(100_000_000, false, paths), Graph(), new ProbabilisticScorer(), S);
        var now = Now;
        Network().Run(session, Preimage, ref now);

        Assert.Equal(PaymentSessionState.Failed, session.State);
        Assert.Equal(PaymentFailureKind.BlindedPathsFailed, session.Failure!.Kind);
        Assert.Equal(0, session.Attempts);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void When_every_path_fails_the_session_fails_with_blinded_paths_failed(bool mpp)
    {
        var session = new PaymentSession(Request(50_000_000, mpp, PathVia(A, 1000), PathVia(B, 2000)), Graph(), new ProbabilisticScorer(), S);
        var network = Network();
        network.RecipientCheck = _ => InvalidOnionBlinding();
        var now = Now;
        network.Run(session, Preimage, ref now);

        Assert.Equal(PaymentSessionState.Failed, session.State);
        Assert.Equal(PaymentFailureKind.BlindedPathsFailed, session.Failure!.Kind);
        Assert.StartsWith("Every blinded path of the invoice failed", session.Failure.Message, StringComparison.Ordinal);
        Assert.Contains("invalid_onion_blinding", session.Failure.Message, StringComparison.Ordinal);
        Assert.Equal([0, 1], session.ExcludedBlindedPaths.Order());
        Assert.False(session.HasPartsInFlight);
        Assert.True(session.Attempts <= (mpp ? 2 * PaymentSession.MaxBlindedPathFailures + 2 : 2), $"attempts: {session.Attempts}");
    }

    [Fact]
    public void An_unreadable_failure_of_a_one_hop_route_is_the_blinded_path_failing()
    {
        var session = new PaymentSession(Request(50_000_000, false, PathVia(A, 1000), PathVia(B, 2000)), Graph(), new ProbabilisticScorer(), S);
        var first = Assert.Single(session.NextParts(null, Now));
        Assert.True(session.PartFailed(first.PartId, new PaymentPartFailure(null, null, "unreadable"), Now));

        Assert.Equal(PaymentSessionState.Pending, session.State);
        Assert.Contains(first.Route.BlindedPathIndex!.Value, session.ExcludedBlindedPaths);
        var second = Assert.Single(session.NextParts(null, Now));
        Assert.NotEqual(first.Route.BlindedPathIndex, second.Route.BlindedPathIndex);
    }

    [Fact]
    public void An_introduction_node_missing_from_the_graph_is_reached_over_a_first_hop()
    {
        var hops = new[] { new FirstHop(new ShortChannelId(7), Peer, new MilliSatoshi(100_000_000)) };
        var result = Router.FindRouteToBlindedPaths(new NetworkGraph(), new ProbabilisticScorer(), S, [PathVia(Peer, 1000)], new MilliSatoshi(10_000_000), 0, Now,
            new RouteConstraints(FirstHops: hops));

        var route = Assert.IsType<Route>(result.Route);
        Assert.Equal(0, route.BlindedPathIndex);
        var hop = Assert.Single(route.Hops);
        Assert.Equal((Peer, new ShortChannelId(7), new MilliSatoshi(10_001_000)), (hop.Node, hop.ShortChannelId, hop.Amount));
        Assert.Equal(184, hop.CltvExpiryDelta);
    }

    [Fact]
    public void Random_failures_never_break_the_amount_invariant()
    {
        // Whatever the paths answer, parts in flight and settled never exceed the amount and the session ends.
        Gen.Select(Gen.Bool, Gen.Int[0, 3].Array[8], Gen.ULong[1_000_000, 150_000_000]).Sample((mpp, answers, amount) =>
        {
            var paths = new[] { PathVia(A, 1000, 80_000_000), PathVia(B, 2000, 80_000_000) };
            var session = new PaymentSession(Request(amount, mpp, paths), Graph(), new ProbabilisticScorer(), S);
            var network = Network();
            var i = 0;
            network.RecipientCheck = _ => answers[i++ % answers.Length] switch
            {
                0 => InvalidOnionBlinding(),
                1 => FailureMessage.Simple(FailureCode.TemporaryNodeFailure),
                _ => null,
            };
            var now = Now;
            network.Run(session, Preimage, ref now);
            Assert.True(session.IsComplete);
            Assert.True((session.InFlightAmount + session.SucceededAmount).Value <= amount);
            Assert.Equal(session.State == PaymentSessionState.Succeeded, session.SucceededAmount.Value == amount);
        }, iter: 60);
    }
}
