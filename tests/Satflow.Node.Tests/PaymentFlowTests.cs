using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.Tests;

public sealed class PaymentFlowTests
{
    [Fact]
    public async Task Thousand_payments_each_way_then_a_cooperative_close_pays_the_exact_balances_on_chain()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        var capacity = Money.Satoshis(5_000_000);
        var push = MilliSatoshi.FromSatoshis(500_000);
        var channelId = await h.OpenChannelAsync(a, b, capacity, push);
        var aWalletAfterOpen = a.WalletBalance;
        var bWalletAfterOpen = b.WalletBalance;

        // Mostly payments below the 546 sat dust limit (trimmed: no HTLC output, no HTLC signature), plus one above it
        // each way per round so the HTLC signatures of the batched commitments are exercised too.
        var smallToB = MilliSatoshi.FromSatoshis(500);
        var smallToA = MilliSatoshi.FromSatoshis(300);
        var largeToB = MilliSatoshi.FromSatoshis(20_000);
        var largeToA = MilliSatoshi.FromSatoshis(10_000);
        var hashes = new List<(HarnessNode Payer, PaymentHash Hash)>();
        for (var round = 0; round < 10; round++)
        {
            // 100 payments each way in flight at once: a few commitment dances carry them all.
            for (var i = 0; i < 100; i++)
            {
                var ib = await b.Node.CreateInvoiceAsync(i == 0 ? largeToB : smallToB, $"a to b {round}/{i}");
                hashes.Add((a, (await a.Node.PayInvoiceAsync(ib.Bolt11)).PaymentHash));
                var ia = await a.Node.CreateInvoiceAsync(i == 0 ? largeToA : smallToA, $"b to a {round}/{i}");
                hashes.Add((b, (await b.Node.PayInvoiceAsync(ia.Bolt11)).PaymentHash));
            }
            await h.SettleAsync();
        }

        foreach (var (payer, hash) in hashes)
        {
            var record = await payer.Node.LookupPaymentAsync(hash);
            Assert.Equal(OutgoingPaymentState.Succeeded, record!.State);
            Assert.Equal(hash, record.Preimage!.Value.Hash);
        }
        Assert.Equal(2000, hashes.Count);
        Assert.All(await b.Node.Invoices.ListAsync(), i => Assert.Equal(InvoiceState.Settled, i.State));

        var expectedB = push + MilliSatoshi.FromSatoshis((10 * 20_000) + (990 * 500)) - MilliSatoshi.FromSatoshis((10 * 10_000) + (990 * 300));
        var channelA = a.Node.GetChannel(channelId)!;
        Assert.Equal(expectedB, channelA.RemoteBalance);
        Assert.Equal(MilliSatoshi.FromSatoshis(5_000_000) - expectedB, channelA.LocalBalance);
        Assert.Equal(0, channelA.PendingHtlcs);

        await a.Node.CloseChannelAsync(channelId, force: false);
        await h.SettleAsync();
        var closing = a.Node.GetChannel(channelId);
        Assert.Equal(ChannelState.Closed, closing!.State);
        await h.MineBlocksAsync(1);
        var closingTx = h.Chain.Broadcasts.Last(t => t.Inputs.Any(i => i.PrevOut == closing.FundingOutPoint));
        Assert.True(h.Chain.IsConfirmed(closingTx.GetHash()));

        var fee = capacity - closingTx.Outputs.Sum(o => o.Value);
        Assert.True(fee > Money.Zero);
        Assert.Equal(bWalletAfterOpen + Money.Satoshis((long)expectedB.TruncateToSatoshis()), b.WalletBalance);
        Assert.Equal(aWalletAfterOpen + Money.Satoshis(5_000_000 - (long)expectedB.TruncateToSatoshis()) - fee, a.WalletBalance);

