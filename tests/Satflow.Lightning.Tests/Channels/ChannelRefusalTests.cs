using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Channels;

/// <summary>Every local refusal reason, each leaving the channel byte-for-byte unchanged.</summary>
public sealed class ChannelRefusalTests
{
    private static readonly PaymentHash Hash = ChannelFactory.Preimage(1).Hash;

    private static void Refused(Channel channel, ChannelRefusalReason reason, Action action)
    {
        var before = channel.Serialize();
        var e = Assert.Throws<ChannelUpdateRefusedException>(action);
        Assert.Equal(reason, e.Reason);
        Assert.Equal(before, channel.Serialize());
    }

    private static void RefusedAdd(Channel channel, ChannelRefusalReason reason, ulong amount, uint cltv = 800_000, int onionLength = UpdateAddHtlc.OnionPacketLength) =>
        Refused(channel, reason, () => channel.AddHtlc(new MilliSatoshi(amount), Hash, cltv, new byte[onionLength], out _));

    [Fact]
    public void AddBeforeReadyIsRefused()
    {
        var pair = ChannelPair.Open(new TestChannelSpec());
        RefusedAdd(pair.A, ChannelRefusalReason.ChannelNotNormal, 1_000_000);
    }

    [Fact]
    public void AddAfterShutdownIsRefused()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec());
        pair.Absorb(pair.SideA, pair.A.Shutdown(new Key().PubKey.WitHash.ScriptPubKey));
        RefusedAdd(pair.A, ChannelRefusalReason.ShuttingDown, 1_000_000);
        pair.Pump();
        RefusedAdd(pair.B, ChannelRefusalReason.ShuttingDown, 1_000_000);
    }

    [Fact]
    public void AddWhileOfflineIsRefused()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Disconnect();
        RefusedAdd(pair.A, ChannelRefusalReason.PeerOffline, 1_000_000);
    }

    [Fact]
    public void AmountAndFormRefusals()
    {
        var pair = ChannelFactory.NormalPair();
        RefusedAdd(pair.A, ChannelRefusalReason.AmountZero, 0);
        RefusedAdd(pair.A, ChannelRefusalReason.BelowHtlcMinimum, 999);
        RefusedAdd(pair.A, ChannelRefusalReason.InvalidCltvExpiry, 1_000_000, cltv: 500_000_000);
        RefusedAdd(pair.A, ChannelRefusalReason.InvalidOnion, 1_000_000, onionLength: 100);
    }

    [Fact]
    public void InFlightAndCountLimits()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec
        {
            FundeeLimits = TestChannelSpec.DefaultLimits with { MaxHtlcValueInFlight = new MilliSatoshi(10_000_000), MaxAcceptedHtlcs = 2 },
        });
        RefusedAdd(pair.A, ChannelRefusalReason.MaxHtlcValueInFlightExceeded, 10_000_001);
        pair.Add(pair.SideA, 1_000_000, 1);
        pair.Add(pair.SideA, 1_000_000, 2);
        RefusedAdd(pair.A, ChannelRefusalReason.MaxAcceptedHtlcsExceeded, 1_000_000);
    }

    [Fact]
    public void BalanceRefusals()
    {
        var pair = ChannelFactory.NormalPair();
        // The fundee holds 200 000 sat and must keep a 10 000 sat reserve.
        RefusedAdd(pair.B, ChannelRefusalReason.InsufficientBalance, 190_000_001);
        pair.Add(pair.SideB, 190_000_000, 1);
        // The funder holds 800 000 sat: reserve, fees, anchors and the fee-spike buffer come off.
        RefusedAdd(pair.A, ChannelRefusalReason.MaxHtlcValueInFlightExceeded, 900_000_001);
        RefusedAdd(pair.A, ChannelRefusalReason.InsufficientBalance, 789_000_000);
    }

    [Fact]
    public void WithoutReserveTheBalanceStillBounds()
    {
        var noReserve = TestChannelSpec.DefaultLimits with { ChannelReserve = Money.Zero };
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FunderLimits = noReserve, FundeeLimits = noReserve });
        RefusedAdd(pair.B, ChannelRefusalReason.InsufficientBalance, 200_000_001);
        Assert.Equal(new MilliSatoshi(200_000_000), pair.B.AvailableToSend);
        pair.Add(pair.SideB, 200_000_000, 1);
        pair.Settle();
        Assert.Equal(MilliSatoshi.Zero, pair.B.AvailableToSend);
    }

    [Fact]
    public void FundeeRefusesWhenTheFunderCannotPayTheFee()
    {
        // The funder keeps 3 600 sat: enough for the empty commitment (3 470 sat with anchors) but not one more HTLC output.
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { PushMsat = 996_400_000 });
        RefusedAdd(pair.B, ChannelRefusalReason.FunderCannotAffordFee, 5_000_000);
        // A trimmed HTLC adds no output and is fine.
        pair.Add(pair.SideB, 100_000, 1);
    }

    [Fact]
    public void FundeeRefusesWhenTheFunderCannotPayTheFeeOfTheFundeesOwnCommitment()
    {
        // BOLT 2 update_add_htlc, the node not responsible for the fee: "SHOULD NOT offer amount_msat if ... it cannot pay
        // the fee for the updated local or remote transaction". The fundee's dust limit is 354 sat, the funder's 546: a
        // 400-sat HTLC is trimmed on the funder's commitment (no fee change there) but has an output on the fundee's,
        // which the funder (3,600 sat left; 3,470 sat without HTLC outputs, 3,900 with one) cannot pay.
        var pair = ChannelFactory.NormalPair(new TestChannelSpec
        {
            PushMsat = 996_400_000,
            FundeeLimits = TestChannelSpec.DefaultLimits with { DustLimit = Money.Satoshis(354) },
            FundeeOptions = new ChannelOptions(ShutdownScript: ChannelFactory.FundeeCloseScript),
        });
        RefusedAdd(pair.B, ChannelRefusalReason.FunderCannotAffordFee, 400_000);
        // Trimmed on both commitments: no fee change anywhere.
        pair.Add(pair.SideB, 353_000, 1);
        pair.Settle();
        pair.AssertConsistent();
    }

    [Fact]
    public void SettlementRefusals()
    {
        var pair = ChannelFactory.NormalPair();
        pair.Add(pair.SideA, 5_000_000, 1);
        // Not yet committed.
        Refused(pair.B, ChannelRefusalReason.UnknownHtlc, () => pair.B.FulfillHtlc(0, ChannelFactory.Preimage(1)));
        pair.Settle();
        Refused(pair.B, ChannelRefusalReason.UnknownHtlc, () => pair.B.FulfillHtlc(7, ChannelFactory.Preimage(1)));
        Refused(pair.B, ChannelRefusalReason.PreimageMismatch, () => pair.B.FulfillHtlc(0, ChannelFactory.Preimage(2)));
        Refused(pair.B, ChannelRefusalReason.InvalidFailureCode, () => pair.B.FailMalformedHtlc(0, default, 0x4005));
        // Outgoing HTLCs are not ours to settle.
        Refused(pair.A, ChannelRefusalReason.UnknownHtlc, () => pair.A.FailHtlc(0, new byte[] { 1 }));
        pair.Absorb(pair.SideB, pair.B.FailHtlc(0, new byte[] { 1 }));
        Refused(pair.B, ChannelRefusalReason.UnknownHtlc, () => pair.B.FulfillHtlc(0, ChannelFactory.Preimage(1)));
    }

    [Fact]
    public void UpdateFeeRefusals()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FunderOptions = new ChannelOptions(MaxFeeratePerKw: 5_000_000) });
        Refused(pair.B, ChannelRefusalReason.NotFunder, () => pair.B.UpdateFee(3000));
        Refused(pair.A, ChannelRefusalReason.FeerateOutOfBounds, () => pair.A.UpdateFee(100));
        Refused(pair.A, ChannelRefusalReason.FeerateOutOfBounds, () => pair.A.UpdateFee(6_000_000));
        Refused(pair.A, ChannelRefusalReason.CannotAffordFeerate, () => pair.A.UpdateFee(1_000_000));
        pair.Disconnect();
        Refused(pair.A, ChannelRefusalReason.PeerOffline, () => pair.A.UpdateFee(3000));
    }

    [Fact]
    public void UpdateFeeAfterShutdownWithoutHtlcsIsRefused()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec());
        pair.Absorb(pair.SideA, pair.A.Shutdown(new Key().PubKey.WitHash.ScriptPubKey));
        Refused(pair.A, ChannelRefusalReason.ShuttingDown, () => pair.A.UpdateFee(3000));
    }

    [Fact]
    public void ShutdownRefusals()
    {
        var pair = ChannelFactory.NormalPair();
        var p2pk = new Key().PubKey.ScriptPubKey;
        Refused(pair.A, ChannelRefusalReason.InvalidShutdownScript, () => pair.A.Shutdown(p2pk));
        pair.Add(pair.SideA, 1_000_000, 1);
        var good = new Key().PubKey.WitHash.ScriptPubKey;
        Refused(pair.A, ChannelRefusalReason.UnsignedUpdatesPending, () => pair.A.Shutdown(good));
        pair.Settle();
        pair.Absorb(pair.SideA, pair.A.Shutdown(good));
        Refused(pair.A, ChannelRefusalReason.ShutdownAlreadySent, () => pair.A.Shutdown(good));
        var closed = ChannelFactory.NormalPair();
        closed.Absorb(closed.SideA, closed.A.ForceClose("x"));
        Refused(closed.A, ChannelRefusalReason.ChannelNotNormal, () => closed.A.Shutdown(good));
    }
}
