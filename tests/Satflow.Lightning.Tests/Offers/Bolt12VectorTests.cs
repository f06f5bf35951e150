using System.Text.Json;
using NBitcoin.Secp256k1;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Offers;

/// <summary>The BOLT 12 JSON vectors: one test case per entry of each file.</summary>
public sealed class Bolt12VectorTests
{
    private static readonly JsonElement OffersFile = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt12/offers-test.json")).RootElement;
    private static readonly JsonElement FormatFile = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt12/format-string-test.json")).RootElement;
    private static readonly JsonElement SignatureFile = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt12/signature-test.json")).RootElement;

    public static TheoryData<int> OfferCases() => Range(OffersFile);

    public static TheoryData<int> FormatCases() => Range(FormatFile);

    public static TheoryData<int> SignatureCases() => Range(SignatureFile);

    private static TheoryData<int> Range(JsonElement array)
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < array.GetArrayLength(); i++)
        {
            data.Add(i);
        }
        return data;
    }

    [Fact]
    public void VectorFilesHaveTheExpectedCounts()
    {
        Assert.Equal(53, OffersFile.GetArrayLength());
        Assert.Equal(12, FormatFile.GetArrayLength());
        Assert.Equal(4, SignatureFile.GetArrayLength());
    }

    [Theory]
    [MemberData(nameof(OfferCases))]
    public void OfferCase(int index)
    {
        var entry = OffersFile[index];
        var text = entry.GetProperty("bolt12").GetString()!;
        if (!entry.GetProperty("valid").GetBoolean())
        {
            var ex = Assert.Throws<InvoiceFormatException>(() => Offer.Decode(text));
            Assert.False(string.IsNullOrWhiteSpace(ex.Reason));
            return;
        }

        var offer = Offer.Decode(text);
        var fields = entry.GetProperty("fields");
        Assert.Equal(fields.GetArrayLength(), offer.Records.Records.Count);
        for (var i = 0; i < fields.GetArrayLength(); i++)
        {
            var field = fields[i];
            var record = offer.Records.Records[i];
            Assert.Equal(field.GetProperty("type").GetUInt64(), record.Type);
            Assert.Equal(field.GetProperty("length").GetInt32(), record.Value.Length);
            Assert.Equal(field.GetProperty("hex").GetString(), Convert.ToHexStringLower(record.Value.Span));
        }

        // Re-encoding from the typed fields (plus the unknown records) reproduces the string exactly.
        var rebuilt = Offer.Create(offer.Offer, offer.UnknownRecords);
        Assert.Equal(text, rebuilt.Encode());
        Assert.Equal(text, offer.Encode());
    }

    [Fact]
    public void OfferTypedFieldsMatchTheFieldInfo()
    {
        Offer ByDescription(string d)
        {
            foreach (var e in OffersFile.EnumerateArray())
            {
                if (e.GetProperty("description").GetString() == d)
                {
                    return Offer.Decode(e.GetProperty("bolt12").GetString()!);
                }
            }
            throw new InvalidOperationException(d);
        }

        Assert.Equal("Test vectors", ByDescription("with description (but no amount)").Offer.Description);
        // testnet3 genesis block 000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943
        Assert.Equal([ChainHash.FromDisplayHex("000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943")], ByDescription("for testnet").Offer.Chains);
        Assert.Equal([ChainHash.Bitcoin], ByDescription("for bitcoin (redundant)").Offer.Chains);
        Assert.Equal(new byte[16], ByDescription("with metadata").Offer.Metadata!.Value.ToArray());
        Assert.Equal(10000UL, ByDescription("with amount").Offer.Amount);
        var usd = ByDescription("with currency").Offer;
        Assert.Equal(("USD", 10000UL), (usd.Currency, usd.Amount!.Value));
        // "expiry is 2035-01-01": 0x7a4297d8 is 2035-01-01 in the author's time zone (2034-12-31T13:30Z).
        var expiry = ByDescription("with expiry").Offer.AbsoluteExpiry!.Value;
        Assert.Equal(0x7a4297d8UL, expiry);
        Assert.InRange(new DateTimeOffset(2035, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds() - (long)expiry, 0, 86400);
        Assert.Equal("https://bolt12.org BOLT12 industries", ByDescription("with issuer").Offer.Issuer);
        Assert.Equal(5UL, ByDescription("with quantity").Offer.QuantityMax);
        Assert.Equal(0UL, ByDescription("with unlimited (or unknown) quantity").Offer.QuantityMax);
        Assert.Equal([99], ByDescription("with feature").Offer.Features!.Bits);
        Assert.Equal("02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619", ByDescription("Minimal bolt12 offer").Offer.IssuerId.ToString());

        var withPath = ByDescription("with blinded path via Bob (0x424242...), path_key 020202...").Offer.Paths!;
        var path = Assert.Single(withPath);
        Assert.Equal("020202020202020202020202020202020202020202020202020202020202020202", path.FirstPathKey.ToString());
        Assert.Equal(2, path.Hops.Count);
        Assert.Equal(new byte[16], path.Hops[0].EncryptedRecipientData.ToArray());
        Assert.Equal(Enumerable.Repeat((byte)0x11, 8).ToArray(), path.Hops[1].EncryptedRecipientData.ToArray());

        var sciddir = Assert.Single(ByDescription("same, with blinded path first_node_id using sciddir").Offer.Paths!).FirstNodeId;
        Assert.Null(sciddir.NodeId);
        Assert.Equal(new ShortChannelId(0, 0, 42), sciddir.ShortChannelId);
        Assert.Equal((byte)0, sciddir.Direction);

        var twoPaths = ByDescription("... and with second blinded path via 1x2x3 (direction 1), path_key 020202...").Offer.Paths!;
        Assert.Equal(2, twoPaths.Count);
        Assert.Equal(new ShortChannelId(1, 2, 3), twoPaths[1].FirstNodeId.ShortChannelId);
        Assert.Equal((byte)1, twoPaths[1].FirstNodeId.Direction);

        var odd = ByDescription("unknown odd field");
        Assert.Equal(33UL, Assert.Single(odd.UnknownRecords).Type);
        Assert.Equal("helloworld"u8.ToArray(), odd.UnknownRecords[0].Value.ToArray());
    }

    [Theory]
    [MemberData(nameof(FormatCases))]
    public void FormatStringCase(int index)
    {
        var entry = FormatFile[index];
        var text = entry.GetProperty("string").GetString()!;
        if (entry.GetProperty("valid").GetBoolean())
        {
            var message = Bolt12Message.Decode(text);
            Assert.Equal(Bolt12Kind.Offer, message.Kind);
            Assert.Equal(FormatFile[0].GetProperty("string").GetString(), message.Encode());
        }
        else
        {
            var ex = Assert.Throws<InvoiceFormatException>(() => Bolt12Message.Decode(text));
            Assert.False(string.IsNullOrWhiteSpace(ex.Reason));
        }
    }

    [Theory]
    [MemberData(nameof(SignatureCases))]
    public void SignatureCase(int index)
    {
        var entry = SignatureFile[index];
        TlvStream stream;
        InvoiceRequest? request = null;
        if (entry.TryGetProperty("bolt12", out var bolt12))
        {
            request = InvoiceRequest.Decode(bolt12.GetString()!);
            stream = request.Records;
        }
        else
        {
            var bytes = entry.GetProperty("leaves").EnumerateArray()
                .SelectMany(l => Convert.FromHexString(LeafTlvHex(l)))
                .ToArray();
            stream = TlvStream.Parse(bytes, _ => true);
        }
        var first = stream.Records[0];
        Assert.Equal(entry.GetProperty("first-tlv").GetString(), Convert.ToHexStringLower(Bolt12Merkle.SerializeRecord(first)));

        var nonSignature = stream.Records.Where(r => !Bolt12Merkle.IsSignatureType(r.Type)).ToList();
        var leaves = entry.GetProperty("leaves");
        Assert.Equal(leaves.GetArrayLength(), nonSignature.Count);
        for (var i = 0; i < nonSignature.Count; i++)
        {
            var values = leaves[i].EnumerateObject().Select(p => p.Value.GetString()).ToArray();
            var leaf = Bolt12Merkle.LeafHash(nonSignature[i]);
            var nonce = Bolt12Merkle.NonceHash(first, nonSignature[i].Type);
            Assert.Equal(LeafTlvHex(leaves[i]), Convert.ToHexStringLower(Bolt12Merkle.SerializeRecord(nonSignature[i])));
            Assert.Equal(values[0], leaf.ToHex());
            Assert.Equal(values[1], nonce.ToHex());
            Assert.Equal(values[2], Bolt12Merkle.BranchHash(leaf, nonce).ToHex());
        }
        foreach (var branch in entry.GetProperty("branches").EnumerateArray())
        {
            var property = branch.EnumerateObject().Single(p => p.Name.StartsWith("H(", StringComparison.Ordinal));
            var inner = property.Name[(property.Name.IndexOf(',', StringComparison.Ordinal) + 1)..^1];
            var result = Bolt12Merkle.BranchHash(Bytes32.Parse(inner[..64]), Bytes32.Parse(inner[64..]));
            Assert.Equal(property.Value.GetString(), result.ToHex());
        }
        var root = Bolt12Merkle.MerkleRoot(stream);
        Assert.Equal(entry.GetProperty("merkle").GetString(), root.ToHex());

        if (request is not null)
        {
            var tag = entry.GetProperty("signature_tag").GetString()!;
            Assert.Equal(tag, System.Text.Encoding.ASCII.GetString(Bolt12Merkle.SignatureTag("invoice_request", "signature")));
            Assert.Equal(entry.GetProperty("H(signature_tag,merkle)").GetString(), Bolt12Merkle.SignatureDigest("invoice_request", "signature", root).ToHex());
            Assert.Equal(entry.GetProperty("signature").GetString(), Convert.ToHexStringLower(request.Signature.Span));

            // invreq_payer_id is Bob (private key 0x4242...): signing again reproduces the vector's signature.
            var bob = ECPrivKey.Create(Enumerable.Repeat((byte)0x42, 32).ToArray());
            Assert.Equal(entry.GetProperty("signature").GetString(), Convert.ToHexStringLower(Bolt12Merkle.Sign("invoice_request", "signature", root, bob)));
            Assert.True(Bolt12Merkle.Verify("invoice_request", "signature", root, request.Signature.Span, request.Request.PayerId!.Value));
            Assert.Equal("A Mathematical Treatise", request.Offer.Description);
            Assert.Equal("USD", request.Offer.Currency);
            Assert.Equal(100UL, request.Offer.Amount);
            Assert.Equal(new byte[8], request.Request.Metadata!.Value.ToArray());
        }
    }

    private static string LeafTlvHex(JsonElement leaf)
    {
        var name = leaf.EnumerateObject().First().Name; // H(`LnLeaf`,<tlv hex>)
        return name[(name.IndexOf(',', StringComparison.Ordinal) + 1)..^1];
    }
}
