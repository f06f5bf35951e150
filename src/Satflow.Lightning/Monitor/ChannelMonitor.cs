using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Monitor;

/// <summary>
/// The BOLT 5 chain monitor of one channel. It keeps what is needed to react to any transaction spending the funding
/// output: our latest commitment with the peer's signatures, the peer's unrevoked commitments (current and next), the
/// revocation secrets (BOLT 3 compact store, each checked against its commitment's point and the earlier secrets), the
/// HTLCs of every commitment we signed for the peer (one entry per HTLC, not per commitment) and known preimages.
/// Nothing is stored per revoked commitment: a breach is recognised from the commitment number obscured in its
/// locktime and sequence, whose secret re-derives every output script.
/// <para>
/// On every block it returns the claim transactions to broadcast (unconfirmed ones again, fee-bumped as deadlines
/// near) and new events. The recorded spend tree of the funding output is kept per block, and everything else is
/// recomputed from it, so a disconnected block simply un-sees its spends. Pure: no threads, no clock, no I/O; the host
/// feeds updates and blocks in order and persists <see cref="Serialize"/> after each call.
/// </para>
/// </summary>
public sealed partial class ChannelMonitor
{
    /// <summary>Blocks after which a confirmation is considered final (BOLT 5 <c>ANTI_REORG_DELAY</c>).</summary>
    public const int AntiReorgDelay = 6;

    /// <summary>The lowest feerate the monitor uses, in sat per 1000 weight units (1 sat/vB, rounded up as nodes relay).</summary>
    public const uint MinimumFeeratePerKw = 253;

    /// <summary>Blocks past an offered HTLC's expiry after which the monitor force closes to time it out on chain.</summary>
    public const uint OfferedHtlcGraceBlocks = 3;

    /// <summary>Blocks before a received HTLC's expiry at which the monitor force closes to claim it on chain with its known preimage.</summary>
    public const uint ReceivedHtlcClaimBufferBlocks = 18;

    private const byte SerializationVersion = 1;

    private readonly LocalChannelKeys _keys;
    private readonly IClaimFeeWallet? _wallet;
    private readonly List<RemoteCommitmentUpdate> _remotes = [];
    private readonly Dictionary<ulong, CommitmentTransaction> _remoteTxs = [];
    private readonly Dictionary<(HtlcDirection PeerDirection, ulong Id), CommitmentHtlc> _peerHtlcs = [];
    private readonly Dictionary<uint256, RevokedMatch?> _revokedMatches = [];
    private readonly Dictionary<PaymentHash, PaymentPreimage> _preimages = [];
    private readonly HashSet<uint256> _cooperative = [];
    private readonly Dictionary<string, uint> _claimFeerates = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reported = new(StringComparer.Ordinal);
    private readonly ChainLog _log;
    private PerCommitmentSecretStore _secrets = new();
    private LocalCommitmentUpdate? _local;
    private CommitmentTransaction? _localTx;
    private string? _forceCloseReason;
    private uint _lastFeerate = MinimumFeeratePerKw;

    /// <summary>Creates the monitor of a newly funded channel.</summary>
    /// <param name="parameters">The channel's static parameters.</param>
    /// <param name="keys">Our channel keys (their basepoints must be <see cref="ChannelStaticParameters.Local"/>).</param>
    /// <param name="destination">The wallet script receiving swept funds.</param>
    /// <param name="feeWallet">Lends coins paying for zero-fee HTLC transactions and anchor CPFP (<c>option_anchors</c>); without it those are not built.</param>
    /// <exception cref="ArgumentException">When the keys do not belong to the parameters' local side.</exception>
    public ChannelMonitor(ChannelStaticParameters parameters, LocalChannelKeys keys, Script destination, IClaimFeeWallet? feeWallet = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(destination);
        if (keys.Basepoints != parameters.Local)
        {
            throw new ArgumentException("The channel keys do not match the local basepoints of the channel.", nameof(keys));
        }
        Parameters = parameters;
        _keys = keys;
        Destination = destination;
        _wallet = feeWallet;
        _log = new ChainLog(parameters.FundingOutPoint);
    }

