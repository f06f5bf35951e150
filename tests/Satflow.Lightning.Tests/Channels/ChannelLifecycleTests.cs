using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Channels;

public sealed class ChannelLifecycleTests
{
    [Fact]
    public void FromFundedEmitsBothCommitmentZeroUpdates()
    {
        var pair = ChannelPair.Open(new TestChannelSpec());
        Assert.Equal(ChannelState.AwaitingFundingConfirmation, pair.A.State);
        Assert.Collection(pair.SideA.Updates,
            u => Assert.Equal(0UL, Assert.IsType<LocalCommitmentUpdate>(u).CommitmentNumber),
            u => Assert.Equal(0UL, Assert.IsType<RemoteCommitmentUpdate>(u).CommitmentNumber));
        Assert.Equal(pair.SideA.RemoteCommitTxids[0], pair.SideB.LocalCommitTxids[0]);
        Assert.Equal(pair.SideB.RemoteCommitTxids[0], pair.SideA.LocalCommitTxids[0]);
    }

    [Fact]
    public void ChannelReadyNeedsDepthAndBothSides()
    {
        var pair = ChannelPair.Open(new TestChannelSpec { MinimumDepth = 3 });
        Assert.True(pair.A.FundingConfirmed(2, ChannelFactory.Scid).IsEmpty);
        // The peer's channel_ready arrives before our confirmation.
        pair.Absorb(pair.SideB, pair.B.FundingConfirmed(3, ChannelFactory.Scid));
        pair.Pump();
        Assert.Equal(ChannelState.AwaitingFundingConfirmation, pair.A.State);
        Assert.Equal(ChannelState.AwaitingFundingConfirmation, pair.B.State);
        var output = pair.A.FundingConfirmed(3, ChannelFactory.Scid);
        var ready = Assert.IsType<ChannelReady>(Assert.Single(output.Messages));
        Assert.Equal(ChannelFactory.KeysA.PerCommitmentPoint(1), ready.SecondPerCommitmentPoint.ToPubKey());
        Assert.Equal(ChannelState.Normal, pair.A.State);
        Assert.IsType<ChannelReadyEvent>(Assert.Single(output.Events));
        pair.Absorb(pair.SideA, output);
        pair.Pump();
        Assert.Equal(ChannelState.Normal, pair.B.State);
        Assert.Single(pair.SideB.Events.OfType<ChannelReadyEvent>());
        Assert.Equal(ChannelFactory.Scid, pair.A.ShortChannelId);
        Assert.True(pair.A.FundingConfirmed(10, ChannelFactory.Scid).IsEmpty);
    }

    [Fact]
    public void AddSignRevokeFulfillMovesBalances()
    {
        var pair = ChannelFactory.NormalPair();
        var a0 = pair.A.LocalBalance;
        var b0 = pair.B.LocalBalance;
        var id = pair.Add(pair.SideA, 50_000_000, 1);
        Assert.Equal(0UL, id);
        Assert.Equal(ChannelHtlcState.Adding, Assert.Single(pair.A.Htlcs).State);
        pair.Settle();
        var received = Assert.Single(pair.SideB.Events.OfType<HtlcReceived>());
        Assert.Equal(new MilliSatoshi(50_000_000), received.Amount);
        Assert.Equal(ChannelFactory.Preimage(1).Hash, received.PaymentHash);
        Assert.Equal(800_000u, received.CltvExpiry);
        Assert.Equal(ChannelFactory.Onion(1), received.Onion.ToArray());
        Assert.Equal(ChannelHtlcState.Committed, Assert.Single(pair.A.Htlcs).State);
        Assert.Equal(ChannelHtlcDirection.Incoming, Assert.Single(pair.B.Htlcs).Direction);
        pair.AssertConsistent();

        var fulfill = pair.B.FulfillHtlc(received.Id, ChannelFactory.Preimage(1));
        var preimageUpdate = Assert.IsType<PreimageUpdate>(Assert.Single(fulfill.MonitorUpdates));
        Assert.Equal(ChannelFactory.Preimage(1), preimageUpdate.Preimage);
        Assert.IsType<UpdateFulfillHtlc>(Assert.Single(fulfill.Messages));
        pair.Absorb(pair.SideB, fulfill);
        pair.Pump();
        Assert.Equal(ChannelFactory.Preimage(1), Assert.Single(pair.SideA.Events.OfType<HtlcFulfilled>()).Preimage);
        Assert.IsType<PreimageUpdate>(pair.SideA.Updates[^1]);
        pair.Settle();
        Assert.Empty(pair.A.Htlcs);
        Assert.Empty(pair.B.Htlcs);
        Assert.Equal(a0 - new MilliSatoshi(50_000_000), pair.A.LocalBalance);
        Assert.Equal(b0 + new MilliSatoshi(50_000_000), pair.B.LocalBalance);
        pair.AssertConsistent();
        Assert.Equal(pair.A.LocalCommitmentNumber, pair.B.RemoteCommitmentNumber);
    }

