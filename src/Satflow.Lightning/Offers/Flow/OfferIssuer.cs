using NBitcoin.Secp256k1;
using Satflow.Lightning.Features;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using OnionPayInfo = Satflow.Lightning.Onion.BlindedPayInfo;

namespace Satflow.Lightning.Offers.Flow;

/// <summary>What the merchant wants in a new offer.</summary>
public sealed record OfferParameters
{
    /// <summary><c>offer_description</c>.</summary>
    public required string Description { get; init; }

    /// <summary>The price per item in millisatoshis, or null for "any amount" (the payer chooses).</summary>
    public MilliSatoshi? Amount { get; init; }

    /// <summary><c>offer_absolute_expiry</c>, if the offer expires.</summary>
    public DateTimeOffset? AbsoluteExpiry { get; init; }

    /// <summary><c>offer_quantity_max</c> (0 = unlimited), or null when the offer is for one item.</summary>
    public ulong? QuantityMax { get; init; }

    /// <summary><c>offer_issuer</c>, a human-readable name.</summary>
    public string? Issuer { get; init; }

    /// <summary>
    /// When true, the offer carries no <c>offer_issuer_id</c> but a blinded path to us (<c>offer_paths</c>), and
    /// invoices are signed by the path's blinded key, so the offer does not reveal our node id.
    /// </summary>
    public bool Blinded { get; init; }

    /// <summary>The introduction node of the blinded path (a peer of ours), or null to make ourselves the introduction node.</summary>
    public NodeId? IntroductionNode { get; init; }
}

/// <summary>How an invoice request reached us (from the final hop of its onion message).</summary>
/// <param name="PathKey">The path key our hop of the onion message carried.</param>
/// <param name="PathId">The <c>path_id</c> from our <c>encrypted_recipient_data</c>, if any.</param>
public sealed record RequestArrival(ECPubKey PathKey, ReadOnlyMemory<byte>? PathId);

/// <summary>One channel hop in front of us on the blinded payment path of an invoice.</summary>
/// <param name="Peer">The peer that forwards to us (the introduction node).</param>
/// <param name="Channel">The channel from the peer to us.</param>
/// <param name="Relay">The peer's fee and CLTV policy for that channel.</param>
/// <param name="HtlcMaximum">
/// The largest HTLC the path can carry (what the channel can take toward us); the path's <c>blinded_payinfo</c>
/// advertises it as <c>htlc_maximum_msat</c> (null: no limit), so payers split larger payments.
/// </param>
public sealed record PaymentHopHint(NodeId Peer, ShortChannelId Channel, PaymentRelay Relay, MilliSatoshi? HtlcMaximum = null);

/// <summary>Invoice settings of the issuer.</summary>
public sealed record InvoiceSettings
{
    /// <summary><c>invoice_relative_expiry</c> in seconds.</summary>
    public uint RelativeExpirySeconds { get; init; } = 3600;

    /// <summary>Our <c>min_final_cltv_expiry_delta</c>, added to the path's CLTV delta.</summary>
    public ushort MinFinalCltvExpiryDelta { get; init; } = 144;

    /// <summary>The <c>max_cltv_expiry</c> of the payment path's <c>payment_constraints</c> (a block height).</summary>
    public uint MaxCltvExpiry { get; init; } = 1_000_000;

    /// <summary>The smallest HTLC the path accepts.</summary>
    public MilliSatoshi HtlcMinimum { get; init; } = new(1);

    /// <summary>A peer in front of us, or null for a path whose introduction node is ourselves.</summary>
    public PaymentHopHint? Hop { get; init; }

    /// <summary>
    /// Several peers in front of us: one blinded payment path per hop, in this order (so a payer can retry over
    /// another path or split a payment over several). When set (non-empty) it replaces <see cref="Hop"/>.
    /// </summary>
    public IReadOnlyList<PaymentHopHint>? Hops { get; init; }

    /// <summary>
    /// Advertise <c>basic_mpp</c> (bit 17 of <c>invoice_features</c>): the payer may pay in several parts, over one
    /// or several of the paths; the recipient assembles them by payment hash and <c>total_amount_msat</c>.
    /// </summary>
    public bool AllowMultiPart { get; init; }
}

/// <summary>The issuer's answer to an invoice request: an invoice, or an <c>invoice_error</c>.</summary>
/// <param name="Invoice">The signed invoice, when the request was accepted.</param>
/// <param name="Error">The error to send back, when it was refused.</param>
public sealed record IssuerResponse(Bolt12Invoice? Invoice, InvoiceError? Error);

