using System.Collections.Immutable;
using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Monitor;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

using UpdateFeeMessage = Satflow.Lightning.Messages.UpdateFee;

namespace Satflow.Lightning.Channels;

/// <summary>
/// The BOLT 2 state machine of one funded channel: <c>channel_ready</c>, HTLC updates, the commitment dance
/// (<c>commitment_signed</c>/<c>revoke_and_ack</c>), <c>update_fee</c>, reconnection (<c>channel_reestablish</c>),
/// shutdown and closing negotiation.
/// </summary>
/// <remarks>
/// <para>The class is pure: no threads, no clock, no I/O, not thread-safe. Every operation returns a
/// <see cref="ChannelOutput"/>. The host MUST persist <see cref="Serialize"/> and durably hand the monitor updates to the
/// monitor BEFORE sending the output's messages, in order.</para>
/// <para>Local operations that are not allowed throw <see cref="ChannelUpdateRefusedException"/>; a peer breaking the
/// protocol makes <see cref="Handle"/> throw <see cref="ChannelProtocolException"/> (the host then sends <c>error</c>
/// and calls <see cref="ForceClose"/>). In both cases the channel is left exactly unchanged.</para>
/// <para>On disconnection the host calls <see cref="PeerDisconnected"/> (also after loading a channel at start-up),
/// then <see cref="CreateReestablish"/> once reconnected, and feeds the peer's <c>channel_reestablish</c> to
/// <see cref="Handle"/>. The peer's uncommitted updates are forgotten; ours are re-sent after the reestablish.</para>
/// </remarks>
public sealed partial class Channel
{
    private const uint MaxCltvExpiry = 500_000_000;
    private const ushort BadOnion = 0x8000;

    private readonly LocalChannelKeys _keys;
    private readonly FundedChannel _funded;
    private readonly ChannelOptions _options;
    private ChannelData _s;
    private PerCommitmentSecretStore _secrets;
    private ClosingSession? _closing;

    private Channel(FundedChannel funded, LocalChannelKeys keys, ChannelOptions options, ChannelData data, PerCommitmentSecretStore secrets)
    {
        _funded = funded;
        _keys = keys;
        _options = options;
        _s = data;
        _secrets = secrets;
    }

    /// <summary>The static channel parameters.</summary>
    public ChannelStaticParameters Parameters => _funded.Parameters;

    /// <summary>The channel id.</summary>
    public ChannelId ChannelId => _funded.Parameters.ChannelId;

    /// <summary>The limits we announced (they constrain the peer).</summary>
    public ChannelLimits LocalLimits => _funded.LocalLimits;

    /// <summary>Whether the channel is public (<c>open_channel</c> <c>channel_flags</c> bit 0 <c>announce_channel</c>).</summary>
    public bool AnnounceChannel => _funded.AnnounceChannel;

    /// <summary>The limits the peer announced (they constrain us).</summary>
    public ChannelLimits RemoteLimits => _funded.RemoteLimits;

    /// <summary>The local policy.</summary>
    public ChannelOptions Options => _options;

    /// <summary>The life-cycle state.</summary>
    public ChannelState State => _s.State;

    /// <summary>Whether the peer is disconnected (between <see cref="PeerDisconnected"/> and the reestablish).</summary>
    public bool IsOffline => _s.Offline;

    /// <summary>The short channel id, once the funding transaction confirmed.</summary>
    public ShortChannelId? ShortChannelId => _s.ShortChannelId;

    /// <summary>Our commitment number (the latest commitment the peer signed for us).</summary>
    public ulong LocalCommitmentNumber => _s.Local.Index;

    /// <summary>The peer's current (unrevoked) commitment number.</summary>
    public ulong RemoteCommitmentNumber => _s.Remote.Index;

    /// <summary>The commitment feerate of our latest commitment.</summary>
    public uint FeeratePerKw => _s.Local.Spec.FeeratePerKw;

    /// <summary>Our balance in our latest commitment (HTLCs excluded, commitment fee not subtracted).</summary>
    public MilliSatoshi LocalBalance => _s.Local.Spec.ToLocal;

    /// <summary>The peer's balance in our latest commitment (HTLCs excluded, commitment fee not subtracted).</summary>
    public MilliSatoshi RemoteBalance => _s.Local.Spec.ToRemote;

    /// <summary>The fully signed closing transaction once the cooperative close completed.</summary>
    public Transaction? ClosingTransaction => _s.ClosingTransaction?.Clone();

    /// <summary>Whether we have updates (ours, or the peer's we acknowledged) that a <see cref="SignCommitment"/> would sign now.</summary>
    public bool HasChangesToSign => CanSignNow() && (!_s.LocalProposed.IsEmpty || !_s.RemoteAcked.IsEmpty);

    /// <summary>
    /// The largest HTLC we could add now (zero when none can be added). The dust exposure limit is not part of it: it
    /// only refuses HTLCs small enough to be trimmed, so a larger one may pass where a smaller one is refused.
    /// </summary>
    public MilliSatoshi AvailableToSend
    {
        get
        {
            if (!AddAllowedState(out _, out _))
            {
                return MilliSatoshi.Zero;
            }
            var upper = (_s.RemoteNext?.Spec ?? _s.Remote.Spec).ToRemote.Value;
            return new MilliSatoshi(LargestPassing(RemoteLimits.HtlcMinimum.Value, upper, amount => CheckLocalAdd(new MilliSatoshi(amount)) is null));
        }
    }

    /// <summary>The largest HTLC the peer could add now (zero when none can be added).</summary>
    public MilliSatoshi AvailableToReceive
    {
        get
        {
            if (_s.State != ChannelState.Normal || _s.Offline || _s.LocalShutdownScript is not null)
            {
                return MilliSatoshi.Zero;
            }
            var upper = _s.Local.Spec.ToRemote.Value;
            return new MilliSatoshi(LargestPassing(LocalLimits.HtlcMinimum.Value, upper, amount => CheckRemoteAdd(SyntheticAdd(new MilliSatoshi(amount), _s.RemoteNextHtlcId)) is null));
        }
    }

    /// <summary>Every HTLC of the channel (proposed, committed or being removed) with its direction and progress.</summary>
    public IReadOnlyList<ChannelHtlc> Htlcs
    {
        get
        {
            var result = new Dictionary<(ChannelHtlcDirection, ulong), (UpdateAddHtlc Add, bool InLocal, bool InRemote)>();
            void Note(ChannelHtlcDirection d, UpdateAddHtlc add, bool local, bool remote)
            {
                var key = (d, add.Id);
                var existing = result.TryGetValue(key, out var e) ? e : (add, false, false);
                result[key] = (add, existing.Item2 || local, existing.Item3 || remote);
            }
            foreach (var h in _s.Local.Spec.Htlcs)
            {
                Note(h.Direction == HtlcDirection.Offered ? ChannelHtlcDirection.Outgoing : ChannelHtlcDirection.Incoming, h.Add, true, false);
            }
            foreach (var h in _s.Remote.Spec.Htlcs)
            {
                Note(h.Direction == HtlcDirection.Received ? ChannelHtlcDirection.Outgoing : ChannelHtlcDirection.Incoming, h.Add, false, true);
            }
            foreach (var h in _s.RemoteNext?.Spec.Htlcs ?? [])
            {
                Note(h.Direction == HtlcDirection.Received ? ChannelHtlcDirection.Outgoing : ChannelHtlcDirection.Incoming, h.Add, false, false);
            }
            foreach (var add in _s.LocalProposed.Concat(_s.LocalSigned).Concat(_s.LocalAcked).OfType<UpdateAddHtlc>())
            {
                Note(ChannelHtlcDirection.Outgoing, add, false, false);
            }
            foreach (var add in _s.RemoteProposed.Concat(_s.RemoteAcked).Concat(_s.RemoteSigned).OfType<UpdateAddHtlc>())
            {
                Note(ChannelHtlcDirection.Incoming, add, false, false);
            }
            var removedIncoming = RemovalIds(_s.LocalProposed.Concat(_s.LocalSigned).Concat(_s.LocalAcked));
            var removedOutgoing = RemovalIds(_s.RemoteProposed.Concat(_s.RemoteAcked).Concat(_s.RemoteSigned));
            return result
                .OrderBy(kv => kv.Key.Item1).ThenBy(kv => kv.Key.Item2)
                .Select(kv =>
                {
                    var (direction, id) = kv.Key;
                    var removing = direction == ChannelHtlcDirection.Incoming ? removedIncoming.Contains(id) : removedOutgoing.Contains(id);
                    var state = removing ? ChannelHtlcState.Removing : kv.Value.InLocal && kv.Value.InRemote ? ChannelHtlcState.Committed : ChannelHtlcState.Adding;
                    var add = kv.Value.Add;
                    return new ChannelHtlc(id, direction, add.AmountMsat, add.PaymentHash, add.CltvExpiry, state);
                })
                .ToList();
        }
    }

