using System.Globalization;
using System.Net;
using System.Text;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;
using Satflow.Payouts;
using Satflow.Server.Hosting;

namespace Satflow.Server.Api;

/// <summary>Creates a payment request.</summary>
/// <param name="Title">Title shown to the payer (1–200 characters).</param>
/// <param name="Description">Longer description.</param>
/// <param name="Amount">Amount asked (positive).</param>
/// <param name="Currency">Currency (default: the store's).</param>
/// <param name="ExpiresAt">When it stops accepting payments (default never).</param>
/// <param name="AllowPartialPayments">Whether the payer may pay in parts.</param>
public sealed record CreatePaymentRequestBody(string Title, string? Description, decimal Amount, string? Currency, DateTimeOffset? ExpiresAt, bool? AllowPartialPayments);

/// <summary>Pays (part of) a payment request: creates an invoice.</summary>
/// <param name="Amount">The part to pay (only with partial payments; default what is due).</param>
public sealed record PayPaymentRequestBody(decimal? Amount);

/// <summary>A payment counted toward a request.</summary>
/// <param name="InvoiceId">The settled invoice.</param>
/// <param name="Amount">Amount in the request's currency.</param>
/// <param name="SettledAt">When it was counted.</param>
public sealed record PaymentRequestPaymentResponse(string InvoiceId, decimal Amount, DateTimeOffset SettledAt);

/// <summary>A payment request.</summary>
/// <param name="Id">Id.</param>
/// <param name="StoreId">Store.</param>
/// <param name="Title">Title.</param>
/// <param name="Description">Description.</param>
/// <param name="Amount">Amount asked.</param>
/// <param name="Currency">Currency.</param>
/// <param name="AmountPaid">Paid so far (settled invoices).</param>
/// <param name="AmountDue">Still due.</param>
/// <param name="Status">Status now.</param>
/// <param name="ExpiresAt">Expiry.</param>
/// <param name="AllowPartialPayments">Partial payments allowed.</param>
/// <param name="Archived">Archived.</param>
/// <param name="CreatedAt">Created.</param>
/// <param name="PageUrl">The public payment page (relative).</param>
/// <param name="Payments">Payments counted.</param>
public sealed record PaymentRequestResponse(string Id, string StoreId, string Title, string? Description, decimal Amount, string Currency, decimal AmountPaid,
    decimal AmountDue, PaymentRequestStatus Status, DateTimeOffset? ExpiresAt, bool AllowPartialPayments, bool Archived, DateTimeOffset CreatedAt, string PageUrl,
    IReadOnlyList<PaymentRequestPaymentResponse> Payments)
{
    internal static PaymentRequestResponse From(PaymentRequest r, DateTimeOffset now) => new(r.Id.Value, r.StoreId, r.Title, r.Description, r.Amount, r.Currency,
        r.AmountPaid, r.AmountDue, r.StatusAt(now), r.ExpiresAt, r.AllowPartialPayments, r.Archived, r.CreatedAt, PaymentRequestEndpoints.PagePrefix + "/" + r.Id.Value,
        r.Payments.Select(p => new PaymentRequestPaymentResponse(p.InvoiceId, p.Amount, p.SettledAt)).ToArray());
}

/// <summary>
/// Payment requests: the API under <c>/api/v1/stores/{storeId}/payment-requests</c> and the public page
/// <c>/pr/{id}</c> whose form creates an invoice and sends the payer to its checkout page. Each invoice of a request
/// carries the order id <c>payreq:{id}</c>; settled ones are counted toward the request whenever it is read or paid.
/// </summary>
public static class PaymentRequestEndpoints
{
    /// <summary>The public page path prefix.</summary>
    public const string PagePrefix = "/pr";

    /// <summary>The order id of a request's invoices.</summary>
    /// <param name="id">The request.</param>
    /// <returns>The order id.</returns>
    public static string OrderIdOf(PaymentRequestId id) => "payreq:" + id.Value;

    /// <summary>Maps the API endpoints (scopes: <c>invoices.view</c> to read, <c>invoices.manage</c> to create and archive, <c>invoices.create</c> to pay).</summary>
    /// <param name="api">The <c>/api/v1</c> group.</param>
    public static void Map(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var pr = api.MapGroup("/stores/{storeId}/payment-requests").WithTags("payment-requests");
        pr.MapPost("", CreateAsync).WithMetadata(new ApiScope(Permission.InvoicesManage, true)).WithName("CreatePaymentRequest");
        pr.MapGet("", ListAsync).WithMetadata(new ApiScope(Permission.InvoicesView, true)).WithName("ListPaymentRequests");
        pr.MapGet("/{paymentRequestId}", GetAsync).WithMetadata(new ApiScope(Permission.InvoicesView, true)).WithName("GetPaymentRequest");
        pr.MapPost("/{paymentRequestId}/archive", ArchiveAsync).WithMetadata(new ApiScope(Permission.InvoicesManage, true)).WithName("ArchivePaymentRequest");
        pr.MapPost("/{paymentRequestId}/invoices", PayAsync).WithMetadata(new ApiScope(Permission.InvoicesCreate, true)).WithName("PayPaymentRequest");
    }

