using NBitcoin;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Monitor.TwoParties;

namespace Satflow.Lightning.Tests.Monitor;

/// <summary>Updates from the state machine: ordering, signatures, revocation secrets.</summary>
public sealed class MonitorUpdateTests
{
    private static readonly TwoParties Parties = new(CommitmentFormat.AnchorOutputs);

    [Fact]
    public void GapsAndOldIdsAreRejectedAndTheLastIdMayBeReplayed()
    {
        var monitor = new ChannelMonitor(Parties.ParamsA, Parties.A, Destination);
        var gap = Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(Parties.LocalUpdate(2, 0)));
        Assert.Equal(ChannelMonitorError.UpdateOutOfOrder, gap.Error);
        monitor.ApplyUpdate(Parties.LocalUpdate(1, 0));
        monitor.ApplyUpdate(Parties.RemoteUpdate(2, 0));
        Assert.Equal(2ul, monitor.LastUpdateId);
        // Replaying the last update is harmless.
        Assert.Same(MonitorOutput.Empty, monitor.ApplyUpdate(Parties.RemoteUpdate(2, 0)));
        Assert.Equal(ChannelMonitorError.UpdateOutOfOrder, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(Parties.LocalUpdate(1, 0))).Error);
        Assert.Equal(ChannelMonitorError.UpdateOutOfOrder, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(new PreimageUpdate(4, PreimageOffered))).Error);
        Assert.Equal(2ul, monitor.LastUpdateId);
    }

    [Fact]
    public void BadCommitmentSignatureIsRejectedWithoutChangingState()
    {
        var monitor = new ChannelMonitor(Parties.ParamsA, Parties.A, Destination);
        var good = Parties.LocalUpdate(1, 0);
        var forged = good with { RemoteCommitmentSignature = Bolt3Signing.SignCommitment(Parties.CommitmentOfA(0), new Key()) };
        Assert.Equal(ChannelMonitorError.InvalidSignature, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(forged)).Error);
        Assert.Equal(0ul, monitor.LastUpdateId);
        Assert.Null(monitor.LocalCommitmentTxId);
        monitor.ApplyUpdate(good);
        Assert.Equal(Parties.CommitmentOfA(0).TxId, monitor.LocalCommitmentTxId);
    }

    [Fact]
    public void BadHtlcSignaturesAreRejected()
    {
        var monitor = new ChannelMonitor(Parties.ParamsA, Parties.A, Destination);
        var good = Parties.LocalUpdate(1, 1);
        var swapped = good with { RemoteHtlcSignatures = good.RemoteHtlcSignatures.Reverse().ToList() };
        Assert.Equal(ChannelMonitorError.InvalidSignature, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(swapped)).Error);
        var missing = good with { RemoteHtlcSignatures = good.RemoteHtlcSignatures.Take(1).ToList() };
        Assert.Equal(ChannelMonitorError.InvalidSignature, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(missing)).Error);
        monitor.ApplyUpdate(good);
    }

    [Fact]
    public void WrongRevocationSecretsAreRejected()
    {
        var monitor = new ChannelMonitor(Parties.ParamsA, Parties.A, Destination);
        monitor.ApplyUpdate(Parties.LocalUpdate(1, 0));
        monitor.ApplyUpdate(Parties.RemoteUpdate(2, 0));
        monitor.ApplyUpdate(Parties.RemoteUpdate(3, 1));
        var wrong = new RemoteRevocationUpdate(4, 0, Parties.B.PerCommitmentSecret(1));
        Assert.Equal(ChannelMonitorError.InvalidRevocationSecret, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(wrong)).Error);
        var random = new RemoteRevocationUpdate(4, 0, new Bytes32(Enumerable.Repeat((byte)7, 32).ToArray()));
        Assert.Equal(ChannelMonitorError.InvalidRevocationSecret, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(random)).Error);
        // Revoking a commitment that is not the oldest unrevoked one is refused.
        Assert.Equal(ChannelMonitorError.InvalidUpdate, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(Parties.Revocation(4, 1))).Error);
        monitor.ApplyUpdate(Parties.Revocation(4, 0));
        // A third unrevoked commitment cannot exist.
        monitor.ApplyUpdate(Parties.RemoteUpdate(5, 2));
        Assert.Equal(ChannelMonitorError.InvalidUpdate, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(Parties.RemoteUpdate(6, 3))).Error);
    }

    [Fact]
    public void RevocationSecretsMustChainAcrossCommitments()
    {
        // A secret from another seed matches no stored secret chain, even if the point matched.
        var monitor = new ChannelMonitor(Parties.ParamsA, Parties.A, Destination);
        monitor.ApplyUpdate(Parties.RemoteUpdate(1, 0));
        monitor.ApplyUpdate(Parties.RemoteUpdate(2, 1));
        monitor.ApplyUpdate(Parties.Revocation(3, 0));
        var other = Satflow.Lightning.Channels.LocalChannelKeys.Derive(Enumerable.Repeat((byte)0x99, 32).ToArray(), 1);
        monitor.ApplyUpdate(new RemoteCommitmentUpdate(4, 2, other.PerCommitmentPoint(2), Feerate, State(0).B, State(0).A, []));
        monitor.ApplyUpdate(Parties.Revocation(5, 1));
        // Commitment 2 used a point of another seed: its secret is accepted alone (nothing to derive yet)...
        monitor.ApplyUpdate(new RemoteRevocationUpdate(6, 2, other.PerCommitmentSecret(2)));
        monitor.ApplyUpdate(Parties.RemoteUpdate(7, 3));
        // ...but the next secret of the real chain must derive it (BOLT 3 compact storage), so it is refused.
        var error = Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(Parties.Revocation(8, 3)));
        Assert.Equal(ChannelMonitorError.InvalidRevocationSecret, error.Error);
    }

    [Fact]
    public void ForceCloseNeedsOurCommitmentAndCoopCloseMustSpendTheFunding()
    {
        var monitor = new ChannelMonitor(Parties.ParamsA, Parties.A, Destination);
        Assert.Equal(ChannelMonitorError.NoLocalCommitment, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(new ForceCloseUpdate(1, "x"))).Error);
        var unrelated = Transaction.Create(Network.Main);
        unrelated.Inputs.Add(new OutPoint(uint256.One, 0));
        Assert.Equal(ChannelMonitorError.InvalidUpdate, Assert.Throws<ChannelMonitorException>(() => monitor.ApplyUpdate(new CooperativeCloseUpdate(1, unrelated))).Error);
        Assert.False(monitor.IsForceClosed);
    }

    [Fact]
    public void KeysOfAnotherChannelAreRefused() =>
        Assert.Throws<ArgumentException>(() => new ChannelMonitor(Parties.ParamsA, Parties.B, Destination));
}
