using Satflow.Lightning.Offers;
using Satflow.Lightning.Offers.Flow;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Offers.Flow.OfferFlowSupport;

namespace Satflow.Lightning.Tests.Offers.Flow;

public sealed class OfferFlowTests
{
    private static Offer DirectOffer(ulong? quantityMax = null) =>
        NewIssuer().CreateOffer(new OfferParameters { Description = "coffee", Amount = new MilliSatoshi(5_000), QuantityMax = quantityMax, Issuer = "Satflow cafe" }, Random(7));

    private static Offer BlindedOffer() =>
        NewIssuer().CreateOffer(new OfferParameters { Description = "tea", Amount = new MilliSatoshi(3_000), Blinded = true, IntroductionNode = Relay }, Random(8));

    private static PaymentPreimage PreimageFromFinalHop(BlindedPath path, int hopsBefore)
    {
        // Walk the blinded payment path as its nodes would, to read the issuer's path_id.
        var pathKey = path.FirstPathKey.ToECPubKey();
        if (hopsBefore == 1)
        {
            var relayData = RouteBlinding.Decrypt(RelayKey, pathKey, path.Hops[0].EncryptedRecipientData);
            Assert.Equal(new ShortChannelId(42), relayData.Data.ShortChannelId);
            pathKey = relayData.NextPathKey;
        }
        var data = RouteBlinding.Decrypt(IssuerKey, pathKey, path.Hops[^1].EncryptedRecipientData).Data;
        Assert.Equal(900_000u, data.PaymentConstraints!.MaxCltvExpiry);
        return NewIssuer().PreimageForPathId(data.PathId!.Value.Span) ?? throw new InvalidOperationException("path id not recognised");
    }

    [Fact]
    public void DirectOfferRoundTripGivesAPayableInvoice()
    {
        var offer = Offer.Decode(DirectOffer(quantityMax: 0).Encode());
        Assert.Equal(Issuer, offer.Offer.IssuerId);
        Assert.Null(offer.Offer.Paths);
        var (pending, atIssuer, atPayer) = Exchange(offer, new PayRequestOptions { Quantity = 3, PayerNote = "no sugar" });
        Assert.Equal("no sugar", atIssuer.Request.Request.PayerNote);
        Assert.Null(atIssuer.Arrival.PathId);

        var payable = NewPayer().ValidateInvoice(pending, atPayer.Invoice, atPayer.PathId, Now.AddSeconds(5));
        Assert.Equal(new MilliSatoshi(15_000), payable.Amount);
        Assert.Equal(Issuer, atPayer.Invoice.Invoice.NodeId);
        Assert.Equal(Now.AddSeconds(3600), payable.ExpiresAt);
        var path = Assert.Single(payable.Paths);
        Assert.Equal(Issuer, path.Path.FirstNodeId.NodeId);
        Assert.Equal(144, path.PayInfo.CltvExpiryDelta);
        Assert.Equal(0u, path.PayInfo.FeeBaseMsat);
        Assert.Equal(payable.PaymentHash, PreimageFromFinalHop(path.Path, 0).Hash);
        Assert.Equal(pending.Id, pending.Request.MerkleRoot);
        Assert.Equal(pending.Request.Request.PayerId, IdOf(NewPayer().PayerKey(pending.Request.Request.Metadata!.Value.Span)));
    }

    [Fact]
    public void BlindedOfferRoundTripSignsWithThePathKeyAndUsesAHopHint()
    {
        var offer = BlindedOffer();
        Assert.Null(offer.Offer.IssuerId);
        var offerPath = Assert.Single(offer.Offer.Paths!);
        Assert.Equal(Relay, offerPath.FirstNodeId.NodeId);
        var settings = Settings with { Hop = new PaymentHopHint(Relay, new ShortChannelId(42), new PaymentRelay(40, 100, new MilliSatoshi(1_000))) };
        var (pending, atIssuer, atPayer) = Exchange(offer, new PayRequestOptions { Amount = new MilliSatoshi(4_000), ReplyIntroductionNode = Relay }, settings);
        Assert.NotNull(atIssuer.Arrival.PathId);

        var payable = NewPayer().ValidateInvoice(pending, atPayer.Invoice, atPayer.PathId, Now);
        Assert.Equal(new MilliSatoshi(4_000), payable.Amount);
        Assert.Equal(offerPath.Hops[^1].BlindedNodeId, atPayer.Invoice.Invoice.NodeId);
        Assert.NotEqual(Issuer, atPayer.Invoice.Invoice.NodeId);
        var path = Assert.Single(payable.Paths);
        Assert.Equal(Relay, path.Path.FirstNodeId.NodeId);
        Assert.Equal(2, path.Path.Hops.Count);
        Assert.Equal(1_000u, path.PayInfo.FeeBaseMsat);
        Assert.Equal(100u, path.PayInfo.FeeProportionalMillionths);
        Assert.Equal(184, path.PayInfo.CltvExpiryDelta);
        Assert.Equal(payable.PaymentHash, PreimageFromFinalHop(path.Path, 1).Hash);
    }

