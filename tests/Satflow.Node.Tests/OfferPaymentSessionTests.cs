using CsCheck;
using NBitcoin;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Offers.Flow;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Node.Offers;
using Satflow.Payments;

namespace Satflow.Node.Tests;

/// <summary>
/// Paying BOLT 12 invoices through payment sessions: retries over another blinded path, multi-part payments over
/// several paths (assembled by the issuer), a typed failure when every path fails, and a payer restarted mid-payment.
/// </summary>
public sealed class OfferPaymentSessionTests
{
    private static readonly MilliSatoshi Price = MilliSatoshi.FromSatoshis(50_000);

    /// <summary>
    /// A (issuer) with channels from B1 and B2; C (payer) with channels to B1 and B2. A's graph learns that B2
    /// charges a high fee toward A, so A's invoices advertise the path through B2 as the costlier one and the payer
    /// tries the path through B1 first.
    /// </summary>
    private static async Task<(HarnessNode A, HarnessNode B1, HarnessNode B2, HarnessNode C)> DiamondAsync(LightningHarness h, long sats)
    {
        var (a, b1, b2, c) = (h[0], h[1], h[2], h[3]);
        await h.OpenChannelAsync(b1, a, Money.Satoshis(sats));
        var b2ToA = await h.OpenChannelAsync(b2, a, Money.Satoshis(sats));
        await h.OpenChannelAsync(c, b1, Money.Satoshis(sats));
        await h.OpenChannelAsync(c, b2, Money.Satoshis(sats));
        // B2 charges more toward A (it really does: its forwarding policy), and A's graph knows it.
        var policy = b2.Node.GetChannelPolicy(b2ToA) with { BaseFee = new MilliSatoshi(20_000), FeeProportionalMillionths = 2_000 };
        await b2.Node.SetChannelPolicyAsync(b2ToA, policy);
        await h.SettleAsync();
        var scid = b2.Node.GetChannel(b2ToA)!.ShortChannelId!.Value;
        if (!a.Node.Graph.TryGetChannel(scid, out var known) || (known.Node1 == b2.NodeId ? known.Policy1 : known.Policy2) is not { FeeBaseMsat: 20_000 })
        {
            a.Node.Graph.AddChannel(scid, b2.NodeId, a.NodeId, MilliSatoshi.FromSatoshis((ulong)sats));
            Assert.True(a.Node.Graph.UpdatePolicy(scid, b2.NodeId, new ChannelPolicy(20_000, 2_000, policy.CltvExpiryDelta, policy.HtlcMinimum, MilliSatoshi.Zero, Timestamp: uint.MaxValue)));
        }
        return (a, b1, b2, c);
    }

    private static async Task<PayableInvoice> FetchAsync(LightningHarness h, HarnessNode payer, string offer)
    {
        var fetch = payer.Node.FetchOfferInvoiceAsync(offer, null, null, CancellationToken.None);
        for (var i = 0; i < 50 && !fetch.IsCompleted; i++)
        {
            await h.SettleAsync();
            await Task.WhenAny(fetch, Task.Delay(20));
        }
        return await fetch;
    }

    private static async Task<OutgoingPaymentRecord> PayAndSettleAsync(LightningHarness h, HarnessNode payer, PayableInvoice invoice, PaymentOptions? options = null)
    {
        var pending = await payer.Node.PayOfferInvoiceAsync(invoice, options, CancellationToken.None);
        await h.SettleAsync();
        return (await payer.Node.LookupPaymentAsync(pending.PaymentHash))!;
    }

