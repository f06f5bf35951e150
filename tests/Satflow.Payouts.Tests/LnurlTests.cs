using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CsCheck;
using Satflow.Lightning.Types;
using Satflow.Payouts.Lnurl;

namespace Satflow.Payouts.Tests;

public sealed class LnurlTests
{
    // The example in LUD-01.
    private const string SpecLnurl = "LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HXQURZEPEXEJXXEPNXSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNS";
    private const string SpecUrl = "https://service.com/api?q=3fc3645b439ce8e7f2553a69e5267081d96dcd340693afabe04be7b0ccd178df";

    private static LnurlError Error(Action action) => Assert.Throws<LnurlException>(action).Error;

    [Fact]
    public void Lud01_example_decodes_and_encodes()
    {
        Assert.Equal(SpecUrl, LnurlCodec.Decode(SpecLnurl).OriginalString);
        Assert.Equal(SpecUrl, LnurlCodec.Decode("lightning:" + SpecLnurl.ToLowerInvariant()).OriginalString);
        Assert.Equal(SpecLnurl, LnurlCodec.Encode(new Uri(SpecUrl), upperCase: true));
        Assert.Equal(SpecLnurl.ToLowerInvariant(), LnurlCodec.Encode(new Uri(SpecUrl)));
    }

    [Fact]
    public void Long_urls_round_trip_beyond_the_bip173_limit()
    {
        var url = new Uri("https://example.com/lnurlp/" + new string('x', 400) + "?tag=withdraw&k1=" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
        var encoded = LnurlCodec.Encode(url);
        Assert.True(encoded.Length > 90);
        Assert.Equal(url.OriginalString, LnurlCodec.Decode(encoded).OriginalString);
    }

    [Fact]
    public void Service_url_rules()
    {
        Assert.Equal(LnurlError.InvalidUrl, Error(() => LnurlCodec.Encode(new Uri("http://example.com/x"))));
        Assert.Equal("http://abcdefghijklmnop.onion/x", LnurlCodec.Decode(LnurlCodec.Encode(new Uri("http://abcdefghijklmnop.onion/x"))).OriginalString);
        Assert.Equal(LnurlError.InvalidUrl, Error(() => LnurlCodec.Encode(new Uri("http://127.0.0.1:8080/x"))));
        Assert.Equal("http://127.0.0.1:8080/x", LnurlCodec.Decode(LnurlCodec.Encode(new Uri("http://127.0.0.1:8080/x"), allowInsecureLoopback: true), allowInsecureLoopback: true).OriginalString);
        var http = Bech32Of("http://example.com/x");
        Assert.Equal(LnurlError.InvalidUrl, Error(() => LnurlCodec.Decode(http)));
        Assert.Equal(LnurlError.InvalidUrl, Error(() => LnurlCodec.Decode(Bech32Of("not a url"))));
        Assert.Equal(LnurlError.InvalidUrl, Error(() => LnurlCodec.Decode(Bech32Of("https://user:pw@example.com/"))));
    }

    private static string Bech32Of(string text, string hrp = "lnurl") =>
        Satflow.Lightning.Codecs.Bech32.Encode(hrp, Satflow.Lightning.Codecs.Bech32.BytesToWords(Encoding.UTF8.GetBytes(text)));

    [Theory]
    [InlineData("")]
    [InlineData("lnurl")]
    [InlineData("lightning:abcd")]
    [InlineData("lnurl1qqqqqq")]
    [InlineData("LNURL1DP68GURN8GHJ7UM9WFMXJCM99E3K7MF0V9CXJ0M385EKVCENXC6R2C35XVUKXEFCV5MKVV34X5EKZD3EV56NYD3HXQURZEPEXEJXXEPNXSCRVWFNV9NXZCN9XQ6XYEFHVGCXXCMYXYMNSERXFQ5FNT")]
    [InlineData("LNURL1dp68gurn8ghj7um9wfmxjcm99e3k7mf0v9cxj0m385ekvcenxc6r2c35xvukxefcv5mkvv34x5ekzd3ev56nyd3hxqurzepexejxxepnxscrvwfnv9nxzcn9xq6xyefhvgcxxcmyxymnserxfq5fns")]
    public void Malformed_lnurls_are_encoding_errors(string text) =>
        Assert.Equal(LnurlError.InvalidEncoding, Error(() => LnurlCodec.Decode(text)));

    [Fact]
    public void Another_prefix_or_non_utf8_payload_is_refused()
    {
        Assert.Equal(LnurlError.InvalidEncoding, Error(() => LnurlCodec.Decode(Bech32Of(SpecUrl, "lnurx"))));
        var notUtf8 = Satflow.Lightning.Codecs.Bech32.Encode("lnurl", Satflow.Lightning.Codecs.Bech32.BytesToWords(new byte[] { 0xff, 0xfe, 0x41 }));
        Assert.Equal(LnurlError.InvalidEncoding, Error(() => LnurlCodec.Decode(notUtf8)));
    }

    [Fact]
    public void Random_strings_and_mutations_only_raise_lnurl_exceptions()
    {
        static void Decode(string s)
        {
            try
            {
                LnurlCodec.Decode(s);
            }
            catch (LnurlException)
            {
                // The only failure allowed.
            }
        }

        Gen.String.Sample(Decode, iter: 3000);
        Gen.Char['!', '~'].Array[0, 120].Select(c => "lnurl1" + new string(c)).Sample(Decode, iter: 3000);
        Gen.Int[0, SpecLnurl.Length - 1].Select(Gen.Char).Sample((i, c) => Decode(SpecLnurl[..i] + c + SpecLnurl[(i + 1)..]), iter: 3000);
        Gen.String.Sample(s =>
        {
            foreach (var parse in new Action[] { () => LnurlPayRequest.Parse(s), () => LnurlWithdrawRequest.Parse(s), () => LightningAddress.Parse(s), () => LnurlStatus.EnsureOk(s) })
            {
                try
                {
                    parse();
                }
                catch (LnurlException)
                {
                    // Expected.
                }
            }
        }, iter: 2000);
    }

    private static LnurlPayRequest PayRequest(int? comment = null) =>
        LnurlPayRequest.Create(new Uri("https://shop.example/lnurlp/cb?store=s1"), new MilliSatoshi(1000), new MilliSatoshi(1_000_000_000),
            "Pay Satflow shop", LightningAddress.Parse("shop@shop.example"), comment);

    [Fact]
    public void Pay_request_round_trips_and_hashes_its_metadata()
    {
        var request = PayRequest(140);
        var json = request.ToJson();
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.Equal("payRequest", doc.RootElement.GetProperty("tag").GetString());
            Assert.Equal(1000, doc.RootElement.GetProperty("minSendable").GetInt64());
        }

        var parsed = LnurlPayRequest.Parse(json);
        Assert.Equal(request.Metadata, parsed.Metadata);
        Assert.Equal("Pay Satflow shop", parsed.Description);
        Assert.Equal("shop@shop.example", parsed.Identifier);
        Assert.Equal(new Bytes32(SHA256.HashData(Encoding.UTF8.GetBytes(request.Metadata))), parsed.MetadataHash);
        Assert.Equal("[[\"text/plain\",\"Pay Satflow shop\"],[\"text/identifier\",\"shop@shop.example\"]]", request.Metadata);
        Assert.Equal("https://shop.example/lnurlp/cb?store=s1&amount=5000&comment=thanks%21", parsed.BuildCallbackUri(new MilliSatoshi(5000), "thanks!").AbsoluteUri);
    }

