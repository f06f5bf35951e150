using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Antiforgery;
using NBitcoin;
using Satflow.Merchant;
using Satflow.Merchant.Invoices;
using Satflow.Server.Hosting;

namespace Satflow.Server.Sandbox;

/// <summary>
/// The sandbox pages (mapped in sandbox mode only, so they are 404 otherwise): <c>/sandbox</c> creates a demo invoice
/// and opens its checkout page; <c>/sandbox/wallet</c> is a customer wallet that pays a BOLT 11 invoice from a
/// counterparty node, or a BIP 21 link on-chain from that node's devnet wallet. Plain HTML with no script; every POST
/// carries an ASP.NET Core antiforgery token.
/// </summary>
public static class SandboxEndpoints
{
    /// <summary>The sandbox start page.</summary>
    public const string Prefix = "/sandbox";

    /// <summary>The sandbox wallet page.</summary>
    public const string WalletPath = "/sandbox/wallet";

    /// <summary>The link that opens the wallet page with an invoice filled in.</summary>
    /// <param name="paymentRequest">A BOLT 11 invoice or a BIP 21 link.</param>
    /// <param name="back">Where the result page links back to (a local path).</param>
    /// <returns>The relative URL.</returns>
    public static string WalletLink(string paymentRequest, string back)
    {
        ArgumentNullException.ThrowIfNull(paymentRequest);
        ArgumentNullException.ThrowIfNull(back);
        return WalletPath + "?invoice=" + Uri.EscapeDataString(paymentRequest) + "&back=" + Uri.EscapeDataString(back);
    }

