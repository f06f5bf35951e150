using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Satflow.Server.Tests;

/// <summary>
/// Issue 6's exact reconciliation in the sandbox: from the first start (the sandbox's coinbase funds and the customers'
/// pushes are operator capital) through a Lightning invoice, an on-chain invoice and a Lightning payout, the ledger
/// explains every msat of the merchant node's wallet and channels; a restart re-scans the node and books nothing twice;
/// the dashboard's wallet page shows the on-chain history and the verdict.
/// </summary>
[Collection(SandboxCollection.Name)]
public abstract class ReconciliationTests() : TempDirectoryTest("satflowd-recon-")
{
    /// <summary>The storage arguments of satflowd (none: SQLite in the data directory).</summary>
    protected abstract string[] StorageArgs { get; }

    private sealed record Reconciliation(bool Exact, Dictionary<string, long> Figures, string Html)
    {
        public long this[string key] => Figures[key];
    }

    private static async Task<Reconciliation> ReadAsync(HttpClient browser)
    {
        var html = await browser.GetStringAsync("/sandbox");
        var element = Regex.Match(html, "<p[^>]*id=\"reconciliation\"[^>]*>");
        Assert.True(element.Success, "no #reconciliation on /sandbox");
        var figures = Regex.Matches(element.Value, "data-([a-z-]+)=\"(-?\\d+)\"").ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        var exact = Regex.Match(element.Value, "data-exact=\"(true|false)\"");
        Assert.True(exact.Success, element.Value);
        return new Reconciliation(exact.Groups[1].Value == "true", figures, html);
    }

