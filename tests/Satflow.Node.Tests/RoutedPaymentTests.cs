using NBitcoin;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.Tests;

/// <summary>Payments routed through the network by payment sessions (multi-hop, retries, multi-part).</summary>
public sealed class RoutedPaymentTests
{
    /// <summary>
    /// Opens a channel and tells every node's graph about it (as gossip would), with each side's real forwarding policy
    /// unless <paramref name="advertised"/> overrides the funder's.
    /// </summary>
    private static async Task<(ChannelId Id, ShortChannelId Scid)> OpenPublicAsync(LightningHarness h, HarnessNode funder, HarnessNode fundee, long sats, ForwardingPolicy? advertised = null)
    {
        var id = await h.OpenChannelAsync(funder, fundee, Money.Satoshis(sats));
        var scid = funder.Node.GetChannel(id)!.ShortChannelId!.Value;
        foreach (var node in h.Nodes)
        {
            node.Node.Graph.AddChannel(scid, funder.NodeId, fundee.NodeId, MilliSatoshi.FromSatoshis((ulong)sats));
            node.Node.Graph.UpdatePolicy(scid, funder.NodeId, PolicyOf(advertised ?? funder.Node.GetChannelPolicy(id)));
            node.Node.Graph.UpdatePolicy(scid, fundee.NodeId, PolicyOf(fundee.Node.GetChannelPolicy(id)));
        }
        return (id, scid);
    }

    private static ChannelPolicy PolicyOf(ForwardingPolicy p) =>
        new((uint)p.BaseFee.Value, p.FeeProportionalMillionths, p.CltvExpiryDelta, p.HtlcMinimum, p.HtlcMaximum ?? MilliSatoshi.Zero);

    private static async Task<OutgoingPaymentRecord> PayAndSettleAsync(LightningHarness h, HarnessNode payer, InvoiceRecord invoice)
    {
        var pending = await payer.Node.PayInvoiceAsync(invoice.Bolt11);
        await h.SettleAsync();
        return (await payer.Node.LookupPaymentAsync(pending.PaymentHash))!;
    }

    [Fact]
    public async Task A_pays_C_through_B()
    {
        await using var h = await LightningHarness.CreateAsync(3);
        await OpenPublicAsync(h, h[0], h[1], 1_000_000);
        var (bc, _) = await OpenPublicAsync(h, h[1], h[2], 1_000_000);
        var amount = MilliSatoshi.FromSatoshis(100_000);

        var route = await h[0].Node.FindRouteAsync(h[2].NodeId, amount);
        Assert.Equal([h[1].NodeId, h[2].NodeId], route.Route!.Hops.Select(x => x.Node));

        var invoice = await h[2].Node.CreateInvoiceAsync(amount, "two hops");
        var paid = await PayAndSettleAsync(h, h[0], invoice);

        Assert.Equal(OutgoingPaymentState.Succeeded, paid.State);
        Assert.Equal(h[1].Node.GetChannelPolicy(bc).FeeFor(amount), paid.Fee);
        Assert.Equal(1u, paid.Parts);
        Assert.Equal(1u, paid.HtlcAttempts);
        Assert.Equal(amount, h[2].Node.GetChannel(bc)!.LocalBalance);
        Assert.Equal(InvoiceState.Settled, (await h[2].Node.Invoices.LookupAsync(invoice.PaymentHash))!.State);
    }

    [Fact]
    public async Task A_failed_route_is_retried_on_another_and_the_second_payment_avoids_it()
    {
        // A → B → D looks cheapest, but D funded B–D so B has nothing to send toward D; A → C → D works.
        await using var h = await LightningHarness.CreateAsync(4);
        await OpenPublicAsync(h, h[0], h[1], 1_000_000);
        await OpenPublicAsync(h, h[3], h[1], 1_000_000);
        await OpenPublicAsync(h, h[0], h[2], 1_000_000);
        await OpenPublicAsync(h, h[2], h[3], 1_000_000, advertised: ForwardingPolicy.Default with { BaseFee = new MilliSatoshi(5_000) });
        var amount = MilliSatoshi.FromSatoshis(50_000);

        var first = await PayAndSettleAsync(h, h[0], await h[3].Node.CreateInvoiceAsync(amount, "retry"));
        Assert.Equal(OutgoingPaymentState.Succeeded, first.State);
        Assert.Equal(2u, first.HtlcAttempts);

        var second = await PayAndSettleAsync(h, h[0], await h[3].Node.CreateInvoiceAsync(amount, "learned"));
        Assert.Equal(OutgoingPaymentState.Succeeded, second.State);
        Assert.Equal(1u, second.HtlcAttempts);
    }

