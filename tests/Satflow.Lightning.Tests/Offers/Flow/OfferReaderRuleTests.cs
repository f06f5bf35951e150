using Satflow.Lightning.Features;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Offers.Flow;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Offers.Flow.OfferFlowSupport;

namespace Satflow.Lightning.Tests.Offers.Flow;

/// <summary>Each BOLT 12 reader MUST-reject rule for invoice requests (issuer side) and invoices (payer side).</summary>
public sealed class OfferReaderRuleTests
{
    private static Offer PricedOffer(ulong? quantityMax = null, DateTimeOffset? expiry = null) => NewIssuer().CreateOffer(
        new OfferParameters { Description = "coffee", Amount = new MilliSatoshi(5_000), QuantityMax = quantityMax, AbsoluteExpiry = expiry }, Random(7));

    private static Offer BlindedOffer() =>
        NewIssuer().CreateOffer(new OfferParameters { Description = "tea", Amount = new MilliSatoshi(3_000), Blinded = true }, Random(8));

    private static ReceivedInvoiceRequest Arrive(Offer offer, PayRequestOptions options)
    {
        var random = Random(3);
        var pending = NewPayer().CreateRequest(offer, options, Now, TimeSpan.FromMinutes(1), random);
        return Assert.IsType<ReceivedInvoiceRequest>(Deliver(OfferMessenger.SendInvoiceRequest(pending, random)).Receipt);
    }

    private static InvoiceRequest Resign(InvoiceRequest request, params (ulong Type, byte[]? Value)[] changes) =>
        InvoiceRequest.FromBytes(OfferFlowSupport.Resign(request, NewPayer().PayerKey(request.Request.Metadata!.Value.Span), changes));

    /// <summary>Builds (request, arrival, time) for one broken-request case.</summary>
    private static (InvoiceRequest Request, RequestArrival Arrival, DateTimeOffset Now) RequestCase(string name)
    {
        switch (name)
        {
            case "offer-of-another-node":
            {
                var foreign = new OfferIssuer(IssuerKey, Enumerable.Repeat((byte)0xEE, 32).ToArray(), ChainHash.Bitcoin)
                    .CreateOffer(new OfferParameters { Description = "coffee", Amount = new MilliSatoshi(5_000) }, Random(7));
                var r = Arrive(foreign, new PayRequestOptions());
                return (r.Request, r.Arrival, Now);
            }
            case "offer-field-altered":
            {
                var r = Arrive(PricedOffer(), new PayRequestOptions());
                return (Resign(r.Request, (Bolt12Type.OfferDescription, "cheap coffee"u8.ToArray())), r.Arrival, Now);
            }
            case "offer-expired":
            {
                var r = Arrive(PricedOffer(expiry: Now.AddSeconds(10)), new PayRequestOptions());
                return (r.Request, r.Arrival, Now.AddSeconds(60));
            }
            case "unsupported-chain":
            {
                var r = Arrive(PricedOffer(), new PayRequestOptions());
                return (Resign(r.Request, (Bolt12Type.InvreqChain, ChainHash.Testnet.Value.ToArray())), r.Arrival, Now);
            }
            case "amount-below-price":
            {
                var r = Arrive(PricedOffer(), new PayRequestOptions());
                return (Resign(r.Request, (Bolt12Type.InvreqAmount, Tu64(4_999))), r.Arrival, Now);
            }
            case "amount-below-price-times-quantity":
            {
                var r = Arrive(PricedOffer(quantityMax: 0), new PayRequestOptions { Quantity = 3 });
                return (Resign(r.Request, (Bolt12Type.InvreqAmount, Tu64(10_000))), r.Arrival, Now);
            }
            case "amount-above-money-supply":
            {
                var offer = NewIssuer().CreateOffer(new OfferParameters { Description = "tips" }, Random(9));
                var r = Arrive(offer, new PayRequestOptions { Amount = new MilliSatoshi(1) });
                return (Resign(r.Request, (Bolt12Type.InvreqAmount, Tu64(MilliSatoshi.MaxMoney.Value + 1))), r.Arrival, Now);
            }
            case "blinded-offer-not-via-its-path":
            {
                var r = Arrive(BlindedOffer(), new PayRequestOptions());
                return (r.Request, r.Arrival with { PathId = null }, Now);
            }
            case "blinded-offer-wrong-path-key":
            {
                var r = Arrive(BlindedOffer(), new PayRequestOptions());
                return (r.Request, r.Arrival with { PathKey = OtherKey.CreatePubKey() }, Now);
            }
            case "plain-offer-via-a-blinded-path":
            {
                var r = Arrive(PricedOffer(), new PayRequestOptions());
                return (r.Request, r.Arrival with { PathId = new byte[32] }, Now);
            }
            default:
                throw new ArgumentException(name);
        }
    }

