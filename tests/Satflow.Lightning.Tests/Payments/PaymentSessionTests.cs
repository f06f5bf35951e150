using CsCheck;
using NBitcoin;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Payments;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Routing.RoutingTestGraph;

namespace Satflow.Lightning.Tests.Payments;

public sealed class PaymentSessionTests
{
    private static readonly NodeId S = Id(0), A = Id(1), B = Id(2), T = Id(3), P = Id(9);
    private static readonly PaymentPreimage Preimage = new(new Bytes32(Enumerable.Repeat((byte)7, 32).ToArray()));
    private static readonly PaymentSecret Secret = new(new Bytes32(Enumerable.Repeat((byte)9, 32).ToArray()));

    /// <summary>S → A → T (fee 1000 msat) and S → B → T (fee 2000 msat), each channel <paramref name="capacitySat"/>.</summary>
    private static NetworkGraph Diamond(ulong capacitySat = 1_000_000)
    {
        var g = new NetworkGraph();
        g.Channel(1, S, A, capacitySat, Policy(0, 0, 10));
        g.Channel(2, S, B, capacitySat, Policy(0, 0, 10));
        g.Channel(3, A, T, capacitySat, Policy(1000, 0, 40));
        g.Channel(4, B, T, capacitySat, Policy(2000, 0, 40));
        return g;
    }

    private static FakeNetwork Network(ulong balanceAt = 1_000_000_000, ulong balanceBt = 1_000_000_000, ulong first = 1_000_000_000)
    {
        var n = new FakeNetwork(T);
        n.Balance(1, S, first);
        n.Balance(2, S, first);
        n.Balance(3, A, balanceAt);
        n.Balance(4, B, balanceBt);
        return n;
    }

    private static PaymentParameters Request(ulong amountMsat, bool mpp = false, int maxAttempts = 25, TimeSpan? timeout = null) =>
        new(T, Preimage.Hash, Secret, new MilliSatoshi(amountMsat), 18, Now + (timeout ?? TimeSpan.FromMinutes(1)), MaxAttempts: maxAttempts, PayeeSupportsMpp: mpp);

    [Fact]
    public void RetriesAroundAChannelWithoutLiquidity()
    {
        var graph = Diamond();
        var scorer = new ProbabilisticScorer();
        var session = new PaymentSession(Request(100_000_000), graph, scorer, S);
        var now = Now;
        Network(balanceAt: 0).Run(session, Preimage, ref now);

        Assert.Equal(PaymentSessionState.Succeeded, session.State);
        Assert.Equal(Preimage, session.Preimage);
        Assert.Equal(2, session.Attempts);
        Assert.Equal([PaymentPartStatus.Failed, PaymentPartStatus.Succeeded], session.Parts.OrderBy(p => p.PartId).Select(p => p.Status));
        Assert.Equal(A, session.Parts.First(p => p.Status == PaymentPartStatus.Failed).Route.Hops[0].Node);
        Assert.Equal(new MilliSatoshi(2000), session.FeePaid);
        Assert.Equal(new MilliSatoshi(100_000_000), session.SucceededAmount);
    }

    [Fact]
    public void ASecondPaymentAvoidsTheChannelThatFailed()
    {
        var graph = Diamond();
        var scorer = new ProbabilisticScorer();
        var now = Now;
        Network(balanceAt: 0).Run(new PaymentSession(Request(100_000_000), graph, scorer, S), Preimage, ref now);

        var second = new PaymentSession(Request(100_000_000) with { Deadline = now + TimeSpan.FromMinutes(1) }, graph, scorer, S);
        var network = Network(balanceAt: 0);
        network.Run(second, Preimage, ref now);
        Assert.Equal(PaymentSessionState.Succeeded, second.State);
        Assert.Equal(1, network.PartsSeen);
        Assert.Equal(B, Assert.Single(second.Parts).Route.Hops[0].Node);
    }

