using Satflow.Lightning.Channels;
using Satflow.Lightning.Payments;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Node.Payments;
using Satflow.Node.Persistence;
using Satflow.Payments;
using Satflow.Storage;

namespace Satflow.Node;

/// <summary>Limits of one outgoing payment.</summary>
/// <param name="MaxFee">Largest total routing fee (null: 1 % of the amount plus 5 sat, as LND's default).</param>
/// <param name="Timeout">How long the node keeps retrying (null: 60 seconds).</param>
/// <param name="MaxAttempts">Largest number of HTLCs sent (first tries and retries).</param>
/// <param name="MaxParts">Largest number of parts in flight at once when the recipient supports multi-part payments (1: never split).</param>
public sealed record PaymentOptions(MilliSatoshi? MaxFee = null, TimeSpan? Timeout = null, int MaxAttempts = 25, int MaxParts = 16)
{
    /// <summary>The defaults.</summary>
    public static PaymentOptions Default { get; } = new();

    /// <summary>The retry window used when <see cref="Timeout"/> is null.</summary>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(60);

    /// <summary>The fee limit for <paramref name="amount"/>.</summary>
    public MilliSatoshi FeeLimitFor(MilliSatoshi amount) => MaxFee ?? new MilliSatoshi((amount.Value / 100) + 5_000);
}

public sealed partial class LightningNode
{
    /// <summary>Secondary namespace of payment session records (one per payment with parts possibly in flight).</summary>
    internal const string PaymentSessionsNamespace = "paysessions";

    /// <summary>Sessions of outgoing payments with parts in flight or still to send (restored lazily after a restart).</summary>
    private readonly Dictionary<PaymentHash, (PaymentSession Session, PaymentPreimage? Keysend)> _sessions = [];

