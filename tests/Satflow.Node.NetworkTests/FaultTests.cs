using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.NetworkTests;

/// <summary>Faults along a line of five nodes (0 → 1 → 2 → 3 → 4): the payer recovers or fails cleanly, nothing is stuck.</summary>
public sealed class FaultTests
{
    private const int Count = 5;

    [Fact]
    public async Task A_hop_that_goes_offline_mid_payment_leaves_no_htlc_stuck_past_its_timeout()
    {
        await using var t = await Topologies.CreateLineAsync(Count, Money.Satoshis(1_000_000), TestPolicies.Harness);
        var h = t.Harness;
        var payerBefore = t.LocalBalance(0, 1);
        var invoice = await t[Count - 1].Node.CreateInvoiceAsync(new MilliSatoshi(40_000_000), "offline hop");
        var pending = await t[0].Node.PayInvoiceAsync(invoice.Bolt11);
        var channel12 = t.Between(1, 2).ChannelId;

        // Node 2 signs for the HTLC node 1 offered it; node 1 now holds it in its own commitment. Node 2 crashes
        // before it hears node 1's revoke_and_ack, so it never forwards: node 1 is left with an HTLC on a dead link.
        await t.StepUntilAsync(d => d.From == t[2].NodeId && d.To == t[1].NodeId && d.Message is CommitmentSigned c && c.ChannelId == channel12);
        await h.CrashAsync(t[2]);
        Assert.Single(t[1].Node.GetHtlcs(channel12));
        Assert.Equal(OutgoingPaymentState.Pending, (await t[0].Node.LookupPaymentAsync(pending.PaymentHash))!.State);
        var expiry = t[1].Node.GetHtlcs(channel12)[0].CltvExpiry;

        // Blocks pass the HTLC's expiry: node 1 force closes its channel with node 2, times the HTLC out on chain and
        // fails the payment back; the payer's payment fails with a reason.
        for (var i = 0; i < 400 && (await t[0].Node.LookupPaymentAsync(pending.PaymentHash))!.State == OutgoingPaymentState.Pending; i++)
        {
            await h.MineBlocksAsync(1);
        }
        await h.MineUntilMempoolEmptyAsync();
        var final = (await t[0].Node.LookupPaymentAsync(pending.PaymentHash))!;

        Assert.Equal(OutgoingPaymentState.Failed, final.State);
        Assert.False(string.IsNullOrWhiteSpace(final.FailureMessage));
        Assert.True(h.Chain.Height > expiry, $"resolved at {h.Chain.Height}, HTLC expiry {expiry}");
        // The payer's channel survived (cooperative, no HTLC left) and it got every millisatoshi back.
        Assert.Equal(ChannelState.Normal, t[0].Node.GetChannel(t.Between(0, 1).ChannelId)!.State);
        Assert.Equal(payerBefore, t.LocalBalance(0, 1));
        // Node 1 went on chain against the dead hop: its monitor force closed at the HTLC deadline, the commitment
        // confirmed and the HTLC was timed out on chain; the channel left Normal when the monitor closed it (it is
        // ForceClosed, or already forgotten once fully resolved on chain).
        Assert.True(t[1].Node.GetChannel(channel12) is null or { State: ChannelState.ForceClosed }, $"channel state {t[1].Node.GetChannel(channel12)?.State}");
        var events = t[1].Node.MonitorEvents.Where(e => e.ChannelId == channel12).Select(e => e.Event).ToList();
        Assert.Contains(events, e => e is Lightning.Monitor.MonitorForceClosed);
        Assert.Contains(events, e => e is Lightning.Monitor.HtlcResolvedOnChain { OfferedByUs: true, TimedOut: true });
        var commitment = t[1].Node.GetClosingTransactionId(channel12);
        Assert.NotNull(commitment);
        Assert.True(h.Chain.IsConfirmed(commitment), $"node1's commitment {commitment} is confirmed");
        // Nothing else holds an HTLC: every other channel of every live node is clear.
        Assert.Equal(0, t.Channels.Where(c => c.ChannelId != channel12)
            .Sum(c => (t[c.Funder].IsRunning ? t[c.Funder].Node.GetChannel(c.ChannelId)?.PendingHtlcs ?? 0 : 0) + (t[c.Fundee].IsRunning ? t[c.Fundee].Node.GetChannel(c.ChannelId)?.PendingHtlcs ?? 0 : 0)));
        Assert.Empty(h.Chain.Rejected);
    }

