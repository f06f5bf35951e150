using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Backup;

/// <summary>
/// What a static channel backup keeps of one channel: enough to find the peer, ask it to force close, re-derive our
/// channel keys from the node seed and sweep our <c>to_remote</c> output of its commitment. It holds no channel state
/// (so it never goes stale) and no secret: HTLCs and our own balance on our commitment cannot be recovered from it.
/// </summary>
/// <param name="PeerNodeId">The peer.</param>
/// <param name="PeerAddresses">Where to reach the peer.</param>
/// <param name="ChannelId">The channel id.</param>
/// <param name="FundingOutPoint">The funding output.</param>
/// <param name="Capacity">The channel capacity.</param>
/// <param name="ChannelKeyIndex">The index given to <see cref="LocalChannelKeys.Derive"/>.</param>
/// <param name="LocalIsFunder">Whether we opened the channel.</param>
/// <param name="Format">The commitment format.</param>
/// <param name="RemotePaymentBasepoint">The peer's payment basepoint (reads commitment numbers from the obscured locktime).</param>
/// <param name="RemoteFundingPubKey">The peer's funding key (checks the funding script).</param>
/// <param name="LocalToSelfDelay">The delay on our <c>to_local</c>.</param>
/// <param name="RemoteToSelfDelay">The delay on the peer's <c>to_local</c>.</param>
/// <param name="LocalDustLimit">Our dust limit.</param>
/// <param name="RemoteDustLimit">The peer's dust limit.</param>
public sealed record ChannelBackupEntry(
    NodeId PeerNodeId,
    IReadOnlyList<NetworkAddress> PeerAddresses,
    ChannelId ChannelId,
    OutPoint FundingOutPoint,
    Money Capacity,
    uint ChannelKeyIndex,
    bool LocalIsFunder,
    CommitmentFormat Format,
    PubKey RemotePaymentBasepoint,
    PubKey RemoteFundingPubKey,
    ushort LocalToSelfDelay,
    ushort RemoteToSelfDelay,
    Money LocalDustLimit,
    Money RemoteDustLimit)
{
    /// <summary>The backup entry of a funded channel.</summary>
    /// <param name="peerNodeId">The peer.</param>
    /// <param name="peerAddresses">Where to reach the peer.</param>
    /// <param name="parameters">The channel's static parameters.</param>
    /// <param name="channelKeyIndex">The channel key index the keys were derived with.</param>
    public static ChannelBackupEntry FromChannel(NodeId peerNodeId, IReadOnlyList<NetworkAddress> peerAddresses, ChannelStaticParameters parameters, uint channelKeyIndex)
    {
        ArgumentNullException.ThrowIfNull(peerAddresses);
        ArgumentNullException.ThrowIfNull(parameters);
        return new ChannelBackupEntry(
            peerNodeId, peerAddresses.ToList(), parameters.ChannelId, parameters.FundingOutPoint, parameters.FundingAmount, channelKeyIndex,
            parameters.LocalIsFunder, parameters.Format, parameters.Remote.PaymentBasepoint, parameters.Remote.FundingPubKey,
            parameters.LocalToSelfDelay, parameters.RemoteToSelfDelay, parameters.LocalDustLimit, parameters.RemoteDustLimit);
    }

    /// <summary>Whether two entries hold the same data (addresses compared in order).</summary>
    public bool SameAs(ChannelBackupEntry other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return this with { PeerAddresses = other.PeerAddresses } == other && PeerAddresses.SequenceEqual(other.PeerAddresses);
    }
}
