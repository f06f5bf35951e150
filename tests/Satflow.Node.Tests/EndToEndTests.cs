using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.Tests;

public sealed class EndToEndTests
{
    [Fact]
    public async Task Open_and_pay_once()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var channelId = await h.OpenChannelAsync(h[0], h[1], Money.Satoshis(1_000_000));
        var record = await h.PayAsync(h[0], h[1], new MilliSatoshi(50_000_000));
        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
        var a = h[0].Node.GetChannel(channelId)!;
        var b = h[1].Node.GetChannel(channelId)!;
        Assert.Equal(ChannelState.Normal, a.State);
        Assert.Equal(new MilliSatoshi(50_000_000), b.LocalBalance);
        Assert.Equal(new MilliSatoshi(50_000_000), a.RemoteBalance);
        Assert.Empty(h.Chain.Rejected);
    }
}
