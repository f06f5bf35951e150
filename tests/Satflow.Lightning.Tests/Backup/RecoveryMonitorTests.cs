using CsCheck;
using NBitcoin;
using Satflow.Lightning.Backup;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Tests.Monitor;
using Satflow.Lightning.Transactions;

namespace Satflow.Lightning.Tests.Backup;

/// <summary>Recovering the <c>to_remote</c> output from a backup after the peer force closes.</summary>
public sealed class RecoveryMonitorTests
{
    [Theory]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    public void PeerForceCloseIsSweptFromTheBackupAlone(CommitmentFormat format)
    {
        var parties = new TwoParties(format);
        var backup = StaticChannelBackup.Decode(new StaticChannelBackup([StaticChannelBackupTests.Entry(format)]).Encode(TwoParties.SeedA), TwoParties.SeedA);
        var recovery = new RecoveryMonitor(backup.Channels[0], TwoParties.SeedA, TwoParties.Destination);
        var chain = new TestChain(600, parties.CommitmentOfA(1).FundingOutput, parties.ParamsA.FundingOutPoint);
        MonitorOutput Connect(uint h, uint256 hash, IReadOnlyList<Transaction> txs) => recovery.BlockConnected(h, hash, txs, 2000);
        Assert.Empty(chain.Mine(Connect).Broadcasts);

        // The peer closes with its latest commitment (it has HTLCs: those are lost, to_remote is not).
        var commitment = parties.SignedCommitmentOfB(2);
        var output = chain.Mine(Connect, commitment);
        Assert.Contains(new CommitmentConfirmed(CommitmentKind.Remote, commitment.GetHash(), 602, 2), output.Events);
        var sweep = Assert.Single(output.Broadcasts);
        Assert.Equal(ClaimPurpose.ClaimToRemote, sweep.Purpose);
        var toRemote = parties.CommitmentOfB(2).Outputs.Single(o => o.Kind == CommitmentOutputKind.ToRemote);
        Assert.Equal(new OutPoint(commitment.GetHash(), toRemote.Index), Assert.Single(sweep.Transaction.Inputs).PrevOut);
        Assert.Equal(TwoParties.Destination, Assert.Single(sweep.Transaction.Outputs).ScriptPubKey);

        // Reorged out and back: swept again.
        chain.Mine(Connect, sweep.Transaction);
        var undone = chain.Disconnect(recovery.BlockDisconnected);
        Assert.Equal(sweep.Transaction.GetHash(), Assert.Single(undone.Broadcasts).Transaction.GetHash());
        chain.Mine(Connect, sweep.Transaction);
        for (var i = 0; i < ChannelMonitor.AntiReorgDelay - 1; i++)
        {
            Assert.False(recovery.IsFullyResolved);
            chain.Mine(Connect);
        }
        Assert.True(recovery.IsFullyResolved);
        Assert.Single(chain.Events.OfType<ChannelFullyResolved>());
        var swept = Assert.Single(chain.Events.OfType<FundsSwept>().DistinctBy(e => e.TxId));
        Assert.InRange(swept.Amount, toRemote.Amount - Money.Satoshis(2000), toRemote.Amount);
    }

    [Fact]
    public void UnrelatedSpendOfTheFundingIsReportedAsUnknown()
    {
        var parties = new TwoParties(CommitmentFormat.AnchorOutputs);
        var recovery = new RecoveryMonitor(StaticChannelBackupTests.Entry(CommitmentFormat.AnchorOutputs), TwoParties.SeedA, TwoParties.Destination);
        var other = Transaction.Create(Network.Main);
        other.Inputs.Add(parties.ParamsA.FundingOutPoint);
        other.Outputs.Add(new TxOut(Money.Satoshis(990_000), new Key().PubKey.WitHash.ScriptPubKey));
        var output = recovery.BlockConnected(700, uint256.One, [other], 1000);
        Assert.Empty(output.Broadcasts);
        Assert.Equal(CommitmentKind.Unknown, Assert.IsType<CommitmentConfirmed>(Assert.Single(output.Events)).Kind);
    }

    [Fact]
    public void StateSurvivesARestartWithoutRepeatingEvents()
    {
        var parties = new TwoParties(CommitmentFormat.AnchorOutputs);
        var entry = StaticChannelBackupTests.Entry(CommitmentFormat.AnchorOutputs);
        var recovery = new RecoveryMonitor(entry, TwoParties.SeedA, TwoParties.Destination);
        var commitment = parties.SignedCommitmentOfB(1);
        var first = recovery.BlockConnected(700, uint256.One, [commitment], 1000);
        var saved = recovery.Serialize();
        Assert.Equal(1, saved[0]);
        var restored = RecoveryMonitor.Deserialize(saved, entry, TwoParties.SeedA, TwoParties.Destination);
        Assert.Equal(saved, restored.Serialize());
        var next = restored.BlockConnected(701, uint256.Zero, [], 1000);
        Assert.Empty(next.Events);
        Assert.Equal(first.Broadcasts.Single().Transaction.GetHash(), next.Broadcasts.Single().Transaction.GetHash());

        var other = entry with { FundingOutPoint = new OutPoint(uint256.One, 0) };
        Assert.Equal("wrong channel", Assert.Throws<ChannelMonitorFormatException>(() => RecoveryMonitor.Deserialize(saved, other, TwoParties.SeedA, TwoParties.Destination)).Reason);
        Gen.Byte.Array[0, 300].Sample(bytes =>
        {
            try
            {
                RecoveryMonitor.Deserialize(bytes, entry, TwoParties.SeedA, TwoParties.Destination);
            }
            catch (ChannelMonitorFormatException)
            {
            }
        }, iter: 100);
        for (var cut = 0; cut < saved.Length; cut += 37)
        {
            Assert.Throws<ChannelMonitorFormatException>(() => RecoveryMonitor.Deserialize(saved.AsSpan(0, cut), entry, TwoParties.SeedA, TwoParties.Destination));
        }
    }
}
