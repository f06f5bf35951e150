using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.Tests;

public sealed class RestartTests
{
    [Theory]
    [InlineData(0, 7)]
    [InlineData(1, 7)]
    [InlineData(0, 23)]
    [InlineData(1, 41)]
    public async Task A_node_restarted_from_its_store_mid_stream_loses_no_htlc(int crashing, int deliveredBeforeCrash)
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        var channelId = await h.OpenChannelAsync(a, b, Money.Satoshis(3_000_000), MilliSatoshi.FromSatoshis(1_000_000));
        var payments = new List<(HarnessNode Payer, PaymentHash Hash)>();
        for (var i = 0; i < 20; i++)
        {
            payments.Add((a, (await a.Node.PayInvoiceAsync((await b.Node.CreateInvoiceAsync(MilliSatoshi.FromSatoshis(5_000), $"ab{i}")).Bolt11)).PaymentHash));
            payments.Add((b, (await b.Node.PayInvoiceAsync((await a.Node.CreateInvoiceAsync(MilliSatoshi.FromSatoshis(3_000), $"ba{i}")).Bolt11)).PaymentHash));
        }

        // Part of the dance, then a crash that loses the in-memory state and every message in flight.
        for (var delivered = 0; delivered < deliveredBeforeCrash;)
        {
            if (await h.Network.DeliverOneAsync())
            {
                delivered++;
            }
            else
            {
                await a.Node.FlushAsync();
                await b.Node.FlushAsync();
            }
        }
        var victim = h[crashing];
        await h.CrashAsync(victim);
        await h.RestartAsync(victim);
        Assert.True(victim.Node.GetChannel(channelId)!.IsOffline);
        await h.ConnectAsync(a, b);

        foreach (var (payer, hash) in payments)
        {
            Assert.Equal(OutgoingPaymentState.Succeeded, (await payer.Node.LookupPaymentAsync(hash))!.State);
        }
        var expectedB = MilliSatoshi.FromSatoshis(1_000_000 + (20 * 5_000) - (20 * 3_000));
        foreach (var node in new[] { a, b })
        {
            var channel = node.Node.GetChannel(channelId)!;
            Assert.Equal(ChannelState.Normal, channel.State);
            Assert.False(channel.IsOffline);
            Assert.Equal(0, channel.PendingHtlcs);
        }
        Assert.Equal(expectedB, b.Node.GetChannel(channelId)!.LocalBalance);
        Assert.Equal(expectedB, a.Node.GetChannel(channelId)!.RemoteBalance);

        // The channel still works after the restart.
        Assert.Equal(OutgoingPaymentState.Succeeded, (await h.PayAsync(a, b, new MilliSatoshi(1_000_000))).State);
    }
}