    [Theory]
    [InlineData("offer-of-another-node", Bolt12FlowError.UnknownOffer, Bolt12Type.OfferMetadata)]
    [InlineData("offer-field-altered", Bolt12FlowError.UnknownOffer, Bolt12Type.OfferMetadata)]
    [InlineData("offer-expired", Bolt12FlowError.OfferExpired, Bolt12Type.OfferAbsoluteExpiry)]
    [InlineData("unsupported-chain", Bolt12FlowError.UnsupportedChain, Bolt12Type.InvreqChain)]
    [InlineData("amount-below-price", Bolt12FlowError.InvalidAmount, Bolt12Type.InvreqAmount)]
    [InlineData("amount-below-price-times-quantity", Bolt12FlowError.InvalidAmount, Bolt12Type.InvreqAmount)]
    [InlineData("amount-above-money-supply", Bolt12FlowError.InvalidAmount, Bolt12Type.InvreqAmount)]
    [InlineData("blinded-offer-not-via-its-path", Bolt12FlowError.WrongPath, Bolt12Type.OfferPaths)]
    [InlineData("blinded-offer-wrong-path-key", Bolt12FlowError.WrongPath, Bolt12Type.OfferPaths)]
    [InlineData("plain-offer-via-a-blinded-path", Bolt12FlowError.WrongPath, null)]
    public void IssuerRejectsBrokenRequests(string name, Bolt12FlowError error, ulong? field)
    {
        var (request, arrival, now) = RequestCase(name);
        var refusal = Assert.Throws<Bolt12FlowException>(() => NewIssuer().CreateInvoice(request, arrival, now, Settings, Random(5)));
        Assert.Equal(error, refusal.Error);
        Assert.Equal(field, refusal.ErroneousField);
        var response = NewIssuer().Respond(request, arrival, now, Settings, Random(5));
        Assert.Null(response.Invoice);
        Assert.Equal(field, response.Error!.ErroneousField);
        Assert.Equal(refusal.Reason, response.Error.Error);
    }

    [Theory]
    [InlineData("bad-signature", "invalid signature")]
    [InlineData("no-payer-id", "missing invreq_payer_id")]
    [InlineData("no-metadata", "missing invreq_metadata")]
    [InlineData("quantity-above-max", "invreq_quantity out of range")]
    [InlineData("quantity-without-max", "invreq_quantity without offer_quantity_max")]
    [InlineData("no-amount-for-any-amount-offer", "missing invreq_amount for an offer without offer_amount")]
    [InlineData("unknown-even-invreq-feature", "unknown required feature in invreq_features")]
    public void RequestDecodingRejectsBrokenRequests(string name, string reason)
    {
        var valid = Arrive(PricedOffer(quantityMax: 2), new PayRequestOptions { Quantity = 1 }).Request;
        var anyAmount = Arrive(NewIssuer().CreateOffer(new OfferParameters { Description = "tips" }, Random(9)), new PayRequestOptions { Amount = new MilliSatoshi(5) }).Request;
        var plain = Arrive(PricedOffer(), new PayRequestOptions()).Request;
        var payerKey = NewPayer().PayerKey(valid.Request.Metadata!.Value.Span);
        byte[] bytes = name switch
        {
            "bad-signature" => OfferFlowSupport.Resign(valid, OtherKey),
            "no-payer-id" => OfferFlowSupport.Resign(valid, payerKey, (Bolt12Type.InvreqPayerId, null)),
            "no-metadata" => OfferFlowSupport.Resign(valid, payerKey, (Bolt12Type.InvreqMetadata, null)),
            "quantity-above-max" => OfferFlowSupport.Resign(valid, payerKey, (Bolt12Type.InvreqQuantity, Tu64(3))),
            "quantity-without-max" => OfferFlowSupport.Resign(plain, NewPayer().PayerKey(plain.Request.Metadata!.Value.Span), (Bolt12Type.InvreqQuantity, Tu64(1))),
            "no-amount-for-any-amount-offer" => OfferFlowSupport.Resign(anyAmount, NewPayer().PayerKey(anyAmount.Request.Metadata!.Value.Span), (Bolt12Type.InvreqAmount, null)),
            "unknown-even-invreq-feature" => OfferFlowSupport.Resign(valid, payerKey, (Bolt12Type.InvreqFeatures, FeatureBits.Of(40).ToBytes())),
            _ => throw new ArgumentException(name),
        };
        Assert.Equal(reason, Assert.Throws<InvoiceFormatException>(() => InvoiceRequest.FromBytes(bytes)).Reason);
    }