    [Fact]
    public async Task A_payment_larger_than_any_path_is_split_and_assembled_by_the_recipient()
    {
        // Diamond A → B → D and A → C → D, 300,000 sat channels; 400,000 sat only fits in two parts.
        await using var h = await LightningHarness.CreateAsync(4);
        await OpenPublicAsync(h, h[0], h[1], 300_000);
        await OpenPublicAsync(h, h[1], h[3], 300_000);
        await OpenPublicAsync(h, h[0], h[2], 300_000);
        await OpenPublicAsync(h, h[2], h[3], 300_000);
        var amount = MilliSatoshi.FromSatoshis(400_000);

        var invoice = await h[3].Node.CreateInvoiceAsync(amount, "split");
        var paid = await PayAndSettleAsync(h, h[0], invoice);

        Assert.Equal(OutgoingPaymentState.Succeeded, paid.State);
        Assert.True(paid.Parts >= 2, $"parts: {paid.Parts}");
        var settled = (await h[3].Node.Invoices.LookupAsync(invoice.PaymentHash))!;
        Assert.Equal(InvoiceState.Settled, settled.State);
        Assert.Equal(amount, settled.SettledAmount);
    }

    [Fact]
    public async Task An_incomplete_multi_part_set_fails_with_mpp_timeout_after_60_seconds()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        await OpenPublicAsync(h, h[0], h[1], 1_000_000);
        var invoice = await h[1].Node.CreateInvoiceAsync(MilliSatoshi.FromSatoshis(10_000), "held");
        var hash = invoice.PaymentHash;
        // One part of a two-part payment only (sent by hand): the recipient holds it.
        var route = (await h[0].Node.FindRouteAsync(h[1].NodeId, MilliSatoshi.FromSatoshis(4_000))).Route!;
        await h[0].Node.Payments.BeginAsync(hash, invoice.Amount!.Value, h[1].NodeId, invoice.Bolt11);
        await h[0].Node.SendPartAsync(new Payments.PartRequest(hash, route, invoice.PaymentSecret, invoice.Amount!.Value, null, 1));
        await h.SettleAsync();
        Assert.Equal(1, h[1].Node.GetChannel(h[1].Node.ListChannels()[0].ChannelId)!.PendingHtlcs);
        Assert.Equal(InvoiceState.Open, (await h[1].Node.Invoices.LookupAsync(hash))!.State);

