using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Tests.Channels.Opening;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Channels;

/// <summary>The opening handshake's result drives the state machine end to end (asymmetric limits and delays).</summary>
public sealed class ChannelOpeningIntegrationTests
{
    [Fact]
    public void OpenedChannelPaysBothWaysAndCloses()
    {
        var handshake = OpeningTestKit.Run();
        var pair = ChannelPair.Start(
            handshake.FunderChannel, OpeningTestKit.FunderKeys,
            handshake.FundeeChannel, OpeningTestKit.FundeeKeys,
            optionsB: new ChannelOptions(ShutdownScript: new Key().PubKey.WitHash.ScriptPubKey));
        var depth = handshake.FunderChannel.MinimumDepth;
        pair.Absorb(pair.SideA, pair.A.FundingConfirmed(depth, ChannelFactory.Scid));
        pair.Absorb(pair.SideB, pair.B.FundingConfirmed(depth, ChannelFactory.Scid));
        pair.Settle();
        Assert.Equal(ChannelState.Normal, pair.A.State);
        Assert.Equal(ChannelState.Normal, pair.B.State);

        pair.Add(pair.SideA, 100_000_000, 1);
        pair.Add(pair.SideA, 300_000, 2); // trimmed on one side only (dust limits 546 vs 400)
        pair.Settle();
        pair.Absorb(pair.SideB, pair.B.FulfillHtlc(0, ChannelFactory.Preimage(1)));
        pair.Absorb(pair.SideB, pair.B.FulfillHtlc(1, ChannelFactory.Preimage(2)));
        pair.Settle();
        pair.Add(pair.SideB, 40_000_000, 3);
        pair.Settle();
        pair.Absorb(pair.SideA, pair.A.FulfillHtlc(0, ChannelFactory.Preimage(3)));
        pair.Settle();
        pair.AssertConsistent();
        Assert.Equal(handshake.FunderChannel.LocalBalance - new MilliSatoshi(100_300_000) + new MilliSatoshi(40_000_000), pair.A.LocalBalance);

        pair.Absorb(pair.SideA, pair.A.Shutdown(handshake.FunderChannel.LocalShutdownScript ?? new Key().PubKey.WitHash.ScriptPubKey));
        pair.Settle();
        Assert.Equal(ChannelState.Closed, pair.A.State);
        Assert.Equal(ChannelState.Closed, pair.B.State);
        OpeningTestKit.AssertSpendsFunding(pair.A.ClosingTransaction!, new TxOut(pair.A.Parameters.FundingAmount, pair.A.Parameters.FundingScript.WitHash.ScriptPubKey));
    }
}
