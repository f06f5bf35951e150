using NBitcoin;
using Satflow.Lightning.Channels;

namespace Satflow.Lightning.Tests.Channels;

public sealed class ChannelCloseReconnectTests
{
    [Fact]
    public void A_closed_side_answers_a_restarted_negotiation_so_the_peer_completes_the_same_close()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec
        {
            FundeeOptions = new ChannelOptions(ShutdownScript: ChannelFactory.FundeeCloseScript),
        });
        pair.Absorb(pair.SideA, pair.A.Shutdown(new Key().PubKey.WitHash.ScriptPubKey));
        pair.DeliverOne(pair.SideB); // shutdown → B answers with its shutdown
        pair.DeliverOne(pair.SideA); // shutdown → A (funder) proposes closing_signed
        pair.DeliverOne(pair.SideB); // B agrees: closed, its closing_signed is in flight to A
        Assert.Equal(ChannelState.Closed, pair.B.State);
        Assert.Equal(ChannelState.NegotiatingClose, pair.A.State);

        // The link drops before A hears B's agreement; after reconnecting A proposes again.
        pair.Disconnect();
        pair.Reconnect();
        pair.Settle();

        Assert.Equal(ChannelState.Closed, pair.A.State);
        Assert.Equal(pair.B.ClosingTransaction!.GetHash(), pair.A.ClosingTransaction!.GetHash());
    }
}