    [Fact]
    public void Pay_callbacks_are_validated_on_both_sides()
    {
        var request = PayRequest(10);
        var callback = request.ValidateCallback("2000", "hi");
        Assert.Equal(new MilliSatoshi(2000), callback.Amount);
        Assert.Equal(request.MetadataHash, callback.DescriptionHash);
        Assert.Equal(LnurlError.AmountOutOfRange, Error(() => request.ValidateCallback("999", null)));
        Assert.Equal(LnurlError.AmountOutOfRange, Error(() => request.ValidateCallback("1000000001", null)));
        Assert.Equal(LnurlError.InvalidField, Error(() => request.ValidateCallback("1e3", null)));
        Assert.Equal(LnurlError.InvalidField, Error(() => request.ValidateCallback(null, null)));
        Assert.Equal(LnurlError.CommentTooLong, Error(() => request.ValidateCallback("2000", new string('c', 11))));
        Assert.Equal(LnurlError.CommentTooLong, Error(() => PayRequest().BuildCallbackUri(new MilliSatoshi(2000), "x")));

        // Wallet side: the invoice must commit to the metadata and carry the amount asked.
        var good = Kit.Invoice(new MilliSatoshi(2000), DateTimeOffset.UtcNow, descriptionHash: request.MetadataHash);
        Assert.Equal(new MilliSatoshi(2000), request.VerifyCallbackResponse($"{{\"pr\":\"{good}\",\"routes\":[]}}", new MilliSatoshi(2000)).Amount);
        Assert.Equal(LnurlError.InvalidInvoice, Error(() => request.VerifyCallbackResponse($"{{\"pr\":\"{good}\"}}", new MilliSatoshi(3000))));
        var wrongHash = Kit.Invoice(new MilliSatoshi(2000), DateTimeOffset.UtcNow, descriptionHash: new Bytes32(new byte[32]));
        Assert.Equal(LnurlError.MetadataMismatch, Error(() => request.VerifyCallbackResponse($"{{\"pr\":\"{wrongHash}\"}}", new MilliSatoshi(2000))));
        Assert.Equal(LnurlError.InvalidInvoice, Error(() => request.VerifyCallbackResponse("{\"pr\":\"lnbc1nope\"}", new MilliSatoshi(2000))));
        var service = Assert.Throws<LnurlException>(() => request.VerifyCallbackResponse(LnurlStatus.ErrorJson("amount too small"), new MilliSatoshi(2000)));
        Assert.Equal(LnurlError.ServiceError, service.Error);
        Assert.Contains("amount too small", service.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"tag\":\"withdrawRequest\",\"callback\":\"https://a.example/cb\",\"minSendable\":1,\"maxSendable\":2,\"metadata\":\"[[\\\"text/plain\\\",\\\"x\\\"]]\"}", LnurlError.WrongTag)]
    [InlineData("{\"tag\":\"payRequest\",\"callback\":\"http://a.example/cb\",\"minSendable\":1,\"maxSendable\":2,\"metadata\":\"[[\\\"text/plain\\\",\\\"x\\\"]]\"}", LnurlError.InvalidUrl)]
    [InlineData("{\"tag\":\"payRequest\",\"callback\":\"https://a.example/cb\",\"minSendable\":3,\"maxSendable\":2,\"metadata\":\"[[\\\"text/plain\\\",\\\"x\\\"]]\"}", LnurlError.InvalidField)]
    [InlineData("{\"tag\":\"payRequest\",\"callback\":\"https://a.example/cb\",\"minSendable\":0,\"maxSendable\":2,\"metadata\":\"[[\\\"text/plain\\\",\\\"x\\\"]]\"}", LnurlError.InvalidField)]
    [InlineData("{\"tag\":\"payRequest\",\"callback\":\"https://a.example/cb\",\"minSendable\":-1,\"maxSendable\":2,\"metadata\":\"[[\\\"text/plain\\\",\\\"x\\\"]]\"}", LnurlError.InvalidField)]
    [InlineData("{\"tag\":\"payRequest\",\"callback\":\"https://a.example/cb\",\"minSendable\":1.5,\"maxSendable\":2,\"metadata\":\"[[\\\"text/plain\\\",\\\"x\\\"]]\"}", LnurlError.InvalidField)]
    [InlineData("{\"tag\":\"payRequest\",\"callback\":\"https://a.example/cb\",\"minSendable\":1,\"maxSendable\":2,\"metadata\":\"[[\\\"image/png;base64\\\",\\\"x\\\"]]\"}", LnurlError.MetadataMismatch)]
    [InlineData("{\"tag\":\"payRequest\",\"callback\":\"https://a.example/cb\",\"minSendable\":1,\"maxSendable\":2,\"metadata\":\"[[\\\"text/plain\\\",\\\"x\\\"],[\\\"text/plain\\\",\\\"y\\\"]]\"}", LnurlError.MetadataMismatch)]
    [InlineData("{\"tag\":\"payRequest\",\"callback\":\"https://a.example/cb\",\"minSendable\":1,\"maxSendable\":2,\"metadata\":\"not json\"}", LnurlError.MetadataMismatch)]
    [InlineData("{\"tag\":\"payRequest\",\"callback\":\"https://a.example/cb\",\"minSendable\":1,\"maxSendable\":2}", LnurlError.InvalidField)]
    [InlineData("[1,2]", LnurlError.InvalidJson)]
    [InlineData("{", LnurlError.InvalidJson)]
    [InlineData("{\"status\":\"ERROR\",\"reason\":\"nope\"}", LnurlError.ServiceError)]
    public void Invalid_pay_requests_are_typed_errors(string json, LnurlError expected) =>
        Assert.Equal(expected, Error(() => LnurlPayRequest.Parse(json)));

