using NBitcoin;
using Satflow.Lightning.Channels.Opening;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Channels.Opening.OpeningTestKit;

namespace Satflow.Lightning.Tests.Channels.Opening;

/// <summary>Each BOLT 2 MUST-fail rule (and policy limit) for the receivers of <c>open_channel</c> and <c>accept_channel</c>.</summary>
public sealed class OpeningRuleTests
{
    private static readonly Point NotAPoint = default;

    private static readonly Dictionary<string, (Func<OpenChannel, OpenChannel> Mutate, Func<InboundChannelPolicy, InboundChannelPolicy>? Policy, ChannelOpeningFailure Reason)> OpenCases = new()
    {
        ["unknown chain"] = (o => o with { ChainHash = ChainHash.Testnet }, null, ChannelOpeningFailure.UnknownChain),
        ["push above funding"] = (o => o with { PushMsat = new MilliSatoshi(1_000_000_001) }, null, ChannelOpeningFailure.PushExceedsFunding),
        ["to_self_delay too large"] = (o => o with { ToSelfDelay = 2017 }, null, ChannelOpeningFailure.ToSelfDelayTooLarge),
        ["max_accepted_htlcs above 483"] = (o => o with { MaxAcceptedHtlcs = 484 }, null, ChannelOpeningFailure.TooManyAcceptedHtlcs),
        ["feerate too low"] = (o => o with { FeeratePerKw = 252 }, null, ChannelOpeningFailure.FeerateTooLow),
        ["feerate too high"] = (o => o with { FeeratePerKw = 100_001 }, null, ChannelOpeningFailure.FeerateTooHigh),
        ["invalid funding_pubkey"] = (o => o with { Keys = o.Keys with { FundingPubkey = NotAPoint } }, null, ChannelOpeningFailure.InvalidPoint),
        ["invalid revocation_basepoint"] = (o => o with { Keys = o.Keys with { RevocationBasepoint = NotAPoint } }, null, ChannelOpeningFailure.InvalidPoint),
        ["invalid payment_basepoint"] = (o => o with { Keys = o.Keys with { PaymentBasepoint = NotAPoint } }, null, ChannelOpeningFailure.InvalidPoint),
        ["invalid delayed_payment_basepoint"] = (o => o with { Keys = o.Keys with { DelayedPaymentBasepoint = NotAPoint } }, null, ChannelOpeningFailure.InvalidPoint),
        ["invalid htlc_basepoint"] = (o => o with { Keys = o.Keys with { HtlcBasepoint = NotAPoint } }, null, ChannelOpeningFailure.InvalidPoint),
        ["invalid first_per_commitment_point"] = (o => o with { Keys = o.Keys with { FirstPerCommitmentPoint = NotAPoint } }, null, ChannelOpeningFailure.InvalidPoint),
        ["dust above reserve"] = (o => o with { DustLimitSatoshis = new Satoshis(9_000), ChannelReserveSatoshis = new Satoshis(8_999) }, null, ChannelOpeningFailure.DustLimitAboveReserve),
        ["dust below 354"] = (o => o with { DustLimitSatoshis = new Satoshis(353) }, null, ChannelOpeningFailure.DustLimitTooSmall),
        ["dust too large"] = (o => o with { DustLimitSatoshis = new Satoshis(10_001), ChannelReserveSatoshis = new Satoshis(20_000) }, null, ChannelOpeningFailure.DustLimitTooLarge),
        ["our dust above their reserve"] = (o => o with { DustLimitSatoshis = new Satoshis(354), ChannelReserveSatoshis = new Satoshis(399) }, null, ChannelOpeningFailure.DustLimitAboveReserve),
        ["reserve above a fifth"] = (o => o with { ChannelReserveSatoshis = new Satoshis(200_001) }, null, ChannelOpeningFailure.ChannelReserveTooLarge),
        ["funder cannot pay fee"] = (o => o with { PushMsat = MilliSatoshi.FromSatoshis(997_000) }, null, ChannelOpeningFailure.FunderCannotPayFee),
        ["funder cannot pay anchors"] = (o => o with { PushMsat = MilliSatoshi.FromSatoshis(999_500), FeeratePerKw = 253 }, null, ChannelOpeningFailure.FunderCannotPayFee),
        ["both balances below reserve"] = (o => o with { FundingSatoshis = new Satoshis(100_000), ChannelReserveSatoshis = new Satoshis(20_000), PushMsat = MilliSatoshi.FromSatoshis(15_000), FeeratePerKw = 60_000 }, null, ChannelOpeningFailure.BalancesBelowReserve),
        ["funding at 2^24 without large channels"] = (o => o with { FundingSatoshis = new Satoshis(1 << 24) }, p => p with { MaxFundingAmount = Money.Coins(10) }, ChannelOpeningFailure.FundingTooLarge),
        ["funding above our maximum"] = (o => o with { FundingSatoshis = new Satoshis(16_000_001) }, null, ChannelOpeningFailure.FundingTooLarge),
        ["funding above all money"] = (o => o with { FundingSatoshis = new Satoshis(ulong.MaxValue) }, null, ChannelOpeningFailure.FundingTooLarge),
        ["funding below our minimum"] = (o => o with { FundingSatoshis = new Satoshis(19_999), PushMsat = MilliSatoshi.Zero, ChannelReserveSatoshis = new Satoshis(1000) }, null, ChannelOpeningFailure.FundingTooSmall),
        ["no channel_type"] = (o => o with { ChannelType = null }, null, ChannelOpeningFailure.MissingChannelType),
        ["anchors without static_remotekey"] = (o => o with { ChannelType = FeatureBits.Of(22) }, null, ChannelOpeningFailure.UnsupportedChannelType),
        ["empty channel_type"] = (o => o with { ChannelType = FeatureBits.Empty }, null, ChannelOpeningFailure.UnsupportedChannelType),
        ["odd bit channel_type"] = (o => o with { ChannelType = FeatureBits.Of(13) }, null, ChannelOpeningFailure.UnsupportedChannelType),
        ["unknown bit in channel_type"] = (o => o with { ChannelType = ChannelTypes.AnchorsZeroFeeHtlcTx.With(100) }, null, ChannelOpeningFailure.UnsupportedChannelType),
        ["scid_alias on a public channel"] = (o => o with { ChannelType = ChannelTypes.AnchorsZeroFeeHtlcTx.With(46) }, null, ChannelOpeningFailure.UnsupportedChannelType),
        ["untrusted zero-conf"] = (o => o with { ChannelType = ChannelTypes.AnchorsZeroFeeHtlcTx.With(50), ChannelFlags = 0 }, null, ChannelOpeningFailure.UnsupportedChannelType),
        ["invalid upfront_shutdown_script"] = (o => o with { UpfrontShutdownScript = new byte[] { 0x51, 0x01, 0x02 } }, null, ChannelOpeningFailure.InvalidUpfrontShutdownScript),
        ["anysegwit script without the feature"] = (o => o with { UpfrontShutdownScript = Witness(0x51, 32) }, null, ChannelOpeningFailure.InvalidUpfrontShutdownScript),
        ["dual funding negotiated"] = (o => o, p => p with { NegotiatedFeatures = FeatureBits.Of(29) }, ChannelOpeningFailure.DualFundNegotiated),
    };

