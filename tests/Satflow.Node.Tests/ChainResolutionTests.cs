using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.Tests;

public sealed class ChainResolutionTests
{
    [Fact]
    public async Task Force_close_with_htlcs_in_flight_both_ways_resolves_them_on_chain_and_sweeps_everything()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        var channelId = await h.OpenChannelAsync(a, b, Money.Satoshis(2_000_000), MilliSatoshi.FromSatoshis(500_000));
        var toB = await a.Node.PayInvoiceAsync((await b.Node.CreateInvoiceAsync(MilliSatoshi.FromSatoshis(100_000), "a to b")).Bolt11);
        var toA = await b.Node.PayInvoiceAsync((await a.Node.CreateInvoiceAsync(MilliSatoshi.FromSatoshis(70_000), "b to a")).Bolt11);

        // Run the commitment dance until both HTLCs are committed on both sides and each payee has released its
        // preimage, then cut the link before the removals are signed: both HTLCs stay in the commitments.
        bool BothRemoving(HarnessNode n) => n.Node.GetChannel(channelId)!.PendingHtlcs == 2
            && n.Node.GetHtlcs(channelId).All(x => x.State == ChannelHtlcState.Removing);
        for (var steps = 0; !(BothRemoving(a) && BothRemoving(b)); steps++)
        {
            Assert.True(steps < 200, "the HTLCs never reached the removing state");
            if (!await h.Network.DeliverOneAsync())
            {
                await a.Node.FlushAsync();
                await b.Node.FlushAsync();
            }
        }
        await h.DisconnectAsync(a, b);

        await a.Node.CloseChannelAsync(channelId, force: true);
        var commitment = h.Chain.Broadcasts.First(t => t.Inputs.Any(i => i.PrevOut == a.Node.GetChannel(channelId)!.FundingOutPoint));
        Assert.True(commitment.Outputs.Count >= 5, "anchors, to_local, to_remote and two HTLC outputs");
        await h.MineBlocksAsync(1);
        Assert.True(h.Chain.IsConfirmed(commitment.GetHash()));

        // The CSV delay on a's outputs is b's to_self_delay (144): mine past it, then until every claim confirmed.
        await h.MineBlocksAsync(150);
        await h.MineUntilMempoolEmptyAsync();
        await h.MineBlocksAsync(7);

        Assert.Equal(OutgoingPaymentState.Succeeded, (await a.Node.LookupPaymentAsync(toB.PaymentHash))!.State);
        Assert.Equal(OutgoingPaymentState.Succeeded, (await b.Node.LookupPaymentAsync(toA.PaymentHash))!.State);
        Assert.Contains(a.Node.MonitorEvents, e => e.Event is HtlcResolvedOnChain { OfferedByUs: true, Preimage: not null });
        Assert.Contains(a.Node.MonitorEvents, e => e.Event is FundsSwept);
        Assert.Contains(b.Node.MonitorEvents, e => e.Event is FundsSwept);
        Assert.Contains(a.Node.MonitorEvents, e => e.Event is ChannelFullyResolved);
        Assert.Contains(b.Node.MonitorEvents, e => e.Event is ChannelFullyResolved);
        Assert.Null(a.Node.GetChannel(channelId));
        Assert.Null(b.Node.GetChannel(channelId));
        Assert.Equal(0, h.Chain.Devnet.MempoolCount);
        // Every output of the commitment is spent (anchors aside, which anyone may sweep later).
        var unspent = Enumerable.Range(0, commitment.Outputs.Count)
            .Where(i => commitment.Outputs[i].Value > Money.Satoshis(330) && h.Chain.IsUnspent(new OutPoint(commitment.GetHash(), i)))
            .ToList();
        Assert.Empty(unspent);
    }

    [Fact]
    public async Task A_peer_broadcasting_a_revoked_commitment_loses_everything_to_the_penalty()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        var capacity = Money.Satoshis(2_000_000);
        var channelId = await h.OpenChannelAsync(a, b, capacity, MilliSatoshi.FromSatoshis(200_000));
        Assert.Equal(OutgoingPaymentState.Succeeded, (await h.PayAsync(a, b, MilliSatoshi.FromSatoshis(10_000))).State);

        // a keeps a copy of its state, then pays more: the copy's commitment is revoked.
        var stale = await LightningHarness.SnapshotStoreAsync(a);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(OutgoingPaymentState.Succeeded, (await h.PayAsync(a, b, MilliSatoshi.FromSatoshis(300_000))).State);
        }
        var bWallet = b.WalletBalance;

        // a comes back from the stale copy, without talking to b, and force closes: the revoked commitment goes out.
        await h.CrashAsync(a);
        await h.RestartAsync(a, stale);
        await a.Node.CloseChannelAsync(channelId, force: true);
        await h.MineBlocksAsync(1);
        await h.MineUntilMempoolEmptyAsync();
        await h.MineBlocksAsync(7);

        Assert.Contains(b.Node.MonitorEvents, e => e.Event is CommitmentConfirmed { Kind: CommitmentKind.RemoteRevoked });
        var swept = b.Node.MonitorEvents.Select(e => e.Event).OfType<FundsSwept>().Sum(s => s.Amount.Satoshi);
        // b takes the whole channel but for the commitment and penalty fees and the anchors.
        Assert.True(swept > capacity.Satoshi - 60_000, $"b swept only {swept} sat of {capacity.Satoshi}");
        Assert.True(b.WalletBalance - bWallet >= Money.Satoshis(swept));
        Assert.Null(b.Node.GetChannel(channelId));
    }
}