    /// <summary>Maps the public page and its pay form.</summary>
    /// <param name="app">The route builder.</param>
    public static void MapPublic(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet(PagePrefix + "/{paymentRequestId}", PageAsync).ExcludeFromDescription();
        app.MapPost(PagePrefix + "/{paymentRequestId}/pay", PublicPayAsync).ExcludeFromDescription();
    }

    /// <summary>Counts the request's settled invoices not yet counted, and returns the up-to-date request.</summary>
    /// <param name="requests">The service.</param>
    /// <param name="repo">Merchant storage.</param>
    /// <param name="id">The request.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The request.</returns>
    public static async Task<PaymentRequest> ReconcileAsync(PaymentRequestService requests, IMerchantRepository repo, PaymentRequestId id, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(repo);
        var request = await requests.GetAsync(id, cancellationToken).ConfigureAwait(false);
        var settled = await repo.ListInvoicesAsync(new StoreId(request.StoreId), new InvoiceQuery(InvoiceStatus.Settled, OrderIdOf(id), 0, 500), cancellationToken).ConfigureAwait(false);
        foreach (var invoice in settled)
        {
            if (request.Payments.All(p => p.InvoiceId != invoice.Id.Value) && invoice.Requested.Currency == request.Currency)
            {
                request = await requests.RecordPaymentAsync(id, invoice.Id.Value, invoice.Requested.Amount, cancellationToken).ConfigureAwait(false);
            }
        }

        return request;
    }

    private static PaymentRequestId? ParseId(string text)
    {
        try
        {
            return new PaymentRequestId(text);
        }
        catch (PayoutsException)
        {
            return null;
        }
    }

    private static async Task<PaymentRequest> StoreRequestAsync(PaymentRequestService requests, IMerchantRepository repo, string storeId, string id, CancellationToken ct)
    {
        var parsed = ParseId(id) ?? throw new PayoutsException(PayoutsErrorReason.NotFound, $"No payment request {id}.");
        var r = await ReconcileAsync(requests, repo, parsed, ct).ConfigureAwait(false);
        return r.StoreId == storeId ? r : throw new PayoutsException(PayoutsErrorReason.NotFound, $"No payment request {id}.");
    }

    private static async Task<IResult> CreateAsync(HttpContext http, PaymentRequestService requests, IMerchantRepository repo, TimeProvider time, string storeId, CreatePaymentRequestBody body)
    {
        var store = await repo.GetStoreAsync(new StoreId(storeId), http.RequestAborted).ConfigureAwait(false)
            ?? throw new MerchantException(MerchantErrorReason.NotFound, $"No store {storeId}.");
        var created = await requests.CreateAsync(new CreatePaymentRequest
        {
            StoreId = store.Id.Value,
            Title = body.Title?.Trim() ?? "",
            Description = body.Description,
            Amount = body.Amount,
            Currency = (body.Currency ?? store.DefaultCurrency).Trim().ToUpperInvariant(),
            ExpiresAt = body.ExpiresAt,
            AllowPartialPayments = body.AllowPartialPayments ?? false,
        }, http.RequestAborted).ConfigureAwait(false);
        return Results.Created($"{ApiEndpoints.Prefix}/stores/{storeId}/payment-requests/{created.Id}", PaymentRequestResponse.From(created, time.GetUtcNow()));
    }

    private static async Task<IResult> ListAsync(HttpContext http, PaymentRequestService requests, TimeProvider time, string storeId)
    {
        var list = await requests.ListAsync(storeId, http.RequestAborted).ConfigureAwait(false);
        var now = time.GetUtcNow();
        return Results.Ok(list.Select(r => PaymentRequestResponse.From(r, now)).ToArray());
    }

    private static async Task<IResult> GetAsync(HttpContext http, PaymentRequestService requests, IMerchantRepository repo, TimeProvider time, string storeId, string paymentRequestId)
        => Results.Ok(PaymentRequestResponse.From(await StoreRequestAsync(requests, repo, storeId, paymentRequestId, http.RequestAborted).ConfigureAwait(false), time.GetUtcNow()));

