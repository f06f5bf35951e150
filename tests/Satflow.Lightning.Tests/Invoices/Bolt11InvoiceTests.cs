using NBitcoin;
using Satflow.Lightning.Codecs;
using Satflow.Lightning.Features;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Invoices;

public sealed class Bolt11InvoiceTests
{
    private static readonly Key PayeeKey = new(Convert.FromHexString("e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734"));
    private static readonly PaymentHash Hash = PaymentHash.Parse("0001020304050607080900010203040506070809000102030405060708090102");
    private static readonly PaymentSecret Secret = PaymentSecret.Parse(new string('1', 64));

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static Bolt11InvoiceBuilder Base(Bolt11Network network = Bolt11Network.Bitcoin) =>
        new Bolt11InvoiceBuilder(network, 1_700_000_000).PaymentSecret(Secret).PaymentHash(Hash);

    [Theory]
    [InlineData(100_000_000_000UL, "1")]
    [InlineData(2_000_000_000UL, "20m")]
    [InlineData(250_000_000UL, "2500u")]
    [InlineData(1_000UL, "10n")]
    [InlineData(967_878_534UL, "9678785340p")]
    [InlineData(1UL, "10p")]
    public void AmountUsesTheShortestForm(ulong msat, string text)
    {
        Assert.Equal(text, Bolt11InvoiceBuilder.FormatAmount(new MilliSatoshi(msat)));
        var invoice = Base().Amount(new MilliSatoshi(msat)).Description("x").Sign(PayeeKey);
        Assert.Equal("lnbc" + text, invoice.HumanReadablePart);
        Assert.Equal(msat, invoice.Amount!.Value.Value);
    }

    [Theory]
    [InlineData(Bolt11Network.Testnet, "lntb")]
    [InlineData(Bolt11Network.Signet, "lntbs")]
    [InlineData(Bolt11Network.Regtest, "lnbcrt")]
    public void NetworksUseTheirPrefix(Bolt11Network network, string prefix)
    {
        var invoice = Base(network).Amount(new MilliSatoshi(5000)).Description("n").Sign(PayeeKey);
        Assert.StartsWith(prefix + "50n1", invoice.Encoded, StringComparison.Ordinal);
        Assert.Equal(network, Bolt11Invoice.Decode(invoice.Encoded).Network);
    }

    [Fact]
    public void ExplicitPayeeIsCheckedInsteadOfRecovered()
    {
        var payee = new NodeId(PayeeKey.PubKey);
        var invoice = Base().Description("n").PayeeNodeId(payee).Sign(PayeeKey);
        Assert.True(invoice.HasExplicitPayee);
        Assert.Equal(payee, invoice.PayeeNodeId);

        var other = new Key(Enumerable.Repeat((byte)7, 32).ToArray());
        var ex = Assert.Throws<InvoiceFormatException>(() => Base().Description("n").PayeeNodeId(payee).Sign(other));
        Assert.Equal("signature does not match the n field", ex.Reason);
    }