    /// <summary>
    /// Drives every timer of the node: pending channel updates are flushed, payment timers
    /// (<see cref="ProcessPaymentTimersAsync"/>) and gossip timers (<see cref="ProcessGossipTimersAsync"/>) run. Every
    /// host calls this periodically (about once a second); the node has no thread of its own.
    /// </summary>
    /// <param name="cancellationToken">Cancels the work.</param>
    public async Task ProcessTimersAsync(CancellationToken cancellationToken = default)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        await ProcessPaymentTimersAsync(cancellationToken).ConfigureAwait(false);
        await ProcessGossipTimersAsync(cancellationToken).ConfigureAwait(false);
        TimersLastRun = _deps.Time.GetUtcNow();
    }

    /// <summary>
    /// When <see cref="ProcessTimersAsync"/> last completed (null: never since start). A host whose loop stalls shows
    /// here: payments would stop retrying and held multi-part sets would not time out.
    /// </summary>
    public DateTimeOffset? TimersLastRun { get; private set; }

    /// <summary>
    /// Drives the timers of outgoing payments: fails payments whose deadline passed with nothing in flight and sends
    /// parts that are due (after a local refusal), and fails incoming multi-part sets held longer than
    /// <see cref="MppTimeout"/>. Hosts call this periodically (<see cref="NodeRunner"/> does); the
    /// node has no thread of its own.
    /// </summary>
    /// <param name="cancellationToken">Cancels the work.</param>
    public async Task ProcessPaymentTimersAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var (session, keysend) in _sessions.Values.ToList())
            {
                await DriveSessionUnlockedAsync(session, keysend, cancellationToken).ConfigureAwait(false);
            }
            await ProcessMppTimeoutsUnlockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Finds the route a payment of <paramref name="amount"/> to <paramref name="destination"/> would take now (our
    /// channels with their exact balances, the graph, what the scorer learned), without sending anything.
    /// </summary>
    /// <param name="destination">The recipient.</param>
    /// <param name="amount">What the recipient should receive.</param>
    /// <param name="finalCltvExpiryDelta">The recipient's final CLTV delta (null: the node's default).</param>
    /// <param name="cancellationToken">Cancels the wait for the node's lock.</param>
    /// <returns>The route, or a typed failure.</returns>
    public async Task<RouteResult> FindRouteAsync(NodeId destination, MilliSatoshi amount, int? finalCltvExpiryDelta = null, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return Router.FindRoute(Graph, Scorer, NodeId, destination, amount, finalCltvExpiryDelta ?? (int)_options.FinalCltvExpiryDelta,
                _deps.Time.GetUtcNow(), null, new RouteConstraints(FirstHops: FirstHops()));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Largest number of route hints an invoice carries.</summary>
    public const int MaxInvoiceRouteHints = 3;

    /// <summary>
    /// Route hints for our usable channels that payers cannot find in the public graph: unannounced channels, and
    /// public ones not announced yet. One hop each, from the peer to us, with the peer's policy toward us when its
    /// <c>channel_update</c> reached our graph, else the default forwarding policy (called with the gate held).
    /// </summary>
    private List<IReadOnlyList<Lightning.Invoices.RouteHintHop>> PrivateRouteHints()
    {
        var fallback = _options.DefaultForwardingPolicy;
        return [.. _channels.Values
            .Where(s => s.Channel.State == ChannelState.Normal && !s.Channel.IsOffline && s.ShortChannelId is not null
                && (!s.IsPublic || !Graph.TryGetChannel(s.ShortChannelId.Value, out _)))
            .OrderByDescending(s => s.Channel.AvailableToReceive.Value)
            .ThenBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal)
            .Take(MaxInvoiceRouteHints)
            .Select(s => (IReadOnlyList<Lightning.Invoices.RouteHintHop>)[HintHop(s, fallback)])];
    }

    private Lightning.Invoices.RouteHintHop HintHop(ChannelSlot slot, ForwardingPolicy fallback)
    {
        var scid = slot.ShortChannelId!.Value;
        if (Graph.TryGetChannel(scid, out var info))
        {
            var peerPolicy = info.Node1 == slot.Peer ? info.Policy1 : info.Node2 == slot.Peer ? info.Policy2 : null;
            if (peerPolicy is { } p)
            {
                return new Lightning.Invoices.RouteHintHop(slot.Peer, scid, p.FeeBaseMsat, p.FeeProportionalMillionths, p.CltvExpiryDelta);
            }
        }

        return new Lightning.Invoices.RouteHintHop(slot.Peer, scid, checked((uint)fallback.BaseFee.Value), fallback.FeeProportionalMillionths, fallback.CltvExpiryDelta);
    }

    /// <summary>Our usable channels with what each can send now (the router's exact first hops).</summary>
    private List<FirstHop> FirstHops() =>
        [.. _channels.Values
            .Where(s => s.Channel.State == ChannelState.Normal && !s.Channel.IsOffline && s.ShortChannelId is not null)
            .Select(s => new FirstHop(s.ShortChannelId!.Value, s.Peer, s.Channel.AvailableToSend))];

    /// <summary>
    /// Starts a routed payment (called with the gate held): plans the first parts, refuses when there is no route at
    /// all, records the payment as pending and the session, then sends the parts.
    /// </summary>
    private async Task<OutgoingPaymentRecord> StartSessionUnlockedAsync(PaymentParameters parameters, PaymentPreimage? keysend, string? bolt11, CancellationToken cancellationToken)
    {
        var hash = parameters.PaymentHash;
        if (await Payments.LookupAsync(hash, cancellationToken).ConfigureAwait(false) is { State: OutgoingPaymentState.Pending or OutgoingPaymentState.Succeeded } existing)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.AlreadyPaid, $"Payment hash {hash} is already {existing.State.ToString().ToLowerInvariant()}: refusing to pay it twice.");
        }
        var session = new PaymentSession(parameters, Graph, Scorer, NodeId);
        var parts = session.NextParts(FirstHops(), _deps.Time.GetUtcNow());
        if (parts.Count == 0)
        {
            var failure = session.Failure ?? new PaymentFailure(PaymentFailureKind.NoRoute, "No route was found.");
            throw new NodeOperationRefusedException(NodeErrorReason.NoRoute, failure.Message);
        }
        OutgoingPaymentRecord record;
        try
        {
            record = await Payments.BeginAsync(hash, parameters.Amount, parameters.Payee, bolt11, cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicatePaymentException e)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.AlreadyPaid, $"Payment hash {hash} is already {e.ExistingState.ToString().ToLowerInvariant()}: refusing to pay it twice.", e);
        }
        _sessions[hash] = (session, keysend);
        await SendSessionPartsUnlockedAsync(session, keysend, parts, cancellationToken).ConfigureAwait(false);
        await DriveSessionUnlockedAsync(session, keysend, cancellationToken).ConfigureAwait(false);
        return await Payments.LookupAsync(hash, cancellationToken).ConfigureAwait(false) ?? record;
    }

    /// <summary>Persists the session (attempt count) and sends the parts; a part our channel refuses fails at once.</summary>
    /// <returns>True when a part was refused locally (the session may plan again).</returns>
    private async Task<bool> SendSessionPartsUnlockedAsync(PaymentSession session, PaymentPreimage? keysend, IReadOnlyList<PaymentPart> parts, CancellationToken cancellationToken)
    {
        var p = session.Parameters;
        await _store.CommitAsync([WriteSessionRecord(session, keysend)], cancellationToken).ConfigureAwait(false);
        var refused = false;
        foreach (var part in parts)
        {
            try
            {
                await SendPartUnlockedAsync(new PartRequest(p.PaymentHash, part.Route, p.PaymentSecret, p.Amount, keysend, (ulong)part.PartId), cancellationToken).ConfigureAwait(false);
            }
            catch (NodeOperationRefusedException e)
            {
                session.PartFailed(part.PartId, PaymentPartFailure.Local(e.Message), _deps.Time.GetUtcNow());
                refused = true;
            }
        }
        return refused;
    }

    /// <summary>
    /// Lets a session act (called with the gate held): sends parts for the amount that is neither in flight nor
    /// settled, and records the payment's outcome once the session ends.
    /// </summary>
    private async Task DriveSessionUnlockedAsync(PaymentSession session, PaymentPreimage? keysend, CancellationToken cancellationToken)
    {
        for (var round = 0; round < 64 && session.State == PaymentSessionState.Pending; round++)
        {
            var parts = session.NextParts(FirstHops(), _deps.Time.GetUtcNow());
            if (parts.Count == 0 || !await SendSessionPartsUnlockedAsync(session, keysend, parts, cancellationToken).ConfigureAwait(false))
            {
                break;
            }
        }
        session.CheckDeadline(_deps.Time.GetUtcNow());
        var ops = new List<KvOperation>();
        var record = await SessionOutcomeAsync(session, keysend, ops, cancellationToken).ConfigureAwait(false);
        if (ops.Count > 0)
        {
            await _store.CommitAsync(ops, cancellationToken).ConfigureAwait(false);
        }
        if (record is not null)
        {
            CompletePayment(record);
        }
    }

    /// <summary>
    /// Writes what the session's state means for the payment record into <paramref name="ops"/>: succeeded (with the
    /// fee and parts so far), or failed once nothing is in flight; forgets a session that has nothing left to do.
    /// Returns the record when the payment has just completed (waiters are to be woken).
    /// </summary>
    private async Task<OutgoingPaymentRecord?> SessionOutcomeAsync(PaymentSession session, PaymentPreimage? keysend, List<KvOperation> ops, CancellationToken cancellationToken)
    {
        var hash = session.Parameters.PaymentHash;
        var current = await Payments.LookupAsync(hash, cancellationToken).ConfigureAwait(false);
        OutgoingPaymentRecord? completed = null;
        var now = _deps.Time.GetUtcNow();
        if (current is not null)
        {
            OutgoingPaymentRecord? updated = null;
            if (session.State == PaymentSessionState.Succeeded)
            {
                updated = current with
                {
                    State = OutgoingPaymentState.Succeeded,
                    Preimage = session.Preimage,
                    Fee = session.FeePaid,
                    CompletedAt = current.CompletedAt ?? now,
                    FailureReason = null,
                    FailureMessage = null,
                    HtlcAttempts = (uint)session.Attempts,
                    Parts = (uint)session.SucceededParts,
                };
            }
            else if (session is { State: PaymentSessionState.Failed, HasPartsInFlight: false, Failure: { } failure } && current.State == OutgoingPaymentState.Pending)
            {
                updated = current with
                {
                    State = OutgoingPaymentState.Failed,
                    FailureReason = ReasonOf(failure.Kind),
                    FailureMessage = Truncate(failure.Message),
                    CompletedAt = now,
                    HtlcAttempts = (uint)session.Attempts,
                    Parts = 0,
                };
            }
            if (updated is not null && updated != current)
            {
                ops.Add(KvOperation.Write(PaymentTracker.PrimaryNamespace, PaymentTracker.SecondaryNamespace, InvoiceService.KeyOf(hash), updated.Encode()));
                if (current.State == OutgoingPaymentState.Pending)
                {
                    completed = updated;
                }
            }
        }
        if (session.IsComplete || current is null || current.State == OutgoingPaymentState.Failed)
        {
            _sessions.Remove(hash);
            ops.Add(KvOperation.Remove(NodeStore.PrimaryNamespace, PaymentSessionsNamespace, InvoiceService.KeyOf(hash)));
        }
        else
        {
            ops.Add(WriteSessionRecord(session, keysend));
        }
        return completed;
    }

    private static string Truncate(string message) =>
        message.Length <= PaymentTracker.MaxFailureMessageLength ? message : message[..(PaymentTracker.MaxFailureMessageLength - 1)] + "…";

    private static PaymentFailureReason ReasonOf(PaymentFailureKind kind) => kind switch
    {
        PaymentFailureKind.RecipientRejected => PaymentFailureReason.RecipientRejected,
        PaymentFailureKind.DeadlinePassed => PaymentFailureReason.Timeout,
        PaymentFailureKind.AttemptsExhausted or PaymentFailureKind.BlindedPathsFailed => PaymentFailureReason.RouteFailed,
        PaymentFailureKind.NoUsableChannel => PaymentFailureReason.InsufficientBalance,
        _ => PaymentFailureReason.NoRoute,
    };

    private static KvOperation WriteSessionRecord(PaymentSession session, PaymentPreimage? keysend) =>
        KvOperation.Write(NodeStore.PrimaryNamespace, PaymentSessionsNamespace, InvoiceService.KeyOf(session.Parameters.PaymentHash),
            new PaymentSessionRecord(session.Parameters, keysend, session.Attempts).Encode());

    /// <summary>
    /// The session of a payment whose part just resolved: the one in memory, or, after a restart, the one rebuilt from
    /// its stored record and the offered HTLCs of the same payment still in flight. Null for parts sent without a
    /// session (records written before sessions existed).
    /// </summary>
    private async Task<(PaymentSession Session, PaymentPreimage? Keysend)?> SessionOfAsync(PaymentHash hash, PartResult resolving, CancellationToken cancellationToken)
    {
        if (_sessions.TryGetValue(hash, out var known))
        {
            return known;
        }
        var bytes = await _deps.Store.ReadAsync(NodeStore.PrimaryNamespace, PaymentSessionsNamespace, InvoiceService.KeyOf(hash), cancellationToken).ConfigureAwait(false);
        if (bytes is not { } stored)
        {
            return null;
        }
        var record = PaymentSessionRecord.Decode(stored.Span, hash);
        var inFlight = _offered.Values
            .Where(o => o.PaymentHash == hash && o.Route is not null)
            .Select(o => new PaymentPartRecord((int)o.PartId, o.Route!, PaymentPartStatus.InFlight))
            .Append(new PaymentPartRecord((int)resolving.PartId, resolving.Route, PaymentPartStatus.InFlight))
            .DistinctBy(p => p.PartId)
            .ToList();
        var payment = await Payments.LookupAsync(hash, cancellationToken).ConfigureAwait(false);
        PaymentSession session;
        try
        {
            session = new PaymentSession(await WithOfferPathsAsync(record.Parameters, cancellationToken).ConfigureAwait(false), Graph, Scorer, NodeId, inFlight, record.Attempts);
        }
        catch (ArgumentException e)
        {
            throw new NodeStateCorruptException($"The payment session of {hash} does not match its HTLCs in flight: {e.Message}", e);
        }
        if (payment is { State: OutgoingPaymentState.Succeeded, Preimage: { } preimage })
        {
            // Already paid before the restart: settle the session's view so no part is ever sent again.
            session.PartSucceeded((int)resolving.PartId, preimage, _deps.Time.GetUtcNow());
        }
        var entry = (session, record.KeysendPreimage);
        _sessions[hash] = entry;
        return entry;
    }

    /// <summary>Hands a resolved part to its session; returns false when the part has no session.</summary>
    private async Task<bool> ResolveSessionPartAsync(PartResult result, List<KvOperation> ops, CancellationToken cancellationToken)
    {
        if (await SessionOfAsync(result.PaymentHash, result, cancellationToken).ConfigureAwait(false) is not { } entry)
        {
            return false;
        }
        var (session, keysend) = entry;
        var now = _deps.Time.GetUtcNow();
        var partId = (int)result.PartId;
        if (result.Preimage is { } preimage)
        {
            session.PartSucceeded(partId, preimage, now);
        }
        else
        {
            var f = result.Failure ?? new PartFailure(null, null, false, "The HTLC failed.");
            session.PartFailed(partId, new PaymentPartFailure(f.FailingHopIndex, f.Message, f.Description), now);
        }
        var completed = await SessionOutcomeAsync(session, keysend, ops, cancellationToken).ConfigureAwait(false);
        _afterCommit.Add(async () =>
        {
            if (completed is not null)
            {
                CompletePayment(completed);
            }
            if (session.State == PaymentSessionState.Pending && _sessions.ContainsKey(session.Parameters.PaymentHash))
            {
                await DriveSessionUnlockedAsync(session, keysend, cancellationToken).ConfigureAwait(false);
            }
        });
        return true;
    }
}
