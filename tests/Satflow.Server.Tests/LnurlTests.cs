using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;
using Satflow.Merchant;
using Satflow.Payouts.Lnurl;
using Satflow.Server.Lnurl;
using Satflow.Server.Payments;

namespace Satflow.Server.Tests;

/// <summary>LNURL-pay (LUD-06), lightning addresses (LUD-16) and LNURL-withdraw (LUD-03) over HTTP, on SQLite and PostgreSQL.</summary>
public abstract class LnurlTests : IAsyncLifetime
{
    private readonly Dictionary<string, StoreId> _addresses = new(StringComparer.Ordinal);

    protected Tenant Tenant { get; private set; } = null!;

    protected ServerFactory Factory { get; private set; } = null!;

    protected abstract string? Postgres { get; }

    public async Task InitializeAsync()
    {
        var lightning = new FakeHashingLightningSource();
        Factory = new ServerFactory(Postgres)
        {
            Extra = b => b.ConfigureServices(s =>
            {
                s.RemoveAll<ILightningInvoiceSource>();
                s.AddSingleton<ILightningInvoiceSource>(lightning);
                s.RemoveAll<LnurlOptions>();
                s.AddSingleton(new LnurlOptions { Addresses = _addresses, MinSendable = new MilliSatoshi(1_000), MaxSendable = new MilliSatoshi(5_000_000), CommentAllowed = 20 });
            }),
        };
        Tenant = await Factory.CreateTenantAsync();
        _addresses["alice"] = Tenant.StoreId;
        _addresses["ghost"] = new StoreId("nosuchstore");
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();

    private static async Task<(HttpStatusCode Status, JsonElement Json, string Text)> GetJsonAsync(HttpClient c, string url)
    {
        using var r = await c.GetAsync(url);
        var text = await r.Content.ReadAsStringAsync();
        Assert.Equal("application/json", r.Content.Headers.ContentType?.MediaType);
        return (r.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), text);
    }

