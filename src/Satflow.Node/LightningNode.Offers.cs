using Microsoft.Extensions.Logging;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Offers.Flow;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Payments;
using Satflow.Lightning.Routing;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using Satflow.Node.Offers;
using Satflow.Node.Payments;
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

    /// <summary>How long <see cref="FetchOfferInvoiceAsync"/> waits for the issuer's invoice.</summary>
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

    /// <summary>Largest number of blinded payment paths in one of our invoices.</summary>
    public const int MaxInvoicePaths = 3;

    /// <summary>
    /// The hops in front of us on our invoices' blinded payment paths (one path each): our usable channels with the
    /// most inbound liquidity first, at most <see cref="MaxInvoicePaths"/>, channels that can receive nothing only when
    /// no other is usable. Each hop's relay is the peer's policy toward us when its <c>channel_update</c> reached our
    /// graph, else our default forwarding policy; its HTLC maximum is what the channel can receive now, so payers split
    /// larger payments over several paths (the invoices advertise <c>basic_mpp</c>).
    /// </summary>
    private List<PaymentHopHint> InvoiceHops()
    {
        var usable = _channels.Values
            .Where(s => s.Channel.State == ChannelState.Normal && !s.Channel.IsOffline && s.ShortChannelId is not null && _deps.Transport.IsConnected(s.Peer))
            .OrderByDescending(s => s.Channel.AvailableToReceive.Value)
            .ThenBy(s => s.ChannelId.Value.ToHex(), StringComparer.Ordinal)
            .ToList();
        var receiving = usable.Where(s => s.Channel.AvailableToReceive.Value > 0).Take(MaxInvoicePaths).ToList();
        var fallback = _options.DefaultForwardingPolicy;
        return [.. (receiving.Count > 0 ? receiving : usable.Take(1)).Select(slot =>
        {
            var hint = HintHop(slot, fallback);
            var receivable = slot.Channel.AvailableToReceive;
            return new PaymentHopHint(slot.Peer, slot.ShortChannelId!.Value, new PaymentRelay(hint.CltvExpiryDelta, hint.FeeProportionalMillionths, new MilliSatoshi(hint.FeeBaseMsat)),
                receivable.Value > 0 ? receivable : null);
        })];
    }

    private async Task AnswerInvoiceRequestAsync(ReceivedInvoiceRequest received, int depth, CancellationToken cancellationToken)
    {
        var now = _deps.Time.GetUtcNow();
        IssuerResponse response;
        var hops = InvoiceHops();
        if (hops.Count == 0)
        {
            response = new IssuerResponse(null, new InvoiceError { Error = "the issuer has no usable channel to receive the payment" });
        }
        else
        {
            var height = (uint)Math.Max(0, _height);
            var settings = new InvoiceSettings
            {
                Hops = hops,
                AllowMultiPart = true,
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
        else if (htlc.Amount < payload.AmountToForward!.Value || payload.TotalAmount!.Value < payload.AmountToForward.Value)
        {
            problem = "the HTLC pays less than its onion says";
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
            : payload.TotalAmount!.Value <= htlc.Amount && htlc.Amount < record.Amount ? $"the HTLC pays {htlc.Amount.Value} msat of the {record.Amount.Value} msat asked"
            : null;
        if (problem is not null)
        {
            OffersLog.BlindedPaymentRefused(_logger, htlc.PaymentHash, problem);
            return blindingFailure;
        }
        var total = payload.TotalAmount!.Value;
        if (total > htlc.Amount)
        {
            return await DecideOfferMppPartAsync(incoming, htlc, record!, total, preimage, blindingFailure, cancellationToken).ConfigureAwait(false);
        }
        var settled = record! with { State = OfferInvoiceState.Settled, AmountReceived = htlc.Amount, SettledAt = now };
        await _store.CommitAsync([WriteOfferInvoice(settled)], cancellationToken).ConfigureAwait(false);
        return new Decision(preimage, null, null);
    }

    /// <summary>
    /// One part of a multi-part payment to one of our BOLT 12 invoices (our invoices advertise <c>basic_mpp</c>): the
    /// final blinded hop carries <c>total_amount_msat</c> and no payment secret (the <c>path_id</c>, already checked,
    /// plays its role), so parts are assembled by payment hash and total, in the same sets as BOLT 11 parts
    /// (<see cref="MppTimeout"/>, restart behaviour). Once they add up to the total (at least the invoice's amount) the
    /// invoice is settled and every part fulfilled; a failure is <c>invalid_onion_blinding</c>, as for any failure
    /// inside a blinded path.
    /// </summary>
    private async Task<Decision> DecideOfferMppPartAsync(ChannelSlot slot, ReceivedHtlcRecord htlc, OfferInvoiceRecord record, MilliSatoshi total, PaymentPreimage preimage,
        Decision blindingFailure, CancellationToken cancellationToken)
    {
        var key = (slot.ChannelId, htlc.HtlcId);
        var hash = htlc.PaymentHash;
        if (_mppFailed.Remove(key, out _))
        {
            return blindingFailure; // the set timed out (mpp_timeout) or was refused
        }
        if (total < record.Amount)
        {
            OffersLog.BlindedPaymentRefused(_logger, hash, $"the parts' total {total.Value} msat is below the {record.Amount.Value} msat asked");
            return blindingFailure;
        }
        var joined = JoinMppSet(hash, total, slot, htlc);
        if (joined.OtherTotal)
        {
            OffersLog.BlindedPaymentRefused(_logger, hash, "a part names another total_amount_msat than the others");
            return blindingFailure; // BOLT 4: every part must carry the same total
        }
        if (joined.Completed is not { } set)
        {
            return new Decision(null, null, null) { Pending = true };
        }
        var sum = joined.Sum;
        var settled = record with { State = OfferInvoiceState.Settled, AmountReceived = new MilliSatoshi(sum), SettledAt = _deps.Time.GetUtcNow() };
        await _store.CommitAsync([WriteOfferInvoice(settled)], cancellationToken).ConfigureAwait(false);
        ScheduleDecide(set, slot);
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
    /// Pays a BOLT 12 offer with the default <see cref="PaymentOptions"/>: see
    /// <see cref="PayOfferAsync(string, MilliSatoshi?, string?, PaymentOptions?, CancellationToken)"/>.
    /// </summary>
    /// <param name="offer">The <c>lno1…</c> string.</param>
    /// <param name="amount">The amount (required when the offer has none; otherwise null or at least its price).</param>
    /// <param name="payerNote">A note for the issuer (<c>invreq_payer_note</c>).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The payment record (pending until <see cref="WaitForPaymentAsync"/> gives the outcome).</returns>
    /// <exception cref="NodeOperationRefusedException">As the overload with options.</exception>
    public Task<OutgoingPaymentRecord> PayOfferAsync(string offer, MilliSatoshi? amount = null, string? payerNote = null, CancellationToken cancellationToken = default) =>
        PayOfferAsync(offer, amount, payerNote, null, cancellationToken);

    /// <summary>
    /// Pays a BOLT 12 offer: sends an <c>invoice_request</c> over an onion message with a blinded reply path, waits
    /// (up to <see cref="OfferInvoiceTimeout"/> on the node's clock) for the invoice, checks it and pays it through a
    /// payment session over its blinded payment paths (routes to each path's introduction node, retries over other
    /// routes and paths until <see cref="PaymentOptions.Timeout"/> or the attempt limit, multi-part over several
    /// paths when the invoice has <c>basic_mpp</c>). Returns once the first parts are offered (pending);
    /// <see cref="WaitForPaymentAsync"/> gives the outcome.
    /// </summary>
    /// <param name="offer">The <c>lno1…</c> string.</param>
    /// <param name="amount">The amount (required when the offer has none; otherwise null or at least its price).</param>
    /// <param name="payerNote">A note for the issuer (<c>invreq_payer_note</c>).</param>
    /// <param name="options">Fee limit, retry window, attempt and part limits (null: <see cref="PaymentOptions.Default"/>).</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The payment record: pending (or already complete).</returns>
    /// <exception cref="NodeOperationRefusedException">
    /// Bad or expired offer, wrong amount, the introduction node is not reachable, no invoice in time, the issuer's
    /// <c>invoice_error</c>, an invoice that fails the checks, no route to any of its paths
    /// (<see cref="NodeErrorReason.NoRoute"/>), or the payment hash was already paid.
    /// </exception>
    public async Task<OutgoingPaymentRecord> PayOfferAsync(string offer, MilliSatoshi? amount, string? payerNote, PaymentOptions? options, CancellationToken cancellationToken = default)
    {
        var payable = await FetchOfferInvoiceAsync(offer, amount, payerNote, cancellationToken).ConfigureAwait(false);
        return await PayOfferInvoiceAsync(payable, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The first half of <see cref="PayOfferAsync(string, MilliSatoshi?, string?, PaymentOptions?, CancellationToken)"/>:
    /// requests an invoice for the offer over onion messages and returns it checked, without paying.
    /// </summary>
    internal async Task<PayableInvoice> FetchOfferInvoiceAsync(string offer, MilliSatoshi? amount, string? payerNote, CancellationToken cancellationToken)
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

        try
        {
            return Payer.ValidateInvoice(pending.Request, invoice, reply.PathId, _deps.Time.GetUtcNow());
        }
        catch (Bolt12FlowException e)
        {
            throw Refusal(e, "The issuer's invoice was rejected");
        }
    }

    /// <summary>
    /// The second half of <see cref="PayOfferAsync(string, MilliSatoshi?, string?, PaymentOptions?, CancellationToken)"/>:
    /// pays a checked invoice through a payment session over its blinded paths.
    /// </summary>
    internal async Task<OutgoingPaymentRecord> PayOfferInvoiceAsync(PayableInvoice payable, PaymentOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payable);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await StartOfferPaymentUnlockedAsync(payable, options ?? PaymentOptions.Default, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Secondary namespace of the BOLT 12 invoices this node paid (key: payment hash).</summary>
    public const string OfferPaymentsNamespace = "payments";

    /// <summary>The blinded paths of offer payments in progress, by payment hash (rebuilt from the store after a restart).</summary>
    private readonly Dictionary<PaymentHash, OfferPaymentPlan> _offerPlans = [];

    /// <summary>The paths a payment session routes to: <see cref="Route.BlindedPathIndex"/> is an index into <see cref="Paths"/>.</summary>
    private sealed record OfferPaymentPlan(IReadOnlyList<PlannedPath> Paths)
    {
        public IReadOnlyList<BlindedPathCandidate> Candidates => [.. Paths.Select(p => p.Candidate)];
    }

    /// <summary>
    /// One blinded path as the session sees it. When we are the path's introduction node, <see cref="Path"/> starts
    /// at the next hop (reached over our own channel) and <see cref="PathKeyInAdd"/> is the path key we hand it in
    /// <c>update_add_htlc</c>; otherwise the onion carries the path key to the introduction node.
    /// </summary>
    private sealed record PlannedPath(BlindedPath Path, BlindedPathCandidate Candidate, NBitcoin.PubKey? PathKeyInAdd, string? Problem);

    /// <summary>
    /// Starts the payment session of a checked invoice (called with the gate held): plans its paths, stores the
    /// invoice (so a restarted payer can rebuild them), and starts the session like a BOLT 11 payment.
    /// </summary>
    private async Task<OutgoingPaymentRecord> StartOfferPaymentUnlockedAsync(PayableInvoice payable, PaymentOptions options, CancellationToken cancellationToken)
    {
        if (_height < 0)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.ChannelNotReady, "The node has not seen the chain yet.");
        }
        var hash = payable.PaymentHash;
        var indexes = Enumerable.Range(0, payable.Paths.Count).ToList();
        var plan = PlanOfferPaths(payable.Paths.Select(p => (p.Path, p.PayInfo)).ToList(), indexes);
        if (plan.Paths.All(p => p.Problem is not null))
        {
            throw new NodeOperationRefusedException(NodeErrorReason.NoRoute,
                "No usable path to the offer's issuer: " + string.Join("; ", plan.Paths.Select(p => p.Problem)));
        }
        if (await Payments.LookupAsync(hash, cancellationToken).ConfigureAwait(false) is { State: OutgoingPaymentState.Pending or OutgoingPaymentState.Succeeded } existing)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.AlreadyPaid, $"Payment hash {hash} is already {existing.State.ToString().ToLowerInvariant()}: refusing to pay it twice.");
        }
        var now = _deps.Time.GetUtcNow();
        var deadline = now + (options.Timeout ?? PaymentOptions.DefaultTimeout);
        if (payable.ExpiresAt < deadline)
        {
            deadline = payable.ExpiresAt;
        }
        var parameters = new PaymentParameters(
            payable.Invoice.Invoice.NodeId!.Value,
            hash,
            null,
            payable.Amount,
            0, // each path's blinded_payinfo CLTV delta already includes the recipient's final delta
            deadline,
            options.FeeLimitFor(payable.Amount),
            options.MaxAttempts,
            payable.SupportsMultiPart && options.MaxParts > 1,
            options.MaxParts,
            null,
            plan.Candidates);
        var record = new OfferPaymentRecord { PaymentHash = hash, Invoice = payable.Invoice.Records.ToBytes(), PathIndexes = indexes, CreatedAt = now };
        await _store.CommitAsync([KvOperation.Write(OffersNamespace, OfferPaymentsNamespace, hash.Value.ToHex(), record.Encode())], cancellationToken).ConfigureAwait(false);
        // Plans of finished payments are dropped (one whose session is only on disk is read again when needed).
        foreach (var finished in _offerPlans.Keys.Where(k => !_sessions.ContainsKey(k)).ToList())
        {
            _offerPlans.Remove(finished);
        }
        _offerPlans[hash] = plan;
        try
        {
            return await StartSessionUnlockedAsync(parameters, null, null, cancellationToken).ConfigureAwait(false);
        }
        catch (NodeOperationRefusedException)
        {
            if (!_sessions.ContainsKey(hash))
            {
                _offerPlans.Remove(hash);
            }
            throw;
        }
    }

    /// <summary>
    /// Plans the invoice's paths (<paramref name="indexes"/> picks and orders them): each becomes a candidate for the
    /// router with its <c>blinded_payinfo</c>. A path we are the introduction node of starts at its next hop instead
    /// (we read our own hop: its channel, and the path key to hand on). A path we cannot use keeps its place (so part
    /// indexes stay valid across restarts) with a candidate no route fits and the reason in <see cref="PlannedPath.Problem"/>.
    /// </summary>
    private OfferPaymentPlan PlanOfferPaths(IReadOnlyList<(BlindedPath Path, BlindedPayInfo PayInfo)> paths, IReadOnlyList<int> indexes)
    {
        var planned = new List<PlannedPath>(indexes.Count);
        foreach (var index in indexes)
        {
            if (index >= paths.Count)
            {
                throw new NodeStateCorruptException($"An offer payment names path {index} of an invoice with {paths.Count} usable path(s).");
            }
            var (path, payInfo) = paths[index];
            PlannedPath Unusable(string problem) =>
                new(path, new BlindedPathCandidate(NodeId, 0, 0, 0, MilliSatoshi.Zero, MilliSatoshi.Zero), null, $"path {index}: {problem}");
            if (path.FirstNodeId.NodeId is not { } intro)
            {
                planned.Add(Unusable("its introduction node is given as a channel (sciddir)"));
                continue;
            }
            if (intro != NodeId)
            {
                planned.Add(new PlannedPath(path, new BlindedPathCandidate(intro, payInfo.FeeBaseMsat, payInfo.FeeProportionalMillionths, payInfo.CltvExpiryDelta,
                    payInfo.HtlcMinimumMsat, payInfo.HtlcMaximumMsat), null, null));
                continue;
            }
            // We are the introduction node (we paid through our own peer): read our hop; the path continues at the next node.
            if (path.Hops.Count < 2)
            {
                planned.Add(Unusable("a blinded path that ends at ourselves"));
                continue;
            }
            DecryptedRecipientData ours;
            try
            {
                ours = RouteBlinding.Decrypt(_nodeSecret, path.FirstPathKey.ToECPubKey(), path.Hops[0].EncryptedRecipientData);
            }
            catch (WireFormatException e)
            {
                planned.Add(Unusable("our own hop does not decrypt: " + e.Message));
                continue;
            }
            var next = ours.Data.NextNodeId
                ?? (ours.Data.ShortChannelId is { } scid ? _channels.Values.FirstOrDefault(s => s.ShortChannelId == scid)?.Peer : null);
            if (ours.Data.PaymentRelay is not { } relay || next is not { } nextNode)
            {
                planned.Add(Unusable("our own hop names no channel we have, or no payment_relay"));
                continue;
            }
            var rest = new BlindedPath(SciddirOrPubkey.FromNodeId(nextNode), NodeId.FromECPubKey(ours.NextPathKey), [.. path.Hops.Skip(1)]);
            // Later hops' fees are only known in aggregate (ours included: we overpay it); with only the recipient left nothing is owed.
            var last = path.Hops.Count == 2;
            var cltv = payInfo.CltvExpiryDelta >= relay.CltvExpiryDelta ? (ushort)(payInfo.CltvExpiryDelta - relay.CltvExpiryDelta) : (ushort)0;
            var candidate = new BlindedPathCandidate(nextNode, last ? 0 : payInfo.FeeBaseMsat, last ? 0 : payInfo.FeeProportionalMillionths, cltv,
                payInfo.HtlcMinimumMsat, payInfo.HtlcMaximumMsat);
            planned.Add(new PlannedPath(rest, candidate, new NBitcoin.PubKey(ours.NextPathKey.ToBytes()), null));
        }
        return new OfferPaymentPlan(planned);
    }

    /// <summary>The plan of an offer payment: in memory, or rebuilt from its stored invoice after a restart (null when none).</summary>
    private async Task<OfferPaymentPlan?> OfferPlanAsync(PaymentHash hash, CancellationToken cancellationToken)
    {
        if (_offerPlans.TryGetValue(hash, out var known))
        {
            return known;
        }
        if (await _deps.Store.ReadAsync(OffersNamespace, OfferPaymentsNamespace, hash.Value.ToHex(), cancellationToken).ConfigureAwait(false) is not { } bytes)
        {
            return null;
        }
        var record = OfferPaymentRecord.Decode(bytes.Span);
        Bolt12Invoice invoice;
        try
        {
            invoice = Bolt12Invoice.FromBytes(record.Invoice.Span);
        }
        catch (WireFormatException e)
        {
            throw new NodeStateCorruptException($"The stored invoice of offer payment {hash} does not decode: {e.Message}", e);
        }
        var plan = PlanOfferPaths(invoice.UsablePaths, record.PathIndexes);
        _offerPlans[hash] = plan;
        return plan;
    }

    /// <summary>
    /// Hook of the session restore (<c>SessionOfAsync</c>): the stored session parameters of an offer payment do not
    /// hold its blinded paths; they are planned again from the stored invoice.
    /// </summary>
    private async Task<PaymentParameters> WithOfferPathsAsync(PaymentParameters parameters, CancellationToken cancellationToken) =>
        parameters.BlindedPaths is null && await OfferPlanAsync(parameters.PaymentHash, cancellationToken).ConfigureAwait(false) is { } plan
            ? parameters with { BlindedPaths = plan.Candidates }
            : parameters;

    /// <summary>
    /// Sends one part of an offer payment (called from <see cref="SendPartUnlockedAsync"/> for routes that end at a
    /// blinded path's introduction node): clear payloads up to the introduction node, then the blinded hops
    /// (<see cref="BlindedPaymentRoute.BuildHops"/>: <c>current_path_key</c> for the introduction node, the part's
    /// amount and the payment's <c>total_amount_msat</c> for the recipient). When we are the path's introduction node
    /// and the route is our channel to its next hop, that hop gets the path key in <c>update_add_htlc</c>.
    /// </summary>
    private async Task<ulong> SendBlindedPartUnlockedAsync(PartRequest request, CancellationToken cancellationToken)
    {
        var route = request.Route;
        var hash = request.PaymentHash;
        var plan = await OfferPlanAsync(hash, cancellationToken).ConfigureAwait(false)
            ?? throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, $"No blinded paths are known for payment {hash}.");
        if (route.BlindedPathIndex is not { } index || index < 0 || index >= plan.Paths.Count || plan.Paths[index].Problem is not null)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, $"The route names blinded path {route.BlindedPathIndex}, which this payment cannot use.");
        }
        if (_height < 0)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.ChannelNotReady, "The node has not seen the chain yet.");
        }
        var planned = plan.Paths[index];
        var height = (uint)_height;
        var finalCltv = height + FinalCltvPadding;
        var first = route.Hops[0];
        var slot = SelectOutgoingChannel(first.ShortChannelId, first.Node, first.Amount)
            ?? throw new NodeOperationRefusedException(NodeErrorReason.NoRoute, $"No usable channel with {first.Node} (not ready, offline or closing).");
        IReadOnlyList<OnionHop> hops;
        NBitcoin.PubKey? pathKey = null;
        try
        {
            if (planned.PathKeyInAdd is { } key && route.Hops.Count == 1)
            {
                // We are the introduction node: the next blinded hop reads its data with the path key we hand it.
                var blinded = new List<OnionHop>(planned.Path.Hops.Count);
                for (var i = 0; i < planned.Path.Hops.Count; i++)
                {
                    var isLast = i == planned.Path.Hops.Count - 1;
                    var payload = new PaymentOnionPayload
                    {
                        EncryptedRecipientData = planned.Path.Hops[i].EncryptedRecipientData.ToArray(),
                        AmountToForward = isLast ? route.RecipientAmount : null,
                        OutgoingCltvValue = isLast ? finalCltv : null,
                        TotalAmount = isLast ? request.TotalAmount : null,
                    };
                    blinded.Add(new OnionHop(planned.Path.Hops[i].BlindedNodeId.ToECPubKey(), payload.Encode()));
                }
                hops = blinded;
                pathKey = key;
            }
            else
            {
                var clear = new List<(ECPubKey NodeId, PaymentOnionPayload Payload)>(route.Hops.Count - 1);
                for (var i = 0; i + 1 < route.Hops.Count; i++)
                {
                    var next = route.Hops[i + 1];
                    clear.Add((route.Hops[i].Node.ToECPubKey(), new PaymentOnionPayload
                    {
                        AmountToForward = next.Amount,
                        OutgoingCltvValue = checked(finalCltv + (uint)next.CltvExpiryDelta),
                        ShortChannelId = next.ShortChannelId,
                    }));
                }
                hops = BlindedPaymentRoute.BuildHops(clear, planned.Path, route.RecipientAmount, request.TotalAmount, finalCltv);
            }
        }
        catch (ArgumentException e)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "The blinded path cannot be paid: " + e.Message, e);
        }
        byte[] onion;
        IReadOnlyList<Bytes32> secrets;
        try
        {
            (onion, secrets) = BuildPaymentOnion(hops, hash);
        }
        catch (ArgumentException e)
        {
            throw new NodeOperationRefusedException(NodeErrorReason.InvalidArgument, "The route's payloads do not fit a payment onion: " + e.Message, e);
        }
        ChannelOutput output;
        ulong htlcId;
        try
        {
            output = slot.Channel.AddHtlc(first.Amount, hash, checked(finalCltv + (uint)first.CltvExpiryDelta), onion, out htlcId, pathKey);
        }
        catch (ChannelUpdateRefusedException e)
        {
            var reason = e.Reason is ChannelRefusalReason.InsufficientBalance or ChannelRefusalReason.MaxHtlcValueInFlightExceeded or ChannelRefusalReason.MaxAcceptedHtlcsExceeded or ChannelRefusalReason.FunderCannotAffordFee
                ? NodeErrorReason.InsufficientFunds
                : NodeErrorReason.ChannelNotReady;
            throw new NodeOperationRefusedException(reason, "The channel refused the payment: " + e.Message, e);
        }
        var offered = new OfferedHtlcRecord(htlcId, hash, first.Amount, secrets[^1]) { PartId = request.PartId, Route = route, HopSharedSecrets = [.. secrets] };
        _offered[(slot.ChannelId, htlcId)] = offered;
        await ApplyAsync(slot, output, [NodeStore.WriteOfferedHtlc(slot.ChannelId, offered)], cancellationToken, deferrable: true).ConfigureAwait(false);
        return htlcId;
    }

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
