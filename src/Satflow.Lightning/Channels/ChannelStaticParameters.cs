using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels;

/// <summary>
/// Everything about a funded channel that never changes and that both the channel state machine and the channel
/// monitor need to rebuild any commitment transaction. "Local" is us, "remote" the peer.
/// </summary>
/// <param name="Format">The commitment format (anchors by default).</param>
/// <param name="FundingOutPoint">The funding output.</param>
/// <param name="FundingAmount">The channel capacity.</param>
/// <param name="LocalIsFunder">Whether we opened (and fund) the channel.</param>
/// <param name="Local">Our basepoints.</param>
/// <param name="Remote">The peer's basepoints.</param>
/// <param name="LocalToSelfDelay">The CSV delay on <em>our</em> <c>to_local</c> (the peer's <c>to_self_delay</c> field).</param>
/// <param name="RemoteToSelfDelay">The CSV delay on the peer's <c>to_local</c> (our <c>to_self_delay</c> field).</param>
/// <param name="LocalDustLimit">Our <c>dust_limit_satoshis</c> (applies to our commitment).</param>
/// <param name="RemoteDustLimit">The peer's <c>dust_limit_satoshis</c> (applies to its commitment).</param>
public sealed record ChannelStaticParameters(
    CommitmentFormat Format,
    OutPoint FundingOutPoint,
    Money FundingAmount,
    bool LocalIsFunder,
    ChannelBasepoints Local,
    ChannelBasepoints Remote,
    ushort LocalToSelfDelay,
    ushort RemoteToSelfDelay,
    Money LocalDustLimit,
    Money RemoteDustLimit)
{
    /// <summary>The commitment number obscuring factor (opener's payment basepoint first).</summary>
    public ulong ObscuringFactor => LocalIsFunder
        ? CommitmentNumberObscuring.Factor(Local.PaymentBasepoint, Remote.PaymentBasepoint)
        : CommitmentNumberObscuring.Factor(Remote.PaymentBasepoint, Local.PaymentBasepoint);

    /// <summary>The channel id (funding txid XOR output index, BOLT 2).</summary>
    public ChannelId ChannelId => ChannelId.FromFundingOutPoint(FundingOutPoint.Hash.ToBytes(), checked((ushort)FundingOutPoint.N));

    /// <summary>The 2-of-2 funding witness script.</summary>
    public Script FundingScript => Bolt3Scripts.Funding(Local.FundingPubKey, Remote.FundingPubKey);

    /// <summary>Builds our commitment number <paramref name="commitmentNumber"/>.</summary>
    /// <param name="commitmentNumber">The commitment number (counting up from 0).</param>
    /// <param name="localPerCommitmentPoint">Our per-commitment point of that commitment.</param>
    /// <param name="feeratePerKw">The commitment feerate.</param>
    /// <param name="toLocal">Our balance (HTLCs excluded, fees not subtracted).</param>
    /// <param name="toRemote">The peer's balance (HTLCs excluded, fees not subtracted).</param>
    /// <param name="htlcs">The HTLCs, directions from our point of view.</param>
    public CommitmentTransaction BuildLocalCommitment(ulong commitmentNumber, PubKey localPerCommitmentPoint, uint feeratePerKw, MilliSatoshi toLocal, MilliSatoshi toRemote, IReadOnlyList<CommitmentHtlc> htlcs)
    {
        var keys = CommitmentKeys.Derive(
            Local.FundingPubKey, Remote.FundingPubKey, Remote.RevocationBasepoint, Local.DelayedPaymentBasepoint,
            Local.HtlcBasepoint, Remote.HtlcBasepoint, Remote.PaymentBasepoint, localPerCommitmentPoint);
        var parameters = new CommitmentParameters(Format, FundingOutPoint, FundingAmount, commitmentNumber, ObscuringFactor, LocalToSelfDelay, LocalDustLimit, feeratePerKw, LocalIsFunder);
        return CommitmentTransactionBuilder.Build(parameters, keys, toLocal, toRemote, htlcs);
    }

    /// <summary>Builds the peer's commitment number <paramref name="commitmentNumber"/>.</summary>
    /// <param name="commitmentNumber">The commitment number (counting up from 0).</param>
    /// <param name="remotePerCommitmentPoint">The peer's per-commitment point of that commitment.</param>
    /// <param name="feeratePerKw">The commitment feerate.</param>
    /// <param name="remoteToLocal">The peer's balance (its <c>to_local</c>).</param>
    /// <param name="remoteToRemote">Our balance (its <c>to_remote</c>).</param>
    /// <param name="htlcs">The HTLCs, directions from the <em>peer's</em> point of view.</param>
    public CommitmentTransaction BuildRemoteCommitment(ulong commitmentNumber, PubKey remotePerCommitmentPoint, uint feeratePerKw, MilliSatoshi remoteToLocal, MilliSatoshi remoteToRemote, IReadOnlyList<CommitmentHtlc> htlcs)
    {
        var keys = CommitmentKeys.Derive(
            Remote.FundingPubKey, Local.FundingPubKey, Local.RevocationBasepoint, Remote.DelayedPaymentBasepoint,
            Remote.HtlcBasepoint, Local.HtlcBasepoint, Local.PaymentBasepoint, remotePerCommitmentPoint);
        var parameters = new CommitmentParameters(Format, FundingOutPoint, FundingAmount, commitmentNumber, ObscuringFactor, RemoteToSelfDelay, RemoteDustLimit, feeratePerKw, !LocalIsFunder);
        return CommitmentTransactionBuilder.Build(parameters, keys, remoteToLocal, remoteToRemote, htlcs);
    }
}
