using Satflow.Lightning.Messages;

namespace Satflow.Lightning.Channels;

/// <summary>
/// BOLT 2 <c>channel_ready</c>: "A non-funding node (fundee): SHOULD forget the channel if it does not see the correct
/// funding transaction after a timeout of 2016 blocks." The fundee has nothing at stake (the funding transaction spends
/// only the funder's coins) and keeping such channels forever would be a denial-of-service risk; the funder never
/// forgets (its coins are in the funding transaction) and keeps broadcasting it instead.
/// </summary>
public sealed partial class Channel
{
    /// <summary>How many blocks the fundee waits for the funding transaction before forgetting the channel (BOLT 2).</summary>
    public const uint FundingTimeoutBlocks = 2016;

    /// <summary>
    /// The height at which we, as fundee, started waiting for the funding transaction (the tip when we sent
    /// <c>funding_signed</c>); null for the funder, or while unknown.
    /// </summary>
    public uint? FundingWaitStartHeight => _s.FundingWaitStartHeight;

    /// <summary>Whether we are the fundee and the channel still waits for its funding transaction (no <c>channel_ready</c> sent).</summary>
    public bool AwaitsFundingAsFundee =>
        !Parameters.LocalIsFunder && _s.State == ChannelState.AwaitingFundingConfirmation && !_s.ReadySent;

    /// <summary>
    /// The host saw block <paramref name="height"/> and the funding transaction is still not in the chain. As fundee,
    /// the first call without a known start height records this one (state written before the start height was kept);
    /// from <see cref="FundingWaitStartHeight"/> + <see cref="FundingTimeoutBlocks"/> on, <paramref name="forget"/> is
    /// true and the output holds the <c>error</c> telling the peer: the host deletes the channel and its monitor (in one
    /// write) and then sends it. Nothing happens for the funder or once the funding confirmed.
    /// </summary>
    /// <param name="height">The height of the tip the host follows (never the clock).</param>
    /// <param name="forget">Whether the channel must be forgotten now.</param>
    public ChannelOutput FundingUnconfirmedAt(uint height, out bool forget)
    {
        forget = false;
        if (!AwaitsFundingAsFundee)
        {
            return ChannelOutput.Empty;
        }
        if (_s.FundingWaitStartHeight is not { } start)
        {
            var o = Begin();
            return Commit(_s with { FundingWaitStartHeight = height }, o);
        }
        if ((ulong)height < (ulong)start + FundingTimeoutBlocks)
        {
            return ChannelOutput.Empty;
        }
        forget = true;
        var output = Begin();
        output.Send(new Error(ChannelId, System.Text.Encoding.ASCII.GetBytes(
            $"funding transaction not confirmed {FundingTimeoutBlocks} blocks after funding_signed (height {start} to {height}): channel forgotten")));
        return output.Build();
    }
}
