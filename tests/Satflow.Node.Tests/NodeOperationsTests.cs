using NBitcoin;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Satflow.Node.Api;

namespace Satflow.Node.Tests;

public sealed class NodeOperationsTests
{
    [Fact]
    public async Task The_admin_operations_drive_the_node_and_map_refusals_to_api_codes()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        var opsA = new NodeOperations(a.Node, a.Wallet, h.Time);
        var opsB = new NodeOperations(b.Node, b.Wallet, h.Time);

        var info = await opsA.GetInfoAsync(default);
        Assert.Equal(a.NodeId, info.NodeId);
        Assert.Equal(h.Chain.Height, info.BlockHeight);
        Assert.True((await opsA.GetBalanceAsync(default)).Confirmed > Money.Zero);
        Assert.StartsWith("bcrt1", (await opsA.GetNewAddressAsync(default)).Address, StringComparison.Ordinal);

        var notConnected = await Assert.ThrowsAsync<NodeOperationException>(() => opsA.OpenChannelAsync(b.NodeId, Money.Satoshis(500_000), default));
        Assert.Equal(NodeErrorCode.PeerNotConnected, notConnected.Code);

        await h.ConnectAsync(a, b);
        Assert.Single(await opsA.ListPeersAsync(default));
        var opening = opsA.OpenChannelAsync(b.NodeId, Money.Satoshis(500_000), default);
        await h.SettleAsync();
        var channel = await opening;
        Assert.Equal(Api.ChannelState.AwaitingConfirmation, channel.State);
        await h.MineBlocksAsync(3);
        Assert.Equal(Api.ChannelState.Normal, Assert.Single(await opsA.ListChannelsAsync(default)).State);

        var invoice = await opsB.CreateInvoiceAsync(new MilliSatoshi(3_000_000), "coffee", TimeSpan.FromMinutes(10), default);
        Assert.Equal("coffee", invoice.Description);
        var paying = opsA.PayInvoiceAsync(invoice.Bolt11, null, default);
        await h.SettleAsync();
        var paid = await paying;
        Assert.Equal(PaymentState.Succeeded, paid.State);
        Assert.Equal(invoice.PaymentHash, paid.Preimage!.Value.Hash);
        Assert.Equal(Api.InvoiceState.Settled, (await opsB.GetInvoiceAsync(invoice.PaymentHash, default)).State);

        var again = await Assert.ThrowsAsync<NodeOperationException>(() => opsA.PayInvoiceAsync(invoice.Bolt11, null, default));
        Assert.Equal(NodeErrorCode.AlreadyPaid, again.Code);
        var missing = await Assert.ThrowsAsync<NodeOperationException>(() => opsA.GetPaymentAsync(new PaymentHash(new Bytes32(new byte[32])), default));
        Assert.Equal(NodeErrorCode.NotFound, missing.Code);

        var keysend = opsA.KeysendAsync(b.NodeId, new MilliSatoshi(1_000_000), default);
        await h.SettleAsync();
        Assert.Equal(PaymentState.Succeeded, (await keysend).State);
        Assert.Equal(2, (await opsA.ListPaymentsAsync(default)).Count);

        var close = await opsA.CloseChannelAsync(channel.ChannelId, force: false, default);
        await h.SettleAsync();
        Assert.Contains(close.State, new[] { Api.ChannelState.ShuttingDown, Api.ChannelState.Closing, Api.ChannelState.Closed });
        Assert.Equal(Api.ChannelState.Closed, Assert.Single(await opsA.ListChannelsAsync(default)).State);
        Assert.NotNull((await opsA.CloseChannelAsync(channel.ChannelId, force: true, default)).ClosingTxid);
    }

    [Fact]
    public async Task A_private_channel_is_opened_unannounced_and_both_ends_report_it_private()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        var opsA = new NodeOperations(a.Node, a.Wallet, h.Time);
        var opsB = new NodeOperations(b.Node, b.Wallet, h.Time);
        await h.ConnectAsync(a, b);
        var opening = opsA.OpenChannelAsync(b.NodeId, Money.Satoshis(500_000), announce: false, default);
        await h.SettleAsync();
        var channel = await opening;
        Assert.False(channel.IsPublic);
        await h.MineBlocksAsync(7);
        await h.SettleAsync();
        Assert.False(Assert.Single(await opsA.ListChannelsAsync(default)).IsPublic);
        Assert.False(Assert.Single(await opsB.ListChannelsAsync(default)).IsPublic);
        // Never announced: after 6+ confirmations neither graph summary lists it as announced.
        Assert.Empty((await a.Node.GetGraphSummaryAsync()).OurAnnouncedChannels);
        Assert.Empty((await b.Node.GetGraphSummaryAsync()).OurAnnouncedChannels);
        // B's invoices hint the private channel so payers that cannot see it still reach B.
        var invoice = await opsB.CreateInvoiceAsync(new MilliSatoshi(1_000_000), "hint", TimeSpan.FromMinutes(10), default);
        var hint = Assert.Single(Lightning.Invoices.Bolt11Invoice.Decode(invoice.Bolt11).RouteHints);
        Assert.Equal(a.NodeId, Assert.Single(hint).NodeId);
    }
}