    [Theory]
    [InlineData("offer-expired", Bolt12FlowError.OfferExpired)]
    [InlineData("other-chain", Bolt12FlowError.UnsupportedChain)]
    [InlineData("quantity-missing", Bolt12FlowError.InvalidQuantity)]
    [InlineData("quantity-above-max", Bolt12FlowError.InvalidQuantity)]
    [InlineData("quantity-without-max", Bolt12FlowError.InvalidQuantity)]
    [InlineData("amount-below-price", Bolt12FlowError.InvalidAmount)]
    public void PayerRefusesToRequestWhatTheOfferDoesNotAllow(string name, Bolt12FlowError error)
    {
        var (offer, options, payer) = name switch
        {
            "offer-expired" => (PricedOffer(expiry: Now.AddSeconds(-1)), new PayRequestOptions(), NewPayer()),
            "other-chain" => (PricedOffer(), new PayRequestOptions(), new OfferPayer(Payer, PayerSecret, ChainHash.Regtest)),
            "quantity-missing" => (PricedOffer(quantityMax: 5), new PayRequestOptions(), NewPayer()),
            "quantity-above-max" => (PricedOffer(quantityMax: 5), new PayRequestOptions { Quantity = 6 }, NewPayer()),
            "quantity-without-max" => (PricedOffer(), new PayRequestOptions { Quantity = 2 }, NewPayer()),
            "amount-below-price" => (PricedOffer(), new PayRequestOptions { Amount = new MilliSatoshi(4_000) }, NewPayer()),
            _ => throw new ArgumentException(name),
        };
        Assert.Equal(error, Assert.Throws<Bolt12FlowException>(() => payer.CreateRequest(offer, options, Now, TimeSpan.FromMinutes(1), Random(1))).Error);
    }