    /// <summary>Maps the sandbox pages.</summary>
    /// <param name="app">The application.</param>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet(Prefix, StartPageAsync).ExcludeFromDescription();
        app.MapPost(Prefix + "/invoices", CreateInvoiceAsync).ExcludeFromDescription().DisableAntiforgery();
        app.MapGet(WalletPath, WalletPageAsync).ExcludeFromDescription();
        app.MapPost(WalletPath, PayAsync).ExcludeFromDescription().DisableAntiforgery();
        app.MapPost(WalletPath + "/receive", ReceiveAsync).ExcludeFromDescription().DisableAntiforgery();
    }

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    /// <summary>Msat as sats with the msat remainder shown (never rounded): 1234567 → "1,234.567 sat".</summary>
    internal static string Sats(long msat)
    {
        var magnitude = msat == long.MinValue ? (ulong)long.MaxValue + 1 : (ulong)Math.Abs(msat);
        var sats = (magnitude / 1000).ToString("N0", CultureInfo.InvariantCulture);
        var rest = magnitude % 1000;
        return (msat < 0 ? "-" : "") + sats + (rest == 0 ? "" : "." + rest.ToString("000", CultureInfo.InvariantCulture)) + " sat";
    }

    private static async Task<IResult> StartPageAsync(HttpContext http, SandboxState state, IAntiforgery antiforgery, NodeReconciliation reconciliation)
    {
        var info = await WaitReadyAsync(state, http.RequestAborted).ConfigureAwait(false);
        if (info is null)
        {
            return NotReady();
        }

        var body = new StringBuilder();
        body.Append("<h1>Satflow sandbox</h1><p>A devnet, this merchant's Lightning node and two customer nodes with channels to it run in this process. ")
            .Append("Create an invoice for the demo store, then pay it from the sandbox wallet on its checkout page.</p>");
        body.Append("<form method=\"post\" action=\"").Append(Prefix).Append("/invoices\">").Append(Token(http, antiforgery))
            .Append("<label for=\"amount\">Amount (sats)</label><div class=\"row\"><input id=\"amount\" name=\"amount\" inputmode=\"numeric\" value=\"2100\" required>")
            .Append("<button type=\"submit\">Create a demo invoice</button></div></form>");
        body.Append("<ul><li><a href=\"").Append(E(info.DashboardUrl)).Append("\">Dashboard</a> (login ").Append(E(info.Login.Email)).Append("; the password is in sandbox.json)</li>")
            .Append("<li><a href=\"").Append(WalletPath).Append("\">Sandbox wallet</a></li>")
            .Append("<li><a href=\"/docs\">API reference</a> (store <code>").Append(E(info.StoreId)).Append("</code>; the API key is in sandbox.json)</li></ul>");
        var report = await reconciliation.ReportAsync(http.RequestAborted).ConfigureAwait(false);
        string N(long msat) => msat.ToString(CultureInfo.InvariantCulture);
        body.Append("<h2>Reconciliation</h2><p class=\"note\" id=\"reconciliation\" data-ledger-onchain-msat=\"").Append(N(report.LedgerOnChain))
            .Append("\" data-ledger-lightning-msat=\"").Append(N(report.LedgerLightning))
            .Append("\" data-wallet-msat=\"").Append(N(report.WalletBalance))
            .Append("\" data-channels-msat=\"").Append(N(report.ChannelBalance))
            .Append("\" data-operator-onchain-msat=\"").Append(N(report.OperatorOnChain))
            .Append("\" data-operator-lightning-msat=\"").Append(N(report.OperatorLightning))
            .Append("\" data-operator-capital-msat=\"").Append(N(report.OperatorCapital))
            .Append("\" data-operator-income-msat=\"").Append(N(report.OperatorIncome))
            .Append("\" data-operator-expenses-msat=\"").Append(N(report.OperatorExpenses))
            .Append("\" data-exact=\"").Append(report.Exact ? "true" : "false")
            .Append("\" data-difference=\"").Append(N(report.TotalDifference)).Append("\">")
            .Append("Stores: ").Append(E(Sats(report.LedgerOnChain))).Append(" on-chain, ").Append(E(Sats(report.LedgerLightning))).Append(" Lightning. ")
            .Append("Operator (the sandbox's own coinbase funds and the liquidity the customers pushed): capital ").Append(E(Sats(report.OperatorCapital)))
            .Append(", routing income ").Append(E(Sats(report.OperatorIncome))).Append(", fees paid ").Append(E(Sats(report.OperatorExpenses))).Append(". ")
            .Append("Node: wallet ").Append(E(Sats(report.WalletBalance))).Append(", channels ").Append(E(Sats(report.ChannelBalance))).Append(". ")
            .Append(report.Exact ? "The ledger reconciles exactly (to the msat)." : "Not exact right now: a difference of " + N(report.TotalDifference) + " msat (see the dashboard's wallet page for the lines).")
            .Append("</p>");
        return Page("Satflow sandbox", body.ToString());
    }

    private static async Task<IResult> CreateInvoiceAsync(HttpContext http, SandboxState state, IAntiforgery antiforgery, MerchantService merchant, InvoiceNotifications notifications)
    {
        if (!await antiforgery.IsRequestValidAsync(http).ConfigureAwait(false))
        {
            return Page("Bad request", "<h1>Bad request</h1><p>The form expired or did not come from this page. <a href=\"" + Prefix + "\">Try again</a>.</p>", 400);
        }

        var info = await WaitReadyAsync(state, http.RequestAborted).ConfigureAwait(false);
        if (info is null)
        {
            return NotReady();
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false);
        if (!long.TryParse(form["amount"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var sats) || sats is < 1 or > 4_000_000)
        {
            return Page("Bad amount", "<h1>Bad amount</h1><p>Give a whole number of sats between 1 and 4,000,000. <a href=\"" + Prefix + "\">Back</a>.</p>", 400);
        }

        var principal = await merchant.AuthenticateAsync("token " + info.ApiKey, http.RequestAborted).ConfigureAwait(false);
        var invoice = await merchant.CreateInvoiceAsync(principal, new StoreId(info.StoreId),
            new CreateInvoiceRequest(sats / 100_000_000m, InvoiceService.Btc) { OrderId = "sandbox-" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture) },
            http.RequestAborted).ConfigureAwait(false);
        await notifications.PublishAsync(new InvoiceEvents(invoice.Id, invoice.StoreId, invoice.Events), http.RequestAborted).ConfigureAwait(false);
        return Results.Redirect("/i/" + invoice.Id.Value);
    }

    private static async Task<IResult> WalletPageAsync(HttpContext http, SandboxState state, ServerNode node, IAntiforgery antiforgery, string? invoice, string? back)
    {
        if (await WaitReadyAsync(state, http.RequestAborted).ConfigureAwait(false) is null)
        {
            return NotReady();
        }

        return Page("Sandbox wallet", WalletForm(http, antiforgery, node, invoice ?? "", LocalPath(back), null));
    }

    private static async Task<IResult> PayAsync(HttpContext http, SandboxState state, ServerNode node, IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(http).ConfigureAwait(false))
        {
            return Page("Bad request", "<h1>Bad request</h1><p>The form expired or did not come from this page. <a href=\"" + WalletPath + "\">Try again</a>.</p>", 400);
        }

        if (await WaitReadyAsync(state, http.RequestAborted).ConfigureAwait(false) is null || node.Sandbox is not { } sandbox)
        {
            return NotReady();
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false);
        var request = form["invoice"].ToString();
        var back = LocalPath(form["back"].ToString());
        var onChain = string.Equals(form["method"].ToString(), "onchain", StringComparison.Ordinal);
        SandboxPaymentResult result;
        try
        {
            var parsed = SandboxPaymentRequest.Parse(request, Network.RegTest);
            result = !onChain && parsed.Bolt11 is { } bolt11
                ? await sandbox.PayLightningAsync(bolt11, http.RequestAborted).ConfigureAwait(false)
                : parsed.Address is { } address && parsed.Amount is { } amount
                    ? await sandbox.PayOnChainAsync(address, amount, http.RequestAborted).ConfigureAwait(false)
                    : new SandboxPaymentResult(onChain ? "onchain" : "lightning", false, "", 0,
                        onChain ? "On-chain payment needs a bitcoin: link with an address and an amount." : "This payment request has no Lightning invoice.");
        }
        catch (FormatException e)
        {
            result = new SandboxPaymentResult("", false, "", 0, e.Message);
        }

        http.Response.Headers["X-Sandbox-Payment"] = result.Succeeded ? "succeeded" : "failed";
        var status = new StringBuilder();
        status.Append("<p id=\"result\" role=\"status\" data-succeeded=\"").Append(result.Succeeded ? "true" : "false").Append("\" data-reference=\"").Append(E(result.Reference)).Append("\">")
            .Append(E(result.Message)).Append("</p>");
        if (back is not null)
        {
            status.Append("<p><a class=\"button\" href=\"").Append(E(back)).Append("\">Back to the checkout page</a></p>");
        }

        return Page(result.Succeeded ? "Paid" : "Payment failed", WalletForm(http, antiforgery, node, result.Succeeded ? "" : request, back, status.ToString()), result.Succeeded ? 200 : 422);
    }

    private static async Task<IResult> ReceiveAsync(HttpContext http, SandboxState state, ServerNode node, IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(http).ConfigureAwait(false))
        {
            return Page("Bad request", "<h1>Bad request</h1><p>The form expired or did not come from this page. <a href=\"" + WalletPath + "\">Try again</a>.</p>", 400);
        }

        if (await WaitReadyAsync(state, http.RequestAborted).ConfigureAwait(false) is null || node.Sandbox is not { } sandbox)
        {
            return NotReady();
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false);
        if (!long.TryParse(form["amount"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var sats) || sats is < 1 or > 4_000_000)
        {
            return Page("Bad amount", "<h1>Bad amount</h1><p>Give a whole number of sats between 1 and 4,000,000. <a href=\"" + WalletPath + "\">Back</a>.</p>", 400);
        }

        var invoice = await sandbox.Wallet.Node.CreateInvoiceAsync(Lightning.Types.MilliSatoshi.FromSatoshis((ulong)sats), "sandbox wallet receive", 3600, http.RequestAborted).ConfigureAwait(false);
        var address = sandbox.Wallet.Wallet.GetNewAddress(Bitcoin.Wallet.AddressType.P2wpkh).Address;
        var received = new StringBuilder();
        received.Append("<p>Pay ").Append(sats.ToString("N0", CultureInfo.InvariantCulture)).Append(" sats to the sandbox wallet (for example, claim a pull payment with it):</p>")
            .Append("<label for=\"received-invoice\">Lightning invoice</label><textarea id=\"received-invoice\" readonly rows=\"5\" data-bolt11=\"").Append(E(invoice.Bolt11)).Append("\">").Append(E(invoice.Bolt11)).Append("</textarea>")
            .Append("<label for=\"received-address\">On-chain address</label><input id=\"received-address\" readonly value=\"").Append(E(address)).Append("\">");
        return Page("Receive", WalletForm(http, antiforgery, node, "", null, received.ToString()));
    }

    private static string WalletForm(HttpContext http, IAntiforgery antiforgery, ServerNode node, string invoice, string? back, string? result)
    {
        var body = new StringBuilder();
        body.Append("<h1>Sandbox wallet</h1>");
        if (result is not null)
        {
            body.Append(result);
        }

        if (node.Sandbox is { } sandbox)
        {
            var wallet = sandbox.Wallet;
            var channels = wallet.Node.ListChannels();
            var lightning = channels.Aggregate(0UL, (sum, c) => sum + c.AvailableToSend.Value) / 1000;
            var local = channels.Where(c => c.State == Lightning.Channels.ChannelState.Normal).Aggregate(0UL, (sum, c) => sum + c.LocalBalance.Value);
            body.Append("<p class=\"note\" id=\"balance\" data-lightning-sat=\"").Append(lightning.ToString(CultureInfo.InvariantCulture))
                .Append("\" data-local-msat=\"").Append(local.ToString(CultureInfo.InvariantCulture)).Append("\">Customer node ").Append(E(wallet.NodeId.ToString()[..16])).Append("…: ")
                .Append(lightning.ToString("N0", CultureInfo.InvariantCulture)).Append(" sats spendable over Lightning, ")
                .Append(wallet.Wallet.GetBalance().Confirmed.Satoshi.ToString("N0", CultureInfo.InvariantCulture)).Append(" sats on-chain.</p>");
        }

        body.Append("<form method=\"post\" action=\"").Append(WalletPath).Append("\">").Append(Token(http, antiforgery));
        if (back is not null)
        {
            body.Append("<input type=\"hidden\" name=\"back\" value=\"").Append(E(back)).Append("\">");
        }

        body.Append("<label for=\"invoice\">BOLT 11 invoice or bitcoin: link</label><textarea id=\"invoice\" name=\"invoice\" rows=\"5\" required>")
            .Append(E(invoice)).Append("</textarea>")
            .Append("<fieldset><legend>Pay with</legend><label><input type=\"radio\" name=\"method\" value=\"lightning\" checked> Lightning</label> ")
            .Append("<label><input type=\"radio\" name=\"method\" value=\"onchain\"> On-chain</label></fieldset>")
            .Append("<p><button type=\"submit\" id=\"pay\">Pay</button></p></form>")
            .Append("<h2>Receive</h2><form method=\"post\" action=\"").Append(WalletPath).Append("/receive\">").Append(Token(http, antiforgery))
            .Append("<label for=\"receive-amount\">Amount (sats)</label><div class=\"row\"><input id=\"receive-amount\" name=\"amount\" inputmode=\"numeric\" value=\"1000\" required>")
            .Append("<button type=\"submit\">Create an invoice</button></div></form>")
            .Append("<p><a href=\"").Append(Prefix).Append("\">Sandbox start page</a></p>");
        return body.ToString();
    }

    private static string? LocalPath(string? back)
        => back is { Length: > 1 } b && b[0] == '/' && b[1] != '/' && b[1] != '\\' && !b.Contains(':', StringComparison.Ordinal) ? b : null;

    private static string Token(HttpContext http, IAntiforgery antiforgery)
    {
        var tokens = antiforgery.GetAndStoreTokens(http);
        return "<input type=\"hidden\" name=\"" + E(tokens.FormFieldName) + "\" value=\"" + E(tokens.RequestToken) + "\">";
    }

    private static async Task<SandboxInfo?> WaitReadyAsync(SandboxState state, CancellationToken ct)
    {
        try
        {
            return await state.Info.WaitAsync(TimeSpan.FromSeconds(90), ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return null;
        }
        catch (Exception e) when (e is MerchantException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    private static IResult NotReady()
        => Page("Sandbox not ready", "<h1>The sandbox is not ready</h1><p>The sandbox node did not start; see the server log.</p>", 503);

    private static IResult Page(string title, string body, int status = 200)
    {
        var html = PageTemplate.Replace("%TITLE%", E(title), StringComparison.Ordinal).Replace("%BODY%", body, StringComparison.Ordinal);
        return new HtmlResult(html, status);
    }

    private const string PageTemplate = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>%TITLE%</title>
            <style>
            :root{color-scheme:light dark;--fg:#111;--bg:#fff;--muted:#444;--accent:#0b57d0;--line:#767676}
            @media (prefers-color-scheme:dark){:root{--fg:#f2f2f2;--bg:#121212;--muted:#c8c8c8;--accent:#8ab4f8;--line:#9e9e9e}}
            body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}main{max-width:36rem;margin:0 auto;padding:1rem}
            label{font-weight:600}textarea,input{width:100%;font:inherit;padding:.5rem;border:1px solid var(--line);border-radius:.3rem;color:var(--fg);background:var(--bg);box-sizing:border-box}
            fieldset{border:1px solid var(--line);border-radius:.3rem;margin:.6rem 0}fieldset label{font-weight:400}fieldset input{width:auto}.row{display:flex;gap:.4rem}
            button,.button{font:inherit;padding:.5rem .9rem;border:0;border-radius:.3rem;background:var(--accent);color:var(--bg);cursor:pointer;text-decoration:none;display:inline-block}
            button:focus-visible,a:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
            .note{color:var(--muted)}#result{font-weight:600;padding:.6rem;border:2px solid var(--line);border-radius:.4rem}
            </style></head><body><main>
            %BODY%
            </main></body></html>
            """;

    private sealed class HtmlResult(string html, int status) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            httpContext.Response.ContentType = "text/html; charset=utf-8";
            httpContext.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
            httpContext.Response.Headers.XContentTypeOptions = "nosniff";
            return httpContext.Response.WriteAsync(html, Encoding.UTF8);
        }
    }
}

/// <summary>A payment request pasted into the sandbox wallet: a BOLT 11 invoice, or a BIP 21 link (with an optional <c>lightning=</c> invoice).</summary>
/// <param name="Bolt11">The Lightning invoice, if any.</param>
/// <param name="Address">The on-chain address, if any.</param>
/// <param name="Amount">The on-chain amount, if any.</param>
public sealed record SandboxPaymentRequest(string? Bolt11, BitcoinAddress? Address, Money? Amount)
{
    /// <summary>Parses a pasted payment request.</summary>
    /// <param name="text">The text.</param>
    /// <param name="network">The network of on-chain addresses.</param>
    /// <returns>The request.</returns>
    /// <exception cref="FormatException">Neither a BOLT 11 invoice nor a valid bitcoin: link.</exception>
    public static SandboxPaymentRequest Parse(string? text, Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        var t = (text ?? "").Trim();
        if (t.StartsWith("lightning:", StringComparison.OrdinalIgnoreCase))
        {
            t = t["lightning:".Length..];
        }

        if (t.StartsWith("ln", StringComparison.OrdinalIgnoreCase))
        {
            return new SandboxPaymentRequest(t.ToLowerInvariant(), null, null);
        }

        if (!t.StartsWith("bitcoin:", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("Paste a BOLT 11 invoice (lnbcrt...) or a bitcoin: link.");
        }

        var rest = t["bitcoin:".Length..];
        var q = rest.IndexOf('?', StringComparison.Ordinal);
        var addressText = q < 0 ? rest : rest[..q];
        BitcoinAddress? address = null;
        if (addressText.Length > 0)
        {
            try
            {
                // BIP 21 QR codes may upper-case bech32 addresses.
                address = BitcoinAddress.Create(addressText.StartsWith("BCRT1", StringComparison.Ordinal) || addressText.StartsWith("BC1", StringComparison.Ordinal) || addressText.StartsWith("TB1", StringComparison.Ordinal)
                    ? addressText.ToLowerInvariant() : addressText, network);
            }
            catch (FormatException)
            {
                throw new FormatException($"'{addressText}' is not a {network.ChainName} bitcoin address.");
            }
        }

        string? bolt11 = null;
        Money? amount = null;
        if (q >= 0)
        {
            foreach (var pair in rest[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=', StringComparison.Ordinal);
                var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]).ToLowerInvariant();
                var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
                if (key == "amount")
                {
                    amount = decimal.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var btc) && btc > 0 && btc <= 21_000_000m
                        ? Money.Coins(btc)
                        : throw new FormatException($"'{value}' is not a BIP 21 amount.");
                }
                else if (key == "lightning")
                {
                    bolt11 = value;
                }
            }
        }

        return new SandboxPaymentRequest(bolt11, address, amount);
    }
}
