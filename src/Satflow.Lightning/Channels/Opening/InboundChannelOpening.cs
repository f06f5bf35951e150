using NBitcoin;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Channels.Opening.OpeningRules;

namespace Satflow.Lightning.Channels.Opening;

/// <summary>
/// The fundee's side of the BOLT 2 v1 opening handshake: <c>open_channel</c> → <c>accept_channel</c> →
/// <c>funding_created</c> → <c>funding_signed</c>. Pure: no clock, no I/O. A failed step throws a
/// <see cref="ChannelOpeningException"/> and leaves the object unchanged.
/// </summary>
public sealed class InboundChannelOpening
{
    /// <summary>BOLT 2: the fundee SHOULD forget the channel if the funding transaction is not seen after this many blocks.</summary>
    public const uint FundingTimeoutBlocks = 2016;

    private readonly OpenChannel _open;
    private readonly InboundChannelPolicy _policy;
    private readonly LocalChannelKeys _keys;
    private readonly CommitmentFormat _format;
    private readonly ChannelLimits _localLimits;
    private readonly ChannelBasepoints _remoteBasepoints;
    private readonly Script? _remoteShutdownScript;
    private bool _funded;

    private InboundChannelOpening(OpenChannel open, InboundChannelPolicy policy, LocalChannelKeys keys, CommitmentFormat format, ChannelLimits localLimits, ChannelBasepoints remoteBasepoints, Script? remoteShutdownScript, uint minimumDepth)
    {
        _open = open;
        _policy = policy;
        _keys = keys;
        _format = format;
        _localLimits = localLimits;
        _remoteBasepoints = remoteBasepoints;
        _remoteShutdownScript = remoteShutdownScript;
        MinimumDepth = minimumDepth;
        AcceptChannel = new AcceptChannel(
            open.TemporaryChannelId,
            new Satoshis((ulong)localLimits.DustLimit.Satoshi),
            localLimits.MaxHtlcValueInFlight,
            new Satoshis((ulong)localLimits.ChannelReserve.Satoshi),
            localLimits.HtlcMinimum,
            minimumDepth,
            localLimits.ToSelfDelay,
            localLimits.MaxAcceptedHtlcs,
            WireKeys(keys))
        {
            UpfrontShutdownScript = policy.UpfrontShutdownScript is { } script ? script.ToBytes(true) : ReadOnlyMemory<byte>.Empty,
            ChannelType = open.ChannelType,
        };
    }

    /// <summary>The <c>accept_channel</c> to send.</summary>
    public AcceptChannel AcceptChannel { get; }

    /// <summary>The peer's <c>open_channel</c>.</summary>
    public OpenChannel OpenChannel => _open;

    /// <summary>The temporary channel id.</summary>
    public ChannelId TemporaryChannelId => _open.TemporaryChannelId;

    /// <summary>The <c>minimum_depth</c> we announced.</summary>
    public uint MinimumDepth { get; }

    /// <summary>
    /// Checks a peer's <c>open_channel</c> against every BOLT 2 rule for its receiver and our policy, and prepares the
    /// <see cref="AcceptChannel"/> answer.
    /// </summary>
    /// <param name="open">The peer's message.</param>
    /// <param name="policy">What we accept.</param>
    /// <param name="keys">Our channel keys.</param>
    /// <param name="chainHash">The chain we operate on.</param>
    /// <exception cref="ChannelOpeningException">When a rule fails.</exception>
    /// <exception cref="ArgumentException">When our own policy is inconsistent (limits that break the BOLT 2 sender rules).</exception>
    public static InboundChannelOpening FromOpenChannel(OpenChannel open, InboundChannelPolicy policy, LocalChannelKeys keys, ChainHash chainHash)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(policy.LocalLimits);
        ArgumentNullException.ThrowIfNull(policy.NegotiatedFeatures);
        var ours = policy.LocalLimits;
        if (ours.MaxAcceptedHtlcs is 0 or > MaxAcceptedHtlcsLimit || ours.DustLimit.Satoshi < (long)MinDustLimitSatoshis)
        {
            throw new ArgumentException("Our limits need max_accepted_htlcs 1..483 and a dust limit of at least 354 sat.", nameof(policy));
        }

