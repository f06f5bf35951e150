using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Node.Payments;
using Satflow.Payments;

namespace Satflow.Node.Tests;

/// <summary>
/// BOLT 2 <c>max_dust_htlc_exposure_msat</c> at the node: a forward whose outgoing HTLC is trimmed and would exceed the
/// outgoing channel's limit is refused with <c>temporary_channel_failure</c> ("SHOULD NOT send this HTLC", "SHOULD fail
/// the corresponding incoming HTLC"); an incoming trimmed HTLC over the limit is failed back with
/// <c>temporary_channel_failure</c> once committed, without closing the channel. Anchor channels (the default): an
/// HTLC is trimmed below the 546-sat dust limit. Only node 1 (B) has a small limit.
/// </summary>
public sealed class DustExposureTests
{
    private const int FinalDelta = 18;

    private static HarnessOptions OnlyB(ulong limitMsat) => new()
    {
        NodeFor = (index, options) => index == 1 ? options with { MaxDustHtlcExposure = new MilliSatoshi(limitMsat) } : options,
    };

    private static async Task<(OutgoingPaymentRecord Payment, PartResult Part)> PayAsync(LightningHarness h, HarnessNode payer, HarnessNode payee, Route route, List<PartResult> results)
    {
        var before = results.Count;
        var invoice = await payee.Node.CreateInvoiceAsync(route.RecipientAmount, "dust");
        await payer.Node.Payments.BeginAsync(invoice.PaymentHash, route.RecipientAmount, payee.NodeId, invoice.Bolt11);
        await payer.Node.SendPartAsync(new PartRequest(invoice.PaymentHash, route, invoice.PaymentSecret, route.RecipientAmount, null, 1));
        await h.SettleAsync();
        var part = Assert.Single(results.Skip(before));
        return ((await payer.Node.LookupPaymentAsync(invoice.PaymentHash))!, part);
    }

    [Fact]
    public async Task A_forward_whose_outgoing_dust_htlc_exceeds_the_limit_gets_temporary_channel_failure_and_one_at_the_limit_passes()
    {
        // B's limit is 545,500 msat. With B's default fee (1,000 msat + 1 ppm) an outgoing 545,5xx msat HTLC (545 sat:
        // trimmed on B–C) comes in as 546,5xx msat (546 sat: not trimmed on A–B), so only the outgoing check applies.
        await using var h = await LightningHarness.CreateAsync(3, OnlyB(545_500));
        var (a, b, c) = (h[0], h[1], h[2]);
        var ab = await h.OpenChannelAsync(a, b, Money.Satoshis(1_000_000));
        var bc = await h.OpenChannelAsync(b, c, Money.Satoshis(1_000_000));
        var abScid = a.Node.GetChannel(ab)!.ShortChannelId!.Value;
        var bcScid = b.Node.GetChannel(bc)!.ShortChannelId!.Value;
        var results = new List<PartResult>();
        a.Node.PartObserver = results.Add;
        Route RouteToC(MilliSatoshi amount)
        {
            var policy = b.Node.GetChannelPolicy(bc);
            var fee = policy.FeeFor(amount);
            return new Route(a.NodeId,
            [
                new RouteHop(abScid, b.NodeId, amount + fee, fee, FinalDelta + policy.CltvExpiryDelta),
                new RouteHop(bcScid, c.NodeId, amount, MilliSatoshi.Zero, FinalDelta),
            ], amount);
        }

        var (over, part) = await PayAsync(h, a, c, RouteToC(new MilliSatoshi(545_501)), results);
        Assert.Equal(OutgoingPaymentState.Failed, over.State);
        Assert.Equal(0, part.Failure!.FailingHopIndex);
        Assert.Equal(FailureCode.TemporaryChannelFailure, part.Failure.Message!.Code);
        Assert.NotNull(part.Failure.Message.ChannelUpdate);
        var refused = Assert.Single(await b.Node.ListForwardsAsync());
        Assert.StartsWith("temporary_channel_failure", refused.FailureReason, StringComparison.Ordinal);
        Assert.Contains("max_dust_htlc_exposure_msat", refused.FailureReason, StringComparison.Ordinal);

        var (atLimit, ok) = await PayAsync(h, a, c, RouteToC(new MilliSatoshi(545_500)), results);
        Assert.Equal(OutgoingPaymentState.Succeeded, atLimit.State);
        Assert.Null(ok.Failure);
        Assert.All(new[] { a, b, c }, n => Assert.All(n.Node.ListChannels(), ch => Assert.Equal(ChannelState.Normal, ch.State)));
    }

