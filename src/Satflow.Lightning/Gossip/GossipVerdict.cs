using NBitcoin;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Gossip;

/// <summary>What a <see cref="GossipStore"/> made of one gossip message: accepted, or the typed reason it was not.</summary>
public enum GossipVerdict
{
    /// <summary>The message was new and valid: it is stored (and may be relayed).</summary>
    Accepted,

    /// <summary>The same message (or the same announcement) is already stored.</summary>
    Duplicate,

    /// <summary>The message is for another chain.</summary>
    WrongChain,

    /// <summary>A signature does not verify.</summary>
    InvalidSignature,

    /// <summary><c>node_id_1</c> is not strictly less than <c>node_id_2</c>.</summary>
    NodeIdsNotOrdered,

    /// <summary>The feature vector sets an even (required) bit this implementation does not know.</summary>
    UnknownRequiredFeature,

    /// <summary>No transaction output exists at the short channel id's position.</summary>
    FundingOutputMissing,

    /// <summary>The funding output has been spent: the channel is closed.</summary>
    FundingOutputSpent,

    /// <summary>The output at the short channel id is not the P2WSH 2-of-2 of the announced bitcoin keys.</summary>
    FundingScriptMismatch,

    /// <summary>The chain could not be asked (the backend failed); the message may be retried later.</summary>
    ChainUnavailable,

    /// <summary>A <c>channel_update</c> for a channel without a (valid) announcement.</summary>
    UnknownChannel,

    /// <summary>A <c>node_announcement</c> from a node that has no announced channel.</summary>
    NodeWithoutChannel,

    /// <summary>An update or node announcement not newer than the stored one.</summary>
    Outdated,

    /// <summary>Too many updates for this channel direction (or node) in a short time.</summary>
    RateLimited,

    /// <summary>The timestamp lies too far in the future.</summary>
    TimestampInFuture,

    /// <summary>The timestamp is older than the stale horizon (two weeks by default).</summary>
    TimestampTooOld,

    /// <summary>The HTLC limits are inconsistent (minimum above maximum, or maximum above the capacity).</summary>
    InvalidHtlcLimits,

    /// <summary>The message could not be processed at all (malformed fields, such as an invalid public key).</summary>
    Malformed,
}

/// <summary>Extensions of <see cref="GossipVerdict"/>.</summary>
public static class GossipVerdictExtensions
{
    /// <summary>True for <see cref="GossipVerdict.Accepted"/>.</summary>
    /// <param name="verdict">The verdict.</param>
    public static bool IsAccepted(this GossipVerdict verdict) => verdict == GossipVerdict.Accepted;

    /// <summary>
    /// True when the sender misbehaved (bad signature, wrong script, malformed data) rather than merely being late or
    /// repetitive; a host may count these against the peer.
    /// </summary>
    /// <param name="verdict">The verdict.</param>
    public static bool IsMisbehaviour(this GossipVerdict verdict) => verdict is GossipVerdict.InvalidSignature or GossipVerdict.NodeIdsNotOrdered
        or GossipVerdict.FundingScriptMismatch or GossipVerdict.InvalidHtlcLimits or GossipVerdict.Malformed;
}

/// <summary>Where a channel's funding output is, as the chain sees it.</summary>
public enum FundingOutputState
{
    /// <summary>No output at that position (no such block, transaction or output).</summary>
    Missing,

    /// <summary>The output exists and is unspent.</summary>
    Unspent,

    /// <summary>The output exists but was spent.</summary>
    Spent,
}

/// <summary>The answer of an <see cref="IUtxoLookup"/>.</summary>
/// <param name="State">Whether the output exists and is unspent.</param>
/// <param name="OutPoint">The output's outpoint (when it exists).</param>
/// <param name="Output">The output (when it exists).</param>
public sealed record FundingOutputLookup(FundingOutputState State, OutPoint? OutPoint = null, TxOut? Output = null)
{
    /// <summary>The answer for a position that holds no output.</summary>
    public static FundingOutputLookup Missing { get; } = new(FundingOutputState.Missing);
}

/// <summary>
/// The chain seam of gossip validation: finds the output a short channel id points at (block height, transaction
/// index, output index) and whether it is unspent. Hosts implement it over their chain source.
/// </summary>
public interface IUtxoLookup
{
    /// <summary>Looks up the output at <paramref name="shortChannelId"/>.</summary>
    /// <param name="shortChannelId">The channel's position in the chain.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <exception cref="UtxoLookupException">The chain backend failed.</exception>
    Task<FundingOutputLookup> LookupAsync(ShortChannelId shortChannelId, CancellationToken cancellationToken = default);
}

/// <summary>A chain lookup failed (backend unreachable or broken); the gossip is refused with <see cref="GossipVerdict.ChainUnavailable"/>.</summary>
public sealed class UtxoLookupException : Exception
{
    /// <summary>Creates the exception.</summary>
    public UtxoLookupException() : base("The chain lookup failed.") { }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    public UtxoLookupException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="inner">The cause.</param>
    public UtxoLookupException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A persisted gossip record cannot be read.</summary>
public sealed class GossipStoreFormatException : WireFormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="detail">What is wrong.</param>
    /// <param name="inner">The cause, if any.</param>
    public GossipStoreFormatException(string detail, Exception? inner = null) : base("invalid gossip store record", detail, inner) { }

    /// <summary>Creates the exception.</summary>
    public GossipStoreFormatException() : base("invalid gossip store record") { }

    /// <summary>Creates the exception.</summary>
    /// <param name="detail">What is wrong.</param>
    public GossipStoreFormatException(string detail) : base("invalid gossip store record", detail) { }
}
