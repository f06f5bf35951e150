using CsCheck;
using NBitcoin;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Gossip;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Node.Payments;
using Satflow.Node.Persistence;
using Satflow.Payments;

namespace Satflow.Node.Tests;

public sealed class ForwardingTests
{
    private static readonly MilliSatoshi Amount = MilliSatoshi.FromSatoshis(100_000);

    private const int FinalDelta = 18;

    /// <summary>A → B → C: A funds A–B, B funds B–C (1M sat each); A records every part outcome.</summary>
    private sealed class Line : IAsyncDisposable
    {
        private Line(LightningHarness harness) => H = harness;

        public LightningHarness H { get; }

        public HarnessNode A => H[0];

        public HarnessNode B => H[1];

        public HarnessNode C => H[2];

        public ChannelId AB { get; private set; }

        public ChannelId BC { get; private set; }

        public ShortChannelId AbScid { get; private set; }

        public ShortChannelId BcScid { get; private set; }

        public List<PartResult> Results { get; } = [];

        public static async Task<Line> CreateAsync()
        {
            var line = new Line(await LightningHarness.CreateAsync(3));
            line.AB = await line.H.OpenChannelAsync(line.A, line.B, Money.Satoshis(1_000_000));
            line.BC = await line.H.OpenChannelAsync(line.B, line.C, Money.Satoshis(1_000_000));
            line.AbScid = line.A.Node.GetChannel(line.AB)!.ShortChannelId!.Value;
            line.BcScid = line.B.Node.GetChannel(line.BC)!.ShortChannelId!.Value;
            line.Observe();
            return line;
        }

        public void Observe() => A.Node.PartObserver = Results.Add;

        public Route RouteToC(MilliSatoshi amount, MilliSatoshi? fee = null, int? bDelta = null, ShortChannelId? second = null, NodeId? recipient = null)
        {
            var policy = B.Node.GetChannelPolicy(BC);
            var paid = fee ?? policy.FeeFor(amount);
            return new Route(A.NodeId,
            [
                new RouteHop(AbScid, B.NodeId, amount + paid, paid, FinalDelta + (bDelta ?? policy.CltvExpiryDelta)),
                new RouteHop(second ?? BcScid, recipient ?? C.NodeId, amount, MilliSatoshi.Zero, FinalDelta),
            ], amount);
        }

        public async Task<PaymentHash> StartAsync(Route route, InvoiceRecord? invoice = null)
        {
            invoice ??= await C.Node.CreateInvoiceAsync(route.RecipientAmount, "forwarded");
            await A.Node.Payments.BeginAsync(invoice.PaymentHash, route.RecipientAmount, C.NodeId, invoice.Bolt11);
            await A.Node.SendPartAsync(new PartRequest(invoice.PaymentHash, route, invoice.PaymentSecret, route.RecipientAmount, null, 7));
            return invoice.PaymentHash;
        }

        public async Task<(OutgoingPaymentRecord Payment, PartResult Part)> PayAsync(Route route, InvoiceRecord? invoice = null)
        {
            var before = Results.Count;
            var hash = await StartAsync(route, invoice);
            await H.SettleAsync();
            var part = Assert.Single(Results.Skip(before));
            Assert.Equal(7ul, part.PartId);
            return ((await A.Node.LookupPaymentAsync(hash))!, part);
        }

        public async Task AssertNothingInFlightAsync()
        {
            foreach (var node in H.Nodes)
            {
                Assert.Empty(await node.Store.ListAsync(NodeStore.PrimaryNamespace, NodeStore.ReceivedNamespace));
                Assert.Empty(await node.Store.ListAsync(NodeStore.PrimaryNamespace, NodeStore.HtlcsNamespace));
                Assert.All(node.Node.ListChannels(), c => Assert.Equal(0, c.PendingHtlcs));
            }
            Assert.DoesNotContain(await B.Node.ListForwardsAsync(), f => f.Status == ForwardStatus.Pending);
        }

        public ValueTask DisposeAsync() => H.DisposeAsync();
    }

