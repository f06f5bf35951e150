using NBitcoin;
using Satflow.Lightning.Channels.Closing;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Channels.Opening.OpeningRules;

namespace Satflow.Lightning.Channels.Opening;

/// <summary>
/// The funder's side of the BOLT 2 v1 opening handshake: <c>open_channel</c> → <c>accept_channel</c> →
/// <c>funding_created</c> → <c>funding_signed</c>. Pure: no clock, no I/O. A failed step throws a
/// <see cref="ChannelOpeningException"/> and leaves the object unchanged.
/// </summary>
public sealed class OutboundChannelOpening
{
    private readonly OutboundChannelOptions _options;
    private readonly LocalChannelKeys _keys;
    private readonly CommitmentFormat _format;
    private Step _step;
    private AcceptChannel? _accept;
    private ChannelBasepoints? _remoteBasepoints;
    private Script? _remoteShutdownScript;
    private ChannelStaticParameters? _parameters;

    private OutboundChannelOpening(OutboundChannelOptions options, LocalChannelKeys keys, ChannelId temporaryChannelId, CommitmentFormat format)
    {
        _options = options;
        _keys = keys;
        _format = format;
        var limits = options.LocalLimits;
        OpenChannel = new OpenChannel(
            options.ChainHash,
            temporaryChannelId,
            new Satoshis((ulong)options.FundingAmount.Satoshi),
            options.PushAmount,
            new Satoshis((ulong)limits.DustLimit.Satoshi),
            limits.MaxHtlcValueInFlight,
            new Satoshis((ulong)limits.ChannelReserve.Satoshi),
            limits.HtlcMinimum,
            options.FeeratePerKw,
            limits.ToSelfDelay,
            limits.MaxAcceptedHtlcs,
            WireKeys(keys),
            options.AnnounceChannel ? (byte)1 : (byte)0)
        {
            UpfrontShutdownScript = options.UpfrontShutdownScript is { } script ? script.ToBytes(true) : ReadOnlyMemory<byte>.Empty,
            ChannelType = options.ChannelType,
        };
    }

    private enum Step
    {
        AwaitingAccept,
        AwaitingFundingOutPoint,
        AwaitingFundingSigned,
        Funded,
    }

    /// <summary>The <c>open_channel</c> to send.</summary>
    public OpenChannel OpenChannel { get; }

    /// <summary>The temporary channel id.</summary>
    public ChannelId TemporaryChannelId => OpenChannel.TemporaryChannelId;

    /// <summary>The channel id once <see cref="CreateFundingCreated"/> fixed the funding outpoint, else null.</summary>
    public ChannelId? ChannelId => _parameters?.ChannelId;