/// <summary>
/// Merchant side of BOLT 12: creates offers and turns invoice requests for them into signed invoices. Stateless:
/// <c>offer_metadata</c> carries a nonce and an HMAC over the offer's fields under our secret, so any request for
/// an offer we issued is recognised without storing offers; the payment preimage is derived from the request id
/// and recovered from the <c>path_id</c> of the blinded payment path when the payment arrives.
/// </summary>
public sealed class OfferIssuer
{
    private const int NonceLength = 16;
    private const int TagLength = 16;
    private readonly ECPrivKey _nodeKey;
    private readonly OfferSecrets _secrets;

    /// <summary>Creates an issuer.</summary>
    /// <param name="nodeKey">Our node key.</param>
    /// <param name="secret">32 bytes known only to this node (derived from the node seed).</param>
    /// <param name="chain">The chain we accept payments on.</param>
    /// <exception cref="ArgumentException">When the secret is not 32 bytes.</exception>
    public OfferIssuer(ECPrivKey nodeKey, ReadOnlySpan<byte> secret, ChainHash chain)
    {
        ArgumentNullException.ThrowIfNull(nodeKey);
        _nodeKey = nodeKey;
        _secrets = new OfferSecrets(secret);
        Chain = chain;
        NodeId = OfferSecrets.NodeIdOf(nodeKey);
    }

    /// <summary>Our node id.</summary>
    public NodeId NodeId { get; }

    /// <summary>The chain we accept.</summary>
    public ChainHash Chain { get; }

