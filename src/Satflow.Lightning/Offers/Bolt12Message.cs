using NBitcoin.Secp256k1;
using Satflow.Lightning.Codecs;
using Satflow.Lightning.Features;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Offers;

/// <summary>The three BOLT 12 string forms.</summary>
public enum Bolt12Kind
{
    /// <summary>An offer (<c>lno</c>).</summary>
    Offer,

    /// <summary>An invoice request (<c>lnr</c>).</summary>
    InvoiceRequest,

    /// <summary>An invoice (<c>lni</c>).</summary>
    Invoice,
}

/// <summary>
/// A validated BOLT 12 TLV message: an <see cref="Offers.Offer"/>, an <see cref="InvoiceRequest"/> or a
/// <see cref="Bolt12Invoice"/>. The raw records are kept so unknown odd fields round-trip and signatures can be checked.
/// </summary>
public abstract class Bolt12Message
{
    private protected Bolt12Message(TlvStream records)
    {
        Records = records;
        Offer = OfferContent.Read(records);
    }

    /// <summary>Which message this is.</summary>
    public abstract Bolt12Kind Kind { get; }

    /// <summary>The spec's message name used in signature tags: <c>offer</c>, <c>invoice_request</c> or <c>invoice</c>.</summary>
    public string MessageName => NameOf(Kind);

    /// <summary>All TLV records, in type order.</summary>
    public TlvStream Records { get; }

    /// <summary>The offer fields (types 1..79).</summary>
    public OfferContent Offer { get; }

    /// <summary>Records of types this library does not interpret (odd, or in experimental ranges).</summary>
    public IReadOnlyList<TlvRecord> UnknownRecords =>
        [.. Records.Records.Where(r => !Bolt12Type.IsOfferType(r.Type) && !Bolt12Type.IsInvreqType(r.Type) && !Bolt12Type.IsInvoiceType(r.Type) && r.Type != Bolt12Type.Signature)];

    /// <summary>The Merkle root of the non-signature records (for an offer this is its <c>offer_id</c>).</summary>
    public Bytes32 MerkleRoot => Bolt12Merkle.MerkleRoot(Records);

    /// <summary>The human-readable prefix of <paramref name="kind"/>.</summary>
    public static string PrefixOf(Bolt12Kind kind) => kind switch
    {
        Bolt12Kind.Offer => "lno",
        Bolt12Kind.InvoiceRequest => "lnr",
        _ => "lni",
    };

    /// <summary>The spec's message name of <paramref name="kind"/>.</summary>
    public static string NameOf(Bolt12Kind kind) => kind switch
    {
        Bolt12Kind.Offer => "offer",
        Bolt12Kind.InvoiceRequest => "invoice_request",
        _ => "invoice",
    };

    /// <summary>The lower-case string form.</summary>
    public string Encode() => Bolt12String.Encode(PrefixOf(Kind), Records.ToBytes());

    /// <inheritdoc />
    public override string ToString() => Encode();

    /// <summary>Decodes any BOLT 12 string, choosing the message by its prefix.</summary>
    /// <exception cref="InvoiceFormatException">When the text or any field breaks the spec.</exception>
    public static Bolt12Message Decode(string text)
    {
        var (hrp, data) = DecodeString(text);
        return hrp switch
        {
            "lno" => Offers.Offer.FromBytes(data),
            "lnr" => InvoiceRequest.FromBytes(data),
            "lni" => Bolt12Invoice.FromBytes(data),
            _ => throw new InvoiceFormatException("unknown bolt12 prefix", $"'{hrp}'"),
        };
    }