    private static void AssertOurUpdate(Line line, FailureMessage message)
    {
        var bytes = Assert.NotNull(message.ChannelUpdate);
        var update = Assert.IsType<ChannelUpdate>(LightningMessage.Decode(bytes.Span));
        Assert.Equal(line.BcScid, update.ShortChannelId);
        Assert.True(GossipSignatures.Verify(line.B.NodeId.ToPubKey(), GossipSignatures.ChannelUpdateHash(update), update.Signature));
        var policy = line.B.Node.GetChannelPolicy(line.BC);
        Assert.Equal(policy.CltvExpiryDelta, update.CltvExpiryDelta);
        Assert.Equal((uint)policy.BaseFee.Value, update.FeeBaseMsat);
        Assert.Equal(policy.FeeProportionalMillionths, update.FeeProportionalMillionths);
        Assert.Equal(line.B.NodeId.Span.SequenceCompareTo(line.C.NodeId.Span) < 0 ? 0 : 1, update.Direction);
    }

    [Fact]
    public async Task B_forwards_A_to_C_and_earns_exactly_its_policy_fee()
    {
        await using var line = await Line.CreateAsync();
        var fee = line.B.Node.GetChannelPolicy(line.BC).FeeFor(Amount);
        Assert.Equal(new MilliSatoshi(1_000 + 100), fee);
        var (payment, part) = await line.PayAsync(line.RouteToC(Amount));

        Assert.Equal(OutgoingPaymentState.Succeeded, payment.State);
        Assert.Equal(fee, payment.Fee);
        Assert.Null(part.Failure);
        Assert.Equal(payment.PaymentHash, part.Preimage!.Value.Hash);
        var forward = Assert.Single(await line.B.Node.ListForwardsAsync());
        Assert.Equal(ForwardStatus.Settled, forward.Status);
        Assert.Equal(fee, forward.FeeEarned);
        Assert.Equal(Amount + fee, forward.IncomingAmount);
        Assert.Equal(Amount, forward.OutgoingAmount);
        Assert.Equal(line.AbScid, forward.IncomingShortChannelId);
        Assert.Equal(line.BcScid, forward.OutgoingShortChannelId);
        Assert.Equal(forward.IncomingCltvExpiry, forward.OutgoingCltvExpiry + 80);
        Assert.NotNull(forward.ResolvedAt);
        // B's balances moved by exactly the fee: it received amount + fee on A–B and sent amount on B–C.
        Assert.Equal(Amount + fee, line.B.Node.GetChannel(line.AB)!.LocalBalance);
        Assert.Equal(MilliSatoshi.FromSatoshis(1_000_000) - Amount, line.B.Node.GetChannel(line.BC)!.LocalBalance);
        Assert.Equal(Amount, line.C.Node.GetChannel(line.BC)!.LocalBalance);
        var invoice = Assert.Single(await line.C.Node.Invoices.ListAsync());
        Assert.Equal(InvoiceState.Settled, invoice.State);
        await line.AssertNothingInFlightAsync();
    }

