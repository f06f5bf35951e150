using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Monitor;

/// <summary>Why the monitor refused an update.</summary>
public enum ChannelMonitorError
{
    /// <summary>The update id is not the next one (a gap or an old update).</summary>
    UpdateOutOfOrder,

    /// <summary>The update contradicts what the monitor knows (wrong commitment number, unknown commitment, bad transaction).</summary>
    InvalidUpdate,

    /// <summary>A signature in the update does not verify.</summary>
    InvalidSignature,

    /// <summary>A revocation secret does not match the commitment's per-commitment point or the earlier secrets.</summary>
    InvalidRevocationSecret,

    /// <summary>The operation needs our commitment, which the monitor has not received yet.</summary>
    NoLocalCommitment,
}

/// <summary>The monitor refused an update; its state is unchanged.</summary>
public sealed class ChannelMonitorException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="error">Why.</param>
    /// <param name="message">A human-readable explanation.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public ChannelMonitorException(ChannelMonitorError error, string message, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
    }

    /// <summary>Why the update was refused.</summary>
    public ChannelMonitorError Error { get; }
}

/// <summary>Serialized monitor data is corrupt, truncated, of an unknown version, or belongs to other keys.</summary>
public sealed class ChannelMonitorFormatException : WireFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="reason">A short reason.</param>
    /// <param name="detail">Details.</param>
    /// <param name="inner">The underlying error, if any.</param>
    public ChannelMonitorFormatException(string reason, string? detail = null, Exception? inner = null)
        : base(reason, detail, inner)
    {
    }
}