    private protected static (string Hrp, byte[] Data) DecodeString(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            return Bolt12String.Decode(text);
        }
        catch (WireFormatException ex)
        {
            throw InvoiceFormatException.Wrap(ex);
        }
    }

    private protected static byte[] ExpectPrefix(string text, Bolt12Kind kind)
    {
        var (hrp, data) = DecodeString(text);
        return hrp == PrefixOf(kind) ? data : throw new InvoiceFormatException("wrong bolt12 prefix", $"expected '{PrefixOf(kind)}', got '{hrp}'");
    }

    private protected static T Guard<T>(Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (WireFormatException ex)
        {
            throw InvoiceFormatException.Wrap(ex);
        }
    }

    private protected static void CheckRanges(TlvStream stream, string message, Func<ulong, bool> allowed)
    {
        foreach (var record in stream.Records)
        {
            if (!allowed(record.Type))
            {
                throw new InvoiceFormatException($"tlv type outside the {message} ranges", record.Type.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }
    }

    private protected static void CheckFeatures(FeatureBits? features, FeatureBits known, string field)
    {
        if (features is null)
        {
            return;
        }
        foreach (var bit in features)
        {
            if (bit % 2 == 0 && !known.IsSet(bit))
            {
                throw new InvoiceFormatException($"unknown required feature in {field}", $"bit {bit}");
            }
        }
    }

    private protected static void CheckOfferSyntax(OfferContent offer)
    {
        CheckFeatures(offer.Features, FeatureBits.Empty, "offer_features");
    }

    private protected static byte[] SignatureOf(TlvStream stream)
    {
        if (stream.Get(Bolt12Type.Signature) is not { } sig)
        {
            throw new InvoiceFormatException("missing signature");
        }
        return sig.Length == 64 ? sig.ToArray() : throw new InvoiceFormatException("invalid signature length", $"{sig.Length} bytes");
    }

    private protected static TlvStream BuildAndSign(List<TlvRecord> records, IEnumerable<TlvRecord>? extra, string messageName, ECPrivKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (extra is not null)
        {
            records.AddRange(extra);
        }
        var unsigned = new TlvStream(records);
        var signature = Bolt12Merkle.Sign(messageName, "signature", Bolt12Merkle.MerkleRoot(unsigned), key);
        records.Add(new TlvRecord(Bolt12Type.Signature, signature));
        return new TlvStream(records);
    }
}

/// <summary>A BOLT 12 offer (<c>lno</c>), validated by the reader rules of the spec.</summary>
public sealed class Offer : Bolt12Message
{
    private Offer(TlvStream records) : base(records)
    {
    }

    /// <inheritdoc />
    public override Bolt12Kind Kind => Bolt12Kind.Offer;

    /// <summary>The <c>offer_id</c>: the Merkle root of the offer's records.</summary>
    public Bytes32 OfferId => MerkleRoot;

    /// <summary>True when <c>offer_absolute_expiry</c> has passed at the time given by <paramref name="time"/>.</summary>
    public bool IsExpired(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return Offer.AbsoluteExpiry is { } expiry && (ulong)time.GetUtcNow().ToUnixTimeSeconds() > expiry;
    }

    /// <summary>Decodes an <c>lno</c> string.</summary>
    /// <exception cref="InvoiceFormatException">When the offer breaks the spec.</exception>
    public static new Offer Decode(string text) => FromBytes(ExpectPrefix(text, Bolt12Kind.Offer));

    /// <summary>Decodes offer TLV bytes.</summary>
    /// <exception cref="InvoiceFormatException">When the offer breaks the spec.</exception>
    public static Offer FromBytes(ReadOnlySpan<byte> data)
    {
        var bytes = data.ToArray();
        return Guard(() =>
        {
            var stream = TlvStream.Parse(bytes, Bolt12Type.IsOfferType);
            CheckRanges(stream, "offer", t => t is >= 1 and <= 79 or >= 1_000_000_000 and <= 1_999_999_999);
            var offer = new Offer(stream);
            Validate(offer.Offer);
            return offer;
        });
    }

    /// <summary>Builds an offer from its fields (plus optional extra odd/experimental records), validating it.</summary>
    /// <exception cref="InvoiceFormatException">When the fields do not form a valid offer.</exception>
    public static Offer Create(OfferContent content, IEnumerable<TlvRecord>? extraRecords = null)
    {
        ArgumentNullException.ThrowIfNull(content);
        var records = new List<TlvRecord>();
        content.WriteTo(records);
        if (extraRecords is not null)
        {
            records.AddRange(extraRecords);
        }
        return FromBytes(new TlvStream(records).ToBytes());
    }

    private static void Validate(OfferContent offer)
    {
        CheckOfferSyntax(offer);
        if (offer.Amount is { } amount)
        {
            if (amount == 0)
            {
                throw new InvoiceFormatException("offer_amount is zero");
            }
            if (offer.Description is null)
            {
                throw new InvoiceFormatException("offer_amount without offer_description");
            }
        }
        if (offer.Currency is not null && offer.Amount is null)
        {
            throw new InvoiceFormatException("offer_currency without offer_amount");
        }
        if (offer.IssuerId is null && offer.Paths is null)
        {
            throw new InvoiceFormatException("neither offer_issuer_id nor offer_paths");
        }
    }
}

/// <summary>A BOLT 12 invoice request (<c>lnr</c>), validated and signature-checked.</summary>
public sealed class InvoiceRequest : Bolt12Message
{
    private InvoiceRequest(TlvStream records) : base(records)
    {
        Request = InvoiceRequestContent.Read(records);
        Signature = SignatureOf(records);
    }

    /// <inheritdoc />
    public override Bolt12Kind Kind => Bolt12Kind.InvoiceRequest;

    /// <summary>The <c>invreq_*</c> fields.</summary>
    public InvoiceRequestContent Request { get; }

    /// <summary>The 64-byte BIP 340 signature by <c>invreq_payer_id</c> (checked on decode).</summary>
    public ReadOnlyMemory<byte> Signature { get; }

    /// <summary>True when this request answers an offer (it carries <c>offer_issuer_id</c> or <c>offer_paths</c>).</summary>
    public bool RespondsToOffer => Offer.IssuerId is not null || Offer.Paths is not null;

    /// <summary>Decodes an <c>lnr</c> string.</summary>
    /// <exception cref="InvoiceFormatException">When the request breaks the spec or its signature is wrong.</exception>
    public static new InvoiceRequest Decode(string text) => FromBytes(ExpectPrefix(text, Bolt12Kind.InvoiceRequest));

    /// <summary>Decodes invoice request TLV bytes.</summary>
    /// <exception cref="InvoiceFormatException">When the request breaks the spec or its signature is wrong.</exception>
    public static InvoiceRequest FromBytes(ReadOnlySpan<byte> data)
    {
        var bytes = data.ToArray();
        return Guard(() =>
        {
            var stream = TlvStream.Parse(bytes, t => Bolt12Type.IsOfferType(t) || Bolt12Type.IsInvreqType(t) || t == Bolt12Type.Signature);
            CheckRanges(stream, "invoice_request", t => t is <= 159 or >= 1_000_000_000 and <= 2_999_999_999 || Bolt12Merkle.IsSignatureType(t));
            var request = new InvoiceRequest(stream);
            request.Validate();
            return request;
        });
    }

    /// <summary>Builds and signs an invoice request with the payer key (whose public key must be <c>invreq_payer_id</c>).</summary>
    /// <exception cref="InvoiceFormatException">When the fields do not form a valid request.</exception>
    public static InvoiceRequest CreateSigned(OfferContent offer, InvoiceRequestContent request, ECPrivKey payerKey, IEnumerable<TlvRecord>? extraRecords = null)
    {
        ArgumentNullException.ThrowIfNull(offer);
        ArgumentNullException.ThrowIfNull(request);
        var records = new List<TlvRecord>();
        offer.WriteTo(records);
        request.WriteTo(records);
        return FromBytes(BuildAndSign(records, extraRecords, "invoice_request", payerKey).ToBytes());
    }

    private void Validate()
    {
        CheckOfferSyntax(Offer);
        if (Request.Metadata is null)
        {
            throw new InvoiceFormatException("missing invreq_metadata");
        }
        if (Request.PayerId is not { } payer)
        {
            throw new InvoiceFormatException("missing invreq_payer_id");
        }
        CheckFeatures(Request.Features, FeatureBits.Empty, "invreq_features");
        if (RespondsToOffer)
        {
            if (Offer.QuantityMax is { } max)
            {
                if (Request.Quantity is not { } quantity)
                {
                    throw new InvoiceFormatException("missing invreq_quantity for an offer with offer_quantity_max");
                }
                if (max != 0 && (quantity == 0 || quantity > max))
                {
                    throw new InvoiceFormatException("invreq_quantity out of range", $"{quantity} not in 1..{max}");
                }
            }
            else if (Request.Quantity is not null)
            {
                throw new InvoiceFormatException("invreq_quantity without offer_quantity_max");
            }
            if (Offer.Amount is null && Request.Amount is null)
            {
                throw new InvoiceFormatException("missing invreq_amount for an offer without offer_amount");
            }
        }
        else
        {
            if (Offer.Chains is not null || Offer.Features is not null || Offer.QuantityMax is not null)
            {
                throw new InvoiceFormatException("offer_chains, offer_features or offer_quantity_max in a request without an offer");
            }
            if (Request.Amount is null)
            {
                throw new InvoiceFormatException("missing invreq_amount");
            }
        }
        if (!Bolt12Merkle.Verify("invoice_request", "signature", MerkleRoot, Signature.Span, payer))
        {
            throw new InvoiceFormatException("invalid signature", "not signed by invreq_payer_id");
        }
    }
}

/// <summary>A BOLT 12 invoice (<c>lni</c>), validated and signature-checked.</summary>
public sealed class Bolt12Invoice : Bolt12Message
{
    /// <summary>The default relative expiry (seconds) when <c>invoice_relative_expiry</c> is absent.</summary>
    public const uint DefaultRelativeExpiry = 7200;

    /// <summary>Invoice feature bits this library understands (MPP, 16/17).</summary>
    public static FeatureBits KnownFeatures { get; } = FeatureBits.Of(16, 17);

    private Bolt12Invoice(TlvStream records) : base(records)
    {
        Request = InvoiceRequestContent.Read(records);
        Invoice = InvoiceContent.Read(records);
        Signature = SignatureOf(records);
    }

    /// <inheritdoc />
    public override Bolt12Kind Kind => Bolt12Kind.Invoice;

    /// <summary>The <c>invreq_*</c> fields mirrored from the request.</summary>
    public InvoiceRequestContent Request { get; }

    /// <summary>The <c>invoice_*</c> fields.</summary>
    public InvoiceContent Invoice { get; }

    /// <summary>The 64-byte BIP 340 signature by <c>invoice_node_id</c> (checked on decode).</summary>
    public ReadOnlyMemory<byte> Signature { get; }

    /// <summary>The paths whose payinfo has no unknown even feature bit (in preference order).</summary>
    public IReadOnlyList<(BlindedPath Path, BlindedPayInfo PayInfo)> UsablePaths =>
        [.. Invoice.Paths!.Zip(Invoice.BlindedPay!).Where(p => p.Second.Features.All(b => b % 2 == 1))];

    /// <summary>The expiry instant: <c>invoice_created_at</c> plus the relative expiry (default 7200 s).</summary>
    public DateTimeOffset ExpiresAt
    {
        get
        {
            const ulong maxUnixSeconds = 253402300799UL;
            var created = Math.Min(Invoice.CreatedAt!.Value, maxUnixSeconds);
            var end = Math.Min(created + (Invoice.RelativeExpiry ?? DefaultRelativeExpiry), maxUnixSeconds);
            return DateTimeOffset.FromUnixTimeSeconds((long)end);
        }
    }

    /// <summary>True when the invoice has expired at the time given by <paramref name="time"/>.</summary>
    public bool IsExpired(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        return time.GetUtcNow() > ExpiresAt;
    }

    /// <summary>Decodes an <c>lni</c> string.</summary>
    /// <exception cref="InvoiceFormatException">When the invoice breaks the spec or its signature is wrong.</exception>
    public static new Bolt12Invoice Decode(string text) => FromBytes(ExpectPrefix(text, Bolt12Kind.Invoice));

    /// <summary>Decodes invoice TLV bytes (e.g. from an onion message).</summary>
    /// <exception cref="InvoiceFormatException">When the invoice breaks the spec or its signature is wrong.</exception>
    public static Bolt12Invoice FromBytes(ReadOnlySpan<byte> data)
    {
        var bytes = data.ToArray();
        return Guard(() =>
        {
            var stream = TlvStream.Parse(bytes, t => Bolt12Type.IsOfferType(t) || Bolt12Type.IsInvreqType(t) || Bolt12Type.IsInvoiceType(t) || t == Bolt12Type.Signature);
            var invoice = new Bolt12Invoice(stream);
            invoice.Validate();
            return invoice;
        });
    }

    /// <summary>Builds and signs an invoice with the node key (whose public key must be <c>invoice_node_id</c>).</summary>
    /// <exception cref="InvoiceFormatException">When the fields do not form a valid invoice.</exception>
    public static Bolt12Invoice CreateSigned(OfferContent offer, InvoiceRequestContent request, InvoiceContent invoice, ECPrivKey nodeKey, IEnumerable<TlvRecord>? extraRecords = null)
    {
        ArgumentNullException.ThrowIfNull(offer);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(invoice);
        var records = new List<TlvRecord>();
        offer.WriteTo(records);
        request.WriteTo(records);
        invoice.WriteTo(records);
        return FromBytes(BuildAndSign(records, extraRecords, "invoice", nodeKey).ToBytes());
    }

    private void Validate()
    {
        CheckOfferSyntax(Offer);
        CheckFeatures(Request.Features, FeatureBits.Empty, "invreq_features");
        if (Invoice.Amount is not { } amount)
        {
            throw new InvoiceFormatException("missing invoice_amount");
        }
        if (Invoice.CreatedAt is null)
        {
            throw new InvoiceFormatException("missing invoice_created_at");
        }
        if (Invoice.PaymentHash is null)
        {
            throw new InvoiceFormatException("missing invoice_payment_hash");
        }
        if (Invoice.NodeId is not { } node)
        {
            throw new InvoiceFormatException("missing invoice_node_id");
        }
        CheckFeatures(Invoice.Features, KnownFeatures, "invoice_features");
        if (Invoice.Paths is null)
        {
            throw new InvoiceFormatException("missing invoice_paths");
        }
        if (Invoice.BlindedPay is null)
        {
            throw new InvoiceFormatException("missing invoice_blindedpay");
        }
        if (Invoice.BlindedPay.Count != Invoice.Paths.Count)
        {
            throw new InvoiceFormatException("invoice_blindedpay count differs from invoice_paths", $"{Invoice.BlindedPay.Count} vs {Invoice.Paths.Count}");
        }
        if (UsablePaths.Count == 0)
        {
            throw new InvoiceFormatException("no usable invoice path", "every blinded_payinfo has unknown required features");
        }
        if (Request.Amount is { } requested && requested != amount)
        {
            throw new InvoiceFormatException("invoice_amount differs from invreq_amount");
        }
        if (Offer.IssuerId is { } issuer && issuer != node)
        {
            throw new InvoiceFormatException("invoice_node_id differs from offer_issuer_id");
        }
        if (!Bolt12Merkle.Verify("invoice", "signature", MerkleRoot, Signature.Span, node))
        {
            throw new InvoiceFormatException("invalid signature", "not signed by invoice_node_id");
        }
    }
}