    [Fact]
    public async Task Policy_violations_return_the_right_code_from_the_right_hop_with_our_channel_update()
    {
        await using var line = await Line.CreateAsync();
        var fee = line.B.Node.GetChannelPolicy(line.BC).FeeFor(Amount);

        var (payment, part) = await line.PayAsync(line.RouteToC(Amount, fee: fee - new MilliSatoshi(1)));
        Assert.Equal(OutgoingPaymentState.Failed, payment.State);
        Assert.Equal(PaymentFailureReason.RouteFailed, payment.FailureReason);
        Assert.Equal(0, part.Failure!.FailingHopIndex);
        Assert.Equal(FailureCode.FeeInsufficient, part.Failure.Message!.Code);
        Assert.False(part.Failure.IsPermanent);
        Assert.Equal(Amount + fee - new MilliSatoshi(1), part.Failure.Message.HtlcAmount);
        AssertOurUpdate(line, part.Failure.Message);

        (_, part) = await line.PayAsync(line.RouteToC(Amount, bDelta: 79));
        Assert.Equal(0, part.Failure!.FailingHopIndex);
        Assert.Equal(FailureCode.IncorrectCltvExpiry, part.Failure.Message!.Code);
        AssertOurUpdate(line, part.Failure.Message);

        (_, part) = await line.PayAsync(line.RouteToC(Amount, second: new ShortChannelId(999, 9, 9)));
        Assert.Equal(0, part.Failure!.FailingHopIndex);
        Assert.Equal(FailureCode.UnknownNextPeer, part.Failure.Message!.Code);
        Assert.True(part.Failure.IsPermanent);

        await line.B.Node.SetChannelPolicyAsync(line.BC, ForwardingPolicy.Default with { HtlcMinimum = Amount + new MilliSatoshi(1) });
        Assert.Equal(Amount + new MilliSatoshi(1), line.B.Node.GetChannelPolicy(line.BC).HtlcMinimum);
        (_, part) = await line.PayAsync(line.RouteToC(Amount));
        Assert.Equal(0, part.Failure!.FailingHopIndex);
        Assert.Equal(FailureCode.AmountBelowMinimum, part.Failure.Message!.Code);
        AssertOurUpdate(line, part.Failure.Message);
        await line.B.Node.SetChannelPolicyAsync(line.BC, ForwardingPolicy.Default);

        await line.H.DisconnectAsync(line.B, line.C);
        (_, part) = await line.PayAsync(line.RouteToC(Amount));
        Assert.Equal(0, part.Failure!.FailingHopIndex);
        Assert.Equal(FailureCode.TemporaryChannelFailure, part.Failure.Message!.Code);
        var update = Assert.IsType<ChannelUpdate>(LightningMessage.Decode(part.Failure.Message.ChannelUpdate!.Value.Span));
        Assert.True(update.IsDisabled);

        var forwards = await line.B.Node.ListForwardsAsync();
        Assert.Equal(5, forwards.Count);
        Assert.All(forwards, f => Assert.Equal(ForwardStatus.Failed, f.Status));
        Assert.Contains(forwards, f => f.FailureReason!.StartsWith("fee_insufficient", StringComparison.Ordinal));
        Assert.Contains(forwards, f => f.FailureReason!.StartsWith("unknown_next_peer", StringComparison.Ordinal));
        Assert.All(forwards, f => Assert.Equal(MilliSatoshi.Zero, f.FeeEarned));
        await line.AssertNothingInFlightAsync();
    }

    [Fact]
    public async Task A_downstream_failure_comes_back_wrapped_and_attributed_to_the_recipient()
    {
        await using var line = await Line.CreateAsync();
        var invoice = await line.C.Node.CreateInvoiceAsync(Amount, "real");
        // A wrong payment secret: C refuses; its failure travels back through B's layer.
        var wrong = invoice with { PaymentSecret = new PaymentSecret(new Bytes32(Enumerable.Repeat((byte)9, 32).ToArray())) };
        await line.StartAsync(line.RouteToC(Amount), wrong);
        await StepUntilAsync(line, async () => (await line.B.Node.ListForwardsAsync()).Count == 1, "B never forwarded");
        // Written with the add, before it left A.
        var key = Assert.Single(await line.A.Store.ListAsync(NodeStore.PrimaryNamespace, NodeStore.HtlcsNamespace));
        var stored = Assert.NotNull(await line.A.Store.ReadAsync(NodeStore.PrimaryNamespace, NodeStore.HtlcsNamespace, key));
        var offered = OfferedHtlcRecord.Decode(stored.Span);
        Assert.Equal(2, offered.HopSharedSecrets.Count);
        line.H.Time.Advance(TimeSpan.FromSeconds(1));
        await line.H.SettleAsync();
        var part = Assert.Single(line.Results);
        var payment = (await line.A.Node.LookupPaymentAsync(invoice.PaymentHash))!;

        // What B sent A: C's failure under B's layer, with attribution data both hops signed (B held it a second).
        var fail = (UpdateFailHtlc)line.H.Network.Delivered.Last(d => d.From == line.B.NodeId && d.Message is UpdateFailHtlc).Message;
        var decrypted = FailurePacket.Decrypt(fail.Reason.Span, fail.AttributionData!.Encode(), offered.HopSharedSecrets);
        Assert.Equal(1, decrypted.FailingHopIndex);
        Assert.Null(decrypted.AttributionFailedAtHop);
        Assert.Equal(2, decrypted.HoldTimes.Count);
        Assert.Equal([10u, 0u], decrypted.HoldTimes);

        Assert.Equal(OutgoingPaymentState.Failed, payment.State);
        Assert.Equal(PaymentFailureReason.RecipientRejected, payment.FailureReason);
        Assert.Equal(1, part.Failure!.FailingHopIndex);
        Assert.Equal(FailureCode.IncorrectOrUnknownPaymentDetails, part.Failure.Message!.Code);
        Assert.True(part.Failure.IsPermanent);
        Assert.Contains("incorrect_or_unknown_payment_details", payment.FailureMessage, StringComparison.Ordinal);
        var forward = Assert.Single(await line.B.Node.ListForwardsAsync());
        Assert.Equal(ForwardStatus.Failed, forward.Status);
        Assert.Equal("failed downstream", forward.FailureReason);

        // The same hash then succeeds with the right secret (the failed payment may be retried).
        var (retried, _) = await line.PayAsync(line.RouteToC(Amount), invoice);
        Assert.Equal(OutgoingPaymentState.Succeeded, retried.State);
        var forwards = await line.B.Node.ListForwardsAsync();
        Assert.Equal([ForwardStatus.Failed, ForwardStatus.Settled], forwards.Select(f => f.Status));
        Assert.Single(await line.B.Node.ListForwardsAsync(status: ForwardStatus.Settled));
        Assert.Single(await line.B.Node.ListForwardsAsync(limit: 1));
        await line.AssertNothingInFlightAsync();
    }

