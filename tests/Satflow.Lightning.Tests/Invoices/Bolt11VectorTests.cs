using System.Text.Json;
using NBitcoin;
using Satflow.Lightning.Invoices;
using Satflow.TestSupport;
using SHA256 = System.Security.Cryptography.SHA256;

namespace Satflow.Lightning.Tests.Invoices;

/// <summary>The examples of BOLT 11 ("Examples" and "Examples of Invalid Invoices"), one test case each.</summary>
public sealed class Bolt11VectorTests
{
    private const string Payee = "03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad";
    private const string Hash0102 = "0001020304050607080900010203040506070809000102030405060708090102";
    private const string Secret11 = "1111111111111111111111111111111111111111111111111111111111111111";
    private const string ListHash = "3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1";
    private const ulong Ts = 1496314658;

    private static readonly JsonDocument Valid = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt11-valid.json"));
    private static readonly JsonDocument Invalid = JsonDocument.Parse(TestVectors.ReadText("bolts/bolt11-invalid.json"));

    private sealed record Expected(
        Bolt11Network Network, ulong? AmountMsat, ulong Timestamp, string PaymentHash, string? Description, string? DescriptionHash,
        ulong Expiry = 3600, ulong MinFinalCltv = 18, string[]? Fallbacks = null, string[][]? Hints = null, int[]? Features = null,
        string? Metadata = null, bool LowS = true);

    // Values as the spec's example text states them.
    private static readonly Expected[] Expectations =
    [
        new(Bolt11Network.Bitcoin, null, Ts, Hash0102, "Please consider supporting this project", null, Features: [8, 14]),
        new(Bolt11Network.Bitcoin, 250_000_000, Ts, Hash0102, "1 cup coffee", null, Expiry: 60, Features: [8, 14]),
        new(Bolt11Network.Bitcoin, 250_000_000, Ts, Hash0102, "ナンセンス 1杯", null, Expiry: 60, Features: [8, 14]),
        new(Bolt11Network.Bitcoin, 2_000_000_000, Ts, Hash0102, null, ListHash, Features: [8, 14]),
        new(Bolt11Network.Testnet, 2_000_000_000, Ts, Hash0102, null, ListHash, Fallbacks: ["mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP"], Features: [8, 14]),
        new(Bolt11Network.Bitcoin, 2_000_000_000, Ts, Hash0102, null, ListHash, Fallbacks: ["1RustyRX2oai4EYYDpQGWvEL62BBGqN9T"],
            Hints: [["029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255/66051x263430x1800/1/20/3",
                     "039e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255/197637x395016x2314/2/30/4"]], Features: [8, 14]),
        new(Bolt11Network.Bitcoin, 2_000_000_000, Ts, Hash0102, null, ListHash, Fallbacks: ["3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX"], Features: [8, 14]),
        new(Bolt11Network.Bitcoin, 2_000_000_000, Ts, Hash0102, null, ListHash, Fallbacks: ["bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"], Features: [8, 14]),
        new(Bolt11Network.Bitcoin, 2_000_000_000, Ts, Hash0102, null, ListHash, Fallbacks: ["bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3"], Features: [8, 14]),
        new(Bolt11Network.Bitcoin, 2_000_000_000, Ts, Hash0102, null, ListHash, Fallbacks: ["bc1pptdvg0d2nj99568qn6ssdy4cygnwuxgw2ukmnwgwz7jpqjz2kszse2s3lm"], Features: [8, 14]),
        new(Bolt11Network.Bitcoin, 967_878_534, 1572468703, "462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f",
            "Blockstream Store: 88.85 USD for Blockstream Ledger Nano S x 1, \"Back In My Day\" Sticker x 2, \"I Got Lightning Working\" Sticker x 2 and 1 more items",
            null, Expiry: 604800, MinFinalCltv: 10,
            Hints: [["03d06758583bb5154774a6eb221b1276c9e82d65bbaceca806d90e20c108f4b1c7/589390x3312x1/1000/2500/40"]], Features: [8, 14]),
        new(Bolt11Network.Bitcoin, 2_500_000_000, Ts, Hash0102, "coffee beans", null, Features: [8, 14, 99]),
        new(Bolt11Network.Bitcoin, 2_500_000_000, Ts, Hash0102, "coffee beans", null, Features: [8, 14, 99]),
        new(Bolt11Network.Bitcoin, 2_500_000_000, Ts, Hash0102, "coffee beans", null, Features: [8, 14, 99]),
        new(Bolt11Network.Bitcoin, 1_000_000_000, Ts, Hash0102, "payment metadata inside", null, Features: [8, 14, 48], Metadata: "01fafaf0"),
        new(Bolt11Network.Bitcoin, null, Ts, Hash0102, "Please consider supporting this project", null, Features: [8, 14], LowS: false),
    ];