        h.Time.Advance(LightningNode.MppTimeout);
        await h[1].Node.ProcessPaymentTimersAsync();
        await h.SettleAsync();
        Assert.Equal(0, h[1].Node.GetChannel(h[1].Node.ListChannels()[0].ChannelId)!.PendingHtlcs);
        var failed = (await h[0].Node.LookupPaymentAsync(hash))!;
        Assert.Equal(OutgoingPaymentState.Failed, failed.State);
        Assert.Contains("mpp_timeout", failed.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invoice_hints_its_unannounced_channel_so_a_payer_that_knows_only_public_channels_reaches_it()
    {
        // A–B is public (put in every graph); B–C is unannounced (opened with announce_channel off, so gossip keeps it
        // out of other nodes' graphs): only C's invoice tells A about it.
        await using var h = await LightningHarness.CreateAsync(3, new HarnessOptions { Node = new NodeOptions { AutoFlush = false, MinimumDepth = 3, PublicChannels = false } });
        await OpenPublicAsync(h, h[0], h[1], 1_000_000);
        var bc = await h.OpenChannelAsync(h[1], h[2], Money.Satoshis(1_000_000));
        var scid = h[1].Node.GetChannel(bc)!.ShortChannelId!.Value;
        var amount = MilliSatoshi.FromSatoshis(20_000);
        Assert.Equal(RouteFailureReason.RecipientUnknown, (await h[0].Node.FindRouteAsync(h[2].NodeId, amount)).Failure!.Reason);

        var invoice = await h[2].Node.CreateInvoiceAsync(amount, "private");
        var hint = Assert.Single(Lightning.Invoices.Bolt11Invoice.Decode(invoice.Bolt11).RouteHints);
        Assert.Equal(h[1].NodeId, Assert.Single(hint).NodeId);
        Assert.Equal(scid, hint[0].ShortChannelId);

        var paid = await PayAndSettleAsync(h, h[0], invoice);
        Assert.Equal(OutgoingPaymentState.Succeeded, paid.State);
        Assert.Equal(h[1].Node.GetChannelPolicy(bc).FeeFor(amount), paid.Fee);
        Assert.Equal(amount, h[2].Node.GetChannel(bc)!.LocalBalance);
    }

    [Fact]
    public async Task An_invoice_committing_to_a_description_hash_is_issued_and_paid()
    {
        // LNURL-pay (LUD-06) invoices carry the hash of the LNURL metadata instead of a description.
        await using var h = await LightningHarness.CreateAsync(2);
        await OpenPublicAsync(h, h[0], h[1], 1_000_000);
        var metadataHash = new Bytes32(System.Security.Cryptography.SHA256.HashData("[[\"text/plain\",\"Payment to Demo\"]]"u8));
        var invoice = await h[1].Node.CreateInvoiceAsync(MilliSatoshi.FromSatoshis(1_000), metadataHash);
        var decoded = Lightning.Invoices.Bolt11Invoice.Decode(invoice.Bolt11);
        Assert.Equal(metadataHash, decoded.DescriptionHash);
        Assert.Null(decoded.Description);
        Assert.Equal(OutgoingPaymentState.Succeeded, (await PayAndSettleAsync(h, h[0], invoice)).State);
    }

    [Fact]
    public async Task Without_any_route_the_payment_is_refused_with_a_clear_reason()
    {
        await using var h = await LightningHarness.CreateAsync(3);
        await OpenPublicAsync(h, h[0], h[1], 1_000_000);
        await OpenPublicAsync(h, h[2], h[1], 1_000_000); // B has nothing to send toward C, and the graph knows C's side only as capacity
        var invoice = await h[2].Node.CreateInvoiceAsync(MilliSatoshi.FromSatoshis(2_000_000), "too much");
        var e = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => h[0].Node.PayInvoiceAsync(invoice.Bolt11));
        Assert.Equal(NodeErrorReason.NoRoute, e.Reason);
        Assert.Contains("liquidity", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(9)]
    [InlineData(12)]
    public async Task A_payer_restarted_while_its_part_is_in_flight_resolves_the_payment_consistently(int deliveredBeforeCrash)
    {
        await using var h = await LightningHarness.CreateAsync(3);
        await OpenPublicAsync(h, h[0], h[1], 1_000_000);
        var (bc, _) = await OpenPublicAsync(h, h[1], h[2], 1_000_000);
        var amount = MilliSatoshi.FromSatoshis(100_000);
        var invoice = await h[2].Node.CreateInvoiceAsync(amount, "restart");
        await h[0].Node.PayInvoiceAsync(invoice.Bolt11);
        for (var delivered = 0; delivered < deliveredBeforeCrash;)
        {
            if (await h.Network.DeliverOneAsync())
            {
                delivered++;
            }
            else
            {
                foreach (var node in h.Nodes)
                {
                    await node.Node.FlushAsync();
                }
            }
        }
        await h.CrashAsync(h[0]);
        await h.RestartAsync(h[0]);
        await h.ConnectAsync(h[0], h[1]);
        await h.SettleAsync();

        var payment = (await h[0].Node.LookupPaymentAsync(invoice.PaymentHash))!;
        var received = (await h[2].Node.Invoices.LookupAsync(invoice.PaymentHash))!;
        Assert.NotEqual(OutgoingPaymentState.Pending, payment.State);
        Assert.Equal(payment.State == OutgoingPaymentState.Succeeded, received.State == InvoiceState.Settled);
        if (payment.State == OutgoingPaymentState.Succeeded)
        {
            Assert.Equal(h[1].Node.GetChannelPolicy(bc).FeeFor(amount), payment.Fee);
            Assert.Equal(1u, payment.Parts);
        }
        Assert.Empty(await h[0].Store.ListAsync(Persistence.NodeStore.PrimaryNamespace, LightningNode.PaymentSessionsNamespace));
    }
}