    [Fact]
    public async Task A_hop_that_advertises_lower_fees_than_it_charges_makes_the_payer_learn_its_real_fee()
    {
        await using var t = await Topologies.CreateLineAsync(Count, Money.Satoshis(1_000_000), TestPolicies.Harness);
        // Everyone's graph says node 2 forwards for free; node 2 charges its real policy.
        t.FillGraphs((end, _, policy) => end == 2 ? policy with { FeeBaseMsat = 0, FeeProportionalMillionths = 0 } : policy);
        var node2Before = (In: t.LocalBalance(2, 1), Out: t.LocalBalance(2, 3));
        var amount = new MilliSatoshi(100_000_000);

        var record = await t.Harness.PayAsync(t[0], t[Count - 1], amount);

        // The first attempt underpays node 2 (fee_insufficient with its channel_update): the payer applies the update
        // and retries with the real fee.
        Assert.True(record.State == OutgoingPaymentState.Succeeded, $"{record.State}: {record.FailureReason} {record.FailureMessage}");
        Assert.True(record.HtlcAttempts >= 2, $"{record.HtlcAttempts} HTLC attempt(s)");
        var sent = TestPolicies.SentAlong(Count - 2, amount, TestPolicies.Forwarding);
        var earned = (t.LocalBalance(2, 1) - node2Before.In) - (node2Before.Out - t.LocalBalance(2, 3));
        Assert.Equal(TestPolicies.Forwarding.FeeFor(sent[2]), earned);
        Assert.Equal(0, t.PendingHtlcCount());
    }

    [Fact]
    public async Task A_payment_larger_than_a_hop_can_carry_fails_with_a_clear_reason_and_moves_nothing()
    {
        await using var t = await Topologies.CreateLineAsync(Count, Money.Satoshis(1_000_000), TestPolicies.Harness);
        // Drain node 2's side of its channel to node 3 (the graph still shows the full capacity).
        var drain = await t.Harness.PayAsync(t[2], t[3], new MilliSatoshi(900_000_000));
        Assert.Equal(OutgoingPaymentState.Succeeded, drain.State);
        var before = Enumerable.Range(0, Count - 1).Select(i => t.LocalBalance(i, i + 1)).ToArray();

        var record = await t.Harness.PayAsync(t[0], t[Count - 1], new MilliSatoshi(200_000_000));

        Assert.Equal(OutgoingPaymentState.Failed, record.State);
        Assert.NotNull(record.FailureReason);
        Assert.False(string.IsNullOrWhiteSpace(record.FailureMessage));
        Assert.Equal(before, Enumerable.Range(0, Count - 1).Select(i => t.LocalBalance(i, i + 1)).ToArray());
        Assert.Equal(0, t.PendingHtlcCount());
        Assert.All(t.Channels, c => Assert.Equal(ChannelState.Normal, t[c.Funder].Node.GetChannel(c.ChannelId)!.State));
    }

    [Fact]
    public async Task A_payment_no_route_can_carry_is_refused_or_failed_with_a_reason()
    {
        await using var t = await Topologies.CreateLineAsync(Count, Money.Satoshis(1_000_000), TestPolicies.Harness);
        // All the liquidity sits on the funders' side: nothing can flow from the end of the line back to its start.
        OutgoingPaymentRecord? record = null;
        string reason;
        try
        {
            record = await t.Harness.PayAsync(t[Count - 1], t[0], new MilliSatoshi(50_000_000));
            reason = record.FailureMessage ?? "";
        }
        catch (NodeOperationRefusedException e)
        {
            reason = e.Message;
        }
        Assert.True(record is null || record.State == OutgoingPaymentState.Failed, $"{record?.State}");
        Assert.False(string.IsNullOrWhiteSpace(reason));
        Assert.Equal(0, t.PendingHtlcCount());
    }
}
