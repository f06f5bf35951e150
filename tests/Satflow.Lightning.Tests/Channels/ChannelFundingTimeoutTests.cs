using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;

namespace Satflow.Lightning.Tests.Channels;

/// <summary>
/// BOLT 2 <c>channel_ready</c>: "A non-funding node (fundee): SHOULD forget the channel if it does not see the correct
/// funding transaction after a timeout of 2016 blocks."
/// </summary>
public sealed class ChannelFundingTimeoutTests
{
    private static (Channel Funder, Channel Fundee) Open(uint? height)
    {
        var (funder, fundee) = ChannelFactory.Funded(new TestChannelSpec());
        return (Channel.FromFunded(funder, ChannelFactory.KeysA, out _, null, height), Channel.FromFunded(fundee, ChannelFactory.KeysB, out _, null, height));
    }

    [Fact]
    public void The_fundee_forgets_2016_blocks_after_funding_signed_and_tells_the_peer()
    {
        var (_, fundee) = Open(1_000);
        Assert.True(fundee.AwaitsFundingAsFundee);
        Assert.Equal(1_000u, fundee.FundingWaitStartHeight);
        Assert.True(fundee.FundingUnconfirmedAt(3_015, out var forget).IsEmpty);
        Assert.False(forget);
        var output = fundee.FundingUnconfirmedAt(3_016, out forget);
        Assert.True(forget);
        var error = Assert.IsType<Error>(Assert.Single(output.Messages));
        Assert.Equal(fundee.ChannelId, error.ChannelId);
        Assert.Contains("2016 blocks", error.PrintableText, StringComparison.Ordinal);
        Assert.Empty(output.MonitorUpdates);
    }

    [Fact]
    public void The_funder_never_forgets()
    {
        var (funder, _) = Open(1_000);
        Assert.False(funder.AwaitsFundingAsFundee);
        Assert.Null(funder.FundingWaitStartHeight);
        Assert.True(funder.FundingUnconfirmedAt(1_000_000, out var forget).IsEmpty);
        Assert.False(forget);
    }

    [Fact]
    public void A_fundee_without_a_start_height_starts_counting_at_the_first_block_it_sees_and_persists_it()
    {
        var (_, fundee) = Open(null);
        Assert.Null(fundee.FundingWaitStartHeight);
        Assert.True(fundee.FundingUnconfirmedAt(500, out var forget).IsEmpty);
        Assert.False(forget);
        Assert.Equal(500u, fundee.FundingWaitStartHeight);
        var restored = Channel.Deserialize(fundee.Serialize(), ChannelFactory.KeysB);
        Assert.Equal(500u, restored.FundingWaitStartHeight);
        restored.FundingUnconfirmedAt(2_515, out forget);
        Assert.False(forget);
        restored.FundingUnconfirmedAt(2_516, out forget);
        Assert.True(forget);
    }

    [Fact]
    public void Once_ready_the_fundee_no_longer_times_out()
    {
        var pair = ChannelPair.Open(new TestChannelSpec());
        pair.Absorb(pair.SideB, pair.B.FundingConfirmed(3, ChannelFactory.Scid));
        Assert.False(pair.B.AwaitsFundingAsFundee);
        Assert.True(pair.B.FundingUnconfirmedAt(100_000, out var forget).IsEmpty);
        Assert.False(forget);
    }
}