    [Fact]
    public async Task A_malformed_failure_downstream_returns_as_invalid_onion_from_the_forwarding_hop()
    {
        await using var line = await Line.CreateAsync();
        // The second layer is built for a key C does not hold: C cannot peel it and answers update_fail_malformed_htlc.
        var stranger = new NodeId(new Key().PubKey);
        var (payment, part) = await line.PayAsync(line.RouteToC(Amount, recipient: stranger));
        Assert.Equal(OutgoingPaymentState.Failed, payment.State);
        Assert.Equal(0, part.Failure!.FailingHopIndex);
        Assert.Equal(FailureCode.InvalidOnionHmac, part.Failure.Message!.Code);
        Assert.NotNull(part.Failure.Message.Sha256OfOnion);
        Assert.True(part.Failure.IsPermanent);
        Assert.Contains(line.H.Network.Delivered, d => d.From == line.C.NodeId && d.Message is UpdateFailMalformedHtlc);
        Assert.Contains(line.H.Network.Delivered, d => d.From == line.B.NodeId && d.Message is UpdateFailHtlc { AttributionData: not null });
        await line.AssertNothingInFlightAsync();
    }

    [Fact]
    public async Task A_crash_of_B_between_the_outgoing_fulfill_and_the_incoming_fulfill_still_settles_the_incoming()
    {
        await using var line = await Line.CreateAsync();
        var fee = line.B.Node.GetChannelPolicy(line.BC).FeeFor(Amount);
        var hash = await line.StartAsync(line.RouteToC(Amount));
        // Deliver message by message until B has learned the preimage from C (and written it).
        for (var steps = 0; ; steps++)
        {
            Assert.True(steps < 1_000, "B never learned the preimage");
            if ((await line.B.Node.ListForwardsAsync()).Any(f => f.Status == ForwardStatus.Settled))
            {
                break;
            }
            if (!await line.H.Network.DeliverOneAsync())
            {
                var signed = 0;
                foreach (var node in line.H.Nodes)
                {
                    signed += await node.Node.FlushAsync();
                }
                Assert.True(signed > 0 || line.H.Network.PendingCount > 0, "the network went quiet before B learned the preimage");
            }
        }
        Assert.Equal(OutgoingPaymentState.Pending, (await line.A.Node.LookupPaymentAsync(hash))!.State);
        Assert.NotEmpty(await line.B.Store.ListAsync(NodeStore.PrimaryNamespace, NodeStore.ReceivedNamespace));

        await line.H.CrashAsync(line.B);
        await line.H.RestartAsync(line.B);
        await line.H.ConnectAsync(line.B, line.A);
        await line.H.ConnectAsync(line.B, line.C);
        await line.H.SettleAsync();

        var payment = (await line.A.Node.LookupPaymentAsync(hash))!;
        Assert.Equal(OutgoingPaymentState.Succeeded, payment.State);
        Assert.Equal(fee, payment.Fee);
        var forward = Assert.Single(await line.B.Node.ListForwardsAsync());
        Assert.Equal(fee, forward.FeeEarned);
        Assert.Equal(Amount + fee, line.B.Node.GetChannel(line.AB)!.LocalBalance);
        await line.AssertNothingInFlightAsync();
    }

