using NBitcoin;
using Satflow.Lightning.Features;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels.Opening;

/// <summary>What we propose when we open (and fund) a channel, and the limits we accept in the peer's <c>accept_channel</c>.</summary>
/// <param name="ChainHash">The chain the channel lives on.</param>
/// <param name="FundingAmount">The channel capacity we fund.</param>
/// <param name="PushAmount">The amount given to the peer at opening (<c>push_msat</c>).</param>
/// <param name="FeeratePerKw">The initial commitment feerate.</param>
/// <param name="LocalLimits">The limits we announce (they constrain the peer).</param>
/// <param name="AnnounceChannel">Whether the channel is to be public.</param>
public sealed record OutboundChannelOptions(
    ChainHash ChainHash,
    Money FundingAmount,
    MilliSatoshi PushAmount,
    uint FeeratePerKw,
    ChannelLimits LocalLimits,
    bool AnnounceChannel)
{
    /// <summary>The channel type to propose: anchors (zero-fee HTLC) with static remote key by default; static remote key alone is allowed.</summary>
    public FeatureBits ChannelType { get; init; } = ChannelTypes.AnchorsZeroFeeHtlcTx;

    /// <summary>Our upfront shutdown script, or null to commit to none.</summary>
    public Script? UpfrontShutdownScript { get; init; }

    /// <summary>The features negotiated in <c>init</c> (used for shutdown script forms and large channels).</summary>
    public FeatureBits NegotiatedFeatures { get; init; } = FeatureBits.Empty;

    /// <summary>The largest <c>minimum_depth</c> we accept from the peer.</summary>
    public uint MaxMinimumDepth { get; init; } = 144;

    /// <summary>The largest <c>to_self_delay</c> the peer may impose on our outputs.</summary>
    public ushort MaxToSelfDelay { get; init; } = 2016;

    /// <summary>The largest <c>dust_limit_satoshis</c> we accept from the peer.</summary>
    public Money MaxRemoteDustLimit { get; init; } = Money.Satoshis(10_000);
}

/// <summary>What we accept when a peer opens a channel to us, and what we answer with.</summary>
/// <param name="LocalLimits">The limits we announce (our reserve is raised to the funder's dust limit when below it).</param>
/// <param name="MinFundingAmount">The smallest capacity we accept.</param>
/// <param name="MaxFundingAmount">The largest capacity we accept.</param>
/// <param name="MaxToSelfDelay">The largest <c>to_self_delay</c> the funder may impose on our outputs.</param>
/// <param name="MinFeeratePerKw">The lowest initial commitment feerate we accept.</param>
/// <param name="MaxFeeratePerKw">The highest initial commitment feerate we accept.</param>
/// <param name="MinimumDepth">The confirmations we require before <c>channel_ready</c>.</param>
public sealed record InboundChannelPolicy(
    ChannelLimits LocalLimits,
    Money MinFundingAmount,
    Money MaxFundingAmount,
    ushort MaxToSelfDelay,
    uint MinFeeratePerKw,
    uint MaxFeeratePerKw,
    uint MinimumDepth)
{
    /// <summary>The floor of any feerate: 253 sat/kw (1 sat/vB rounded up).</summary>
    public const uint FeerateFloorPerKw = 253;

    /// <summary>Whether we support <c>option_support_large_channel</c> (capacities of 2^24 satoshis and more).</summary>
    public bool LargeChannelsSupported { get; init; }

    /// <summary>The features negotiated in <c>init</c> (used for shutdown script forms; <c>option_dual_fund</c> forbids <c>open_channel</c>).</summary>
    public FeatureBits NegotiatedFeatures { get; init; } = FeatureBits.Empty;

    /// <summary>The largest <c>dust_limit_satoshis</c> we accept from the funder.</summary>
    public Money MaxRemoteDustLimit { get; init; } = Money.Satoshis(10_000);

    /// <summary>Whether we trust this peer to open zero-conf channels (<c>option_zeroconf</c> channel types).</summary>
    public bool AcceptZeroConf { get; init; }

    /// <summary>Our upfront shutdown script, or null to commit to none.</summary>
    public Script? UpfrontShutdownScript { get; init; }

    /// <summary>
    /// A policy whose feerate range is derived from our current estimate: from half of it (at least
    /// <see cref="FeerateFloorPerKw"/>) to ten times it.
    /// </summary>
    /// <param name="localLimits">The limits we announce.</param>
    /// <param name="minFundingAmount">The smallest capacity we accept.</param>
    /// <param name="maxFundingAmount">The largest capacity we accept.</param>
    /// <param name="maxToSelfDelay">The largest <c>to_self_delay</c> we accept.</param>
    /// <param name="estimatedFeeratePerKw">Our fee estimate for timely inclusion.</param>
    /// <param name="minimumDepth">The confirmations we require.</param>
    public static InboundChannelPolicy FromFeeEstimate(ChannelLimits localLimits, Money minFundingAmount, Money maxFundingAmount, ushort maxToSelfDelay, uint estimatedFeeratePerKw, uint minimumDepth)
    {
        var min = Math.Max(FeerateFloorPerKw, estimatedFeeratePerKw / 2);
        var max = (uint)Math.Min(uint.MaxValue, Math.Max((ulong)min, (ulong)estimatedFeeratePerKw * 10));
        return new InboundChannelPolicy(localLimits, minFundingAmount, maxFundingAmount, maxToSelfDelay, min, max, minimumDepth);
    }
}

/// <summary>The funding output the funder must create (P2WSH of the 2-of-2 funding script).</summary>
/// <param name="WitnessScript">The 2-of-2 funding script.</param>
/// <param name="ScriptPubKey">The P2WSH output script.</param>
/// <param name="Amount">The funding amount.</param>
public sealed record FundingOutput(Script WitnessScript, Script ScriptPubKey, Money Amount)
{
    /// <summary>The output as a <see cref="TxOut"/>.</summary>
    public TxOut ToTxOut() => new(Amount, ScriptPubKey);
}

/// <summary>What the fundee gets when the funder's <c>funding_created</c> checks out.</summary>
/// <param name="FundingSigned">The message to send back.</param>
/// <param name="Channel">The funded channel, handed to the channel state machine.</param>
public sealed record InboundFundingResult(Messages.FundingSigned FundingSigned, FundedChannel Channel);
