using NBitcoin.Secp256k1;
using Satflow.Lightning.Features;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Offers.Flow;

/// <summary>What the payer asks for.</summary>
public sealed record PayRequestOptions
{
    /// <summary>The amount to pay; required for offers without an amount or priced in a currency.</summary>
    public MilliSatoshi? Amount { get; init; }

    /// <summary>The quantity (required when the offer has <c>offer_quantity_max</c>).</summary>
    public ulong? Quantity { get; init; }

    /// <summary><c>invreq_payer_note</c>.</summary>
    public string? PayerNote { get; init; }

    /// <summary>A peer to be the introduction node of our reply path, or null to be it ourselves.</summary>
    public NodeId? ReplyIntroductionNode { get; init; }
}

/// <summary>An invoice request we sent and are waiting on.</summary>
/// <param name="Offer">The offer.</param>
/// <param name="Request">The signed invoice request.</param>
/// <param name="Destination">The blinded path we send the request over (an offer path, or one we built to the issuer).</param>
/// <param name="ReplyPath">The blinded reply path to us, carried in the request's onion message.</param>
/// <param name="ReplyPathId">The <c>path_id</c> inside <paramref name="ReplyPath"/>, which the invoice must come back with.</param>
/// <param name="ExpectedAmount">The amount the invoice must carry.</param>
/// <param name="Deadline">When we stop waiting.</param>
public sealed record PendingInvoiceRequest(
    Offer Offer,
    InvoiceRequest Request,
    BlindedPath Destination,
    BlindedPath ReplyPath,
    ReadOnlyMemory<byte> ReplyPathId,
    MilliSatoshi ExpectedAmount,
    DateTimeOffset Deadline)
{
    /// <summary>The request id: the Merkle root of the invoice request.</summary>
    public Bytes32 Id => Request.MerkleRoot;
}

/// <summary>A usable blinded payment path of an invoice, with its aggregate fees and limits.</summary>
/// <param name="Path">The blinded path.</param>
/// <param name="PayInfo">Its <c>blinded_payinfo</c>.</param>
public sealed record PayablePath(BlindedPath Path, BlindedPayInfo PayInfo);

/// <summary>An invoice that passed every check and may be paid.</summary>
/// <param name="Invoice">The invoice.</param>
/// <param name="PaymentHash">The payment hash.</param>
/// <param name="Amount">The amount to deliver to the recipient.</param>
/// <param name="Paths">The usable paths, most preferred first.</param>
/// <param name="ExpiresAt">When the invoice expires.</param>
public sealed record PayableInvoice(Bolt12Invoice Invoice, PaymentHash PaymentHash, MilliSatoshi Amount, IReadOnlyList<PayablePath> Paths, DateTimeOffset ExpiresAt)
{
    /// <summary>True when <c>invoice_features</c> has <c>basic_mpp</c> (bit 16 or 17): the payment may be split over several HTLCs.</summary>
    public bool SupportsMultiPart => Invoice.Invoice.Features is { } features && features.Supports(FeatureRegistry.BasicMpp.EvenBit);
}

/// <summary>
/// Payer side of BOLT 12: builds and signs invoice requests (a fresh payer key per request, derived from our secret
/// and the request's random <c>invreq_metadata</c>) and checks the invoices that answer them.
/// </summary>
public sealed class OfferPayer
{
    private readonly OfferSecrets _secrets;

    /// <summary>Creates a payer.</summary>
    /// <param name="nodeId">Our node id (the end of our reply paths).</param>
    /// <param name="secret">32 bytes known only to this node.</param>
    /// <param name="chain">The chain we pay on.</param>
    /// <exception cref="ArgumentException">When the secret is not 32 bytes.</exception>
    public OfferPayer(NodeId nodeId, ReadOnlySpan<byte> secret, ChainHash chain)
    {
        _secrets = new OfferSecrets(secret);
        NodeId = nodeId;
        Chain = chain;
    }

    /// <summary>Our node id.</summary>
    public NodeId NodeId { get; }

    /// <summary>The chain we pay on.</summary>
    public ChainHash Chain { get; }

    /// <summary>The payer key of a request, re-derived from its <c>invreq_metadata</c>.</summary>
    public ECPrivKey PayerKey(ReadOnlySpan<byte> invreqMetadata) => _secrets.Key("payer-key", invreqMetadata.ToArray());