    /// <summary>Delivers message by message (flushing when quiet) until <paramref name="done"/> holds.</summary>
    private static async Task StepUntilAsync(Line line, Func<Task<bool>> done, string what)
    {
        for (var steps = 0; !await done(); steps++)
        {
            Assert.True(steps < 1_000, what);
            if (!await line.H.Network.DeliverOneAsync())
            {
                var signed = 0;
                foreach (var node in line.H.Nodes.Where(n => n.IsRunning))
                {
                    signed += await node.Node.FlushAsync();
                }
                Assert.True(signed > 0 || line.H.Network.PendingCount > 0, "the network went quiet: " + what);
            }
        }
    }

    [Fact]
    public async Task When_the_outgoing_channel_closes_on_chain_the_incoming_is_failed_on_timeout()
    {
        await using var line = await Line.CreateAsync();
        var hash = await line.StartAsync(line.RouteToC(Amount));
        // Run until B's outgoing HTLC is irrevocably committed on B–C, then C dies before it can fulfill.
        await StepUntilAsync(line, () => Task.FromResult(line.B.Node.GetHtlcs(line.BC).Any(x => x.State == Satflow.Lightning.Channels.ChannelHtlcState.Committed)), "the outgoing HTLC never committed");
        await line.H.CrashAsync(line.C);
        Assert.Equal(ForwardStatus.Pending, Assert.Single(await line.B.Node.ListForwardsAsync()).Status);

        await line.B.Node.CloseChannelAsync(line.BC, force: true);
        // The outgoing HTLC expires 24 blocks above the height it was sent at; B times it out on chain.
        for (var i = 0; i < 60 && (await line.B.Node.ListForwardsAsync())[0].Status == ForwardStatus.Pending; i++)
        {
            await line.H.MineBlocksAsync(1);
        }
        var forward = Assert.Single(await line.B.Node.ListForwardsAsync());
        Assert.Equal(ForwardStatus.Failed, forward.Status);
        Assert.Contains(line.B.Node.MonitorEvents, e => e.Event is Satflow.Lightning.Monitor.HtlcResolvedOnChain { OfferedByUs: true, TimedOut: true });
        var payment = (await line.A.Node.LookupPaymentAsync(hash))!;
        Assert.Equal(OutgoingPaymentState.Failed, payment.State);
        var part = Assert.Single(line.Results);
        Assert.Equal(0, part.Failure!.FailingHopIndex);
        Assert.Equal(FailureCode.PermanentChannelFailure, part.Failure.Message!.Code);
        Assert.Equal(0, line.A.Node.GetChannel(line.AB)!.PendingHtlcs);
        Assert.Equal(Satflow.Lightning.Channels.ChannelState.Normal, line.A.Node.GetChannel(line.AB)!.State);
    }

    [Fact]
    public async Task A_dust_forward_over_a_force_closed_channel_is_failed_back_once_the_channel_resolves()
    {
        await using var line = await Line.CreateAsync();
        var dust = MilliSatoshi.FromSatoshis(400);
        var hash = await line.StartAsync(line.RouteToC(dust));
        await StepUntilAsync(line, () => Task.FromResult(line.B.Node.GetHtlcs(line.BC).Any(x => x.State == Satflow.Lightning.Channels.ChannelHtlcState.Committed)), "the outgoing HTLC never committed");
        await line.H.CrashAsync(line.C);
        await line.B.Node.CloseChannelAsync(line.BC, force: true);
        // No output carries a trimmed HTLC: nothing is claimed on chain; at the latest when the channel is fully
        // resolved the forward fails back.
        for (var i = 0; i < 250 && (await line.B.Node.ListForwardsAsync())[0].Status == ForwardStatus.Pending; i++)
        {
            await line.H.MineBlocksAsync(1);
        }
        Assert.Equal(ForwardStatus.Failed, Assert.Single(await line.B.Node.ListForwardsAsync()).Status);
        Assert.Equal(OutgoingPaymentState.Failed, (await line.A.Node.LookupPaymentAsync(hash))!.State);
        Assert.Equal(FailureCode.PermanentChannelFailure, Assert.Single(line.Results).Failure!.Message!.Code);
        Assert.Equal(0, line.A.Node.GetChannel(line.AB)!.PendingHtlcs);
    }

