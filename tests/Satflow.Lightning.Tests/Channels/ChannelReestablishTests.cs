using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Channels;

public sealed class ChannelReestablishTests
{
    /// <summary>
    /// A two-phase dance (A and B each add an HTLC; then B fulfills A's and A fails B's), driven one message or one
    /// signature at a time; after tick <paramref name="disconnectAt"/> (and optionally a second time) the connection
    /// drops and both sides reestablish. Returns the number of ticks used.
    /// </summary>
    private static int RunDance(int disconnectAt, int secondDisconnectAt = -1)
    {
        var pair = ChannelFactory.NormalPair();
        var ticks = 0;
        var a0 = pair.A.LocalBalance;
        void Tick()
        {
            if (ticks == disconnectAt || ticks == secondDisconnectAt)
            {
                pair.Disconnect();
                pair.Reconnect();
            }
            ticks++;
        }
        void StepSettle()
        {
            for (var guard = 0; guard < 500; guard++)
            {
                Tick();
                var side = pair.SideA.Inbox.Count > 0 ? pair.SideA : pair.SideB.Inbox.Count > 0 ? pair.SideB : null;
                if (side is not null)
                {
                    pair.DeliverOne(side);
                    continue;
                }
                var signer = pair.A.HasChangesToSign ? pair.SideA : pair.B.HasChangesToSign ? pair.SideB : null;
                if (signer is null)
                {
                    return;
                }
                pair.Sign(signer);
            }
            throw new InvalidOperationException("No convergence.");
        }

        pair.Add(pair.SideA, 30_000_000, 1);
        pair.Add(pair.SideB, 10_000_000, 2);
        StepSettle();
        Assert.Single(pair.SideB.Events.OfType<HtlcReceived>());
        Assert.Single(pair.SideA.Events.OfType<HtlcReceived>());
        pair.AssertConsistent();

        pair.Absorb(pair.SideB, pair.B.FulfillHtlc(0, ChannelFactory.Preimage(1)));
        pair.Absorb(pair.SideA, pair.A.FailHtlc(0, new byte[] { 7 }));
        StepSettle();
        Assert.All(pair.SideA.Events.OfType<HtlcFulfilled>(), f => Assert.Equal(ChannelFactory.Preimage(1), f.Preimage));
        Assert.NotEmpty(pair.SideA.Events.OfType<HtlcFulfilled>());
        Assert.Single(pair.SideB.Events.OfType<HtlcFailed>());
        Assert.Empty(pair.A.Htlcs);
        Assert.Empty(pair.B.Htlcs);
        Assert.Equal(a0 - new MilliSatoshi(30_000_000), pair.A.LocalBalance);
        pair.AssertConsistent();
        return ticks;
    }

    [Fact]
    public void DisconnectAtEveryStepConverges()
    {
        var total = RunDance(-1);
        Assert.True(total > 10);
        for (var k = 0; k < total; k++)
        {
            RunDance(k);
        }
    }

    [Fact]
    public void DoubleDisconnectsConverge()
    {
        var total = RunDance(-1);
        for (var k = 0; k < total; k += 3)
        {
            RunDance(k, k + 1);
        }
    }

    [Fact]
    public void ChannelReadyIsRetransmitted()
    {
        var pair = ChannelPair.Open(new TestChannelSpec());
        pair.A.FundingConfirmed(3, ChannelFactory.Scid);
        pair.B.FundingConfirmed(3, ChannelFactory.Scid);
        // Both channel_ready messages are lost.
        pair.Disconnect();
        pair.Reconnect();
        pair.Pump();
        Assert.Equal(ChannelState.Normal, pair.A.State);
        Assert.Equal(ChannelState.Normal, pair.B.State);
    }

    [Fact]
    public void ReestablishFieldsFollowTheCommitments()
    {
        var pair = ChannelFactory.NormalPair();
        var r0 = pair.A.CreateReestablish();
        Assert.Equal(1UL, r0.NextCommitmentNumber);
        Assert.Equal(0UL, r0.NextRevocationNumber);
        Assert.Equal(Bytes32.Zero, r0.YourLastPerCommitmentSecret);
        Assert.Equal(ChannelFactory.KeysA.PerCommitmentPoint(0), r0.MyCurrentPerCommitmentPoint.ToPubKey());
        pair.Add(pair.SideA, 5_000_000, 1);
        pair.Settle();
        var r1 = pair.A.CreateReestablish();
        Assert.Equal(2UL, r1.NextCommitmentNumber);
        Assert.Equal(1UL, r1.NextRevocationNumber);
        Assert.Equal(ChannelFactory.KeysB.PerCommitmentSecret(0), r1.YourLastPerCommitmentSecret);
    }

