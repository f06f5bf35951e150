using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Harness;

namespace Satflow.Node.Tests;

/// <summary>
/// BOLT 2 <c>channel_ready</c>: "A non-funding node (fundee): SHOULD forget the channel if it does not see the correct
/// funding transaction after a timeout of 2016 blocks"; <c>funding_created</c>: the funder "SHOULD ensure the funding
/// transaction confirms in the next 2016 blocks" (so it never forgets, and broadcasts it again).
/// </summary>
public sealed class FundingTimeoutTests
{
    [Fact]
    public async Task The_fundee_forgets_an_unconfirmed_channel_after_2016_blocks_while_the_funder_keeps_it_and_rebroadcasts_the_funding()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        await h.ConnectAsync(a, b);

        // The funder's broadcast of the funding transaction is lost (backend down): it never reaches the mempool.
        h.Chain.BackendDown = true;
        var temporary = await a.Node.OpenChannelAsync(b.NodeId, Money.Satoshis(500_000));
        await h.SettleAsync();
        var channelId = await a.Node.WaitForChannelAsync(temporary);
        var funding = a.Node.GetChannel(channelId)!.FundingOutPoint.Hash;
        Assert.Contains(h.Chain.Broadcasts, t => t.GetHash() == funding);
        Assert.Equal(ChannelState.AwaitingFundingConfirmation, b.Node.GetChannel(channelId)!.State);
        // The peers part: the fundee's error will not reach the funder.
        await h.DisconnectAsync(a, b);

        await h.MineBlocksAsync((int)Channel.FundingTimeoutBlocks - 1);
        Assert.NotNull(b.Node.GetChannel(channelId));
        Assert.Empty(b.Node.ForgottenChannels);

        // Block 2016 after funding_signed: the fundee forgets it, in memory and in its store.
        await h.MineBlocksAsync(1);
        Assert.Null(b.Node.GetChannel(channelId));
        Assert.DoesNotContain(b.Node.ListChannels(), c => c.ChannelId == channelId);
        Assert.Equal([channelId], b.Node.ForgottenChannels);
        await h.CrashAsync(b);
        await h.RestartAsync(b);
        Assert.Null(b.Node.GetChannel(channelId));

        // The funder keeps the channel and tried the funding transaction again at every block.
        Assert.Equal(ChannelState.AwaitingFundingConfirmation, a.Node.GetChannel(channelId)!.State);
        Assert.Empty(a.Node.ForgottenChannels);
        Assert.True(h.Chain.Broadcasts.Count(t => t.GetHash() == funding) > (int)Channel.FundingTimeoutBlocks);
        Assert.False(h.Chain.IsConfirmed(funding));

        // Once the backend is back, the next block's rebroadcast gets it into the mempool and the block after confirms it.
        h.Chain.BackendDown = false;
        await h.MineBlocksAsync(2);
        Assert.True(h.Chain.IsConfirmed(funding));
        Assert.NotNull(a.Node.GetChannel(channelId));
    }

    [Fact]
    public async Task A_fundee_whose_funding_confirms_in_time_keeps_the_channel()
    {
        await using var h = await LightningHarness.CreateAsync(2);
        var (a, b) = (h[0], h[1]);
        h.Chain.BackendDown = true;
        await h.ConnectAsync(a, b);
        var temporary = await a.Node.OpenChannelAsync(b.NodeId, Money.Satoshis(500_000));
        await h.SettleAsync();
        var channelId = await a.Node.WaitForChannelAsync(temporary);
        await h.MineBlocksAsync(10);
        h.Chain.BackendDown = false;
        // Rebroadcast at the next block, confirmed in the one after, then the minimum depth.
        await h.MineBlocksAsync(2 + (int)h.Options.Node.MinimumDepth);
        Assert.Equal(ChannelState.Normal, a.Node.GetChannel(channelId)!.State);
        Assert.Equal(ChannelState.Normal, b.Node.GetChannel(channelId)!.State);
        Assert.Empty(b.Node.ForgottenChannels);
    }
}
