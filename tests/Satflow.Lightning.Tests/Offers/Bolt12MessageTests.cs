using NBitcoin.Secp256k1;
using Satflow.Lightning.Codecs;
using Satflow.Lightning.Features;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;

namespace Satflow.Lightning.Tests.Offers;

public sealed class Bolt12MessageTests
{
    internal static readonly ECPrivKey AliceKey = ECPrivKey.Create(Enumerable.Repeat((byte)0x41, 32).ToArray());
    internal static readonly ECPrivKey BobKey = ECPrivKey.Create(Enumerable.Repeat((byte)0x42, 32).ToArray());
    internal static NodeId Alice => NodeIdOf(AliceKey);
    internal static NodeId Bob => NodeIdOf(BobKey);
    private static readonly NodeId Point2 = NodeId.Parse("020202020202020202020202020202020202020202020202020202020202020202");

    internal static NodeId NodeIdOf(ECPrivKey key)
    {
        var bytes = new byte[33];
        key.CreatePubKey().WriteToSpan(true, bytes, out _);
        return NodeId.FromBytes(bytes);
    }

    internal static OfferContent SampleOffer => new() { Description = "coffee", Amount = 5000, IssuerId = Alice, QuantityMax = 0 };

    internal static InvoiceRequestContent SampleRequest => new() { Metadata = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, PayerId = Bob, Quantity = 2, Amount = new MilliSatoshi(10_000), PayerNote = "thanks" };

    internal static BlindedPath SamplePath => new(SciddirOrPubkey.FromNodeId(Point2), Point2, [new BlindedHop(Alice, new byte[] { 9, 9, 9 })]);

    internal static InvoiceContent SampleInvoice => new()
    {
        Paths = [SamplePath],
        BlindedPay = [new BlindedPayInfo(1, 100, 40, new MilliSatoshi(1), new MilliSatoshi(1_000_000), FeatureBits.Empty)],
        CreatedAt = 1_700_000_000,
        RelativeExpiry = 600,
        PaymentHash = PaymentHash.Parse(new string('a', 64)),
        Amount = new MilliSatoshi(10_000),
        Fallbacks = [new Bolt12FallbackAddress(0, new byte[20]), new Bolt12FallbackAddress(17, new byte[20])],
        Features = FeatureBits.Of(17),
        NodeId = Alice,
    };

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    [Fact]
    public void OfferRoundTripsThroughTheString()
    {
        var offer = Offer.Create(SampleOffer, [new TlvRecord(1_000_000_001, "x"u8.ToArray())]);
        var decoded = Offer.Decode(offer.Encode());
        Assert.Equal(offer.Encode(), decoded.Encode());
        Assert.Equal("coffee", decoded.Offer.Description);
        Assert.Equal(5000UL, decoded.Offer.Amount);
        Assert.Equal(0UL, decoded.Offer.QuantityMax);
        Assert.Equal(Alice, decoded.Offer.IssuerId);
        Assert.Equal(1_000_000_001UL, Assert.Single(decoded.UnknownRecords).Type);
        Assert.Equal(offer.OfferId, decoded.OfferId);
        Assert.Equal(offer.Encode().ToUpperInvariant(), offer.Encode().ToUpperInvariant());
        Assert.Equal(offer.Encode(), Bolt12Message.Decode(offer.Encode().ToUpperInvariant()).Encode());
    }

