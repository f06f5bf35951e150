using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using static Satflow.Lightning.Tests.Monitor.TwoParties;

namespace Satflow.Lightning.Tests.Monitor;

/// <summary>Blocks disconnected under the monitor.</summary>
public sealed class ReorgTests
{
    [Theory]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    public void ReorgedCommitmentIsReplacedByAnotherOne(CommitmentFormat format)
    {
        var parties = new TwoParties(format);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(new FakeWallet(chain));
        chain.Mine(monitor);
        var current = parties.SignedCommitmentOfB(1);
        var output = chain.Mine(monitor, current);
        Assert.Contains(output.Events, e => e is CommitmentConfirmed { Kind: CommitmentKind.Remote });
        var claim = output.Broadcasts.Single(b => b.Purpose == ClaimPurpose.ClaimToRemote);

        // The block is reorged out: nothing is claimed any more (the channel is open again as far as the chain goes).
        var undone = chain.Disconnect(monitor.BlockDisconnected);
        Assert.Empty(undone.Broadcasts);
        Assert.Empty(undone.Events);

        // The new chain confirms the revoked commitment 0 instead: it is punished.
        var revoked = parties.SignedCommitmentOfB(0);
        output = chain.Mine(monitor, revoked);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.RemoteRevoked, revoked.GetHash(), 481, 0), output.Events);
        Assert.Contains(output.Broadcasts, b => b.Purpose == ClaimPurpose.Penalty);
        Assert.DoesNotContain(output.Broadcasts, b => b.Transaction.GetHash() == claim.Transaction.GetHash());
    }

    [Fact]
    public void ReorgedClaimIsBroadcastAgainAndTheSameCommitmentReconfirmed()
    {
        var parties = new TwoParties(CommitmentFormat.AnchorOutputs);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(new FakeWallet(chain));
        chain.Mine(monitor);
        var commitment = parties.SignedCommitmentOfB(1);
        var output = chain.Mine(monitor, commitment);
        var claim = output.Broadcasts.Single(b => b.Purpose == ClaimPurpose.ClaimToRemote).Transaction;
        output = chain.Mine(monitor, claim);
        Assert.Single(output.Events.OfType<FundsSwept>());
        Assert.DoesNotContain(output.Broadcasts, b => b.Purpose == ClaimPurpose.ClaimToRemote);

        output = chain.Disconnect(monitor.BlockDisconnected);
        Assert.Contains(output.Broadcasts, b => b.Purpose == ClaimPurpose.ClaimToRemote && b.Transaction.GetHash() == claim.GetHash());

        // Deeper: the commitment itself goes, then comes back one block later; it is reported again at its new height.
        chain.Disconnect(monitor.BlockDisconnected);
        chain.Mine(monitor);
        output = chain.Mine(monitor, commitment);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.Remote, commitment.GetHash(), 482, 1), output.Events);
        output = chain.Mine(monitor, output.Broadcasts.Select(b => b.Transaction).ToArray());
        Assert.Equal(2, chain.Events.OfType<FundsSwept>().Count());
    }

    [Fact]
    public void TimeoutIsReportedOnlyWhenBuried()
    {
        var parties = new TwoParties(CommitmentFormat.StaticRemoteKey);
        var chain = new TestChain(OfferedExpiry - 2, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(null);
        chain.Mine(monitor);
        var output = chain.Mine(monitor, parties.SignedCommitmentOfB(1));
        var timeout = output.Broadcasts.Single(b => b.Purpose == ClaimPurpose.ClaimRemoteHtlcTimeout).Transaction;
        chain.Mine(monitor, timeout);
        for (var i = 0; i < AntiReorgDelay() - 2; i++)
        {
            chain.Mine(monitor);
        }
        Assert.DoesNotContain(chain.Events, e => e is HtlcResolvedOnChain { TimedOut: true, OfferedByUs: true });
        chain.Mine(monitor);
        Assert.Single(chain.Events, e => e is HtlcResolvedOnChain { TimedOut: true, OfferedByUs: true });
    }

    private static int AntiReorgDelay() => ChannelMonitor.AntiReorgDelay;
}
