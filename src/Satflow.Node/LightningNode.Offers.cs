using Microsoft.Extensions.Logging;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Offers.Flow;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using Satflow.Node.Offers;
using Satflow.Node.Persistence;
using Satflow.Payments;
using Satflow.Storage;
using BlindedPayInfo = Satflow.Lightning.Offers.BlindedPayInfo;
using FlowRandomFill = Satflow.Lightning.Offers.Flow.RandomFill;
using InvoiceRequest = Satflow.Lightning.Offers.InvoiceRequest;

namespace Satflow.Node;

/// <summary>
/// BOLT 12 in the node: onion messages (receive, forward to a peer by node id or channel, send our own, with a
/// per-peer rate limit), offers (create and list; answer invoice requests with invoices whose blinded payment path
/// leads to us through a peer; settle the payments that arrive over it) and paying offers (invoice request over an
/// onion message with a reply path, invoice checks, payment along the invoice's blinded path).
/// </summary>
public sealed partial class LightningNode
{
    /// <summary>The primary store namespace of the node's offers and the invoices issued for them.</summary>
    public const string OffersNamespace = "offers";

    /// <summary>The secondary namespace of offer records (key: offer id).</summary>
    public const string OfferRecordsNamespace = "offers";

    /// <summary>The secondary namespace of issued BOLT 12 invoices (key: payment hash).</summary>
    public const string OfferInvoicesNamespace = "invoices";

    /// <summary>Onion messages accepted from one peer per <see cref="OnionMessageWindow"/>; the rest are dropped.</summary>
    public const int OnionMessagesPerWindow = 200;

    /// <summary>The rate-limit window of onion messages per peer.</summary>
    public static TimeSpan OnionMessageWindow { get; } = TimeSpan.FromSeconds(1);

    /// <summary>How long <see cref="PayOfferAsync"/> waits for the issuer's invoice.</summary>
    public static TimeSpan OfferInvoiceTimeout { get; } = TimeSpan.FromSeconds(30);

    private const int MaxLocalOnionHops = 4;
    private readonly Dictionary<string, PendingOfferPayment> _offerRequests = new(StringComparer.Ordinal);
    private readonly Dictionary<NodeId, (DateTimeOffset WindowStart, int Count)> _onionMessageBudget = [];
    private OfferIssuer? _offerIssuer;
    private OfferPayer? _offerPayer;

    private sealed record OfferReply(Bolt12Invoice? Invoice, InvoiceError? Error, ReadOnlyMemory<byte>? PathId);

    private sealed record PendingOfferPayment(PendingInvoiceRequest Request, TaskCompletionSource<OfferReply> Reply);

    /// <summary>Counters of the onion messages this node handled (for tests and diagnostics).</summary>
    public OnionMessageCounters OnionMessageStats { get; } = new();

    private OfferIssuer Issuer => _offerIssuer ??= new OfferIssuer(_nodeSecret, OffersSecret("issuer"), _options.ChainHash);

    private OfferPayer Payer => _offerPayer ??= new OfferPayer(NodeId, OffersSecret("payer"), _options.ChainHash);

    private FlowRandomFill FlowRandom => buffer => _random(buffer);

    private byte[] OffersSecret(string purpose) =>
        System.Security.Cryptography.HMACSHA256.HashData(_seed, System.Text.Encoding.ASCII.GetBytes("satflow/offers/v1/" + purpose));

    // ---------------------------------------------------------------- offers we issue