    /// <summary>The channel's static parameters.</summary>
    public ChannelStaticParameters Parameters { get; }

    /// <summary>The channel id.</summary>
    public ChannelId ChannelId => Parameters.ChannelId;

    /// <summary>Where swept funds go.</summary>
    public Script Destination { get; }

    /// <summary>The id of the last update applied (0 before the first).</summary>
    public ulong LastUpdateId { get; private set; }

    /// <summary>Whether a <see cref="ForceCloseUpdate"/> was applied.</summary>
    public bool IsForceClosed => _forceCloseReason is not null;

    /// <summary>Why the channel was force closed, when it was.</summary>
    public string? ForceCloseReason => _forceCloseReason;

    /// <summary>The transaction id of our latest commitment, once known.</summary>
    public uint256? LocalCommitmentTxId => _localTx?.TxId;

    /// <summary>The height of the last connected block (0 before the first).</summary>
    public uint Height => _log.TipHeight;

    /// <summary>Whether <see cref="ChannelFullyResolved"/> holds at the current tip.</summary>
    public bool IsFullyResolved => _reported.Contains(ResolvedKey);

    /// <summary>
    /// Applies one update from the channel state machine. Ids must follow each other (last + 1); the last id may be
    /// replayed and is then ignored. When the channel is closing, the output carries the claims the update enables
    /// (our commitment for <see cref="ForceCloseUpdate"/>, a newly claimable HTLC for <see cref="PreimageUpdate"/>).
    /// </summary>
    /// <exception cref="ChannelMonitorException">When the update is out of order or inconsistent; the state is then unchanged.</exception>
    public MonitorOutput ApplyUpdate(ChannelMonitorUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (update.UpdateId == LastUpdateId && LastUpdateId != 0)
        {
            return MonitorOutput.Empty;
        }
        if (update.UpdateId != LastUpdateId + 1)
        {
            throw new ChannelMonitorException(ChannelMonitorError.UpdateOutOfOrder, $"Expected update {LastUpdateId + 1}, got {update.UpdateId}.");
        }
        switch (update)
        {
            case LocalCommitmentUpdate local:
                ApplyLocal(local);
                break;
            case RemoteCommitmentUpdate remote:
                ApplyRemote(remote);
                break;
            case RemoteRevocationUpdate revocation:
                ApplyRevocation(revocation);
                break;
            case PreimageUpdate preimage:
                _preimages[preimage.Preimage.Hash] = preimage.Preimage;
                break;
            case CooperativeCloseUpdate close:
                ApplyCooperativeClose(close);
                break;
            case ForceCloseUpdate force:
                if (_local is null)
                {
                    throw new ChannelMonitorException(ChannelMonitorError.NoLocalCommitment, "Cannot force close before our first commitment is known.");
                }
                _forceCloseReason = string.IsNullOrEmpty(force.Reason) ? "force close" : force.Reason;
                break;
            default:
                throw new ChannelMonitorException(ChannelMonitorError.InvalidUpdate, $"Unknown update type {update.GetType().Name}.");
        }
        LastUpdateId = update.UpdateId;
        return IsForceClosed || _log.SpendOf(Parameters.FundingOutPoint) is not null ? Analyze(bump: false) : MonitorOutput.Empty;
    }

