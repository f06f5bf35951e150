using System.Net;
using Microsoft.AspNetCore.Routing;
using Satflow.Merchant.Accounts;
using Satflow.Server.Api;

namespace Satflow.Server.Tests;

/// <summary>The REST API tests, run once on SQLite and once on PostgreSQL.</summary>
public abstract class ApiTests : IAsyncLifetime
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

    private sealed record ApiRoute(string Method, string Pattern, ApiScope Scope);

    private List<ApiRoute> Routes()
    {
        _ = Factory.CreateClient();
        var sources = Factory.Services.GetService(typeof(IEnumerable<EndpointDataSource>)) as IEnumerable<EndpointDataSource>;
        var routes = new List<ApiRoute>();
        foreach (var e in sources!.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>())
        {
            var pattern = "/" + e.RoutePattern.RawText!.TrimStart('/');
            if (!pattern.StartsWith(ApiEndpoints.Prefix + "/", StringComparison.Ordinal))
            {
                continue;
            }

            var scope = e.Metadata.GetMetadata<ApiScope>();
            Assert.True(scope is not null, $"{pattern} declares no ApiScope");
            foreach (var m in e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods)
            {
                routes.Add(new ApiRoute(m, pattern, scope!));
            }
        }

        return routes;
    }

    private HttpRequestMessage RequestFor(ApiRoute r)
    {
        var url = r.Pattern.Replace("{storeId}", _tenant.Store, StringComparison.Ordinal)
            .Replace("{invoiceId}", "inv1", StringComparison.Ordinal).Replace("{webhookId}", "wh1", StringComparison.Ordinal)
            .Replace("{deliveryId}", "d1", StringComparison.Ordinal).Replace("{pullPaymentId}", "pp1", StringComparison.Ordinal).Replace("{payoutId}", "po1", StringComparison.Ordinal).Replace("{keyId}", "k1", StringComparison.Ordinal).Replace("{paymentRequestId}", "pr1", StringComparison.Ordinal);
        var m = new HttpRequestMessage(new HttpMethod(r.Method), url);
        if (r.Method is "POST" or "PUT")
        {
            m.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
            m.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        }

        return m;
    }

    [Fact]
    public async Task Every_api_endpoint_rejects_a_missing_key_with_401_and_a_bad_key_with_401()
    {
        var routes = Routes();
        Assert.True(routes.Count >= 26, $"only {routes.Count} API routes found");
        using var anonymous = Factory.CreateClient();
        using var wrong = _tenant.Client("sfk_" + new string('1', 44));
        var failures = new List<string>();
        foreach (var r in routes)
        {
            using var a = await anonymous.SendAsync(RequestFor(r));
            if (a.StatusCode != HttpStatusCode.Unauthorized || a.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                failures.Add($"{r.Method} {r.Pattern} without key: {(int)a.StatusCode}");
            }

            using var b = await wrong.SendAsync(RequestFor(r));
            if (b.StatusCode != HttpStatusCode.Unauthorized)
            {
                failures.Add($"{r.Method} {r.Pattern} with an unknown key: {(int)b.StatusCode}");
            }
        }

        Assert.Empty(failures);
    }

    [Fact]
    public async Task Every_scoped_endpoint_rejects_a_key_without_its_scope_with_403()
    {
        var failures = new List<string>();
        var checkedCount = 0;
        foreach (var r in Routes())
        {
            if (r.Scope.Permission is not { } needed)
            {
                Assert.StartsWith(ApiEndpoints.Prefix + "/api-keys", r.Pattern, StringComparison.Ordinal);
                continue;
            }

            var token = await _tenant.KeyWithScopesAsync(Permissions.All.Where(p => p != needed).ToArray());
            using var client = _tenant.Client(token);
            using var response = await client.SendAsync(RequestFor(r));
            checkedCount++;
            if (response.StatusCode != HttpStatusCode.Forbidden)
            {
                failures.Add($"{r.Method} {r.Pattern} without {needed.ToScopeName()}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        Assert.Empty(failures);
        Assert.Equal(30, checkedCount);
    }

    [Fact]
    public async Task A_key_restricted_to_another_store_is_forbidden_and_cannot_mint_wider_keys()
    {
        var other = await Factory.CreateTenantAsync();
        using var c = _tenant.Client(other.Token);
        using var r = await c.GetAsync($"/api/v1/stores/{_tenant.Store}/invoices");
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);

        var limited = await _tenant.KeyWithScopesAsync(Permission.InvoicesView);
        using var lc = _tenant.Client(limited);
        using var mint = await lc.SendAsync(Http.Post("/api/v1/api-keys", new { label = "x", scopes = new[] { "invoices.create" } }));
        Assert.Equal(HttpStatusCode.Forbidden, mint.StatusCode);
        using var ok = await lc.SendAsync(Http.Post("/api/v1/api-keys", new { label = "x", scopes = new[] { "invoices.view" } }));
        var created = await ok.JsonAsync(HttpStatusCode.Created);
        var token = created.GetProperty("token").GetString()!;
        Assert.StartsWith("sfk_", token, StringComparison.Ordinal);

        var keyId = created.GetProperty("key").GetProperty("id").GetString();
        using var list = await lc.GetAsync("/api/v1/api-keys");
        var keys = await list.JsonAsync(HttpStatusCode.OK);
        Assert.Contains(keys.EnumerateArray(), k => k.GetProperty("id").GetString() == keyId);
        Assert.DoesNotContain(token, keys.GetRawText(), StringComparison.Ordinal);
        using var revoke = await lc.DeleteAsync($"/api/v1/api-keys/{keyId}");
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        using var revoked = _tenant.Client(token);
        using var after = await revoked.GetAsync($"/api/v1/stores/{_tenant.Store}/invoices");
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task Stores_create_list_get()
    {
        using var c = _tenant.Client();
        using var created = await c.SendAsync(Http.Post("/api/v1/stores", new { name = "Second", defaultCurrency = "usd" }));
        var store = await created.JsonAsync(HttpStatusCode.Created);
        Assert.Equal("USD", store.GetProperty("defaultCurrency").GetString());
        Assert.Equal("Owner", store.GetProperty("role").GetString());
        var id = store.GetProperty("id").GetString();
        var list = await (await c.GetAsync("/api/v1/stores")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(2, list.GetArrayLength());
        var one = await (await c.GetAsync($"/api/v1/stores/{id}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Second", one.GetProperty("name").GetString());
        using var bad = await c.SendAsync(Http.Post("/api/v1/stores", new { name = "Bad", rateRules = "BTC_USD = ;" }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, bad.StatusCode);
    }

    [Fact]
    public async Task Same_idempotency_key_replays_the_response_and_a_different_body_is_refused()
    {
        using var c = _tenant.Client();
        var url = $"/api/v1/stores/{_tenant.Store}/invoices";
        using var first = await c.SendAsync(Http.Post(url, new { amount = 0.001m, currency = "BTC" }, "key-1"));
        var a = await first.JsonAsync(HttpStatusCode.Created);
        using var second = await c.SendAsync(Http.Post(url, new { amount = 0.001m, currency = "BTC" }, "key-1"));
        var b = await second.JsonAsync(HttpStatusCode.Created);
        Assert.Equal(a.GetProperty("id").GetString(), b.GetProperty("id").GetString());
        Assert.True(second.Headers.Contains(IdempotencyMiddleware.ReplayHeader));
        var list = await (await c.GetAsync(url)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(1, list.GetProperty("items").GetArrayLength());

        using var conflict = await c.SendAsync(Http.Post(url, new { amount = 0.002m, currency = "BTC" }, "key-1"));
        var problem = await conflict.JsonAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("DifferentRequest", problem.GetProperty("code").GetString());

        var missing = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent("{\"amount\":1}", System.Text.Encoding.UTF8, "application/json") };
        using var noKey = await c.SendAsync(missing);
        Assert.Equal(HttpStatusCode.BadRequest, noKey.StatusCode);
        using var badKey = await c.SendAsync(Http.Post(url, new { amount = 1 }, "has space"));
        Assert.Equal(HttpStatusCode.BadRequest, badKey.StatusCode);

        // A key belongs to its API key: another key may reuse the same string.
        var other = await _tenant.KeyWithScopesAsync(Permissions.All.ToArray());
        using var oc = _tenant.Client(other);
        using var third = await oc.SendAsync(Http.Post(url, new { amount = 0.001m, currency = "BTC" }, "key-1"));
        var t = await third.JsonAsync(HttpStatusCode.Created);
        Assert.NotEqual(a.GetProperty("id").GetString(), t.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Concurrent_requests_with_one_idempotency_key_create_one_invoice_and_replay_its_response()
    {
        using var c = _tenant.Client();
        var url = $"/api/v1/stores/{_tenant.Store}/invoices";
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(async _ =>
        {
            using var r = await c.SendAsync(Http.Post(url, new { amount = 0.001m, currency = "BTC", orderId = "same" }, "race-key"));
            return (r.StatusCode, Body: await r.Content.ReadAsStringAsync(), Location: r.Headers.Location?.ToString());
        }));

        // Each request either created/replayed the one invoice (201) or found it still in progress (409).
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{(int)r.StatusCode}: {r.Body}"));
        var created = responses.Where(r => r.StatusCode == HttpStatusCode.Created).ToArray();
        Assert.NotEmpty(created);
        Assert.Single(created.Select(r => r.Body).Distinct());
        var id = System.Text.Json.JsonDocument.Parse(created[0].Body).RootElement.GetProperty("id").GetString();
        Assert.Contains(created, r => r.Location == $"/api/v1/stores/{_tenant.Store}/invoices/{id}");

        var list = await (await c.GetAsync(url)).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(1, list.GetProperty("items").GetArrayLength());

        // After the race, the key replays the stored response byte for byte.
        using var again = await c.SendAsync(Http.Post(url, new { amount = 0.001m, currency = "BTC", orderId = "same" }, "race-key"));
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        Assert.True(again.Headers.Contains(IdempotencyMiddleware.ReplayHeader));
        Assert.Equal(created[0].Body, await again.Content.ReadAsStringAsync());
        Assert.Equal(1, (await (await c.GetAsync(url)).JsonAsync(HttpStatusCode.OK)).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Invoices_create_get_list_filter_page_and_mark()
    {
        using var c = _tenant.Client();
        var url = $"/api/v1/stores/{_tenant.Store}/invoices";
        var created = await (await c.SendAsync(Http.Post(url, new
        {
            amount = 25m, currency = "USD", orderId = "order-7", metadata = new { sku = "tea" }, redirectUrl = "https://shop.example/done", expirySeconds = 600,
        }))).JsonAsync(HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString()!;
        Assert.Equal("New", created.GetProperty("status").GetString());
        Assert.Equal(50_000_000UL, created.GetProperty("amountDueMsat").GetUInt64()); // 25 USD at 50,000 = 50,000 sat
        Assert.Equal("tea", created.GetProperty("metadata").GetProperty("sku").GetString());
        var methods = created.GetProperty("paymentMethods");
        Assert.Equal(1, methods.GetArrayLength());
        Assert.Equal("OnChain", methods[0].GetProperty("method").GetString());
        Assert.StartsWith("bcrt1", methods[0].GetProperty("destination").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("bitcoin:bcrt1", created.GetProperty("paymentUri").GetString(), StringComparison.Ordinal);
        Assert.Equal("/i/" + id, created.GetProperty("checkoutUrl").GetString());

        for (var i = 0; i < 3; i++)
        {
            await (await c.SendAsync(Http.Post(url, new { amount = 1000 + i, currency = "SATS" }))).JsonAsync(HttpStatusCode.Created);
        }

        var got = await (await c.GetAsync($"{url}/{id}")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("order-7", got.GetProperty("orderId").GetString());
        var addresses = new HashSet<string>();
        var all = await (await c.GetAsync(url + "?take=10")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(4, all.GetProperty("items").GetArrayLength());
        foreach (var inv in all.GetProperty("items").EnumerateArray())
        {
            Assert.True(addresses.Add(inv.GetProperty("paymentMethods")[0].GetProperty("destination").GetString()!), "an address was handed out twice");
        }

        var page = await (await c.GetAsync(url + "?skip=1&take=2")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(2, page.GetProperty("items").GetArrayLength());
        var byOrder = await (await c.GetAsync(url + "?orderId=order-7")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(id, Assert.Single(byOrder.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());

        var marked = await (await c.SendAsync(Http.Post($"{url}/{id}/mark", new { status = "Settled" }))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Settled", marked.GetProperty("status").GetString());
        Assert.Equal("Marked", marked.GetProperty("additionalStatus").GetString());
        var settled = await (await c.GetAsync(url + "?status=Settled")).JsonAsync(HttpStatusCode.OK);
        Assert.Single(settled.GetProperty("items").EnumerateArray());

        using var missing = await c.GetAsync($"{url}/nosuchinvoice");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var lightning = await c.SendAsync(Http.Post(url, new { amount = 1000, currency = "SATS", paymentMethods = new[] { "Lightning" } }));
        var p = await lightning.JsonAsync(HttpStatusCode.UnprocessableEntity);
        Assert.Equal("PaymentMethodUnavailable", p.GetProperty("code").GetString());
        using var negative = await c.SendAsync(Http.Post(url, new { amount = -1, currency = "SATS" }));
        Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        using var noRate = await c.SendAsync(Http.Post(url, new { amount = 1, currency = "JPY" }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, noRate.StatusCode);
        using var garbage = await c.SendAsync(Http.Post(url, "{not json"));
        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
    }

    [Fact]
    public async Task Rates_for_the_store_pairs()
    {
        using var c = _tenant.Client();
        var rates = await (await c.GetAsync($"/api/v1/stores/{_tenant.Store}/rates?pair=BTC_USD&pair=BTC_EUR")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(2, rates.GetArrayLength());
        Assert.Equal(50000m, rates[0].GetProperty("bid").GetDecimal());
        Assert.Equal(45000m, rates[1].GetProperty("bid").GetDecimal());
        Assert.Equal(46000m, rates[1].GetProperty("ask").GetDecimal());
        using var bad = await c.GetAsync($"/api/v1/stores/{_tenant.Store}/rates?pair=nonsense");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Secrets_never_appear_in_the_logs()
    {
        using var c = _tenant.Client();
        await (await c.SendAsync(Http.Post($"/api/v1/stores/{_tenant.Store}/invoices", new { amount = 1000, currency = "SATS" }))).JsonAsync(HttpStatusCode.Created);
        var hook = await (await c.SendAsync(Http.Post($"/api/v1/stores/{_tenant.Store}/webhooks", new { url = "http://127.0.0.1:9/hook" }))).JsonAsync(HttpStatusCode.Created);
        var secret = hook.GetProperty("secret").GetString()!;
        using var wrong = _tenant.Client(_tenant.Token + "x");
        await wrong.GetAsync("/api/v1/stores");
        using var malformed = _tenant.Client("not-a-key-" + _tenant.Password);
        await malformed.GetAsync("/api/v1/stores");
        Assert.True(await Factory.Get<Merchant.MerchantService>().LoginAsync("x@example.com", _tenant.Password) is null);
        var logs = string.Join("\n", Factory.Logs.Entries);
        Assert.Contains("satflowd storage", logs, StringComparison.Ordinal);
        foreach (var s in new[] { _tenant.Token, _tenant.Token[4..], _tenant.Password, secret, PostgresFixture.MarkerPassword })
        {
            Assert.DoesNotContain(s, logs, StringComparison.Ordinal);
        }
    }
}

public sealed class SqliteApiTests : ApiTests
{
    protected override ServerFactory CreateFactory() => new();
}

public sealed class PostgresApiTests(PostgresFixture postgres) : ApiTests, IClassFixture<PostgresFixture>
{
    protected override ServerFactory CreateFactory() => new(postgres.ConnectionString);
}
