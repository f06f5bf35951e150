using NBitcoin;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using static Satflow.Lightning.Tests.Monitor.TwoParties;

namespace Satflow.Lightning.Tests.Monitor;

/// <summary>Force closing with our commitment: broadcast, HTLC-success/timeout, delayed sweeps, resolution.</summary>
public sealed class LocalCommitmentTests
{
    [Theory]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    public void ForceCloseResolvesEveryOutputAtTheRightHeights(CommitmentFormat format)
    {
        var parties = new TwoParties(format);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var wallet = new FakeWallet(chain);
        var monitor = parties.StandardMonitor(wallet);
        chain.Mine(monitor);
        Assert.Empty(chain.Mine(monitor).Broadcasts);
        monitor.ApplyUpdate(new PreimageUpdate(6, PreimageReceived));

        var close = monitor.ApplyUpdate(new ForceCloseUpdate(7, "test"));
        chain.Check(close);
        var commitment = Assert.Single(close.Broadcasts, b => b.Purpose == ClaimPurpose.LocalCommitment).Transaction;
        Assert.Equal(parties.CommitmentOfA(1).TxId, commitment.GetHash());
        if (format == CommitmentFormat.AnchorOutputs)
        {
            var cpfp = Assert.Single(close.Broadcasts, b => b.Purpose == ClaimPurpose.AnchorCpfp);
            Assert.Contains(cpfp.Transaction.Inputs, i => i.PrevOut.Hash == commitment.GetHash());
            Assert.Equal(close.Broadcasts[0].Transaction, commitment);
        }
        else
        {
            Assert.Single(close.Broadcasts);
        }

        // Unconfirmed: the commitment (and its CPFP) goes out again with the next block.
        var again = chain.Mine(monitor);
        Assert.Contains(again.Broadcasts, b => b.Transaction.GetHash() == commitment.GetHash());

        var firstSeen = new Dictionary<ClaimPurpose, uint>();
        var toMine = again.Broadcasts.Select(b => b.Transaction).ToArray();
        var commitHeight = chain.Height + 1;
        for (var i = 0; i < 80 && !monitor.IsFullyResolved; i++)
        {
            var output = chain.Mine(monitor, toMine);
            foreach (var b in output.Broadcasts)
            {
                firstSeen.TryAdd(b.Purpose, chain.Height);
                if (b.Purpose is ClaimPurpose.HtlcSuccess or ClaimPurpose.HtlcTimeout)
                {
                    // Zero-fee anchors HTLC transactions bring a wallet coin (input 1) and its change (output 1).
                    var inputs = format == CommitmentFormat.AnchorOutputs ? 2 : 1;
                    Assert.Equal(inputs, b.Transaction.Inputs.Count);
                    Assert.Equal(inputs, b.Transaction.Outputs.Count);
                    Assert.Equal(b.Purpose == ClaimPurpose.HtlcTimeout ? OfferedExpiry : 0u, b.Transaction.LockTime.Value);
                    if (inputs == 2)
                    {
                        Assert.Equal(wallet.ChangeScript, b.Transaction.Outputs[1].ScriptPubKey);
                    }
                }
            }
            toMine = output.Broadcasts.Select(b => b.Transaction).ToArray();
        }
        Assert.True(monitor.IsFullyResolved);

        var confirmed = Assert.Single(chain.Events.OfType<CommitmentConfirmed>());
        Assert.Equal(new CommitmentConfirmed(CommitmentKind.Local, commitment.GetHash(), commitHeight, 1), confirmed);
        // The HTLC-success goes out with the commitment's block, the timeout exactly at its expiry, the to_local
        // sweep when to_self_delay is reached for the next block.
        Assert.Equal(commitHeight, firstSeen[ClaimPurpose.HtlcSuccess]);
        Assert.Equal(OfferedExpiry, firstSeen[ClaimPurpose.HtlcTimeout]);
        Assert.Equal(commitHeight + DelayOfA - 1, firstSeen[ClaimPurpose.SweepToLocal]);
        Assert.Equal(commitHeight + 1 + DelayOfA - 1, firstSeen[ClaimPurpose.SweepSecondStage]);

        var htlcEvents = chain.Events.OfType<HtlcResolvedOnChain>().ToList();
        Assert.Contains(new HtlcResolvedOnChain(PreimageReceived.Hash, PreimageReceived, false, 0, false), htlcEvents);
        Assert.Contains(new HtlcResolvedOnChain(PreimageOffered.Hash, null, true, 0, true), htlcEvents);
        Assert.Equal(2, htlcEvents.Count);
        var swept = chain.Events.OfType<FundsSwept>().Select(e => e.Amount).Sum();
        var ct = parties.CommitmentOfA(1);
        var claimable = ct.Outputs.Where(o => o.Kind is CommitmentOutputKind.ToLocal or CommitmentOutputKind.OfferedHtlc or CommitmentOutputKind.ReceivedHtlc).Select(o => o.Amount).Sum();
        Assert.InRange(swept, claimable - Money.Satoshis(20_000), claimable);
        Assert.Single(chain.Events.OfType<ChannelFullyResolved>());
        Assert.Equal(3, chain.Events.OfType<FundsSwept>().Count()); // to_local and both second-stage outputs
    }