    [Fact]
    public void SplitsWhenNoSingleChannelCanCarryTheAmount()
    {
        // 60,000 sat channels, 100,000 sat to pay: only two parts get there.
        var graph = Diamond(60_000);
        var now = Now;
        var session = new PaymentSession(Request(100_000_000, mpp: true), graph, new ProbabilisticScorer(), S);
        Network(60_000_000, 60_000_000, 60_000_000).Run(session, Preimage, ref now);

        Assert.Equal(PaymentSessionState.Succeeded, session.State);
        Assert.True(session.SucceededParts >= 2);
        Assert.Equal(new MilliSatoshi(100_000_000), session.SucceededAmount);
        Assert.Contains(session.Parts, p => p.Route.Hops[0].Node == A);
        Assert.Contains(session.Parts, p => p.Route.Hops[0].Node == B);
    }

    [Fact]
    public void WithoutMppSupportTheSameAmountFailsForLiquidity()
    {
        var now = Now;
        var session = new PaymentSession(Request(100_000_000, mpp: false), Diamond(60_000), new ProbabilisticScorer(), S);
        Network(60_000_000, 60_000_000, 60_000_000).Run(session, Preimage, ref now);

        Assert.Equal(PaymentSessionState.Failed, session.State);
        Assert.Equal(PaymentFailureKind.NoRouteWithEnoughLiquidity, session.Failure!.Kind);
        Assert.StartsWith("No route with enough liquidity", session.Failure.Message, StringComparison.Ordinal);
        Assert.Equal(0, session.Attempts);
    }

    [Fact]
    public void MppRetriesAShardThatFailed()
    {
        // The graph believes both paths hold 60,000 sat but B → T really holds 45,000: the shard through B fails,
        // the scorer learns and the remaining amount is re-split.
        var graph = Diamond(60_000);
        var now = Now;
        var session = new PaymentSession(Request(100_000_000, mpp: true), graph, new ProbabilisticScorer(), S);
        graph.Channel(5, S, P, 60_000, Policy(0, 0, 10));
        graph.Channel(6, P, T, 60_000, Policy(3000, 0, 40));
        var network = Network(60_000_000, 45_000_000, 60_000_000);
        network.Balance(5, S, 60_000_000);
        network.Balance(6, P, 60_000_000);
        network.Run(session, Preimage, ref now);

        Assert.Equal(PaymentSessionState.Succeeded, session.State);
        Assert.Equal(new MilliSatoshi(100_000_000), session.SucceededAmount);
        Assert.Contains(session.Parts, p => p.Status == PaymentPartStatus.Failed);
    }

    [Fact]
    public void UsesTheExactBalanceOfOurOwnChannels()
    {
        // The graph thinks S → A is a large channel, but our channel can send only 1000 msat now.
        var now = Now;
        var session = new PaymentSession(Request(100_000_000), Diamond(), new ProbabilisticScorer(), S);
        var network = Network();
        IReadOnlyList<FirstHop> FirstHops() =>
        [
            new(new ShortChannelId(1), A, new MilliSatoshi(1000)),
            new(new ShortChannelId(2), B, new MilliSatoshi(500_000_000)),
        ];
        network.Run(session, Preimage, ref now, firstHops: FirstHops);
        Assert.Equal(PaymentSessionState.Succeeded, session.State);
        Assert.Equal(1, network.PartsSeen);
        Assert.Equal(B, Assert.Single(session.Parts).Route.Hops[0].Node);
    }

