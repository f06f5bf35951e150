using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Monitor;

/// <summary>
/// One change the channel state machine hands to the channel monitor. The state machine emits updates in order and
/// the host persists each one (with the channel state) before sending the message that depends on it, so the monitor
/// always knows every commitment the peer could broadcast and every commitment we can broadcast.
/// </summary>
/// <param name="UpdateId">Strictly increasing per channel, starting at 1; the monitor rejects gaps and replays.</param>
public abstract record ChannelMonitorUpdate(ulong UpdateId);

/// <summary>
/// Our newest commitment, signed by the peer (we received <c>commitment_signed</c> and checked it). This is the
/// commitment a force close broadcasts.
/// </summary>
/// <param name="UpdateId">The update id.</param>
/// <param name="CommitmentNumber">Our commitment number (counting up from 0).</param>
/// <param name="FeeratePerKw">Its feerate.</param>
/// <param name="ToLocal">Our balance (HTLCs excluded, fees not subtracted).</param>
/// <param name="ToRemote">The peer's balance (HTLCs excluded, fees not subtracted).</param>
/// <param name="Htlcs">The HTLCs, directions from our point of view.</param>
/// <param name="RemoteCommitmentSignature">The peer's signature of the commitment transaction.</param>
/// <param name="RemoteHtlcSignatures">
/// The peer's signatures of our second-stage HTLC transactions, in the order of
/// <see cref="HtlcTransactionBuilder.BuildAll"/> (commitment output order, trimmed HTLCs excluded).
/// </param>
public sealed record LocalCommitmentUpdate(
    ulong UpdateId,
    ulong CommitmentNumber,
    uint FeeratePerKw,
    MilliSatoshi ToLocal,
    MilliSatoshi ToRemote,
    IReadOnlyList<CommitmentHtlc> Htlcs,
    ECDSASignature RemoteCommitmentSignature,
    IReadOnlyList<ECDSASignature> RemoteHtlcSignatures) : ChannelMonitorUpdate(UpdateId);

/// <summary>A commitment we signed for the peer (we sent <c>commitment_signed</c> for it).</summary>
/// <param name="UpdateId">The update id.</param>
/// <param name="CommitmentNumber">The peer's commitment number.</param>
/// <param name="PerCommitmentPoint">The peer's per-commitment point of that commitment.</param>
/// <param name="FeeratePerKw">Its feerate.</param>
/// <param name="RemoteToLocal">The peer's balance (its <c>to_local</c>).</param>
/// <param name="RemoteToRemote">Our balance (its <c>to_remote</c>).</param>
/// <param name="Htlcs">The HTLCs, directions from the <em>peer's</em> point of view.</param>
public sealed record RemoteCommitmentUpdate(
    ulong UpdateId,
    ulong CommitmentNumber,
    PubKey PerCommitmentPoint,
    uint FeeratePerKw,
    MilliSatoshi RemoteToLocal,
    MilliSatoshi RemoteToRemote,
    IReadOnlyList<CommitmentHtlc> Htlcs) : ChannelMonitorUpdate(UpdateId);

/// <summary>The peer revoked its commitment <paramref name="CommitmentNumber"/> (<c>revoke_and_ack</c>).</summary>
/// <param name="UpdateId">The update id.</param>
/// <param name="CommitmentNumber">The revoked commitment number of the peer.</param>
/// <param name="PerCommitmentSecret">The secret it released for that commitment.</param>
public sealed record RemoteRevocationUpdate(ulong UpdateId, ulong CommitmentNumber, Bytes32 PerCommitmentSecret) : ChannelMonitorUpdate(UpdateId);

/// <summary>We learned the preimage of an HTLC (we received or forwarded <c>update_fulfill_htlc</c>, or settle one).</summary>
/// <param name="UpdateId">The update id.</param>
/// <param name="Preimage">The preimage.</param>
public sealed record PreimageUpdate(ulong UpdateId, PaymentPreimage Preimage) : ChannelMonitorUpdate(UpdateId);

/// <summary>The channel is being closed cooperatively with this final transaction (recognised as a normal close on chain).</summary>
/// <param name="UpdateId">The update id.</param>
/// <param name="ClosingTransaction">The fully signed closing transaction.</param>
public sealed record CooperativeCloseUpdate(ulong UpdateId, Transaction ClosingTransaction) : ChannelMonitorUpdate(UpdateId);

/// <summary>We decided to force close: the monitor must broadcast our latest commitment (and CPFP it via the anchor).</summary>
/// <param name="UpdateId">The update id.</param>
/// <param name="Reason">Why (logged and shown to the user).</param>
public sealed record ForceCloseUpdate(ulong UpdateId, string Reason) : ChannelMonitorUpdate(UpdateId);
