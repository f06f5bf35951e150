using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Channels;

/// <summary>
/// BOLT 2 "Bounding exposure to trimmed in-flight HTLCs: <c>max_dust_htlc_exposure_msat</c>" (offering, receiving) and
/// the <c>update_fee</c> requirements that refer to it. Dust limits are 546 sat on both sides, the feerate 2,500 sat/kw:
/// with anchors (zero-fee HTLC transactions) an HTLC is trimmed below 546 sat; without anchors an offered HTLC is
/// trimmed below 546 + 1,657 (HTLC-timeout fee) = 2,203 sat on its offerer's commitment and below 546 + 1,757
/// (HTLC-success fee) = 2,303 sat on the receiver's.
/// </summary>
public sealed class ChannelDustExposureTests
{
    private static ChannelOptions Limit(ulong msat) => new() { MaxDustHtlcExposure = new MilliSatoshi(msat) };

    private static void RefusedForDust(Channel channel, ulong amountMsat)
    {
        var before = channel.Serialize();
        var e = Assert.Throws<ChannelUpdateRefusedException>(() =>
            channel.AddHtlc(new MilliSatoshi(amountMsat), ChannelFactory.Preimage(99).Hash, 800_000, ChannelFactory.Onion(99), out _));
        Assert.Equal(ChannelRefusalReason.DustExposureExceeded, e.Reason);
        Assert.Equal(before, channel.Serialize());
    }

    [Fact]
    public void DefaultLimitIs50000Sat()
    {
        Assert.Equal(new MilliSatoshi(50_000_000), ChannelOptions.Default.MaxDustHtlcExposure);
        var pair = ChannelFactory.NormalPair();
        Assert.Equal(new MilliSatoshi(50_000_000), pair.A.DustExposure.Limit);
        Assert.Equal(MilliSatoshi.Zero, pair.A.DustExposure.OnLocalCommitment);
    }

