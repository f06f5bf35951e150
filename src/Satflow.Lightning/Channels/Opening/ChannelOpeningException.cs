using System.Text;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels.Opening;

/// <summary>Why a channel opening handshake failed (each value is a BOLT 2 rule or a local policy limit).</summary>
public enum ChannelOpeningFailure
{
    /// <summary>The message does not fit the current step of the handshake (out of order or repeated).</summary>
    UnexpectedMessage,

    /// <summary><c>chain_hash</c> names a chain we do not operate on.</summary>
    UnknownChain,

    /// <summary>The <c>temporary_channel_id</c> differs from the one of <c>open_channel</c>.</summary>
    TemporaryChannelIdMismatch,

    /// <summary><c>funding_satoshis</c> is below our minimum.</summary>
    FundingTooSmall,

    /// <summary><c>funding_satoshis</c> is above our maximum, or at least 2^24 without <c>option_support_large_channel</c>.</summary>
    FundingTooLarge,

    /// <summary><c>push_msat</c> is greater than <c>funding_satoshis</c> × 1000.</summary>
    PushExceedsFunding,

    /// <summary><c>to_self_delay</c> is unreasonably large.</summary>
    ToSelfDelayTooLarge,

    /// <summary><c>max_accepted_htlcs</c> is greater than 483.</summary>
    TooManyAcceptedHtlcs,

    /// <summary><c>feerate_per_kw</c> is too small for timely processing.</summary>
    FeerateTooLow,

    /// <summary><c>feerate_per_kw</c> is unreasonably large.</summary>
    FeerateTooHigh,

    /// <summary>A key or basepoint is not a valid compressed secp256k1 point.</summary>
    InvalidPoint,

    /// <summary><c>dust_limit_satoshis</c> is below 354 satoshis.</summary>
    DustLimitTooSmall,

    /// <summary><c>dust_limit_satoshis</c> is larger than we accept.</summary>
    DustLimitTooLarge,

    /// <summary>A <c>dust_limit_satoshis</c> is greater than the <c>channel_reserve_satoshis</c> it must stay under (either side's).</summary>
    DustLimitAboveReserve,

    /// <summary><c>channel_reserve_satoshis</c> is larger than we accept (a fifth of the capacity).</summary>
    ChannelReserveTooLarge,

    /// <summary>The funder cannot pay the initial commitment fee (and the anchors).</summary>
    FunderCannotPayFee,

    /// <summary>Both initial balances are at or below <c>channel_reserve_satoshis</c>.</summary>
    BalancesBelowReserve,

    /// <summary>The message carries no <c>channel_type</c>.</summary>
    MissingChannelType,

    /// <summary>The <c>channel_type</c> is not one we accept.</summary>
    UnsupportedChannelType,

    /// <summary><c>accept_channel</c>'s <c>channel_type</c> differs from the one of <c>open_channel</c>.</summary>
    ChannelTypeMismatch,

    /// <summary><c>minimum_depth</c> is unreasonably large (or not zero for a zero-conf channel type).</summary>
    MinimumDepthTooLarge,

    /// <summary>The <c>upfront_shutdown_script</c> is not a valid shutdown script.</summary>
    InvalidUpfrontShutdownScript,

    /// <summary><c>option_dual_fund</c> was negotiated, so <c>open_channel</c> must not be used.</summary>
    DualFundNegotiated,

    /// <summary>The funding outpoint does not give the expected channel id.</summary>
    ChannelIdMismatch,

    /// <summary>The commitment signature is invalid or not low-S.</summary>
    InvalidSignature,
}

/// <summary>
/// A channel opening handshake failed. <see cref="Exception.Message"/> is the human text to send in the
/// <c>error</c> message (<see cref="ToErrorMessage"/>); the handshake object's state is unchanged.
/// </summary>
public sealed class ChannelOpeningException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">The rule that failed.</param>
    /// <param name="message">The human text for the peer.</param>
    public ChannelOpeningException(ChannelOpeningFailure reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    /// <summary>Creates the exception with <see cref="ChannelOpeningFailure.UnexpectedMessage"/>.</summary>
    public ChannelOpeningException()
        : this(ChannelOpeningFailure.UnexpectedMessage, "unexpected message")
    {
    }

    /// <summary>Creates the exception with <see cref="ChannelOpeningFailure.UnexpectedMessage"/>.</summary>
    /// <param name="message">The human text.</param>
    public ChannelOpeningException(string message)
        : this(ChannelOpeningFailure.UnexpectedMessage, message)
    {
    }

    /// <summary>Creates the exception with <see cref="ChannelOpeningFailure.UnexpectedMessage"/>.</summary>
    /// <param name="message">The human text.</param>
    /// <param name="innerException">The cause.</param>
    public ChannelOpeningException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = ChannelOpeningFailure.UnexpectedMessage;
    }

    /// <summary>The rule that failed.</summary>
    public ChannelOpeningFailure Reason { get; }

    /// <summary>The BOLT 1 <c>error</c> message that fails the channel, carrying <see cref="Exception.Message"/> as ASCII.</summary>
    /// <param name="channelId">The (temporary) channel id the error is about.</param>
    public Error ToErrorMessage(ChannelId channelId) => new(channelId, Encoding.ASCII.GetBytes(Message));
}
