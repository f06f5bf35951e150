using NBitcoin;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels;

/// <summary>The life-cycle state of a funded channel.</summary>
public enum ChannelState
{
    /// <summary>The funding transaction is not deep enough yet, or only one side sent <c>channel_ready</c>.</summary>
    AwaitingFundingConfirmation,

    /// <summary>Both sides sent <c>channel_ready</c>: HTLCs may be added.</summary>
    Normal,

    /// <summary>A <c>shutdown</c> was sent or received: no new HTLCs, the remaining ones are settled.</summary>
    ShuttingDown,

    /// <summary>Both <c>shutdown</c>s were exchanged and no HTLC remains: closing fee negotiation.</summary>
    NegotiatingClose,

    /// <summary>The cooperative close completed (the closing transaction is known).</summary>
    Closed,

    /// <summary>We force closed: the monitor broadcasts our latest commitment.</summary>
    ForceClosed,

    /// <summary>
    /// The peer proved we lost state (<c>channel_reestablish</c>): our commitment is stale and must never be broadcast
    /// or signed; the host asks the peer to force close.
    /// </summary>
    LocalDataLoss,
}

/// <summary>The direction of an HTLC from our point of view.</summary>
public enum ChannelHtlcDirection
{
    /// <summary>We offered it (an outgoing payment or forward).</summary>
    Outgoing,

    /// <summary>The peer offered it to us.</summary>
    Incoming,
}

/// <summary>How far an HTLC has progressed through the commitment dance.</summary>
public enum ChannelHtlcState
{
    /// <summary>Proposed (<c>update_add_htlc</c>) but not yet in both commitments.</summary>
    Adding,

    /// <summary>Irrevocably committed in both commitments and not being removed.</summary>
    Committed,

    /// <summary>A fulfill or fail was proposed and is being committed.</summary>
    Removing,
}

/// <summary>An HTLC of the channel.</summary>
/// <param name="Id">The HTLC id (per direction).</param>
/// <param name="Direction">Outgoing (we offered it) or incoming.</param>
/// <param name="Amount">The amount.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="CltvExpiry">The absolute expiry height.</param>
/// <param name="State">Its progress.</param>
public sealed record ChannelHtlc(ulong Id, ChannelHtlcDirection Direction, MilliSatoshi Amount, PaymentHash PaymentHash, uint CltvExpiry, ChannelHtlcState State);

/// <summary>Something the host must know about (payments, readiness, closing).</summary>
public abstract record ChannelEvent;

/// <summary>Both sides sent <c>channel_ready</c>: the channel is usable.</summary>
/// <param name="ShortChannelId">The funding output's short channel id.</param>
public sealed record ChannelReadyEvent(ShortChannelId ShortChannelId) : ChannelEvent;

/// <summary>An incoming HTLC is irrevocably committed: the host decodes the onion and fulfills, fails or forwards it.</summary>
/// <param name="Id">The HTLC id.</param>
/// <param name="Amount">The amount.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="CltvExpiry">The absolute expiry height.</param>
/// <param name="Onion">The 1366-byte onion routing packet.</param>
/// <param name="PathKey">The route-blinding <c>path_key</c>, when the HTLC is inside a blinded route.</param>
public sealed record HtlcReceived(ulong Id, MilliSatoshi Amount, PaymentHash PaymentHash, uint CltvExpiry, ReadOnlyMemory<byte> Onion, NBitcoin.PubKey? PathKey) : ChannelEvent;

/// <summary>The peer fulfilled one of our outgoing HTLCs (reported as soon as the preimage arrives).</summary>
/// <param name="Id">The outgoing HTLC id.</param>
/// <param name="Preimage">The preimage.</param>
public sealed record HtlcFulfilled(ulong Id, PaymentPreimage Preimage) : ChannelEvent;

