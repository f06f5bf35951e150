using CsCheck;
using NBitcoin;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using static Satflow.Lightning.Tests.Monitor.TwoParties;

namespace Satflow.Lightning.Tests.Monitor;

/// <summary>Persisting the monitor: round trips, and corrupt data giving only the typed exception.</summary>
public sealed class MonitorSerializationTests
{
    private static readonly TwoParties Parties = new(CommitmentFormat.AnchorOutputs);

    private static readonly Lazy<byte[]> Closing = new(() =>
    {
        var chain = new TestChain(479, Parties.CommitmentOfA(1).FundingOutput, Parties.ParamsA.FundingOutPoint);
        var monitor = Parties.StandardMonitor(null);
        monitor.ApplyUpdate(new PreimageUpdate(6, PreimageReceived));
        monitor.ApplyUpdate(Parties.RemoteUpdate(7, 2));
        chain.Mine(monitor);
        chain.Mine(monitor, Parties.SignedCommitmentOfB(1));
        chain.Mine(monitor);
        return monitor.Serialize();
    });

    [Fact]
    public void RoundTripKeepsStateAndBehaviour()
    {
        var chain = new TestChain(479, Parties.CommitmentOfA(1).FundingOutput, Parties.ParamsA.FundingOutPoint);
        var monitor = Parties.StandardMonitor(null);
        monitor.ApplyUpdate(new PreimageUpdate(6, PreimageReceived));
        chain.Mine(monitor);
        var bytes = monitor.Serialize();
        Assert.Equal(1, bytes[0]);
        var restored = ChannelMonitor.Deserialize(bytes, Parties.A);
        Assert.Equal(bytes, restored.Serialize());
        Assert.Equal(monitor.LastUpdateId, restored.LastUpdateId);
        Assert.Equal(monitor.LocalCommitmentTxId, restored.LocalCommitmentTxId);
        Assert.Equal(monitor.Height, restored.Height);

        // Both react identically to the peer's commitment and the following blocks.
        var commitment = Parties.SignedCommitmentOfB(1);
        var a = monitor.BlockConnected(481, TestChain.HashOf(481, "x"), [commitment], 3000);
        var b = restored.BlockConnected(481, TestChain.HashOf(481, "x"), [commitment], 3000);
        Assert.Equal(a.Events, b.Events);
        Assert.Equal(a.Broadcasts.Select(x => x.Transaction.ToHex()), b.Broadcasts.Select(x => x.Transaction.ToHex()));
        Assert.NotEmpty(a.Broadcasts);

        // Mid-close state (chain log, reported events, fee levels) round-trips too: no event is reported twice.
        var again = ChannelMonitor.Deserialize(restored.Serialize(), Parties.A);
        Assert.Equal(restored.Serialize(), again.Serialize());
        var next = again.BlockConnected(482, TestChain.HashOf(482, "x"), [], 3000);
        Assert.Empty(next.Events);
        Assert.Equal(b.Broadcasts.Select(x => x.Purpose), next.Broadcasts.Select(x => x.Purpose));
    }

    [Fact]
    public void ForceClosedAndRevokedStateRoundTrips()
    {
        var monitor = Parties.StandardMonitor(null);
        monitor.ApplyUpdate(Parties.RemoteUpdate(6, 2));
        monitor.ApplyUpdate(Parties.Revocation(7, 1));
        monitor.ApplyUpdate(new ForceCloseUpdate(8, "peer unresponsive"));
        var restored = ChannelMonitor.Deserialize(monitor.Serialize(), Parties.A);
        Assert.True(restored.IsForceClosed);
        Assert.Equal("peer unresponsive", restored.ForceCloseReason);
        // The revoked commitment 1 is still punished after the restart.
        var output = restored.BlockConnected(500, uint256.One, [Parties.SignedCommitmentOfB(1)], 1000);
        Assert.Contains(output.Broadcasts, b => b.Purpose == ClaimPurpose.Penalty);
    }

    [Fact]
    public void WrongKeysAndUnknownVersionAreTypedErrors()
    {
        var bytes = Closing.Value;
        Assert.Equal("wrong keys", Assert.Throws<ChannelMonitorFormatException>(() => ChannelMonitor.Deserialize(bytes, Parties.B)).Reason);
        var future = bytes.ToArray();
        future[0] = 2;
        Assert.Equal("unknown version", Assert.Throws<ChannelMonitorFormatException>(() => ChannelMonitor.Deserialize(future, Parties.A)).Reason);
        Assert.Throws<ChannelMonitorFormatException>(() => ChannelMonitor.Deserialize([], Parties.A));
        for (var cut = 1; cut < bytes.Length; cut += 97)
        {
            Assert.Throws<ChannelMonitorFormatException>(() => ChannelMonitor.Deserialize(bytes.AsSpan(0, cut), Parties.A));
        }
        Assert.Throws<ChannelMonitorFormatException>(() => ChannelMonitor.Deserialize([.. bytes, 0], Parties.A));
    }

    [Fact]
    public void RandomBytesGiveOnlyTheTypedException()
    {
        Gen.Byte.Array[0, 600].Sample(bytes =>
        {
            try
            {
                ChannelMonitor.Deserialize(bytes, Parties.A);
            }
            catch (ChannelMonitorFormatException)
            {
            }
        }, iter: 500);
        // Random data behind a valid version byte and parameters header reaches the deeper readers.
        var header = Closing.Value.AsSpan(0, 400).ToArray();
        Gen.Byte.Array[0, 400].Sample(tail =>
        {
            try
            {
                ChannelMonitor.Deserialize([.. header, .. tail], Parties.A);
            }
            catch (ChannelMonitorFormatException)
            {
            }
        }, iter: 200);
    }

    [Fact]
    public void MutatedDataGivesTheTypedExceptionOrAConsistentMonitor()
    {
        var valid = Closing.Value;
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte).Sample((position, value) =>
        {
            var bytes = valid.ToArray();
            bytes[position] ^= (byte)(value | 1);
            try
            {
                var monitor = ChannelMonitor.Deserialize(bytes, Parties.A);
                // Whatever was accepted serializes back to a form it reads again.
                ChannelMonitor.Deserialize(monitor.Serialize(), Parties.A);
            }
            catch (ChannelMonitorFormatException)
            {
            }
        }, iter: 150);
    }
}
