using System.Text;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels.Closing;

/// <summary>Why a mutual close failed (each value is a BOLT 2 rule or a local policy limit).</summary>
public enum ClosingFailure
{
    /// <summary>The message does not fit the current step of the negotiation (out of order, wrong channel, already done).</summary>
    UnexpectedMessage,

    /// <summary>A shutdown script is not one of the BOLT 2 forms allowed by the negotiated features.</summary>
    InvalidShutdownScript,

    /// <summary>The signature is invalid for every allowed variant of the closing transaction, or not low-S.</summary>
    InvalidSignature,

    /// <summary>The proposed fee exceeds the paying side's balance.</summary>
    FeeExceedsBalance,

    /// <summary>The proposed fee is outside the range we accept (or, without <c>fee_range</c>, not strictly between the last two proposals).</summary>
    FeeOutOfRange,

    /// <summary>The peer's <c>fee_range</c> does not overlap ours.</summary>
    DisjointFeeRanges,

    /// <summary>The <c>fee_range</c> is malformed (minimum above maximum).</summary>
    InvalidFeeRange,

    /// <summary>An output of the closing transaction is below the dust threshold of its script.</summary>
    DustOutput,

    /// <summary>The fee leaves no output that is not dust.</summary>
    NoOutputLeft,

    /// <summary>The scripts of <c>closing_complete</c>/<c>closing_sig</c> do not match the ones agreed.</summary>
    ScriptMismatch,

    /// <summary><c>closing_complete</c>/<c>closing_sig</c> carries the wrong set of signatures.</summary>
    MissingSignature,
}

/// <summary>
/// A mutual close step failed. <see cref="Exception.Message"/> is the human text for the <c>warning</c>/<c>error</c>
/// message; the negotiation object's state is unchanged.
/// </summary>
public sealed class ClosingException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">The rule that failed.</param>
    /// <param name="message">The human text for the peer.</param>
    public ClosingException(ClosingFailure reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    /// <summary>Creates the exception with <see cref="ClosingFailure.UnexpectedMessage"/>.</summary>
    public ClosingException()
        : this(ClosingFailure.UnexpectedMessage, "unexpected message")
    {
    }

    /// <summary>Creates the exception with <see cref="ClosingFailure.UnexpectedMessage"/>.</summary>
    /// <param name="message">The human text.</param>
    public ClosingException(string message)
        : this(ClosingFailure.UnexpectedMessage, message)
    {
    }

    /// <summary>Creates the exception with <see cref="ClosingFailure.UnexpectedMessage"/>.</summary>
    /// <param name="message">The human text.</param>
    /// <param name="innerException">The cause.</param>
    public ClosingException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = ClosingFailure.UnexpectedMessage;
    }

    /// <summary>The rule that failed.</summary>
    public ClosingFailure Reason { get; }

    /// <summary>The BOLT 1 <c>error</c> message that fails the channel, carrying <see cref="Exception.Message"/> as ASCII.</summary>
    /// <param name="channelId">The channel id.</param>
    public Error ToErrorMessage(ChannelId channelId) => new(channelId, Encoding.ASCII.GetBytes(Message));

    /// <summary>The BOLT 1 <c>warning</c> message, carrying <see cref="Exception.Message"/> as ASCII.</summary>
    /// <param name="channelId">The channel id.</param>
    public Warning ToWarningMessage(ChannelId channelId) => new(channelId, Encoding.ASCII.GetBytes(Message));
}
