using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using QRCoder;
using Satflow.Merchant;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;
using Satflow.Server.Hosting;

namespace Satflow.Server.Checkout;

/// <summary>The status pushed to a checkout page.</summary>
/// <param name="Status">Invoice status.</param>
/// <param name="AdditionalStatus">Additional status.</param>
/// <param name="AmountDueMsat">Due.</param>
/// <param name="AmountPaidMsat">Paid so far.</param>
/// <param name="RedirectUrl">Where to go once settled.</param>
public sealed record CheckoutStatus(string Status, string AdditionalStatus, ulong AmountDueMsat, ulong AmountPaidMsat, string? RedirectUrl)
{
    internal static CheckoutStatus From(Invoice i) => new(i.Status.ToString(), i.AdditionalStatus.ToString(), i.AmountDue.Value, i.AmountPaid.Value,
        i.Status == InvoiceStatus.Settled ? i.RedirectUrl?.ToString() : null);

    /// <summary>Whether the page's status can no longer change.</summary>
    public bool IsFinal => Status is nameof(InvoiceStatus.Settled) or nameof(InvoiceStatus.Invalid);
}

/// <summary>
/// The payer's checkout page <c>/i/{invoiceId}</c> (server-rendered, no external assets): amount, countdown, QR code of
/// the unified URI, copy buttons, live status over server-sent events (<c>/i/{invoiceId}/status</c>), redirect on
/// settlement. Public: the invoice id is the capability, as in BTCPay.
/// </summary>
public static class CheckoutEndpoints
{
    /// <summary>How often an idle event stream sends a keep-alive comment.</summary>
    public static TimeSpan KeepAlive { get; } = TimeSpan.FromSeconds(15);