/// <summary>One of our outgoing HTLCs was failed and the failure is irrevocably committed.</summary>
/// <param name="Id">The outgoing HTLC id.</param>
/// <param name="Reason">The encrypted failure (<c>update_fail_htlc</c>), or null for a malformed failure.</param>
/// <param name="MalformedFailureCode">The failure code of <c>update_fail_malformed_htlc</c>, or null.</param>
/// <param name="Sha256OfOnion">The <c>sha256_of_onion</c> of <c>update_fail_malformed_htlc</c>, or null.</param>
public sealed record HtlcFailed(ulong Id, ReadOnlyMemory<byte>? Reason, ushort? MalformedFailureCode, Bytes32? Sha256OfOnion) : ChannelEvent
{
    /// <summary>The 920-byte <c>attribution_data</c> (TLV 1) the peer sent with <c>update_fail_htlc</c>, or null.</summary>
    public ReadOnlyMemory<byte>? AttributionData { get; init; }
}

/// <summary>
/// The peer proved (with our own per-commitment secret) that we lost channel state. Our commitment is revoked: the host
/// must never broadcast it and asks the peer to force close (the <c>error</c> message is in the output).
/// </summary>
/// <param name="RemoteCurrentPerCommitmentPoint">The peer's current per-commitment point, needed to sweep our output of its commitment.</param>
public sealed record LocalDataLoss(NBitcoin.PubKey? RemoteCurrentPerCommitmentPoint) : ChannelEvent;

/// <summary>The peer sent <c>shutdown</c> and we have no script to answer with: the host calls <see cref="Channel.Shutdown"/>.</summary>
/// <param name="RemoteScript">The peer's closing script.</param>
public sealed record ShutdownRequested(Script RemoteScript) : ChannelEvent;

/// <summary>The cooperative close completed.</summary>
/// <param name="ClosingTransaction">The fully signed closing transaction (the host broadcasts it).</param>
public sealed record ChannelClosed(Transaction ClosingTransaction) : ChannelEvent;

/// <summary>
/// What an operation produced. The host MUST persist <see cref="Channel.Serialize"/> and hand the
/// <see cref="MonitorUpdates"/> to the monitor (durably) BEFORE sending <see cref="Messages"/>, in order.
/// </summary>
/// <param name="Messages">Messages to send to the peer, in order.</param>
/// <param name="MonitorUpdates">Monitor updates, in order (update ids strictly increasing).</param>
/// <param name="Events">Events for the host.</param>
public sealed record ChannelOutput(IReadOnlyList<LightningMessage> Messages, IReadOnlyList<ChannelMonitorUpdate> MonitorUpdates, IReadOnlyList<ChannelEvent> Events)
{
    /// <summary>An output with nothing in it.</summary>
    public static ChannelOutput Empty { get; } = new([], [], []);

    /// <summary>Whether the output holds nothing.</summary>
    public bool IsEmpty => Messages.Count == 0 && MonitorUpdates.Count == 0 && Events.Count == 0;
}