    private static readonly Dictionary<string, (Func<AcceptChannel, AcceptChannel> Mutate, ChannelOpeningFailure Reason)> AcceptCases = new()
    {
        ["other temporary id"] = (a => a with { TemporaryChannelId = ChannelId.Parse(new string('e', 64)) }, ChannelOpeningFailure.TemporaryChannelIdMismatch),
        ["no channel_type"] = (a => a with { ChannelType = null }, ChannelOpeningFailure.MissingChannelType),
        ["other channel_type"] = (a => a with { ChannelType = ChannelTypes.StaticRemoteKey }, ChannelOpeningFailure.ChannelTypeMismatch),
        ["invalid funding_pubkey"] = (a => a with { Keys = a.Keys with { FundingPubkey = NotAPoint } }, ChannelOpeningFailure.InvalidPoint),
        ["invalid first_per_commitment_point"] = (a => a with { Keys = a.Keys with { FirstPerCommitmentPoint = NotAPoint } }, ChannelOpeningFailure.InvalidPoint),
        ["max_accepted_htlcs above 483"] = (a => a with { MaxAcceptedHtlcs = 484 }, ChannelOpeningFailure.TooManyAcceptedHtlcs),
        ["to_self_delay too large"] = (a => a with { ToSelfDelay = 2017 }, ChannelOpeningFailure.ToSelfDelayTooLarge),
        ["dust below 354"] = (a => a with { DustLimitSatoshis = new Satoshis(353) }, ChannelOpeningFailure.DustLimitTooSmall),
        ["dust too large"] = (a => a with { DustLimitSatoshis = new Satoshis(10_001) }, ChannelOpeningFailure.DustLimitTooLarge),
        ["reserve below our dust"] = (a => a with { ChannelReserveSatoshis = new Satoshis(545) }, ChannelOpeningFailure.DustLimitAboveReserve),
        ["reserve above a fifth"] = (a => a with { ChannelReserveSatoshis = new Satoshis(200_001) }, ChannelOpeningFailure.ChannelReserveTooLarge),
        ["minimum_depth too large"] = (a => a with { MinimumDepth = 145 }, ChannelOpeningFailure.MinimumDepthTooLarge),
        ["invalid upfront_shutdown_script"] = (a => a with { UpfrontShutdownScript = new byte[] { 0x00, 0x15, 0x01 } }, ChannelOpeningFailure.InvalidUpfrontShutdownScript),
    };

    public static TheoryData<string> OpenCaseNames => [.. OpenCases.Keys];

    public static TheoryData<string> AcceptCaseNames => [.. AcceptCases.Keys];