    /// <summary>
    /// A block was connected on top of the previous one (a height at or below the current tip first disconnects the
    /// blocks from that height). Returns every claim to broadcast at this height (unconfirmed claims again, their
    /// fee raised as deadlines approach) and the new events.
    /// </summary>
    /// <param name="height">The block height.</param>
    /// <param name="blockHash">The block hash.</param>
    /// <param name="transactions">The block's transactions, in block order.</param>
    /// <param name="feeratePerKw">The current fee estimate for claims, in sat per 1000 weight units.</param>
    public MonitorOutput BlockConnected(uint height, uint256 blockHash, IReadOnlyList<Transaction> transactions, uint feeratePerKw)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        ArgumentNullException.ThrowIfNull(transactions);
        _lastFeerate = Math.Max(feeratePerKw, MinimumFeeratePerKw);
        var hadSpend = _log.SpendOf(Parameters.FundingOutPoint) is not null;
        var added = _log.Connect(height, blockHash, transactions);
        var forced = ForceCloseOnHtlcDeadline();
        var output = hadSpend || added || IsForceClosed || _reported.Count > 0 ? Analyze(bump: true) : MonitorOutput.Empty;
        return forced is null ? output : output with { Events = [forced, .. output.Events] };
    }

    /// <summary>Force closes when an HTLC of our commitment must be resolved on chain now (BOLT 2 "deadline" rules).</summary>
    private MonitorForceClosed? ForceCloseOnHtlcDeadline()
    {
        if (IsForceClosed || _localTx is null || _log.SpendOf(Parameters.FundingOutPoint) is not null)
        {
            return null;
        }
        var tip = (ulong)_log.TipHeight;
        foreach (var output in _localTx.HtlcOutputs)
        {
            var htlc = output.Htlc!;
            string? reason = null;
            if (htlc.Direction == HtlcDirection.Offered && tip >= (ulong)htlc.CltvExpiry + OfferedHtlcGraceBlocks)
            {
                reason = $"offered HTLC {htlc.Id} expired at {htlc.CltvExpiry}";
            }
            else if (htlc.Direction == HtlcDirection.Received && tip + ReceivedHtlcClaimBufferBlocks >= htlc.CltvExpiry && _preimages.ContainsKey(htlc.PaymentHash))
            {
                reason = $"received HTLC {htlc.Id} expires at {htlc.CltvExpiry} and its preimage is known";
            }
            if (reason is not null)
            {
                _forceCloseReason = reason;
                return new MonitorForceClosed(reason);
            }
        }
        return null;
    }

    /// <summary>
    /// The block at <paramref name="height"/> was disconnected (reorg): what it confirmed is forgotten, and the claims
    /// valid at the new tip are returned (a reorged-out claim must be broadcast again).
    /// </summary>
    /// <param name="height">The disconnected block's height.</param>
    /// <param name="blockHash">The disconnected block's hash.</param>
    public MonitorOutput BlockDisconnected(uint height, uint256 blockHash)
    {
        ArgumentNullException.ThrowIfNull(blockHash);
        _log.Disconnect(height);
        return Analyze(bump: false);
    }

    private void ApplyLocal(LocalCommitmentUpdate update)
    {
        if (_local is { } previous && update.CommitmentNumber <= previous.CommitmentNumber)
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidUpdate, $"Our commitment {update.CommitmentNumber} is not newer than {previous.CommitmentNumber}.");
        }
        ArgumentNullException.ThrowIfNull(update.Htlcs);
        ArgumentNullException.ThrowIfNull(update.RemoteHtlcSignatures);
        var commitment = BuildLocal(update);
        if (!Bolt3Signing.VerifyCommitment(commitment, update.RemoteCommitmentSignature, Parameters.Remote.FundingPubKey))
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidSignature, $"The peer's signature of our commitment {update.CommitmentNumber} does not verify.");
        }
        var htlcTxs = HtlcTransactionBuilder.BuildAll(commitment);
        if (htlcTxs.Count != update.RemoteHtlcSignatures.Count)
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidSignature, $"Expected {htlcTxs.Count} HTLC signatures, got {update.RemoteHtlcSignatures.Count}.");
        }
        for (var i = 0; i < htlcTxs.Count; i++)
        {
            if (!Bolt3Signing.VerifyHtlc(htlcTxs[i], update.RemoteHtlcSignatures[i], commitment.Keys.RemoteHtlcPubKey, signerIsCommitmentOwner: false))
            {
                throw new ChannelMonitorException(ChannelMonitorError.InvalidSignature, $"The peer's signature of HTLC transaction {i} does not verify.");
            }
        }
        _local = update;
        _localTx = commitment;
    }

    private void ApplyRemote(RemoteCommitmentUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update.PerCommitmentPoint);
        ArgumentNullException.ThrowIfNull(update.Htlcs);
        var expected = _remotes.Count > 0 ? _remotes[^1].CommitmentNumber + 1 : NextRevocationNumber;
        if (expected is { } e && update.CommitmentNumber != e)
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidUpdate, $"Expected the peer's commitment {e}, got {update.CommitmentNumber}.");
        }
        if (_remotes.Count >= 2)
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidUpdate, "The peer would have three unrevoked commitments.");
        }
        var commitment = BuildRemote(update.CommitmentNumber, update.PerCommitmentPoint, update.FeeratePerKw, update.RemoteToLocal, update.RemoteToRemote, update.Htlcs);
        _remotes.Add(update);
        _remoteTxs[update.CommitmentNumber] = commitment;
        foreach (var htlc in update.Htlcs)
        {
            _peerHtlcs[(htlc.Direction, htlc.Id)] = htlc;
        }
        _revokedMatches.Clear();
    }

    /// <summary>The number of the next commitment the peer must revoke, when known from earlier revocations.</summary>
    private ulong? NextRevocationNumber => _secrets.LastIndex is { } last ? PerCommitmentSecrets.FirstIndex - last + 1 : null;

    private void ApplyRevocation(RemoteRevocationUpdate update)
    {
        if (_remotes.Count == 0 || _remotes[0].CommitmentNumber != update.CommitmentNumber)
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidUpdate, $"The peer's commitment {update.CommitmentNumber} is not its oldest unrevoked commitment.");
        }
        var revoked = _remotes[0];
        PubKey point;
        try
        {
            point = KeyDerivation.PerCommitmentPoint(update.PerCommitmentSecret);
        }
        catch (ArgumentException e)
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidRevocationSecret, "The revocation secret is not a valid scalar.", e);
        }
        if (point != revoked.PerCommitmentPoint)
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidRevocationSecret, $"The secret does not match the per-commitment point of the peer's commitment {update.CommitmentNumber}.");
        }
        var restored = PerCommitmentSecretStore.Restore(_secrets.Snapshot());
        try
        {
            restored.Insert(update.PerCommitmentSecret, PerCommitmentSecrets.IndexOfCommitment(update.CommitmentNumber));
        }
        catch (PerCommitmentSecretException e)
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidRevocationSecret, e.Message, e);
        }
        _secrets = restored;
        _remotes.RemoveAt(0);
        _revokedMatches.Clear();
        _remoteTxs.Remove(revoked.CommitmentNumber);
    }

    private void ApplyCooperativeClose(CooperativeCloseUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update.ClosingTransaction);
        if (!update.ClosingTransaction.Inputs.Any(i => i.PrevOut == Parameters.FundingOutPoint))
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidUpdate, "The closing transaction does not spend the funding output.");
        }
        _cooperative.Add(update.ClosingTransaction.GetHash());
    }

    private CommitmentTransaction BuildLocal(LocalCommitmentUpdate update)
    {
        try
        {
            return Parameters.BuildLocalCommitment(update.CommitmentNumber, _keys.PerCommitmentPoint(update.CommitmentNumber), update.FeeratePerKw, update.ToLocal, update.ToRemote, update.Htlcs);
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidUpdate, $"Our commitment {update.CommitmentNumber} cannot be built: {e.Message}", e);
        }
    }

    private CommitmentTransaction BuildRemote(ulong number, PubKey point, uint feeratePerKw, MilliSatoshi toLocal, MilliSatoshi toRemote, IReadOnlyList<CommitmentHtlc> htlcs)
    {
        try
        {
            return Parameters.BuildRemoteCommitment(number, point, feeratePerKw, toLocal, toRemote, htlcs);
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw new ChannelMonitorException(ChannelMonitorError.InvalidUpdate, $"The peer's commitment {number} cannot be built: {e.Message}", e);
        }
    }

    /// <summary>A funding spend recognised as a revoked peer commitment: its number and secret, and what each of its outputs is.</summary>
    private sealed record RevokedMatch(ulong Number, Bytes32 Secret, CommitmentKeys Keys, IReadOnlyList<(int Index, CommitmentOutputKind Kind, Script? WitnessScript, CommitmentHtlc? Htlc)> Outputs);
}