    private static void AssertLnurlError(JsonElement json, string reasonPart)
    {
        Assert.Equal(["reason", "status"], json.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("ERROR", json.GetProperty("status").GetString());
        Assert.Contains(reasonPart, json.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lightning_address_answers_a_payRequest_exactly_per_LUD06_and_LUD16()
    {
        using var c = Factory.CreateClient();
        var (status, json, text) = await GetJsonAsync(c, "/.well-known/lnurlp/alice");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["callback", "commentAllowed", "maxSendable", "metadata", "minSendable", "tag"], json.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("payRequest", json.GetProperty("tag").GetString());
        Assert.Equal("http://localhost/.well-known/lnurlp/alice/callback", json.GetProperty("callback").GetString());
        Assert.Equal(1_000UL, json.GetProperty("minSendable").GetUInt64());
        Assert.Equal(5_000_000UL, json.GetProperty("maxSendable").GetUInt64());
        Assert.Equal(20, json.GetProperty("commentAllowed").GetInt32());
        var metadata = JsonDocument.Parse(json.GetProperty("metadata").GetString()!).RootElement;
        Assert.Equal(JsonValueKind.Array, metadata.ValueKind);
        Assert.Contains(metadata.EnumerateArray(), e => e[0].GetString() == "text/plain" && e[1].GetString() == "Payment to Test shop");
        Assert.Contains(metadata.EnumerateArray(), e => e[0].GetString() == "text/identifier" && e[1].GetString() == "alice@localhost");

        // The wallet side of the library accepts it; upper case user names resolve to the same address.
        var parsed = LnurlPayRequest.Parse(text, allowInsecureLoopback: true);
        Assert.Equal("alice@localhost", parsed.Identifier);
        var (upperStatus, _, upperText) = await GetJsonAsync(c, "/.well-known/lnurlp/ALICE");
        Assert.Equal(HttpStatusCode.OK, upperStatus);
        Assert.Equal(text, upperText);
    }

    [Fact]
    public async Task Callback_returns_a_BOLT11_with_the_metadata_hash_and_creates_a_merchant_invoice()
    {
        using var c = Factory.CreateClient();
        var (_, _, text) = await GetJsonAsync(c, "/.well-known/lnurlp/alice");
        var request = LnurlPayRequest.Parse(text, allowInsecureLoopback: true);
        var amount = new MilliSatoshi(21_000);
        var (status, json, body) = await GetJsonAsync(c, request.BuildCallbackUri(amount, "thanks").ToString());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["pr", "routes"], json.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(0, json.GetProperty("routes").GetArrayLength());
        var invoice = request.VerifyCallbackResponse(body, amount);
        Assert.Equal(request.MetadataHash, invoice.DescriptionHash);
        Assert.Equal(amount, invoice.Amount);

        using var api = Tenant.Client();
        var list = await (await api.GetAsync($"/api/v1/stores/{Tenant.Store}/invoices")).JsonAsync(HttpStatusCode.OK);
        var created = Assert.Single(list.GetProperty("items").EnumerateArray());
        Assert.Equal(21_000UL, created.GetProperty("amountDueMsat").GetUInt64());
        Assert.Equal("BTC", created.GetProperty("currency").GetString());
        Assert.Equal("0.00000021", created.GetProperty("amount").GetString());
        var method = Assert.Single(created.GetProperty("paymentMethods").EnumerateArray());
        Assert.Equal(json.GetProperty("pr").GetString(), method.GetProperty("destination").GetString());
        Assert.Equal(invoice.PaymentHash.ToString(), method.GetProperty("paymentHash").GetString());
        Assert.Equal("thanks", created.GetProperty("metadata").GetProperty("comment").GetString());
        Assert.Equal("alice@localhost", created.GetProperty("metadata").GetProperty("lightningAddress").GetString());
    }

    [Theory]
    [InlineData("?amount=999", "Amount out of range")]
    [InlineData("?amount=5000001", "Amount out of range")]
    [InlineData("?amount=184467440737095516150", "Invalid amount")]
    [InlineData("?amount=12.5", "Invalid amount")]
    [InlineData("?amount=-1000", "Invalid amount")]
    [InlineData("", "Invalid amount")]
    [InlineData("?amount=2000&comment=this-comment-is-far-too-long", "Comment too long")]
    public async Task Callback_refuses_bad_amounts_and_comments_with_an_LNURL_error(string query, string reason)
    {
        using var c = Factory.CreateClient();
        var (status, json, _) = await GetJsonAsync(c, "/.well-known/lnurlp/alice/callback" + query);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertLnurlError(json, reason);
        using var api = Tenant.Client();
        var list = await (await api.GetAsync($"/api/v1/stores/{Tenant.Store}/invoices")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(0, list.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task The_amount_limits_are_inclusive()
    {
        using var c = Factory.CreateClient();
        foreach (var msat in new[] { 1_000UL, 5_000_000UL })
        {
            var (status, json, _) = await GetJsonAsync(c, $"/lnurlp/{Tenant.Store}/callback?amount={msat}");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(new MilliSatoshi(msat), Bolt11Invoice.Decode(json.GetProperty("pr").GetString()!).Amount);
        }
    }

    [Fact]
    public async Task Unknown_addresses_and_stores_get_404_LNURL_errors()
    {
        using var c = Factory.CreateClient();
        foreach (var url in new[] { "/.well-known/lnurlp/bob", "/.well-known/lnurlp/bob/callback?amount=2000", "/.well-known/lnurlp/ghost",
                     "/lnurlp/nosuchstore", "/lnurlp/nosuchstore/callback?amount=2000", "/lnurlp/bad%20id", "/lnurlw/nosuchpull" })
        {
            var (status, json, _) = await GetJsonAsync(c, url);
            Assert.True(status == HttpStatusCode.NotFound, $"{url}: {(int)status}");
            AssertLnurlError(json, "");
        }
    }

    [Fact]
    public async Task Store_LNURL_pay_endpoint_and_its_bech32_link()
    {
        using var api = Tenant.Client();
        var info = await (await api.GetAsync($"/api/v1/stores/{Tenant.Store}/lnurl")).JsonAsync(HttpStatusCode.OK);
        var url = LnurlCodec.Decode(info.GetProperty("lnurl").GetString(), allowInsecureLoopback: true);
        Assert.Equal($"http://localhost/lnurlp/{Tenant.Store}", url.ToString());
        Assert.Equal(["alice@localhost"], info.GetProperty("lightningAddresses").EnumerateArray().Select(e => e.GetString()));

        using var c = Factory.CreateClient();
        var (status, _, text) = await GetJsonAsync(c, url.PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, status);
        var request = LnurlPayRequest.Parse(text, allowInsecureLoopback: true);
        Assert.Null(request.Identifier);
        Assert.Equal("Payment to Test shop", request.Description);
        var (_, _, body) = await GetJsonAsync(c, request.BuildCallbackUri(new MilliSatoshi(3_000)).ToString());
        Assert.Equal(request.MetadataHash, request.VerifyCallbackResponse(body, new MilliSatoshi(3_000)).DescriptionHash);
    }

    [Fact]
    public async Task Pull_payment_LNURL_withdraw_claims_with_the_wallet_invoice()
    {
        using var api = Tenant.Client();
        var pp = await (await api.SendAsync(Http.Post($"/api/v1/stores/{Tenant.Store}/pull-payments",
            new { name = "Refund", amount = 0.0001m, currency = "BTC", maximumClaim = 0.00005m }))).JsonAsync(HttpStatusCode.Created);
        var id = pp.GetProperty("id").GetString()!;
        using var c = Factory.CreateClient();
        var (status, json, text) = await GetJsonAsync(c, $"/lnurlw/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("withdrawRequest", json.GetProperty("tag").GetString());
        var withdraw = LnurlWithdrawRequest.Parse(text, allowInsecureLoopback: true);
        Assert.Equal(new MilliSatoshi(5_000_000), withdraw.MaxWithdrawable);

        var wallet = new FakeLightningSource();
        var bolt11 = (await wallet.CreateInvoiceAsync(new MilliSatoshi(4_000_000), DateTimeOffset.UtcNow.AddHours(1), "withdraw")).Bolt11;
        var (badStatus, bad, _) = await GetJsonAsync(c, $"/lnurlw/{id}/callback?k1=wrong&pr={bolt11}");
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        AssertLnurlError(bad, "k1");
        var (okStatus, ok, okText) = await GetJsonAsync(c, withdraw.BuildCallbackUri(bolt11).PathAndQuery);
        Assert.True(okStatus == HttpStatusCode.OK, okText);
        Assert.Equal("OK", ok.GetProperty("status").GetString());

        var payouts = await (await api.GetAsync($"/api/v1/stores/{Tenant.Store}/payouts?pullPaymentId={id}")).JsonAsync(HttpStatusCode.OK);
        var payout = Assert.Single(payouts.EnumerateArray());
        Assert.Equal(bolt11, payout.GetProperty("destination").GetString());
        Assert.Equal(0.00004m, payout.GetProperty("amount").GetDecimal());
        var (againStatus, again, _) = await GetJsonAsync(c, withdraw.BuildCallbackUri(bolt11).PathAndQuery);
        Assert.Equal(HttpStatusCode.BadRequest, againStatus);
        AssertLnurlError(again, "");
    }

    [Fact]
    public void Options_read_addresses_and_limits_and_refuse_bad_values()
    {
        static LnurlOptions Read(params (string Key, string Value)[] pairs) =>
            LnurlOptions.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))).Build());

        var o = Read(("lnurl:addresses:Alice", "store1"), ("lnurl:min-sendable-msat", "5000"), ("lnurl:max-sendable-msat", "9000"), ("lnurl:comment-allowed", "0"),
            ("lnurl:public-url", "https://pay.example.com/"));
        Assert.Equal(new StoreId("store1"), o.Addresses["alice"]);
        Assert.Equal(new MilliSatoshi(5000), o.MinSendable);
        Assert.Equal(new MilliSatoshi(9000), o.MaxSendable);
        Assert.Equal(0, o.CommentAllowed);
        Assert.Equal("https://pay.example.com/", o.PublicUrl!.ToString());
        Assert.Equal(LnurlOptions.DefaultMaxSendable, Read().MaxSendable);
        foreach (var bad in new[]
                 {
                     ("lnurl:addresses:al ice", "s"), ("lnurl:addresses:bob", " "), ("lnurl:min-sendable-msat", "0"), ("lnurl:min-sendable-msat", "x"),
                     ("lnurl:max-sendable-msat", "999"), ("lnurl:comment-allowed", "5000"), ("lnurl:public-url", "ftp://x"),
                 })
        {
            var e = Assert.Throws<MerchantException>(() => Read(bad));
            Assert.Equal(MerchantErrorReason.InvalidConfiguration, e.Reason);
        }
    }
}

public sealed class SqliteLnurlTests : LnurlTests
{
    protected override string? Postgres => null;
}

public sealed class PostgresLnurlTests(PostgresFixture postgres) : LnurlTests, IClassFixture<PostgresFixture>
{
    protected override string? Postgres => postgres.ConnectionString;
}

/// <summary>A source without description-hash support: the invoice carries the metadata's text instead.</summary>
public sealed class LnurlPlainSourceTests : IAsyncLifetime
{
    private ServerFactory _factory = null!;

    public Task InitializeAsync()
    {
        _factory = new ServerFactory
        {
            Extra = b => b.ConfigureServices(s =>
            {
                s.RemoveAll<ILightningInvoiceSource>();
                s.AddSingleton<ILightningInvoiceSource>(new FakeLightningSource());
            }),
        };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public async Task A_source_without_description_hashes_gets_the_text_description()
    {
        var tenant = await _factory.CreateTenantAsync();
        using var c = _factory.CreateClient();
        using var r = await c.GetAsync($"/lnurlp/{tenant.Store}/callback?amount=2000");
        var json = await r.JsonAsync(HttpStatusCode.OK);
        var invoice = Bolt11Invoice.Decode(json.GetProperty("pr").GetString()!);
        Assert.Equal("Payment to Test shop", invoice.Description);
        Assert.Null(invoice.DescriptionHash);
    }
}

/// <summary>Without a Lightning node the callback answers a clear LNURL error.</summary>
public sealed class LnurlUnavailableTests : IAsyncLifetime
{
    private ServerFactory _factory = null!;

    public Task InitializeAsync()
    {
        _factory = new ServerFactory();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public async Task Callback_without_Lightning_is_an_LNURL_error()
    {
        var tenant = await _factory.CreateTenantAsync();
        using var c = _factory.CreateClient();
        using var r = await c.GetAsync($"/lnurlp/{tenant.Store}/callback?amount=2000");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
        var json = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("ERROR", json.GetProperty("status").GetString());
        Assert.Contains("Lightning is unavailable", json.GetProperty("reason").GetString(), StringComparison.Ordinal);
    }
}