    [Theory]
    [MemberData(nameof(OpenCaseNames))]
    public void FundeeRejectsOpenChannel(string name)
    {
        var (mutate, policy, reason) = OpenCases[name];
        var open = mutate(NewFunder().OpenChannel);
        var ex = Assert.Throws<ChannelOpeningException>(() =>
            InboundChannelOpening.FromOpenChannel(open, policy is null ? Policy : policy(Policy), FundeeKeys, ChainHash.Regtest));
        Assert.Equal(reason, ex.Reason);
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));
    }

    [Theory]
    [MemberData(nameof(AcceptCaseNames))]
    public void FunderRejectsAcceptChannelAndKeepsWaiting(string name)
    {
        var (mutate, reason) = AcceptCases[name];
        var funder = NewFunder(Options() with { LocalLimits = FunderLimits with { ChannelReserve = Money.Satoshis(10_000) } });
        var accept = NewFundee(funder.OpenChannel).AcceptChannel;
        var ex = Assert.Throws<ChannelOpeningException>(() => funder.HandleAcceptChannel(mutate(accept)));
        Assert.Equal(reason, ex.Reason);

        // The failed message left the handshake where it was: the valid accept_channel still completes it.
        var output = funder.HandleAcceptChannel(accept);
        Assert.Equal(Funding, output.Amount);
    }

    [Fact]
    public void FunderRejectsAcceptWhenBothBalancesAreBelowTheReserve()
    {
        var options = Options(push: MilliSatoshi.FromSatoshis(15_000)) with { FundingAmount = Money.Satoshis(100_000), FeeratePerKw = 60_000, LocalLimits = FunderLimits with { ChannelReserve = Money.Satoshis(1_000) } };
        var funder = NewFunder(options);
        var accept = NewFundee(funder.OpenChannel).AcceptChannel;
        var ex = Assert.Throws<ChannelOpeningException>(() => funder.HandleAcceptChannel(accept with { ChannelReserveSatoshis = new Satoshis(20_000) }));
        Assert.Equal(ChannelOpeningFailure.BalancesBelowReserve, ex.Reason);
        Assert.Equal(Money.Satoshis(100_000), funder.HandleAcceptChannel(accept).Amount);
    }

    [Fact]
    public void FunderRejectsDustAboveItsReserve()
    {
        var funder = NewFunder(Options() with { LocalLimits = FunderLimits with { ChannelReserve = Money.Satoshis(600) } });
        var accept = NewFundee(funder.OpenChannel).AcceptChannel with { DustLimitSatoshis = new Satoshis(601) };
        Assert.Equal(ChannelOpeningFailure.DustLimitAboveReserve, Assert.Throws<ChannelOpeningException>(() => funder.HandleAcceptChannel(accept)).Reason);
    }

    [Fact]
    public void TrustedZeroConfAndLargeChannelsAreAccepted()
    {
        var open = NewFunder().OpenChannel with { ChannelType = ChannelTypes.AnchorsZeroFeeHtlcTx.With(50) };
        var fundee = InboundChannelOpening.FromOpenChannel(open, Policy with { AcceptZeroConf = true }, FundeeKeys, ChainHash.Regtest);
        Assert.Equal(0u, fundee.AcceptChannel.MinimumDepth);

        var large = NewFunder().OpenChannel with { FundingSatoshis = new Satoshis(1 << 24) };
        var policy = Policy with { LargeChannelsSupported = true, MaxFundingAmount = Money.Coins(10) };
        Assert.Equal(large.TemporaryChannelId, InboundChannelOpening.FromOpenChannel(large, policy, FundeeKeys, ChainHash.Regtest).TemporaryChannelId);

        var anysegwit = NewFunder().OpenChannel with { UpfrontShutdownScript = Witness(0x51, 32) };
        Assert.NotNull(InboundChannelOpening.FromOpenChannel(anysegwit, Policy with { NegotiatedFeatures = FeatureBits.Of(27) }, FundeeKeys, ChainHash.Regtest));
    }

    [Fact]
    public void PolicyFromFeeEstimateBracketsTheEstimate()
    {
        var policy = InboundChannelPolicy.FromFeeEstimate(FundeeLimits, Money.Satoshis(20_000), Money.Satoshis(1_000_000), 2016, 2000, 3);
        Assert.Equal(1000u, policy.MinFeeratePerKw);
        Assert.Equal(20_000u, policy.MaxFeeratePerKw);
        var low = InboundChannelPolicy.FromFeeEstimate(FundeeLimits, Money.Satoshis(20_000), Money.Satoshis(1_000_000), 2016, 300, 3);
        Assert.Equal(253u, low.MinFeeratePerKw);
        Assert.Equal(3000u, low.MaxFeeratePerKw);
    }

    [Fact]
    public void OurOwnInconsistentPolicyIsAnArgumentError()
    {
        var bad = Policy with { LocalLimits = FundeeLimits with { MaxAcceptedHtlcs = 484 } };
        Assert.Throws<ArgumentException>(() => InboundChannelOpening.FromOpenChannel(NewFunder().OpenChannel, bad, FundeeKeys, ChainHash.Regtest));
    }

    private static byte[] Witness(byte version, int length) => [version, (byte)length, .. Enumerable.Repeat((byte)7, length)];
}