        if (open.ChainHash != chainHash)
        {
            throw Fail(ChannelOpeningFailure.UnknownChain, $"chain_hash {open.ChainHash} is not our chain {chainHash}");
        }
        if (policy.NegotiatedFeatures.Supports(FeatureRegistry.DualFund.EvenBit))
        {
            throw Fail(ChannelOpeningFailure.DualFundNegotiated, $"option_dual_fund was negotiated: open_channel2 must be used");
        }
        if (open.ChannelType is not { } channelType)
        {
            throw Fail(ChannelOpeningFailure.MissingChannelType, $"open_channel has no channel_type");
        }
        if (!ChannelTypes.IsDefined(channelType))
        {
            throw Fail(ChannelOpeningFailure.UnsupportedChannelType, $"channel_type {channelType} is not a supported type (static_remotekey, or anchors with static_remotekey)");
        }
        if (ChannelTypes.HasScidAlias(channelType) && open.AnnounceChannel)
        {
            throw Fail(ChannelOpeningFailure.UnsupportedChannelType, $"channel_type {channelType} has option_scid_alias on a public channel");
        }
        if (ChannelTypes.HasZeroConf(channelType) && !policy.AcceptZeroConf)
        {
            throw Fail(ChannelOpeningFailure.UnsupportedChannelType, $"channel_type {channelType} asks for zero-conf, which we do not allow from this peer");
        }
        CheckPoints(open.Keys);

        var fundingSat = open.FundingSatoshis.Value;
        if (fundingSat > MaxMoneySatoshis || fundingSat > (ulong)policy.MaxFundingAmount.Satoshi)
        {
            throw Fail(ChannelOpeningFailure.FundingTooLarge, $"funding_satoshis {fundingSat} is greater than our maximum {policy.MaxFundingAmount.Satoshi}");
        }
        if (fundingSat >= LargeChannelThreshold && !policy.LargeChannelsSupported)
        {
            throw Fail(ChannelOpeningFailure.FundingTooLarge, $"funding_satoshis {fundingSat} needs option_support_large_channel");
        }
        if (fundingSat < (ulong)Math.Max(1, policy.MinFundingAmount.Satoshi))
        {
            throw Fail(ChannelOpeningFailure.FundingTooSmall, $"funding_satoshis {fundingSat} is smaller than our minimum {policy.MinFundingAmount.Satoshi}");
        }
        var fundingMsat = MilliSatoshi.FromSatoshis(fundingSat);
        if (open.PushMsat > fundingMsat)
        {
            throw Fail(ChannelOpeningFailure.PushExceedsFunding, $"push_msat {open.PushMsat.Value} is greater than funding_satoshis * 1000");
        }
        CheckToSelfDelay(open.ToSelfDelay, policy.MaxToSelfDelay);
        CheckMaxAcceptedHtlcs(open.MaxAcceptedHtlcs);
        if (open.FeeratePerKw < policy.MinFeeratePerKw)
        {
            throw Fail(ChannelOpeningFailure.FeerateTooLow, $"feerate_per_kw {open.FeeratePerKw} is below our minimum {policy.MinFeeratePerKw}");
        }
        if (open.FeeratePerKw > policy.MaxFeeratePerKw)
        {
            throw Fail(ChannelOpeningFailure.FeerateTooHigh, $"feerate_per_kw {open.FeeratePerKw} is above our maximum {policy.MaxFeeratePerKw}");
        }
        CheckDustLimit(open.DustLimitSatoshis, policy.MaxRemoteDustLimit);
        if (open.DustLimitSatoshis.Value > open.ChannelReserveSatoshis.Value)
        {
            throw Fail(ChannelOpeningFailure.DustLimitAboveReserve, $"dust_limit_satoshis {open.DustLimitSatoshis.Value} is greater than channel_reserve_satoshis {open.ChannelReserveSatoshis.Value}");
        }
        var funding = Money.Satoshis((long)fundingSat);
        CheckReserveNotTooLarge(open.ChannelReserveSatoshis, funding);
        if ((ulong)ours.DustLimit.Satoshi > open.ChannelReserveSatoshis.Value)
        {
            throw Fail(ChannelOpeningFailure.DustLimitAboveReserve, $"our dust_limit_satoshis {ours.DustLimit.Satoshi} is greater than channel_reserve_satoshis {open.ChannelReserveSatoshis.Value}");
        }

        var format = ChannelTypes.FormatOf(channelType);
        var funderSat = (long)(fundingMsat - open.PushMsat).TruncateToSatoshis();
        var funderCost = FunderCost(format, open.FeeratePerKw).Satoshi;
        if (funderSat < funderCost)
        {
            throw Fail(ChannelOpeningFailure.FunderCannotPayFee, $"the funder's {funderSat} sat cannot pay the initial commitment fee and anchors ({funderCost} sat)");
        }
        var reserve = (long)open.ChannelReserveSatoshis.Value;
        if (funderSat - funderCost <= reserve && (long)open.PushMsat.TruncateToSatoshis() <= reserve)
        {
            throw Fail(ChannelOpeningFailure.BalancesBelowReserve, $"both initial balances are at or below channel_reserve_satoshis {reserve}");
        }
        var remoteScript = UpfrontScript(open.UpfrontShutdownScript, policy.NegotiatedFeatures);

