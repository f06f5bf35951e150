using Microsoft.Extensions.Configuration;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Satflow.Merchant;
using Satflow.Server.Hosting;
using Satflow.Webhooks;

namespace Satflow.Server.Tests;

/// <summary>A real satflowd (Kestrel on 127.0.0.1, port 0) started through <c>Program.RunAsync</c> with a data directory.</summary>
public sealed class SandboxProcess : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();

    private SandboxProcess(string dataDirectory, string[] args)
    {
        DataDirectory = dataDirectory;
        Run = Task.Run(() => Program.RunAsync(args, _stop.Token));
    }

    public string DataDirectory { get; }

    public Task<int> Run { get; }

    public JsonElement Info { get; private set; }

    public string BaseUrl => new Uri(Info.GetProperty("apiUrl").GetString()!).GetLeftPart(UriPartial.Authority);

    public string ApiKey => Info.GetProperty("apiKey").GetString()!;

    public string StoreId => Info.GetProperty("storeId").GetString()!;

    public static async Task<SandboxProcess> StartAsync(string dataDirectory, params string[] extra)
    {
        var sandboxJson = Path.Combine(dataDirectory, "sandbox.json");
        var before = File.Exists(sandboxJson) ? File.GetLastWriteTimeUtc(sandboxJson) : DateTime.MinValue;
        var process = new SandboxProcess(dataDirectory, ["--urls", "http://127.0.0.1:0", "--datadir", dataDirectory, "--sandbox-block-seconds", "2", .. extra]);
        for (var i = 0; i < 1200; i++)
        {
            Assert.False(process.Run.IsCompleted, "satflowd exited: " + (process.Run.IsCompletedSuccessfully ? process.Run.Result.ToString(System.Globalization.CultureInfo.InvariantCulture) : process.Run.Exception?.ToString()));
            if (File.Exists(sandboxJson) && File.GetLastWriteTimeUtc(sandboxJson) > before)
            {
                try
                {
                    process.Info = JsonDocument.Parse(await File.ReadAllTextAsync(sandboxJson)).RootElement.Clone();
                    return process;
                }
                catch (Exception e) when (e is JsonException or IOException)
                {
                    // Being replaced: read again.
                }
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("the sandbox did not write sandbox.json within 120 s");
    }

    public HttpClient Client(bool withKey = true)
    {
        var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true, CookieContainer = new CookieContainer() }) { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
        if (withKey)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("token", ApiKey);
        }

        return client;
    }

    /// <summary>Pays through the sandbox wallet page like a browser: GET (antiforgery cookie and token), then POST the form.</summary>
    public async Task<(HttpStatusCode Status, string Html)> PayWithWalletAsync(string paymentRequest, string method = "lightning")
    {
        using var browser = Client(withKey: false);
        var page = await browser.GetStringAsync("/sandbox/wallet?invoice=" + Uri.EscapeDataString(paymentRequest));
        var token = Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"");
        Assert.True(token.Success, "no antiforgery token on the wallet page");
        var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = WebUtility.HtmlDecode(token.Groups[1].Value),
            ["invoice"] = paymentRequest,
            ["method"] = method,
        });
        var response = await browser.PostAsync("/sandbox/wallet", form);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task<int> StopAsync()
    {
        await _stop.CancelAsync();
        return await Run.WaitAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        if (!Run.IsCompleted)
        {
            await StopAsync();
        }

        _stop.Dispose();
    }
}

/// <summary>
/// The sandbox end to end (issue 6 §2): satflowd with no configuration but a data directory starts the devnet, the
/// merchant node and two customer nodes with channels, writes sandbox.json (0600) with a working API key and login; an
/// invoice created through /api/v1 carries a BOLT 11 and a BIP 21 address; the sandbox wallet page pays it over
/// Lightning (and another one on-chain), the invoices become Settled and the webhook fires; a restart keeps the same
/// sandbox.json; production mode refuses a database with sandbox keys.
/// </summary>
[Collection(SandboxCollection.Name)]
public sealed class SandboxTests() : TempDirectoryTest("satflowd-sandbox-")
{
    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {expected}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<JsonElement> CreateInvoiceAsync(HttpClient api, string store, long sats)
        => await JsonAsync(await api.SendAsync(Http.Post($"/api/v1/stores/{store}/invoices", new { amount = sats, currency = "SATS" })), HttpStatusCode.Created);