    [Fact]
    public void Offering_anchors_the_remote_dust_balance_may_reach_the_limit_but_not_one_msat_more()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FunderOptions = Limit(2_000_000) });
        pair.Add(pair.SideA, 500_000, 1);
        pair.Add(pair.SideA, 500_000, 2);
        pair.Add(pair.SideA, 500_000, 3);
        pair.Add(pair.SideA, 499_000, 4);
        pair.Settle();
        Assert.Equal(new MilliSatoshi(1_999_000), pair.A.DustExposure.OnRemoteCommitment);
        Assert.Equal(new MilliSatoshi(1_999_000), pair.A.DustExposure.OnLocalCommitment);

        RefusedForDust(pair.A, 1_001);                 // 2,000,001 msat: one over
        pair.Add(pair.SideA, 1_000, 5);                // 2,000,000 msat: exactly at the limit
        Assert.Equal(new MilliSatoshi(2_000_000), pair.A.DustExposure.OnRemoteCommitment);
        RefusedForDust(pair.A, 545_999);               // 545 sat: still trimmed
        pair.Add(pair.SideA, 546_000, 6);              // 546 sat: an output of its own, not dust
        pair.Settle();
        pair.AssertConsistent();
        Assert.Equal(new MilliSatoshi(2_000_000), pair.A.DustExposure.OnRemoteCommitment);
        // AvailableToSend ignores the dust limit (it only refuses small HTLCs).
        Assert.True(pair.A.AvailableToSend > new MilliSatoshi(546_000));
    }

    [Fact]
    public void Offering_without_anchors_the_htlc_transaction_fee_makes_larger_htlcs_dust_on_the_remote_commitment()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { Format = CommitmentFormat.StaticRemoteKey, FunderOptions = Limit(5_000_000) });
        // 2,250 sat: trimmed on the peer's commitment (below 2,303) but not on ours (at least 2,203).
        pair.Add(pair.SideA, 2_250_000, 1);
        pair.Add(pair.SideA, 2_250_000, 2);
        pair.Settle();
        Assert.Equal(new MilliSatoshi(4_500_000), pair.A.DustExposure.OnRemoteCommitment);
        Assert.Equal(MilliSatoshi.Zero, pair.A.DustExposure.OnLocalCommitment);
        RefusedForDust(pair.A, 500_001);
        pair.Add(pair.SideA, 500_000, 3);
        Assert.Equal(new MilliSatoshi(5_000_000), pair.A.DustExposure.OnRemoteCommitment);
        Assert.Equal(new MilliSatoshi(500_000), pair.A.DustExposure.OnLocalCommitment);
        RefusedForDust(pair.A, 2_302_999);             // 2,302 sat: trimmed on the peer's commitment
        pair.Add(pair.SideA, 2_303_000, 4);            // 2,303 sat: not trimmed anywhere
        pair.Settle();
        pair.AssertConsistent();
    }

    [Fact]
    public void Offering_the_local_commitment_counts_with_our_own_dust_limit()
    {
        // Our dust limit is 1,000 sat, the peer's 546: an 800-sat HTLC is trimmed on our commitment only.
        var pair = ChannelFactory.NormalPair(new TestChannelSpec
        {
            FunderLimits = TestChannelSpec.DefaultLimits with { DustLimit = Money.Satoshis(1_000) },
            FunderOptions = Limit(1_600_000),
        });
        pair.Add(pair.SideA, 800_000, 1);
        pair.Settle();
        Assert.Equal(new MilliSatoshi(800_000), pair.A.DustExposure.OnLocalCommitment);
        Assert.Equal(MilliSatoshi.Zero, pair.A.DustExposure.OnRemoteCommitment);
        RefusedForDust(pair.A, 800_001);
        pair.Add(pair.SideA, 800_000, 2);
        Assert.Equal(new MilliSatoshi(1_600_000), pair.A.DustExposure.OnLocalCommitment);
        pair.Settle();
        pair.AssertConsistent();
    }

    [Fact]
    public void Offering_counts_incoming_dust_htlcs_too()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FunderOptions = Limit(1_000_000) });
        pair.Add(pair.SideB, 500_000, 1);
        pair.Settle();
        Assert.Equal(new MilliSatoshi(500_000), pair.A.DustExposure.OnLocalCommitment);
        Assert.Equal(new MilliSatoshi(500_000), pair.A.DustExposure.OnRemoteCommitment);
        RefusedForDust(pair.A, 500_001);
        pair.Add(pair.SideA, 500_000, 2);
        pair.Settle();
    }

    [Fact]
    public void Receiving_a_dust_htlc_over_the_limit_is_accepted_by_the_protocol_then_failed_back_without_closing()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FundeeOptions = Limit(1_000_000) with { ShutdownScript = ChannelFactory.FundeeCloseScript } });
        pair.Add(pair.SideA, 500_000, 1);
        pair.Add(pair.SideA, 500_000, 2);
        pair.Add(pair.SideA, 1_000, 3);
        pair.Settle();
        Assert.Equal(3, pair.SideB.Events.OfType<HtlcReceived>().Count());
        Assert.Equal(new MilliSatoshi(1_001_000), pair.B.DustExposure.OnLocalCommitment);
        // 500,000 + 500,000 = 1,000,000 msat is at the limit; the third HTLC, and only it, brings it over.
        Assert.False(pair.B.IsIncomingOverDustExposure(0));
        Assert.False(pair.B.IsIncomingOverDustExposure(1));
        Assert.True(pair.B.IsIncomingOverDustExposure(2));
        Assert.False(pair.B.IsIncomingOverDustExposure(42));

        pair.Absorb(pair.SideB, pair.B.FailHtlc(2, new byte[] { 7 }));
        // Its removal is proposed: it no longer counts against the others.
        Assert.False(pair.B.IsIncomingOverDustExposure(0));
        Assert.False(pair.B.IsIncomingOverDustExposure(1));
        pair.Settle();
        Assert.Equal(ChannelState.Normal, pair.A.State);
        Assert.Equal(ChannelState.Normal, pair.B.State);
        Assert.Contains(pair.SideA.Events, e => e is HtlcFailed { Id: 2 });
        Assert.Equal(new MilliSatoshi(1_000_000), pair.B.DustExposure.OnLocalCommitment);
        pair.AssertConsistent();
    }

    [Fact]
    public void Receiving_a_non_dust_htlc_is_never_failed_for_dust()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FundeeOptions = Limit(1_000) with { ShutdownScript = ChannelFactory.FundeeCloseScript } });
        pair.Add(pair.SideA, 546_000, 1);
        pair.Settle();
        Assert.False(pair.B.IsIncomingOverDustExposure(0));
    }

    [Fact]
    public void UpdateFee_without_anchors_that_trims_htlcs_above_the_limit_is_not_sent()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { Format = CommitmentFormat.StaticRemoteKey, FunderOptions = Limit(2_000_000) });
        // 2,400 sat is not trimmed at 2,500 sat/kw; at 5,000 sat/kw (HTLC-success fee 3,515 sat) it is, on both sides.
        pair.Add(pair.SideA, 2_400_000, 1);
        pair.Settle();
        Assert.Equal(MilliSatoshi.Zero, pair.A.DustExposure.OnRemoteCommitment);
        var before = pair.A.Serialize();
        var e = Assert.Throws<ChannelUpdateRefusedException>(() => pair.A.UpdateFee(5_000));
        Assert.Equal(ChannelRefusalReason.DustExposureExceeded, e.Reason);
        Assert.Equal(before, pair.A.Serialize());
        // A raise that trims nothing, and any decrease, are fine.
        pair.Absorb(pair.SideA, pair.A.UpdateFee(2_600));
        pair.Settle();
        pair.Absorb(pair.SideA, pair.A.UpdateFee(1_000));
        pair.Settle();
        Assert.Equal(1_000u, pair.B.FeeratePerKw);
    }

    [Fact]
    public void UpdateFee_with_anchors_trims_nothing_and_is_sent()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FunderOptions = Limit(2_000_000) });
        pair.Add(pair.SideA, 2_400_000, 1);
        pair.Settle();
        pair.Absorb(pair.SideA, pair.A.UpdateFee(20_000));
        pair.Settle();
        Assert.Equal(20_000u, pair.B.FeeratePerKw);
        Assert.Equal(MilliSatoshi.Zero, pair.B.DustExposure.OnLocalCommitment);
    }

    [Fact]
    public void Receiving_an_update_fee_that_exceeds_our_limit_keeps_the_channel_and_stops_new_dust()
    {
        // The fundee's limit is 2,000 sat; the funder's is the default and it raises the feerate to 5,000 sat/kw.
        var pair = ChannelFactory.NormalPair(new TestChannelSpec
        {
            Format = CommitmentFormat.StaticRemoteKey,
            FundeeOptions = Limit(2_000_000) with { ShutdownScript = ChannelFactory.FundeeCloseScript },
        });
        pair.Add(pair.SideA, 2_400_000, 1);
        pair.Settle();
        pair.Absorb(pair.SideA, pair.A.UpdateFee(5_000));
        pair.Settle();
        Assert.Equal(ChannelState.Normal, pair.B.State);
        Assert.Equal(5_000u, pair.B.FeeratePerKw);
        Assert.Equal(new MilliSatoshi(2_400_000), pair.B.DustExposure.OnLocalCommitment);
        Assert.True(pair.B.DustExposure.OnLocalCommitment > pair.B.DustExposure.Limit);
        // While over the limit: no dust HTLC goes out, incoming dust is failed back; larger HTLCs still flow.
        RefusedForDust(pair.B, 1_000);
        pair.Add(pair.SideA, 1_000, 2);
        pair.Settle();
        Assert.True(pair.B.IsIncomingOverDustExposure(1));
        pair.Add(pair.SideB, 5_000_000, 3);
        pair.Settle();
        pair.AssertConsistent();
    }

    [Fact]
    public void The_limit_survives_a_round_trip()
    {
        var pair = ChannelFactory.NormalPair(new TestChannelSpec { FunderOptions = Limit(1_234_567) });
        var restored = Channel.Deserialize(pair.A.Serialize(), ChannelFactory.KeysA);
        Assert.Equal(new MilliSatoshi(1_234_567), restored.Options.MaxDustHtlcExposure);
    }
}