        var localReserve = Money.Max(ours.ChannelReserve, open.DustLimitSatoshis.ToMoney());
        var localLimits = ours with { ChannelReserve = localReserve };
        var minimumDepth = ChannelTypes.HasZeroConf(channelType) ? 0 : Math.Max(1u, policy.MinimumDepth);
        return new InboundChannelOpening(open, policy, keys, format, localLimits, Basepoints(open.Keys), remoteScript, minimumDepth);
    }

    /// <summary>
    /// Checks the funder's signature of our commitment 0, signs its commitment 0 and completes the handshake.
    /// </summary>
    /// <exception cref="ChannelOpeningException">When the message is out of order, for another channel, or its signature is invalid.</exception>
    public InboundFundingResult HandleFundingCreated(FundingCreated message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_funded)
        {
            throw Fail(ChannelOpeningFailure.UnexpectedMessage, $"funding_created received twice");
        }
        if (message.TemporaryChannelId != TemporaryChannelId)
        {
            throw Fail(ChannelOpeningFailure.TemporaryChannelIdMismatch, $"temporary_channel_id {message.TemporaryChannelId} does not match open_channel");
        }
        var funding = _open.FundingSatoshis.ToMoney();
        var outPoint = new OutPoint(message.FundingTxid, message.FundingOutputIndex);
        var parameters = new ChannelStaticParameters(
            _format, outPoint, funding, LocalIsFunder: false, _keys.Basepoints, _remoteBasepoints,
            LocalToSelfDelay: _open.ToSelfDelay, RemoteToSelfDelay: _localLimits.ToSelfDelay,
            LocalDustLimit: _localLimits.DustLimit, RemoteDustLimit: _open.DustLimitSatoshis.ToMoney());
        var localBalance = _open.PushMsat;
        var remoteBalance = MilliSatoshi.FromSatoshis(_open.FundingSatoshis.Value) - _open.PushMsat;
        var localCommitment = parameters.BuildLocalCommitment(0, _keys.PerCommitmentPoint(0), _open.FeeratePerKw, localBalance, remoteBalance, []);
        if (!ChannelSignatures.TryFromWire(message.Signature, out var signature)
            || !Bolt3Signing.VerifyCommitment(localCommitment, signature, _remoteBasepoints.FundingPubKey))
        {
            throw Fail(ChannelOpeningFailure.InvalidSignature, $"funding_created signature is not a valid low-S signature of our first commitment");
        }
        var remotePoint = _open.Keys.FirstPerCommitmentPoint.ToPubKey();
        var remoteCommitment = parameters.BuildRemoteCommitment(0, remotePoint, _open.FeeratePerKw, remoteBalance, localBalance, []);
        var ourSignature = Bolt3Signing.SignCommitment(remoteCommitment, _keys.FundingKey);
        _funded = true;
        var channel = new FundedChannel(
            parameters,
            TemporaryChannelId,
            _localLimits,
            Limits(_open.DustLimitSatoshis, _open.ChannelReserveSatoshis, _open.MaxHtlcValueInFlightMsat, _open.HtlcMinimumMsat, _open.ToSelfDelay, _open.MaxAcceptedHtlcs),
            _open.FeeratePerKw,
            localBalance,
            remoteBalance,
            remotePoint,
            signature,
            MinimumDepth,
            _open.ChannelType!,
            _policy.UpfrontShutdownScript,
            _remoteShutdownScript,
            _open.AnnounceChannel);
        return new InboundFundingResult(new FundingSigned(parameters.ChannelId, ChannelSignatures.ToWire(ourSignature)), channel);
    }

    /// <summary>
    /// BOLT 2: whether the fundee should forget a channel whose funding transaction has not been seen
    /// <see cref="FundingTimeoutBlocks"/> blocks after it accepted it.
    /// </summary>
    /// <param name="currentHeight">The current block height.</param>
    /// <param name="heightAtAccept">The block height when we sent <c>funding_signed</c>.</param>
    public static bool IsFundingTimedOut(uint currentHeight, uint heightAtAccept) =>
        currentHeight >= heightAtAccept && currentHeight - heightAtAccept >= FundingTimeoutBlocks;
}