    /// <summary>
    /// Creates an offer and stores it. A blinded offer (<see cref="OfferParameters.Blinded"/>) whose introduction node
    /// is not given gets the peer of our usable channel with the most inbound liquidity as introduction node, so
    /// payers that are not our peers reach us through it.
    /// </summary>
    /// <param name="parameters">Description, amount, expiry, issuer, blinding.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The stored offer.</returns>
    /// <exception cref="NodeOperationRefusedException">Invalid parameters, or a blinded offer without any usable channel.</exception>
    public async Task<OfferRecord> CreateOfferAsync(OfferParameters parameters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (string.IsNullOrWhiteSpace(parameters.Description))
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "An offer needs a description.");
        }
        if (parameters.Amount is { Value: 0 })
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "An offer's amount must be positive (omit it to let the payer choose).");
        }
        if (parameters.AbsoluteExpiry is { } expiry && expiry <= _deps.Time.GetUtcNow())
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, $"The expiry {expiry:O} is in the past.");
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var effective = parameters;
            if (parameters.Blinded && parameters.IntroductionNode is null)
            {
                var hop = InboundHop() ?? throw new NodeOperationRefusedException(NodeErrorReason.ChannelNotReady,
                    "A blinded offer needs a usable channel: its peer is the introduction node of the offer's path.");
                effective = parameters with { IntroductionNode = hop.Peer };
            }
            Offer offer;
            try
            {
                offer = Issuer.CreateOffer(effective, FlowRandom);
            }
            catch (Exception e) when (e is WireFormatException or ArgumentException)
            {
                throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "Invalid offer: " + e.Message, e);
            }
            var record = new OfferRecord
            {
                OfferId = offer.OfferId,
                Offer = offer.Encode(),
                Description = parameters.Description,
                Amount = parameters.Amount,
                AbsoluteExpiry = parameters.AbsoluteExpiry is { } e2 ? DateTimeOffset.FromUnixTimeSeconds(e2.ToUnixTimeSeconds()) : null,
                IntroductionNode = effective.IntroductionNode,
                CreatedAt = _deps.Time.GetUtcNow(),
            };
            await _store.CommitAsync([KvOperation.Write(OffersNamespace, OfferRecordsNamespace, record.OfferId.ToHex(), record.Encode())], cancellationToken).ConfigureAwait(false);
            return record;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Every offer this node created, oldest first.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<IReadOnlyList<OfferRecord>> ListOffersAsync(CancellationToken cancellationToken = default)
    {
        var records = new List<OfferRecord>();
        foreach (var key in await _deps.Store.ListAsync(OffersNamespace, OfferRecordsNamespace, cancellationToken).ConfigureAwait(false))
        {
            if (await _deps.Store.ReadAsync(OffersNamespace, OfferRecordsNamespace, key, cancellationToken).ConfigureAwait(false) is { } bytes)
            {
                records.Add(OfferRecord.Decode(bytes.Span));
            }
        }
        return records.OrderBy(r => r.CreatedAt).ThenBy(r => r.OfferId.ToHex(), StringComparer.Ordinal).ToList();
    }

    /// <summary>Every invoice this node issued for its offers (paid or not), oldest first.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    public async Task<IReadOnlyList<OfferInvoiceRecord>> ListOfferInvoicesAsync(CancellationToken cancellationToken = default)
    {
        var records = new List<OfferInvoiceRecord>();
        foreach (var key in await _deps.Store.ListAsync(OffersNamespace, OfferInvoicesNamespace, cancellationToken).ConfigureAwait(false))
        {
            if (await _deps.Store.ReadAsync(OffersNamespace, OfferInvoicesNamespace, key, cancellationToken).ConfigureAwait(false) is { } bytes)
            {
                records.Add(OfferInvoiceRecord.Decode(bytes.Span));
            }
        }
        return records.OrderBy(r => r.CreatedAt).ThenBy(r => r.PaymentHash.Value.ToHex(), StringComparer.Ordinal).ToList();
    }

    private async Task<OfferInvoiceRecord?> LookupOfferInvoiceAsync(PaymentHash hash, CancellationToken cancellationToken) =>
        await _deps.Store.ReadAsync(OffersNamespace, OfferInvoicesNamespace, hash.Value.ToHex(), cancellationToken).ConfigureAwait(false) is { } bytes
            ? OfferInvoiceRecord.Decode(bytes.Span)
            : null;

    private static KvOperation WriteOfferInvoice(OfferInvoiceRecord record) =>
        KvOperation.Write(OffersNamespace, OfferInvoicesNamespace, record.PaymentHash.Value.ToHex(), record.Encode());

    /// <summary>The channel in front of us on our invoices' blinded payment path: usable, with the most inbound liquidity.</summary>
    private PaymentHopHint? InboundHop()
    {
        var slot = _channels.Values
            .Where(s => s.Channel.State == ChannelState.Normal && !s.Channel.IsOffline && s.ShortChannelId is not null && _deps.Transport.IsConnected(s.Peer))
            .OrderByDescending(s => s.Channel.AvailableToReceive.Value)
            .ThenBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal)
            .FirstOrDefault();
        if (slot is null)
        {
            return null;
        }
        // The peer's policy for this channel is not known to us in general: we announce our own default forwarding
        // policy for the hop (payers pay at least this; a peer asking more fails the HTLC and the payer sees why).
        var policy = _options.DefaultForwardingPolicy;
        return new PaymentHopHint(slot.Peer, slot.ShortChannelId!.Value, new PaymentRelay(policy.CltvExpiryDelta, policy.FeeProportionalMillionths, policy.BaseFee));
    }

    private async Task AnswerInvoiceRequestAsync(ReceivedInvoiceRequest received, int depth, CancellationToken cancellationToken)
    {
        var now = _deps.Time.GetUtcNow();
        IssuerResponse response;
        if (InboundHop() is not { } hop)
        {
            response = new IssuerResponse(null, new InvoiceError { Error = "the issuer has no usable channel to receive the payment" });
        }
        else
        {
            var height = (uint)Math.Max(0, _height);
            var settings = new InvoiceSettings
            {
                Hop = hop,
                MinFinalCltvExpiryDelta = checked((ushort)Math.Min(_options.FinalCltvExpiryDelta, ushort.MaxValue)),
                MaxCltvExpiry = height + 4032,
            };
            response = Issuer.Respond(received.Request, received.Arrival, now, settings, FlowRandom);
        }
        if (response.Invoice is { } invoice)
        {
            var record = new OfferInvoiceRecord
            {
                PaymentHash = invoice.Invoice.PaymentHash!.Value,
                OfferId = received.Request.Offer.Metadata is null ? received.Request.MerkleRoot : OfferIdOf(received.Request),
                Amount = invoice.Invoice.Amount!.Value,
                PayerNote = received.Request.Request.PayerNote,
                CreatedAt = now,
                ExpiresAt = invoice.ExpiresAt,
                State = OfferInvoiceState.Pending,
            };
            if (await LookupOfferInvoiceAsync(record.PaymentHash, cancellationToken).ConfigureAwait(false) is not { State: OfferInvoiceState.Settled })
            {
                await _store.CommitAsync([WriteOfferInvoice(record)], cancellationToken).ConfigureAwait(false);
            }
        }
        OutgoingOnionMessage reply;
        try
        {
            reply = OfferMessenger.SendResponse(received.ReplyPath, response, FlowRandom);
        }
        catch (Exception e) when (e is WireFormatException or ArgumentException)
        {
            OffersLog.OnionMessageDropped(_logger, NodeId, "the reply path cannot be used: " + e.Message);
            return;
        }
        await DeliverOnionMessageAsync(reply.FirstNode, reply.Message, depth, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The offer id of a request: the Merkle root of the offer fields it copies (records 1..79).</summary>
    private static Bytes32 OfferIdOf(InvoiceRequest request)
    {
        var records = request.Records.Records.Where(r => r.Type is >= 1 and <= 79 || r.Type is >= 1_000_000_000 and <= 1_999_999_999);
        return Bolt12Merkle.MerkleRoot(new TlvStream(records.ToList()));
    }

    /// <summary>
    /// Hook of <c>DecideAsync</c>: an HTLC that reached us with a <c>path_key</c> (a hop of a blinded path after its
    /// introduction node): when its onion ends here it is a payment for one of our BOLT 12 invoices, otherwise we
    /// forward it along the blinded path. Returns null for an HTLC without a path key (another decision applies).
    /// </summary>
    private async Task<Decision?> DecideOfferPaymentAsync(ChannelSlot incoming, ReceivedHtlcRecord htlc, CancellationToken cancellationToken)
    {
        if (htlc.PathKey is not { } pubKey)
        {
            return null;
        }
        // Inside a blinded path every failure is invalid_onion_blinding, returned as update_fail_malformed_htlc.
        var onionSha = new Bytes32(System.Security.Cryptography.SHA256.HashData(htlc.Onion.Span));
        var blindingFailure = new Decision(null, null, (onionSha, FailureCode.InvalidOnionBlinding.Value));
        if (!ECPubKey.TryCreate(pubKey.ToBytes(), Context.Instance, out _, out var pathKey) || pathKey is null)
        {
            return blindingFailure;
        }
        PeeledOnion peeled;
        PaymentOnionPayload payload;
        EncryptedDataTlv data;
        try
        {
            peeled = OnionPacket.ParsePayment(htlc.Onion.Span).Peel(_nodeSecret, htlc.PaymentHash.Value.ToArray(), pathKey);
            if (!peeled.IsFinal)
            {
                // A blinded hop after the introduction node: forward along the path.
                return await DecideBlindedForwardAsync(incoming, htlc, peeled, pathKey, cancellationToken).ConfigureAwait(false) ?? blindingFailure;
            }
            payload = PaymentOnionPayload.Decode(peeled.Payload.Span);
            payload.ValidateBlinded(isFinal: true);
            data = RouteBlinding.Decrypt(_nodeSecret, pathKey, payload.EncryptedRecipientData!.Value.Span).Data;
            data.ValidateForPayment(isFinal: true, htlc.Amount, htlc.CltvExpiry);
        }
        catch (WireFormatException e)
        {
            OffersLog.BlindedPaymentRefused(_logger, htlc.PaymentHash, e.Message);
            return blindingFailure;
        }
        string? problem = null;
        if (data.PathId is not { } pathId || Issuer.PreimageForPathId(pathId.Span) is not { } preimage || preimage.Hash != htlc.PaymentHash)
        {
            problem = "the path_id is not one of ours";
            preimage = default;
        }
        else if (htlc.Amount < payload.AmountToForward!.Value || payload.TotalAmount!.Value > htlc.Amount)
        {
            problem = "the HTLC pays less than its onion says (multi-part payments to offers are not accepted)";
        }
        else if (htlc.CltvExpiry < payload.OutgoingCltvValue!.Value || (_height >= 0 && htlc.CltvExpiry < (ulong)_height + _options.FinalCltvExpiryDelta))
        {
            problem = "the HTLC expires too soon";
        }
        if (problem is not null)
        {
            OffersLog.BlindedPaymentRefused(_logger, htlc.PaymentHash, problem);
            return blindingFailure;
        }
        var record = await LookupOfferInvoiceAsync(htlc.PaymentHash, cancellationToken).ConfigureAwait(false);
        if (record is { State: OfferInvoiceState.Settled })
        {
            return new Decision(preimage, null, null); // settled before a crash: release the preimage again
        }
        var now = _deps.Time.GetUtcNow();
        problem = record is null ? "no invoice was issued for this payment hash"
            : now > record.ExpiresAt ? "the invoice expired"
            : htlc.Amount < record.Amount ? $"the HTLC pays {htlc.Amount.Value} msat of the {record.Amount.Value} msat asked"
            : null;
        if (problem is not null)
        {
            OffersLog.BlindedPaymentRefused(_logger, htlc.PaymentHash, problem);
            return blindingFailure;
        }
        var settled = record! with { State = OfferInvoiceState.Settled, AmountReceived = htlc.Amount, SettledAt = now };
        await _store.CommitAsync([WriteOfferInvoice(settled)], cancellationToken).ConfigureAwait(false);
        return new Decision(preimage, null, null);
    }

    /// <summary>
    /// Forwards an HTLC inside a blinded path (BOLT 4 route blinding): as its introduction node (<paramref name="pathKey"/>
    /// null: the key is the payload's <c>current_path_key</c>) or a later blinded hop (the <c>update_add_htlc</c>'s
    /// path key). The next channel, amount and expiry come from our <c>encrypted_recipient_data</c> and its
    /// <c>payment_relay</c>; the outgoing HTLC carries the next path key. Failures are <c>invalid_onion_blinding</c>.
    /// Returns null when the onion is not a blinded one (introduction case only).
    /// </summary>
    private async Task<Decision?> DecideBlindedForwardAsync(ChannelSlot incoming, ReceivedHtlcRecord htlc, PeeledOnion peeled, ECPubKey? pathKey, CancellationToken cancellationToken)
    {
        PaymentOnionPayload payload;
        try
        {
            payload = PaymentOnionPayload.Decode(peeled.Payload.Span);
        }
        catch (WireFormatException)
        {
            return pathKey is null ? null : BlindedFailure(htlc, peeled, pathKey);
        }
        if (payload.EncryptedRecipientData is not { } encrypted)
        {
            return pathKey is null ? null : BlindedFailure(htlc, peeled, pathKey);
        }
        var now = _deps.Time.GetUtcNow();
        var record = new ForwardRecord(incoming.ChannelId, htlc.HtlcId, incoming.ShortChannelId, htlc.Amount, htlc.CltvExpiry, htlc.PaymentHash, peeled.SharedSecret, now);
        Decision Refuse(string detail)
        {
            var failed = record with { Status = ForwardStatus.Failed, ResolvedAt = now, FailureReason = "invalid_onion_blinding: " + detail };
            OffersLog.BlindedPaymentRefused(_logger, htlc.PaymentHash, "blinded forward refused: " + detail);
            return BlindedFailure(htlc, peeled, pathKey) with { Ops = [failed.Write()] };
        }
        ECPubKey key;
        DecryptedRecipientData decrypted;
        MilliSatoshi amount;
        uint outgoingCltv;
        try
        {
            key = pathKey ?? payload.CurrentPathKey ?? throw new OnionException(FailureCode.InvalidOnionBlinding, "no current_path_key at the introduction node");
            payload.ValidateBlinded(isFinal: false);
            decrypted = RouteBlinding.Decrypt(_nodeSecret, key, encrypted.Span);
            decrypted.Data.ValidateForPayment(isFinal: false, htlc.Amount, htlc.CltvExpiry);
            (amount, outgoingCltv) = decrypted.Data.ForwardingValues(htlc.Amount, htlc.CltvExpiry);
        }
        catch (WireFormatException e)
        {
            return Refuse(e.Message);
        }
        var data = decrypted.Data;
        var target = data.ShortChannelId is { } scid
            ? _channels.Values.FirstOrDefault(s => s.ShortChannelId == scid)?.Peer
            : data.NextNodeId;
        if (target is not { } next || next == incoming.Peer || next == NodeId)
        {
            return Refuse($"no next channel ({data.ShortChannelId?.ToString() ?? data.NextNodeId?.ToString() ?? "none"})");
        }
        var height = (ulong)Math.Max(0, _height);
        if (outgoingCltv < height + MinOutgoingCltvBlocks || outgoingCltv > height + MaxOutgoingCltvBlocks)
        {
            return Refuse($"outgoing expiry {outgoingCltv} is out of range at height {height}");
        }
        var outgoing = SelectOutgoingChannel(data.ShortChannelId ?? default, next, amount);
        if (outgoing is null || outgoing.Channel.AvailableToSend < amount || amount.Value == 0)
        {
            return Refuse($"no usable channel to {next} for {amount.Value} msat");
        }
        record = record with { OutgoingShortChannelId = outgoing.ShortChannelId, OutgoingAmount = amount, OutgoingCltvExpiry = outgoingCltv };
        ChannelOutput output;
        ulong outgoingId;
        try
        {
            var nextPathKey = new NBitcoin.PubKey(decrypted.NextPathKey.ToBytes());
            output = outgoing.Channel.AddHtlc(amount, htlc.PaymentHash, outgoingCltv, peeled.NextPacket!.ToBytes(), out outgoingId, nextPathKey);
        }
        catch (ChannelUpdateRefusedException e)
        {
            return Refuse(e.Message);
        }
        record = record with { OutgoingChannelId = outgoing.ChannelId, OutgoingHtlcId = outgoingId, Status = ForwardStatus.Pending };
        _forwards[(incoming.ChannelId, htlc.HtlcId)] = record;
        _forwardsByOutgoing[(outgoing.ChannelId, outgoingId)] = (incoming.ChannelId, htlc.HtlcId);
        OnionMessageStats.BlindedForwards++;
        await ApplyAsync(outgoing, output, [record.Write()], cancellationToken, deferrable: true).ConfigureAwait(false);
        return new Decision(null, null, null) { Pending = true };
    }

    /// <summary>
    /// <c>invalid_onion_blinding</c>: the introduction node returns it as its own failure (the payer can read it);
    /// later blinded hops return <c>update_fail_malformed_htlc</c> so nothing inside the path is revealed.
    /// </summary>
    private static Decision BlindedFailure(ReceivedHtlcRecord htlc, PeeledOnion peeled, ECPubKey? pathKey)
    {
        var sha = new Bytes32(System.Security.Cryptography.SHA256.HashData(htlc.Onion.Span));
        return pathKey is null
            ? OriginateFailure(peeled.SharedSecret, FailureMessage.BadOnion(FailureCode.InvalidOnionBlinding, sha), TimeSpan.Zero)
            : new Decision(null, null, (sha, FailureCode.InvalidOnionBlinding.Value));
    }

    // ---------------------------------------------------------------- onion messages

    private async Task OnOnionMessageAsync(NodeId peer, OnionMessageWire wire, CancellationToken cancellationToken)
    {
        var now = _deps.Time.GetUtcNow();
        (DateTimeOffset WindowStart, int Count) budget = _onionMessageBudget.TryGetValue(peer, out var b) && now - b.WindowStart < OnionMessageWindow ? b : (now, 0);
        if (budget.Count >= OnionMessagesPerWindow)
        {
            OnionMessageStats.RateLimited++;
            return;
        }
        _onionMessageBudget[peer] = (budget.WindowStart, budget.Count + 1);
        if (_onionMessageBudget.Count > 10_000)
        {
            foreach (var stale in _onionMessageBudget.Where(kv => now - kv.Value.WindowStart >= OnionMessageWindow).Select(kv => kv.Key).ToList())
            {
                _onionMessageBudget.Remove(stale);
            }
        }
        await HandleOnionMessageAsync(wire.Message, 0, cancellationToken).ConfigureAwait(false);
    }

    private async Task HandleOnionMessageAsync(OnionMessage message, int depth, CancellationToken cancellationToken)
    {
        OfferMessageReceipt receipt;
        try
        {
            receipt = OfferMessenger.Receive(message, _nodeSecret);
        }
        catch (WireFormatException e)
        {
            // Onion messages are never answered with an error: a bad one is dropped.
            OnionMessageStats.Dropped++;
            OffersLog.OnionMessageDropped(_logger, NodeId, e.Message);
            return;
        }
        switch (receipt)
        {
            case ForwardOnionMessage forward:
                var next = forward.NextNode ?? _channels.Values.FirstOrDefault(s => s.ShortChannelId == forward.NextChannel)?.Peer;
                if (next is not { } nextNode)
                {
                    OnionMessageStats.Dropped++;
                    OffersLog.OnionMessageDropped(_logger, NodeId, $"no channel {forward.NextChannel} to forward on");
                    return;
                }
                OnionMessageStats.Forwarded++;
                await DeliverOnionMessageAsync(nextNode, forward.Message, depth, cancellationToken).ConfigureAwait(false);
                return;
            case ReceivedInvoiceRequest request:
                OnionMessageStats.Received++;
                await AnswerInvoiceRequestAsync(request, depth, cancellationToken).ConfigureAwait(false);
                return;
            case ReceivedInvoice invoice:
                OnionMessageStats.Received++;
                CompleteOfferRequest(invoice.PathId, new OfferReply(invoice.Invoice, null, invoice.PathId));
                return;
            case ReceivedInvoiceError error:
                OnionMessageStats.Received++;
                CompleteOfferRequest(error.PathId, new OfferReply(null, error.Error, error.PathId));
                return;
        }
    }

    /// <summary>Hands an onion message to <paramref name="next"/>: a connected peer, or ourselves (we are the path's next hop).</summary>
    /// <returns>False when it could not be delivered.</returns>
    private async Task<bool> DeliverOnionMessageAsync(NodeId next, OnionMessage message, int depth, CancellationToken cancellationToken)
    {
        if (next == NodeId)
        {
            if (depth >= MaxLocalOnionHops)
            {
                OnionMessageStats.Dropped++;
                return false;
            }
            await HandleOnionMessageAsync(message, depth + 1, cancellationToken).ConfigureAwait(false);
            return true;
        }
        if (!_deps.Transport.IsConnected(next))
        {
            OnionMessageStats.Dropped++;
            OffersLog.OnionMessageDropped(_logger, NodeId, $"next node {next} is not connected");
            return false;
        }
        OnionMessageStats.Sent++;
        await SendAsync(next, new OnionMessageWire(message), cancellationToken).ConfigureAwait(false);
        return true;
    }

    private void CompleteOfferRequest(ReadOnlyMemory<byte>? pathId, OfferReply reply)
    {
        if (pathId is { } id && _offerRequests.Remove(Convert.ToHexStringLower(id.Span), out var pending))
        {
            pending.Reply.TrySetResult(reply);
        }
        else
        {
            OnionMessageStats.Dropped++;
        }
    }

    // ---------------------------------------------------------------- paying offers

    /// <summary>
    /// Pays a BOLT 12 offer: sends an <c>invoice_request</c> over an onion message with a blinded reply path, waits
    /// (up to <see cref="OfferInvoiceTimeout"/> on the node's clock) for the invoice, checks it and pays it along its
    /// blinded payment path. Returns once the HTLC is offered (pending); <see cref="WaitForPaymentAsync"/> gives the
    /// outcome.
    /// </summary>
    /// <param name="offer">The <c>lno1…</c> string.</param>
    /// <param name="amount">The amount (required when the offer has none; otherwise null or at least its price).</param>
    /// <param name="payerNote">A note for the issuer (<c>invreq_payer_note</c>).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The payment record: pending, or failed when no channel could carry it.</returns>
    /// <exception cref="NodeOperationRefusedException">
    /// Bad or expired offer, wrong amount, the introduction node is not reachable, no invoice in time, the issuer's
    /// <c>invoice_error</c>, an invoice that fails the checks, or the payment hash was already paid.
    /// </exception>
    public async Task<OutgoingPaymentRecord> PayOfferAsync(string offer, MilliSatoshi? amount = null, string? payerNote = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(offer);
        Offer parsed;
        try
        {
            parsed = Offer.Decode(offer.Trim());
        }
        catch (WireFormatException e)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "Not a valid BOLT 12 offer: " + e.Message, e);
        }
        PendingOfferPayment pending;
        await ConnectForOnionMessageAsync(parsed.Offer.Paths?.FirstOrDefault(p => p.FirstNodeId.NodeId is not null)?.FirstNodeId.NodeId ?? parsed.Offer.IssuerId, cancellationToken).ConfigureAwait(false);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var intro = parsed.Offer.Paths?.FirstOrDefault(p => p.FirstNodeId.NodeId is not null)?.FirstNodeId.NodeId ?? parsed.Offer.IssuerId;
            if (intro == NodeId && parsed.Offer.IssuerId == NodeId)
            {
                throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "This node does not pay its own offers.");
            }
            if (intro is { } i && i != NodeId && !_deps.Transport.IsConnected(i))
            {
                throw new NodeOperationRefusedException(NodeErrorReason.PeerNotConnected,
                    $"The offer is reached through {i}, which is not a connected peer and has no reachable address in the graph (onion messages go to direct peers; connect to it first).");
            }
            var options = new PayRequestOptions { Amount = amount, PayerNote = payerNote, ReplyIntroductionNode = intro == NodeId ? null : intro };
            PendingInvoiceRequest request;
            try
            {
                request = Payer.CreateRequest(parsed, options, _deps.Time.GetUtcNow(), OfferInvoiceTimeout, FlowRandom);
            }
            catch (Bolt12FlowException e)
            {
                throw Refusal(e, "The offer cannot be paid");
            }
            pending = new PendingOfferPayment(request, new TaskCompletionSource<OfferReply>(TaskCreationOptions.RunContinuationsAsynchronously));
            _offerRequests[Convert.ToHexStringLower(request.ReplyPathId.Span)] = pending;
            OutgoingOnionMessage message;
            try
            {
                message = OfferMessenger.SendInvoiceRequest(request, FlowRandom);
            }
            catch (Bolt12FlowException e)
            {
                _offerRequests.Remove(Convert.ToHexStringLower(request.ReplyPathId.Span));
                throw Refusal(e, "The invoice request cannot be sent");
            }
            if (!await DeliverOnionMessageAsync(message.FirstNode, message.Message, 0, cancellationToken).ConfigureAwait(false))
            {
                _offerRequests.Remove(Convert.ToHexStringLower(request.ReplyPathId.Span));
                throw new NodeOperationRefusedException(NodeErrorReason.PeerNotConnected, $"The invoice request could not be sent to {message.FirstNode}.");
            }
        }
        finally
        {
            _gate.Release();
        }

        OfferReply reply;
        try
        {
            reply = await pending.Reply.Task.WaitAsync(OfferInvoiceTimeout, _deps.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            await ForgetOfferRequestAsync(pending).ConfigureAwait(false);
            throw new NodeOperationRefusedException(NodeErrorReason.NoRoute, $"No invoice for the offer within {OfferInvoiceTimeout.TotalSeconds:0} s.", e);
        }
        catch (OperationCanceledException)
        {
            await ForgetOfferRequestAsync(pending).ConfigureAwait(false);
            throw;
        }
        if (reply.Invoice is not { } invoice)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.Rejected, "The issuer refused the invoice request: " + reply.Error!.Error);
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            PayableInvoice payable;
            try
            {
                payable = Payer.ValidateInvoice(pending.Request, invoice, reply.PathId, _deps.Time.GetUtcNow());
            }
            catch (Bolt12FlowException e)
            {
                throw Refusal(e, "The issuer's invoice was rejected");
            }
            return await SendBlindedPaymentAsync(payable, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ForgetOfferRequestAsync(PendingOfferPayment pending)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            _offerRequests.Remove(Convert.ToHexStringLower(pending.Request.ReplyPathId.Span));
        }
        finally
        {
            _gate.Release();
        }
    }

    private static NodeOperationRefusedException Refusal(Bolt12FlowException e, string what) => new(
        e.Error switch
        {
            Bolt12FlowError.OfferExpired or Bolt12FlowError.InvoiceExpired => NodeErrorReason.InvoiceExpired,
            _ => NodeErrorReason.InvalidArgument,
        },
        $"{what}: {e.Message}",
        e);

    /// <summary>
    /// Onion messages go to direct peers: when the offer's introduction node is not one, connect to it at an address
    /// from its <c>node_announcement</c> (as other implementations do for offers), so that a payer anywhere in the
    /// network can fetch the invoice. Nothing happens when it is already connected, is us, or announced no IP address.
    /// </summary>
    private async Task ConnectForOnionMessageAsync(NodeId? introduction, CancellationToken cancellationToken)
    {
        if (introduction is not { } intro || intro == NodeId || _deps.Transport.IsConnected(intro))
        {
            return;
        }
        List<System.Net.IPEndPoint> endPoints;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            endPoints = Gossip.TryGetNodeAnnouncement(intro, out var announcement)
                ? [.. announcement.Addresses.OfType<IPNetworkAddress>().Select(a => new System.Net.IPEndPoint(a.Address, a.Port))]
                : [];
        }
        finally
        {
            _gate.Release();
        }
        foreach (var endPoint in endPoints)
        {
            try
            {
                await _deps.Transport.ConnectAsync(intro, endPoint, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Lightning.Net.PeerConnectionException e)
            {
                OffersLog.IntroductionUnreachable(_logger, intro, endPoint.ToString(), e.Message);
            }
        }
    }

    /// <summary>
    /// Pays a checked invoice along the first of its blinded paths we can use: we are its introduction node (the next
    /// blinded hop is our peer), or its introduction node is our peer. Runs under the node lock.
    /// </summary>
    private async Task<OutgoingPaymentRecord> SendBlindedPaymentAsync(PayableInvoice payable, CancellationToken cancellationToken)
    {
        if (_height < 0)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.ChannelNotReady, "The node has not seen the chain yet.");
        }
        var hash = payable.PaymentHash;
        var amount = payable.Amount;
        var height = (uint)_height;
        BlindedSend? send = null;
        var reasons = new List<string>();
        foreach (var path in payable.Paths)
        {
            try
            {
                send = PlanBlindedSend(path, hash, amount, height);
                if (send is not null)
                {
                    break;
                }
                reasons.Add($"no route with enough liquidity to the introduction node {path.Path.FirstNodeId}");
            }
            catch (WireFormatException e)
            {
                reasons.Add("unusable path: " + e.Message);
            }
        }
        OutgoingPaymentRecord record;
        try
        {
            record = await Payments.BeginAsync(hash, amount, payable.Invoice.Invoice.NodeId!.Value, null, cancellationToken).ConfigureAwait(false);
        }
        catch (DuplicatePaymentException e)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.AlreadyPaid, $"Payment hash {hash} is already {e.ExistingState.ToString().ToLowerInvariant()}: refusing to pay it twice.", e);
        }
        if (send is null)
        {
            return await Payments.FailAsync(hash, PaymentFailureReason.NoRoute, "No usable path to the offer's issuer: " + string.Join("; ", reasons), cancellationToken).ConfigureAwait(false);
        }
        ChannelOutput output;
        ulong htlcId;
        try
        {
            output = send.Slot.Channel.AddHtlc(send.HtlcAmount, hash, send.HtlcCltv, send.Onion, out htlcId, send.PathKey);
        }
        catch (ChannelUpdateRefusedException e)
        {
            var reason = e.Reason is ChannelRefusalReason.InsufficientBalance or ChannelRefusalReason.MaxHtlcValueInFlightExceeded or ChannelRefusalReason.MaxAcceptedHtlcsExceeded or ChannelRefusalReason.FunderCannotAffordFee
                ? PaymentFailureReason.InsufficientBalance
                : PaymentFailureReason.NoRoute;
            return await Payments.FailAsync(hash, reason, "The channel refused the payment: " + e.Message, cancellationToken).ConfigureAwait(false);
        }
        var route = send.Route ?? new Route(NodeId, [new RouteHop(send.Slot.ShortChannelId ?? default, send.Slot.Peer, send.HtlcAmount, send.HtlcAmount - amount, (int)(send.HtlcCltv - height))], amount, BlindedPathIndex: 0);
        var offered = new OfferedHtlcRecord(htlcId, hash, send.HtlcAmount, send.SharedSecret) { Route = route, HopSharedSecrets = send.HopSharedSecrets };
        _offered[(send.Slot.ChannelId, htlcId)] = offered;
        await ApplyAsync(send.Slot, output, [NodeStore.WriteOfferedHtlc(send.Slot.ChannelId, offered)], cancellationToken, deferrable: true).ConfigureAwait(false);
        return record;
    }

    private sealed record BlindedSend(ChannelSlot Slot, MilliSatoshi HtlcAmount, uint HtlcCltv, byte[] Onion, Bytes32 SharedSecret, NBitcoin.PubKey? PathKey)
    {
        /// <summary>The shared secret of every onion hop (to read a failure from any of them).</summary>
        public IReadOnlyList<Bytes32> HopSharedSecrets { get; init; } = [SharedSecret];

        /// <summary>The clear route to the introduction node, when the path was reached through the graph.</summary>
        public Route? Route { get; init; }
    }

    private ChannelSlot? UsableChannelTo(NodeId peer, MilliSatoshi amount) => _channels.Values
        .Where(s => s.Peer == peer && s.Channel.State == ChannelState.Normal && !s.Channel.IsOffline && s.Channel.AvailableToSend >= amount)
        .OrderByDescending(s => s.Channel.AvailableToSend.Value)
        .FirstOrDefault();

    private ChannelSlot? UsableChannelBy(ShortChannelId scid, MilliSatoshi amount) => _channels.Values
        .FirstOrDefault(s => s.ShortChannelId == scid && s.Channel.State == ChannelState.Normal && !s.Channel.IsOffline && s.Channel.AvailableToSend >= amount);

    /// <summary>Plans the HTLC for one blinded path, or null when we can reach neither its introduction node nor its next hop.</summary>
    /// <exception cref="WireFormatException">When our own hop of the path does not decrypt or is unusable.</exception>
    private BlindedSend? PlanBlindedSend(PayablePath payablePath, PaymentHash hash, MilliSatoshi amount, uint height)
    {
        var path = payablePath.Path;
        var payInfo = payablePath.PayInfo;
        if (path.FirstNodeId.NodeId is not { } intro)
        {
            return null;
        }
        var finalCltv = height + FinalCltvPadding;
        if (intro == NodeId)
        {
            // We are the introduction node: we read our own hop, and the HTLC goes to the next blinded hop with the
            // path key in update_add_htlc (BOLT 4: the sender acts as the introduction node).
            if (path.Hops.Count < 2)
            {
                throw new OnionException(FailureCode.InvalidOnionBlinding, "a blinded path that ends at ourselves");
            }
            var firstPathKey = path.FirstPathKey.ToECPubKey();
            var ours = RouteBlinding.Decrypt(_nodeSecret, firstPathKey, path.Hops[0].EncryptedRecipientData);
            var relay = ours.Data.PaymentRelay ?? throw new OnionException(FailureCode.InvalidOnionBlinding, "our hop has no payment_relay");
            var remainingCltv = payInfo.CltvExpiryDelta >= relay.CltvExpiryDelta ? (uint)(payInfo.CltvExpiryDelta - relay.CltvExpiryDelta) : 0;
            // Later hops' fees are only known in aggregate: with one hop left (the recipient) nothing is owed.
            var htlcAmount = path.Hops.Count == 2 ? amount : amount + BlindedFee(payInfo, amount);
            var slot = (ours.Data.ShortChannelId is { } scid ? UsableChannelBy(scid, htlcAmount) : null)
                ?? (ours.Data.NextNodeId is { } next ? UsableChannelTo(next, htlcAmount) : null);
            if (slot is null)
            {
                return null;
            }
            var hops = new List<OnionHop>();
            for (var i = 1; i < path.Hops.Count; i++)
            {
                var isLast = i == path.Hops.Count - 1;
                var payload = new PaymentOnionPayload
                {
                    EncryptedRecipientData = path.Hops[i].EncryptedRecipientData.ToArray(),
                    AmountToForward = isLast ? amount : null,
                    OutgoingCltvValue = isLast ? finalCltv : null,
                    TotalAmount = isLast ? amount : null,
                };
                hops.Add(new OnionHop(path.Hops[i].BlindedNodeId.ToECPubKey(), payload.Encode()));
            }
            var (onion, secrets) = BuildPaymentOnion(hops, hash);
            return new BlindedSend(slot, htlcAmount, checked(finalCltv + remainingCltv), onion, secrets[0], new NBitcoin.PubKey(ours.NextPathKey.ToBytes())) { HopSharedSecrets = secrets };
        }
        // The introduction node is our peer: the onion starts at it (current_path_key in its payload).
        var fee = BlindedFee(payInfo, amount);
        var toIntro = amount + fee;
        if (UsableChannelTo(intro, toIntro) is { } direct)
        {
            var blindedHops = BlindedPaymentRoute.BuildHops([], path, amount, amount, finalCltv);
            var (packet, secrets) = BuildPaymentOnion(blindedHops, hash);
            return new BlindedSend(direct, toIntro, checked(finalCltv + payInfo.CltvExpiryDelta), packet, secrets[0], null) { HopSharedSecrets = secrets };
        }
        // Otherwise a route through the graph to the introduction node (our channels as exact first hops), then the
        // blinded hops: clear payloads to the introduction node, which then reads current_path_key.
        var introCltvDelta = (int)(FinalCltvPadding + payInfo.CltvExpiryDelta);
        var found = Router.FindRoute(Graph, Scorer, NodeId, intro, toIntro, introCltvDelta, _deps.Time.GetUtcNow(), null, new RouteConstraints(FirstHops: FirstHops()));
        if (found.Route is not { Hops.Count: > 0 } route || route.Hops[0].ShortChannelId is var first && UsableChannelBy(first, route.Hops[0].Amount) is not { } firstSlot)
        {
            return null;
        }
        var clear = new List<(ECPubKey NodeId, PaymentOnionPayload Payload)>();
        for (var i = 0; i + 1 < route.Hops.Count; i++)
        {
            var next = route.Hops[i + 1];
            var payload = new PaymentOnionPayload
            {
                AmountToForward = next.Amount,
                OutgoingCltvValue = checked(height + (uint)next.CltvExpiryDelta),
                ShortChannelId = next.ShortChannelId,
            };
            clear.Add((route.Hops[i].Node.ToECPubKey(), payload));
        }
        var allHops = BlindedPaymentRoute.BuildHops(clear, path, amount, amount, finalCltv);
        var (routedOnion, hopSecrets) = BuildPaymentOnion(allHops, hash);
        return new BlindedSend(firstSlot, route.Hops[0].Amount, checked(height + (uint)route.Hops[0].CltvExpiryDelta), routedOnion, hopSecrets[0], null)
        {
            HopSharedSecrets = hopSecrets,
            Route = route with { RecipientAmount = amount, BlindedPathIndex = 0 },
        };
    }

    private static MilliSatoshi BlindedFee(BlindedPayInfo payInfo, MilliSatoshi amount) =>
        new(checked(payInfo.FeeBaseMsat + (ulong)(((UInt128)amount.Value * payInfo.FeeProportionalMillionths + 999_999) / 1_000_000)));

    private (byte[] Onion, IReadOnlyList<Bytes32> SharedSecrets) BuildPaymentOnion(IReadOnlyList<OnionHop> hops, PaymentHash hash)
    {
        Span<byte> sessionBytes = stackalloc byte[32];
        ECPrivKey? sessionKey = null;
        while (sessionKey is null)
        {
            _random(sessionBytes);
            ECPrivKey.TryCreate(sessionBytes, out sessionKey);
        }
        var construction = OnionPacket.Create(sessionKey, hops, hash.Value.ToArray());
        return (construction.Packet.ToBytes(), construction.SharedSecrets);
    }
}