    [Fact]
    public void OfferExpiryUsesTheGivenClock()
    {
        var offer = Offer.Create(new OfferContent { IssuerId = Alice, AbsoluteExpiry = 2_000_000_000 });
        Assert.False(offer.IsExpired(new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_999_999_999))));
        Assert.True(offer.IsExpired(new FixedTime(DateTimeOffset.FromUnixTimeSeconds(2_000_000_001))));
    }

    [Fact]
    public void InvoiceRequestIsSignedAndVerified()
    {
        var request = InvoiceRequest.CreateSigned(SampleOffer, SampleRequest, BobKey);
        var decoded = InvoiceRequest.Decode(request.Encode());
        Assert.True(decoded.RespondsToOffer);
        Assert.Equal(Bob, decoded.Request.PayerId);
        Assert.Equal(2UL, decoded.Request.Quantity);
        Assert.Equal("thanks", decoded.Request.PayerNote);
        Assert.Equal(request.Signature.ToArray(), decoded.Signature.ToArray());
        Assert.True(Bolt12Merkle.Verify("invoice_request", "signature", decoded.MerkleRoot, decoded.Signature.Span, Bob));
    }

    [Fact]
    public void InvoiceRequestSignedByTheWrongKeyIsRejected()
    {
        var ex = Assert.Throws<InvoiceFormatException>(() => InvoiceRequest.CreateSigned(SampleOffer, SampleRequest, AliceKey));
        Assert.Equal("invalid signature", ex.Reason);
    }

    [Fact]
    public void TamperingWithASignedFieldBreaksTheSignature()
    {
        var request = InvoiceRequest.CreateSigned(SampleOffer, SampleRequest, BobKey);
        var records = request.Records.Records.Select(r => r.Type == Bolt12Type.InvreqPayerNote ? new TlvRecord(r.Type, "thankz"u8.ToArray()) : r);
        var ex = Assert.Throws<InvoiceFormatException>(() => InvoiceRequest.FromBytes(new TlvStream(records).ToBytes()));
        Assert.Equal("invalid signature", ex.Reason);
    }

    [Theory]
    [InlineData("quantity missing", "missing invreq_quantity for an offer with offer_quantity_max")]
    [InlineData("quantity zero", "invreq_quantity out of range")]
    [InlineData("no metadata", "missing invreq_metadata")]
    [InlineData("no payer id", "missing invreq_payer_id")]
    [InlineData("no amount without offer", "missing invreq_amount")]
    [InlineData("offer features without offer", "offer_chains, offer_features or offer_quantity_max in a request without an offer")]
    [InlineData("unknown even invreq feature", "unknown required feature in invreq_features")]
    public void InvoiceRequestReaderRules(string rule, string reason)
    {
        var offer = SampleOffer;
        var request = SampleRequest;
        switch (rule)
        {
            case "quantity missing": request = Copy(request, quantity: null); break;
            case "quantity zero": offer = new OfferContent { Description = "c", Amount = 1, IssuerId = Alice, QuantityMax = 5 }; request = Copy(request, quantity: 0UL); break;
            case "no metadata": request = new InvoiceRequestContent { PayerId = Bob, Quantity = 1 }; break;
            case "no payer id": request = new InvoiceRequestContent { Metadata = new byte[8], Quantity = 1 }; break;
            case "no amount without offer": offer = new OfferContent { Description = "refund" }; request = new InvoiceRequestContent { Metadata = new byte[8], PayerId = Bob }; break;
            case "offer features without offer": offer = new OfferContent { Description = "refund", Features = FeatureBits.Of(1) }; request = new InvoiceRequestContent { Metadata = new byte[8], PayerId = Bob, Amount = new MilliSatoshi(1) }; break;
            case "unknown even invreq feature": request = new InvoiceRequestContent { Metadata = new byte[8], PayerId = Bob, Quantity = 1, Features = FeatureBits.Of(20) }; break;
            default: throw new InvalidOperationException(rule);
        }
        Assert.Equal(reason, Assert.Throws<InvoiceFormatException>(() => InvoiceRequest.CreateSigned(offer, request, BobKey)).Reason);
    }

    private static InvoiceRequestContent Copy(InvoiceRequestContent r, ulong? quantity) =>
        new() { Metadata = r.Metadata, PayerId = r.PayerId, Amount = r.Amount, Quantity = quantity, PayerNote = r.PayerNote };

    [Fact]
    public void InvoiceRequestWithoutOfferNeedsOnlyAmount()
    {
        var request = InvoiceRequest.CreateSigned(new OfferContent { Description = "refund" },
            new InvoiceRequestContent { Metadata = new byte[8], PayerId = Bob, Amount = new MilliSatoshi(42), Bip353Name = new Bip353Name("bob", "example.com") }, BobKey);
        var decoded = InvoiceRequest.Decode(request.Encode());
        Assert.False(decoded.RespondsToOffer);
        Assert.Equal(new Bip353Name("bob", "example.com"), decoded.Request.Bip353Name);
    }

    [Fact]
    public void InvoiceIsSignedVerifiedAndExpires()
    {
        var invoice = Bolt12Invoice.CreateSigned(SampleOffer, SampleRequest, SampleInvoice, AliceKey);
        var decoded = Bolt12Invoice.Decode(invoice.Encode());
        Assert.Equal(new MilliSatoshi(10_000), decoded.Invoice.Amount);
        Assert.Equal(Alice, decoded.Invoice.NodeId);
        Assert.Equal(2, decoded.Invoice.Fallbacks!.Count);
        Assert.True(decoded.Invoice.Fallbacks[0].IsUsable);
        Assert.False(decoded.Invoice.Fallbacks[1].IsUsable);
        Assert.Single(decoded.UsablePaths);
        Assert.Equal([9, 9, 9], decoded.Invoice.Paths![0].Hops[0].EncryptedRecipientData.ToArray());
        Assert.False(decoded.IsExpired(new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_700_000_600))));
        Assert.True(decoded.IsExpired(new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_700_000_601))));
        Assert.Equal(invoice.Encode(), decoded.Encode());
        Assert.IsType<Bolt12Invoice>(Bolt12Message.Decode(invoice.Encode()));
    }

    [Theory]
    [InlineData("no paths", "missing invoice_paths")]
    [InlineData("payinfo count", "invoice_blindedpay count differs from invoice_paths")]
    [InlineData("amount differs", "invoice_amount differs from invreq_amount")]
    [InlineData("node differs from issuer", "invoice_node_id differs from offer_issuer_id")]
    [InlineData("unknown even feature", "unknown required feature in invoice_features")]
    [InlineData("only unusable paths", "no usable invoice path")]
    [InlineData("no created_at", "missing invoice_created_at")]
    public void InvoiceReaderRules(string rule, string reason)
    {
        var i = SampleInvoice;
        var signer = AliceKey;
        InvoiceContent content = rule switch
        {
            "no paths" => With(i, paths: null),
            "payinfo count" => With(i, payInfo: [i.BlindedPay![0], i.BlindedPay[0]]),
            "amount differs" => With(i, amount: new MilliSatoshi(9_999)),
            "node differs from issuer" => With(i, node: Bob),
            "unknown even feature" => With(i, features: FeatureBits.Of(20)),
            "only unusable paths" => With(i, payInfo: [i.BlindedPay![0] with { Features = FeatureBits.Of(2) }]),
            "no created_at" => With(i, createdAt: null),
            _ => throw new InvalidOperationException(rule),
        };
        if (rule == "node differs from issuer")
        {
            signer = BobKey;
        }
        Assert.Equal(reason, Assert.Throws<InvoiceFormatException>(() => Bolt12Invoice.CreateSigned(SampleOffer, SampleRequest, content, signer)).Reason);
    }

    private static InvoiceContent With(InvoiceContent i, IReadOnlyList<BlindedPath>? paths = null, IReadOnlyList<BlindedPayInfo>? payInfo = null,
        MilliSatoshi? amount = null, NodeId? node = null, FeatureBits? features = null, ulong? createdAt = 0) => new()
    {
        Paths = paths ?? (payInfo is null && amount is null && node is null && features is null && createdAt == 0 ? null : i.Paths),
        BlindedPay = payInfo ?? i.BlindedPay,
        CreatedAt = createdAt == 0 ? i.CreatedAt : createdAt,
        PaymentHash = i.PaymentHash,
        Amount = amount ?? i.Amount,
        Features = features ?? i.Features,
        NodeId = node ?? i.NodeId,
    };

    private static string OfferWith(params (ulong Type, byte[] Value)[] records)
    {
        var stream = new TlvStream(records.Select(r => new TlvRecord(r.Type, r.Value)));
        return Bolt12String.Encode("lno", stream.ToBytes());
    }

    private static byte[] PathBytes(byte[] first, byte[] pathKey, byte hops, params (byte[] Id, byte[] Data)[] hopList)
    {
        var w = new WireWriter().WriteBytes(first).WriteBytes(pathKey).WriteByte(hops);
        foreach (var (id, data) in hopList)
        {
            w.WriteBytes(id).WriteUInt16((ushort)data.Length).WriteBytes(data);
        }
        return w.ToArray();
    }

    [Fact]
    public void BlindedPathRulesAreEnforced()
    {
        var good = Point2.ToArray();
        var bad = Enumerable.Repeat((byte)0x03, 33).ToArray();
        var desc = "x"u8.ToArray();
        // A valid one first, so the failures below are about the path only.
        Assert.Single(Offer.Decode(OfferWith((10, desc), (16, PathBytes(good, good, 1, (good, [1]))))).Offer.Paths!);
        Assert.Equal("zero num_hops in blinded_path", Assert.Throws<InvoiceFormatException>(() => Offer.Decode(OfferWith((10, desc), (16, PathBytes(good, good, 0))))).Reason);
        Assert.Equal("invalid point", Assert.Throws<InvoiceFormatException>(() => Offer.Decode(OfferWith((10, desc), (16, PathBytes(bad, good, 1, (good, [1])))))).Reason);
        Assert.Equal("invalid point", Assert.Throws<InvoiceFormatException>(() => Offer.Decode(OfferWith((10, desc), (16, PathBytes(good, bad, 1, (good, [1])))))).Reason);
        Assert.Equal("invalid point", Assert.Throws<InvoiceFormatException>(() => Offer.Decode(OfferWith((10, desc), (16, PathBytes(good, good, 1, (bad, [1])))))).Reason);
        Assert.Equal("unexpected EOF", Assert.Throws<InvoiceFormatException>(() => Offer.Decode(OfferWith((10, desc), (16, PathBytes(good, good, 2, (good, [1])))))).Reason);
        Assert.Equal("invalid sciddir_or_pubkey", Assert.Throws<InvoiceFormatException>(() => Offer.Decode(OfferWith((10, desc), (16, PathBytes([7, .. new byte[8]], good, 1, (good, [1])))))).Reason);
    }

    [Theory]
    [InlineData(81UL, false)]
    [InlineData(79UL, true)]
    [InlineData(1_000_000_001UL, true)]
    [InlineData(1_999_999_999UL, true)]
    [InlineData(2_000_000_001UL, false)]
    public void OfferTypeRangesAreEnforced(ulong type, bool valid)
    {
        var text = OfferWith((22, Alice.ToArray()), (type, [1]));
        if (valid)
        {
            Assert.Contains(Offer.Decode(text).UnknownRecords, r => r.Type == type);
        }
        else
        {
            Assert.StartsWith("tlv type outside", Assert.Throws<InvoiceFormatException>(() => Offer.Decode(text)).Reason, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x55, 0x53 })]
    [InlineData(new byte[] { 0x75, 0x73, 0x64 })]
    public void CurrencyMustBeAnIso4217Code(byte[] currency)
    {
        var text = OfferWith((6, currency), (8, [1]), (10, "x"u8.ToArray()), (22, Alice.ToArray()));
        Assert.Equal("offer_currency is not an ISO 4217 code", Assert.Throws<InvoiceFormatException>(() => Offer.Decode(text)).Reason);
    }

    [Fact]
    public void WrongPrefixIsRejected()
    {
        var offer = Offer.Create(SampleOffer).Encode();
        Assert.Equal("wrong bolt12 prefix", Assert.Throws<InvoiceFormatException>(() => InvoiceRequest.Decode(offer)).Reason);
        Assert.Equal("unknown bolt12 prefix", Assert.Throws<InvoiceFormatException>(() => Bolt12Message.Decode("lnx1" + offer[4..])).Reason);
    }

    [Fact]
    public void MerkleTreeOfThreeLeavesFollowsTheSpecShape()
    {
        var stream = new TlvStream([new TlvRecord(0, new byte[] { 1 }), new TlvRecord(1, new byte[] { 2 }), new TlvRecord(2, new byte[] { 3 })]);
        var l = stream.Records.Select(r => Bolt12Merkle.BranchHash(Bolt12Merkle.LeafHash(r), Bolt12Merkle.NonceHash(stream.Records[0], r.Type))).ToArray();
        var expected = Bolt12Merkle.BranchHash(Bolt12Merkle.BranchHash(l[0], l[1]), l[2]);
        Assert.Equal(expected, Bolt12Merkle.MerkleRoot(stream));
        var withSignature = new TlvStream([.. stream.Records, new TlvRecord(240, new byte[64])]);
        Assert.Equal(expected, Bolt12Merkle.MerkleRoot(withSignature));
    }
}