    [Fact]
    public void FailAndFailMalformedReturnTheAmount()
    {
        var pair = ChannelFactory.NormalPair();
        var a0 = pair.A.LocalBalance;
        pair.Add(pair.SideA, 10_000_000, 1);
        pair.Add(pair.SideA, 20_000_000, 2);
        pair.Settle();
        var attribution = Enumerable.Range(0, Satflow.Lightning.Messages.AttributionData.Length).Select(i => (byte)i).ToArray();
        Assert.Throws<ChannelUpdateRefusedException>(() => pair.B.FailHtlc(0, new byte[] { 1, 2, 3 }, new byte[919]));
        pair.Absorb(pair.SideB, pair.B.FailHtlc(0, new byte[] { 1, 2, 3 }, attribution));
        pair.Absorb(pair.SideB, pair.B.FailMalformedHtlc(1, new Bytes32(new byte[32]), 0x8000 | 0x4000 | 5));
        pair.Settle();
        var failures = pair.SideA.Events.OfType<HtlcFailed>().OrderBy(f => f.Id).ToList();
        Assert.Equal(2, failures.Count);
        Assert.Equal(new byte[] { 1, 2, 3 }, failures[0].Reason!.Value.ToArray());
        Assert.Equal(attribution, failures[0].AttributionData!.Value.ToArray());
        Assert.Null(failures[1].AttributionData);
        Assert.Null(failures[0].MalformedFailureCode);
        Assert.Equal((ushort)0xC005, failures[1].MalformedFailureCode);
        Assert.Null(failures[1].Reason);
        Assert.Equal(a0, pair.A.LocalBalance);
        Assert.Empty(pair.A.Htlcs);
        pair.AssertConsistent();
    }