    /// <summary>Builds, signs and starts tracking an invoice request for <paramref name="offer"/>.</summary>
    /// <exception cref="Bolt12FlowException">When the offer cannot be paid as asked (expired, other chain, missing amount, bad quantity, sciddir introduction node).</exception>
    public PendingInvoiceRequest CreateRequest(Offer offer, PayRequestOptions options, DateTimeOffset now, TimeSpan timeout, RandomFill random)
    {
        ArgumentNullException.ThrowIfNull(offer);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        var content = offer.Offer;
        if (content.AbsoluteExpiry is { } expiry && (ulong)Math.Max(0, now.ToUnixTimeSeconds()) > expiry)
        {
            throw new Bolt12FlowException(Bolt12FlowError.OfferExpired, "offer expired", Bolt12Type.OfferAbsoluteExpiry);
        }
        var chains = content.Chains ?? [ChainHash.Bitcoin];
        if (!chains.Contains(Chain))
        {
            throw new Bolt12FlowException(Bolt12FlowError.UnsupportedChain, "offer is not for our chain", Bolt12Type.OfferChains);
        }
        if (content.QuantityMax is { } max)
        {
            if (options.Quantity is not { } q || q == 0 || (max != 0 && q > max))
            {
                throw new Bolt12FlowException(Bolt12FlowError.InvalidQuantity, "quantity missing or out of range", Bolt12Type.InvreqQuantity);
            }
        }
        else if (options.Quantity is not null)
        {
            throw new Bolt12FlowException(Bolt12FlowError.InvalidQuantity, "offer has no offer_quantity_max", Bolt12Type.InvreqQuantity);
        }
        var expected = ExpectedAmount(content, options);
        var destination = Destination(content, random);

        var metadata = new byte[32];
        random(metadata);
        var payerKey = PayerKey(metadata);
        // Copy the offer's records byte for byte (unknown ones included), so the issuer's HMAC still matches.
        var records = offer.Records.Records.ToList();
        new InvoiceRequestContent
        {
            Metadata = metadata,
            Chain = Chain == ChainHash.Bitcoin ? null : Chain,
            Amount = options.Amount,
            Quantity = options.Quantity,
            PayerId = OfferSecrets.NodeIdOf(payerKey),
            PayerNote = options.PayerNote,
        }.WriteTo(records);
        var request = InvoiceRequest.FromBytes(OfferSecrets.Sign(records, "invoice_request", payerKey));

        var replyPathId = new byte[32];
        random(replyPathId);
        var replyPath = OfferMessenger.CreateReplyPath(NodeId, replyPathId, options.ReplyIntroductionNode, random);
        return new PendingInvoiceRequest(offer, request, destination, replyPath, replyPathId, expected, now + timeout);
    }