    [Fact]
    public void SeveralHopsGiveOnePaymentPathEachWithItsMaximumAndBasicMpp()
    {
        var offer = BlindedOffer();
        var settings = Settings with
        {
            Hops =
            [
                new PaymentHopHint(Relay, new ShortChannelId(42), new PaymentRelay(40, 100, new MilliSatoshi(1_000)), new MilliSatoshi(2_500)),
                new PaymentHopHint(Relay, new ShortChannelId(43), new PaymentRelay(80, 0, new MilliSatoshi(3_000))),
            ],
            AllowMultiPart = true,
        };
        var (pending, _, atPayer) = Exchange(offer, new PayRequestOptions { Amount = new MilliSatoshi(4_000), ReplyIntroductionNode = Relay }, settings);

        var payable = NewPayer().ValidateInvoice(pending, atPayer.Invoice, atPayer.PathId, Now);
        Assert.True(payable.SupportsMultiPart);
        Assert.True(atPayer.Invoice.Invoice.Features!.IsSet(17));
        Assert.Equal(2, payable.Paths.Count);
        Assert.Equal((1_000u, 184, new MilliSatoshi(2_500)), (payable.Paths[0].PayInfo.FeeBaseMsat, (int)payable.Paths[0].PayInfo.CltvExpiryDelta, payable.Paths[0].PayInfo.HtlcMaximumMsat));
        Assert.Equal((3_000u, 224, MilliSatoshi.MaxMoney), (payable.Paths[1].PayInfo.FeeBaseMsat, (int)payable.Paths[1].PayInfo.CltvExpiryDelta, payable.Paths[1].PayInfo.HtlcMaximumMsat));
        for (var i = 0; i < 2; i++)
        {
            // Each path leads through its own channel to the same path_id (the same preimage).
            var path = payable.Paths[i].Path;
            var relayData = RouteBlinding.Decrypt(RelayKey, path.FirstPathKey.ToECPubKey(), path.Hops[0].EncryptedRecipientData);
            Assert.Equal(new ShortChannelId(42UL + (ulong)i), relayData.Data.ShortChannelId);
            var data = RouteBlinding.Decrypt(IssuerKey, relayData.NextPathKey, path.Hops[1].EncryptedRecipientData).Data;
            Assert.Equal(payable.PaymentHash, NewIssuer().PreimageForPathId(data.PathId!.Value.Span)!.Value.Hash);
        }
    }

    [Fact]
    public void WithoutMultiPartTheInvoiceHasNoFeatures()
    {
        var offer = BlindedOffer();
        var settings = Settings with { Hop = new PaymentHopHint(Relay, new ShortChannelId(42), new PaymentRelay(40, 100, new MilliSatoshi(1_000))) };
        var (pending, _, atPayer) = Exchange(offer, new PayRequestOptions { Amount = new MilliSatoshi(4_000), ReplyIntroductionNode = Relay }, settings);
        Assert.Null(atPayer.Invoice.Invoice.Features);
        Assert.False(NewPayer().ValidateInvoice(pending, atPayer.Invoice, atPayer.PathId, Now).SupportsMultiPart);
    }

    [Fact]
    public void AnyAmountOfferUsesThePayersAmount()
    {
        var offer = NewIssuer().CreateOffer(new OfferParameters { Description = "tips" }, Random(9));
        Assert.Null(offer.Offer.Amount);
        var error = Assert.Throws<Bolt12FlowException>(() => NewPayer().CreateRequest(offer, new PayRequestOptions(), Now, TimeSpan.FromMinutes(1), Random(1)));
        Assert.Equal(Bolt12FlowError.InvalidAmount, error.Error);
        var (pending, _, atPayer) = Exchange(offer, new PayRequestOptions { Amount = new MilliSatoshi(777) });
        Assert.Equal(new MilliSatoshi(777), NewPayer().ValidateInvoice(pending, atPayer.Invoice, atPayer.PathId, Now).Amount);
    }

    [Fact]
    public void OfferFieldsFollowTheParameters()
    {
        var expiry = Now.AddDays(1);
        var offer = NewIssuer().CreateOffer(new OfferParameters { Description = "box", Amount = new MilliSatoshi(9), AbsoluteExpiry = expiry, QuantityMax = 10, Issuer = "shop" }, Random(4));
        Assert.Equal((ulong)expiry.ToUnixTimeSeconds(), offer.Offer.AbsoluteExpiry);
        Assert.Equal(10UL, offer.Offer.QuantityMax);
        Assert.Equal("shop", offer.Offer.Issuer);
        Assert.Equal(32, offer.Offer.Metadata!.Value.Length);
        Assert.Null(offer.Offer.Chains);
        var regtest = new OfferIssuer(IssuerKey, IssuerSecret, ChainHash.Regtest).CreateOffer(new OfferParameters { Description = "x" }, Random(4));
        Assert.Equal([ChainHash.Regtest], regtest.Offer.Chains!);
        Assert.Throws<ArgumentException>(() => NewIssuer().CreateOffer(new OfferParameters { Description = "x", IntroductionNode = Relay }, Random(4)));
    }