    [Theory]
    [InlineData("request-timed-out", Bolt12FlowError.RequestTimedOut)]
    [InlineData("not-via-reply-path", Bolt12FlowError.WrongReplyPath)]
    [InlineData("via-another-reply-path", Bolt12FlowError.WrongReplyPath)]
    [InlineData("invoice-expired", Bolt12FlowError.InvoiceExpired)]
    [InlineData("mirrored-field-changed", Bolt12FlowError.InvoiceMismatch)]
    [InlineData("mirrored-field-added", Bolt12FlowError.InvoiceMismatch)]
    [InlineData("answers-another-request", Bolt12FlowError.InvoiceMismatch)]
    [InlineData("amount-not-expected", Bolt12FlowError.AmountMismatch)]
    [InlineData("blinded-offer-signed-by-another-key", Bolt12FlowError.WrongSigner)]
    public void PayerRejectsBrokenInvoices(string name, Bolt12FlowError error)
    {
        var blinded = name == "blinded-offer-signed-by-another-key";
        var (pending, _, received) = Exchange(blinded ? BlindedOffer() : PricedOffer(), new PayRequestOptions());
        var invoice = received.Invoice;
        var pathId = received.PathId;
        var now = Now;
        switch (name)
        {
            case "request-timed-out":
                now = pending.Deadline.AddSeconds(1);
                break;
            case "not-via-reply-path":
                pathId = null;
                break;
            case "via-another-reply-path":
                pathId = new byte[32];
                break;
            case "invoice-expired":
                pending = pending with { Deadline = Now.AddDays(1) };
                now = Now.AddSeconds(3601);
                break;
            case "mirrored-field-changed":
                invoice = Bolt12Invoice.FromBytes(OfferFlowSupport.Resign(invoice, IssuerKey, (Bolt12Type.OfferDescription, "tea"u8.ToArray())));
                break;
            case "mirrored-field-added":
                invoice = Bolt12Invoice.FromBytes(OfferFlowSupport.Resign(invoice, IssuerKey, (Bolt12Type.InvreqPayerNote, "hi"u8.ToArray())));
                break;
            case "answers-another-request":
                var second = NewPayer().CreateRequest(pending.Offer, new PayRequestOptions(), Now, TimeSpan.FromMinutes(1), Random(99));
                pending = second;
                pathId = second.ReplyPathId;
                break;
            case "amount-not-expected":
                invoice = Bolt12Invoice.FromBytes(OfferFlowSupport.Resign(invoice, IssuerKey, (Bolt12Type.InvoiceAmount, Tu64(6_000))));
                break;
            case "blinded-offer-signed-by-another-key":
                invoice = Bolt12Invoice.FromBytes(OfferFlowSupport.Resign(invoice, OtherKey, (Bolt12Type.InvoiceNodeId, IdOf(OtherKey).ToArray())));
                break;
        }
        Assert.Equal(error, Assert.Throws<Bolt12FlowException>(() => NewPayer().ValidateInvoice(pending, invoice, pathId, now)).Error);
    }

    [Theory]
    [InlineData("signed-by-another-key", "invalid signature")]
    [InlineData("node-id-not-issuer", "invoice_node_id differs from offer_issuer_id")]
    [InlineData("no-payment-hash", "missing invoice_payment_hash")]
    [InlineData("no-created-at", "missing invoice_created_at")]
    [InlineData("no-amount", "missing invoice_amount")]
    [InlineData("no-paths", "missing invoice_paths")]
    [InlineData("no-blindedpay", "missing invoice_blindedpay")]
    [InlineData("unknown-even-invoice-feature", "unknown required feature in invoice_features")]
    [InlineData("amount-not-invreq-amount", "invoice_amount differs from invreq_amount")]
    public void InvoiceDecodingRejectsBrokenInvoices(string name, string reason)
    {
        var invoice = Exchange(PricedOffer(), new PayRequestOptions { Amount = new MilliSatoshi(5_000) }).AtPayer.Invoice;
        byte[] bytes = name switch
        {
            "signed-by-another-key" => OfferFlowSupport.Resign(invoice, OtherKey),
            "node-id-not-issuer" => OfferFlowSupport.Resign(invoice, OtherKey, (Bolt12Type.InvoiceNodeId, IdOf(OtherKey).ToArray())),
            "no-payment-hash" => OfferFlowSupport.Resign(invoice, IssuerKey, (Bolt12Type.InvoicePaymentHash, null)),
            "no-created-at" => OfferFlowSupport.Resign(invoice, IssuerKey, (Bolt12Type.InvoiceCreatedAt, null)),
            "no-amount" => OfferFlowSupport.Resign(invoice, IssuerKey, (Bolt12Type.InvoiceAmount, null)),
            "no-paths" => OfferFlowSupport.Resign(invoice, IssuerKey, (Bolt12Type.InvoicePaths, null)),
            "no-blindedpay" => OfferFlowSupport.Resign(invoice, IssuerKey, (Bolt12Type.InvoiceBlindedPay, null)),
            "unknown-even-invoice-feature" => OfferFlowSupport.Resign(invoice, IssuerKey, (Bolt12Type.InvoiceFeatures, FeatureBits.Of(40).ToBytes())),
            "amount-not-invreq-amount" => OfferFlowSupport.Resign(invoice, IssuerKey, (Bolt12Type.InvoiceAmount, Tu64(5_001))),
            _ => throw new ArgumentException(name),
        };
        Assert.Equal(reason, Assert.Throws<InvoiceFormatException>(() => Bolt12Invoice.FromBytes(bytes)).Reason);
    }
}