    [Fact]
    public void FallbacksRenderForTheNetwork()
    {
        var invoice = Base(Bolt11Network.Testnet).Description("f")
            .Fallback(new FallbackAddress(0, Convert.FromHexString("751e76e8199196d454941c45d1b3a323f1433bd6")))
            .Fallback(new FallbackAddress(18, new byte[20]))
            .Sign(PayeeKey);
        Assert.Equal(["tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "2MsFDzHRUAMpjHxKyoEHU3aMCMsVtMqs1PV"], invoice.Fallbacks.Select(f => f.ToAddress(invoice.Network)));
    }

    [Fact]
    public void ExpiryComesFromTimestampPlusXAndTheGivenClock()
    {
        var invoice = Base().Description("e").Expiry(120).MinFinalCltvExpiryDelta(144).Sign(PayeeKey);
        Assert.Equal(120UL, invoice.ExpirySeconds);
        Assert.Equal(144UL, invoice.MinFinalCltvExpiryDelta);
        Assert.False(invoice.IsExpired(new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_700_000_120))));
        Assert.True(invoice.IsExpired(new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_700_000_121))));
        var defaults = Base().Description("e").Sign(PayeeKey);
        Assert.Equal((3600UL, 18UL), (defaults.ExpirySeconds, defaults.MinFinalCltvExpiryDelta));
    }

    [Theory]
    [InlineData("both", "both d and h fields present")]
    [InlineData("neither", "missing description (neither d nor h field)")]
    [InlineData("no hash", "missing payment hash (p field)")]
    [InlineData("non-minimal x", "non-minimal x (expiry) field")]
    [InlineData("non-minimal 9", "non-minimal 9 (features) field")]
    [InlineData("unknown even feature", "unknown required feature")]
    [InlineData("mpp without secret feature", "missing feature dependency")]
    [InlineData("bad utf8", "invalid UTF-8 in d (description) field")]
    [InlineData("bad route hint", "malformed r (route hint) field")]
    public void ReaderRules(string rule, string reason)
    {
        var b = new Bolt11InvoiceBuilder(Bolt11Network.Bitcoin, 1_700_000_000).PaymentSecret(Secret);
        switch (rule)
        {
            case "both": b.PaymentHash(Hash).Description("a").DescriptionHash(Bytes32.Zero); break;
            case "neither": b.PaymentHash(Hash); break;
            case "no hash": b.Description("a"); break;
            case "non-minimal x": b.PaymentHash(Hash).Description("a").Raw(Bolt11FieldType.Expiry, [0, 1]); break;
            case "non-minimal 9": b.PaymentHash(Hash).Description("a").Raw(Bolt11FieldType.Features, [0, 1]); break;
            case "unknown even feature": b.PaymentHash(Hash).Description("a").Features(FeatureBits.Of(14, 40)); break;
            case "mpp without secret feature": b.PaymentHash(Hash).Description("a").Features(FeatureBits.Of(8, 17)); break;
            case "bad utf8": b.PaymentHash(Hash).Raw(Bolt11FieldType.Description, Bech32.BytesToWords([0xff, 0xfe])); break;
            case "bad route hint": b.PaymentHash(Hash).Description("a").Raw(Bolt11FieldType.RouteHint, Bech32.BytesToWords(new byte[50])); break;
            default: throw new InvalidOperationException(rule);
        }
        Assert.Equal(reason, Assert.Throws<InvoiceFormatException>(() => b.Sign(PayeeKey)).Reason);
    }

    [Fact]
    public void LargestExpiryAndCltvRoundTripButLargerValuesAreRejected()
    {
        var invoice = Base().Description("big").Expiry(ulong.MaxValue).MinFinalCltvExpiryDelta(ulong.MaxValue - 1).Sign(PayeeKey);
        Assert.Equal(ulong.MaxValue, invoice.ExpirySeconds);
        Assert.Equal(ulong.MaxValue - 1, invoice.MinFinalCltvExpiryDelta);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(253402300799), invoice.ExpiresAt);
        var tooBig = Base().Description("big").Raw(Bolt11FieldType.Expiry, [16, .. new byte[12]]);
        Assert.Equal("x (expiry) value too large", Assert.Throws<InvoiceFormatException>(() => tooBig.Sign(PayeeKey)).Reason);
    }

    [Fact]
    public void DescriptionHashMatchesItsPreimage()
    {
        var hash = new Bytes32(System.Security.Cryptography.SHA256.HashData("long text"u8));
        var invoice = Base().DescriptionHash(hash).Sign(PayeeKey);
        Assert.True(invoice.MatchesDescription("long text"));
        Assert.False(invoice.MatchesDescription("other text"));
    }

    [Theory]
    [InlineData("lnxx1pvjluez")]
    [InlineData("lnbc1")]
    [InlineData("lnbc")]
    [InlineData("")]
    [InlineData("lnbc100000000000000000000000000001pvjluez")]
    public void GarbageIsRejectedWithATypedError(string text)
    {
        var ex = Assert.Throws<InvoiceFormatException>(() => Bolt11Invoice.Decode(text));
        Assert.False(string.IsNullOrWhiteSpace(ex.Reason));
    }

    [Fact]
    public void TryDecodeReportsTheError()
    {
        Assert.False(Bolt11Invoice.TryDecode("lnbc1qqqq", out var invoice, out var error));
        Assert.Null(invoice);
        Assert.NotNull(error);
    }
}