    [Fact]
    public async Task Our_invoices_offer_a_path_per_receiving_channel_and_advertise_basic_mpp()
    {
        await using var h = await LightningHarness.CreateAsync(4);
        var (a, b1, b2, c) = await DiamondAsync(h, 1_000_000);
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "two paths", Amount = Price, Blinded = true });

        var invoice = await FetchAsync(h, c, offer.Offer);

        Assert.True(invoice.SupportsMultiPart);
        Assert.Equal(2, invoice.Paths.Count);
        Assert.Equal(new[] { b1.NodeId, b2.NodeId }.Order(), invoice.Paths.Select(p => p.Path.FirstNodeId.NodeId!.Value).Order());
        var viaB2 = invoice.Paths.Single(p => p.Path.FirstNodeId.NodeId == b2.NodeId).PayInfo;
        Assert.Equal(20_000u, viaB2.FeeBaseMsat); // B2's own policy toward A, as A's graph knows it
        Assert.All(invoice.Paths, p => Assert.True(p.PayInfo.HtlcMaximumMsat < MilliSatoshi.FromSatoshis(1_000_000)));
    }

    [Fact]
    public async Task When_the_first_blinded_path_fails_the_payer_retries_over_another_and_succeeds()
    {
        await using var h = await LightningHarness.CreateAsync(4);
        var (a, b1, b2, c) = await DiamondAsync(h, 1_000_000);
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "retry", Amount = Price, Blinded = true });
        var invoice = await FetchAsync(h, c, offer.Offer);
        Assert.Equal(2, invoice.Paths.Count);

        // B1 (the cheaper path's introduction node) loses its link to A after the invoice was issued: it answers
        // invalid_onion_blinding, and the payer goes through B2.
        await h.DisconnectAsync(b1, a);
        var record = await PayAndSettleAsync(h, c, invoice);

        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
        Assert.Equal(2u, record.HtlcAttempts);
        Assert.Equal(1u, record.Parts);
        Assert.Equal(0, b1.Node.OnionMessageStats.BlindedForwards);
        Assert.Equal(1, b2.Node.OnionMessageStats.BlindedForwards);
        Assert.Equal(20_000UL + ((Price.Value * 2_000) + 999_999) / 1_000_000, record.Fee!.Value.Value);
        var issued = Assert.Single(await a.Node.ListOfferInvoicesAsync());
        Assert.Equal(OfferInvoiceState.Settled, issued.State);
        Assert.Equal(Price, issued.AmountReceived);
        Assert.Empty(await c.Store.ListAsync(Persistence.NodeStore.PrimaryNamespace, LightningNode.PaymentSessionsNamespace));
    }

    [Fact]
    public async Task An_amount_larger_than_any_channel_is_split_over_two_blinded_paths_and_assembled()
    {
        await using var h = await LightningHarness.CreateAsync(4);
        var (a, b1, b2, c) = await DiamondAsync(h, 200_000);
        var amount = MilliSatoshi.FromSatoshis(300_000);
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "big", Amount = amount, Blinded = true });
        var invoice = await FetchAsync(h, c, offer.Offer);

        var record = await PayAndSettleAsync(h, c, invoice);

        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
        Assert.True(record.Parts >= 2, $"parts: {record.Parts}");
        Assert.Equal(1, b1.Node.OnionMessageStats.BlindedForwards);
        Assert.Equal(1, b2.Node.OnionMessageStats.BlindedForwards);
        var issued = Assert.Single(await a.Node.ListOfferInvoicesAsync());
        Assert.Equal(OfferInvoiceState.Settled, issued.State);
        Assert.Equal(amount, issued.AmountReceived);
        Assert.Equal(amount, a.Node.ListChannels().Aggregate(MilliSatoshi.Zero, (sum, ch) => sum + ch.LocalBalance));
    }

    [Fact]
    public async Task An_incomplete_blinded_multi_part_set_is_held_then_failed_back_after_the_mpp_timeout()
    {
        await using var h = await LightningHarness.CreateAsync(4);
        var (a, b1, b2, c) = await DiamondAsync(h, 200_000);
        var amount = MilliSatoshi.FromSatoshis(300_000);
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "half", Amount = amount, Blinded = true });
        var invoice = await FetchAsync(h, c, offer.Offer);

        // Only the path through B1 still works, and it cannot carry 300,000 sat: A holds the parts that arrive.
        await h.DisconnectAsync(b2, a);
        var pending = await c.Node.PayOfferInvoiceAsync(invoice, null, CancellationToken.None);
        await h.SettleAsync();
        int HeldAtA() => a.Node.ListChannels().Sum(ch => a.Node.GetChannel(ch.ChannelId)!.PendingHtlcs);
        Assert.True(HeldAtA() > 0);
        Assert.Equal(OfferInvoiceState.Pending, Assert.Single(await a.Node.ListOfferInvoicesAsync()).State);
        Assert.Equal(OutgoingPaymentState.Pending, (await c.Node.LookupPaymentAsync(pending.PaymentHash))!.State);

        h.Time.Advance(LightningNode.MppTimeout);
        await a.Node.ProcessPaymentTimersAsync();
        await h.SettleAsync();
        await c.Node.ProcessPaymentTimersAsync();
        await h.SettleAsync();

        Assert.Equal(0, HeldAtA());
        Assert.Equal(OfferInvoiceState.Pending, Assert.Single(await a.Node.ListOfferInvoicesAsync()).State);
        Assert.Equal(MilliSatoshi.Zero, a.Node.ListChannels().Aggregate(MilliSatoshi.Zero, (sum, ch) => sum + ch.LocalBalance));
        var failed = (await c.Node.LookupPaymentAsync(pending.PaymentHash))!;
        Assert.Equal(OutgoingPaymentState.Failed, failed.State);
        Assert.NotNull(failed.FailureMessage);
    }

    [Fact]
    public async Task When_every_blinded_path_fails_the_payment_fails_with_a_typed_reason()
    {
        await using var h = await LightningHarness.CreateAsync(4);
        var (a, b1, b2, c) = await DiamondAsync(h, 1_000_000);
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "unreachable", Amount = Price, Blinded = true });
        var invoice = await FetchAsync(h, c, offer.Offer);

        await h.DisconnectAsync(b1, a);
        await h.DisconnectAsync(b2, a);
        var record = await PayAndSettleAsync(h, c, invoice);

        Assert.Equal(OutgoingPaymentState.Failed, record.State);
        Assert.Equal(PaymentFailureReason.RouteFailed, record.FailureReason);
        Assert.Contains("Every blinded path of the invoice failed", record.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("invalid_onion_blinding", record.FailureMessage, StringComparison.Ordinal);
        Assert.True(record.HtlcAttempts >= 2);
        Assert.Equal(OfferInvoiceState.Pending, Assert.Single(await a.Node.ListOfferInvoicesAsync()).State);
        Assert.Empty(await c.Store.ListAsync(Persistence.NodeStore.PrimaryNamespace, LightningNode.PaymentSessionsNamespace));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(7)]
    public async Task A_payer_restarted_mid_payment_rebuilds_the_blinded_paths_and_resolves_it(int deliveredBeforeCrash)
    {
        await using var h = await LightningHarness.CreateAsync(4);
        var (a, b1, b2, c) = await DiamondAsync(h, 1_000_000);
        var offer = await a.Node.CreateOfferAsync(new OfferParameters { Description = "restart", Amount = Price, Blinded = true });
        var invoice = await FetchAsync(h, c, offer.Offer);
        await h.DisconnectAsync(b1, a); // the first part fails at B1: the retry happens after the restart

        await c.Node.PayOfferInvoiceAsync(invoice, null, CancellationToken.None);
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
        await h.CrashAsync(c);
        await h.RestartAsync(c);
        // B2's channel is back before B1 fails the part that was in flight, so the rebuilt session can use path 1.
        await h.ConnectAsync(c, b2);
        await h.SettleAsync();
        await h.ConnectAsync(c, b1);
        await h.SettleAsync();

        var payment = (await c.Node.LookupPaymentAsync(invoice.PaymentHash))!;
        var issued = Assert.Single(await a.Node.ListOfferInvoicesAsync());
        if (deliveredBeforeCrash == 0)
        {
            // Nothing had left the payer: the restart fails the payment (as for BOLT 11) and nothing was received.
            Assert.Equal(OutgoingPaymentState.Failed, payment.State);
            Assert.Equal(PaymentFailureReason.Aborted, payment.FailureReason);
            Assert.Equal(OfferInvoiceState.Pending, issued.State);
        }
        else
        {
            // The part through B1 was in flight: its failure reaches the restored session, which pays through B2.
            Assert.True(payment.State == OutgoingPaymentState.Succeeded, $"{payment.State}: {payment.FailureReason} {payment.FailureMessage}");
            Assert.Equal(2u, payment.HtlcAttempts);
            Assert.Equal(OfferInvoiceState.Settled, issued.State);
            Assert.Equal(Price, issued.AmountReceived);
            Assert.Equal(payment.PaymentHash, payment.Preimage!.Value.Hash);
            Assert.Equal(1, b2.Node.OnionMessageStats.BlindedForwards);
            Assert.Empty(await c.Store.ListAsync(Persistence.NodeStore.PrimaryNamespace, LightningNode.PaymentSessionsNamespace));
        }
        // The paid invoice stays with the payer (its proof of payment, and what a restart plans the paths from).
        var stored = await c.Store.ReadAsync(LightningNode.OffersNamespace, LightningNode.OfferPaymentsNamespace, invoice.PaymentHash.Value.ToHex());
        Assert.Equal(invoice.Invoice.Records.ToBytes(), OfferPaymentRecord.Decode(stored!.Value.Span).Invoice.ToArray());
    }

    [Fact]
    public void The_offer_payment_record_round_trips_and_rejects_garbage()
    {
        var record = new OfferPaymentRecord
        {
            PaymentHash = new PaymentHash(new Bytes32(Enumerable.Repeat((byte)3, 32).ToArray())),
            Invoice = new byte[] { 1, 2, 3, 4 },
            PathIndexes = [0, 2],
            CreatedAt = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000),
        };
        var decoded = OfferPaymentRecord.Decode(record.Encode());
        Assert.Equal(record.PaymentHash, decoded.PaymentHash);
        Assert.Equal(record.Invoice.ToArray(), decoded.Invoice.ToArray());
        Assert.Equal(record.PathIndexes, decoded.PathIndexes);
        Assert.Equal(record.CreatedAt, decoded.CreatedAt);

        Assert.Throws<Persistence.NodeStateCorruptException>(() => OfferPaymentRecord.Decode("{\"Version\":2}"u8));
        Assert.Throws<Persistence.NodeStateCorruptException>(() => OfferPaymentRecord.Decode("not json"u8));
        var negative = System.Text.Encoding.UTF8.GetString(record.Encode()).Replace("[0,2]", "[-1]", StringComparison.Ordinal);
        Assert.Throws<Persistence.NodeStateCorruptException>(() => OfferPaymentRecord.Decode(System.Text.Encoding.UTF8.GetBytes(negative)));

        // Random bytes and mutations of a valid record: decoded or refused as corrupt state, nothing else.
        var valid = record.Encode();
        Gen.Select(Gen.Byte.Array[0, 300], Gen.Int[0, valid.Length - 1], Gen.Byte).Sample((random, at, value) =>
        {
            var mutated = (byte[])valid.Clone();
            mutated[at] = value;
            foreach (var bytes in new[] { random, mutated, valid[..at] })
            {
                try
                {
                    OfferPaymentRecord.Decode(bytes);
                }
                catch (Persistence.NodeStateCorruptException)
                {
                }
            }
        }, iter: 2_000);
    }
}