    [Fact]
    public async Task When_the_next_node_claims_on_chain_with_the_preimage_the_incoming_is_fulfilled()
    {
        await using var line = await Line.CreateAsync();
        var hash = await line.StartAsync(line.RouteToC(Amount));
        // Run until C has released the preimage, then lose everything C says to B and cut the link.
        await StepUntilAsync(line, async () => (await line.C.Node.Invoices.LookupAsync(hash))!.State == InvoiceState.Settled, "C never settled");
        line.H.Network.Drop(line.C.NodeId, line.B.NodeId);
        await line.H.DisconnectAsync(line.B, line.C);
        Assert.Equal(ForwardStatus.Pending, Assert.Single(await line.B.Node.ListForwardsAsync()).Status);

        await line.B.Node.CloseChannelAsync(line.BC, force: true);
        for (var i = 0; i < 30 && (await line.B.Node.ListForwardsAsync())[0].Status == ForwardStatus.Pending; i++)
        {
            await line.H.MineBlocksAsync(1);
        }
        var forward = Assert.Single(await line.B.Node.ListForwardsAsync());
        Assert.Equal(ForwardStatus.Settled, forward.Status);
        Assert.Contains(line.B.Node.MonitorEvents, e => e.Event is Satflow.Lightning.Monitor.HtlcResolvedOnChain { OfferedByUs: true, Preimage: not null });
        var payment = (await line.A.Node.LookupPaymentAsync(hash))!;
        Assert.Equal(OutgoingPaymentState.Succeeded, payment.State);
        Assert.Equal(hash, payment.Preimage!.Value.Hash);
        Assert.Equal(0, line.A.Node.GetChannel(line.AB)!.PendingHtlcs);
    }

    [Fact]
    public async Task When_the_payer_side_is_gone_after_downstream_paid_B_claims_the_incoming_htlc_on_chain()
    {
        await using var line = await Line.CreateAsync();
        var hash = await line.StartAsync(line.RouteToC(Amount));
        // B's outgoing HTLC is committed; then A dies for good. C settles with B, so B has paid downstream and must get
        // the incoming amount from A's channel: with A gone, only on chain, with the preimage, before the HTLC expires.
        await StepUntilAsync(line, () => Task.FromResult(line.B.Node.GetHtlcs(line.BC).Any(x => x.State == Satflow.Lightning.Channels.ChannelHtlcState.Committed)), "the outgoing HTLC never committed");
        await line.H.CrashAsync(line.A);
        await line.H.SettleAsync();
        Assert.Equal(ForwardStatus.Settled, Assert.Single(await line.B.Node.ListForwardsAsync()).Status);
        Assert.Equal(InvoiceState.Settled, (await line.C.Node.Invoices.LookupAsync(hash))!.State);

        var expiry = line.B.Node.GetHtlcs(line.AB).Single().CltvExpiry;
        for (var i = 0; i < 400 && !line.B.Node.MonitorEvents.Any(e => e.ChannelId == line.AB && e.Event is Satflow.Lightning.Monitor.HtlcResolvedOnChain { OfferedByUs: false }); i++)
        {
            await line.H.MineBlocksAsync(1);
        }
        var events = line.B.Node.MonitorEvents.Where(e => e.ChannelId == line.AB).Select(e => e.Event).ToList();
        Assert.Contains(events, e => e is Satflow.Lightning.Monitor.MonitorForceClosed);
        var claimed = Assert.Single(events.OfType<Satflow.Lightning.Monitor.HtlcResolvedOnChain>(), e => !e.OfferedByUs);
        Assert.False(claimed.TimedOut);
        Assert.True(line.H.Chain.Height < expiry + 10, $"claimed at {line.H.Chain.Height}, HTLC expiry {expiry}");
    }