/// <summary>Local policy of the channel state machine.</summary>
/// <param name="MinFeeratePerKw">The lowest <c>update_fee</c> accepted (and sent).</param>
/// <param name="MaxFeeratePerKw">The highest <c>update_fee</c> accepted (and sent).</param>
/// <param name="ShutdownScript">
/// Where our funds go on a cooperative close when the peer starts it and we sent no upfront script; null makes the
/// channel report <see cref="ShutdownRequested"/> instead of answering on its own.
/// </param>
/// <param name="AllowAnySegwitShutdown">Whether <c>option_shutdown_anysegwit</c> was negotiated (witness v1..16 scripts).</param>
/// <param name="ClosingFeeratePerKw">
/// The feerate the cooperative close aims for (legacy <c>closing_signed</c>). As funder we accept at most
/// <c>3 × ClosingFeeratePerKw</c> satoshis in total (about four times the target fee of a closing transaction); as fundee any
/// fee the funder pays.
/// </param>
public sealed record ChannelOptions(
    uint MinFeeratePerKw = 253,
    uint MaxFeeratePerKw = 100_000,
    Script? ShutdownScript = null,
    bool AllowAnySegwitShutdown = true,
    uint ClosingFeeratePerKw = 1000)
{
    /// <summary>
    /// The default <see cref="MaxDustHtlcExposure"/>: 50,000 sat, a fixed amount (the default of Core Lightning and
    /// Eclair). Our default channel type has zero-fee HTLC transactions, so what is trimmed does not move with the
    /// feerate and a fixed cap is predictable; a feerate multiplier would refuse small HTLCs whenever fees drop.
    /// </summary>
    public static MilliSatoshi DefaultMaxDustHtlcExposure { get; } = new(50_000_000);

    /// <summary>The defaults.</summary>
    public static ChannelOptions Default { get; } = new();

    /// <summary>
    /// BOLT 2 <c>max_dust_htlc_exposure_msat</c>: the most the HTLCs trimmed from either commitment (below its dust
    /// limit plus the second-stage fee, so lost to miners on a force close) may add up to. A dust HTLC that would put
    /// either commitment above it is not offered (<see cref="ChannelRefusalReason.DustExposureExceeded"/>), an
    /// incoming one is reported by <see cref="Channel.IsIncomingOverDustExposure"/> so the host fails it once
    /// committed, and a non-anchor <c>update_fee</c> raising the exposure above it is not sent.
    /// </summary>
    public MilliSatoshi MaxDustHtlcExposure { get; init; } = DefaultMaxDustHtlcExposure;
}

/// <summary>
/// The value of the HTLCs trimmed from each commitment (BOLT 2 "dust balance"), at the highest feerate the channel
/// has pending, counting every HTLC that is in, or on its way into, a commitment.
/// </summary>
/// <param name="OnLocalCommitment">Trimmed on our commitment (our dust limit; offered HTLCs with the HTLC-timeout fee, received ones with the HTLC-success fee).</param>
/// <param name="OnRemoteCommitment">Trimmed on the peer's commitment (its dust limit, directions seen from its side).</param>
/// <param name="Limit">Our <see cref="ChannelOptions.MaxDustHtlcExposure"/>.</param>
/// <param name="FeeratePerKw">The feerate the trimming was computed at.</param>
public sealed record DustExposure(MilliSatoshi OnLocalCommitment, MilliSatoshi OnRemoteCommitment, MilliSatoshi Limit, uint FeeratePerKw);

/// <summary>Why a local operation was refused (nothing was changed).</summary>
public enum ChannelRefusalReason
{
    /// <summary>The channel is not in a state that allows the operation (not Normal, closing, closed).</summary>
    ChannelNotNormal,

    /// <summary>A <c>shutdown</c> was sent or received: no new HTLCs.</summary>
    ShuttingDown,

    /// <summary>The peer is disconnected (wait for the reestablish).</summary>
    PeerOffline,

    /// <summary>The amount is zero.</summary>
    AmountZero,

    /// <summary>The amount is below the peer's <c>htlc_minimum_msat</c>.</summary>
    BelowHtlcMinimum,

    /// <summary>The HTLCs offered would exceed the peer's <c>max_htlc_value_in_flight_msat</c>.</summary>
    MaxHtlcValueInFlightExceeded,

    /// <summary>The HTLCs offered would exceed the peer's <c>max_accepted_htlcs</c>.</summary>
    MaxAcceptedHtlcsExceeded,

    /// <summary>Our balance cannot pay the HTLC while keeping the reserve (and, as funder, the fees, anchors and fee-spike buffer).</summary>
    InsufficientBalance,

    /// <summary>The peer (the funder) could not pay the commitment fee with the new HTLC.</summary>
    FunderCannotAffordFee,

    /// <summary>The <c>cltv_expiry</c> is 500000000 or more (a timestamp).</summary>
    InvalidCltvExpiry,