    [Fact]
    public void RegtestOffersCarryTheChainThroughRequestAndInvoice()
    {
        var random = Random(40);
        var issuer = new OfferIssuer(IssuerKey, IssuerSecret, ChainHash.Regtest);
        var payer = new OfferPayer(Payer, PayerSecret, ChainHash.Regtest);
        var offer = issuer.CreateOffer(new OfferParameters { Description = "test coins", Amount = new MilliSatoshi(1_000) }, random);
        var pending = payer.CreateRequest(offer, new PayRequestOptions(), Now, TimeSpan.FromMinutes(1), random);
        Assert.Equal(ChainHash.Regtest, pending.Request.Request.Chain);
        var request = Assert.IsType<ReceivedInvoiceRequest>(Deliver(OfferMessenger.SendInvoiceRequest(pending, random)).Receipt);
        Assert.Equal(Bolt12FlowError.UnsupportedChain,
            Assert.Throws<Bolt12FlowException>(() => NewIssuer().CreateInvoice(request.Request, request.Arrival, Now, Settings, random)).Error);
        var invoice = issuer.CreateInvoice(request.Request, request.Arrival, Now, Settings, random);
        var received = Assert.IsType<ReceivedInvoice>(Deliver(OfferMessenger.SendResponse(request.ReplyPath, new IssuerResponse(invoice, null), random)).Receipt);
        Assert.Equal(new MilliSatoshi(1_000), payer.ValidateInvoice(pending, received.Invoice, received.PathId, Now).Amount);
    }

    [Fact]
    public void PreimageForPathIdRefusesForeignPathIds()
    {
        Assert.Null(NewIssuer().PreimageForPathId(new byte[48]));
        Assert.Null(NewIssuer().PreimageForPathId(new byte[3]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void OnionMessagesTravelThroughIntermediateHopsBothWays(int intermediates)
    {
        var random = Random(intermediates + 20);
        var offer = intermediates == 0 ? DirectOffer() : BlindedOffer();
        var options = new PayRequestOptions { ReplyIntroductionNode = intermediates == 0 ? null : Relay };
        var pending = NewPayer().CreateRequest(offer, options, Now, TimeSpan.FromMinutes(1), random);
        var outgoing = OfferMessenger.SendInvoiceRequest(pending, random);
        Assert.Equal(intermediates == 0 ? Issuer : Relay, outgoing.FirstNode);
        var (receipt, node, forwards) = Deliver(outgoing);
        Assert.Equal(Issuer, node);
        Assert.Equal(intermediates, forwards);
        var request = Assert.IsType<ReceivedInvoiceRequest>(receipt);
        Assert.Equal(pending.Request.Encode(), request.Request.Encode());

        var response = NewIssuer().Respond(request.Request, request.Arrival, Now, Settings, random);
        var back = OfferMessenger.SendResponse(request.ReplyPath, response, random);
        Assert.Equal(intermediates == 0 ? Payer : Relay, back.FirstNode);
        var (reply, replyNode, replyForwards) = Deliver(back);
        Assert.Equal(Payer, replyNode);
        Assert.Equal(intermediates, replyForwards);
        var invoice = Assert.IsType<ReceivedInvoice>(reply);
        Assert.Equal(pending.ReplyPathId.ToArray(), invoice.PathId!.Value.ToArray());
    }

    [Fact]
    public void RefusedRequestsComeBackAsInvoiceErrors()
    {
        var random = Random(30);
        var pending = NewPayer().CreateRequest(DirectOffer(), new PayRequestOptions(), Now, TimeSpan.FromMinutes(1), random);
        var request = Assert.IsType<ReceivedInvoiceRequest>(Deliver(OfferMessenger.SendInvoiceRequest(pending, random)).Receipt);
        var other = new OfferIssuer(IssuerKey, Enumerable.Repeat((byte)0xEE, 32).ToArray(), ChainHash.Bitcoin);
        var response = other.Respond(request.Request, request.Arrival, Now, Settings, random);
        Assert.Null(response.Invoice);
        var (reply, _, _) = Deliver(OfferMessenger.SendResponse(request.ReplyPath, response, random));
        var error = Assert.IsType<ReceivedInvoiceError>(reply);
        Assert.Equal(Bolt12Type.OfferMetadata, error.Error.ErroneousField);
        Assert.Equal("not an offer of ours", error.Error.Error);
        Assert.Equal(pending.ReplyPathId.ToArray(), error.PathId!.Value.ToArray());
    }

    [Fact]
    public void InvoiceErrorRoundTrips()
    {
        var error = new InvoiceError { ErroneousField = 82, SuggestedValue = new byte[] { 1, 2 }, Error = "too low" };
        var decoded = InvoiceError.Decode(error.Encode());
        Assert.Equal(82UL, decoded.ErroneousField);
        Assert.Equal(new byte[] { 1, 2 }, decoded.SuggestedValue!.Value.ToArray());
        Assert.Equal("too low", decoded.Error);
        Assert.Throws<Satflow.Lightning.Wire.WireFormatException>(() => InvoiceError.Decode([1, 1, 5]));
    }
}