/// <summary>Counters of the onion messages a node handled.</summary>
public sealed class OnionMessageCounters
{
    /// <summary>Messages addressed to us and processed.</summary>
    public long Received { get; internal set; }

    /// <summary>Messages we passed on to the next hop.</summary>
    public long Forwarded { get; internal set; }

    /// <summary>Messages we sent to a peer (ours and forwarded ones).</summary>
    public long Sent { get; internal set; }

    /// <summary>Messages dropped: unreadable, unroutable or unexpected.</summary>
    public long Dropped { get; internal set; }

    /// <summary>Messages dropped by the per-peer rate limit.</summary>
    public long RateLimited { get; internal set; }

    /// <summary>HTLCs this node forwarded inside a blinded path (as introduction node or later hop).</summary>
    public long BlindedForwards { get; internal set; }
}

internal static partial class OffersLog
{
    [LoggerMessage(5101, LogLevel.Debug, "{Node}: onion message dropped: {Reason}")]
    public static partial void OnionMessageDropped(ILogger logger, NodeId node, string reason);

    [LoggerMessage(5102, LogLevel.Information, "Payment {PaymentHash} over our blinded path refused: {Reason}")]
    public static partial void BlindedPaymentRefused(ILogger logger, PaymentHash paymentHash, string reason);

    [LoggerMessage(5103, LogLevel.Information, "Could not connect to the offer's introduction node {Node} at {Address}: {Reason}")]
    public static partial void IntroductionUnreachable(ILogger logger, NodeId node, string address, string reason);
}