    private static async Task<JsonElement> WaitForStatusAsync(HttpClient api, string store, string id, string status)
    {
        JsonElement invoice = default;
        for (var i = 0; i < 300; i++)
        {
            invoice = await JsonAsync(await api.GetAsync($"/api/v1/stores/{store}/invoices/{id}"), HttpStatusCode.OK);
            if (invoice.GetProperty("status").GetString() == status)
            {
                return invoice;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"invoice {id} is {invoice.GetProperty("status")}, not {status}");
    }

    private static async Task<List<string>> EventsForAsync(WebhookReceiver receiver, string invoiceId, string until)
    {
        var seen = new List<string>();
        while (!seen.Contains(until))
        {
            var (_, type, body) = await receiver.NextAsync();
            if (WebhookEvent.Parse(body).Data.GetProperty("invoiceId").GetString() == invoiceId)
            {
                seen.Add(type);
            }
        }

        return seen;
    }

    [Fact]
    public async Task Sandbox_pays_invoices_over_Lightning_and_on_chain_end_to_end_and_keeps_its_account_across_restarts()
    {
        JsonElement first;
        await using (var sandbox = await SandboxProcess.StartAsync(TempDir))
        {
            first = sandbox.Info;
            var file = Path.Combine(TempDir, "sandbox.json");
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            }

            Assert.StartsWith("http://127.0.0.1:", first.GetProperty("dashboardUrl").GetString());
            Assert.EndsWith("/api/v1/", first.GetProperty("apiUrl").GetString());
            Assert.EndsWith("/sandbox/wallet", first.GetProperty("walletUrl").GetString());
            Assert.Equal("demo@sandbox.satflow.invalid", first.GetProperty("login").GetProperty("email").GetString());
            Assert.False(string.IsNullOrEmpty(first.GetProperty("login").GetProperty("password").GetString()));

            using var api = sandbox.Client();
            var stores = await JsonAsync(await api.GetAsync("/api/v1/stores"), HttpStatusCode.OK);
            Assert.Contains(stores.EnumerateArray(), s => s.GetProperty("id").GetString() == sandbox.StoreId);

            using var receiver = new WebhookReceiver();
            await JsonAsync(await api.SendAsync(Http.Post($"/api/v1/stores/{sandbox.StoreId}/webhooks", new { url = receiver.Url, eventTypes = new[] { "invoice.*" } })), HttpStatusCode.Created);

            // Lightning: the invoice has a BOLT 11 from the merchant node; the sandbox wallet pays it from a customer node.
            var invoice = await CreateInvoiceAsync(api, sandbox.StoreId, 21_000);
            var id = invoice.GetProperty("id").GetString()!;
            var methods = invoice.GetProperty("paymentMethods").EnumerateArray().ToList();
            var bolt11 = methods.Single(m => m.GetProperty("method").GetString() == "Lightning").GetProperty("destination").GetString()!;
            Assert.StartsWith("lnbcrt", bolt11);
            Assert.StartsWith("bcrt1", methods.Single(m => m.GetProperty("method").GetString() == "OnChain").GetProperty("destination").GetString());
            Assert.Contains("lightning=" + bolt11, invoice.GetProperty("paymentUri").GetString(), StringComparison.OrdinalIgnoreCase);

            using (var browser = sandbox.Client(withKey: false))
            {
                var checkout = await browser.GetStringAsync($"/i/{id}");
                Assert.Contains("Pay with sandbox wallet", checkout);
                Assert.Equal(HttpStatusCode.BadRequest, (await browser.PostAsync("/sandbox/wallet", new FormUrlEncodedContent(new Dictionary<string, string> { ["invoice"] = bolt11 }))).StatusCode);
            }

            var (status, html) = await sandbox.PayWithWalletAsync(invoice.GetProperty("paymentUri").GetString()!);
            Assert.True(status == HttpStatusCode.OK, html);
            Assert.Contains("data-succeeded=\"true\"", html);
            var settled = await WaitForStatusAsync(api, sandbox.StoreId, id, "Settled");
            Assert.Equal(21_000_000, settled.GetProperty("amountPaidMsat").GetInt64());
            var events = await EventsForAsync(receiver, id, "invoice.settled");
            Assert.Equal("invoice.created", events[0]);

            // Paying the same invoice again is refused by the wallet's node (the hash is already paid), and changes nothing.
            var (againStatus, againHtml) = await sandbox.PayWithWalletAsync(bolt11);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, againStatus);
            Assert.Contains("data-succeeded=\"false\"", againHtml);

            // On-chain: the wallet sends to the BIP 21 address; the devnet's block timer confirms it.
            var onchain = await CreateInvoiceAsync(api, sandbox.StoreId, 30_000);
            var onchainId = onchain.GetProperty("id").GetString()!;
            var (chainStatus, chainHtml) = await sandbox.PayWithWalletAsync(onchain.GetProperty("paymentUri").GetString()!, "onchain");
            Assert.True(chainStatus == HttpStatusCode.OK, chainHtml);
            var paid = await WaitForStatusAsync(api, sandbox.StoreId, onchainId, "Settled");
            Assert.Equal(30_000_000, paid.GetProperty("amountPaidMsat").GetInt64());
            Assert.Contains("invoice.settled", await EventsForAsync(receiver, onchainId, "invoice.settled"));

            Assert.Equal(0, await sandbox.StopAsync());
        }