    [Fact]
    public async Task Per_channel_policies_persist_and_are_checked()
    {
        await using var line = await Line.CreateAsync();
        Assert.Equal(ForwardingPolicy.Default, line.B.Node.GetChannelPolicy(line.BC));
        var policy = new ForwardingPolicy(new MilliSatoshi(5_000), 1_000, 40, new MilliSatoshi(10), MilliSatoshi.FromSatoshis(500_000));
        await line.B.Node.SetChannelPolicyAsync(line.BC, policy);
        var missing = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => line.B.Node.SetChannelPolicyAsync(new ChannelId(Bytes32.Zero), policy));
        Assert.Equal(NodeErrorReason.NotFound, missing.Reason);
        var inverted = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => line.B.Node.SetChannelPolicyAsync(line.BC, policy with { HtlcMaximum = new MilliSatoshi(1) }));
        Assert.Equal(NodeErrorReason.InvalidArgument, inverted.Reason);

        await line.H.CrashAsync(line.B);
        await line.H.RestartAsync(line.B);
        await line.H.ConnectAsync(line.B, line.A);
        await line.H.ConnectAsync(line.B, line.C);
        Assert.Equal(policy, line.B.Node.GetChannelPolicy(line.BC));

        // 5000 + 100000000 * 1000 / 1e6 = 105000 msat, 40 blocks.
        var (payment, _) = await line.PayAsync(line.RouteToC(Amount));
        Assert.Equal(OutgoingPaymentState.Succeeded, payment.State);
        Assert.Equal(new MilliSatoshi(105_000), payment.Fee);
        var (tooBig, part) = await line.PayAsync(line.RouteToC(MilliSatoshi.FromSatoshis(500_001)));
        Assert.Equal(OutgoingPaymentState.Failed, tooBig.State);
        Assert.Equal(FailureCode.TemporaryChannelFailure, part.Failure!.Message!.Code);
        await line.AssertNothingInFlightAsync();
    }

    [Fact]
    public async Task Random_onions_never_crash_the_forwarding_node_and_always_fail_back()
    {
        await using var line = await Line.CreateAsync();
        var height = (uint)line.A.Node.BlockHeight;
        var session = ECPrivKey.Create(Enumerable.Repeat((byte)0x42, 32).ToArray());
        var hash = new PaymentHash(new Bytes32(Enumerable.Repeat((byte)0x11, 32).ToArray()));
        var validPayload = new PaymentOnionPayload { AmountToForward = new MilliSatoshi(5_000), OutgoingCltvValue = height + 40, ShortChannelId = line.BcScid }.Encode();
        var valid = OnionPacket.Create(session, [new OnionHop(line.B.NodeId.ToECPubKey(), validPayload), new OnionHop(line.C.NodeId.ToECPubKey(), new byte[] { 2, 1, 0 })], hash.Value.ToArray()).Packet.ToBytes();
        var offered = 0;
        var gen = Gen.Select(Gen.Int[0, 2], Gen.Byte.Array[UpdateAddHtlc.OnionPacketLength], Gen.Int[0, UpdateAddHtlc.OnionPacketLength - 1], Gen.Byte[1, 255])
            .Select(Gen.Byte.Array[0, 120]);
        await gen.SampleAsync(async (t, payload) =>
        {
            var (mode, random, position, flip) = t;
            byte[] onion = mode switch
            {
                0 => random,
                1 => MutateAt(valid, position, flip),
                _ => OnionPacket.Create(session, [new OnionHop(line.B.NodeId.ToECPubKey(), payload)], hash.Value.ToArray()).Packet.ToBytes(),
            };
            await line.A.Node.OfferRawHtlcAsync(line.AB, new MilliSatoshi(6_000), hash, height + 200, onion);
            offered++;
            await line.H.SettleAsync();
        }, iter: 30, threads: 1);

        var answers = line.H.Network.Delivered.Where(d => d.From == line.B.NodeId && d.To == line.A.NodeId)
            .Count(d => d.Message is UpdateFailHtlc or UpdateFailMalformedHtlc);
        Assert.Equal(offered, answers);
        Assert.DoesNotContain(line.H.Network.Delivered, d => d.Message is UpdateFulfillHtlc);
        Assert.Equal(Satflow.Lightning.Channels.ChannelState.Normal, line.B.Node.GetChannel(line.AB)!.State);
        await line.AssertNothingInFlightAsync();
    }

    private static byte[] MutateAt(byte[] onion, int position, byte flip)
    {
        var copy = onion.ToArray();
        copy[position] ^= flip;
        return copy;
    }
}