    [Fact]
    public void TwentyFiveHtlcsAreBatchedInOneCommitment()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FundeeLimits = TestChannelSpec.DefaultLimits with { MaxAcceptedHtlcs = 50 } });
        pair.VerifyTransactions = true;
        for (var i = 0; i < 25; i++)
        {
            // Some below the dust limit (trimmed), most above.
            pair.Add(pair.SideA, i % 5 == 0 ? 500_000UL : 2_000_000UL + ((ulong)i * 1000), i);
        }
        var sign = pair.A.SignCommitment();
        var commit = Assert.IsType<CommitmentSigned>(Assert.Single(sign.Messages));
        Assert.Equal(20, commit.HtlcSignatures.Count);
        Assert.IsType<RemoteCommitmentUpdate>(Assert.Single(sign.MonitorUpdates));
        pair.Absorb(pair.SideA, sign);
        // Nothing more to sign until the revocation.
        Assert.True(pair.A.SignCommitment().IsEmpty);
        pair.Settle();
        Assert.Equal(25, pair.SideB.Events.OfType<HtlcReceived>().Count());
        Assert.Equal(25, pair.A.Htlcs.Count(h => h.State == ChannelHtlcState.Committed));
        for (var i = 0; i < 25; i++)
        {
            pair.Absorb(pair.SideB, pair.B.FulfillHtlc((ulong)i, ChannelFactory.Preimage(i)));
        }
        var settle = pair.B.SignCommitment();
        Assert.Single(settle.Messages);
        pair.Absorb(pair.SideB, settle);
        pair.Settle();
        Assert.Empty(pair.A.Htlcs);
        pair.AssertConsistent();
    }

    [Fact]
    public void NothingToSignGivesNothing()
    {
        var pair = ChannelFactory.NormalPair();
        Assert.True(pair.A.SignCommitment().IsEmpty);
        Assert.False(pair.A.HasChangesToSign);
    }

    [Fact]
    public void CrossingCommitmentSignedConverge()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Add(pair.SideA, 5_000_000, 1);
        pair.Add(pair.SideB, 3_000_000, 2);
        pair.Pump();
        // Both sign before seeing the other's commitment_signed.
        var signA = pair.A.SignCommitment();
        var signB = pair.B.SignCommitment();
        pair.Absorb(pair.SideA, signA);
        pair.Absorb(pair.SideB, signB);
        pair.Settle();
        Assert.Single(pair.SideA.Events.OfType<HtlcReceived>());
        Assert.Single(pair.SideB.Events.OfType<HtlcReceived>());
        pair.AssertConsistent();
        Assert.Equal(2, pair.A.Htlcs.Count);
        Assert.All(pair.A.Htlcs, h => Assert.Equal(ChannelHtlcState.Committed, h.State));
    }

    [Fact]
    public void UpdateFeeFromFunderIsApplied()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Add(pair.SideB, 4_000_000, 1);
        pair.Absorb(pair.SideA, pair.A.UpdateFee(5000));
        pair.Settle();
        Assert.Equal(5000u, pair.A.FeeratePerKw);
        Assert.Equal(5000u, pair.B.FeeratePerKw);
        var lastLocal = pair.SideB.Updates.OfType<LocalCommitmentUpdate>().Last();
        Assert.Equal(5000u, lastLocal.FeeratePerKw);
        pair.AssertConsistent();
    }

    [Fact]
    public void CooperativeCloseNegotiatesAndCloses()
    {
        var scriptA = new Key().PubKey.WitHash.ScriptPubKey;
        var scriptB = new Key().PubKey.WitHash.ScriptPubKey;
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FundeeOptions = new ChannelOptions(ShutdownScript: scriptB) });
        pair.Add(pair.SideA, 7_000_000, 1);
        pair.Settle();
        pair.Absorb(pair.SideA, pair.A.Shutdown(scriptA));
        Assert.Throws<ChannelUpdateRefusedException>(() => pair.A.AddHtlc(new MilliSatoshi(2_000_000), ChannelFactory.Preimage(9).Hash, 800_000, ChannelFactory.Onion(9), out _));
        pair.Pump();
        Assert.Equal(ChannelState.ShuttingDown, pair.A.State);
        Assert.Equal(ChannelState.ShuttingDown, pair.B.State);
        pair.Absorb(pair.SideB, pair.B.FulfillHtlc(0, ChannelFactory.Preimage(1)));
        pair.Settle();
        Assert.Equal(ChannelState.Closed, pair.A.State);
        Assert.Equal(ChannelState.Closed, pair.B.State);
        var closedA = Assert.Single(pair.SideA.Events.OfType<ChannelClosed>()).ClosingTransaction;
        var closedB = Assert.Single(pair.SideB.Events.OfType<ChannelClosed>()).ClosingTransaction;
        Assert.Equal(closedA.GetHash(), closedB.GetHash());
        Assert.IsType<CooperativeCloseUpdate>(pair.SideA.Updates[^1]);
        var funding = new TxOut(pair.A.Parameters.FundingAmount, pair.A.Parameters.FundingScript.WitHash.ScriptPubKey);
        Assert.Null(closedA.CreateValidator([funding]).ValidateInput(0).Error);
        Assert.Contains(closedA.Outputs, o => o.ScriptPubKey == scriptB);
    }

    [Fact]
    public void ShutdownWithoutOurScriptAsksTheHost()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec());
        var scriptA = new Key().PubKey.WitHash.ScriptPubKey;
        pair.Absorb(pair.SideA, pair.A.Shutdown(scriptA));
        pair.Pump();
        Assert.Equal(scriptA, Assert.Single(pair.SideB.Events.OfType<ShutdownRequested>()).RemoteScript);
        pair.Absorb(pair.SideB, pair.B.Shutdown(new Key().PubKey.WitHash.ScriptPubKey));
        pair.Settle();
        Assert.Equal(ChannelState.Closed, pair.A.State);
        Assert.Equal(ChannelState.Closed, pair.B.State);
    }

    [Fact]
    public void ForceCloseEmitsUpdateAndError()
    {
        var pair = ChannelFactory.NormalPair();
        var output = pair.A.ForceClose("test");
        Assert.Equal("test", Assert.IsType<ForceCloseUpdate>(Assert.Single(output.MonitorUpdates)).Reason);
        Assert.IsType<Error>(Assert.Single(output.Messages));
        Assert.Equal(ChannelState.ForceClosed, pair.A.State);
        pair.Absorb(pair.SideA, output);
        pair.Pump();
        Assert.Equal(ChannelState.ForceClosed, pair.B.State);
        Assert.IsType<ForceCloseUpdate>(pair.SideB.Updates[^1]);
    }

    [Fact]
    public void StaticRemoteKeyFormatWorksToo()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { Format = CommitmentFormat.StaticRemoteKey });
        pair.Add(pair.SideA, 30_000_000, 1);
        pair.Add(pair.SideB, 20_000_000, 2);
        pair.Settle();
        pair.Absorb(pair.SideB, pair.B.FulfillHtlc(0, ChannelFactory.Preimage(1)));
        pair.Absorb(pair.SideA, pair.A.FailHtlc(0, new byte[] { 9 }));
        pair.Settle();
        pair.AssertConsistent();
        Assert.Empty(pair.A.Htlcs);
    }

    [Fact]
    public void AvailableToSendIsExactlyTheLargestAcceptedAmount()
    {
        var pair = ChannelFactory.NormalPair();
        var max = pair.A.AvailableToSend;
        Assert.True(max.Value > 0);
        Assert.Throws<ChannelUpdateRefusedException>(() => pair.A.AddHtlc(max + new MilliSatoshi(1), ChannelFactory.Preimage(1).Hash, 800_000, ChannelFactory.Onion(1), out _));
        pair.Add(pair.SideA, max.Value, 1);
        pair.Settle();
        Assert.Single(pair.SideB.Events.OfType<HtlcReceived>());
        Assert.True(pair.B.AvailableToReceive.Value >= 0);
    }
}