    /// <summary>Creates an offer.</summary>
    /// <exception cref="Invoices.InvoiceFormatException">When the parameters do not form a valid offer.</exception>
    /// <exception cref="ArgumentException">When an introduction node is given for an offer that is not blinded.</exception>
    public Offer CreateOffer(OfferParameters parameters, RandomFill random)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(random);
        if (parameters.IntroductionNode is not null && !parameters.Blinded)
        {
            throw new ArgumentException("An introduction node only applies to a blinded offer.", nameof(parameters));
        }
        var nonce = new byte[NonceLength];
        random(nonce);
        IReadOnlyList<BlindedPath>? paths = null;
        if (parameters.Blinded)
        {
            var nodes = new List<ECPubKey>();
            var payloads = new List<ReadOnlyMemory<byte>>();
            if (parameters.IntroductionNode is { } intro)
            {
                nodes.Add(intro.ToECPubKey());
                payloads.Add(new EncryptedDataTlv { NextNodeId = NodeId }.Encode());
            }
            nodes.Add(NodeId.ToECPubKey());
            payloads.Add(new EncryptedDataTlv { PathId = OfferPathId(nonce) }.Encode());
            paths = [RouteBlinding.Create(OfferSecrets.RandomKey(random), nodes, payloads).Route];
        }
        var content = new OfferContent
        {
            Chains = Chain == ChainHash.Bitcoin ? null : [Chain],
            Amount = parameters.Amount?.Value,
            Description = parameters.Description,
            AbsoluteExpiry = parameters.AbsoluteExpiry is { } expiry ? (ulong)Math.Max(0, expiry.ToUnixTimeSeconds()) : null,
            Paths = paths,
            Issuer = parameters.Issuer,
            QuantityMax = parameters.QuantityMax,
            IssuerId = parameters.Blinded ? null : NodeId,
        };
        var records = new List<TlvRecord>();
        content.WriteTo(records);
        var tag = _secrets.Mac("offer", nonce, OfferSecrets.Serialize(records.OrderBy(r => r.Type)));
        var metadata = nonce.Concat(tag.Take(TagLength)).ToArray();
        return Offer.Create(new OfferContent
        {
            Chains = content.Chains,
            Metadata = metadata,
            Amount = content.Amount,
            Description = content.Description,
            AbsoluteExpiry = content.AbsoluteExpiry,
            Paths = content.Paths,
            Issuer = content.Issuer,
            QuantityMax = content.QuantityMax,
            IssuerId = content.IssuerId,
        });
    }

    /// <summary>
    /// Answers a request: an invoice when it passes every check, otherwise an <c>invoice_error</c> naming the field.
    /// </summary>
    public IssuerResponse Respond(InvoiceRequest request, RequestArrival arrival, DateTimeOffset now, InvoiceSettings settings, RandomFill random)
    {
        try
        {
            return new IssuerResponse(CreateInvoice(request, arrival, now, settings, random), null);
        }
        catch (Bolt12FlowException refusal)
        {
            return new IssuerResponse(null, InvoiceError.From(refusal));
        }
    }

    /// <summary>
    /// Checks an invoice request by the BOLT 12 reader rules (the codec already checked its syntax and signature)
    /// and answers it with a signed invoice whose <c>invoice_paths</c> is a blinded payment path to us.
    /// </summary>
    /// <exception cref="Bolt12FlowException">When the request must be refused.</exception>
    public Bolt12Invoice CreateInvoice(InvoiceRequest request, RequestArrival arrival, DateTimeOffset now, InvoiceSettings settings, RandomFill random)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(arrival);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(random);
        var offer = request.Offer;
        var nonce = VerifyOffer(request);
        var chain = request.Request.Chain ?? ChainHash.Bitcoin;
        if (chain != Chain)
        {
            throw new Bolt12FlowException(Bolt12FlowError.UnsupportedChain, "unsupported invreq_chain", Bolt12Type.InvreqChain);
        }
        if (offer.AbsoluteExpiry is { } expiry && (ulong)Math.Max(0, now.ToUnixTimeSeconds()) > expiry)
        {
            throw new Bolt12FlowException(Bolt12FlowError.OfferExpired, "offer expired", Bolt12Type.OfferAbsoluteExpiry);
        }
        var signingKey = SigningKey(offer, nonce, arrival);
        var amount = InvoiceAmount(offer, request.Request);

        var pathIdRoot = request.MerkleRoot.ToArray();
        var paymentPathId = pathIdRoot.Concat(_secrets.Mac("payment-path", pathIdRoot).Take(TagLength)).ToArray();
        IReadOnlyList<PaymentHopHint?> hops = settings.Hops is { Count: > 0 } several ? [.. several] : [settings.Hop];
        var paths = hops.Select(hop => PaymentPath(paymentPathId, hop, settings, random)).ToList();
        var invoice = new InvoiceContent
        {
            Paths = [.. paths.Select(p => p.Path)],
            BlindedPay = [.. paths.Select(p => p.PayInfo)],
            Features = settings.AllowMultiPart ? FeatureBits.Of(FeatureRegistry.BasicMpp.OddBit) : null,
            CreatedAt = (ulong)Math.Max(0, now.ToUnixTimeSeconds()),
            RelativeExpiry = settings.RelativeExpirySeconds,
            PaymentHash = PreimageOf(pathIdRoot).Hash,
            Amount = amount,
            NodeId = OfferSecrets.NodeIdOf(signingKey),
        };
        // Mirror every offer and invoice request field byte for byte, as the payer compares them exactly.
        var records = request.Records.Records
            .Where(r => r.Type <= 159 || r.Type is >= 1_000_000_000 and <= 2_999_999_999)
            .ToList();
        invoice.WriteTo(records);
        return Bolt12Invoice.FromBytes(OfferSecrets.Sign(records, "invoice", signingKey));
    }

    /// <summary>
    /// The preimage for a payment that arrived over one of our invoices' blinded paths, from the <c>path_id</c> of
    /// its final hop; null when the path id was not made by us.
    /// </summary>
    public PaymentPreimage? PreimageForPathId(ReadOnlySpan<byte> pathId)
    {
        if (pathId.Length != 32 + TagLength)
        {
            return null;
        }
        var root = pathId[..32].ToArray();
        var expected = _secrets.Mac("payment-path", root).AsSpan(0, TagLength);
        return OfferSecrets.FixedTimeEquals(expected, pathId[32..]) ? PreimageOf(root) : null;
    }

    private PaymentPreimage PreimageOf(byte[] requestId) => PaymentPreimage.FromBytes(_secrets.Mac("preimage", requestId));

    private byte[] OfferPathId(byte[] nonce) => nonce.Concat(_secrets.Mac("offer-path", nonce).Take(TagLength)).ToArray();

    private byte[] VerifyOffer(InvoiceRequest request)
    {
        if (request.Offer.Metadata is not { Length: NonceLength + TagLength } metadata)
        {
            throw new Bolt12FlowException(Bolt12FlowError.UnknownOffer, "not an offer of ours", Bolt12Type.OfferMetadata);
        }
        var nonce = metadata.Span[..NonceLength].ToArray();
        var offerRecords = request.Records.Records.Where(r =>
            r.Type != Bolt12Type.OfferMetadata && (r.Type is >= 1 and <= 79 || r.Type is >= 1_000_000_000 and <= 1_999_999_999));
        var tag = _secrets.Mac("offer", nonce, OfferSecrets.Serialize(offerRecords));
        if (!OfferSecrets.FixedTimeEquals(tag.AsSpan(0, TagLength), metadata.Span[NonceLength..]))
        {
            throw new Bolt12FlowException(Bolt12FlowError.UnknownOffer, "not an offer of ours", Bolt12Type.OfferMetadata);
        }
        return nonce;
    }

    private ECPrivKey SigningKey(OfferContent offer, byte[] nonce, RequestArrival arrival)
    {
        if (offer.Paths is null)
        {
            if (arrival.PathId is not null)
            {
                throw new Bolt12FlowException(Bolt12FlowError.WrongPath, "request for an offer without offer_paths came over one of our blinded paths");
            }
            return _nodeKey;
        }
        if (arrival.PathId is not { } pathId || !OfferSecrets.FixedTimeEquals(pathId.Span, OfferPathId(nonce)))
        {
            throw new Bolt12FlowException(Bolt12FlowError.WrongPath, "request did not arrive over the offer's paths", Bolt12Type.OfferPaths);
        }
        var blindedKey = RouteBlinding.DeriveBlindedPrivateKey(_nodeKey, arrival.PathKey);
        var blindedId = OfferSecrets.NodeIdOf(blindedKey);
        if (!offer.Paths.Any(p => p.Hops[^1].BlindedNodeId == blindedId))
        {
            throw new Bolt12FlowException(Bolt12FlowError.WrongPath, "request did not arrive at the final hop of an offer path", Bolt12Type.OfferPaths);
        }
        return offer.IssuerId is null ? blindedKey : _nodeKey;
    }

    private static MilliSatoshi InvoiceAmount(OfferContent offer, InvoiceRequestContent request)
    {
        if (offer.Currency is not null)
        {
            throw new Bolt12FlowException(Bolt12FlowError.UnsupportedCurrency, "offer_currency is not supported", Bolt12Type.OfferCurrency);
        }
        var quantity = request.Quantity ?? 1;
        if (offer.Amount is { } price)
        {
            UInt128 expected = (UInt128)price * quantity;
            if (expected > MilliSatoshi.MaxMoney.Value)
            {
                throw new Bolt12FlowException(Bolt12FlowError.InvalidQuantity, "offer_amount times invreq_quantity exceeds the money supply", Bolt12Type.InvreqQuantity);
            }
            if (request.Amount is { } offered)
            {
                return offered.Value < expected
                    ? throw new Bolt12FlowException(Bolt12FlowError.InvalidAmount, "invreq_amount below offer_amount times quantity", Bolt12Type.InvreqAmount)
                    : offered.Value > MilliSatoshi.MaxMoney.Value
                        ? throw new Bolt12FlowException(Bolt12FlowError.InvalidAmount, "invreq_amount exceeds the money supply", Bolt12Type.InvreqAmount)
                        : offered;
            }
            return new MilliSatoshi((ulong)expected);
        }
        if (request.Amount is not { } amount || amount.Value == 0 || amount > MilliSatoshi.MaxMoney)
        {
            throw new Bolt12FlowException(Bolt12FlowError.InvalidAmount, "invreq_amount missing, zero or too large", Bolt12Type.InvreqAmount);
        }
        return amount;
    }

    private (BlindedPath Path, BlindedPayInfo PayInfo) PaymentPath(byte[] pathId, PaymentHopHint? front, InvoiceSettings settings, RandomFill random)
    {
        var constraints = new PaymentConstraints(settings.MaxCltvExpiry, settings.HtlcMinimum);
        var nodes = new List<ECPubKey>();
        var payloads = new List<ReadOnlyMemory<byte>>();
        var relays = new List<PaymentRelay>();
        if (front is { } hop)
        {
            nodes.Add(hop.Peer.ToECPubKey());
            payloads.Add(new EncryptedDataTlv { ShortChannelId = hop.Channel, PaymentRelay = hop.Relay, PaymentConstraints = constraints }.Encode());
            relays.Add(hop.Relay);
        }
        nodes.Add(NodeId.ToECPubKey());
        payloads.Add(new EncryptedDataTlv { PathId = pathId, PaymentConstraints = constraints }.Encode());
        var route = RouteBlinding.Create(OfferSecrets.RandomKey(random), nodes, payloads).Route;
        var aggregate = OnionPayInfo.Aggregate(relays, settings.MinFinalCltvExpiryDelta);
        var payInfo = new BlindedPayInfo(
            checked((uint)aggregate.FeeBase.Value),
            aggregate.FeeProportionalMillionths,
            checked((ushort)aggregate.CltvExpiryDelta),
            settings.HtlcMinimum,
            front?.HtlcMaximum is { } max && max >= settings.HtlcMinimum ? max : MilliSatoshi.MaxMoney,
            FeatureBits.Empty);
        return (route, payInfo);
    }
}
