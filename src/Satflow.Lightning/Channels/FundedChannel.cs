using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Features;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels;

/// <summary>
/// The limits one side announces in <c>open_channel</c>/<c>accept_channel</c>. The limits a side announces constrain
/// what the <em>other</em> side may do to it (BOLT 2).
/// </summary>
/// <param name="DustLimit">Outputs below this are not created on the announcer's commitment.</param>
/// <param name="MaxHtlcValueInFlight">The most the other side may have in HTLCs offered to the announcer at once.</param>
/// <param name="ChannelReserve">The balance the <em>other</em> side must keep on its side.</param>
/// <param name="HtlcMinimum">The smallest HTLC the announcer accepts.</param>
/// <param name="ToSelfDelay">The CSV delay the <em>other</em> side's <c>to_local</c> outputs get.</param>
/// <param name="MaxAcceptedHtlcs">The most HTLCs the other side may offer to the announcer at once (at most 483).</param>
public sealed record ChannelLimits(
    Money DustLimit,
    MilliSatoshi MaxHtlcValueInFlight,
    Money ChannelReserve,
    MilliSatoshi HtlcMinimum,
    ushort ToSelfDelay,
    ushort MaxAcceptedHtlcs);

/// <summary>
/// The result of a completed opening handshake: the funder has received <c>funding_signed</c>, or the fundee has sent
/// it. The channel state machine starts from this (state "awaiting funding confirmation").
/// </summary>
/// <param name="Parameters">The static channel parameters (funding outpoint, both sides' basepoints, delays, dust limits).</param>
/// <param name="TemporaryChannelId">The temporary id used until <c>funding_created</c>.</param>
/// <param name="LocalLimits">The limits we announced (they constrain the peer).</param>
/// <param name="RemoteLimits">The limits the peer announced (they constrain us).</param>
/// <param name="FeeratePerKw">The initial commitment feerate.</param>
/// <param name="LocalBalance">Our initial balance.</param>
/// <param name="RemoteBalance">The peer's initial balance (<c>push_msat</c> when we fund).</param>
/// <param name="RemoteFirstPerCommitmentPoint">The peer's per-commitment point of its commitment 0.</param>
/// <param name="RemoteSignatureOfLocalCommitment">The peer's signature of our commitment 0 (checked).</param>
/// <param name="MinimumDepth">Confirmations required before <c>channel_ready</c>.</param>
/// <param name="ChannelType">The negotiated channel type.</param>
/// <param name="LocalShutdownScript">Our upfront shutdown script, if we sent one.</param>
/// <param name="RemoteShutdownScript">The peer's upfront shutdown script, if it sent one.</param>
/// <param name="AnnounceChannel">Whether the channel is public (<c>channel_flags</c> bit 0).</param>
public sealed record FundedChannel(
    ChannelStaticParameters Parameters,
    ChannelId TemporaryChannelId,
    ChannelLimits LocalLimits,
    ChannelLimits RemoteLimits,
    uint FeeratePerKw,
    MilliSatoshi LocalBalance,
    MilliSatoshi RemoteBalance,
    PubKey RemoteFirstPerCommitmentPoint,
    ECDSASignature RemoteSignatureOfLocalCommitment,
    uint MinimumDepth,
    FeatureBits ChannelType,
    Script? LocalShutdownScript,
    Script? RemoteShutdownScript,
    bool AnnounceChannel);