public sealed class ForwardRecordTests
{
    private static ForwardRecord Sample(bool resolved)
    {
        var record = new ForwardRecord(new ChannelId(new Bytes32(Enumerable.Repeat((byte)1, 32).ToArray())), 5, new ShortChannelId(101, 2, 0),
            new MilliSatoshi(101_100), 900, new PaymentHash(new Bytes32(Enumerable.Repeat((byte)2, 32).ToArray())),
            new Bytes32(Enumerable.Repeat((byte)3, 32).ToArray()), new DateTimeOffset(2026, 11, 26, 6, 0, 0, 123, TimeSpan.Zero))
        {
            OutgoingChannelId = new ChannelId(new Bytes32(Enumerable.Repeat((byte)4, 32).ToArray())),
            OutgoingHtlcId = 9,
            OutgoingShortChannelId = new ShortChannelId(102, 1, 1),
            OutgoingAmount = new MilliSatoshi(100_000),
            OutgoingCltvExpiry = 820,
        };
        return resolved
            ? record with
            {
                Status = ForwardStatus.Failed,
                ResolvedAt = record.ReceivedAt.AddSeconds(3),
                FailureReason = "failed downstream ✗",
                FailurePacket = new byte[] { 1, 2, 3 },
                AttributionData = new byte[920],
            }
            : record;
    }

    [Fact]
    public void Forward_records_round_trip()
    {
        foreach (var record in new[] { Sample(false), Sample(true), Sample(false) with { Status = ForwardStatus.Settled, Preimage = new PaymentPreimage(Bytes32.Zero) } })
        {
            var decoded = ForwardRecord.Decode(record.Encode());
            Assert.Equal(record.Encode(), decoded.Encode());
            Assert.Equal(record.Status, decoded.Status);
            Assert.Equal(record.ReceivedAt, decoded.ReceivedAt);
            Assert.Equal(record.FailureReason, decoded.FailureReason);
            Assert.Equal(record.OutgoingHtlcId, decoded.OutgoingHtlcId);
            Assert.Equal(record.Preimage, decoded.Preimage);
        }
        Assert.Equal(MilliSatoshi.Zero, Sample(true).FeeEarned);
        Assert.Equal(new MilliSatoshi(1_100), (Sample(false) with { Status = ForwardStatus.Settled }).FeeEarned);
    }

    [Fact]
    public void Damaged_forward_and_policy_records_are_typed_errors()
    {
        var valid = Sample(true).Encode();
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte[1, 255], Gen.Int[0, valid.Length]).Sample((position, flip, cut) =>
        {
            var bytes = valid.ToArray();
            bytes[position] ^= flip;
            foreach (var candidate in new[] { bytes, valid[..cut] })
            {
                try
                {
                    ForwardRecord.Decode(candidate);
                }
                catch (NodeStateCorruptException)
                {
                }
            }
        }, iter: 500);
        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            try
            {
                ForwardRecord.Decode(bytes);
            }
            catch (NodeStateCorruptException)
            {
            }
            try
            {
                PolicyRecord.Decode(bytes);
            }
            catch (NodeStateCorruptException)
            {
            }
        }, iter: 500);
        var policy = new ForwardingPolicy(new MilliSatoshi(7), 8, 9, new MilliSatoshi(10), new MilliSatoshi(11));
        var write = PolicyRecord.Write(new ChannelId(Bytes32.Zero), policy);
        Assert.Equal(policy, PolicyRecord.Decode(write.Value.Span));
    }
}