    // A word or phrase the rejection reason must contain, per invalid example in file order.
    private static readonly string[] InvalidReasons =
    [
        "unknown required feature", "checksum", "separator", "mixed case", "not recoverable",
        "too short", "multiplier", "sub-millisatoshi", "payment secret", "high-S",
    ];

    public static TheoryData<int> ValidIndexes() => Indexes(Valid);

    public static TheoryData<int> InvalidIndexes() => Indexes(Invalid);

    private static TheoryData<int> Indexes(JsonDocument doc)
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < doc.RootElement.GetProperty("examples").GetArrayLength(); i++)
        {
            data.Add(i);
        }
        return data;
    }

    private static JsonElement Example(JsonDocument doc, int index) => doc.RootElement.GetProperty("examples")[index];

    private static Key PrivateKey => new(Convert.FromHexString(Valid.RootElement.GetProperty("priv_key").GetString()!));

    [Fact]
    public void VectorFilesHaveTheSpecCounts()
    {
        Assert.Equal(16, Valid.RootElement.GetProperty("examples").GetArrayLength());
        Assert.Equal(10, Invalid.RootElement.GetProperty("examples").GetArrayLength());
        Assert.Equal(Payee, Convert.ToHexStringLower(PrivateKey.PubKey.ToBytes()));
        Assert.Equal(Secret11, Valid.RootElement.GetProperty("default_payment_secret").GetString());
    }

    [Theory]
    [MemberData(nameof(ValidIndexes))]
    public void ValidExampleDecodesToTheSpecValues(int index)
    {
        var text = Example(Valid, index).GetProperty("invoice").GetString()!;
        var expected = Expectations[index];
        var invoice = Bolt11Invoice.Decode(text);

        Assert.Equal(expected.Network, invoice.Network);
        Assert.Equal(expected.AmountMsat, invoice.Amount?.Value);
        Assert.Equal(expected.Timestamp, invoice.Timestamp);
        Assert.Equal(expected.PaymentHash, invoice.PaymentHash.ToString());
        Assert.Equal(Secret11, invoice.PaymentSecret.ToString());
        Assert.Equal(expected.Description, invoice.Description);
        Assert.Equal(expected.DescriptionHash, invoice.DescriptionHash?.ToHex());
        Assert.Equal(expected.Expiry, invoice.ExpirySeconds);
        Assert.Equal(expected.MinFinalCltv, invoice.MinFinalCltvExpiryDelta);
        Assert.Equal(expected.Fallbacks ?? [], invoice.Fallbacks.Select(f => f.ToAddress(invoice.Network)));
        Assert.Equal(
            (expected.Hints ?? []).Select(h => string.Join(";", h)),
            invoice.RouteHints.Select(h => string.Join(";", h.Select(x => $"{x.NodeId}/{x.ShortChannelId}/{x.FeeBaseMsat}/{x.FeeProportionalMillionths}/{x.CltvExpiryDelta}"))));
        Assert.Equal(expected.Features ?? [], invoice.Features.Bits);
        Assert.Equal(expected.Metadata, invoice.Metadata is { } m ? Convert.ToHexStringLower(m.Span) : null);
        Assert.Equal(Payee, invoice.PayeeNodeId.ToString());
        Assert.False(invoice.HasExplicitPayee);
        Assert.Equal(expected.LowS, invoice.IsLowS);
        if (expected.DescriptionHash is not null)
        {
            Assert.True(invoice.MatchesDescription("One piece of chocolate cake, one icecream cone, one pickle, one slice of swiss cheese, one slice of salami, one lollypop, one piece of cherry pie, one sausage, one cupcake, and one slice of watermelon"));
        }
    }

    [Theory]
    [MemberData(nameof(ValidIndexes))]
    public void ValidExampleReEncodesToTheExactString(int index)
    {
        var example = Example(Valid, index);
        var text = example.GetProperty("invoice").GetString()!;
        var invoice = Bolt11Invoice.Decode(text);

        var builder = new Bolt11InvoiceBuilder(invoice.Network, invoice.Timestamp);
        if (invoice.Amount is { } amount)
        {
            builder.Amount(amount);
        }
        bool p = false, s = false, d = false, h = false, x = false, c = false, nine = false, mField = false;
        int fallbackIndex = 0, hintIndex = 0;
        foreach (var field in invoice.TaggedFields)
        {
            var len = field.Words.Length;
            switch (field.Type)
            {
                case Bolt11FieldType.PaymentHash when len == 52 && !p: builder.PaymentHash(invoice.PaymentHash); p = true; break;
                case Bolt11FieldType.PaymentSecret when len == 52 && !s: builder.PaymentSecret(invoice.PaymentSecret); s = true; break;
                case Bolt11FieldType.Description when !d: builder.Description(invoice.Description!); d = true; break;
                case Bolt11FieldType.DescriptionHash when len == 52 && !h: builder.DescriptionHash(invoice.DescriptionHash!.Value); h = true; break;
                case Bolt11FieldType.Expiry when !x: builder.Expiry(invoice.ExpirySeconds); x = true; break;
                case Bolt11FieldType.MinFinalCltvExpiry when !c: builder.MinFinalCltvExpiryDelta(invoice.MinFinalCltvExpiryDelta); c = true; break;
                case Bolt11FieldType.Features when !nine: builder.Features(invoice.Features); nine = true; break;
                case Bolt11FieldType.Metadata when !mField: builder.Metadata(invoice.Metadata!.Value.Span); mField = true; break;
                case Bolt11FieldType.Fallback when fallbackIndex < invoice.Fallbacks.Count && invoice.Fallbacks[fallbackIndex].Version == field.Words.Span[0]:
                    builder.Fallback(invoice.Fallbacks[fallbackIndex++]);
                    break;
                case Bolt11FieldType.RouteHint: builder.RouteHint(invoice.RouteHints[hintIndex++]); break;
                default: builder.Raw(field); break; // unknown or skipped fields are reproduced as they were
            }
        }
        Assert.Equal(invoice.HumanReadablePart, builder.HumanReadablePart);
        var signed = builder.Sign(PrivateKey);

        if (invoice.IsLowS)
        {
            Assert.Equal(text.ToLowerInvariant(), signed.Encoded);
        }
        else
        {
            // RFC 6979 signing always produces the low-S form: the same invoice as the first example.
            Assert.Equal(Example(Valid, 0).GetProperty("invoice").GetString(), signed.Encoded);
        }

        if (example.TryGetProperty("signature_breakdown", out var breakdown))
        {
            var signingData = Convert.FromHexString(breakdown.GetProperty("signing_data").GetString()!);
            Assert.Equal(breakdown.GetProperty("signing_hash").GetString(), Convert.ToHexStringLower(SHA256.HashData(signingData)));
            Assert.Equal(breakdown.GetProperty("signature").GetString(), Convert.ToHexStringLower(invoice.Signature));
            Assert.Equal(breakdown.GetProperty("recovery_flag").GetInt32(), invoice.RecoveryId);
        }
    }

    [Theory]
    [MemberData(nameof(InvalidIndexes))]
    public void InvalidExampleIsRejectedWithAReason(int index)
    {
        var example = Example(Invalid, index);
        var ex = Assert.Throws<InvoiceFormatException>(() => Bolt11Invoice.Decode(example.GetProperty("invoice").GetString()!));
        Assert.Contains(InvalidReasons[index], ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.False(string.IsNullOrWhiteSpace(ex.Reason));
    }
}
