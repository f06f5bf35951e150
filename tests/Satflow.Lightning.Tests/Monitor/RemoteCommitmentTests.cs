using NBitcoin;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using static Satflow.Lightning.Tests.Monitor.TwoParties;

namespace Satflow.Lightning.Tests.Monitor;

/// <summary>The peer broadcasts one of its unrevoked commitments.</summary>
public sealed class RemoteCommitmentTests
{
    private static (TwoParties Parties, TestChain Chain, ChannelMonitor Monitor) Setup(CommitmentFormat format)
    {
        var parties = new TwoParties(format);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(new FakeWallet(chain));
        chain.Mine(monitor);
        return (parties, chain, monitor);
    }

    [Theory]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    public void CurrentCommitmentClaimsToRemoteAndHtlcs(CommitmentFormat format)
    {
        var (parties, chain, monitor) = Setup(format);
        monitor.ApplyUpdate(new PreimageUpdate(6, PreimageReceived));
        var commitment = parties.SignedCommitmentOfB(1);
        var output = chain.Mine(monitor, commitment);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.Remote, commitment.GetHash(), 481, 1), output.Events);
        Assert.Contains(output.Broadcasts, b => b.Purpose == ClaimPurpose.ClaimToRemote);
        var success = Assert.Single(output.Broadcasts, b => b.Purpose == ClaimPurpose.ClaimRemoteHtlcSuccess);
        Assert.Equal(PreimageReceived.Value.ToArray(), success.Transaction.Inputs[0].WitScript.Pushes.ElementAt(1));
        Assert.DoesNotContain(output.Broadcasts, b => b.Purpose == ClaimPurpose.ClaimRemoteHtlcTimeout);

        var toMine = output.Broadcasts.Select(b => b.Transaction).ToArray();
        uint? timeoutAt = null;
        for (var i = 0; i < 60 && !monitor.IsFullyResolved; i++)
        {
            output = chain.Mine(monitor, toMine);
            if (output.Broadcasts.Any(b => b.Purpose == ClaimPurpose.ClaimRemoteHtlcTimeout))
            {
                timeoutAt ??= chain.Height;
            }
            toMine = output.Broadcasts.Select(b => b.Transaction).ToArray();
        }
        Assert.True(monitor.IsFullyResolved);
        Assert.Equal(OfferedExpiry, timeoutAt);
        Assert.Equal(3, chain.Events.OfType<FundsSwept>().Count());
        Assert.Contains(new HtlcResolvedOnChain(PreimageOffered.Hash, null, true, 0, true), chain.Events);
        Assert.Contains(new HtlcResolvedOnChain(PreimageReceived.Hash, PreimageReceived, false, 0, false), chain.Events);
    }

    [Theory]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    public void PeersHtlcSuccessRevealsThePreimageAndStopsOurTimeout(CommitmentFormat format)
    {
        var (parties, chain, monitor) = Setup(format);
        var commitment = parties.SignedCommitmentOfB(1);
        chain.Mine(monitor, commitment);
        var success = parties.SecondStageOfB(1, Flip(Offered), PreimageOffered);
        var output = chain.Mine(monitor, success);
        var resolved = Assert.Single(output.Events.OfType<HtlcResolvedOnChain>());
        Assert.Equal(new HtlcResolvedOnChain(PreimageOffered.Hash, PreimageOffered, false, 0, true), resolved);
        while (chain.Height <= OfferedExpiry + 1)
        {
            Assert.DoesNotContain(chain.Mine(monitor).Broadcasts, b => b.Purpose == ClaimPurpose.ClaimRemoteHtlcTimeout);
        }
        // Reported once, not again on later blocks.
        Assert.Single(chain.Events.OfType<HtlcResolvedOnChain>(), e => e.PaymentHash == PreimageOffered.Hash);
    }

    [Fact]
    public void PreviousUnrevokedCommitmentIsRecognised()
    {
        var (parties, chain, monitor) = Setup(CommitmentFormat.AnchorOutputs);
        monitor.ApplyUpdate(parties.RemoteUpdate(6, 2));
        // B has not revoked commitment 1 yet: it may still broadcast it.
        var commitment = parties.SignedCommitmentOfB(1);
        var output = chain.Mine(monitor, commitment);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.Remote, commitment.GetHash(), 481, 1), output.Events);
        var claim = Assert.Single(output.Broadcasts, b => b.Purpose == ClaimPurpose.ClaimToRemote);
        Assert.Equal(parties.CommitmentOfB(1).Outputs.Single(o => o.Kind == CommitmentOutputKind.ToRemote).Amount, claim.SpentOutputs[0].Value);
    }

    [Fact]
    public void NextCommitmentIsRecognised()
    {
        var (parties, chain, monitor) = Setup(CommitmentFormat.StaticRemoteKey);
        monitor.ApplyUpdate(parties.RemoteUpdate(6, 2));
        var commitment = parties.SignedCommitmentOfB(2);
        var output = chain.Mine(monitor, commitment);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.Remote, commitment.GetHash(), 481, 2), output.Events);
        var claim = Assert.Single(output.Broadcasts, b => b.Purpose == ClaimPurpose.ClaimToRemote);
        Assert.Equal(parties.CommitmentOfB(2).Outputs.Single(o => o.Kind == CommitmentOutputKind.ToRemote).Amount, claim.SpentOutputs[0].Value);
    }

    [Fact]
    public void CooperativeCloseNeedsNothing()
    {
        var (parties, chain, monitor) = Setup(CommitmentFormat.AnchorOutputs);
        var closing = Transaction.Create(Network.Main);
        closing.Inputs.Add(parties.ParamsA.FundingOutPoint);
        closing.Outputs.Add(new TxOut(Money.Satoshis(600_000), Destination));
        closing.Outputs.Add(new TxOut(Money.Satoshis(399_000), new Key().PubKey.WitHash.ScriptPubKey));
        monitor.ApplyUpdate(new CooperativeCloseUpdate(6, closing));
        var output = chain.Mine(monitor, closing);
        Assert.Empty(output.Broadcasts);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.Cooperative, closing.GetHash(), 481, null), output.Events);
        for (var i = 0; i < 4; i++)
        {
            chain.Mine(monitor);
        }
        Assert.False(monitor.IsFullyResolved);
        output = chain.Mine(monitor);
        Assert.Single(output.Events.OfType<ChannelFullyResolved>());
        Assert.True(monitor.IsFullyResolved);
        Assert.DoesNotContain(chain.Events, e => e is HtlcResolvedOnChain);
    }

    [Fact]
    public void OfferedHtlcMissingFromTheConfirmedCommitmentFailsOnceBuried()
    {
        var parties = new TwoParties(CommitmentFormat.AnchorOutputs);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = new ChannelMonitor(parties.ParamsA, parties.A, Destination);
        monitor.ApplyUpdate(parties.LocalUpdate(1, 0));
        monitor.ApplyUpdate(parties.RemoteUpdate(2, 0));
        // We signed B's commitment 1 with both HTLCs, but B has not revoked 0 yet and broadcasts it.
        monitor.ApplyUpdate(parties.RemoteUpdate(3, 1));
        var old = parties.SignedCommitmentOfB(0);
        var output = chain.Mine(monitor, old);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.Remote, old.GetHash(), 480, 0), output.Events);
        for (var i = 0; i < ChannelMonitor.AntiReorgDelay - 2; i++)
        {
            chain.Mine(monitor, output.Broadcasts.Select(b => b.Transaction).ToArray());
            output = MonitorOutput.Empty;
        }
        Assert.DoesNotContain(chain.Events, e => e is HtlcResolvedOnChain);
        output = chain.Mine(monitor);
        // Only the HTLC we offered is reported (failed): the one we received was never ours to claim here.
        Assert.Equal(new HtlcResolvedOnChain(PreimageOffered.Hash, null, true, 0, true), Assert.Single(output.Events.OfType<HtlcResolvedOnChain>()));
    }

    [Fact]
    public void OfferedHtlcFulfilledOffChainIsNeverReportedFailed()
    {
        var parties = new TwoParties(CommitmentFormat.StaticRemoteKey);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = new ChannelMonitor(parties.ParamsA, parties.A, Destination);
        monitor.ApplyUpdate(parties.LocalUpdate(1, 0));
        monitor.ApplyUpdate(parties.RemoteUpdate(2, 0));
        monitor.ApplyUpdate(parties.RemoteUpdate(3, 1));
        // B fulfilled our HTLC (update_fulfill_htlc) and then closed with commitment 0, which does not carry it.
        monitor.ApplyUpdate(new PreimageUpdate(4, PreimageOffered));
        chain.Mine(monitor, parties.SignedCommitmentOfB(0));
        for (var i = 0; i < ChannelMonitor.AntiReorgDelay; i++)
        {
            chain.Mine(monitor);
        }
        var resolved = Assert.Single(chain.Events.OfType<HtlcResolvedOnChain>());
        Assert.Equal(new HtlcResolvedOnChain(PreimageOffered.Hash, PreimageOffered, false, 0, true), resolved);
    }

    [Fact]
    public void OutputTooExpensiveToSweepNowWaitsForLowerFees()
    {
        var parties = new TwoParties(CommitmentFormat.StaticRemoteKey);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = new ChannelMonitor(parties.ParamsA, parties.A, Destination);
        monitor.ApplyUpdate(parties.LocalUpdate(1, 0));
        monitor.ApplyUpdate(parties.RemoteUpdate(2, 0));
        var commitment = parties.SignedCommitmentOfB(0);
        MonitorOutput Expensive(uint h, uint256 hash, IReadOnlyList<Transaction> txs) => monitor.BlockConnected(h, hash, txs, 2_000_000_000);
        var output = chain.Mine(Expensive, commitment);
        Assert.Empty(output.Broadcasts);
        for (var i = 0; i < ChannelMonitor.AntiReorgDelay + 2; i++)
        {
            chain.Mine(Expensive);
        }
        // Our to_remote is still unswept: the channel is not resolved (the monitor must not be forgotten yet).
        Assert.False(monitor.IsFullyResolved);
        output = chain.Mine(monitor);
        Assert.Equal(ClaimPurpose.ClaimToRemote, Assert.Single(output.Broadcasts).Purpose);
    }
}