    /// <summary>Maps the checkout routes.</summary>
    /// <param name="app">The route builder.</param>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/i/{invoiceId}", PageAsync).ExcludeFromDescription();
        app.MapGet("/i/{invoiceId}/status", StatusStreamAsync).ExcludeFromDescription();
        app.MapGet("/i/{invoiceId}/qr.svg", QrAsync).ExcludeFromDescription();
    }

    private static async Task<Invoice?> FindAsync(IMerchantRepository repo, string invoiceId, CancellationToken ct)
    {
        try
        {
            return await repo.GetInvoiceAsync(new InvoiceId(invoiceId), ct).ConfigureAwait(false);
        }
        catch (MerchantException e) when (e.Reason == MerchantErrorReason.InvalidArgument)
        {
            return null;
        }
    }

    /// <summary>The QR code SVG of the uppercase unified URI.</summary>
    /// <param name="invoice">The invoice.</param>
    /// <returns>SVG markup.</returns>
    public static string QrSvg(Invoice invoice)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        using var generator = new QRCodeGenerator();
        using var data = generator.CreateQrCode(invoice.PaymentUriForQr, QRCodeGenerator.ECCLevel.M);
        using var svg = new SvgQRCode(data);
        return svg.GetGraphic(new System.Drawing.Size(320, 320), "#000000", "#ffffff", drawQuietZones: true, sizingMode: SvgQRCode.SizingMode.ViewBoxAttribute);
    }

    private static async Task<IResult> QrAsync(IMerchantRepository repo, string invoiceId, CancellationToken ct)
        => await FindAsync(repo, invoiceId, ct).ConfigureAwait(false) is { } invoice
            ? Results.Text(QrSvg(invoice), "image/svg+xml", Encoding.UTF8)
            : Results.NotFound();

    private static async Task<IResult> PageAsync(HttpContext http, IMerchantRepository repo, string invoiceId)
    {
        var invoice = await FindAsync(repo, invoiceId, http.RequestAborted).ConfigureAwait(false);
        if (invoice is null)
        {
            return Results.Content(Layout("Invoice not found", "<main><h1>Invoice not found</h1><p>This payment link is not valid.</p></main>", ""), "text/html; charset=utf-8", Encoding.UTF8, 404);
        }

        var store = await repo.GetStoreAsync(invoice.StoreId, http.RequestAborted).ConfigureAwait(false);
        http.Response.Headers.ContentSecurityPolicy = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        var sandboxWallet = http.RequestServices.GetService<ServerOptions>()?.Mode == ServerMode.Sandbox
            ? Sandbox.SandboxEndpoints.WalletLink(invoice.PaymentUri, "/i/" + invoice.Id.Value)
            : null;
        return Results.Content(Render(invoice, store?.Name ?? "Store", sandboxWallet), "text/html; charset=utf-8", Encoding.UTF8);
    }

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    private static string Sats(ulong msat) => (msat / 1000 + (msat % 1000 == 0 ? 0UL : 1UL)).ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Renders the checkout page.</summary>
    /// <param name="invoice">The invoice.</param>
    /// <param name="storeName">The store's name.</param>
    /// <param name="sandboxWalletUrl">Sandbox mode: the link to the sandbox wallet page that pays this invoice.</param>
    /// <returns>HTML.</returns>
    public static string Render(Invoice invoice, string storeName, string? sandboxWalletUrl = null)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        var status = CheckoutStatus.From(invoice);
        var btc = UnifiedPaymentUri.FormatBtc(invoice.AmountRemaining.Value > 0 ? invoice.AmountRemaining : invoice.AmountDue);
        var sb = new StringBuilder();
        sb.Append("<main><header><p class=\"store\">").Append(E(storeName)).Append("</p><h1>Pay ").Append(E(btc)).Append(" BTC</h1>");
        if (!string.Equals(invoice.Requested.Currency, InvoiceService.Btc, StringComparison.Ordinal))
        {
            sb.Append("<p class=\"fiat\">").Append(E(invoice.Requested.Amount.ToString(CultureInfo.InvariantCulture))).Append(' ').Append(E(invoice.Requested.Currency)).Append("</p>");
        }

        sb.Append("<p class=\"sats\">").Append(Sats(invoice.AmountDue.Value)).Append(" sats</p>");
        if (invoice.OrderId is not null)
        {
            sb.Append("<p class=\"order\">Order ").Append(E(invoice.OrderId)).Append("</p>");
        }

        sb.Append("</header>");
        sb.Append("<p id=\"status\" role=\"status\" aria-live=\"polite\" data-status=\"").Append(E(status.Status)).Append("\">").Append(E(StatusText(status))).Append("</p>");
        sb.Append("<p id=\"countdown\" aria-live=\"off\" data-expires=\"").Append(invoice.ExpiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture))
          .Append("\">Expires at <time datetime=\"").Append(invoice.ExpiresAt.ToString("O", CultureInfo.InvariantCulture)).Append("\">")
          .Append(invoice.ExpiresAt.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture)).Append("</time></p>");
        sb.Append("<a class=\"qr\" href=\"").Append(E(invoice.PaymentUri)).Append("\" aria-label=\"Open in a wallet: QR code of the payment request\">")
          .Append("<img src=\"data:image/svg+xml;base64,").Append(Convert.ToBase64String(Encoding.UTF8.GetBytes(QrSvg(invoice))))
          .Append("\" width=\"280\" height=\"280\" alt=\"QR code of the payment request ").Append(E(invoice.PaymentUri)).Append("\"></a>");
        sb.Append("<p><a class=\"button\" href=\"").Append(E(invoice.PaymentUri)).Append("\">Open in wallet</a></p>");
        if (sandboxWalletUrl is not null)
        {
            sb.Append("<p><a class=\"button\" id=\"sandbox-pay\" href=\"").Append(E(sandboxWalletUrl)).Append("\">Pay with sandbox wallet</a></p>");
        }

        var n = 0;
        Field(sb, ref n, "Payment link", invoice.PaymentUri);
        foreach (var p in invoice.Prompts)
        {
            Field(sb, ref n, p.Method == PaymentMethodId.OnChain ? "Bitcoin address" : "Lightning invoice", p.Destination);
        }

        Field(sb, ref n, "Amount (BTC)", btc);
        if (invoice.Prompt(PaymentMethodId.Lightning) is null)
        {
            sb.Append("<p class=\"note\">Lightning is not offered for this invoice; pay on-chain.</p>");
        }

        sb.Append("</main>");
        var config = JsonSerializer.Serialize(new { statusUrl = "/i/" + invoice.Id.Value + "/status" });
        return Layout("Pay " + storeName, sb.ToString(), config);
    }

    private static void Field(StringBuilder sb, ref int n, string label, string value)
    {
        n++;
        sb.Append("<div class=\"field\"><label for=\"f").Append(n).Append("\">").Append(E(label)).Append("</label><div class=\"row\"><input id=\"f").Append(n)
          .Append("\" readonly value=\"").Append(E(value)).Append("\"><button type=\"button\" data-copy=\"f").Append(n).Append("\" aria-label=\"Copy ")
          .Append(E(label)).Append("\">Copy</button></div></div>");
    }

    /// <summary>The payer-facing text of a status.</summary>
    /// <param name="s">The status.</param>
    /// <returns>Text.</returns>
    public static string StatusText(CheckoutStatus s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return s.Status switch
        {
            nameof(InvoiceStatus.New) when s.AdditionalStatus == nameof(InvoiceAdditionalStatus.PaidPartial) => "Partially paid: please pay the rest.",
            nameof(InvoiceStatus.New) => "Waiting for payment.",
            nameof(InvoiceStatus.Processing) => "Payment received, waiting for confirmation.",
            nameof(InvoiceStatus.Settled) => "Paid. Thank you!",
            nameof(InvoiceStatus.Expired) => "This invoice has expired.",
            _ => "This invoice is no longer valid.",
        };
    }

    private static string Layout(string title, string body, string config) => Template
        .Replace("%TITLE%", E(title).Replace("%", "&#37;", StringComparison.Ordinal), StringComparison.Ordinal)
        .Replace("%CONFIG%", config.Length == 0 ? "null" : config, StringComparison.Ordinal)
        .Replace("%BODY%", body, StringComparison.Ordinal);

    private const string Template = """
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>%TITLE%</title>
<style>
:root{color-scheme:light dark;--fg:#111;--bg:#fff;--muted:#444;--accent:#0b57d0;--line:#767676}
@media (prefers-color-scheme:dark){:root{--fg:#f2f2f2;--bg:#121212;--muted:#c8c8c8;--accent:#8ab4f8;--line:#9e9e9e}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:30rem;margin:0 auto;padding:1rem}h1{font-size:1.6rem;margin:.2rem 0}.store,.fiat,.sats,.order{margin:.1rem 0;color:var(--muted)}
#status{font-weight:600;font-size:1.1rem;padding:.6rem;border:2px solid var(--line);border-radius:.4rem}
.qr{display:block;background:#fff;padding:.5rem;border-radius:.4rem;width:max-content;max-width:100%;margin:1rem auto}.qr img{display:block;max-width:100%;height:auto}
.field{margin:.6rem 0}.field label{display:block;font-weight:600}.row{display:flex;gap:.4rem}
input{flex:1;min-width:0;font:inherit;padding:.5rem;border:1px solid var(--line);border-radius:.3rem;color:var(--fg);background:var(--bg)}
button,.button{font:inherit;padding:.5rem .9rem;border:0;border-radius:.3rem;background:var(--accent);color:var(--bg);cursor:pointer;text-decoration:none;display:inline-block}
button:focus-visible,a:focus-visible,input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}.note{color:var(--muted)}
</style></head><body>
%BODY%
<script>
(function(){
var cfg=%CONFIG%;
document.querySelectorAll('[data-copy]').forEach(function(b){b.addEventListener('click',function(){var i=document.getElementById(b.getAttribute('data-copy'));
 var done=function(){b.textContent='Copied';setTimeout(function(){b.textContent='Copy'},1500)};
 if(navigator.clipboard){navigator.clipboard.writeText(i.value).then(done)}else{i.select();document.execCommand('copy');done()}})});
var cd=document.getElementById('countdown');
if(cd){var exp=parseInt(cd.getAttribute('data-expires'),10)*1000;var tick=function(){var s=Math.max(0,Math.floor((exp-Date.now())/1000));
 cd.textContent=s>0?('Expires in '+Math.floor(s/60)+':'+('0'+(s%60)).slice(-2)):'Expired';};tick();setInterval(tick,1000);}
if(cfg&&window.EventSource){var st=document.getElementById('status');var es=new EventSource(cfg.statusUrl);
 es.addEventListener('status',function(e){var d=JSON.parse(e.data);st.textContent=d.text;st.setAttribute('data-status',d.status);
  if(d.status==='Settled'||d.status==='Invalid'){es.close();if(d.redirectUrl){setTimeout(function(){window.location.assign(d.redirectUrl)},1500)}}});}
})();
</script></body></html>
""";

    private static async Task StatusStreamAsync(HttpContext http, IMerchantRepository repo, InvoiceNotifications notifications, string invoiceId)
    {
        var ct = http.RequestAborted;
        var invoice = await FindAsync(repo, invoiceId, ct).ConfigureAwait(false);
        if (invoice is null)
        {
            http.Response.StatusCode = 404;
            return;
        }

        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        string? last = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var changed = notifications.NextChangeAsync(invoice.Id);
                invoice = await repo.GetInvoiceAsync(invoice.Id, ct).ConfigureAwait(false) ?? invoice;
                var status = CheckoutStatus.From(invoice);
                var json = JsonSerializer.Serialize(new { status = status.Status, additionalStatus = status.AdditionalStatus, text = StatusText(status), status.AmountDueMsat, status.AmountPaidMsat, status.RedirectUrl },
                    Api.ApiJson.Options);
                if (json != last)
                {
                    await http.Response.WriteAsync("event: status\ndata: " + json + "\n\n", ct).ConfigureAwait(false);
                    await http.Response.Body.FlushAsync(ct).ConfigureAwait(false);
                    last = json;
                }

                if (status.IsFinal)
                {
                    return;
                }

                var finished = await Task.WhenAny(changed, Task.Delay(KeepAlive, ct)).ConfigureAwait(false);
                if (finished != changed)
                {
                    await http.Response.WriteAsync(": keep-alive\n\n", ct).ConfigureAwait(false);
                    await http.Response.Body.FlushAsync(ct).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The payer left.
        }
    }
}