    /// <summary>
    /// Starts the state machine from a completed opening handshake (state <see cref="ChannelState.AwaitingFundingConfirmation"/>).
    /// The output holds the monitor updates of both commitments number 0.
    /// </summary>
    /// <param name="funded">The opening handshake's result.</param>
    /// <param name="keys">Our channel keys (their basepoints must be <c>funded.Parameters.Local</c>).</param>
    /// <param name="output">The monitor updates to persist.</param>
    /// <param name="options">Local policy (defaults when null).</param>
    /// <param name="currentHeight">
    /// The tip height when the handshake completed: as fundee, the funding transaction must confirm within
    /// <see cref="FundingTimeoutBlocks"/> blocks of it (see <see cref="FundingUnconfirmedAt"/>). Null when unknown.
    /// </param>
    /// <exception cref="ArgumentException">When the keys do not match, or the peer's signature of our commitment 0 is invalid.</exception>
    public static Channel FromFunded(FundedChannel funded, LocalChannelKeys keys, out ChannelOutput output, ChannelOptions? options = null, uint? currentHeight = null)
    {
        ArgumentNullException.ThrowIfNull(funded);
        ArgumentNullException.ThrowIfNull(keys);
        options ??= ChannelOptions.Default;
        var p = funded.Parameters;
        if (keys.Basepoints != p.Local)
        {
            throw new ArgumentException("The channel keys do not match the local basepoints of the funded channel.", nameof(keys));
        }
        var capacity = MilliSatoshi.FromSatoshis((ulong)p.FundingAmount.Satoshi);
        if (funded.LocalBalance + funded.RemoteBalance != capacity)
        {
            throw new ArgumentException("The balances do not add up to the funding amount.", nameof(funded));
        }
        var localSpec = new CommitmentSpec([], funded.FeeratePerKw, funded.LocalBalance, funded.RemoteBalance);
        var remoteSpec = new CommitmentSpec([], funded.FeeratePerKw, funded.RemoteBalance, funded.LocalBalance);
        var commitment0 = p.BuildLocalCommitment(0, keys.PerCommitmentPoint(0), funded.FeeratePerKw, funded.LocalBalance, funded.RemoteBalance, []);
        if (!Bolt3Signing.VerifyCommitment(commitment0, funded.RemoteSignatureOfLocalCommitment, p.Remote.FundingPubKey))
        {
            throw new ArgumentException("The peer's signature of our commitment 0 is invalid.", nameof(funded));
        }
        var data = new ChannelData
        {
            State = ChannelState.AwaitingFundingConfirmation,
            Offline = false,
            NextMonitorUpdateId = 3,
            Local = new LocalCommit(0, localSpec, funded.RemoteSignatureOfLocalCommitment, []),
            Remote = new RemoteCommit(0, remoteSpec, funded.RemoteFirstPerCommitmentPoint),
            LocalProposed = [],
            LocalSigned = [],
            LocalAcked = [],
            RemoteProposed = [],
            RemoteAcked = [],
            RemoteSigned = [],
            LocalNextHtlcId = 0,
            RemoteNextHtlcId = 0,
            FundingWaitStartHeight = p.LocalIsFunder ? null : currentHeight,
        };
        output = new ChannelOutput(
            [],
            [
                new LocalCommitmentUpdate(1, 0, funded.FeeratePerKw, funded.LocalBalance, funded.RemoteBalance, [], funded.RemoteSignatureOfLocalCommitment, []),
                new RemoteCommitmentUpdate(2, 0, funded.RemoteFirstPerCommitmentPoint, funded.FeeratePerKw, funded.RemoteBalance, funded.LocalBalance, []),
            ],
            []);
        return new Channel(funded, keys, options, data, new PerCommitmentSecretStore());
    }

    /// <summary>
    /// The funding transaction has <paramref name="depth"/> confirmations. Once it reaches the minimum depth we send
    /// <c>channel_ready</c>; when the peer's arrived too the channel becomes <see cref="ChannelState.Normal"/>.
    /// </summary>
    /// <param name="depth">The funding transaction's confirmations.</param>
    /// <param name="shortChannelId">The funding output's short channel id.</param>
    public ChannelOutput FundingConfirmed(uint depth, ShortChannelId shortChannelId)
    {
        if (_s.ReadySent || depth < _funded.MinimumDepth || _s.State != ChannelState.AwaitingFundingConfirmation)
        {
            return ChannelOutput.Empty;
        }
        var o = Begin();
        var next = _s with { ReadySent = true, ShortChannelId = shortChannelId };
        o.Send(new ChannelReady(ChannelId, new Point(_keys.PerCommitmentPoint(1))));
        next = BecomeNormalIfReady(next, o);
        return Commit(next, o);
    }