    [Fact]
    public void Withdraw_request_round_trips_and_validates_callbacks()
    {
        var request = new LnurlWithdrawRequest
        {
            Callback = new Uri("https://shop.example/withdraw/cb"),
            K1 = "pull123",
            DefaultDescription = "Refund",
            MinWithdrawable = new MilliSatoshi(1000),
            MaxWithdrawable = new MilliSatoshi(50_000),
        };
        var parsed = LnurlWithdrawRequest.Parse(request.ToJson());
        Assert.Equal(request, parsed);

        var invoice = Kit.Invoice(new MilliSatoshi(20_000), DateTimeOffset.UtcNow);
        var uri = parsed.BuildCallbackUri(invoice);
        Assert.StartsWith("https://shop.example/withdraw/cb?k1=pull123&pr=lnbcrt", uri.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal(new MilliSatoshi(20_000), parsed.ValidateCallback("pull123", invoice).Amount);
        Assert.Equal(LnurlError.InvalidField, Error(() => parsed.ValidateCallback("other", invoice)));
        Assert.Equal(LnurlError.InvalidInvoice, Error(() => parsed.ValidateCallback("pull123", Kit.Invoice(null, DateTimeOffset.UtcNow))));
        Assert.Equal(LnurlError.AmountOutOfRange, Error(() => parsed.ValidateCallback("pull123", Kit.Invoice(new MilliSatoshi(60_000), DateTimeOffset.UtcNow))));
        Assert.Equal(LnurlError.InvalidInvoice, Error(() => parsed.ValidateCallback("pull123", "garbage")));
        Assert.Equal(LnurlError.WrongTag, Error(() => LnurlWithdrawRequest.Parse(PayRequest().ToJson())));
        LnurlStatus.EnsureOk(LnurlStatus.OkJson);
        Assert.Equal(LnurlError.ServiceError, Error(() => LnurlStatus.EnsureOk(LnurlStatus.ErrorJson("already claimed"))));
        Assert.Equal(LnurlError.InvalidField, Error(() => LnurlStatus.EnsureOk("{}")));
    }

    [Theory]
    [InlineData("alice@example.com", "https://example.com/.well-known/lnurlp/alice")]
    [InlineData("Alice.B-c_d+tip@Pay.Example.COM", "https://pay.example.com/.well-known/lnurlp/alice.b-c_d%2Btip")]
    [InlineData("lightning:bob@sub.example.org:8443", "https://sub.example.org:8443/.well-known/lnurlp/bob")]
    [InlineData("carol@abcdefghijklmnop.onion", "http://abcdefghijklmnop.onion/.well-known/lnurlp/carol")]
    public void Lightning_addresses_map_to_their_pay_url(string address, string url) =>
        Assert.Equal(url, LightningAddress.Parse(address).PayRequestUri.AbsoluteUri);

    [Theory]
    [InlineData("")]
    [InlineData("alice")]
    [InlineData("@example.com")]
    [InlineData("alice@")]
    [InlineData("a@b@example.com")]
    [InlineData("al ice@example.com")]
    [InlineData("alice@localhost")]
    [InlineData("alice@127.0.0.1:8080")]
    [InlineData("alice@example")]
    [InlineData("alice@-bad.example.com")]
    [InlineData("alice@exa_mple.com")]
    [InlineData("alice@example.com:99999")]
    [InlineData("alice@1.2.3.4")]
    [InlineData("al/ice@example.com")]
    public void Invalid_lightning_addresses_are_typed_errors(string address)
    {
        Assert.Equal(LnurlError.InvalidLightningAddress, Error(() => LightningAddress.Parse(address)));
        Assert.False(LightningAddress.TryParse(address, out _));
    }

    [Fact]
    public void Loopback_addresses_are_allowed_only_when_asked()
    {
        var address = LightningAddress.Parse("alice@127.0.0.1:8080", allowInsecureLoopback: true);
        Assert.Equal("http://127.0.0.1:8080/.well-known/lnurlp/alice", address.PayRequestUri.AbsoluteUri);
        Assert.Equal("alice@127.0.0.1:8080", address.ToString());
        Assert.Equal("http://localhost/.well-known/lnurlp/bob", LightningAddress.Parse("bob@localhost", allowInsecureLoopback: true).PayRequestUri.AbsoluteUri);
    }
}