    private static async Task<IResult> ArchiveAsync(HttpContext http, PaymentRequestService requests, IMerchantRepository repo, TimeProvider time, string storeId, string paymentRequestId)
    {
        var r = await StoreRequestAsync(requests, repo, storeId, paymentRequestId, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(PaymentRequestResponse.From(await requests.ArchiveAsync(r.Id, http.RequestAborted).ConfigureAwait(false), time.GetUtcNow()));
    }

    private static async Task<IResult> PayAsync(HttpContext http, PaymentRequestService requests, IMerchantRepository repo, InvoiceService invoices,
        InvoiceNotifications notifications, ServerMetrics metrics, string storeId, string paymentRequestId, PayPaymentRequestBody? body)
    {
        var r = await StoreRequestAsync(requests, repo, storeId, paymentRequestId, http.RequestAborted).ConfigureAwait(false);
        var invoice = await CreateInvoiceAsync(r, body?.Amount, requests, repo, invoices, notifications, metrics, http.RequestAborted).ConfigureAwait(false);
        return Results.Created($"{ApiEndpoints.Prefix}/stores/{storeId}/invoices/{invoice.Id}", InvoiceResponse.From(invoice));
    }

    private static async Task<Invoice> CreateInvoiceAsync(PaymentRequest r, decimal? amount, PaymentRequestService requests, IMerchantRepository repo, InvoiceService invoices,
        InvoiceNotifications notifications, ServerMetrics metrics, CancellationToken ct)
    {
        var due = await requests.NextInvoiceAmountAsync(r.Id, amount, ct).ConfigureAwait(false);
        var store = await repo.GetStoreAsync(new StoreId(r.StoreId), ct).ConfigureAwait(false)
            ?? throw new MerchantException(MerchantErrorReason.NotFound, $"No store {r.StoreId}.");
        var invoice = await invoices.CreateAsync(store, new CreateInvoiceRequest(due, r.Currency) { OrderId = OrderIdOf(r.Id) }, ct).ConfigureAwait(false);
        await repo.CreateInvoiceAsync(invoice, ct).ConfigureAwait(false);
        metrics.InvoicesCreated.Add(1);
        await notifications.PublishAsync(new InvoiceEvents(invoice.Id, invoice.StoreId, invoice.Events), ct).ConfigureAwait(false);
        return invoice;
    }

    private static async Task<PaymentRequest?> FindAsync(PaymentRequestService requests, IMerchantRepository repo, string id, CancellationToken ct)
    {
        if (ParseId(id) is not { } parsed)
        {
            return null;
        }

        try
        {
            return await ReconcileAsync(requests, repo, parsed, ct).ConfigureAwait(false);
        }
        catch (PayoutsException e) when (e.Reason == PayoutsErrorReason.NotFound)
        {
            return null;
        }
    }

    private static async Task<IResult> PageAsync(HttpContext http, PaymentRequestService requests, IMerchantRepository repo, TimeProvider time, string paymentRequestId)
    {
        var r = await FindAsync(requests, repo, paymentRequestId, http.RequestAborted).ConfigureAwait(false);
        SecurityHeaders(http);
        if (r is null)
        {
            return Html(Page("Payment request not found", "<main><h1>Payment request not found</h1><p>This payment link is not valid.</p></main>"), 404);
        }

        var store = await repo.GetStoreAsync(new StoreId(r.StoreId), http.RequestAborted).ConfigureAwait(false);
        return Html(Render(r, store?.Name ?? "Store", time.GetUtcNow(), error: null), 200);
    }

    private static async Task<IResult> PublicPayAsync(HttpContext http, PaymentRequestService requests, IMerchantRepository repo, InvoiceService invoices,
        InvoiceNotifications notifications, ServerMetrics metrics, TimeProvider time, string paymentRequestId)
    {
        var r = await FindAsync(requests, repo, paymentRequestId, http.RequestAborted).ConfigureAwait(false);
        SecurityHeaders(http);
        if (r is null)
        {
            return Html(Page("Payment request not found", "<main><h1>Payment request not found</h1><p>This payment link is not valid.</p></main>"), 404);
        }

        var store = await repo.GetStoreAsync(new StoreId(r.StoreId), http.RequestAborted).ConfigureAwait(false);
        decimal? amount = null;
        if (http.Request.HasFormContentType)
        {
            var form = await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false);
            if (form["amount"].ToString() is { Length: > 0 } text)
            {
                if (!decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out var parsed))
                {
                    return Html(Render(r, store?.Name ?? "Store", time.GetUtcNow(), "The amount is not a number."), 400);
                }

                amount = parsed;
            }
        }