    /// <summary>Offers an HTLC to the peer.</summary>
    /// <param name="amount">The amount.</param>
    /// <param name="paymentHash">The payment hash.</param>
    /// <param name="cltvExpiry">The absolute expiry height.</param>
    /// <param name="onion">The 1366-byte onion routing packet.</param>
    /// <param name="htlcId">The id given to the HTLC.</param>
    /// <param name="pathKey">The route-blinding <c>path_key</c>, when relaying inside a blinded route.</param>
    /// <exception cref="ChannelUpdateRefusedException">
    /// When the HTLC cannot be added (see <see cref="ChannelRefusalReason"/>); a trimmed HTLC that would exceed
    /// <see cref="ChannelOptions.MaxDustHtlcExposure"/> on either commitment gives <see cref="ChannelRefusalReason.DustExposureExceeded"/>.
    /// </exception>
    public ChannelOutput AddHtlc(MilliSatoshi amount, PaymentHash paymentHash, uint cltvExpiry, ReadOnlyMemory<byte> onion, out ulong htlcId, PubKey? pathKey = null)
    {
        if (!AddAllowedState(out var reason, out var why))
        {
            throw new ChannelUpdateRefusedException(reason, why);
        }
        if (onion.Length != UpdateAddHtlc.OnionPacketLength)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.InvalidOnion, $"The onion must be {UpdateAddHtlc.OnionPacketLength} bytes.");
        }
        if (cltvExpiry >= MaxCltvExpiry)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.InvalidCltvExpiry, "cltv_expiry must be below 500000000.");
        }
        var add = new UpdateAddHtlc(ChannelId, _s.LocalNextHtlcId, amount, paymentHash, cltvExpiry, onion.ToArray())
        {
            PathKey = pathKey is null ? null : new Point(pathKey),
        };
        if ((CheckLocalAdd(add) ?? CheckDustExposureOfOffered(amount)) is { } refusal)
        {
            throw refusal;
        }
        var o = Begin();
        o.Send(add);
        htlcId = add.Id;
        return Commit(_s with { LocalProposed = _s.LocalProposed.Add(add), LocalNextHtlcId = _s.LocalNextHtlcId + 1 }, o);
    }

    /// <summary>Settles an incoming HTLC with its preimage (the monitor learns the preimage before the message goes out).</summary>
    /// <param name="id">The incoming HTLC id.</param>
    /// <param name="preimage">The preimage.</param>
    /// <exception cref="ChannelUpdateRefusedException">Unknown or not irrevocably committed HTLC, or a preimage that does not match.</exception>
    public ChannelOutput FulfillHtlc(ulong id, PaymentPreimage preimage)
    {
        var add = IncomingToSettle(id);
        if (preimage.Hash != add.PaymentHash)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.PreimageMismatch, $"The preimage does not match HTLC {id}'s payment hash.");
        }
        var o = Begin();
        o.Monitor(uid => new PreimageUpdate(uid, preimage));
        var message = new UpdateFulfillHtlc(ChannelId, id, preimage);
        o.Send(message);
        return Commit(_s with { LocalProposed = _s.LocalProposed.Add(message) }, o);
    }

    /// <summary>
    /// Gives the chain monitor a preimage without settling anything off chain: for an incoming HTLC that cannot be
    /// fulfilled now (the peer is offline, or the channel was force closed), so that the monitor claims it on chain
    /// (and force closes before its deadline) instead of letting it time out while we already paid downstream.
    /// </summary>
    /// <param name="preimage">The preimage.</param>
    public ChannelOutput ProvidePreimage(PaymentPreimage preimage)
    {
        var o = Begin();
        o.Monitor(uid => new PreimageUpdate(uid, preimage));
        return Commit(_s, o);
    }

    /// <summary>Fails an incoming HTLC with an encrypted failure.</summary>
    /// <param name="id">The incoming HTLC id.</param>
    /// <param name="reason">The encrypted BOLT 4 failure.</param>
    /// <exception cref="ChannelUpdateRefusedException">Unknown or not irrevocably committed HTLC.</exception>
    public ChannelOutput FailHtlc(ulong id, ReadOnlyMemory<byte> reason)
    {
        IncomingToSettle(id);
        if (reason.Length > ushort.MaxValue)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.InvalidOnion, "The failure reason does not fit a u16 length.");
        }
        var o = Begin();
        var message = new UpdateFailHtlc(ChannelId, id, reason.ToArray());
        o.Send(message);
        return Commit(_s with { LocalProposed = _s.LocalProposed.Add(message) }, o);
    }

    /// <summary>Fails an incoming HTLC with an encrypted failure and its BOLT 4 <c>attribution_data</c>.</summary>
    /// <param name="id">The incoming HTLC id.</param>
    /// <param name="reason">The encrypted BOLT 4 failure.</param>
    /// <param name="attributionData">The 920-byte attribution data (hold times and truncated HMACs).</param>
    /// <exception cref="ChannelUpdateRefusedException">Unknown or not irrevocably committed HTLC, or attribution data of the wrong length.</exception>
    public ChannelOutput FailHtlc(ulong id, ReadOnlyMemory<byte> reason, ReadOnlyMemory<byte> attributionData)
    {
        IncomingToSettle(id);
        if (reason.Length > ushort.MaxValue)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.InvalidOnion, "The failure reason does not fit a u16 length.");
        }
        if (attributionData.Length != Messages.AttributionData.Length)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.InvalidOnion, $"Attribution data is {Messages.AttributionData.Length} bytes.");
        }
        var o = Begin();
        var message = new UpdateFailHtlc(ChannelId, id, reason.ToArray()) { AttributionData = Messages.AttributionData.FromBytes(attributionData.Span) };
        o.Send(message);
        return Commit(_s with { LocalProposed = _s.LocalProposed.Add(message) }, o);
    }

    /// <summary>Fails an incoming HTLC whose onion could not be parsed.</summary>
    /// <param name="id">The incoming HTLC id.</param>
    /// <param name="sha256OfOnion">SHA256 of the onion received.</param>
    /// <param name="failureCode">The BOLT 4 failure code (the BADONION bit must be set).</param>
    /// <exception cref="ChannelUpdateRefusedException">Unknown HTLC, or a failure code without the BADONION bit.</exception>
    public ChannelOutput FailMalformedHtlc(ulong id, Bytes32 sha256OfOnion, ushort failureCode)
    {
        IncomingToSettle(id);
        if ((failureCode & BadOnion) == 0)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.InvalidFailureCode, "update_fail_malformed_htlc needs the BADONION bit.");
        }
        var o = Begin();
        var message = new UpdateFailMalformedHtlc(ChannelId, id, sha256OfOnion, failureCode);
        o.Send(message);
        return Commit(_s with { LocalProposed = _s.LocalProposed.Add(message) }, o);
    }

    /// <summary>Proposes a new commitment feerate (we must be the funder).</summary>
    /// <param name="feeratePerKw">The new feerate.</param>
    /// <exception cref="ChannelUpdateRefusedException">
    /// Not the funder, out of bounds, unaffordable, the channel is not open, or (without anchors) a raise that would
    /// trim HTLCs above <see cref="ChannelOptions.MaxDustHtlcExposure"/> (<see cref="ChannelRefusalReason.DustExposureExceeded"/>).
    /// </exception>
    public ChannelOutput UpdateFee(uint feeratePerKw)
    {
        if (!Parameters.LocalIsFunder)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.NotFunder, "Only the funder sends update_fee.");
        }
        if (_s.State is not (ChannelState.Normal or ChannelState.ShuttingDown))
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.ChannelNotNormal, $"The channel is {_s.State}.");
        }
        if ((_s.LocalShutdownScript is not null || _s.RemoteShutdownScript is not null)
            && _s.Local.Spec.Htlcs.Count == 0 && (_s.RemoteNext ?? _s.Remote).Spec.Htlcs.Count == 0)
        {
            // BOLT 2: once shutting down with no HTLC left, no update may be sent (the peer may already negotiate).
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.ShuttingDown, "Shutting down with no HTLC left: no more updates.");
        }
        if (_s.Offline)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.PeerOffline, "The peer is disconnected.");
        }
        if (feeratePerKw < _options.MinFeeratePerKw || feeratePerKw > _options.MaxFeeratePerKw)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.FeerateOutOfBounds, $"The feerate {feeratePerKw} is outside [{_options.MinFeeratePerKw}, {_options.MaxFeeratePerKw}].");
        }
        if (CheckDustExposureOfFeeUpdate(feeratePerKw) is { } dustRefusal)
        {
            throw dustRefusal;
        }
        var message = new UpdateFeeMessage(ChannelId, feeratePerKw);
        var reduced = Reduce(_s.RemoteNext?.Spec ?? _s.Remote.Spec, _s.RemoteAcked, _s.LocalProposed.Add(message), strict: false);
        var cost = FunderCost(reduced, Parameters.RemoteDustLimit, reduced.FeeratePerKw);
        var ourReserve = MilliSatoshi.FromSatoshis((ulong)RemoteLimits.ChannelReserve.Satoshi);
        if (reduced.ToRemote.Value < cost.Value + ourReserve.Value)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.CannotAffordFeerate, $"Our balance cannot pay the commitment fee at {feeratePerKw} sat/kw while keeping the reserve.");
        }
        var o = Begin();
        o.Send(message);
        return Commit(_s with { LocalProposed = _s.LocalProposed.Add(message) }, o);
    }

    /// <summary>
    /// Signs the peer's next commitment covering every pending update (one <c>commitment_signed</c> for all of them).
    /// Returns an empty output when there is nothing to sign, or while a signed commitment still waits for the peer's
    /// <c>revoke_and_ack</c> (call again after it).
    /// </summary>
    public ChannelOutput SignCommitment()
    {
        if (!HasChangesToSign)
        {
            return ChannelOutput.Empty;
        }
        var o = Begin();
        var next = SignInto(_s, o);
        next = MaybeReplyShutdown(next, o);
        next = MaybeStartNegotiation(next, o);
        return Commit(next, o);
    }

    /// <summary>Handles one message from the peer.</summary>
    /// <param name="message">The decoded message (for this channel).</param>
    /// <exception cref="ChannelProtocolException">When the peer broke the protocol; the channel is unchanged.</exception>
    public ChannelOutput Handle(LightningMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_s.State is ChannelState.ForceClosed or ChannelState.Closed or ChannelState.LocalDataLoss)
        {
            return message is Error ? ChannelOutput.Empty : RepeatTerminal(message);
        }
        if (message is Error error)
        {
            // An error for another channel is not ours; all-zero means every channel.
            return error.ChannelId == ChannelId || error.ChannelId == default
                ? ForceClose("The peer sent an error: " + (error.PrintableText ?? "(binary data)"))
                : ChannelOutput.Empty;
        }
        if (message is Warning or UnknownMessage or AnnouncementSignatures)
        {
            // Warnings are informational; announcement signatures belong to the gossip layer.
            return ChannelOutput.Empty;
        }
        if (ChannelIdOf(message) is { } id && id != ChannelId)
        {
            throw new ChannelProtocolException($"Message type {message.Type} is for channel {id}, not {ChannelId}.");
        }
        if (_s.Offline && message is not ChannelReestablish)
        {
            throw new ChannelProtocolException($"Expected channel_reestablish after reconnecting, got message type {message.Type}.");
        }
        var o = Begin();
        var next = message switch
        {
            ChannelReady m => OnChannelReady(m, o),
            UpdateAddHtlc m => OnAdd(m),
            UpdateFulfillHtlc m => OnFulfill(m, o),
            UpdateFailHtlc m => OnFail(m, m.Id),
            UpdateFailMalformedHtlc m => OnFail(m, m.Id),
            UpdateFeeMessage m => OnUpdateFee(m),
            CommitmentSigned m => OnCommitmentSigned(m, o),
            RevokeAndAck m => OnRevokeAndAck(m, o),
            ChannelReestablish m => OnReestablish(m, o),
            Messages.Shutdown m => OnShutdown(m, o),
            ClosingSigned m => OnClosingSigned(m, o),
            _ => throw new ChannelProtocolException($"Unexpected message type {message.Type} for an open channel."),
        };
        return Commit(next, o);
    }

    /// <summary>
    /// Force closes: the monitor broadcasts our latest commitment and an <c>error</c> goes to the peer. After a detected
    /// data loss only the <c>error</c> is sent (our commitment is stale and must never be broadcast).
    /// </summary>
    /// <param name="reason">Why (logged and sent in the error).</param>
    public ChannelOutput ForceClose(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        var o = Begin();
        var text = System.Text.Encoding.ASCII.GetBytes(reason.Length > 200 ? reason[..200] : reason);
        if (_s.State is ChannelState.LocalDataLoss or ChannelState.Closed)
        {
            o.Send(new Error(ChannelId, text));
            return o.Build();
        }
        if (_s.State == ChannelState.ForceClosed)
        {
            o.Send(new Error(ChannelId, text));
            return o.Build();
        }
        o.Monitor(uid => new ForceCloseUpdate(uid, reason));
        o.Send(new Error(ChannelId, text));
        _closing = null;
        return Commit(_s with { State = ChannelState.ForceClosed }, o);
    }

    /// <summary>
    /// Records that the chain monitor already went on chain with our commitment (it force closes by itself to save an
    /// HTLC before its deadline): the channel stops taking updates and tells the peer, without a second monitor update.
    /// </summary>
    /// <param name="reason">Why the monitor closed (sent to the peer in an <c>error</c>).</param>
    public ChannelOutput ForceClosedByMonitor(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        var o = Begin();
        if (_s.State is ChannelState.LocalDataLoss or ChannelState.Closed or ChannelState.ForceClosed)
        {
            return o.Build();
        }
        o.Send(new Error(ChannelId, System.Text.Encoding.ASCII.GetBytes(reason.Length > 200 ? reason[..200] : reason)));
        _closing = null;
        return Commit(_s with { State = ChannelState.ForceClosed }, o);
    }

    private static ChannelId? ChannelIdOf(LightningMessage message) => message switch
    {
        ChannelReady m => m.ChannelId,
        UpdateAddHtlc m => m.ChannelId,
        UpdateFulfillHtlc m => m.ChannelId,
        UpdateFailHtlc m => m.ChannelId,
        UpdateFailMalformedHtlc m => m.ChannelId,
        UpdateFeeMessage m => m.ChannelId,
        CommitmentSigned m => m.ChannelId,
        RevokeAndAck m => m.ChannelId,
        ChannelReestablish m => m.ChannelId,
        Messages.Shutdown m => m.ChannelId,
        ClosingSigned m => m.ChannelId,
        _ => null,
    };

    private ChannelOutput RepeatTerminal(LightningMessage message)
    {
        // BOLT 2: a channel in an error state retransmits the error and ignores everything else.
        if (_s.State is ChannelState.ForceClosed or ChannelState.LocalDataLoss && message is ChannelReestablish)
        {
            var o = Begin();
            o.Send(new Error(ChannelId, System.Text.Encoding.ASCII.GetBytes(_s.State == ChannelState.LocalDataLoss
                ? "We lost channel state: please force close."
                : "The channel was force closed.")));
            return o.Build();
        }
        if (_s.State == ChannelState.Closed && message is ClosingSigned && _s.ClosingTransaction is { } closing)
        {
            // The peer never got our last closing_signed (the link dropped after we agreed) and, having reconnected,
            // proposes again (BOLT 2 restarts the negotiation): answer with the agreed transaction's fee and our
            // signature of it (deterministic, RFC 6979), so the peer completes the same transaction instead of
            // waiting forever.
            var fundingOutput = new TxOut(Parameters.FundingAmount, Parameters.FundingScript.WitHash.ScriptPubKey);
            var fee = Parameters.FundingAmount - closing.Outputs.Sum(output => output.Value);
            var signature = Bolt3Signing.Sign(closing, 0, Parameters.FundingScript, fundingOutput, SigHash.All, _keys.FundingKey);
            var feeSatoshis = new Satoshis((ulong)fee.Satoshi);
            var o = Begin();
            o.Send(new ClosingSigned(ChannelId, feeSatoshis, Signature64.FromBytes(signature.ToCompact())) { FeeRange = new ClosingFeeRange(feeSatoshis, feeSatoshis) });
            return o.Build();
        }
        return ChannelOutput.Empty;
    }

    private OutputBuilder Begin()
    {
        _pendingSecrets = null;
        _pendingClosing = null;
        return new OutputBuilder(_s.NextMonitorUpdateId);
    }

    private ChannelOutput Commit(ChannelData next, OutputBuilder o)
    {
        var output = o.Build();
        _s = next with { NextMonitorUpdateId = o.NextId };
        if (_pendingSecrets is not null)
        {
            _secrets = _pendingSecrets;
            _pendingSecrets = null;
        }
        if (_pendingClosing is not null)
        {
            _closing = _pendingClosing;
            _pendingClosing = null;
        }
        if (_s.State is not ChannelState.NegotiatingClose)
        {
            _closing = null;
        }
        if (_s.Offline)
        {
            // Messages produced while disconnected are not sent: the reestablish re-sends what is needed.
            return output with { Messages = [] };
        }
        return output;
    }

    private ChannelData BecomeNormalIfReady(ChannelData s, OutputBuilder o)
    {
        if (s.State == ChannelState.AwaitingFundingConfirmation && s.ReadySent && s.ReadyReceived && s.ShortChannelId is { } scid)
        {
            o.Event(new ChannelReadyEvent(scid));
            return s with { State = s.LocalShutdownScript is null && s.RemoteShutdownScript is null ? ChannelState.Normal : ChannelState.ShuttingDown };
        }
        return s;
    }

    private ChannelData OnChannelReady(ChannelReady m, OutputBuilder o)
    {
        var point = ParsePoint(m.SecondPerCommitmentPoint);
        if (_s.ReadyReceived)
        {
            // Redundant channel_ready (reconnection, or an alias update): ignored.
            return _s;
        }
        if (_s.Remote.Index != 0 || _s.RemoteNext is not null)
        {
            throw new ChannelProtocolException("channel_ready after the first commitment update.");
        }
        var next = _s with { ReadyReceived = true, RemoteNextPoint = point };
        return BecomeNormalIfReady(next, o);
    }

    private static PubKey ParsePoint(Point point)
    {
        try
        {
            return point.ToPubKey();
        }
        catch (FormatException e)
        {
            throw new ChannelProtocolException("Invalid point.", e);
        }
        catch (ArgumentException e)
        {
            throw new ChannelProtocolException("Invalid point.", e);
        }
    }

    private bool AddAllowedState(out ChannelRefusalReason reason, out string why)
    {
        if (_s.State is ChannelState.ShuttingDown or ChannelState.NegotiatingClose || (_s.State == ChannelState.Normal && (_s.LocalShutdownScript is not null || _s.RemoteShutdownScript is not null)))
        {
            (reason, why) = (ChannelRefusalReason.ShuttingDown, "The channel is shutting down: no new HTLCs.");
            return false;
        }
        if (_s.State != ChannelState.Normal)
        {
            (reason, why) = (ChannelRefusalReason.ChannelNotNormal, $"The channel is {_s.State}.");
            return false;
        }
        if (_s.Offline)
        {
            (reason, why) = (ChannelRefusalReason.PeerOffline, "The peer is disconnected.");
            return false;
        }
        (reason, why) = (default, "");
        return true;
    }

    private ChannelUpdateRefusedException? CheckLocalAdd(MilliSatoshi amount) =>
        CheckLocalAdd(SyntheticAdd(amount, _s.LocalNextHtlcId));

    private UpdateAddHtlc SyntheticAdd(MilliSatoshi amount, ulong id) =>
        new(ChannelId, id, amount, default, 0, ReadOnlyMemory<byte>.Empty);

    /// <summary>The BOLT 2 sender-side checks of a new HTLC; null when it may be offered.</summary>
    private ChannelUpdateRefusedException? CheckLocalAdd(UpdateAddHtlc add)
    {
        var amount = add.AmountMsat;
        if (amount.Value == 0)
        {
            return new(ChannelRefusalReason.AmountZero, "An HTLC must be worth more than 0 msat.");
        }
        if (amount < RemoteLimits.HtlcMinimum)
        {
            return new(ChannelRefusalReason.BelowHtlcMinimum, $"{amount} is below the peer's htlc_minimum_msat {RemoteLimits.HtlcMinimum}.");
        }
        // The peer's next commitment, where the HTLC lands first (offered by us = received from its view).
        var reduced = Reduce(_s.RemoteNext?.Spec ?? _s.Remote.Spec, _s.RemoteAcked, _s.LocalProposed.Add(add), strict: false);
        var offered = reduced.Htlcs.Where(h => h.Direction == HtlcDirection.Received).ToList();
        if (offered.Count > RemoteLimits.MaxAcceptedHtlcs)
        {
            return new(ChannelRefusalReason.MaxAcceptedHtlcsExceeded, $"The peer accepts at most {RemoteLimits.MaxAcceptedHtlcs} HTLCs.");
        }
        var inFlight = offered.Aggregate(0UL, (sum, h) => sum + h.Add.AmountMsat.Value);
        if (inFlight > RemoteLimits.MaxHtlcValueInFlight.Value)
        {
            return new(ChannelRefusalReason.MaxHtlcValueInFlightExceeded, $"{inFlight} msat in flight would exceed the peer's max_htlc_value_in_flight_msat {RemoteLimits.MaxHtlcValueInFlight}.");
        }
        if (reduced.Overdrawn)
        {
            return new(ChannelRefusalReason.InsufficientBalance, $"Our balance cannot pay {amount}.");
        }
        var ourReserve = SatToMsat(RemoteLimits.ChannelReserve);
        var feerate = reduced.FeeratePerKw;
        if (Parameters.LocalIsFunder)
        {
            var fees = FunderCost(reduced, Parameters.RemoteDustLimit, feerate);
            var spikeBuffer = FunderCost(reduced, Parameters.RemoteDustLimit, checked(feerate * 2), extraHtlcs: 1);
            if (reduced.ToRemote.Value < ourReserve.Value + Math.Max(fees.Value, spikeBuffer.Value))
            {
                return new(ChannelRefusalReason.InsufficientBalance, $"Our balance {reduced.ToRemote} cannot pay {amount} plus the commitment fee, anchors and fee-spike buffer while keeping the reserve {ourReserve}.");
            }
            // Our own commitment must stay affordable as well (different dust limit, our pending updates).
            var localReduced = Reduce(_s.Local.Spec, _s.LocalAcked.AddRange(_s.LocalSigned).AddRange(_s.LocalProposed).Add(add), _s.RemoteProposed, strict: false);
            var localFees = FunderCost(localReduced, Parameters.LocalDustLimit, localReduced.FeeratePerKw);
            if (localReduced.Overdrawn || localReduced.ToLocal.Value < ourReserve.Value + localFees.Value)
            {
                return new(ChannelRefusalReason.InsufficientBalance, "Our balance cannot pay the fee of our own commitment with this HTLC while keeping the reserve.");
            }
        }
        else
        {
            if (reduced.ToRemote.Value < ourReserve.Value)
            {
                return new(ChannelRefusalReason.InsufficientBalance, $"Our balance {reduced.ToRemote} cannot pay {amount} while keeping the reserve {ourReserve}.");
            }
            var funderFees = FunderCost(reduced, Parameters.RemoteDustLimit, feerate);
            if (reduced.ToLocal.Value < funderFees.Value)
            {
                return new(ChannelRefusalReason.FunderCannotAffordFee, "The peer (funder) could not pay the commitment fee with this HTLC.");
            }
            // BOLT 2, not responsible for the fee: "SHOULD NOT offer amount_msat if, once the remote node adds that HTLC
            // to its commitment transaction, it cannot pay the fee for the updated local or remote transaction". Our
            // own commitment differs (our dust limit may keep the HTLC untrimmed there, adding an output the funder pays).
            var localReduced = Reduce(_s.Local.Spec, _s.LocalAcked.AddRange(_s.LocalSigned).AddRange(_s.LocalProposed).Add(add), _s.RemoteProposed, strict: false);
            var localFunderFees = FunderCost(localReduced, Parameters.LocalDustLimit, localReduced.FeeratePerKw);
            if (localReduced.Overdrawn || localReduced.ToRemote.Value < localFunderFees.Value)
            {
                return new(ChannelRefusalReason.FunderCannotAffordFee, "The peer (funder) could not pay the fee of our own commitment with this HTLC.");
            }
        }
        return null;
    }

    /// <summary>The BOLT 2 receiver-side checks of the peer's HTLC; null when acceptable.</summary>
    private string? CheckRemoteAdd(UpdateAddHtlc add)
    {
        if (add.AmountMsat.Value == 0 || add.AmountMsat < LocalLimits.HtlcMinimum)
        {
            return $"HTLC amount {add.AmountMsat} is zero or below our htlc_minimum_msat {LocalLimits.HtlcMinimum}.";
        }
        var reduced = Reduce(_s.Local.Spec, _s.LocalAcked, _s.RemoteProposed.Add(add), strict: false);
        if (reduced.Overdrawn)
        {
            return $"The peer cannot afford the HTLC of {add.AmountMsat}.";
        }
        var received = reduced.Htlcs.Where(h => h.Direction == HtlcDirection.Received).ToList();
        if (received.Count > LocalLimits.MaxAcceptedHtlcs)
        {
            return $"More than our max_accepted_htlcs {LocalLimits.MaxAcceptedHtlcs} HTLCs.";
        }
        var inFlight = received.Aggregate(0UL, (sum, h) => sum + h.Add.AmountMsat.Value);
        if (inFlight > LocalLimits.MaxHtlcValueInFlight.Value)
        {
            return $"{inFlight} msat offered exceeds our max_htlc_value_in_flight_msat {LocalLimits.MaxHtlcValueInFlight}.";
        }
        var peerReserve = SatToMsat(LocalLimits.ChannelReserve);
        var peerFees = Parameters.LocalIsFunder ? MilliSatoshi.Zero : FunderCost(reduced, Parameters.LocalDustLimit, reduced.FeeratePerKw);
        if (reduced.ToRemote.Value < peerReserve.Value + peerFees.Value)
        {
            return $"The peer cannot afford the HTLC: balance {reduced.ToRemote}, reserve {peerReserve}, fees {peerFees}.";
        }
        return null;
    }

    private ChannelData OnAdd(UpdateAddHtlc m)
    {
        RequireOpen("update_add_htlc");
        if (_s.RemoteShutdownScript is not null)
        {
            // Adds crossing our own shutdown are legal; after its own shutdown the peer must not add.
            throw new ChannelProtocolException("update_add_htlc after the peer's shutdown.");
        }
        if (m.Id != _s.RemoteNextHtlcId)
        {
            throw new ChannelProtocolException($"update_add_htlc id {m.Id}, expected {_s.RemoteNextHtlcId}.");
        }
        if (m.CltvExpiry >= MaxCltvExpiry)
        {
            throw new ChannelProtocolException("update_add_htlc cltv_expiry is 500000000 or more.");
        }
        if (m.OnionRoutingPacket.Length != UpdateAddHtlc.OnionPacketLength)
        {
            throw new ChannelProtocolException("update_add_htlc onion of the wrong length.");
        }
        if (CheckRemoteAdd(m) is { } problem)
        {
            throw new ChannelProtocolException(problem);
        }
        return _s with { RemoteProposed = _s.RemoteProposed.Add(m), RemoteNextHtlcId = _s.RemoteNextHtlcId + 1 };
    }

    private void RequireOpen(string what)
    {
        if (_s.State is not (ChannelState.Normal or ChannelState.ShuttingDown))
        {
            throw new ChannelProtocolException($"{what} while the channel is {_s.State}.");
        }
    }

    /// <summary>Our outgoing HTLC the peer may settle: in our commitment and in the peer's latest, not already being removed.</summary>
    private UpdateAddHtlc OutgoingToBeSettledByPeer(ulong id, string what)
    {
        RequireOpen(what);
        var inLocal = _s.Local.Spec.Htlcs.FirstOrDefault(h => h.Direction == HtlcDirection.Offered && h.Add.Id == id);
        var inRemote = (_s.RemoteNext?.Spec ?? _s.Remote.Spec).Htlcs.Any(h => h.Direction == HtlcDirection.Received && h.Add.Id == id);
        if (inLocal is null || !inRemote)
        {
            throw new ChannelProtocolException($"{what} for HTLC {id}, which is not committed.");
        }
        if (RemovalIds(_s.RemoteProposed.Concat(_s.RemoteAcked).Concat(_s.RemoteSigned)).Contains(id))
        {
            throw new ChannelProtocolException($"{what} for HTLC {id}, which is already being removed.");
        }
        return inLocal.Add;
    }

    /// <summary>An incoming HTLC we may settle: irrevocably in both commitments, not already being removed.</summary>
    private UpdateAddHtlc IncomingToSettle(ulong id)
    {
        if (_s.State is not (ChannelState.Normal or ChannelState.ShuttingDown))
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.ChannelNotNormal, $"The channel is {_s.State}.");
        }
        var inLocal = _s.Local.Spec.Htlcs.FirstOrDefault(h => h.Direction == HtlcDirection.Received && h.Add.Id == id);
        var inRemote = _s.Remote.Spec.Htlcs.Any(h => h.Direction == HtlcDirection.Offered && h.Add.Id == id)
            && (_s.RemoteNext?.Spec.Htlcs.Any(h => h.Direction == HtlcDirection.Offered && h.Add.Id == id) ?? true);
        if (inLocal is null || !inRemote)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.UnknownHtlc, $"Incoming HTLC {id} is not irrevocably committed.");
        }
        if (RemovalIds(_s.LocalProposed.Concat(_s.LocalSigned).Concat(_s.LocalAcked)).Contains(id))
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.UnknownHtlc, $"Incoming HTLC {id} is already being removed.");
        }
        return inLocal.Add;
    }

    private ChannelData OnFulfill(UpdateFulfillHtlc m, OutputBuilder o)
    {
        var add = OutgoingToBeSettledByPeer(m.Id, "update_fulfill_htlc");
        if (m.PaymentPreimage.Hash != add.PaymentHash)
        {
            throw new ChannelProtocolException($"update_fulfill_htlc preimage does not match HTLC {m.Id}.");
        }
        o.Monitor(uid => new PreimageUpdate(uid, m.PaymentPreimage));
        o.Event(new HtlcFulfilled(m.Id, m.PaymentPreimage));
        return _s with { RemoteProposed = _s.RemoteProposed.Add(m) };
    }

    private ChannelData OnFail(LightningMessage m, ulong id)
    {
        OutgoingToBeSettledByPeer(id, m is UpdateFailHtlc ? "update_fail_htlc" : "update_fail_malformed_htlc");
        if (m is UpdateFailMalformedHtlc malformed && (malformed.FailureCode & BadOnion) == 0)
        {
            throw new ChannelProtocolException("update_fail_malformed_htlc without the BADONION bit.");
        }
        return _s with { RemoteProposed = _s.RemoteProposed.Add(m) };
    }

    private ChannelData OnUpdateFee(UpdateFeeMessage m)
    {
        RequireOpen("update_fee");
        if (Parameters.LocalIsFunder)
        {
            throw new ChannelProtocolException("update_fee from the peer, which is not the funder.");
        }
        if (m.FeeratePerKw < _options.MinFeeratePerKw || m.FeeratePerKw > _options.MaxFeeratePerKw)
        {
            throw new ChannelProtocolException($"update_fee {m.FeeratePerKw} is outside [{_options.MinFeeratePerKw}, {_options.MaxFeeratePerKw}].");
        }
        // BOLT 2 lets the receiver of an update_fee that raises the dust balance above max_dust_htlc_exposure_msat
        // (non-anchor channels) fail the channel ("MAY fail the channel"; "whether to close the channel preemptively or
        // not is left as a matter of node policy"). We accept it: failing the channel would broadcast a commitment and
        // hand the trimmed HTLCs to miners, the very loss the limit bounds. While above the limit, new dust HTLCs are
        // refused (AddHtlc) or failed back (IsIncomingOverDustExposure).
        var reduced = Reduce(_s.Local.Spec, _s.LocalAcked, _s.RemoteProposed.Add(m), strict: false);
        var cost = FunderCost(reduced, Parameters.LocalDustLimit, reduced.FeeratePerKw);
        var peerReserve = SatToMsat(LocalLimits.ChannelReserve);
        if (reduced.ToRemote.Value < cost.Value + peerReserve.Value)
        {
            throw new ChannelProtocolException($"The funder cannot afford update_fee {m.FeeratePerKw}.");
        }
        return _s with { RemoteProposed = _s.RemoteProposed.Add(m) };
    }

    private ChannelData OnCommitmentSigned(CommitmentSigned m, OutputBuilder o)
    {
        if (_s.State is not (ChannelState.Normal or ChannelState.ShuttingDown))
        {
            throw new ChannelProtocolException($"commitment_signed while the channel is {_s.State}.");
        }
        if (_s.LocalAcked.IsEmpty && _s.RemoteProposed.IsEmpty)
        {
            throw new ChannelProtocolException("commitment_signed without any update.");
        }
        var spec = Reduce(_s.Local.Spec, _s.LocalAcked, _s.RemoteProposed, strict: true);
        var number = _s.Local.Index + 1;
        CommitmentTransaction commitment;
        try
        {
            commitment = Parameters.BuildLocalCommitment(number, _keys.PerCommitmentPoint(number), spec.FeeratePerKw, spec.ToLocal, spec.ToRemote, spec.ToCommitmentHtlcs());
        }
        catch (ArgumentException e)
        {
            throw new ChannelProtocolException("The updates make our commitment unbuildable: " + e.Message, e);
        }
        var signature = ParseSignature(m.Signature, "commitment signature");
        if (!Bolt3Signing.VerifyCommitment(commitment, signature, Parameters.Remote.FundingPubKey))
        {
            throw new ChannelProtocolException($"Invalid commitment signature for our commitment {number}.");
        }
        var htlcTxs = HtlcTransactionBuilder.BuildAll(commitment);
        if (htlcTxs.Count != m.HtlcSignatures.Count)
        {
            throw new ChannelProtocolException($"commitment_signed carries {m.HtlcSignatures.Count} HTLC signatures, our commitment has {htlcTxs.Count} HTLC outputs.");
        }
        var htlcSignatures = ImmutableList.CreateBuilder<ECDSASignature>();
        for (var i = 0; i < htlcTxs.Count; i++)
        {
            var htlcSignature = ParseSignature(m.HtlcSignatures[i], $"HTLC signature {i}");
            if (!Bolt3Signing.VerifyHtlc(htlcTxs[i], htlcSignature, commitment.Keys.RemoteHtlcPubKey, signerIsCommitmentOwner: false))
            {
                throw new ChannelProtocolException($"Invalid HTLC signature {i} for our commitment {number}.");
            }
            htlcSignatures.Add(htlcSignature);
        }
        var local = new LocalCommit(number, spec, signature, htlcSignatures.ToImmutable());
        o.Monitor(uid => new LocalCommitmentUpdate(uid, number, spec.FeeratePerKw, spec.ToLocal, spec.ToRemote, spec.ToCommitmentHtlcs(), signature, local.RemoteHtlcSignatures));
        o.Send(RevocationFor(_s.Local.Index));
        var next = _s with
        {
            Local = local,
            LocalAcked = [],
            RemoteAcked = _s.RemoteAcked.AddRange(_s.RemoteProposed),
            RemoteProposed = [],
        };
        return MaybeStartNegotiation(next, o);
    }

    /// <summary>The <c>revoke_and_ack</c> revoking our commitment <paramref name="revokedIndex"/>.</summary>
    private RevokeAndAck RevocationFor(ulong revokedIndex) =>
        new(ChannelId, _keys.PerCommitmentSecret(revokedIndex), new Point(_keys.PerCommitmentPoint(revokedIndex + 2)));

    private static ECDSASignature ParseSignature(Signature64 signature, string what)
    {
        if (!ECDSASignature.TryParseFromCompact(signature.Span, out var parsed) || parsed is null)
        {
            throw new ChannelProtocolException($"Unparsable {what}.");
        }
        if (!parsed.IsLowS)
        {
            throw new ChannelProtocolException($"The {what} is not low-S.");
        }
        return parsed;
    }

    private ChannelData OnRevokeAndAck(RevokeAndAck m, OutputBuilder o)
    {
        if (_s.RemoteNext is not { } remoteNext)
        {
            throw new ChannelProtocolException("revoke_and_ack without an outstanding commitment_signed.");
        }
        PubKey point;
        try
        {
            point = KeyDerivation.PerCommitmentPoint(m.PerCommitmentSecret);
        }
        catch (ArgumentException e)
        {
            throw new ChannelProtocolException("The per-commitment secret is not a valid key.", e);
        }
        catch (FormatException e)
        {
            throw new ChannelProtocolException("The per-commitment secret is not a valid key.", e);
        }
        if (point != _s.Remote.Point)
        {
            throw new ChannelProtocolException($"The per-commitment secret does not match the peer's commitment {_s.Remote.Index}.");
        }
        var nextPoint = ParsePoint(m.NextPerCommitmentPoint);
        var revoked = _s.Remote.Index;
        var snapshot = _secrets.Snapshot();
        var store = PerCommitmentSecretStore.Restore(snapshot);
        try
        {
            store.Insert(m.PerCommitmentSecret, PerCommitmentSecrets.IndexOfCommitment(revoked));
        }
        catch (PerCommitmentSecretException e)
        {
            throw new ChannelProtocolException("The per-commitment secret was not generated from one seed: " + e.Message, e);
        }
        _pendingSecrets = store;
        o.Monitor(uid => new RemoteRevocationUpdate(uid, revoked, m.PerCommitmentSecret));
        foreach (var update in _s.RemoteSigned)
        {
            switch (update)
            {
                case UpdateAddHtlc add:
                    o.Event(new HtlcReceived(add.Id, add.AmountMsat, add.PaymentHash, add.CltvExpiry, add.OnionRoutingPacket, add.PathKey?.ToPubKey()));
                    break;
                case UpdateFailHtlc fail:
                    o.Event(new HtlcFailed(fail.Id, fail.Reason, null, null) { AttributionData = fail.AttributionData is { } attribution ? (ReadOnlyMemory<byte>?)attribution.ToBytes() : null });
                    break;
                case UpdateFailMalformedHtlc malformed:
                    o.Event(new HtlcFailed(malformed.Id, null, malformed.FailureCode, malformed.Sha256OfOnion));
                    break;
            }
        }
        var next = _s with
        {
            Remote = remoteNext,
            RemoteNext = null,
            RemoteNextPoint = nextPoint,
            LocalAcked = _s.LocalAcked.AddRange(_s.LocalSigned),
            LocalSigned = [],
            RemoteSigned = [],
        };
        return MaybeStartNegotiation(next, o);
    }

    private PerCommitmentSecretStore? _pendingSecrets;

    private bool CanSignNow() =>
        _s.State is ChannelState.Normal or ChannelState.ShuttingDown && !_s.Offline && _s.RemoteNext is null && _s.RemoteNextPoint is not null;

    private ChannelData SignInto(ChannelData s, OutputBuilder o)
    {
        var spec = Reduce(s.Remote.Spec, s.RemoteAcked, s.LocalProposed, strict: true);
        var number = s.Remote.Index + 1;
        var point = s.RemoteNextPoint!;
        var (signature, htlcSignatures) = SignRemote(number, point, spec);
        o.Monitor(uid => new RemoteCommitmentUpdate(uid, number, point, spec.FeeratePerKw, spec.ToLocal, spec.ToRemote, spec.ToCommitmentHtlcs()));
        o.Send(new CommitmentSigned(ChannelId, signature, htlcSignatures));
        return s with
        {
            RemoteNext = new RemoteCommit(number, spec, point),
            RemoteNextSentAfterLocalIndex = s.Local.Index,
            RemoteNextPoint = null,
            LocalSigned = s.LocalProposed,
            LocalProposed = [],
            RemoteSigned = s.RemoteAcked,
            RemoteAcked = [],
        };
    }

    private (Signature64 Signature, IReadOnlyList<Signature64> HtlcSignatures) SignRemote(ulong number, PubKey point, CommitmentSpec spec)
    {
        var commitment = Parameters.BuildRemoteCommitment(number, point, spec.FeeratePerKw, spec.ToLocal, spec.ToRemote, spec.ToCommitmentHtlcs());
        var signature = Signature64.FromBytes(Bolt3Signing.SignCommitment(commitment, _keys.FundingKey).ToCompact());
        var htlcKey = KeyDerivation.DerivePrivateKey(_keys.HtlcBasepointSecret, point);
        var htlcSignatures = HtlcTransactionBuilder.BuildAll(commitment)
            .Select(tx => Signature64.FromBytes(Bolt3Signing.SignHtlc(tx, htlcKey, signerIsCommitmentOwner: false).ToCompact()))
            .ToList();
        return (signature, htlcSignatures);
    }

    private static HashSet<ulong> RemovalIds(IEnumerable<LightningMessage> updates) =>
        updates.Select(u => u switch
        {
            UpdateFulfillHtlc f => (ulong?)f.Id,
            UpdateFailHtlc f => f.Id,
            UpdateFailMalformedHtlc f => f.Id,
            _ => null,
        }).Where(id => id is not null).Select(id => id!.Value).ToHashSet();

    private static MilliSatoshi SatToMsat(Money amount) => MilliSatoshi.FromSatoshis((ulong)amount.Satoshi);

    /// <summary>The commitment fee plus anchors the funder pays for <paramref name="spec"/> at <paramref name="feerate"/>.</summary>
    private MilliSatoshi FunderCost(CommitmentSpec spec, Money dustLimit, uint feerate, int extraHtlcs = 0)
    {
        var format = Parameters.Format;
        var untrimmed = spec.Htlcs.Count(h => !Bolt3Fees.IsTrimmed(format, feerate, dustLimit, h.Direction, h.Add.AmountMsat)) + extraHtlcs;
        var fee = Bolt3Fees.CommitmentFee(format, feerate, untrimmed);
        if (format == CommitmentFormat.AnchorOutputs)
        {
            fee += Bolt3Fees.AnchorAmount * 2;
        }
        return SatToMsat(fee);
    }

    /// <summary>
    /// Applies updates to a commitment spec (owner's view): the owner's adds become offered HTLCs, the other side's
    /// received ones; settlements remove them and credit the right side; <c>update_fee</c> sets the feerate.
    /// </summary>
    /// <param name="spec">The spec to start from.</param>
    /// <param name="ownerChanges">Updates sent by the commitment's owner.</param>
    /// <param name="otherChanges">Updates sent by the other side.</param>
    /// <param name="strict">Whether a settlement of an unknown HTLC is an error (else it is skipped, for what-if checks).</param>
    internal static CommitmentSpec Reduce(CommitmentSpec spec, IEnumerable<LightningMessage> ownerChanges, IEnumerable<LightningMessage> otherChanges, bool strict)
    {
        var htlcs = spec.Htlcs.ToList();
        var toLocal = spec.ToLocal.Value;
        var toRemote = spec.ToRemote.Value;
        var feerate = spec.FeeratePerKw;
        var overdrawn = false;
        var owner = ownerChanges as IReadOnlyCollection<LightningMessage> ?? ownerChanges.ToList();
        var other = otherChanges as IReadOnlyCollection<LightningMessage> ?? otherChanges.ToList();
        foreach (var add in owner.OfType<UpdateAddHtlc>())
        {
            htlcs.Add(new SpecHtlc(HtlcDirection.Offered, add));
            toLocal = Debit(toLocal, add.AmountMsat.Value, strict, ref overdrawn);
        }
        foreach (var add in other.OfType<UpdateAddHtlc>())
        {
            htlcs.Add(new SpecHtlc(HtlcDirection.Received, add));
            toRemote = Debit(toRemote, add.AmountMsat.Value, strict, ref overdrawn);
        }
        void Remove(HtlcDirection direction, ulong id, bool creditLocal)
        {
            var index = htlcs.FindIndex(h => h.Direction == direction && h.Add.Id == id);
            if (index < 0)
            {
                if (strict)
                {
                    throw new ChannelProtocolException($"Settlement of unknown HTLC {id}.");
                }
                return;
            }
            var amount = htlcs[index].Add.AmountMsat.Value;
            htlcs.RemoveAt(index);
            if (creditLocal)
            {
                toLocal += amount;
            }
            else
            {
                toRemote += amount;
            }
        }
        foreach (var u in owner)
        {
            switch (u)
            {
                case UpdateFulfillHtlc f: Remove(HtlcDirection.Received, f.Id, creditLocal: true); break;
                case UpdateFailHtlc f: Remove(HtlcDirection.Received, f.Id, creditLocal: false); break;
                case UpdateFailMalformedHtlc f: Remove(HtlcDirection.Received, f.Id, creditLocal: false); break;
            }
        }
        foreach (var u in other)
        {
            switch (u)
            {
                case UpdateFulfillHtlc f: Remove(HtlcDirection.Offered, f.Id, creditLocal: false); break;
                case UpdateFailHtlc f: Remove(HtlcDirection.Offered, f.Id, creditLocal: true); break;
                case UpdateFailMalformedHtlc f: Remove(HtlcDirection.Offered, f.Id, creditLocal: true); break;
            }
        }
        foreach (var u in owner.Concat(other))
        {
            if (u is UpdateFeeMessage fee)
            {
                feerate = fee.FeeratePerKw;
            }
        }
        return new CommitmentSpec(htlcs, feerate, new MilliSatoshi(toLocal), new MilliSatoshi(toRemote)) { Overdrawn = overdrawn };
    }

    private static ulong Debit(ulong balance, ulong amount, bool strict, ref bool overdrawn)
    {
        if (amount <= balance)
        {
            return balance - amount;
        }
        if (strict)
        {
            throw new ChannelProtocolException("An HTLC exceeds the sender's balance.");
        }
        // What-if checks: the caller refuses an overdrawn spec.
        overdrawn = true;
        return 0;
    }

    private static ulong LargestPassing(ulong minimum, ulong upper, Func<ulong, bool> passes)
    {
        // Above the HTLC minimum the checks are monotonic (a bigger HTLC never costs less); binary search, verified.
        minimum = Math.Max(minimum, 1);
        if (upper < minimum || !passes(minimum))
        {
            return 0;
        }
        ulong lo = minimum, hi = upper;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo + 1) / 2);
            if (passes(mid))
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return lo > 0 && passes(lo) ? lo : 0;
    }

    /// <summary>Accumulates an operation's output and allocates monitor update ids.</summary>
    private sealed class OutputBuilder(ulong nextId)
    {
        private readonly List<LightningMessage> _messages = [];
        private readonly List<ChannelMonitorUpdate> _updates = [];
        private readonly List<ChannelEvent> _events = [];

        public ulong NextId { get; private set; } = nextId;

        public void Send(LightningMessage message) => _messages.Add(message);

        public void Monitor(Func<ulong, ChannelMonitorUpdate> update) => _updates.Add(update(NextId++));

        public void Event(ChannelEvent e) => _events.Add(e);

        public ChannelOutput Build() => new(_messages.ToList(), _updates.ToList(), _events.ToList());
    }
}