    [Fact]
    public void PaysThroughAnUnannouncedFirstHopAndARouteHint()
    {
        // Only A and B are public; our channel to A is unannounced; T is reached by the hint B → T.
        var graph = new NetworkGraph();
        graph.Channel(7, A, B, 1_000_000, Policy(100, 0, 20));
        var hints = new List<IReadOnlyList<RouteHintHop>> { new[] { new RouteHintHop(B, new ShortChannelId(8), 500, 0, 30) } };
        var session = new PaymentSession(Request(10_000_000) with { RouteHints = hints }, graph, new ProbabilisticScorer(), S);
        var network = new FakeNetwork(T);
        network.Balance(70, S, 50_000_000);
        network.Balance(7, A, 50_000_000);
        network.Balance(8, B, 50_000_000);
        var now = Now;
        network.Run(session, Preimage, ref now, firstHops: () => [new(new ShortChannelId(70), A, new MilliSatoshi(50_000_000))]);

        Assert.Equal(PaymentSessionState.Succeeded, session.State);
        var route = Assert.Single(session.Parts).Route;
        Assert.Equal([70UL, 7UL, 8UL], route.Hops.Select(h => h.ShortChannelId.Value));
        Assert.False(route.Hops[0].FromRouteHint);
        Assert.True(route.Hops[2].FromRouteHint);
        Assert.Equal(new MilliSatoshi(600), session.FeePaid);
    }