        // Six blocks later the monitors call the channel resolved and the nodes forget it.
        await h.MineBlocksAsync(6);
        Assert.Null(a.Node.GetChannel(channelId));
        Assert.Null(b.Node.GetChannel(channelId));
        Assert.Empty(h.Chain.Rejected);
    }

    [Fact]
    public async Task Paying_the_same_invoice_twice_is_refused()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        await h.OpenChannelAsync(h[0], h[1], Money.Satoshis(1_000_000));
        var invoice = await h[1].Node.CreateInvoiceAsync(new MilliSatoshi(10_000_000), "once");

        var pending = await h[0].Node.PayInvoiceAsync(invoice.Bolt11);
        Assert.Equal(OutgoingPaymentState.Pending, pending.State);
        var whilePending = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => h[0].Node.PayInvoiceAsync(invoice.Bolt11));
        Assert.Equal(NodeErrorReason.AlreadyPaid, whilePending.Reason);

        await h.SettleAsync();
        Assert.Equal(OutgoingPaymentState.Succeeded, (await h[0].Node.LookupPaymentAsync(pending.PaymentHash))!.State);
        var afterSuccess = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => h[0].Node.PayInvoiceAsync(invoice.Bolt11));
        Assert.Equal(NodeErrorReason.AlreadyPaid, afterSuccess.Reason);
        Assert.Equal(new MilliSatoshi(10_000_000), h[1].Node.ListChannels()[0].LocalBalance);
    }

    [Fact]
    public async Task Keysend_pays_a_peer_without_an_invoice()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var channelId = await h.OpenChannelAsync(h[0], h[1], Money.Satoshis(1_000_000));
        var record = await h[0].Node.KeysendAsync(h[1].NodeId, new MilliSatoshi(1_234_000));
        await h.SettleAsync();
        var final = await h[0].Node.WaitForPaymentAsync(record.PaymentHash);
        Assert.Equal(OutgoingPaymentState.Succeeded, final.State);
        Assert.Equal(record.PaymentHash, final.Preimage!.Value.Hash);
        Assert.Equal(new MilliSatoshi(1_234_000), h[1].Node.GetChannel(channelId)!.LocalBalance);
    }

    [Fact]
    public async Task A_payment_the_recipient_does_not_know_fails_with_a_readable_reason()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var channelId = await h.OpenChannelAsync(h[0], h[1], Money.Satoshis(1_000_000));
        var invoice = await h[1].Node.CreateInvoiceAsync(new MilliSatoshi(5_000_000), "forgotten");
        // The payee loses the invoice record: the HTLC arrives for a hash it does not know.
        await h[1].Store.RemoveAsync(InvoiceService.PrimaryNamespace, InvoiceService.SecondaryNamespace, InvoiceService.KeyOf(invoice.PaymentHash));

        var record = await h.PayAsync(h[0], h[1], new MilliSatoshi(1));
        Assert.Equal(OutgoingPaymentState.Succeeded, record.State); // a control payment still works

        var pending = await h[0].Node.PayInvoiceAsync(invoice.Bolt11);
        await h.SettleAsync();
        var failed = await h[0].Node.WaitForPaymentAsync(pending.PaymentHash);
        Assert.Equal(OutgoingPaymentState.Failed, failed.State);
        Assert.Contains("incorrect_or_unknown_payment_details", failed.FailureMessage, StringComparison.Ordinal);
        Assert.Equal(0, h[0].Node.GetChannel(channelId)!.PendingHtlcs);

        // A failed payment may be retried (and fails again the same way).
        var retry = await h[0].Node.PayInvoiceAsync(invoice.Bolt11);
        Assert.Equal(2u, retry.Attempts);
    }

    [Fact]
    public async Task Payments_to_a_node_without_a_channel_or_with_a_bad_invoice_are_refused()
    {
        await using var h = await LightningHarness.CreateAsync(3);
        await h.OpenChannelAsync(h[0], h[1], Money.Satoshis(1_000_000));
        var invoice = await h[2].Node.CreateInvoiceAsync(new MilliSatoshi(1000), "no route");
        Assert.Equal(NodeErrorReason.NoRoute, (await Assert.ThrowsAsync<NodeOperationRefusedException>(() => h[0].Node.PayInvoiceAsync(invoice.Bolt11))).Reason);
        Assert.Equal(NodeErrorReason.InvalidArgument, (await Assert.ThrowsAsync<NodeOperationRefusedException>(() => h[0].Node.PayInvoiceAsync("lnbcrt1garbage"))).Reason);
        var expiring = await h[1].Node.CreateInvoiceAsync(new MilliSatoshi(1000), "short", expirySeconds: 60);
        h.Time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(NodeErrorReason.InvoiceExpired, (await Assert.ThrowsAsync<NodeOperationRefusedException>(() => h[0].Node.PayInvoiceAsync(expiring.Bolt11))).Reason);
    }
}