    /// <summary>
    /// Checks an invoice received for <paramref name="pending"/> by the BOLT 12 invoice reader rules (the codec already
    /// checked its syntax, paths and signature by <c>invoice_node_id</c>).
    /// </summary>
    /// <param name="pending">The request it should answer.</param>
    /// <param name="invoice">The received invoice.</param>
    /// <param name="arrivedPathId">The <c>path_id</c> our reply path delivered it with (null if it came otherwise).</param>
    /// <param name="now">The current time.</param>
    /// <exception cref="Bolt12FlowException">When the invoice must be rejected.</exception>
    public PayableInvoice ValidateInvoice(PendingInvoiceRequest pending, Bolt12Invoice invoice, ReadOnlyMemory<byte>? arrivedPathId, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(pending);
        ArgumentNullException.ThrowIfNull(invoice);
        if (now > pending.Deadline)
        {
            throw new Bolt12FlowException(Bolt12FlowError.RequestTimedOut, "the invoice request timed out");
        }
        if (arrivedPathId is not { } pathId || !OfferSecrets.FixedTimeEquals(pathId.Span, pending.ReplyPathId.Span))
        {
            throw new Bolt12FlowException(Bolt12FlowError.WrongReplyPath, "invoice did not arrive over our reply path");
        }
        var mirrored = invoice.Records.Records.Where(IsMirrored).ToList();
        var sent = pending.Request.Records.Records.Where(IsMirrored).ToList();
        if (mirrored.Count != sent.Count || mirrored.Zip(sent).Any(p => p.First.Type != p.Second.Type || !p.First.Value.Span.SequenceEqual(p.Second.Value.Span)))
        {
            throw new Bolt12FlowException(Bolt12FlowError.InvoiceMismatch, "invoice fields 0..159 differ from our request");
        }
        if ((invoice.Request.Chain ?? ChainHash.Bitcoin) != Chain)
        {
            throw new Bolt12FlowException(Bolt12FlowError.UnsupportedChain, "invoice is for another chain", Bolt12Type.InvreqChain);
        }
        var nodeId = invoice.Invoice.NodeId!.Value;
        if (invoice.Offer.IssuerId is { } issuer)
        {
            if (nodeId != issuer)
            {
                throw new Bolt12FlowException(Bolt12FlowError.WrongSigner, "invoice_node_id is not offer_issuer_id", Bolt12Type.InvoiceNodeId);
            }
        }
        else if (nodeId != pending.Destination.Hops[^1].BlindedNodeId)
        {
            throw new Bolt12FlowException(Bolt12FlowError.WrongSigner, "invoice_node_id is not the final blinded node id we sent the request to", Bolt12Type.InvoiceNodeId);
        }
        var amount = invoice.Invoice.Amount!.Value;
        if (amount != pending.ExpectedAmount)
        {
            throw new Bolt12FlowException(Bolt12FlowError.AmountMismatch, "invoice_amount is not the amount we asked for", Bolt12Type.InvoiceAmount);
        }
        if (now > invoice.ExpiresAt)
        {
            throw new Bolt12FlowException(Bolt12FlowError.InvoiceExpired, "invoice expired", Bolt12Type.InvoiceRelativeExpiry);
        }
        var paths = invoice.UsablePaths.Select(p => new PayablePath(p.Path, p.PayInfo)).ToList();
        return new PayableInvoice(invoice, invoice.Invoice.PaymentHash!.Value, amount, paths, invoice.ExpiresAt);
    }

    private static bool IsMirrored(Wire.TlvRecord r) => r.Type <= 159 || r.Type is >= 1_000_000_000 and <= 2_999_999_999;

    private static MilliSatoshi ExpectedAmount(OfferContent offer, PayRequestOptions options)
    {
        if (offer.Amount is { } price && offer.Currency is null)
        {
            var expected = (UInt128)price * (options.Quantity ?? 1);
            if (expected > MilliSatoshi.MaxMoney.Value)
            {
                throw new Bolt12FlowException(Bolt12FlowError.InvalidQuantity, "price times quantity exceeds the money supply", Bolt12Type.InvreqQuantity);
            }
            if (options.Amount is { } chosen)
            {
                return chosen.Value < expected
                    ? throw new Bolt12FlowException(Bolt12FlowError.InvalidAmount, "amount below the offer's price", Bolt12Type.InvreqAmount)
                    : chosen;
            }
            return new MilliSatoshi((ulong)expected);
        }
        if (options.Amount is not { } amount || amount.Value == 0 || amount > MilliSatoshi.MaxMoney)
        {
            throw offer.Currency is null
                ? new Bolt12FlowException(Bolt12FlowError.InvalidAmount, "the offer has no amount: choose one", Bolt12Type.InvreqAmount)
                : new Bolt12FlowException(Bolt12FlowError.UnsupportedCurrency, "the offer is priced in a currency: choose an amount in msat", Bolt12Type.OfferCurrency);
        }
        return amount;
    }

    private static BlindedPath Destination(OfferContent offer, RandomFill random)
    {
        if (offer.Paths is { } paths)
        {
            return paths.FirstOrDefault(p => p.FirstNodeId.NodeId is not null)
                ?? throw new Bolt12FlowException(Bolt12FlowError.Unsupported, "every offer path starts at a channel (sciddir), which needs the gossip graph", Bolt12Type.OfferPaths);
        }
        var issuer = offer.IssuerId!.Value;
        return RouteBlinding.Create(OfferSecrets.RandomKey(random), [issuer.ToECPubKey()], [new EncryptedDataTlv().Encode()]).Route;
    }
}