    [Fact]
    public void TheDeadlineEndsThePaymentWithTheAttemptCount()
    {
        var now = Now;
        var session = new PaymentSession(Request(100_000_000, timeout: TimeSpan.FromSeconds(1)), Diamond(), new ProbabilisticScorer(), S);
        Network(balanceAt: 0, balanceBt: 0).Run(session, Preimage, ref now);

        Assert.Equal(PaymentSessionState.Failed, session.State);
        Assert.Equal(PaymentFailureKind.DeadlinePassed, session.Failure!.Kind);
        Assert.Contains("after 1 attempt(s)", session.Failure.Message, StringComparison.Ordinal);
        Assert.Contains("temporary_channel_failure", session.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ADeadlineCheckFromATimerFailsAnIdleSession()
    {
        var session = new PaymentSession(Request(1000, timeout: TimeSpan.FromSeconds(5)), Diamond(), new ProbabilisticScorer(), S);
        Assert.False(session.CheckDeadline(Now));
        var part = Assert.Single(session.NextParts(null, Now));
        Assert.False(session.CheckDeadline(Now + TimeSpan.FromSeconds(10))); // a part is in flight: wait for it
        Assert.True(session.PartFailed(part.PartId, new PaymentPartFailure(0, FailureMessage.TemporaryChannelFailure(ReadOnlyMemory<byte>.Empty), "temporary_channel_failure"), Now));
        Assert.True(session.CheckDeadline(Now + TimeSpan.FromSeconds(10)));
        Assert.Equal(PaymentFailureKind.DeadlinePassed, session.Failure!.Kind);
        Assert.True(session.IsComplete);
    }

    [Fact]
    public void WhenEveryPathRunsDryTheFailureSaysLiquidity()
    {
        var now = Now;
        var session = new PaymentSession(Request(100_000_000), Diamond(), new ProbabilisticScorer(), S);
        Network(balanceAt: 0, balanceBt: 0).Run(session, Preimage, ref now);

        Assert.True(session.Failure!.Kind == PaymentFailureKind.NoRouteWithEnoughLiquidity, session.Failure.Kind + ": " + session.Failure.Message);
        Assert.Contains("2 attempt(s) made.", session.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheRecipientRejectingEndsThePayment()
    {
        var now = Now;
        var network = Network();
        network.RecipientCheck = p => FailureMessage.IncorrectOrUnknownPaymentDetails(p.Route.RecipientAmount, 100);
        var session = new PaymentSession(Request(100_000_000), Diamond(), new ProbabilisticScorer(), S);
        network.Run(session, Preimage, ref now);

        Assert.Equal(PaymentFailureKind.RecipientRejected, session.Failure!.Kind);
        Assert.Equal(1, session.Attempts);
        Assert.Contains("rejected", session.Failure.Message, StringComparison.Ordinal);
        Assert.Empty(session.NextParts(null, now));
    }

    [Fact]
    public void ARecipientWithOnlyDisabledChannelsIsOffline()
    {
        var graph = Diamond();
        graph.UpdatePolicy(new ShortChannelId(3), A, Policy(1000, 0, 40, disabled: true));
        graph.UpdatePolicy(new ShortChannelId(4), B, Policy(2000, 0, 40, disabled: true));
        var session = new PaymentSession(Request(1000), graph, new ProbabilisticScorer(), S);
        Assert.Empty(session.NextParts(null, Now));
        Assert.Equal(PaymentFailureKind.RecipientOffline, session.Failure!.Kind);
        Assert.StartsWith("Recipient offline", session.Failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AttemptLimitIsHonoured()
    {
        var now = Now;
        var session = new PaymentSession(Request(100_000_000, maxAttempts: 1), Diamond(), new ProbabilisticScorer(), S);
        Network(balanceAt: 0).Run(session, Preimage, ref now);
        Assert.Equal(PaymentFailureKind.AttemptsExhausted, session.Failure!.Kind);
        Assert.Equal(1, session.Attempts);
    }

    [Fact]
    public void APermanentChannelFailureExcludesTheChannel()
    {
        var session = new PaymentSession(Request(1000), Diamond(), new ProbabilisticScorer(), S);
        var part = Assert.Single(session.NextParts(null, Now));
        Assert.Equal(A, part.Route.Hops[0].Node);
        Assert.True(session.PartFailed(part.PartId, new PaymentPartFailure(0, FailureMessage.Simple(FailureCode.UnknownNextPeer), "unknown_next_peer"), Now));
        Assert.Contains(new ShortChannelId(3), session.ExcludedChannels);
        Assert.Equal(B, Assert.Single(session.NextParts(null, Now)).Route.Hops[0].Node);
        Assert.False(session.PartFailed(part.PartId, PaymentPartFailure.Local("twice"), Now)); // already resolved
    }

    [Fact]
    public void AFeeInsufficientFailureAppliesTheSignedChannelUpdate()
    {
        var keyA = new Key(Enumerable.Repeat((byte)0x11, 32).ToArray());
        var a = NodeId.FromBytes(keyA.PubKey.ToBytes());
        var graph = new NetworkGraph();
        graph.Channel(1, S, a, 1_000_000, Policy(0, 0, 10));
        graph.Channel(3, a, T, 1_000_000, Policy(1000, 0, 40));
        var direction = string.CompareOrdinal(Convert.ToHexString(a.ToArray()), Convert.ToHexString(T.ToArray())) < 0 ? 0 : 1;
        var update = GossipSignatures.Sign(new ChannelUpdate(default, default, new ShortChannelId(3), 2_000_000_000, 1, (byte)direction, 40,
            MilliSatoshi.Zero, 5000, 0, new MilliSatoshi(1_000_000_000), ReadOnlyMemory<byte>.Empty), keyA);

        var session = new PaymentSession(Request(1_000_000), graph, new ProbabilisticScorer(), S);
        var first = Assert.Single(session.NextParts(null, Now));
        Assert.Equal(new MilliSatoshi(1000), first.Route.TotalFees);
        session.PartFailed(first.PartId, new PaymentPartFailure(0, FailureMessage.FeeInsufficient(first.Route.Hops[0].Amount, update.Encode()), "fee_insufficient"), Now);

        var second = Assert.Single(session.NextParts(null, Now));
        Assert.Equal(new MilliSatoshi(5000), second.Route.TotalFees);
        Assert.Empty(session.ExcludedChannels);
    }

    [Fact]
    public void AForgedChannelUpdateIsIgnoredAndTheChannelAvoided()
    {
        var graph = Diamond();
        var forged = GossipSignatures.Sign(new ChannelUpdate(default, default, new ShortChannelId(3), 2_000_000_000, 1, 0, 40,
            MilliSatoshi.Zero, 1, 0, new MilliSatoshi(1_000_000_000), ReadOnlyMemory<byte>.Empty), new Key());
        var session = new PaymentSession(Request(1_000_000), graph, new ProbabilisticScorer(), S);
        var first = Assert.Single(session.NextParts(null, Now));
        session.PartFailed(first.PartId, new PaymentPartFailure(0, FailureMessage.FeeInsufficient(first.Route.Hops[0].Amount, forged.Encode()), "fee_insufficient"), Now);
        Assert.True(graph.TryGetChannel(new ShortChannelId(3), out _));
        Assert.Contains(new ShortChannelId(3), session.ExcludedChannels);
        Assert.Equal(B, Assert.Single(session.NextParts(null, Now)).Route.Hops[0].Node);
    }

    [Fact]
    public void RestoredPartsKeepThePaymentFromSendingTheAmountAgain()
    {
        var original = new PaymentSession(Request(1000), Diamond(), new ProbabilisticScorer(), S);
        var part = Assert.Single(original.NextParts(null, Now));
        var restored = new PaymentSession(original.Parameters, Diamond(), new ProbabilisticScorer(), S, original.Parts);
        Assert.Empty(restored.NextParts(null, Now));
        Assert.True(restored.PartSucceeded(part.PartId, Preimage, Now));
        Assert.Equal(PaymentSessionState.Succeeded, restored.State);
        Assert.Throws<ArgumentException>(() => new PaymentSession(Request(500), Diamond(), new ProbabilisticScorer(), S, original.Parts));
    }

    [Fact]
    public void AWrongPreimageDoesNotSettleAPart()
    {
        var session = new PaymentSession(Request(1000), Diamond(), new ProbabilisticScorer(), S);
        var part = Assert.Single(session.NextParts(null, Now));
        Assert.False(session.PartSucceeded(part.PartId, new PaymentPreimage(new Bytes32(new byte[32])), Now));
        Assert.Equal(PaymentSessionState.Pending, session.State);
    }

    [Fact]
    public void SettledAndInFlightNeverExceedTheAmountAndNothingIsPaidTwice()
    {
        Gen.Select(Gen.Int, Gen.ULong[1, 150_000_000], Gen.Bool, Gen.Int[0, 4]).Sample(c =>
        {
            var (seed, amount, mpp, rejectOneIn) = c;
            var rng = new Random(seed);
            var graph = Diamond(60_000);
            graph.Channel(5, S, P, 60_000, Policy(0, 0, 10));
            graph.Channel(6, P, T, 60_000, Policy(3000, 0, 40));
            var network = new FakeNetwork(T);
            foreach (var (scid, from) in new[] { (1UL, S), (2UL, S), (3UL, A), (4UL, B), (5UL, S), (6UL, P) })
            {
                network.Balance(scid, from, (ulong)rng.NextInt64(0, 60_000_001));
            }

            if (rejectOneIn > 0)
            {
                network.RecipientCheck = _ => rng.Next(rejectOneIn * 3) == 0 ? FailureMessage.Simple(FailureCode.TemporaryNodeFailure) : null;
            }

            var session = new PaymentSession(Request(amount, mpp, maxAttempts: 12, timeout: TimeSpan.FromSeconds(rng.Next(1, 30))), graph, new ProbabilisticScorer(), S);
            var now = Now;
            network.Run(session, Preimage, ref now);

            Assert.True(session.IsComplete);
            Assert.True(session.SucceededAmount.Value <= amount);
            Assert.True(session.Attempts <= 12);
            if (session.State == PaymentSessionState.Succeeded)
            {
                Assert.Equal(amount, session.SucceededAmount.Value);
                Assert.Empty(session.NextParts(null, now));
                var settled = session.Parts.First(p => p.Status == PaymentPartStatus.Succeeded);
                Assert.False(session.PartSucceeded(settled.PartId, Preimage, now));
            }
            else
            {
                Assert.Equal(0UL, session.SucceededAmount.Value);
                Assert.NotNull(session.Failure);
            }
        }, iter: 150);
    }
}