    [Fact]
    public void AnchorsHtlcClaimsNeedAWalletCoin()
    {
        var parties = new TwoParties(CommitmentFormat.AnchorOutputs);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(wallet: null);
        monitor.ApplyUpdate(new PreimageUpdate(6, PreimageReceived));
        var close = monitor.ApplyUpdate(new ForceCloseUpdate(7, "no wallet"));
        // Without a wallet the commitment still goes out, alone.
        Assert.Equal(ClaimPurpose.LocalCommitment, Assert.Single(close.Broadcasts).Purpose);
        var output = chain.Mine(monitor, close.Broadcasts[0].Transaction);
        Assert.DoesNotContain(output.Broadcasts, b => b.Purpose == ClaimPurpose.HtlcSuccess);
    }

    [Fact]
    public void PeerClaimingOurOfferedHtlcRevealsThePreimage()
    {
        var parties = new TwoParties(CommitmentFormat.StaticRemoteKey);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(null);
        var close = monitor.ApplyUpdate(new ForceCloseUpdate(6, "test"));
        chain.Mine(monitor, close.Broadcasts[0].Transaction);

        // B claims the HTLC A offered, on A's commitment, with the preimage (BOLT 5 "remote" success path).
        var bView = parties.ParamsB.BuildRemoteCommitment(1, parties.A.PerCommitmentPoint(1), Feerate, State(1).A, State(1).B, HtlcsOfA);
        var output = bView.HtlcOutputs.Single(o => o.Htlc == Offered);
        var bKey = KeyDerivation.DerivePrivateKey(parties.B.HtlcBasepointSecret, parties.A.PerCommitmentPoint(1));
        var claim = Satflow.Lightning.Transactions.Sweeps.OnChainClaims.ClaimRemoteHtlc(bView, output, bKey, PreimageOffered, new Key().PubKey.WitHash.ScriptPubKey, 1000);
        var result = chain.Mine(monitor, claim.Transaction);
        Assert.Contains(new HtlcResolvedOnChain(PreimageOffered.Hash, PreimageOffered, false, 0, true), result.Events);
        // The HTLC is gone: no timeout claim, even past its expiry.
        while (chain.Height < OfferedExpiry + 2)
        {
            Assert.DoesNotContain(chain.Mine(monitor).Broadcasts, b => b.Purpose == ClaimPurpose.HtlcTimeout);
        }
    }

    [Fact]
    public void OfferedHtlcPastItsExpiryForcesTheChannelClosed()
    {
        var parties = new TwoParties(CommitmentFormat.AnchorOutputs);
        var chain = new TestChain(OfferedExpiry - 1, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(new FakeWallet(chain));
        while (chain.Height < OfferedExpiry + ChannelMonitor.OfferedHtlcGraceBlocks - 1)
        {
            Assert.Empty(chain.Mine(monitor).Events);
        }
        Assert.False(monitor.IsForceClosed);
        var output = chain.Mine(monitor);
        Assert.IsType<MonitorForceClosed>(Assert.Single(output.Events));
        Assert.True(monitor.IsForceClosed);
        Assert.Contains(output.Broadcasts, b => b.Purpose == ClaimPurpose.LocalCommitment);
        Assert.Contains(output.Broadcasts, b => b.Purpose == ClaimPurpose.AnchorCpfp);
        // Reported once; a later ForceCloseUpdate from the state machine changes nothing.
        Assert.Empty(chain.Mine(monitor).Events);
        monitor.ApplyUpdate(new ForceCloseUpdate(6, "late"));
    }

    [Fact]
    public void ReceivedHtlcWithPreimageNearItsExpiryForcesTheChannelClosed()
    {
        var parties = new TwoParties(CommitmentFormat.StaticRemoteKey);
        var start = ReceivedExpiry - ChannelMonitor.ReceivedHtlcClaimBufferBlocks - 2;
        var chain = new TestChain(start, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(null);
        // Without the preimage there is nothing to claim: no reason to close yet (the offered HTLC is not expired before 503).
        var before = chain.Mine(monitor);
        Assert.Empty(before.Events);
        monitor.ApplyUpdate(new PreimageUpdate(6, PreimageReceived));
        var output = chain.Mine(monitor);
        Assert.Equal(ReceivedExpiry - ChannelMonitor.ReceivedHtlcClaimBufferBlocks, chain.Height);
        Assert.IsType<MonitorForceClosed>(Assert.Single(output.Events));
        var commitment = Assert.Single(output.Broadcasts).Transaction;
        output = chain.Mine(monitor, commitment);
        Assert.Contains(output.Broadcasts, b => b.Purpose == ClaimPurpose.HtlcSuccess);
    }
}
