using System.Net;
using System.Text.Json;
using Satflow.Merchant.Accounts;

namespace Satflow.Server.Tests;

/// <summary>Payment requests through the API and the public page, on SQLite and PostgreSQL.</summary>
public abstract class PaymentRequestTests : IAsyncLifetime
{
    private Tenant _tenant = null!;

    protected abstract ServerFactory CreateFactory();

    protected ServerFactory Factory { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Factory = CreateFactory();
        _tenant = await Factory.CreateTenantAsync();
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();

    private string Url => $"/api/v1/stores/{_tenant.Store}/payment-requests";

    private async Task<JsonElement> CreateAsync(HttpClient c, object body) =>
        await (await c.SendAsync(Http.Post(Url, body))).JsonAsync(HttpStatusCode.Created);

    private async Task SettleAsync(HttpClient c, string invoiceId) =>
        await (await c.SendAsync(Http.Post($"/api/v1/stores/{_tenant.Store}/invoices/{invoiceId}/mark", new { status = "Settled" }))).JsonAsync(HttpStatusCode.OK);

    [Fact]
    public async Task Lifecycle_create_list_get_pay_settle_complete()
    {
        using var c = _tenant.Client();
        var created = await CreateAsync(c, new { title = "Invoice #7", description = "Consulting", amount = 100m, currency = "usd" });
        var id = created.GetProperty("id").GetString()!;
        Assert.Equal("Pending", created.GetProperty("status").GetString());
        Assert.Equal("USD", created.GetProperty("currency").GetString());
        Assert.Equal(100m, created.GetProperty("amountDue").GetDecimal());
        Assert.Equal("/pr/" + id, created.GetProperty("pageUrl").GetString());

        var list = await (await c.GetAsync(Url)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(id, Assert.Single(list.EnumerateArray()).GetProperty("id").GetString());

        var invoice = await (await c.SendAsync(Http.Post($"{Url}/{id}/invoices", new { }))).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("100", invoice.GetProperty("amount").GetString());
        Assert.Equal("USD", invoice.GetProperty("currency").GetString());
        Assert.Equal("payreq:" + id, invoice.GetProperty("orderId").GetString());
        Assert.Equal(200_000_000UL, invoice.GetProperty("amountDueMsat").GetUInt64()); // 100 USD at 50,000 USD/BTC

        // Not paid yet: still pending and the whole amount due.
        var pending = await (await c.GetAsync($"{Url}/{id}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Pending", pending.GetProperty("status").GetString());
        Assert.Equal(0m, pending.GetProperty("amountPaid").GetDecimal());

        await SettleAsync(c, invoice.GetProperty("id").GetString()!);
        var done = await (await c.GetAsync($"{Url}/{id}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Completed", done.GetProperty("status").GetString());
        Assert.Equal(100m, done.GetProperty("amountPaid").GetDecimal());
        Assert.Equal(0m, done.GetProperty("amountDue").GetDecimal());
        Assert.Equal(invoice.GetProperty("id").GetString(), Assert.Single(done.GetProperty("payments").EnumerateArray()).GetProperty("invoiceId").GetString());

        // Reading again counts nothing twice; a completed request takes no more invoices.
        var again = await (await c.GetAsync($"{Url}/{id}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(1, again.GetProperty("payments").GetArrayLength());
        using var refused = await c.SendAsync(Http.Post($"{Url}/{id}/invoices", new { }));
        Assert.Equal("NotActive", (await refused.JsonAsync(HttpStatusCode.UnprocessableEntity)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Partial_payments_and_limits()
    {
        using var c = _tenant.Client();
        var id = (await CreateAsync(c, new { title = "Rent", amount = 0.01m, currency = "BTC", allowPartialPayments = true })).GetProperty("id").GetString()!;
        var part = await (await c.SendAsync(Http.Post($"{Url}/{id}/invoices", new { amount = 0.004m }))).JsonAsync(HttpStatusCode.Created);
        await SettleAsync(c, part.GetProperty("id").GetString()!);
        var after = await (await c.GetAsync($"{Url}/{id}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(0.006m, after.GetProperty("amountDue").GetDecimal());
        Assert.Equal("Pending", after.GetProperty("status").GetString());

        using var tooMuch = await c.SendAsync(Http.Post($"{Url}/{id}/invoices", new { amount = 0.007m }));
        Assert.Equal("LimitExceeded", (await tooMuch.JsonAsync(HttpStatusCode.UnprocessableEntity)).GetProperty("code").GetString());
        var rest = await (await c.SendAsync(Http.Post($"{Url}/{id}/invoices", new { }))).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("0.006", rest.GetProperty("amount").GetString());

        var whole = (await CreateAsync(c, new { title = "Whole", amount = 1m, currency = "BTC" })).GetProperty("id").GetString()!;
        using var partial = await c.SendAsync(Http.Post($"{Url}/{whole}/invoices", new { amount = 0.5m }));
        Assert.Equal("LimitExceeded", (await partial.JsonAsync(HttpStatusCode.UnprocessableEntity)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Archive_validation_and_other_stores()
    {
        using var c = _tenant.Client();
        var id = (await CreateAsync(c, new { title = "Old", amount = 5m })).GetProperty("id").GetString()!;
        var archived = await (await c.SendAsync(Http.Post($"{Url}/{id}/archive", new { }))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Archived", archived.GetProperty("status").GetString());
        Assert.True(archived.GetProperty("archived").GetBoolean());
        using var pay = await c.SendAsync(Http.Post($"{Url}/{id}/invoices", new { }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, pay.StatusCode);

        using var noTitle = await c.SendAsync(Http.Post(Url, new { title = "", amount = 5m }));
        Assert.Equal("InvalidArgument", (await noTitle.JsonAsync(HttpStatusCode.BadRequest)).GetProperty("code").GetString());
        using var negative = await c.SendAsync(Http.Post(Url, new { title = "x", amount = -1m }));
        Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        using var past = await c.SendAsync(Http.Post(Url, new { title = "x", amount = 1m, expiresAt = DateTimeOffset.UtcNow.AddDays(-1) }));
        Assert.Equal(HttpStatusCode.BadRequest, past.StatusCode);
        using var missing = await c.GetAsync($"{Url}/nosuchrequest");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        var other = await Factory.CreateTenantAsync();
        using var oc = other.Client();
        using var foreign = await oc.GetAsync($"/api/v1/stores/{other.Store}/payment-requests/{id}");
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        var theirs = await (await oc.GetAsync($"/api/v1/stores/{other.Store}/payment-requests")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(0, theirs.GetArrayLength());
    }

    [Fact]
    public async Task Idempotency_key_replays_a_creation()
    {
        using var c = _tenant.Client();
        using var first = await c.SendAsync(Http.Post(Url, new { title = "Once", amount = 1m }, "pr-key"));
        var a = await first.JsonAsync(HttpStatusCode.Created);
        using var second = await c.SendAsync(Http.Post(Url, new { title = "Once", amount = 1m }, "pr-key"));
        var b = await second.JsonAsync(HttpStatusCode.Created);
        Assert.Equal(a.GetProperty("id").GetString(), b.GetProperty("id").GetString());
        Assert.True(second.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(1, (await (await c.GetAsync(Url)).JsonAsync(HttpStatusCode.OK)).GetArrayLength());
        using var noKey = await c.SendAsync(new HttpRequestMessage(HttpMethod.Post, Url) { Content = new StringContent("{\"title\":\"x\",\"amount\":1}", System.Text.Encoding.UTF8, "application/json") });
        Assert.Equal(HttpStatusCode.BadRequest, noKey.StatusCode);
    }

    [Fact]
    public async Task New_routes_need_a_key_and_their_scope()
    {
        using var c = _tenant.Client();
        var id = (await CreateAsync(c, new { title = "Scoped", amount = 1m })).GetProperty("id").GetString()!;
        var cases = new (HttpMethod Method, string Path, Permission Scope)[]
        {
            (HttpMethod.Post, Url, Permission.InvoicesManage),
            (HttpMethod.Get, Url, Permission.InvoicesView),
            (HttpMethod.Get, $"{Url}/{id}", Permission.InvoicesView),
            (HttpMethod.Post, $"{Url}/{id}/invoices", Permission.InvoicesCreate),
            (HttpMethod.Get, $"/api/v1/stores/{_tenant.Store}/lnurl", Permission.StoresView),
            (HttpMethod.Post, $"{Url}/{id}/archive", Permission.InvoicesManage),
        };
        using var anonymous = Factory.CreateClient();
        foreach (var (method, path, scope) in cases)
        {
            HttpRequestMessage Make() => method == HttpMethod.Post ? Http.Post(path, new { title = "x", amount = 1m }) : new HttpRequestMessage(method, path);
            using var unauth = await anonymous.SendAsync(Make());
            Assert.Equal(HttpStatusCode.Unauthorized, unauth.StatusCode);
            using var limited = _tenant.Client(await _tenant.KeyWithScopesAsync(Permissions.All.Where(p => p != scope).ToArray()));
            using var forbidden = await limited.SendAsync(Make());
            Assert.True(forbidden.StatusCode == HttpStatusCode.Forbidden, $"{method} {path}: {(int)forbidden.StatusCode}");
            using var allowed = _tenant.Client(await _tenant.KeyWithScopesAsync(scope));
            using var ok = await allowed.SendAsync(Make());
            Assert.True((int)ok.StatusCode is >= 200 and < 300, $"{method} {path} with {scope.ToScopeName()}: {(int)ok.StatusCode}");
        }
    }

    [Fact]
    public async Task Public_page_shows_the_request_and_its_form_creates_an_invoice()
    {
        using var c = _tenant.Client();
        var id = (await CreateAsync(c, new { title = "Tea <b>club</b>", description = "Monthly", amount = 0.002m, currency = "BTC", allowPartialPayments = true }))
            .GetProperty("id").GetString()!;
        using var browser = Factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        using var page = await browser.GetAsync($"/pr/{id}");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("Tea &lt;b&gt;club&lt;/b&gt;", html, StringComparison.Ordinal);
        Assert.Contains("0.002 BTC", html, StringComparison.Ordinal);
        Assert.Contains($"action=\"/pr/{id}/pay\"", html, StringComparison.Ordinal);
        Assert.Contains("form-action 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        using var pay = await browser.PostAsync($"/pr/{id}/pay", new FormUrlEncodedContent([new KeyValuePair<string, string>("amount", "0.0005")]));
        Assert.Equal(HttpStatusCode.Redirect, pay.StatusCode);
        var location = pay.Headers.Location!.ToString();
        Assert.StartsWith("/i/", location, StringComparison.Ordinal);
        var invoice = await (await c.GetAsync($"/api/v1/stores/{_tenant.Store}/invoices/{location[3..]}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("0.0005", invoice.GetProperty("amount").GetString());
        using var checkout = await browser.GetAsync(location);
        Assert.Equal(HttpStatusCode.OK, checkout.StatusCode);

        using var tooMuch = await browser.PostAsync($"/pr/{id}/pay", new FormUrlEncodedContent([new KeyValuePair<string, string>("amount", "1")]));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooMuch.StatusCode);
        Assert.Contains("role=\"alert\"", await tooMuch.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var notNumber = await browser.PostAsync($"/pr/{id}/pay", new FormUrlEncodedContent([new KeyValuePair<string, string>("amount", "lots")]));
        Assert.Equal(HttpStatusCode.BadRequest, notNumber.StatusCode);

        await SettleAsync(c, location[3..]);
        var paid = await (await browser.GetAsync($"/pr/{id}")).Content.ReadAsStringAsync();
        Assert.Contains("0.0015 BTC", paid, StringComparison.Ordinal);

        await (await c.SendAsync(Http.Post($"{Url}/{id}/archive", new { }))).JsonAsync(HttpStatusCode.OK);
        var closed = await (await browser.GetAsync($"/pr/{id}")).Content.ReadAsStringAsync();
        Assert.Contains("data-status=\"Archived\"", closed, StringComparison.Ordinal);
        Assert.DoesNotContain("<form", closed, StringComparison.Ordinal);
        using var archivedPay = await browser.PostAsync($"/pr/{id}/pay", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Conflict, archivedPay.StatusCode);

        using var missing = await browser.GetAsync("/pr/nosuchrequest");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var junk = await browser.GetAsync("/pr/bad!id");
        Assert.Equal(HttpStatusCode.NotFound, junk.StatusCode);
    }
}

public sealed class SqlitePaymentRequestTests : PaymentRequestTests
{
    protected override ServerFactory CreateFactory() => new();
}

public sealed class PostgresPaymentRequestTests(PostgresFixture postgres) : PaymentRequestTests, IClassFixture<PostgresFixture>
{
    protected override ServerFactory CreateFactory() => new(postgres.ConnectionString);
}
