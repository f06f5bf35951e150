using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Satflow.Merchant;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;
using Satflow.Server.Hosting;
using Satflow.Server.Sandbox;
using static Microsoft.Playwright.Assertions;

namespace Satflow.Server.BrowserTests;

/// <summary>
/// The merchant's path through the dashboard in Debian's chromium: log in, add a webhook, create an invoice, open its
/// checkout page (QR, amount, countdown), get it paid, see it Settled and the webhook delivered (and redeliver it).
/// </summary>
public sealed class DashboardBrowserTests(Chromium chromium) : IClassFixture<Chromium>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    static DashboardBrowserTests() => SetDefaultExpectTimeout(20_000);

    private static async Task<(string Email, string Password)> MerchantAsync(BrowserServer server)
    {
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var email = $"shop{Guid.NewGuid():N}@example.com";
        var merchant = server.Get<MerchantService>();
        var user = await merchant.RegisterUserAsync(email, password);
        await merchant.CreateStoreAsync(user.Id, "Browser shop", "BTC");
        return (email, password);
    }

    private static async Task<IPage> LoggedInPageAsync(IBrowserContext context, string email, string password)
    {
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(20_000);
        await page.GotoAsync("/dashboard");
        await Expect(page).ToHaveURLAsync(new Regex("/dashboard/login\\?returnUrl="));
        await page.GetByLabel("E-mail", new() { Exact = true }).FillAsync(email);
        await page.GetByLabel("Password", new() { Exact = true }).FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Stores", Level = 1 })).ToBeVisibleAsync();
        return page;
    }

    /// <summary>Reloads until the locator matches something (the delivery log is written after the HTTP call returns).</summary>
    private static async Task ReloadUntilAsync(IPage page, ILocator locator)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (await locator.CountAsync() == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{locator} never appeared on {page.Url}: {await page.ContentAsync()}");
            await page.ReloadAsync(new() { WaitUntil = WaitUntilState.Load });
        }
    }

    [Fact]
    public async Task Merchant_logs_in_creates_an_invoice_sees_the_checkout_and_after_payment_sees_it_settled_and_the_webhook_delivered()
    {
        await using var server = new BrowserServer();
        using var hooks = new WebhookListener();
        var (email, password) = await MerchantAsync(server);
        await using var context = await chromium.Browser.NewContextAsync(new() { BaseURL = server.BaseUrl });
        var page = await LoggedInPageAsync(context, email, password);

        // A webhook to a local listener, added through the form; the secret is shown once.
        await page.GetByRole(AriaRole.Link, new() { Name = "Browser shop" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Browser shop", Level = 1 })).ToBeVisibleAsync();
        await Expect(page.Locator("#volume-chart")).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Webhooks" }).ClickAsync();
        await page.GetByLabel("URL", new() { Exact = true }).FillAsync(hooks.Url);
        await page.GetByRole(AriaRole.Button, new() { Name = "Add webhook" }).ClickAsync();
        await Expect(page.GetByLabel("Signing secret", new() { Exact = true })).ToHaveValueAsync(new Regex("^[0-9a-f]{64}$"));

        // An invoice through the form.
        await page.GetByRole(AriaRole.Link, new() { Name = "Invoices" }).ClickAsync();
        await page.GetByLabel("Amount", new() { Exact = true }).FillAsync("0.0005");
        await page.GetByLabel("Order id", new() { Exact = true }).FillAsync("browser-1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create invoice" }).ClickAsync();
        await Expect(page.Locator("#invoice-status")).ToContainTextAsync("New");
        var invoicePath = new Uri(page.Url).AbsolutePath;
        var invoiceId = invoicePath[(invoicePath.LastIndexOf('/') + 1)..];

        // The checkout page: amount, QR code, countdown, live status.
        await page.GetByRole(AriaRole.Link, new() { Name = "Open the checkout page" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/i/" + invoiceId + "$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Pay 0.0005 BTC" })).ToBeVisibleAsync();
        await Expect(page.GetByAltText(new Regex("^QR code of the payment request"))).ToBeVisibleAsync();
        await Expect(page.Locator("#countdown")).ToHaveTextAsync(new Regex("^Expires in \\d+:\\d\\d$"));
        await Expect(page.Locator("#status")).ToHaveTextAsync("Waiting for payment.");

        // The payment arrives (the wallet watcher's call), and the open checkout page learns it over server-sent events.
        var invoice = await server.Get<IMerchantRepository>().GetInvoiceAsync(new InvoiceId(invoiceId));
        var address = invoice!.Prompt(PaymentMethodId.OnChain)!.Destination;
        await server.Get<PaymentRecorder>().RecordAsync(address, new PaymentObservation(PaymentMethodId.OnChain, "browser-tx:0", invoice.AmountDue, 1, true, DateTimeOffset.UtcNow));
        await Expect(page.Locator("#status")).ToHaveTextAsync("Paid. Thank you!");

        // The dashboard shows it Settled, with the payment.
        await page.GotoAsync(invoicePath);
        await Expect(page.Locator("#invoice-status")).ToContainTextAsync("Settled");
        await Expect(page.Locator("#payments")).ToContainTextAsync("browser-tx:0");

        // The webhook arrived and the delivery log says so; redeliver it from the page.
        await hooks.WaitForAsync("invoice.settled", Patience);
        await page.GetByRole(AriaRole.Link, new() { Name = "Webhooks" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = hooks.Url }).ClickAsync();
        var delivered = page.Locator("tr[data-event='invoice.settled']:has(.badge-delivered)");
        await ReloadUntilAsync(page, delivered);
        await Expect(delivered.First).ToContainTextAsync("Delivered");
        await delivered.First.GetByRole(AriaRole.Button, new() { Name = "Redeliver" }).ClickAsync();
        await Expect(page.Locator("tr[data-event='invoice.settled']", new() { HasText = "(redelivery)" })).ToBeVisibleAsync();
        Assert.Contains(hooks.Received, r => r.EventType == "invoice.settled" && r.Body.Contains(invoiceId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_forged_cross_site_form_post_is_refused_and_logout_returns_to_the_login_page()
    {
        await using var server = new BrowserServer();
        var (email, password) = await MerchantAsync(server);
        await using var context = await chromium.Browser.NewContextAsync(new() { BaseURL = server.BaseUrl });
        var page = await LoggedInPageAsync(context, email, password);
        await page.GetByRole(AriaRole.Link, new() { Name = "Browser shop" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Invoices" }).ClickAsync();
        var action = await page.Locator("form:has(button:text('Create invoice'))").GetAttributeAsync("action");

        // The same form with its token removed, submitted by the logged-in browser, is rejected.
        await page.EvaluateAsync("() => document.querySelectorAll('input[name=__RequestVerificationToken]').forEach(e => e.remove())");
        var response = await page.RunAndWaitForResponseAsync(async () =>
        {
            await page.GetByLabel("Amount", new() { Exact = true }).FillAsync("0.001");
            await page.GetByRole(AriaRole.Button, new() { Name = "Create invoice" }).ClickAsync();
        }, r => r.Url.EndsWith(action!, StringComparison.Ordinal) && r.Request.Method == "POST");
        Assert.Equal(400, response.Status);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Form expired" })).ToBeVisibleAsync();
        Assert.Empty(await server.Get<IMerchantRepository>().ListInvoicesAsync((await server.Get<IMerchantRepository>().ListStoresForUserAsync(
            (await server.Get<IMerchantRepository>().FindUserByEmailAsync(email))!.Id))[0].Store.Id, new InvoiceQuery()));

        var cookies = await context.CookiesAsync();
        var session = Assert.Single(cookies, c => c.Name == Dashboard.DashboardSetup.SessionCookie);
        Assert.True(session.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, session.SameSite);

        await page.GotoAsync("/dashboard");
        await page.GetByRole(AriaRole.Button, new() { Name = "Log out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Log in" })).ToBeVisibleAsync();
        await page.GotoAsync("/dashboard");
        await Expect(page).ToHaveURLAsync(new Regex("/dashboard/login"));
    }

    [Fact]
    public async Task In_sandbox_mode_the_merchant_invoice_is_paid_from_the_sandbox_wallet_over_lightning_and_shows_settled_with_the_webhook_delivered()
    {
        await using var server = new BrowserServer(sandbox: true);
        using var hooks = new WebhookListener();
        var info = await server.Get<SandboxState>().Info.WaitAsync(TimeSpan.FromMinutes(3));
        await using var context = await chromium.Browser.NewContextAsync(new() { BaseURL = server.BaseUrl });
        var page = await LoggedInPageAsync(context, info.Login.Email, info.Login.Password);

        // The node pages show the sandbox's merchant node and its channels to the counterparty nodes.
        await page.GetByRole(AriaRole.Link, new() { Name = "Channels" }).ClickAsync();
        await Expect(page.Locator("#channels .bar").First).ToBeVisibleAsync();
        await Expect(page.Locator("#liquidity")).ToContainTextAsync("can receive");
        await page.GetByRole(AriaRole.Link, new() { Name = "Node" }).ClickAsync();
        await Expect(page.Locator("#node-info")).ToContainTextAsync("regtest");

        await page.GotoAsync("/dashboard/stores/" + info.StoreId + "/webhooks");
        await page.GetByLabel("URL", new() { Exact = true }).FillAsync(hooks.Url);
        await page.GetByRole(AriaRole.Button, new() { Name = "Add webhook" }).ClickAsync();
        await Expect(page.GetByLabel("Signing secret", new() { Exact = true })).ToHaveValueAsync(new Regex("^[0-9a-f]{64}$"));

        await page.GetByRole(AriaRole.Link, new() { Name = "Invoices" }).ClickAsync();
        await page.GetByLabel("Amount", new() { Exact = true }).FillAsync("0.0002");
        await page.GetByLabel("Currency", new() { Exact = true }).FillAsync("BTC");
        await page.GetByLabel("Order id", new() { Exact = true }).FillAsync("sandbox-1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create invoice" }).ClickAsync();
        await Expect(page.Locator("#invoice-status")).ToContainTextAsync("New");
        var invoicePath = new Uri(page.Url).AbsolutePath;
        var invoiceId = invoicePath[(invoicePath.LastIndexOf('/') + 1)..];
        await Expect(page.GetByText("Lightning:")).ToBeVisibleAsync();

        // Checkout, then the customer's sandbox wallet pays the BOLT 11 invoice.
        await page.GetByRole(AriaRole.Link, new() { Name = "Open the checkout page" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Pay 0.0002 BTC" })).ToBeVisibleAsync();
        await Expect(page.GetByAltText(new Regex("^QR code of the payment request"))).ToBeVisibleAsync();
        await Expect(page.Locator("#countdown")).ToHaveTextAsync(new Regex("^Expires in \\d+:\\d\\d$"));
        await page.Locator("#sandbox-pay").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sandbox wallet" })).ToBeVisibleAsync();
        await page.Locator("#pay").ClickAsync();
        await Expect(page.Locator("#result")).ToHaveAttributeAsync("data-succeeded", "true", new() { Timeout = 60_000 });
        await page.GetByRole(AriaRole.Link, new() { Name = "Back to the checkout page" }).ClickAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("Paid. Thank you!");

        // The dashboard: Settled with a Lightning payment; the webhook was delivered.
        await page.GotoAsync(invoicePath);
        await Expect(page.Locator("#invoice-status")).ToContainTextAsync("Settled");
        await Expect(page.Locator("#payments")).ToContainTextAsync("Lightning");
        await hooks.WaitForAsync("invoice.settled", Patience);
        await page.GetByRole(AriaRole.Link, new() { Name = "Webhooks" }).ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = hooks.Url }).ClickAsync();
        await ReloadUntilAsync(page, page.Locator("tr[data-event='invoice.settled']:has(.badge-delivered)"));
        Assert.Contains(hooks.Received, r => r.EventType == "invoice.settled" && r.Body.Contains(invoiceId, StringComparison.Ordinal));

        // The merchant node's wallet page lists the received Lightning payment.
        await page.GotoAsync("/dashboard/wallet");
        await Expect(page.Locator("#transactions")).ToContainTextAsync("received");
    }
}