        // Restart: the same account, a new port; Lightning still works over the re-established channels.
        await using (var again = await SandboxProcess.StartAsync(TempDir))
        {
            Assert.Equal(first.GetProperty("apiKey").GetString(), again.ApiKey);
            Assert.Equal(first.GetProperty("storeId").GetString(), again.StoreId);
            Assert.Equal(first.GetProperty("login").GetProperty("password").GetString(), again.Info.GetProperty("login").GetProperty("password").GetString());
            using var api = again.Client();
            var invoice = await CreateInvoiceAsync(api, again.StoreId, 5_000);
            var (status, html) = await again.PayWithWalletAsync(invoice.GetProperty("paymentUri").GetString()!);
            Assert.True(status == HttpStatusCode.OK, html);
            await WaitForStatusAsync(api, again.StoreId, invoice.GetProperty("id").GetString()!, "Settled");
            Assert.Equal(0, await again.StopAsync());
        }

        // Production on the sandbox's database: refused before anything else starts.
        var code = await Program.RunAsync(["--urls", "http://127.0.0.1:0", "--datadir", TempDir, "--bitcoind-rpc", "http://u:p@127.0.0.1:9/"], CancellationToken.None);
        Assert.Equal(1, code);
    }

    private static async Task<Dictionary<string, long>> AttributesAsync(HttpClient browser, string path, string id)
    {
        var html = await browser.GetStringAsync(path);
        var element = Regex.Match(html, "<p[^>]*id=\"" + id + "\"[^>]*>");
        Assert.True(element.Success, $"no #{id} on {path}");
        return Regex.Matches(element.Value, "data-([a-z-]+)=\"(\\d+)\"").ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task<Dictionary<string, long>> WaitForAttributesAsync(HttpClient browser, string path, string id, Func<Dictionary<string, long>, bool> done)
    {
        var last = new Dictionary<string, long>();
        for (var i = 0; i < 300; i++)
        {
            last = await AttributesAsync(browser, path, id);
            if (done(last))
            {
                return last;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"#{id} on {path}: " + string.Join(", ", last.Select(kv => kv.Key + "=" + kv.Value)));
    }

    [Fact]
    public async Task Sandbox_ledger_moves_with_the_node_balances_and_a_Lightning_payout_is_paid_once_through_the_node()
    {
        await using var sandbox = await SandboxProcess.StartAsync(TempDir, "--payout-seconds", "1");
        using var api = sandbox.Client();
        using var browser = sandbox.Client(withKey: false);
        var before = await AttributesAsync(browser, "/sandbox", "reconciliation");
        Assert.Equal(0, before["ledger-lightning-msat"]);
        Assert.Equal(2 * 1_000_000_000L, before["channels-msat"]); // the liquidity the two customers pushed

        // A Lightning payment and an on-chain payment move the ledger and the node's balances by the same amounts.
        var ln = await CreateInvoiceAsync(api, sandbox.StoreId, 40_000);
        Assert.Equal(HttpStatusCode.OK, (await sandbox.PayWithWalletAsync(ln.GetProperty("paymentUri").GetString()!)).Status);
        await WaitForStatusAsync(api, sandbox.StoreId, ln.GetProperty("id").GetString()!, "Settled");
        var chain = await CreateInvoiceAsync(api, sandbox.StoreId, 25_000);
        Assert.Equal(HttpStatusCode.OK, (await sandbox.PayWithWalletAsync(chain.GetProperty("paymentUri").GetString()!, "onchain")).Status);
        await WaitForStatusAsync(api, sandbox.StoreId, chain.GetProperty("id").GetString()!, "Settled");
        var after = await WaitForAttributesAsync(browser, "/sandbox", "reconciliation",
            r => r["channels-msat"] - before["channels-msat"] == 40_000_000 && r["wallet-msat"] - before["wallet-msat"] == 25_000_000);
        Assert.Equal(40_000_000, after["ledger-lightning-msat"] - before["ledger-lightning-msat"]);
        Assert.Equal(25_000_000, after["ledger-onchain-msat"] - before["ledger-onchain-msat"]);

        // A pull payment claimed with the customer's invoice: the processor pays it through the node exactly once.
        var walletPage = await browser.GetStringAsync("/sandbox/wallet");
        var token = WebUtility.HtmlDecode(Regex.Match(walletPage, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value);
        var receive = await browser.PostAsync("/sandbox/wallet/receive", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = token, ["amount"] = "10000" }));
        var receiveHtml = await receive.Content.ReadAsStringAsync();
        Assert.True(receive.StatusCode == HttpStatusCode.OK, receiveHtml);
        var bolt11 = Regex.Match(receiveHtml, "data-bolt11=\"([^\"]+)\"").Groups[1].Value;
        Assert.StartsWith("lnbcrt", bolt11);
        var balanceBefore = (await AttributesAsync(browser, "/sandbox/wallet", "balance"))["local-msat"];

        var root = $"/api/v1/stores/{sandbox.StoreId}";
        var pp = await JsonAsync(await api.SendAsync(Http.Post($"{root}/pull-payments", new { name = "Refunds", amount = 0.001m, currency = "BTC", methods = new[] { "Lightning" } })), HttpStatusCode.Created);
        var claim = await JsonAsync(await api.SendAsync(Http.Post($"{root}/pull-payments/{pp.GetProperty("id").GetString()}/claims", new { destination = bolt11, amount = 0.0001m })), HttpStatusCode.Created);
        var payoutId = claim.GetProperty("id").GetString()!;
        await JsonAsync(await api.SendAsync(Http.Post($"{root}/payouts/{payoutId}/approve", new { })), HttpStatusCode.OK);
        JsonElement payout = default;
        for (var i = 0; i < 150; i++)
        {
            payout = (await JsonAsync(await api.GetAsync($"{root}/payouts"), HttpStatusCode.OK)).EnumerateArray().Single(p => p.GetProperty("id").GetString() == payoutId);
            if (payout.GetProperty("state").GetString() is "Completed" or "Failed")
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.True(payout.GetProperty("state").GetString() == "Completed", payout.ToString());
        await WaitForAttributesAsync(browser, "/sandbox/wallet", "balance", b => b["local-msat"] - balanceBefore == 10_000_000);
        // More processor runs (every second) change nothing: the payout stays completed and the customer got it once.
        await Task.Delay(3_000);
        Assert.Equal(10_000_000, (await AttributesAsync(browser, "/sandbox/wallet", "balance"))["local-msat"] - balanceBefore);
        Assert.Equal("Completed", (await JsonAsync(await api.GetAsync($"{root}/payouts"), HttpStatusCode.OK)).EnumerateArray().Single(p => p.GetProperty("id").GetString() == payoutId).GetProperty("state").GetString());
        var ledger = await AttributesAsync(browser, "/sandbox", "reconciliation");
        Assert.Equal(after["channels-msat"] - 10_000_000, ledger["channels-msat"]);
    }

    [Fact]
    public void Sandbox_and_production_options_are_exclusive()
    {
        static ServerOptions Parse(params (string Key, string Value)[] pairs)
            => ServerOptions.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))).Build());

        Assert.Equal(ServerMode.Sandbox, Parse().Mode);
        Assert.Equal(ServerMode.Production, Parse(("bitcoind-rpc", "http://u:p@127.0.0.1:8332/")).Mode);
        Assert.Equal(ServerMode.Standalone, Parse(("mode", "standalone")).Mode);
        Assert.Equal(MerchantErrorReason.InvalidConfiguration, Assert.Throws<MerchantException>(() => Parse(("sandbox", "true"), ("bitcoind-rpc", "http://u:p@127.0.0.1:8332/"))).Reason);
        Assert.Equal(MerchantErrorReason.InvalidConfiguration, Assert.Throws<MerchantException>(() => Parse(("mode", "production"))).Reason);
        Assert.Equal(MerchantErrorReason.InvalidConfiguration, Assert.Throws<MerchantException>(() => Parse(("bitcoind-rpc", "ftp://x"))).Reason);
        Assert.Equal(["--sandbox=true", "--bitcoind-rpc", "http://x/"], Program.NormalizeFlags(["--sandbox", "--bitcoind-rpc", "http://x/"]));
        Assert.Equal(["--sandbox", "false"], Program.NormalizeFlags(["--sandbox", "false"]));
    }
}

/// <summary>Sandbox processes use the console and real ports: one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class SandboxCollection
{
    public const string Name = "sandbox";
}