    /// <summary>The onion is not 1366 bytes.</summary>
    InvalidOnion,

    /// <summary>No such HTLC can be settled now (unknown id, not yet committed, or already being removed).</summary>
    UnknownHtlc,

    /// <summary>The preimage does not hash to the HTLC's payment hash.</summary>
    PreimageMismatch,

    /// <summary>The malformed failure code lacks the BADONION bit.</summary>
    InvalidFailureCode,

    /// <summary>Only the funder sends <c>update_fee</c>.</summary>
    NotFunder,

    /// <summary>The feerate is outside the accepted bounds.</summary>
    FeerateOutOfBounds,

    /// <summary>The funder cannot pay the new feerate while keeping its reserve.</summary>
    CannotAffordFeerate,

    /// <summary>We have unsigned updates; sign them before the shutdown.</summary>
    UnsignedUpdatesPending,

    /// <summary>The closing script is not a standard form allowed by BOLT 2 or differs from the upfront script.</summary>
    InvalidShutdownScript,

    /// <summary>We already sent <c>shutdown</c>.</summary>
    ShutdownAlreadySent,

    /// <summary>
    /// The HTLC is trimmed on a commitment and would raise that commitment's dust balance above our
    /// <see cref="ChannelOptions.MaxDustHtlcExposure"/>, or a (non-anchor) <c>update_fee</c> would (BOLT 2
    /// <c>max_dust_htlc_exposure_msat</c>).
    /// </summary>
    DustExposureExceeded,
}

/// <summary>A local operation (add, settle, update_fee, shutdown) was refused; the channel is unchanged.</summary>
public sealed class ChannelUpdateRefusedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChannelUpdateRefusedException(ChannelRefusalReason reason, string message) : base(message) => Reason = reason;

    /// <summary>Creates the exception.</summary>
    public ChannelUpdateRefusedException() : this(ChannelRefusalReason.ChannelNotNormal, "Refused.") { }

    /// <summary>Creates the exception.</summary>
    public ChannelUpdateRefusedException(string message) : this(ChannelRefusalReason.ChannelNotNormal, message) { }

    /// <summary>Creates the exception.</summary>
    public ChannelUpdateRefusedException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Why.</summary>
    public ChannelRefusalReason Reason { get; }
}

/// <summary>
/// The peer broke BOLT 2. The channel state is unchanged; the host sends <c>error</c> and force closes
/// (<see cref="Channel.ForceClose"/>).
/// </summary>
public sealed class ChannelProtocolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChannelProtocolException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public ChannelProtocolException() : this("Protocol violation.") { }

    /// <summary>Creates the exception.</summary>
    public ChannelProtocolException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>The persisted channel bytes are corrupt or of an unknown version.</summary>
public sealed class ChannelSerializationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChannelSerializationException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public ChannelSerializationException() : this("Corrupt channel state.") { }

    /// <summary>Creates the exception.</summary>
    public ChannelSerializationException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Internal: a commitment spec, from the point of view of the commitment's owner.</summary>
internal sealed record CommitmentSpec(IReadOnlyList<SpecHtlc> Htlcs, uint FeeratePerKw, MilliSatoshi ToLocal, MilliSatoshi ToRemote)
{
    /// <summary>Set by a non-strict reduce when an HTLC exceeded its sender's balance (the balance was clamped to 0).</summary>
    public bool Overdrawn { get; init; }

    public IReadOnlyList<CommitmentHtlc> ToCommitmentHtlcs() =>
        Htlcs.Select(h => new CommitmentHtlc(h.Add.Id, h.Direction, h.Add.AmountMsat, h.Add.PaymentHash, h.Add.CltvExpiry)).ToList();
}

/// <summary>Internal: an HTLC of a spec (direction from the owner's view) with its <c>update_add_htlc</c>.</summary>
internal sealed record SpecHtlc(HtlcDirection Direction, UpdateAddHtlc Add);
