using System.Net;
using System.Text.RegularExpressions;
using CsCheck;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using NBitcoin;
using Satflow.Lightning.Types;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;
using Satflow.Node.Api;
using Satflow.Payouts;
using Satflow.Server.Dashboard;
using Satflow.Webhooks;

namespace Satflow.Server.Tests;

/// <summary>A browser-like client of the dashboard: keeps cookies, reads the antiforgery token from each page.</summary>
public sealed partial class DashboardClient : IDisposable
{
    private readonly HttpClient _http;

    public DashboardClient(WebApplicationFactory<Program> factory)
    {
        _http = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
    }

    /// <summary>The antiforgery token of the last page read.</summary>
    public string? Token { get; private set; }

    /// <summary>The Set-Cookie headers of the last response.</summary>
    public IReadOnlyList<string> LastSetCookies { get; private set; } = [];

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();

    public async Task<HttpResponseMessage> GetAsync(string path)
    {
        var r = await _http.GetAsync(path);
        await RememberAsync(r);
        return r;
    }

    public async Task<string> PageAsync(string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var r = await GetAsync(path);
        var html = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == expected, $"GET {path}: expected {expected}, got {(int)r.StatusCode}: {html[..Math.Min(html.Length, 600)]}");
        return html;
    }

    public async Task<HttpResponseMessage> PostAsync(string path, IEnumerable<KeyValuePair<string, string>> fields, string? token = "")
    {
        var all = fields.ToList();
        var t = token == "" ? Token : token;
        if (t is not null)
        {
            all.Add(new("__RequestVerificationToken", t));
        }

        var r = await _http.PostAsync(path, new FormUrlEncodedContent(all));
        await RememberAsync(r);
        return r;
    }

    public Task<HttpResponseMessage> PostAsync(string path, params (string Name, string Value)[] fields)
        => PostAsync(path, fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));

    public async Task<HttpResponseMessage> LoginAsync(string email, string password)
    {
        await PageAsync("/dashboard/login");
        return await PostAsync("/dashboard/login", ("email", email), ("password", password), ("returnUrl", "/dashboard"));
    }

    private async Task RememberAsync(HttpResponseMessage r)
    {
        LastSetCookies = r.Headers.TryGetValues("Set-Cookie", out var c) ? c.ToList() : [];
        if (r.Content.Headers.ContentType?.MediaType == "text/html")
        {
            var html = await r.Content.ReadAsStringAsync();
            if (TokenPattern().Match(html) is { Success: true } m)
            {
                Token = WebUtility.HtmlDecode(m.Groups[1].Value);
            }
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>A fake Lightning node for the node pages (only the read operations the dashboard uses answer).</summary>
public sealed class FakeNode : INodeOperations
{
    public static readonly NodeId Self = new(new Key().PubKey);
    public static readonly NodeId Peer = new(new Key().PubKey);
    public const string Address = "bcrt1qfakeaddressfordashboardtests0000000000";

    public int AddressesHandedOut { get; private set; }

    public Task<NodeInfo> GetInfoAsync(CancellationToken cancellationToken)
        => Task.FromResult(new NodeInfo(Self, "dash-node", "regtest", 321, ["127.0.0.1:9735"], 1, 2, 1, "satflow-test"));

    public Task<NodeWalletAddress> GetNewAddressAsync(CancellationToken cancellationToken)
    {
        AddressesHandedOut++;
        return Task.FromResult(new NodeWalletAddress(Address, "p2wpkh"));
    }

    public Task<NodeWalletBalance> GetBalanceAsync(CancellationToken cancellationToken)
        => Task.FromResult(new NodeWalletBalance(Money.Satoshis(1_234_567), Money.Satoshis(1000), Money.Zero, Money.Satoshis(1_235_567), 321));

    public Task<IReadOnlyList<PeerInfo>> ListPeersAsync(CancellationToken cancellationToken)
        => Task.FromResult<IReadOnlyList<PeerInfo>>([new PeerInfo(Peer, "127.0.0.1:19735", false)]);

    public Task<IReadOnlyList<ChannelInfo>> ListChannelsAsync(CancellationToken cancellationToken)
        => Task.FromResult<IReadOnlyList<ChannelInfo>>(
        [
            new ChannelInfo(ChannelId.FromBytes(new byte[32]), new ShortChannelId(300, 1, 0), Peer, ChannelState.Normal, Money.Satoshis(1_000_000),
                new MilliSatoshi(250_000_000), new MilliSatoshi(750_000_000), null, true),
            new ChannelInfo(ChannelId.FromBytes(Enumerable.Repeat((byte)1, 32).ToArray()), null, Peer, ChannelState.Opening, Money.Satoshis(500_000),
                new MilliSatoshi(500_000_000), MilliSatoshi.Zero, null, true),
        ]);

    public Task<IReadOnlyList<InvoiceInfo>> ListInvoicesAsync(CancellationToken cancellationToken)
        => Task.FromResult<IReadOnlyList<InvoiceInfo>>(
        [
            new InvoiceInfo(new PaymentHash(new Bytes32(Enumerable.Repeat((byte)7, 32).ToArray())), "lnbcrt1fake", new MilliSatoshi(42_000), "tea", InvoiceState.Settled,
                DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(10), new MilliSatoshi(42_000), DateTimeOffset.UtcNow.AddMinutes(-4)),
        ]);

    public Task<IReadOnlyList<PaymentInfo>> ListPaymentsAsync(CancellationToken cancellationToken)
        => Task.FromResult<IReadOnlyList<PaymentInfo>>(
        [
            new PaymentInfo(new PaymentHash(new Bytes32(Enumerable.Repeat((byte)9, 32).ToArray())), Peer, new MilliSatoshi(17_000), new MilliSatoshi(1_000), PaymentState.Succeeded,
                null, null, null, DateTimeOffset.UtcNow.AddMinutes(-3), DateTimeOffset.UtcNow.AddMinutes(-3)),
        ]);

    private static NodeOperationException Unused(string what) => new(NodeErrorCode.InvalidArgument, what + " is not used by the dashboard tests.");

    public Task<PeerInfo> ConnectPeerAsync(NodeId nodeId, DnsEndPoint address, CancellationToken cancellationToken) => throw Unused("connect");

    public Task DisconnectPeerAsync(NodeId nodeId, CancellationToken cancellationToken) => throw Unused("disconnect");

    public Task<ChannelInfo> OpenChannelAsync(NodeId nodeId, Money capacity, CancellationToken cancellationToken) => throw Unused("open");

    public Task<ChannelInfo> OpenChannelAsync(NodeId nodeId, Money capacity, bool announce, CancellationToken cancellationToken) => throw Unused("open private");

    public Task<ChannelCloseResult> CloseChannelAsync(ChannelId channelId, bool force, CancellationToken cancellationToken) => throw Unused("close");

    public Task<ChannelRestoreResult> RestoreChannelsAsync(byte[] backup, CancellationToken cancellationToken) => throw Unused("restore");

    public Task<InvoiceInfo> CreateInvoiceAsync(MilliSatoshi amount, string? description, TimeSpan? expiry, CancellationToken cancellationToken) => throw Unused("invoice");

    public Task<InvoiceInfo> GetInvoiceAsync(PaymentHash paymentHash, CancellationToken cancellationToken) => throw Unused("get invoice");

    public Task<PaymentInfo> PayInvoiceAsync(string bolt11, MilliSatoshi? amount, CancellationToken cancellationToken) => throw Unused("pay");

    public Task<PaymentInfo> KeysendAsync(NodeId destination, MilliSatoshi amount, CancellationToken cancellationToken) => throw Unused("keysend");

    public Task<PaymentInfo> GetPaymentAsync(PaymentHash paymentHash, CancellationToken cancellationToken) => throw Unused("get payment");

    public Task<GraphInfo> GetGraphInfoAsync(CancellationToken cancellationToken) => throw Unused("graph");

    public Task<RouteInfo> FindRouteAsync(NodeId destination, MilliSatoshi amount, CancellationToken cancellationToken) => throw Unused("route");

    public Task<PaymentInfo> PayInvoiceAsync(string bolt11, MilliSatoshi? amount, PaymentLimits limits, CancellationToken cancellationToken) => throw Unused("pay with limits");

    public Task<GraphNodeInfo> GetGraphNodeAsync(NodeId nodeId, CancellationToken cancellationToken) => throw Unused("graph node");

    public Task<IReadOnlyList<ForwardInfo>> ListForwardsAsync(CancellationToken cancellationToken) => throw Unused("forwards");

    public Task<ChannelPolicyInfo> SetChannelPolicyAsync(ChannelPolicyInfo policy, CancellationToken cancellationToken) => throw Unused("policy");
}

/// <summary>The dashboard's functional tests, run on SQLite and on PostgreSQL.</summary>
public abstract class DashboardTests : IAsyncLifetime
{
    protected abstract ServerFactory CreateFactory();

    protected ServerFactory Factory { get; private set; } = null!;

    private Tenant _tenant = null!;

    public async Task InitializeAsync()
    {
        Factory = CreateFactory();
        _tenant = await Factory.CreateTenantAsync();
    }

    public async Task DisposeAsync() => await Factory.DisposeAsync();

    private string StorePath => "/dashboard/stores/" + _tenant.Store;

    private async Task<string> EmailOfAsync(UserId id) => (await Factory.Get<IMerchantRepository>().GetUserAsync(id))!.Email;

    private async Task<DashboardClient> OwnerAsync()
    {
        var c = new DashboardClient(Factory);
        using var r = await c.LoginAsync(await EmailOfAsync(_tenant.UserId), _tenant.Password);
        Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
        return c;
    }

    private async Task<(User User, string Password)> MemberAsync(StoreRole role, bool admin = false)
    {
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var user = await Factory.Get<MerchantService>().RegisterUserAsync($"m{Guid.NewGuid():N}@example.com", password, admin);
        if (!admin)
        {
            await Factory.Get<IMerchantRepository>().SetStoreMemberAsync(new StoreMembership(_tenant.StoreId, user.Id, role));
        }

        return (user, password);
    }

    private async Task<Invoice> InvoiceAsync(decimal amount, string? orderId = null, string? metadata = null)
        => await Factory.Get<MerchantService>().CreateInvoiceAsync(new MerchantPrincipal(_tenant.UserId, null), _tenant.StoreId,
            new Merchant.Invoices.CreateInvoiceRequest(amount, "BTC") { OrderId = orderId, MetadataJson = metadata });

    private static string Location(HttpResponseMessage r) => r.Headers.Location?.OriginalString ?? "";

    [Fact]
    public async Task Login_opens_the_dashboard_a_wrong_password_is_refused_and_logout_ends_the_session()
    {
        using var anonymous = new DashboardClient(Factory);
        using (var r = await anonymous.GetAsync("/dashboard"))
        {
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            Assert.Equal("/dashboard/login?returnUrl=%2Fdashboard", Location(r));
        }

        var email = await EmailOfAsync(_tenant.UserId);
        using (var wrong = await anonymous.LoginAsync(email, "not-the-password"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            Assert.Contains("Wrong e-mail or password.", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.DoesNotContain(anonymous.LastSetCookies, c => c.StartsWith(DashboardSetup.SessionCookie + "=", StringComparison.Ordinal));
        }

        using (var unknown = await anonymous.LoginAsync("nobody@example.com", _tenant.Password))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        }

        using var c = new DashboardClient(Factory);
        await c.PageAsync("/dashboard/login?returnUrl=%2F%2Fevil.example");
        using (var ok = await c.PostAsync("/dashboard/login", ("email", email.ToUpperInvariant()), ("password", _tenant.Password), ("returnUrl", "//evil.example")))
        {
            Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
            Assert.Equal("/dashboard", Location(ok));
            var session = Assert.Single(c.LastSetCookies, s => s.StartsWith(DashboardSetup.SessionCookie + "=", StringComparison.Ordinal)).ToLowerInvariant();
            Assert.Contains("httponly", session, StringComparison.Ordinal);
            Assert.Contains("samesite=strict", session, StringComparison.Ordinal);
            Assert.Contains("path=/dashboard", session, StringComparison.Ordinal);
            Assert.DoesNotContain("secure", session, StringComparison.Ordinal);
        }

        var home = await c.PageAsync("/dashboard");
        Assert.Contains("Test shop", home, StringComparison.Ordinal);
        Assert.Contains("Test shop", await c.PageAsync("/dashboard/"), StringComparison.Ordinal);
        Assert.Contains(WebUtility.HtmlEncode(email), home, StringComparison.Ordinal);
        using (var logout = await c.PostAsync("/dashboard/logout"))
        {
            Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        }

        using var after = await c.GetAsync("/dashboard");
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
    }

    [Fact]
    public async Task Every_page_renders_for_the_owner_with_headings_labels_and_the_security_headers()
    {
        var invoice = await InvoiceAsync(0.001m, "order-1");
        var hook = WebhookSubscription.Create(_tenant.Store, new Uri("http://127.0.0.1:9/hook"), TimeProvider.System);
        await Factory.Get<IWebhookStore>().SaveSubscriptionAsync(hook);
        var payouts = Factory.Get<PayoutService>();
        var pull = await payouts.CreatePullPaymentAsync(new CreatePullPaymentRequest { StoreId = _tenant.Store, Name = "Refunds", Amount = 0.01m, Currency = "BTC" });
        await payouts.ClaimAsync(pull.Id, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", 0.001m);
        using var c = await OwnerAsync();
        var pages = new[]
        {
            "/dashboard", StorePath, StorePath + "/invoices", StorePath + "/invoices/" + invoice.Id.Value, StorePath + "/payouts",
            StorePath + "/webhooks", StorePath + "/webhooks/" + hook.Id, "/dashboard/api-keys",
        };
        foreach (var p in pages)
        {
            using var r = await c.GetAsync(p);
            var html = await r.Content.ReadAsStringAsync();
            Assert.True(r.StatusCode == HttpStatusCode.OK, $"{p}: {(int)r.StatusCode}");
            Assert.Equal("text/html", r.Content.Headers.ContentType?.MediaType);
            Assert.Equal(DashboardHtml.ContentSecurityPolicy, r.Headers.GetValues("Content-Security-Policy").Single());
            Assert.Contains("no-store", r.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
            Assert.Contains("<h1>", html, StringComparison.Ordinal);
            Assert.Contains("<html lang=\"en\">", html, StringComparison.Ordinal);
            Assert.DoesNotContain("<script", html, StringComparison.Ordinal);
            foreach (Match m in Regex.Matches(html, "<input id=\"([^\"]+)\""))
            {
                Assert.Contains($"<label for=\"{m.Groups[1].Value}\"", html, StringComparison.Ordinal);
            }
        }

        Assert.Contains("order-1", await c.PageAsync(StorePath + "/invoices"), StringComparison.Ordinal);
        var payoutPage = await c.PageAsync(StorePath + "/payouts");
        Assert.Contains("Refunds", payoutPage, StringComparison.Ordinal);
        Assert.Contains("AwaitingApproval", payoutPage, StringComparison.Ordinal);
        Assert.Contains(">Approve</button>", payoutPage, StringComparison.Ordinal);
        Assert.Contains("http://127.0.0.1:9/hook", await c.PageAsync(StorePath + "/webhooks"), StringComparison.Ordinal);
        Assert.DoesNotContain(hook.Secret, await c.PageAsync(StorePath + "/webhooks"), StringComparison.Ordinal);
        using var css = await c.GetAsync("/dashboard/assets/dashboard.css");
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);

        // Node pages are for server administrators only.
        using var node = await c.GetAsync("/dashboard/node");
        Assert.Equal(HttpStatusCode.Forbidden, node.StatusCode);
    }

    [Fact]
    public async Task Owner_creates_and_marks_an_invoice_approves_a_payout_adds_a_webhook_and_manages_api_keys_through_forms()
    {
        using var c = await OwnerAsync();
        await c.PageAsync(StorePath + "/invoices");
        using var created = await c.PostAsync(StorePath + "/invoices", ("amount", "0.0005"), ("currency", "BTC"), ("orderId", "form-42"), ("description", "Green tea"));
        Assert.Equal(HttpStatusCode.Redirect, created.StatusCode);
        var detailPath = Location(created);
        var detail = await c.PageAsync(detailPath);
        Assert.Contains("form-42", detail, StringComparison.Ordinal);
        Assert.Contains("Green tea", detail, StringComparison.Ordinal);
        Assert.Contains("50,000 sat", detail, StringComparison.Ordinal);
        Assert.Contains("id=\"checkout-link\" href=\"/i/", detail, StringComparison.Ordinal);
        Assert.Contains("badge-new", detail, StringComparison.Ordinal);
        using (var mark = await c.PostAsync(detailPath + "/mark", ("status", "Settled")))
        {
            Assert.Equal(HttpStatusCode.Redirect, mark.StatusCode);
        }

        detail = await c.PageAsync(detailPath);
        Assert.Contains("badge-settled", detail, StringComparison.Ordinal);
        Assert.Contains("(manual)", detail, StringComparison.Ordinal);

        // The overview chart shows today's settled volume.
        var overview = await c.PageAsync(StorePath);
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Matches($"data-day=\"{today}\"[^>]*height=\"[1-9]", overview);
        Assert.Contains("50,000 sat in total", overview, StringComparison.Ordinal);

        // Payouts: pull payment, claim, approve.
        await c.PageAsync(StorePath + "/payouts");
        using (var pp = await c.PostAsync(StorePath + "/pull-payments", ("name", "Bonus"), ("amount", "0.01"), ("currency", "BTC")))
        {
            Assert.Equal(HttpStatusCode.Redirect, pp.StatusCode);
        }

        var payouts = Factory.Get<PayoutService>();
        var pull = Assert.Single(await payouts.ListPullPaymentsAsync(_tenant.Store));
        var payout = await payouts.ClaimAsync(pull.Id, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", 0.002m);
        await c.PageAsync(StorePath + "/payouts");
        using (var approve = await c.PostAsync(StorePath + "/payouts/" + payout.Id.Value + "/approve"))
        {
            Assert.Equal(HttpStatusCode.Redirect, approve.StatusCode);
        }

        Assert.Equal(PayoutState.AwaitingPayment, (await payouts.GetPayoutAsync(payout.Id)).State);

        // Webhook: the secret is shown once.
        await c.PageAsync(StorePath + "/webhooks");
        using (var hook = await c.PostAsync(StorePath + "/webhooks", ("url", "http://127.0.0.1:9/hook"), ("events", "invoice.settled")))
        {
            Assert.Equal(HttpStatusCode.OK, hook.StatusCode);
            var html = await hook.Content.ReadAsStringAsync();
            var saved = Assert.Single(await Factory.Get<IWebhookStore>().ListSubscriptionsAsync(_tenant.Store));
            Assert.Contains(saved.Secret, html, StringComparison.Ordinal);
            Assert.Equal(["invoice.settled"], saved.EventTypes);
            Assert.DoesNotContain(saved.Secret, await c.PageAsync(StorePath + "/webhooks"), StringComparison.Ordinal);
        }

        // API key: shown once, usable on the API, then revoked.
        await c.PageAsync("/dashboard/api-keys");
        using var key = await c.PostAsync("/dashboard/api-keys", [new("label", "shop"), new("scopes", "invoices.view"), new("scopes", "stores.view"), new("storeId", _tenant.Store)]);
        var keyHtml = await key.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, key.StatusCode);
        var token = Regex.Match(keyHtml, "id=\"new-key\" readonly value=\"(sfk_[^\"]+)\"").Groups[1].Value;
        Assert.StartsWith("sfk_", token, StringComparison.Ordinal);
        using (var api = _tenant.Client(token))
        {
            Assert.Equal(HttpStatusCode.OK, (await api.GetAsync($"/api/v1/stores/{_tenant.Store}/invoices")).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await api.GetAsync($"/api/v1/stores/{_tenant.Store}/webhooks")).StatusCode);
        }

        var keys = await c.PageAsync("/dashboard/api-keys");
        Assert.DoesNotContain(token, keys, StringComparison.Ordinal);
        var record = (await Factory.Get<IMerchantRepository>().ListApiKeysAsync(_tenant.UserId)).Single(k => k.Label == "shop");
        using (var revoke = await c.PostAsync("/dashboard/api-keys/" + record.Id.Value + "/revoke"))
        {
            Assert.Equal(HttpStatusCode.Redirect, revoke.StatusCode);
        }

        using var revoked = _tenant.Client(token);
        Assert.Equal(HttpStatusCode.Unauthorized, (await revoked.GetAsync($"/api/v1/stores/{_tenant.Store}/invoices")).StatusCode);
    }

    [Fact]
    public async Task A_guest_reads_but_cannot_post_and_an_employee_creates_but_cannot_mark()
    {
        var invoice = await InvoiceAsync(0.001m);
        var (guest, guestPassword) = await MemberAsync(StoreRole.Guest);
        using var g = new DashboardClient(Factory);
        Assert.Equal(HttpStatusCode.Redirect, (await g.LoginAsync(guest.Email, guestPassword)).StatusCode);
        Assert.Contains("Test shop", await g.PageAsync("/dashboard"), StringComparison.Ordinal);
        var overview = await g.PageAsync(StorePath);
        Assert.Contains("(guest)", overview, StringComparison.Ordinal);
        Assert.DoesNotContain("/invoices\"", overview, StringComparison.Ordinal);
        await g.PageAsync(StorePath + "/invoices", HttpStatusCode.Forbidden);
        foreach (var (path, fields) in new (string, (string, string)[])[]
        {
            (StorePath + "/invoices", [("amount", "1"), ("currency", "BTC")]),
            (StorePath + "/invoices/" + invoice.Id.Value + "/mark", [("status", "Settled")]),
            (StorePath + "/webhooks", [("url", "http://127.0.0.1:9/x")]),
            (StorePath + "/pull-payments", [("name", "x"), ("amount", "1"), ("currency", "BTC")]),
        })
        {
            await g.PageAsync("/dashboard");
            using var r = await g.PostAsync(path, fields);
            Assert.True(r.StatusCode == HttpStatusCode.Forbidden, $"guest POST {path}: {(int)r.StatusCode}");
        }

        Assert.Single(await Factory.Get<IMerchantRepository>().ListInvoicesAsync(_tenant.StoreId, new InvoiceQuery()));
        Assert.Empty(await Factory.Get<IWebhookStore>().ListSubscriptionsAsync(_tenant.Store));

        var (employee, employeePassword) = await MemberAsync(StoreRole.Employee);
        using var e = new DashboardClient(Factory);
        Assert.Equal(HttpStatusCode.Redirect, (await e.LoginAsync(employee.Email, employeePassword)).StatusCode);
        var list = await e.PageAsync(StorePath + "/invoices");
        Assert.Contains("Create an invoice", list, StringComparison.Ordinal);
        using (var created = await e.PostAsync(StorePath + "/invoices", ("amount", "0.0001"), ("currency", "BTC")))
        {
            Assert.Equal(HttpStatusCode.Redirect, created.StatusCode);
        }

        var detail = await e.PageAsync(StorePath + "/invoices/" + invoice.Id.Value);
        Assert.DoesNotContain("Mark settled", detail, StringComparison.Ordinal);
        using (var mark = await e.PostAsync(StorePath + "/invoices/" + invoice.Id.Value + "/mark", ("status", "Settled")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, mark.StatusCode);
        }

        await e.PageAsync(StorePath + "/webhooks", HttpStatusCode.Forbidden);

        // A user who is not a member sees nothing of the store.
        var (outsider, outsiderPassword) = await MemberAsync(StoreRole.Guest, admin: true);
        using var o = new DashboardClient(Factory);
        Assert.Equal(HttpStatusCode.Redirect, (await o.LoginAsync(outsider.Email, outsiderPassword)).StatusCode);
        await o.PageAsync(StorePath, HttpStatusCode.NotFound);
        await o.PageAsync(StorePath + "/invoices.csv", HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_post_without_or_with_a_wrong_antiforgery_token_is_rejected_with_400()
    {
        using var c = await OwnerAsync();
        await c.PageAsync(StorePath + "/invoices");
        var good = c.Token!;
        var fields = new[] { ("amount", "0.001"), ("currency", "BTC") };
        using (var missing = await c.PostAsync(StorePath + "/invoices", fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2)), token: null))
        {
            Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        }

        using (var wrong = await c.PostAsync(StorePath + "/invoices", fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2)), token: "CfDJ8" + new string('A', 100)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        }

        // A valid token of another user's session does not work in this one.
        var (other, otherPassword) = await MemberAsync(StoreRole.Owner);
        using var o = new DashboardClient(Factory);
        await o.LoginAsync(other.Email, otherPassword);
        await o.PageAsync(StorePath + "/invoices");
        using (var foreign = await c.PostAsync(StorePath + "/invoices", fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2)), token: o.Token))
        {
            Assert.Equal(HttpStatusCode.BadRequest, foreign.StatusCode);
        }

        using (var json = await Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false }).PostAsync("/dashboard/login",
            new StringContent("{\"email\":\"a@b.c\",\"password\":\"x\"}", System.Text.Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
        }

        using var anonymous = new DashboardClient(Factory);
        using (var login = await anonymous.PostAsync("/dashboard/login", [new("email", "a@b.c"), new("password", "x")], token: null))
        {
            Assert.Equal(HttpStatusCode.BadRequest, login.StatusCode);
        }

        Assert.Empty(await Factory.Get<IMerchantRepository>().ListInvoicesAsync(_tenant.StoreId, new InvoiceQuery()));
        using (var ok = await c.PostAsync(StorePath + "/invoices", fields.Select(f => new KeyValuePair<string, string>(f.Item1, f.Item2)), token: good))
        {
            Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        }

        Assert.Single(await Factory.Get<IMerchantRepository>().ListInvoicesAsync(_tenant.StoreId, new InvoiceQuery()));
        var antiforgery = Assert.Single(c.LastSetCookies.Concat(await CookiesOfLoginPageAsync()), s => s.StartsWith(DashboardSetup.AntiforgeryCookie, StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("httponly", antiforgery, StringComparison.Ordinal);
        Assert.Contains("samesite=strict", antiforgery, StringComparison.Ordinal);
    }

    private async Task<IReadOnlyList<string>> CookiesOfLoginPageAsync()
    {
        using var fresh = new DashboardClient(Factory);
        await fresh.PageAsync("/dashboard/login");
        return fresh.LastSetCookies;
    }

    [Fact]
    public async Task Invoices_are_searched_by_id_order_id_and_text_filtered_by_status_and_date_and_exported_as_csv()
    {
        var a = await InvoiceAsync(0.001m, "=HYPERLINK(\"x\")", "{\"itemDesc\":\"Blue mug\"}");
        var b = await InvoiceAsync(0.002m, "order,with,commas");
        var settled = await InvoiceAsync(0.003m, "paid-order");
        var events = await Factory.Get<MerchantService>().MarkInvoiceAsync(new MerchantPrincipal(_tenant.UserId, null), settled.Id, true);
        Assert.NotEmpty(events.Events);
        using var c = await OwnerAsync();

        string Rows(string html) => string.Join(",", Regex.Matches(html, "data-invoice=\"([^\"]+)\"").Select(m => m.Groups[1].Value).Order());
        var all = await c.PageAsync(StorePath + "/invoices");
        Assert.Equal(string.Join(",", new[] { a.Id.Value, b.Id.Value, settled.Id.Value }.Order()), Rows(all));
        Assert.Equal(a.Id.Value, Rows(await c.PageAsync(StorePath + "/invoices?q=blue+MUG")));
        Assert.Equal(b.Id.Value, Rows(await c.PageAsync(StorePath + "/invoices?q=with%2Ccommas")));
        Assert.Equal(b.Id.Value, Rows(await c.PageAsync(StorePath + "/invoices?q=" + b.Id.Value)));
        Assert.Equal(settled.Id.Value, Rows(await c.PageAsync(StorePath + "/invoices?status=Settled")));
        Assert.Equal(string.Join(",", new[] { a.Id.Value, b.Id.Value }.Order()), Rows(await c.PageAsync(StorePath + "/invoices?status=New")));
        var today = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var yesterday = DateTime.UtcNow.AddDays(-1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains("No invoices match.", await c.PageAsync(StorePath + "/invoices?to=" + yesterday), StringComparison.Ordinal);
        Assert.Equal(3, Rows(await c.PageAsync(StorePath + $"/invoices?from={today}&to={today}")).Split(',').Length);
        Assert.Contains("No invoices match.", await c.PageAsync(StorePath + "/invoices?q=nothing-like-this"), StringComparison.Ordinal);
        await c.PageAsync(StorePath + "/invoices?status=Bogus", HttpStatusCode.BadRequest);
        await c.PageAsync(StorePath + "/invoices?status=2", HttpStatusCode.BadRequest);
        await c.PageAsync(StorePath + "/invoices?from=26/11/2026", HttpStatusCode.BadRequest);
        Assert.Contains("href=\"/dashboard/stores/" + _tenant.Store + "/invoices.csv?status=New&amp;q=mug\"", await c.PageAsync(StorePath + "/invoices?status=New&q=mug"), StringComparison.Ordinal);

        using var csv = await c.GetAsync(StorePath + "/invoices.csv");
        Assert.Equal(HttpStatusCode.OK, csv.StatusCode);
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", csv.Content.Headers.ContentDisposition?.DispositionType);
        var lines = (await csv.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(DashboardData.CsvHeader, lines[0]);
        Assert.Equal(4, lines.Length);
        var rowA = Assert.Single(lines, l => l.StartsWith(a.Id.Value, StringComparison.Ordinal));
        Assert.Contains(",\"'=HYPERLINK(\"\"x\"\")\",", rowA, StringComparison.Ordinal);
        Assert.Contains(",0.001,BTC,100000000,0,", rowA, StringComparison.Ordinal);
        Assert.Contains(",\"order,with,commas\",", Assert.Single(lines, l => l.StartsWith(b.Id.Value, StringComparison.Ordinal)), StringComparison.Ordinal);
        var rowSettled = Assert.Single(lines, l => l.StartsWith(settled.Id.Value, StringComparison.Ordinal));
        Assert.Contains(",Settled,Marked,", rowSettled, StringComparison.Ordinal);

        using var filtered = await c.GetAsync(StorePath + "/invoices.csv?status=Settled");
        var filteredLines = (await filtered.Content.ReadAsStringAsync()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, filteredLines.Length);
        Assert.StartsWith(settled.Id.Value, filteredLines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Node_pages_say_there_is_no_node_and_show_a_registered_node_wallet_and_channels()
    {
        var (admin, password) = await MemberAsync(StoreRole.Owner, admin: true);
        using (var c = new DashboardClient(Factory))
        {
            await c.LoginAsync(admin.Email, password);
            foreach (var p in new[] { "/dashboard/node", "/dashboard/wallet", "/dashboard/channels" })
            {
                Assert.Contains(DashboardEndpoints.NoNodeText, await c.PageAsync(p), StringComparison.Ordinal);
            }

            Assert.Contains("href=\"/dashboard/node\"", await c.PageAsync("/dashboard"), StringComparison.Ordinal);
        }

        var fake = new FakeNode();
        await using var withNode = Factory.WithWebHostBuilder(b => b.ConfigureServices(s => s.AddSingleton<INodeOperations>(fake)));
        // The derived host may use a fresh schema (PostgreSQL), so its users are registered there.
        var merchant = withNode.Services.GetRequiredService<MerchantService>();
        var nodeAdmin = await merchant.RegisterUserAsync($"a{Guid.NewGuid():N}@example.com", password, isServerAdmin: true);
        var plain = await merchant.RegisterUserAsync($"p{Guid.NewGuid():N}@example.com", password);
        await merchant.CreateStoreAsync(plain.Id, "Plain shop", "BTC");
        using var n = new DashboardClient(withNode);
        Assert.Equal(HttpStatusCode.Redirect, (await n.LoginAsync(nodeAdmin.Email, password)).StatusCode);
        var node = await n.PageAsync("/dashboard/node");
        Assert.Contains(FakeNode.Self.ToString(), node, StringComparison.Ordinal);
        Assert.Contains("dash-node", node, StringComparison.Ordinal);
        Assert.Contains("1 active of 2", node, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:19735", node, StringComparison.Ordinal);
        var channels = await n.PageAsync("/dashboard/channels");
        Assert.Contains("1,000,000 sat", channels, StringComparison.Ordinal);
        Assert.Contains("aria-label=\"Local 25%, remote 75%\"", channels, StringComparison.Ordinal);
        Assert.Contains("width=\"25\"", channels, StringComparison.Ordinal);
        Assert.Contains("Can send 250,000 sat, can receive 750,000 sat over 1 usable channels.", channels, StringComparison.Ordinal);
        Assert.Contains("300x1x0", channels, StringComparison.Ordinal);
        var wallet = await n.PageAsync("/dashboard/wallet");
        Assert.Contains("1,234,567 sat", wallet, StringComparison.Ordinal);
        Assert.Contains("received", wallet, StringComparison.Ordinal);
        Assert.Contains("42 sat", wallet, StringComparison.Ordinal);
        Assert.Contains("17 sat", wallet, StringComparison.Ordinal);
        Assert.DoesNotContain(FakeNode.Address, wallet, StringComparison.Ordinal);
        using var address = await n.PostAsync("/dashboard/wallet/address");
        Assert.Equal(HttpStatusCode.OK, address.StatusCode);
        Assert.Contains(FakeNode.Address, await address.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1, fake.AddressesHandedOut);

        // A store owner who is not a server administrator does not see the node.
        using var owner = new DashboardClient(withNode);
        Assert.Equal(HttpStatusCode.Redirect, (await owner.LoginAsync(plain.Email, password)).StatusCode);
        await owner.PageAsync("/dashboard/channels", HttpStatusCode.Forbidden);
        Assert.DoesNotContain("href=\"/dashboard/node\"", await owner.PageAsync("/dashboard"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_attempts_are_rate_limited_per_client()
    {
        await using var limited = Factory.WithWebHostBuilder(b => b.UseSetting("dashboard-login-limit", "3"));
        using var c = new DashboardClient(limited);
        var email = await EmailOfAsync(_tenant.UserId);
        for (var i = 0; i < 3; i++)
        {
            using var r = await c.LoginAsync(email, "wrong-" + i);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        }

        using var blocked = await c.LoginAsync(email, _tenant.Password);
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/dashboard/login")).StatusCode);
    }

    [Fact]
    public async Task Passwords_api_keys_webhook_secrets_and_session_cookies_never_appear_in_the_logs()
    {
        using var c = new DashboardClient(Factory);
        var email = await EmailOfAsync(_tenant.UserId);
        await c.LoginAsync(email, "wrong-password-marker-123");
        using var ok = await c.LoginAsync(email, _tenant.Password);
        var cookie = ok.Headers.GetValues("Set-Cookie").Single(s => s.StartsWith(DashboardSetup.SessionCookie + "=", StringComparison.Ordinal));
        var cookieValue = cookie[(DashboardSetup.SessionCookie.Length + 1)..cookie.IndexOf(';', StringComparison.Ordinal)];
        await c.PageAsync("/dashboard/api-keys");
        using var key = await c.PostAsync("/dashboard/api-keys", [new("label", "log-test"), new("scopes", "stores.view")]);
        var token = Regex.Match(await key.Content.ReadAsStringAsync(), "value=\"(sfk_[^\"]+)\"").Groups[1].Value;
        await c.PageAsync(StorePath + "/webhooks");
        using var hook = await c.PostAsync(StorePath + "/webhooks", ("url", "http://127.0.0.1:9/hook"));
        var secret = Assert.Single(await Factory.Get<IWebhookStore>().ListSubscriptionsAsync(_tenant.Store)).Secret;
        await c.PostAsync(StorePath + "/invoices", [new("amount", "1")], token: null);
        Assert.NotEmpty(token);
        Assert.Contains(Factory.Logs.Entries, e => e.Contains("Dashboard login refused", StringComparison.Ordinal));
        Assert.Contains(Factory.Logs.Entries, e => e.Contains("Dashboard login: user", StringComparison.Ordinal));
        foreach (var s in new[] { _tenant.Password, "wrong-password-marker-123", token, token[4..], secret, cookieValue, c.Token! })
        {
            Assert.DoesNotContain(Factory.Logs.Entries, e => e.Contains(s, StringComparison.Ordinal));
        }
    }
}

public sealed class SqliteDashboardTests : DashboardTests
{
    protected override ServerFactory CreateFactory() => new();
}

public sealed class PostgresDashboardTests(PostgresFixture postgres) : DashboardTests, IClassFixture<PostgresFixture>
{
    protected override ServerFactory CreateFactory() => new(postgres.ConnectionString);
}

/// <summary>The dashboard's pure helpers: CSV cells, daily volume, filters.</summary>
public sealed class DashboardUnitTests
{
    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("", "")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("=1+2", "'=1+2")]
    [InlineData("+1", "'+1")]
    [InlineData("-1", "'-1")]
    [InlineData("@SUM(A1)", "'@SUM(A1)")]
    [InlineData("line\nbreak", "\"line\nbreak\"")]
    public void Csv_cells_are_quoted_and_formulas_neutralised(string value, string expected) => Assert.Equal(expected, DashboardData.Cell(value));

    [Fact]
    public void Random_text_always_gives_one_csv_field_that_reads_back_to_the_text()
    {
        Gen.String.Sample(s =>
        {
            var cell = DashboardData.Cell(s);
            var read = cell.StartsWith('"') ? cell[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal) : cell;
            Assert.True(cell.StartsWith('"') || cell.AsSpan().IndexOfAny(",\"\r\n") < 0);
            Assert.Equal(s.Length > 0 && s[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? "'" + s : s, read);
        });
    }

    [Fact]
    public void The_filter_rejects_malformed_query_values_with_a_typed_error()
    {
        Gen.String[0, 30].Sample(s =>
        {
            var q = new Microsoft.AspNetCore.Http.QueryCollection(new Dictionary<string, Microsoft.Extensions.Primitives.StringValues> { ["status"] = s, ["from"] = s });
            try
            {
                var f = InvoiceFilter.Parse(q);
                Assert.True(s.Length == 0 || f.Status is not null);
            }
            catch (MerchantException e)
            {
                Assert.Equal(MerchantErrorReason.InvalidArgument, e.Reason);
            }
        });
    }

    private static Invoice NewInvoice(ulong msat, DateTimeOffset at)
        => Invoice.Create(InvoiceId.New(), StoreId.New(), new InvoiceAmount(msat / 100_000_000_000m, "BTC"), new MilliSatoshi(msat), null, InvoicePolicy.Default, null, null, null,
            [new PaymentPrompt(PaymentMethodId.OnChain, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", null)], at);

    [Fact]
    public void Daily_volume_counts_settled_invoices_on_their_settlement_day_and_skips_unsettled_and_older_ones()
    {
        var today = new DateOnly(2026, 11, 26);
        var noon = new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);
        var paid = NewInvoice(2_000_000, noon.AddDays(-2).AddMinutes(-5));
        paid.RecordPayment(new PaymentObservation(PaymentMethodId.OnChain, "tx:0", new MilliSatoshi(2_500_000), 1, true, noon.AddDays(-2)), noon.AddDays(-2));
        Assert.Equal(InvoiceStatus.Settled, paid.Status);
        var marked = NewInvoice(7_000_000, noon);
        marked.MarkSettled(noon.AddHours(1));
        var open = NewInvoice(9_000_000, noon);
        var old = NewInvoice(5_000_000, noon.AddDays(-40));
        old.MarkSettled(noon.AddDays(-40));

        var series = DashboardData.DailyVolume([paid, marked, open, old], today, 30);
        Assert.Equal(30, series.Count);
        Assert.Equal(today.AddDays(-29), series[0].Day);
        Assert.Equal(today, series[^1].Day);
        Assert.Equal(2_500_000UL, series.Single(s => s.Day == today.AddDays(-2)).Amount.Value);
        Assert.Equal(7_000_000UL, series[^1].Amount.Value);
        Assert.Equal(9_500_000UL, series.Aggregate(0UL, (a, s) => a + s.Amount.Value));

        var svg = DashboardData.VolumeChart(series);
        Assert.Contains("role=\"img\"", svg, StringComparison.Ordinal);
        Assert.Equal(30, Regex.Matches(svg, "<rect class=\"vol\"").Count);
        Assert.Contains("9,500 sat in total", svg, StringComparison.Ordinal);
        Assert.Matches("data-day=\"2026-11-26\"[^>]*height=\"152\"", svg);
        Assert.Equal(2, Regex.Matches(svg, "<tr><td>2026-").Count);
    }
}