        try
        {
            var invoice = await CreateInvoiceAsync(r, amount, requests, repo, invoices, notifications, metrics, http.RequestAborted).ConfigureAwait(false);
            return Results.Redirect("/i/" + invoice.Id.Value, permanent: false, preserveMethod: false);
        }
        catch (Exception e) when (e is PayoutsException or MerchantException or Satflow.Merchant.Rates.RateEvaluationException)
        {
            return Html(Render(r, store?.Name ?? "Store", time.GetUtcNow(), e.Message), e is PayoutsException { Reason: PayoutsErrorReason.NotActive } ? 409 : 422);
        }
    }

    private static void SecurityHeaders(HttpContext http)
    {
        http.Response.Headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
        http.Response.Headers.XContentTypeOptions = "nosniff";
    }

    private static IResult Html(string html, int status) => Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    private static string Money(decimal amount, string currency) => amount.ToString("0.########", CultureInfo.InvariantCulture) + " " + currency;

    /// <summary>Renders the public page of a payment request.</summary>
    /// <param name="request">The request.</param>
    /// <param name="storeName">The store's name.</param>
    /// <param name="now">Now (for the status).</param>
    /// <param name="error">An error to show (a refused payment), or null.</param>
    /// <returns>HTML.</returns>
    public static string Render(PaymentRequest request, string storeName, DateTimeOffset now, string? error)
    {
        ArgumentNullException.ThrowIfNull(request);
        var status = request.StatusAt(now);
        var sb = new StringBuilder();
        sb.Append("<main><p class=\"store\">").Append(E(storeName)).Append("</p><h1>").Append(E(request.Title)).Append("</h1>");
        if (!string.IsNullOrEmpty(request.Description))
        {
            sb.Append("<p class=\"description\">").Append(E(request.Description)).Append("</p>");
        }

        sb.Append("<dl><dt>Amount</dt><dd id=\"amount\">").Append(E(Money(request.Amount, request.Currency))).Append("</dd>")
          .Append("<dt>Paid</dt><dd id=\"paid\">").Append(E(Money(request.AmountPaid, request.Currency))).Append("</dd>")
          .Append("<dt>Due</dt><dd id=\"due\">").Append(E(Money(request.AmountDue, request.Currency))).Append("</dd>");
        if (request.ExpiresAt is { } e)
        {
            sb.Append("<dt>Expires</dt><dd><time datetime=\"").Append(e.ToString("O", CultureInfo.InvariantCulture)).Append("\">")
              .Append(e.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture)).Append("</time></dd>");
        }

        sb.Append("</dl><p id=\"status\" role=\"status\" data-status=\"").Append(status).Append("\">").Append(status switch
        {
            PaymentRequestStatus.Pending => "Awaiting payment.",
            PaymentRequestStatus.Completed => "Paid in full. Thank you!",
            PaymentRequestStatus.Expired => "This payment request has expired.",
            _ => "This payment request is closed.",
        }).Append("</p>");
        if (error is not null)
        {
            sb.Append("<p id=\"error\" role=\"alert\">").Append(E(error)).Append("</p>");
        }

        if (status == PaymentRequestStatus.Pending)
        {
            sb.Append("<form method=\"post\" action=\"").Append(PagePrefix).Append('/').Append(E(Uri.EscapeDataString(request.Id.Value))).Append("/pay\">");
            if (request.AllowPartialPayments)
            {
                sb.Append("<label for=\"amount-input\">Amount to pay (").Append(E(request.Currency)).Append(")</label>")
                  .Append("<input id=\"amount-input\" name=\"amount\" inputmode=\"decimal\" value=\"")
                  .Append(E(request.AmountDue.ToString("0.########", CultureInfo.InvariantCulture))).Append("\">");
            }

            sb.Append("<button type=\"submit\">Pay</button></form>");
        }

        sb.Append("</main>");
        return Page(request.Title, sb.ToString());
    }

    private static string Page(string title, string body) => $$$"""
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{{E(title)}}}</title>
<style>
:root{color-scheme:light dark;--fg:#111;--bg:#fff;--muted:#444;--accent:#0b57d0;--line:#767676}
@media (prefers-color-scheme:dark){:root{--fg:#f2f2f2;--bg:#121212;--muted:#c8c8c8;--accent:#8ab4f8;--line:#9e9e9e}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:30rem;margin:0 auto;padding:1rem}h1{font-size:1.6rem;margin:.2rem 0}.store,.description{color:var(--muted)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
#status{font-weight:600;padding:.6rem;border:2px solid var(--line);border-radius:.4rem}#error{color:#b3261e;font-weight:600}
label{display:block;font-weight:600;margin-top:.6rem}input{font:inherit;padding:.5rem;border:1px solid var(--line);border-radius:.3rem;color:var(--fg);background:var(--bg);width:100%}
button{font:inherit;margin-top:.6rem;padding:.5rem .9rem;border:0;border-radius:.3rem;background:var(--accent);color:var(--bg);cursor:pointer}
button:focus-visible,input:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
</style></head><body>
{{{body}}}
</body></html>
""";
}