    /// <summary>Starts an opening: checks our options and builds <see cref="OpenChannel"/>.</summary>
    /// <param name="options">What we propose.</param>
    /// <param name="keys">Our channel keys.</param>
    /// <param name="temporaryChannelId">A random 32-byte id, unique with this peer.</param>
    /// <exception cref="ArgumentException">When the options break a BOLT 2 sender rule.</exception>
    public static OutboundChannelOpening Create(OutboundChannelOptions options, LocalChannelKeys keys, ChannelId temporaryChannelId)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(options.FundingAmount);
        ArgumentNullException.ThrowIfNull(options.LocalLimits);
        ArgumentNullException.ThrowIfNull(options.ChannelType);
        ArgumentNullException.ThrowIfNull(options.NegotiatedFeatures);
        var limits = options.LocalLimits;
        var funding = options.FundingAmount.Satoshi;
        if (funding <= 0 || (ulong)funding > MaxMoneySatoshis)
        {
            throw new ArgumentException($"The funding amount {options.FundingAmount} is not a valid amount.", nameof(options));
        }
        if ((ulong)funding >= LargeChannelThreshold && !options.NegotiatedFeatures.Supports(Features.FeatureRegistry.SupportLargeChannel.EvenBit))
        {
            throw new ArgumentException("A funding amount of 2^24 satoshis or more needs option_support_large_channel.", nameof(options));
        }
        if (options.PushAmount > MilliSatoshi.FromSatoshis((ulong)funding))
        {
            throw new ArgumentException("push_msat exceeds the funding amount.", nameof(options));
        }
        if (!ChannelTypes.IsDefined(options.ChannelType) || ChannelTypes.HasZeroConf(options.ChannelType))
        {
            throw new ArgumentException($"Channel type {options.ChannelType} is not one we open (static_remotekey, or anchors with static_remotekey, optionally scid_alias).", nameof(options));
        }
        if (options.AnnounceChannel && ChannelTypes.HasScidAlias(options.ChannelType))
        {
            throw new ArgumentException("A public channel must not use the option_scid_alias channel type.", nameof(options));
        }
        if (limits.MaxAcceptedHtlcs is 0 or > MaxAcceptedHtlcsLimit)
        {
            throw new ArgumentException("max_accepted_htlcs must be 1..483.", nameof(options));
        }
        if (limits.DustLimit.Satoshi < (long)MinDustLimitSatoshis || limits.ChannelReserve < limits.DustLimit || limits.ChannelReserve.Satoshi > funding)
        {
            throw new ArgumentException("The dust limit must be at least 354 sat and at most the channel reserve, itself at most the funding amount.", nameof(options));
        }
        var format = ChannelTypes.FormatOf(options.ChannelType);
        var funderSat = (long)(MilliSatoshi.FromSatoshis((ulong)funding) - options.PushAmount).TruncateToSatoshis();
        if (funderSat < FunderCost(format, options.FeeratePerKw).Satoshi)
        {
            throw new ArgumentException("After push_msat we cannot pay the initial commitment fee and anchors.", nameof(options));
        }
        if (options.UpfrontShutdownScript is { } script && !ShutdownScript.TryValidate(script, options.NegotiatedFeatures, out _, out var reason))
        {
            throw new ArgumentException($"Invalid upfront shutdown script: {reason}", nameof(options));
        }
        return new OutboundChannelOpening(options, keys, temporaryChannelId, format);
    }

    /// <summary>
    /// Checks the peer's <c>accept_channel</c> against every BOLT 2 rule for the funder and our limits, and returns
    /// the funding output to create.
    /// </summary>
    /// <exception cref="ChannelOpeningException">When a rule fails (the object is unchanged).</exception>
    public FundingOutput HandleAcceptChannel(AcceptChannel accept)
    {
        ArgumentNullException.ThrowIfNull(accept);
        if (_step != Step.AwaitingAccept)
        {
            throw Fail(ChannelOpeningFailure.UnexpectedMessage, $"accept_channel received in step {_step}");
        }
        if (accept.TemporaryChannelId != TemporaryChannelId)
        {
            throw Fail(ChannelOpeningFailure.TemporaryChannelIdMismatch, $"temporary_channel_id {accept.TemporaryChannelId} does not match open_channel");
        }
        if (accept.ChannelType is not { } channelType)
        {
            throw Fail(ChannelOpeningFailure.MissingChannelType, $"accept_channel has no channel_type");
        }
        if (!channelType.Equals(_options.ChannelType))
        {
            throw Fail(ChannelOpeningFailure.ChannelTypeMismatch, $"channel_type {channelType} does not match the proposed {_options.ChannelType}");
        }
        CheckPoints(accept.Keys);
        CheckMaxAcceptedHtlcs(accept.MaxAcceptedHtlcs);
        CheckToSelfDelay(accept.ToSelfDelay, _options.MaxToSelfDelay);
        CheckDustLimit(accept.DustLimitSatoshis, _options.MaxRemoteDustLimit);
        if (accept.ChannelReserveSatoshis.Value < OpenChannel.DustLimitSatoshis.Value)
        {
            throw Fail(ChannelOpeningFailure.DustLimitAboveReserve, $"channel_reserve_satoshis {accept.ChannelReserveSatoshis.Value} is less than our dust_limit_satoshis {OpenChannel.DustLimitSatoshis.Value}");
        }
        if (OpenChannel.ChannelReserveSatoshis.Value < accept.DustLimitSatoshis.Value)
        {
            throw Fail(ChannelOpeningFailure.DustLimitAboveReserve, $"dust_limit_satoshis {accept.DustLimitSatoshis.Value} is greater than our channel_reserve_satoshis {OpenChannel.ChannelReserveSatoshis.Value}");
        }
        CheckReserveNotTooLarge(accept.ChannelReserveSatoshis, _options.FundingAmount);
        if (accept.MinimumDepth > _options.MaxMinimumDepth)
        {
            throw Fail(ChannelOpeningFailure.MinimumDepthTooLarge, $"minimum_depth {accept.MinimumDepth} is greater than our maximum {_options.MaxMinimumDepth}");
        }
        var reserve = (long)accept.ChannelReserveSatoshis.Value;
        var funderAfterFees = (long)LocalBalance.TruncateToSatoshis() - FunderCost(_format, _options.FeeratePerKw).Satoshi;
        if (funderAfterFees <= reserve && (long)RemoteBalance.TruncateToSatoshis() <= reserve)
        {
            throw Fail(ChannelOpeningFailure.BalancesBelowReserve, $"both initial balances are at or below channel_reserve_satoshis {reserve}");
        }
        var remoteScript = UpfrontScript(accept.UpfrontShutdownScript, _options.NegotiatedFeatures);
        var remoteBasepoints = Basepoints(accept.Keys);

        _accept = accept;
        _remoteBasepoints = remoteBasepoints;
        _remoteShutdownScript = remoteScript;
        _step = Step.AwaitingFundingOutPoint;
        var witnessScript = Bolt3Scripts.Funding(_keys.Basepoints.FundingPubKey, remoteBasepoints.FundingPubKey);
        return new FundingOutput(witnessScript, witnessScript.WitHash.ScriptPubKey, _options.FundingAmount);
    }

    /// <summary>
    /// Fixes the funding outpoint (of a funding transaction we built but must not broadcast yet) and signs the peer's
    /// commitment 0.
    /// </summary>
    /// <param name="fundingOutPoint">The outpoint paying <see cref="FundingOutput"/> (index at most 65535).</param>
    /// <exception cref="InvalidOperationException">When <c>accept_channel</c> has not been handled, or this was already called.</exception>
    /// <exception cref="ArgumentOutOfRangeException">When the output index does not fit 16 bits.</exception>
    public FundingCreated CreateFundingCreated(OutPoint fundingOutPoint)
    {
        ArgumentNullException.ThrowIfNull(fundingOutPoint);
        if (_step != Step.AwaitingFundingOutPoint)
        {
            throw new InvalidOperationException($"funding_created cannot be created in step {_step}.");
        }
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fundingOutPoint.N, (uint)ushort.MaxValue, nameof(fundingOutPoint));
        var accept = _accept!;
        var parameters = new ChannelStaticParameters(
            _format, fundingOutPoint, _options.FundingAmount, LocalIsFunder: true, _keys.Basepoints, _remoteBasepoints!,
            LocalToSelfDelay: accept.ToSelfDelay, RemoteToSelfDelay: _options.LocalLimits.ToSelfDelay,
            LocalDustLimit: _options.LocalLimits.DustLimit, RemoteDustLimit: accept.DustLimitSatoshis.ToMoney());
        var remoteCommitment = parameters.BuildRemoteCommitment(
            0, accept.Keys.FirstPerCommitmentPoint.ToPubKey(), _options.FeeratePerKw, RemoteBalance, LocalBalance, []);
        var signature = Bolt3Signing.SignCommitment(remoteCommitment, _keys.FundingKey);
        _parameters = parameters;
        _step = Step.AwaitingFundingSigned;
        return new FundingCreated(TemporaryChannelId, fundingOutPoint.Hash, (ushort)fundingOutPoint.N, ChannelSignatures.ToWire(signature));
    }

    /// <summary>
    /// Checks the peer's signature of our commitment 0 and completes the handshake; the funding transaction may be
    /// broadcast afterwards. A <c>minimum_depth</c> of 0 without the <c>option_zeroconf</c> channel type is recorded as 1.
    /// </summary>
    /// <exception cref="ChannelOpeningException">When the message is out of order, for another channel, or its signature is invalid.</exception>
    public FundedChannel HandleFundingSigned(FundingSigned message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_step != Step.AwaitingFundingSigned)
        {
            throw Fail(ChannelOpeningFailure.UnexpectedMessage, $"funding_signed received in step {_step}");
        }
        var parameters = _parameters!;
        if (message.ChannelId != parameters.ChannelId)
        {
            throw Fail(ChannelOpeningFailure.ChannelIdMismatch, $"funding_signed channel_id {message.ChannelId} is not {parameters.ChannelId}");
        }
        var localCommitment = parameters.BuildLocalCommitment(0, _keys.PerCommitmentPoint(0), _options.FeeratePerKw, LocalBalance, RemoteBalance, []);
        if (!ChannelSignatures.TryFromWire(message.Signature, out var signature)
            || !Bolt3Signing.VerifyCommitment(localCommitment, signature, parameters.Remote.FundingPubKey))
        {
            throw Fail(ChannelOpeningFailure.InvalidSignature, $"funding_signed signature is not a valid low-S signature of our first commitment");
        }
        var accept = _accept!;
        _step = Step.Funded;
        var minimumDepth = accept.MinimumDepth == 0 && !ChannelTypes.HasZeroConf(_options.ChannelType) ? 1u : accept.MinimumDepth;
        return new FundedChannel(
            parameters,
            TemporaryChannelId,
            _options.LocalLimits,
            Limits(accept.DustLimitSatoshis, accept.ChannelReserveSatoshis, accept.MaxHtlcValueInFlightMsat, accept.HtlcMinimumMsat, accept.ToSelfDelay, accept.MaxAcceptedHtlcs),
            _options.FeeratePerKw,
            LocalBalance,
            RemoteBalance,
            accept.Keys.FirstPerCommitmentPoint.ToPubKey(),
            signature,
            minimumDepth,
            _options.ChannelType,
            _options.UpfrontShutdownScript,
            _remoteShutdownScript,
            _options.AnnounceChannel);
    }

    private MilliSatoshi LocalBalance => MilliSatoshi.FromSatoshis((ulong)_options.FundingAmount.Satoshi) - _options.PushAmount;

    private MilliSatoshi RemoteBalance => _options.PushAmount;
}