    [Fact]
    public async Task An_incoming_dust_htlc_over_the_limit_is_failed_back_with_temporary_channel_failure_and_the_channel_stays_open()
    {
        await using var h = await LightningHarness.CreateAsync(2, OnlyB(500_000));
        var (a, b) = (h[0], h[1]);
        var ab = await h.OpenChannelAsync(a, b, Money.Satoshis(1_000_000));
        var abScid = a.Node.GetChannel(ab)!.ShortChannelId!.Value;
        var results = new List<PartResult>();
        a.Node.PartObserver = results.Add;
        Route Direct(MilliSatoshi amount) => new(a.NodeId, [new RouteHop(abScid, b.NodeId, amount, MilliSatoshi.Zero, FinalDelta)], amount);

        var (over, part) = await PayAsync(h, a, b, Direct(new MilliSatoshi(500_001)), results);
        Assert.Equal(OutgoingPaymentState.Failed, over.State);
        Assert.Equal(0, part.Failure!.FailingHopIndex);
        Assert.Equal(FailureCode.TemporaryChannelFailure, part.Failure.Message!.Code);
        Assert.Equal(InvoiceState.Open, (await b.Node.Invoices.LookupAsync(over.PaymentHash))!.State);
        Assert.Equal(ChannelState.Normal, a.Node.GetChannel(ab)!.State);
        Assert.Equal(ChannelState.Normal, b.Node.GetChannel(ab)!.State);
        Assert.Equal(0, b.Node.GetChannel(ab)!.PendingHtlcs);

        var (atLimit, ok) = await PayAsync(h, a, b, Direct(new MilliSatoshi(500_000)), results);
        Assert.Equal(OutgoingPaymentState.Succeeded, atLimit.State);
        Assert.Null(ok.Failure);
        // A non-dust payment is never refused for dust.
        var (large, _) = await PayAsync(h, a, b, Direct(MilliSatoshi.FromSatoshis(10_000)), results);
        Assert.Equal(OutgoingPaymentState.Succeeded, large.State);
    }

    [Fact]
    public async Task New_channels_take_the_node_limit()
    {
        await using var h = await LightningHarness.CreateAsync(2, OnlyB(123_000));
        var (a, b) = (h[0], h[1]);
        Assert.Equal(ChannelOptions.DefaultMaxDustHtlcExposure, new NodeOptions().MaxDustHtlcExposure);
        var ab = await h.OpenChannelAsync(a, b, Money.Satoshis(500_000));
        // B (fundee) refuses to send a 200-sat HTLC that A (default limit) would accept.
        await h.PayAsync(a, b, MilliSatoshi.FromSatoshis(100_000));
        var results = new List<PartResult>();
        b.Node.PartObserver = results.Add;
        var scid = b.Node.GetChannel(ab)!.ShortChannelId!.Value;
        var invoice = await a.Node.CreateInvoiceAsync(MilliSatoshi.FromSatoshis(200), "small");
        await b.Node.Payments.BeginAsync(invoice.PaymentHash, invoice.Amount!.Value, a.NodeId, invoice.Bolt11);
        var route = new Route(b.NodeId, [new RouteHop(scid, a.NodeId, MilliSatoshi.FromSatoshis(200), MilliSatoshi.Zero, FinalDelta)], MilliSatoshi.FromSatoshis(200));
        var e = await Assert.ThrowsAsync<NodeOperationRefusedException>(() => b.Node.SendPartAsync(new PartRequest(invoice.PaymentHash, route, invoice.PaymentSecret, route.RecipientAmount, null, 1)));
        Assert.Contains("max_dust_htlc_exposure_msat 123000", e.Message, StringComparison.Ordinal);
    }
}