    /// <summary>Waits until the report is exact and <paramref name="done"/> holds (the node books its movements every 2 s).</summary>
    private static async Task<Reconciliation> WaitExactAsync(HttpClient browser, Func<Reconciliation, bool>? done = null)
    {
        Reconciliation last = null!;
        for (var i = 0; i < 300; i++)
        {
            last = await ReadAsync(browser);
            if (last.Exact && (done?.Invoke(last) ?? true))
            {
                return last;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("the reconciliation did not become exact: " + string.Join(", ", last.Figures.Select(kv => kv.Key + "=" + kv.Value)) + " exact=" + last.Exact);
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {expected}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task WaitForStatusAsync(HttpClient api, string store, string id, string status)
    {
        for (var i = 0; i < 300; i++)
        {
            var invoice = await JsonAsync(await api.GetAsync($"/api/v1/stores/{store}/invoices/{id}"), HttpStatusCode.OK);
            if (invoice.GetProperty("status").GetString() == status)
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"invoice {id} did not become {status}");
    }

    private static async Task PayInvoiceAsync(SandboxProcess sandbox, HttpClient api, long sats, string method)
    {
        var invoice = await JsonAsync(await api.SendAsync(Http.Post($"/api/v1/stores/{sandbox.StoreId}/invoices", new { amount = sats, currency = "SATS" })), HttpStatusCode.Created);
        var (status, html) = await sandbox.PayWithWalletAsync(invoice.GetProperty("paymentUri").GetString()!, method);
        Assert.True(status == HttpStatusCode.OK, html);
        await WaitForStatusAsync(api, sandbox.StoreId, invoice.GetProperty("id").GetString()!, "Settled");
    }

    private static async Task PayOutAsync(SandboxProcess sandbox, HttpClient api, HttpClient browser, long sats)
    {
        var walletPage = await browser.GetStringAsync("/sandbox/wallet");
        var token = WebUtility.HtmlDecode(Regex.Match(walletPage, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value);
        var receive = await browser.PostAsync("/sandbox/wallet/receive", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token, ["amount"] = sats.ToString(CultureInfo.InvariantCulture) }));
        var receiveHtml = await receive.Content.ReadAsStringAsync();
        Assert.True(receive.StatusCode == HttpStatusCode.OK, receiveHtml);
        var bolt11 = Regex.Match(receiveHtml, "data-bolt11=\"([^\"]+)\"").Groups[1].Value;
        var root = $"/api/v1/stores/{sandbox.StoreId}";
        var pp = await JsonAsync(await api.SendAsync(Http.Post($"{root}/pull-payments", new { name = "Refunds", amount = 0.001m, currency = "BTC", methods = new[] { "Lightning" } })), HttpStatusCode.Created);
        var claim = await JsonAsync(await api.SendAsync(Http.Post($"{root}/pull-payments/{pp.GetProperty("id").GetString()}/claims", new { destination = bolt11, amount = sats / 100_000_000m })), HttpStatusCode.Created);
        var payoutId = claim.GetProperty("id").GetString()!;
        await JsonAsync(await api.SendAsync(Http.Post($"{root}/payouts/{payoutId}/approve", new { })), HttpStatusCode.OK);
        for (var i = 0; i < 300; i++)
        {
            var payout = (await JsonAsync(await api.GetAsync($"{root}/payouts"), HttpStatusCode.OK)).EnumerateArray().Single(p => p.GetProperty("id").GetString() == payoutId);
            var state = payout.GetProperty("state").GetString();
            if (state == "Completed")
            {
                return;
            }

            Assert.True(state != "Failed", payout.ToString());
            await Task.Delay(200);
        }

        throw new TimeoutException("the payout did not complete");
    }

    /// <summary>The API report's fields and the /sandbox page's figures they must equal.</summary>
    private static readonly (string Field, string Figure)[] ApiFigures =
    [
        ("ledgerOnChainMsat", "ledger-onchain-msat"), ("ledgerLightningMsat", "ledger-lightning-msat"), ("walletMsat", "wallet-msat"),
        ("channelsMsat", "channels-msat"), ("operatorOnChainMsat", "operator-onchain-msat"), ("operatorLightningMsat", "operator-lightning-msat"),
        ("operatorCapitalMsat", "operator-capital-msat"), ("operatorIncomeMsat", "operator-income-msat"), ("operatorExpensesMsat", "operator-expenses-msat"),
        ("totalDifferenceMsat", "difference"),
    ];

    /// <summary>GET /api/v1/server/reconciliation and the /sandbox figures, read until both are exact, agree and no HTLC is still settling (the node books every 2 s).</summary>
    private static async Task<(JsonElement Report, Reconciliation Page)> ApiReportAsync(HttpClient api, HttpClient browser)
    {
        JsonElement report = default;
        Reconciliation page = null!;
        for (var i = 0; i < 300; i++)
        {
            report = await JsonAsync(await api.GetAsync("/api/v1/server/reconciliation"), HttpStatusCode.OK);
            page = await ReadAsync(browser);
            // An HTLC already fulfilled but not yet removed from the commitment is listed as an item until the
            // commitment round completes: wait for it too.
            if (report.GetProperty("exact").GetBoolean() && page.Exact && report.GetProperty("items").GetArrayLength() == 0
                && ApiFigures.All(f => page[f.Figure] == report.GetProperty(f.Field).GetInt64()))
            {
                break;
            }

            await Task.Delay(200);
        }

        return (report, page);
    }

    private static async Task<string> WalletPageAsync(SandboxProcess sandbox, HttpClient dashboard)
    {
        var login = await dashboard.GetStringAsync("/dashboard/login");
        var token = WebUtility.HtmlDecode(Regex.Match(login, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value);
        var credentials = sandbox.Info.GetProperty("login");
        using var response = await dashboard.PostAsync("/dashboard/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token,
            ["email"] = credentials.GetProperty("email").GetString()!,
            ["password"] = credentials.GetProperty("password").GetString()!,
            ["returnUrl"] = "/dashboard",
        }));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return await dashboard.GetStringAsync("/dashboard/wallet");
    }

    [Fact]
    public async Task The_sandbox_reconciles_exactly_through_payments_and_a_payout_and_a_restart_books_nothing_twice()
    {
        Reconciliation final;
        await using (var sandbox = await SandboxProcess.StartAsync(TempDir, ["--payout-seconds", "1", .. StorageArgs]))
        {
            using var api = sandbox.Client();
            using var browser = sandbox.Client(withKey: false);

            // Before any payment: the wallet's coinbase and the two pushes are the operator's capital, to the msat.
            var start = await WaitExactAsync(browser);
            Assert.Equal(0, start["ledger-lightning-msat"]);
            Assert.Equal(0, start["ledger-onchain-msat"]);
            Assert.Equal(2 * 1_000_000_000L, start["operator-lightning-msat"]);
            Assert.Equal(start["channels-msat"], start["operator-lightning-msat"]);
            Assert.Equal(start["wallet-msat"], start["operator-onchain-msat"]);
            Assert.Equal(start["wallet-msat"] + start["channels-msat"], start["operator-capital-msat"]);
            Assert.Equal(0, start["difference"]);
            Assert.Contains("reconciles exactly", start.Html, StringComparison.Ordinal);

            // A Lightning invoice and an on-chain invoice: store money, next to the operator's.
            await PayInvoiceAsync(sandbox, api, 40_000, "lightning");
            await PayInvoiceAsync(sandbox, api, 25_000, "onchain");
            var paid = await WaitExactAsync(browser, r => r["ledger-lightning-msat"] == 40_000_000 && r["ledger-onchain-msat"] == 25_000_000);
            Assert.Equal(start["operator-capital-msat"], paid["operator-capital-msat"]);
            Assert.Equal(start["channels-msat"] + 40_000_000, paid["channels-msat"]);
            Assert.Equal(start["wallet-msat"] + 25_000_000, paid["wallet-msat"]);

            // A Lightning payout leaves the store's balance (and only the store's).
            await PayOutAsync(sandbox, api, browser, 10_000);
            var afterPayout = await WaitExactAsync(browser, r => r["ledger-lightning-msat"] == 30_000_000);
            Assert.Equal(start["operator-capital-msat"], afterPayout["operator-capital-msat"]);
            Assert.Equal(paid["channels-msat"] - 10_000_000, afterPayout["channels-msat"]);

            // The REST API gives the same report as the page (the sandbox key holds every scope; its user is a server admin).
            var (report, page) = await ApiReportAsync(api, browser);
            Assert.True(report.GetProperty("exact").GetBoolean(), report.ToString());
            Assert.True(page.Exact);
            Assert.Equal(30_000_000, report.GetProperty("ledgerLightningMsat").GetInt64());
            foreach (var (field, figure) in ApiFigures)
            {
                Assert.True(page[figure] == report.GetProperty(field).GetInt64(), $"{field} {report.GetProperty(field)} vs page {figure} {page[figure]}");
            }

            Assert.Equal(report.GetProperty("walletMsat").GetInt64() + report.GetProperty("channelsMsat").GetInt64(), report.GetProperty("ledgerTotalMsat").GetInt64());
            Assert.Empty(report.GetProperty("items").EnumerateArray());
            var storeLine = Assert.Single(report.GetProperty("stores").EnumerateArray(), l => l.GetProperty("storeId").GetString() == sandbox.StoreId);
            Assert.Equal(25_000_000, storeLine.GetProperty("onChainMsat").GetInt64());
            Assert.Equal(30_000_000, storeLine.GetProperty("lightningMsat").GetInt64());
            Assert.True(report.GetProperty("generatedAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));

            // The dashboard's wallet page: balances, the on-chain history (the invoice's 25,000 sat received) and the verdict.
            using var dashboard = sandbox.Client(withKey: false);
            string wallet = "";
            for (var i = 0; i < 300; i++)
            {
                wallet = await WalletPageAsync(sandbox, dashboard);
                if (wallet.Contains("id=\"reconciliation-verdict\" data-exact=\"true\"", StringComparison.Ordinal))
                {
                    break;
                }

                await Task.Delay(200);
            }

            Assert.Contains("id=\"balance\"", wallet, StringComparison.Ordinal);
            Assert.Contains("id=\"onchain-transactions\"", wallet, StringComparison.Ordinal);
            Assert.Matches("data-direction=\"received\" data-amount-sat=\"25000\" data-confirmations=\"[1-9]\\d*\"", wallet);
            Assert.Contains("id=\"reconciliation-verdict\" data-exact=\"true\"", wallet, StringComparison.Ordinal);
            Assert.Contains("data-line=\"total\" data-difference-msat=\"0\"", wallet, StringComparison.Ordinal);
            Assert.Contains("data-store=\"" + sandbox.StoreId + "\"", wallet, StringComparison.Ordinal);
            final = afterPayout;
            Assert.Equal(0, await sandbox.StopAsync());
        }

        // A restart re-scans the wallet, the channels and the payments: nothing is booked twice, the report stays exact.
        await using (var again = await SandboxProcess.StartAsync(TempDir, StorageArgs))
        {
            using var browser = again.Client(withKey: false);
            var restarted = await WaitExactAsync(browser);
            await Task.Delay(NodeLedgerInterval * 2);
            restarted = await WaitExactAsync(browser);
            Assert.Equal(final["operator-capital-msat"], restarted["operator-capital-msat"]);
            Assert.Equal(final["operator-expenses-msat"], restarted["operator-expenses-msat"]);
            Assert.Equal(final["ledger-lightning-msat"], restarted["ledger-lightning-msat"]);
            Assert.Equal(final["ledger-onchain-msat"], restarted["ledger-onchain-msat"]);
            Assert.Equal(final["wallet-msat"], restarted["wallet-msat"]);
            Assert.Equal(final["channels-msat"], restarted["channels-msat"]);
            Assert.Equal(0, await again.StopAsync());
        }
    }

    private static readonly TimeSpan NodeLedgerInterval = Satflow.Server.Hosting.NodeLedgerService.Interval;
}

/// <summary>The sandbox reconciliation on SQLite.</summary>
public sealed class SqliteReconciliationTests : ReconciliationTests
{
    protected override string[] StorageArgs => [];
}

/// <summary>The sandbox reconciliation on a PostgreSQL schema (the same schema across the restart).</summary>
public sealed class PostgresReconciliationTests(PostgresFixture postgres) : ReconciliationTests, IClassFixture<PostgresFixture>
{
    private readonly string _schema = "recon_" + Guid.NewGuid().ToString("N")[..12];

    protected override string[] StorageArgs => ["--postgres", postgres.ConnectionString, "--postgres-schema", _schema];
}
