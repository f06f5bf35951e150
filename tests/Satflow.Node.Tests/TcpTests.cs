using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;
using Satflow.Lightning.Types;
using Satflow.Payments;

namespace Satflow.Node.Tests;

public sealed class TcpTests
{
    [Fact]
    public async Task Two_nodes_over_loopback_tcp_open_a_channel_and_pay()
    {
        var options = new HarnessOptions { UseTcp = true, Node = new NodeOptions { AutoFlush = true, MinimumDepth = 1 } };
        await using var h = await LightningHarness.CreateAsync(2, options);
        var (a, b) = (h[0], h[1]);
        Assert.NotNull(b.Node.ListenEndPoint);
        Assert.Equal(System.Net.IPAddress.Loopback, b.Node.ListenEndPoint!.Address);

        var channelId = await h.OpenChannelAsync(a, b, Money.Satoshis(500_000));
        Assert.Equal(ChannelState.Normal, a.Node.GetChannel(channelId)!.State);

        var record = await h.PayAsync(a, b, new MilliSatoshi(21_000_000));
        Assert.Equal(OutgoingPaymentState.Succeeded, record.State);
        await LightningHarness.WaitUntilAsync(() => b.Node.GetChannel(channelId)!.LocalBalance == new MilliSatoshi(21_000_000) && !a.Node.HasChangesToSign, "b's balance shows the payment");
        Assert.Contains(a.Node.ListPeers(), p => p.NodeId == b.NodeId);
    }
}
