using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Channels;

public sealed class ChannelDetailTests
{
    [Fact]
    public void DisconnectForgetsThePeersUncommittedUpdatesAndResendsOurs()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Add(pair.SideA, 4_000_000, 1);
        pair.Pump();
        Assert.Single(pair.B.Htlcs);
        pair.Disconnect();
        // B forgot A's uncommitted add; A kept it and re-sends it with the same id after the reestablish.
        Assert.Empty(pair.B.Htlcs);
        Assert.Single(pair.A.Htlcs);
        pair.Reconnect();
        pair.Pump();
        Assert.Single(pair.B.Htlcs);
        pair.Settle();
        var received = Assert.Single(pair.SideB.Events.OfType<HtlcReceived>());
        Assert.Equal(0UL, received.Id);
        pair.AssertConsistent();
    }

    [Fact]
    public void FulfillWhileOfflineIsPersistedAndSentAfterReconnection()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Add(pair.SideA, 4_000_000, 1);
        pair.Settle();
        pair.Disconnect();
        var output = pair.B.FulfillHtlc(0, ChannelFactory.Preimage(1));
        Assert.IsType<PreimageUpdate>(Assert.Single(output.MonitorUpdates));
        Assert.Empty(output.Messages);
        pair.Absorb(pair.SideB, output);
        pair.Reconnect();
        pair.Settle();
        Assert.Single(pair.SideA.Events.OfType<HtlcFulfilled>());
        Assert.Empty(pair.A.Htlcs);
        pair.AssertConsistent();
    }

    [Fact]
    public void HtlcStatesFollowTheDance()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Add(pair.SideA, 4_000_000, 1);
        Assert.Equal(ChannelHtlcState.Adding, Assert.Single(pair.A.Htlcs).State);
        pair.Settle();
        var htlc = Assert.Single(pair.A.Htlcs);
        Assert.Equal(ChannelHtlcState.Committed, htlc.State);
        Assert.Equal(ChannelHtlcDirection.Outgoing, htlc.Direction);
        Assert.Equal(ChannelFactory.Preimage(1).Hash, htlc.PaymentHash);
        pair.Absorb(pair.SideB, pair.B.FailHtlc(0, new byte[] { 1 }));
        Assert.Equal(ChannelHtlcState.Removing, Assert.Single(pair.B.Htlcs).State);
        pair.Pump();
        Assert.Equal(ChannelHtlcState.Removing, Assert.Single(pair.A.Htlcs).State);
        pair.Settle();
        Assert.Empty(pair.A.Htlcs);
    }

    [Fact]
    public void BlindedPathKeyReachesTheEvent()
    {
        var pair = ChannelFactory.NormalPair();
        var pathKey = new Key().PubKey;
        pair.Absorb(pair.SideA, pair.A.AddHtlc(new MilliSatoshi(3_000_000), ChannelFactory.Preimage(1).Hash, 800_000, ChannelFactory.Onion(1), out _, pathKey));
        pair.Settle();
        Assert.Equal(pathKey, Assert.Single(pair.SideB.Events.OfType<HtlcReceived>()).PathKey);
    }

    [Fact]
    public void ClosingNegotiationRestartsAfterReconnection()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Absorb(pair.SideA, pair.A.Shutdown(new Key().PubKey.WitHash.ScriptPubKey));
        // Deliver the shutdown and the reply, but lose A's first closing_signed.
        pair.DeliverOne(pair.SideB);
        Assert.Equal(ChannelState.NegotiatingClose, pair.B.State);
        pair.DeliverOne(pair.SideA);
        Assert.Equal(ChannelState.NegotiatingClose, pair.A.State);
        Assert.IsType<ClosingSigned>(Assert.Single(pair.SideB.Inbox));
        pair.Disconnect();
        pair.Reconnect();
        pair.Settle();
        Assert.Equal(ChannelState.Closed, pair.A.State);
        Assert.Equal(ChannelState.Closed, pair.B.State);
        Assert.Single(pair.SideA.Updates.OfType<CooperativeCloseUpdate>());
    }

    [Fact]
    public void AnswerToShutdownWaitsForOurUnsignedUpdates()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec());
        pair.Add(pair.SideA, 4_000_000, 1);
        pair.Settle();
        // B settles the HTLC but has not signed yet when A's shutdown arrives.
        pair.Absorb(pair.SideB, pair.B.FulfillHtlc(0, ChannelFactory.Preimage(1)));
        pair.Absorb(pair.SideA, pair.A.Shutdown(new Key().PubKey.WitHash.ScriptPubKey));
        pair.DeliverOne(pair.SideB);
        Assert.Single(pair.SideB.Events.OfType<ShutdownRequested>());
        var deferred = pair.B.Shutdown(new Key().PubKey.WitHash.ScriptPubKey);
        Assert.Empty(deferred.Messages);
        pair.Absorb(pair.SideB, deferred);
        Assert.Throws<ChannelUpdateRefusedException>(() => pair.B.Shutdown(new Key().PubKey.WitHash.ScriptPubKey));
        var sign = pair.B.SignCommitment();
        Assert.Collection(sign.Messages, m => Assert.IsType<CommitmentSigned>(m), m => Assert.IsType<Shutdown>(m));
        pair.Absorb(pair.SideB, sign);
        pair.Settle();
        Assert.Equal(ChannelState.Closed, pair.A.State);
        Assert.Equal(ChannelState.Closed, pair.B.State);
    }

    [Fact]
    public void TerminalChannelsIgnoreMessagesAndRepeatTheError()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Absorb(pair.SideA, pair.A.ForceClose("bye"));
        Assert.True(pair.A.Handle(new UpdateFee(pair.A.ChannelId, 3000)).IsEmpty);
        pair.A.PeerDisconnected();
        var reply = pair.A.Handle(pair.B.CreateReestablish());
        Assert.IsType<Error>(Assert.Single(reply.Messages));
        Assert.Empty(reply.MonitorUpdates);
    }

    [Fact]
    public void PeerErrorForceCloses()
    {
        var pair = ChannelFactory.NormalPair();
        var other = new ChannelId(new Bytes32(Enumerable.Repeat((byte)9, 32).ToArray()));
        Assert.True(pair.B.Handle(new Error(other, "not yours"u8.ToArray())).IsEmpty);
        Assert.Equal(ChannelState.Normal, pair.B.State);
        var output = pair.B.Handle(new Error(pair.B.ChannelId, "boom"u8.ToArray()));
        Assert.IsType<ForceCloseUpdate>(Assert.Single(output.MonitorUpdates));
        Assert.Equal(ChannelState.ForceClosed, pair.B.State);
    }

    [Fact]
    public void MessagesForAnotherChannelAreRefused()
    {
        var pair = ChannelFactory.NormalPair();
        var before = pair.B.Serialize();
        var other = new ChannelId(new Bytes32(Enumerable.Repeat((byte)9, 32).ToArray()));
        Assert.Throws<ChannelProtocolException>(() => pair.B.Handle(new UpdateFee(other, 3000)));
        Assert.Equal(before, pair.B.Serialize());
    }

    [Fact]
    public void FromFundedRefusesABadSignatureOrWrongKeys()
    {
        var (funder, _) = ChannelFactory.Funded(new TestChannelSpec());
        Assert.Throws<ArgumentException>(() => Channel.FromFunded(funder, ChannelFactory.KeysB, out _));
        var bad = funder with { RemoteSignatureOfLocalCommitment = new Key().Sign(uint256.One) };
        Assert.Throws<ArgumentException>(() => Channel.FromFunded(bad, ChannelFactory.KeysA, out _));
    }
}
