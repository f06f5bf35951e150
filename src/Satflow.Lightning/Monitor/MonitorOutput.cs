using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Monitor;

/// <summary>Which transaction spent the funding output.</summary>
public enum CommitmentKind
{
    /// <summary>Our own (latest) commitment transaction.</summary>
    Local,

    /// <summary>One of the peer's commitments that is not revoked (its current one, or the next one we signed).</summary>
    Remote,

    /// <summary>A peer commitment it already revoked: a breach, punished with a penalty transaction.</summary>
    RemoteRevoked,

    /// <summary>The negotiated cooperative closing transaction.</summary>
    Cooperative,

    /// <summary>A transaction the monitor does not know (nothing can be claimed from it).</summary>
    Unknown,
}

/// <summary>Why the monitor asks the host to broadcast a transaction.</summary>
public enum ClaimPurpose
{
    /// <summary>Our latest commitment (force close).</summary>
    LocalCommitment,

    /// <summary>A child spending our anchor to raise the fee of our commitment (CPFP).</summary>
    AnchorCpfp,

    /// <summary>Our HTLC-timeout transaction for an HTLC we offered, on our commitment.</summary>
    HtlcTimeout,

    /// <summary>Our HTLC-success transaction for an HTLC we received and know the preimage of, on our commitment.</summary>
    HtlcSuccess,

    /// <summary>Sweeping our <c>to_local</c> output after <c>to_self_delay</c>.</summary>
    SweepToLocal,

    /// <summary>Sweeping the delayed output of our confirmed HTLC-timeout/HTLC-success transaction.</summary>
    SweepSecondStage,

    /// <summary>Claiming our <c>to_remote</c> output of the peer's commitment.</summary>
    ClaimToRemote,

    /// <summary>Claiming an HTLC the peer offered, on its commitment, with the preimage.</summary>
    ClaimRemoteHtlcSuccess,

    /// <summary>Claiming an HTLC we offered, on the peer's commitment, after its expiry.</summary>
    ClaimRemoteHtlcTimeout,

    /// <summary>Taking the outputs of a revoked peer commitment with the revocation key.</summary>
    Penalty,

    /// <summary>Taking the output of the peer's HTLC transaction spending a revoked commitment.</summary>
    PenaltySecondStage,
}

/// <summary>A transaction the host should broadcast (again), with what it spends so it can be checked.</summary>
/// <param name="Transaction">The fully signed transaction.</param>
/// <param name="Purpose">What it does.</param>
/// <param name="SpentOutputs">The outputs it spends, in input order.</param>
public sealed record MonitorBroadcast(Transaction Transaction, ClaimPurpose Purpose, IReadOnlyList<TxOut> SpentOutputs);

/// <summary>Something the monitor observed on chain that the rest of the node must act on or show.</summary>
public abstract record MonitorEvent;

/// <summary>A transaction spending the funding output confirmed.</summary>
/// <param name="Kind">What it is.</param>
/// <param name="TxId">Its transaction id.</param>
/// <param name="Height">The height of the block that confirmed it.</param>
/// <param name="CommitmentNumber">The commitment number for commitment transactions, otherwise <c>null</c>.</param>
public sealed record CommitmentConfirmed(CommitmentKind Kind, uint256 TxId, uint Height, ulong? CommitmentNumber) : MonitorEvent;

/// <summary>
/// An HTLC of the closed channel is settled on chain. A preimage (revealed by a spending witness) is reported as soon as
/// it is seen, so the incoming HTLC upstream can be settled; a timeout or a failure (the HTLC is not in the confirmed
/// commitment, or was taken by a penalty) is reported once it is <see cref="ChannelMonitor.AntiReorgDelay"/> blocks deep.
/// </summary>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="Preimage">
/// The preimage: revealed by the spending witness (the peer's HTLC-success or preimage claim, or ours), or already known
/// for an HTLC we offered that was fulfilled before the close; <c>null</c> when the HTLC failed.
/// </param>
/// <param name="TimedOut">Whether the HTLC failed (timed out, missing or revoked) rather than being fulfilled.</param>
/// <param name="HtlcId">The HTLC id (from <c>update_add_htlc</c>).</param>
/// <param name="OfferedByUs">Whether we offered the HTLC (an outgoing HTLC) rather than received it.</param>
public sealed record HtlcResolvedOnChain(PaymentHash PaymentHash, PaymentPreimage? Preimage, bool TimedOut, ulong HtlcId, bool OfferedByUs) : MonitorEvent;

/// <summary>
/// The monitor force closed the channel on its own (BOLT 2/5): an HTLC we offered is past its expiry plus
/// <see cref="ChannelMonitor.OfferedHtlcGraceBlocks"/>, or an HTLC we can fulfil is within
/// <see cref="ChannelMonitor.ReceivedHtlcClaimBufferBlocks"/> of its expiry. The channel must no longer be used; the
/// output carries our commitment.
/// </summary>
/// <param name="Reason">Which HTLC deadline triggered it.</param>
public sealed record MonitorForceClosed(string Reason) : MonitorEvent;

/// <summary>One of our claim transactions paying the destination script confirmed.</summary>
/// <param name="Amount">The amount it pays to the destination.</param>
/// <param name="TxId">The claim transaction id.</param>
public sealed record FundsSwept(Money Amount, uint256 TxId) : MonitorEvent;

/// <summary>Every output we care about is spent and buried <see cref="ChannelMonitor.AntiReorgDelay"/> blocks deep: the monitor can be archived.</summary>
/// <param name="Height">The height at which this became true.</param>
public sealed record ChannelFullyResolved(uint Height) : MonitorEvent;

/// <summary>The result of feeding the monitor an update or a block.</summary>
/// <param name="Broadcasts">Transactions to broadcast (again), parents before children.</param>
/// <param name="Events">New events, each reported once.</param>
public sealed record MonitorOutput(IReadOnlyList<MonitorBroadcast> Broadcasts, IReadOnlyList<MonitorEvent> Events)
{
    /// <summary>Nothing to do.</summary>
    public static MonitorOutput Empty { get; } = new([], []);
}
