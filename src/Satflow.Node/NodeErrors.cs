namespace Satflow.Node;

/// <summary>Why a node operation was refused.</summary>
public enum NodeErrorReason
{
    /// <summary>A malformed or out-of-range argument (bad invoice, wrong network, zero amount...).</summary>
    InvalidArgument,

    /// <summary>No such channel, payment or invoice.</summary>
    NotFound,

    /// <summary>The peer is not connected.</summary>
    PeerNotConnected,

    /// <summary>Not enough funds on chain or in the channel.</summary>
    InsufficientFunds,

    /// <summary>That payment hash was already paid or is being paid.</summary>
    AlreadyPaid,

    /// <summary>The channel is not usable for this yet (or any more).</summary>
    ChannelNotReady,

    /// <summary>The invoice has expired.</summary>
    InvoiceExpired,

    /// <summary>No channel with the destination (this node pays direct peers only).</summary>
    NoRoute,

    /// <summary>The peer refused.</summary>
    Rejected,
}

/// <summary>A node operation was refused; nothing was changed.</summary>
public sealed class NodeOperationRefusedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NodeOperationRefusedException(NodeErrorReason reason, string message, Exception? inner = null) : base(message, inner) => Reason = reason;

    /// <summary>Creates the exception.</summary>
    public NodeOperationRefusedException() : this(NodeErrorReason.InvalidArgument, "Refused.") { }

    /// <summary>Creates the exception.</summary>
    public NodeOperationRefusedException(string message) : this(NodeErrorReason.InvalidArgument, message) { }

    /// <summary>Creates the exception.</summary>
    public NodeOperationRefusedException(string message, Exception inner) : this(NodeErrorReason.InvalidArgument, message, inner) { }

    /// <summary>Why.</summary>
    public NodeErrorReason Reason { get; }
}
