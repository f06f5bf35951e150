using NBitcoin;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using static Satflow.Lightning.Tests.Monitor.TwoParties;

namespace Satflow.Lightning.Tests.Monitor;

/// <summary>The peer broadcasts a revoked commitment: the penalty takes everything.</summary>
public sealed class RevokedCommitmentTests
{
    private static (TwoParties Parties, TestChain Chain, ChannelMonitor Monitor) Setup(CommitmentFormat format)
    {
        var parties = new TwoParties(format);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(new FakeWallet(chain));
        monitor.ApplyUpdate(parties.RemoteUpdate(6, 2));
        monitor.ApplyUpdate(parties.Revocation(7, 1));
        chain.Mine(monitor);
        return (parties, chain, monitor);
    }

    [Theory]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    public void PenaltyTakesEveryOutput(CommitmentFormat format)
    {
        var (parties, chain, monitor) = Setup(format);
        var revoked = parties.SignedCommitmentOfB(1);
        var output = chain.Mine(monitor, revoked);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.RemoteRevoked, revoked.GetHash(), 481, 1), output.Events);
        var penalty = Assert.Single(output.Broadcasts, b => b.Purpose == ClaimPurpose.Penalty);
        var ct = parties.CommitmentOfB(1);
        var revocable = ct.Outputs.Where(o => o.Kind is CommitmentOutputKind.ToLocal or CommitmentOutputKind.OfferedHtlc or CommitmentOutputKind.ReceivedHtlc).ToList();
        Assert.Equal(3, revocable.Count);
        Assert.Equal(revocable.Select(o => new OutPoint(ct.TxId, o.Index).ToString()).Order(), penalty.Transaction.Inputs.Select(i => i.PrevOut.ToString()).Order());
        Assert.Equal(Destination, Assert.Single(penalty.Transaction.Outputs).ScriptPubKey);
        Assert.Contains(output.Broadcasts, b => b.Purpose == ClaimPurpose.ClaimToRemote);

        var toMine = output.Broadcasts.Select(b => b.Transaction).ToArray();
        for (var i = 0; i < 10 && !monitor.IsFullyResolved; i++)
        {
            toMine = chain.Mine(monitor, toMine).Broadcasts.Select(b => b.Transaction).ToArray();
        }
        Assert.True(monitor.IsFullyResolved);
        var swept = chain.Events.OfType<FundsSwept>().Select(e => e.Amount).Sum();
        var all = ct.Outputs.Where(o => o.Kind is not (CommitmentOutputKind.LocalAnchor or CommitmentOutputKind.RemoteAnchor)).Select(o => o.Amount).Sum();
        Assert.InRange(swept, all - Money.Satoshis(10_000), all);
        // Both HTLCs of the revoked commitment are reported failed once the penalty is buried.
        Assert.Equal(2, chain.Events.OfType<HtlcResolvedOnChain>().Count(e => e.TimedOut && e.Preimage is null));
    }

    [Theory]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    public void SecondStageOfRevokedCommitmentIsPenalised(CommitmentFormat format)
    {
        var (parties, chain, monitor) = Setup(format);
        var revoked = parties.SignedCommitmentOfB(1);
        chain.Mine(monitor, revoked);
        // B spends the HTLC it received with its HTLC-success before our penalty confirms.
        var success = parties.SecondStageOfB(1, Flip(Offered), PreimageOffered);
        var output = chain.Mine(monitor, success);
        Assert.Contains(new HtlcResolvedOnChain(PreimageOffered.Hash, PreimageOffered, false, 0, true), output.Events);
        var second = Assert.Single(output.Broadcasts, b => b.Purpose == ClaimPurpose.PenaltySecondStage);
        Assert.Equal(new OutPoint(success.GetHash(), 0), Assert.Single(second.Transaction.Inputs).PrevOut);
        Assert.Equal(new Sequence(0xFFFFFFFDu), second.Transaction.Inputs[0].Sequence);
        var penalty = Assert.Single(output.Broadcasts, b => b.Purpose == ClaimPurpose.Penalty);
        Assert.Equal(2, penalty.Transaction.Inputs.Count);
        Assert.DoesNotContain(penalty.Transaction.Inputs, i => success.Inputs[0].PrevOut == i.PrevOut);

        var toMine = output.Broadcasts.Select(b => b.Transaction).ToArray();
        for (var i = 0; i < 10 && !monitor.IsFullyResolved; i++)
        {
            toMine = chain.Mine(monitor, toMine).Broadcasts.Select(b => b.Transaction).ToArray();
        }
        Assert.True(monitor.IsFullyResolved);
    }

    [Fact]
    public void PenaltyFeeRisesAsTheDeadlineNears()
    {
        var (parties, chain, monitor) = Setup(CommitmentFormat.AnchorOutputs);
        var output = chain.Mine(monitor, parties.SignedCommitmentOfB(1));
        var fees = new List<Money>();
        for (var i = 0; i < DelayOfB; i++)
        {
            var penalty = output.Broadcasts.Single(b => b.Purpose == ClaimPurpose.Penalty);
            fees.Add(penalty.SpentOutputs.Select(o => o.Value).Sum() - penalty.Transaction.Outputs.Select(o => o.Value).Sum());
            output = chain.Mine(monitor);
        }
        for (var i = 1; i < fees.Count; i++)
        {
            Assert.True(fees[i] >= fees[i - 1]);
        }
        Assert.True(fees[^1] >= fees[0] * 2, $"{fees[0]} -> {fees[^1]}");
    }

    [Fact]
    public void RevocationArrivingAfterTheCommitmentConfirmedStillPunishes()
    {
        var parties = new TwoParties(CommitmentFormat.AnchorOutputs);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(null);
        monitor.ApplyUpdate(parties.RemoteUpdate(6, 2));
        var commitment = parties.SignedCommitmentOfB(1);
        var output = chain.Mine(monitor, commitment);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.Remote, commitment.GetHash(), 480, 1), output.Events);
        Assert.DoesNotContain(output.Broadcasts, b => b.Purpose == ClaimPurpose.Penalty);

        // The peer revokes the very commitment it just broadcast: it is now a breach.
        output = monitor.ApplyUpdate(parties.Revocation(7, 1));
        chain.Check(output);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.RemoteRevoked, commitment.GetHash(), 480, 1), output.Events);
        var penalty = Assert.Single(output.Broadcasts, b => b.Purpose == ClaimPurpose.Penalty);
        Assert.Equal(3, penalty.Transaction.Inputs.Count);
    }

    [Fact]
    public void OnlyTheSecretsAndTheHtlcTableAreKeptForRevokedCommitments()
    {
        var parties = new TwoParties(CommitmentFormat.StaticRemoteKey);
        var monitor = parties.StandardMonitor(null);
        var size = monitor.Serialize().Length;
        // Many more revoked commitments with the same HTLCs do not grow the monitor (the secret store is bounded).
        var id = 6ul;
        for (ulong n = 2; n < 40; n++)
        {
            monitor.ApplyUpdate(parties.RemoteUpdate(id++, n));
            monitor.ApplyUpdate(parties.Revocation(id++, n - 1));
        }
        Assert.InRange(monitor.Serialize().Length, size, size + (49 * 40));
        // Any of them is still recognised and punished.
        var output = monitor.BlockConnected(600, uint256.One, [parties.SignedCommitmentOfB(17)], 1000);
        Assert.Contains(output.Events, e => e is CommitmentConfirmed { Kind: CommitmentKind.RemoteRevoked, CommitmentNumber: 17 });
        Assert.Contains(output.Broadcasts, b => b.Purpose == ClaimPurpose.Penalty);
    }

    [Fact]
    public void HtlcsSettledSinceTheRevokedCommitmentAreNotReportedFailed()
    {
        var parties = new TwoParties(CommitmentFormat.AnchorOutputs);
        var chain = new TestChain(479, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        var monitor = parties.StandardMonitor(null);
        // The HTLCs were settled: the latest commitments (10) carry none.
        var id = 6ul;
        for (ulong n = 2; n <= 10; n++)
        {
            monitor.ApplyUpdate(parties.RemoteUpdate(id++, n));
            monitor.ApplyUpdate(parties.Revocation(id++, n - 1));
        }
        monitor.ApplyUpdate(parties.LocalUpdate(id, 10));
        var output = chain.Mine(monitor, parties.SignedCommitmentOfB(1));
        var penalty = Assert.Single(output.Broadcasts, b => b.Purpose == ClaimPurpose.Penalty);
        Assert.Equal(3, penalty.Transaction.Inputs.Count);
        var toMine = output.Broadcasts.Select(b => b.Transaction).ToArray();
        for (var i = 0; i < 10 && !monitor.IsFullyResolved; i++)
        {
            toMine = chain.Mine(monitor, toMine).Broadcasts.Select(b => b.Transaction).ToArray();
        }
        Assert.True(monitor.IsFullyResolved);
        Assert.DoesNotContain(chain.Events, e => e is HtlcResolvedOnChain);
    }
}