    [Fact]
    public void PeerProvesWeLostStateSoWeNeverBroadcast()
    {
        var pair = ChannelFactory.NormalPair();
        var stale = pair.A.Serialize();
        pair.Add(pair.SideA, 5_000_000, 1);
        pair.Settle();
        pair.Add(pair.SideB, 5_000_000, 2);
        pair.Settle();
        // A restarts from an old backup.
        var old = Channel.Deserialize(stale, ChannelFactory.KeysA);
        old.PeerDisconnected();
        pair.B.PeerDisconnected();
        var fromB = pair.B.CreateReestablish();
        var output = old.Handle(fromB);
        Assert.IsType<LocalDataLoss>(Assert.Single(output.Events));
        Assert.IsType<Error>(Assert.Single(output.Messages));
        Assert.Empty(output.MonitorUpdates);
        Assert.Equal(ChannelState.LocalDataLoss, old.State);
        // Never sign or broadcast the stale commitment.
        var close = old.ForceClose("peer error");
        Assert.Empty(close.MonitorUpdates);
        Assert.True(old.SignCommitment().IsEmpty);
        Assert.Throws<ChannelUpdateRefusedException>(() => old.AddHtlc(new MilliSatoshi(1_000_000), ChannelFactory.Preimage(1).Hash, 800_000, ChannelFactory.Onion(1), out _));
        var restored = Channel.Deserialize(old.Serialize(), ChannelFactory.KeysA);
        Assert.Equal(ChannelState.LocalDataLoss, restored.State);
        // The up-to-date peer sees a peer that is behind: a protocol error (it force closes).
        var fromOld = old.CreateReestablish();
        Assert.Throws<ChannelProtocolException>(() => pair.B.Handle(fromOld));
    }

    [Fact]
    public void LyingOrBrokenReestablishIsRefused()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Add(pair.SideA, 5_000_000, 1);
        pair.Settle();
        pair.Disconnect();
        var genuine = pair.B.CreateReestablish();
        var a = pair.A;
        var before = a.Serialize();
        // Claims revocations we never sent, without proof.
        Assert.Throws<ChannelProtocolException>(() => a.Handle(genuine with { NextRevocationNumber = 5, YourLastPerCommitmentSecret = new Bytes32(new byte[32]) }));
        Assert.Throws<ChannelProtocolException>(() => a.Handle(genuine with { NextCommitmentNumber = 0 }));
        Assert.Throws<ChannelProtocolException>(() => a.Handle(genuine with { NextCommitmentNumber = 9 }));
        Assert.Throws<ChannelProtocolException>(() => a.Handle(genuine with { YourLastPerCommitmentSecret = ChannelFactory.KeysA.PerCommitmentSecret(3) }));
        Assert.Equal(before, a.Serialize());
        a.Handle(genuine);
        Assert.False(a.IsOffline);
    }

    [Fact]
    public void RevokeAndCommitAreRetransmittedInOriginalOrder()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Add(pair.SideA, 5_000_000, 1);
        pair.Sign(pair.SideA);
        pair.Pump();
        // B got A's add+commit, revoked, A got the revocation. Now B adds, and A adds again and signs; then B signs
        // after receiving A's commit. We drop everything in flight after B sent revoke and commit.
        pair.Add(pair.SideB, 3_000_000, 2);
        pair.Sign(pair.SideB);
        var inFlightToA = pair.SideA.Inbox.ToList();
        Assert.Contains(inFlightToA, m => m is CommitmentSigned);
        pair.DeliverOne(pair.SideA); // update_add_htlc
        pair.DeliverOne(pair.SideA); // commitment_signed: A revokes
        Assert.IsType<RevokeAndAck>(pair.SideB.Inbox.Peek());
        pair.Sign(pair.SideA); // A signs B's add: revoke then commit, both lost
        pair.Disconnect();
        var fromB = pair.B.CreateReestablish();
        var output = pair.A.Handle(fromB);
        Assert.Collection(output.Messages,
            m => Assert.IsType<RevokeAndAck>(m),
            m => Assert.IsType<CommitmentSigned>(m));
        Assert.Empty(output.MonitorUpdates.OfType<RemoteCommitmentUpdate>());
    }
}
