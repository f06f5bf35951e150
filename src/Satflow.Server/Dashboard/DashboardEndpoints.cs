using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;
using Satflow.Merchant.Rates;
using Satflow.Node.Api;
using Satflow.Server.Api;
using Satflow.Server.Hosting;
using static Satflow.Server.Dashboard.DashboardHtml;

namespace Satflow.Server.Dashboard;

/// <summary>
/// The merchant dashboard under <c>/dashboard</c>: server-rendered HTML without scripts. Every page needs a login
/// (cookie <see cref="DashboardSetup.SessionCookie"/>), every POST an antiforgery token (400 otherwise), every store
/// page the user's store role; guests never change anything.
/// </summary>
public static partial class DashboardEndpoints
{
    private const string UserItem = "satflow.dashboard.user";
    private const string PageItem = "satflow.dashboard.page";

    /// <summary>Maps the dashboard routes.</summary>
    /// <param name="app">The route builder.</param>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var open = app.MapGroup(DashboardSetup.Prefix).ExcludeFromDescription().AddEndpointFilter(ErrorFilter).AddEndpointFilter(CsrfFilter);
        open.MapGet("/assets/dashboard.css", () => Results.Text(SatflowServer.ReadAsset("dashboard.css"), "text/css; charset=utf-8"));
        open.MapGet("/login", LoginPage);
        open.MapPost("/login", LoginAsync).RequireRateLimiting(DashboardSetup.LoginPolicy);

        var d = app.MapGroup(DashboardSetup.Prefix).ExcludeFromDescription().AddEndpointFilter(ErrorFilter).AddEndpointFilter(AuthFilter).AddEndpointFilter(CsrfFilter);
        d.MapPost("/logout", H(LogoutAsync));
        d.MapGet("", StoresAsync);
        d.MapPost("/stores", CreateStoreAsync);
        d.MapGet("/stores/{storeId}", StoreAsync);
        d.MapGet("/stores/{storeId}/invoices", InvoicesAsync);
        d.MapGet("/stores/{storeId}/invoices.csv", InvoicesCsvAsync);
        d.MapPost("/stores/{storeId}/invoices", CreateInvoiceAsync);
        d.MapGet("/stores/{storeId}/invoices/{invoiceId}", InvoiceAsync);
        d.MapPost("/stores/{storeId}/invoices/{invoiceId}/mark", MarkInvoiceAsync);
        MapSections(d);
    }

    private static Delegate H(Func<HttpContext, Task<IResult>> handler) => handler;

    // ---- plumbing ------------------------------------------------------------------------------------------------

    private static async ValueTask<object?> ErrorFilter(EndpointFilterInvocationContext ctx, EndpointFilterDelegate next)
    {
        try
        {
            return await next(ctx).ConfigureAwait(false);
        }
        catch (Exception e) when (!ctx.HttpContext.Response.HasStarted && Status(e) is { } status)
        {
            var http = ctx.HttpContext;
            var page = http.Items[PageItem] as DashboardPage ?? NewPage(http, http.Items[UserItem] as User);
            var title = status switch { 403 => "Not allowed", 404 => "Not found", 400 => "Invalid input", _ => "Cannot do that" };
            return Html(http, Layout(page, title, "<p role=\"alert\" class=\"error\">" + E(e.Message) + "</p><p><a href=\"/dashboard\">Back to the stores</a></p>"), status);
        }
    }

    private static int? Status(Exception e) => e switch
    {
        NodeOperationException => 409,
        FormatException or OverflowException => 400,
        _ => ApiProblems.Map(e)?.Status,
    };

    private static async ValueTask<object?> AuthFilter(EndpointFilterInvocationContext ctx, EndpointFilterDelegate next)
    {
        var http = ctx.HttpContext;
        var id = http.User.Identity?.IsAuthenticated == true ? http.User.FindFirstValue(ClaimTypes.NameIdentifier) : null;
        User? user = null;
        if (id is not null)
        {
            try
            {
                user = await http.RequestServices.GetRequiredService<IMerchantRepository>().GetUserAsync(new UserId(id), http.RequestAborted).ConfigureAwait(false);
            }
            catch (MerchantException e) when (e.Reason == MerchantErrorReason.InvalidArgument)
            {
                user = null;
            }
        }

        if (user is null)
        {
            var back = HttpMethods.IsGet(http.Request.Method) ? (http.Request.Path + http.Request.QueryString).ToString() : DashboardSetup.Prefix;
            return Results.Redirect(DashboardSetup.Prefix + "/login?returnUrl=" + U(back));
        }

        http.Items[UserItem] = user;
        return await next(ctx).ConfigureAwait(false);
    }

    private static async ValueTask<object?> CsrfFilter(EndpointFilterInvocationContext ctx, EndpointFilterDelegate next)
    {
        var http = ctx.HttpContext;
        if (HttpMethods.IsPost(http.Request.Method))
        {
            var antiforgery = http.RequestServices.GetRequiredService<IAntiforgery>();
            if (!http.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(http).ConfigureAwait(false))
            {
                var page = NewPage(http, http.Items[UserItem] as User);
                return Html(http, Layout(page, "Form expired", "<p role=\"alert\" class=\"error\">The form's security token is missing or invalid. Reload the page and try again.</p>"), 400);
            }
        }

        return await next(ctx).ConfigureAwait(false);
    }

    private static User CurrentUser(HttpContext http) => (User)http.Items[UserItem]!;

    private static MerchantPrincipal Principal(HttpContext http) => new(CurrentUser(http).Id, null);

    private static DashboardPage NewPage(HttpContext http, User? user)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        var page = new DashboardPage(user, tokens.RequestToken ?? "");
        http.Items[PageItem] = page;
        return page;
    }

    private static DashboardPage Page(HttpContext http) => http.Items[PageItem] as DashboardPage ?? NewPage(http, CurrentUser(http));

    private static IResult Html(HttpContext http, string html, int status = 200)
    {
        var h = http.Response.Headers;
        h.ContentSecurityPolicy = DashboardHtml.ContentSecurityPolicy;
        h.CacheControl = "no-store";
        h.XContentTypeOptions = "nosniff";
        h["Referrer-Policy"] = "same-origin";
        return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    private static IResult SeeOther(string path) => Results.Redirect(path, permanent: false, preserveMethod: false);

    private static async Task<IFormCollection> FormAsync(HttpContext http) => await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false);

    private static string? Text(IFormCollection form, string name) => form[name].ToString().Trim() is { Length: > 0 } v ? v : null;

    /// <summary>The user's store and role; demands <paramref name="permission"/>, and for a change also a role above guest.</summary>
    private static async Task<(Store Store, StoreRole Role)> StoreAccessAsync(HttpContext http, string storeId, Permission permission, bool change)
    {
        var repo = http.RequestServices.GetRequiredService<IMerchantRepository>();
        var id = new StoreId(storeId);
        var role = await repo.GetStoreRoleAsync(id, CurrentUser(http).Id, http.RequestAborted).ConfigureAwait(false)
            ?? throw new MerchantException(MerchantErrorReason.NotFound, $"No store {storeId}.");
        if (change && role == StoreRole.Guest)
        {
            throw new MerchantException(MerchantErrorReason.Forbidden, "Guests have read-only access to this store.");
        }

        Principal(http).Demand(id, role, permission);
        var store = await repo.GetStoreAsync(id, http.RequestAborted).ConfigureAwait(false) ?? throw new MerchantException(MerchantErrorReason.NotFound, $"No store {storeId}.");
        return (store, role);
    }

    private static bool CanChange(StoreRole role, Permission permission) => role != StoreRole.Guest && role.Grants(permission);

    private static string StoreBase(Store store) => DashboardSetup.Prefix + "/stores/" + U(store.Id.Value);

    // ---- login ---------------------------------------------------------------------------------------------------

    private static string SafeReturnUrl(string? url)
        => url is not null && url.StartsWith(DashboardSetup.Prefix, StringComparison.Ordinal) && !url.Contains("//", StringComparison.Ordinal) && !url.Contains('\\', StringComparison.Ordinal)
            && (url.Length == DashboardSetup.Prefix.Length || url[DashboardSetup.Prefix.Length] is '/' or '?')
            ? url : DashboardSetup.Prefix;

    private static string LoginForm(DashboardPage page, string returnUrl, string? error)
    {
        var sb = new StringBuilder();
        if (error is not null)
        {
            sb.Append("<p role=\"alert\" class=\"error\">").Append(E(error)).Append("</p>");
        }

        sb.Append(FormStart(page, DashboardSetup.Prefix + "/login", "card narrow"))
          .Append("<input type=\"hidden\" name=\"returnUrl\" value=\"").Append(E(returnUrl)).Append("\">")
          .Append(Field("email", "E-mail", "email", required: true, extra: "autocomplete=\"username\" autofocus"))
          .Append(Field("password", "Password", "password", required: true, extra: "autocomplete=\"current-password\""))
          .Append("<button type=\"submit\">Log in</button></form>");
        return Layout(page, "Log in", sb.ToString());
    }

    private static IResult LoginPage(HttpContext http, string? returnUrl)
        => http.User.Identity?.IsAuthenticated == true
            ? SeeOther(SafeReturnUrl(returnUrl))
            : Html(http, LoginForm(NewPage(http, null), SafeReturnUrl(returnUrl), null));

    private static async Task<IResult> LoginAsync(HttpContext http, MerchantService merchant, ILogger<DashboardPage> log)
    {
        var form = await FormAsync(http).ConfigureAwait(false);
        var returnUrl = SafeReturnUrl(form["returnUrl"].ToString());
        var user = await merchant.LoginAsync(form["email"].ToString(), form["password"].ToString(), http.RequestAborted).ConfigureAwait(false);
        if (user is null)
        {
            log.LogInformation("Dashboard login refused");
            http.User = new ClaimsPrincipal(new ClaimsIdentity());
            return Html(http, LoginForm(NewPage(http, null), returnUrl, "Wrong e-mail or password."), StatusCodes.Status401Unauthorized);
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, user.Id.Value), new Claim(ClaimTypes.Name, user.Email)], DashboardSetup.Scheme);
        await http.SignInAsync(DashboardSetup.Scheme, new ClaimsPrincipal(identity)).ConfigureAwait(false);
        log.LogInformation("Dashboard login: user {UserId}", user.Id.Value);
        return SeeOther(returnUrl);
    }

    private static async Task<IResult> LogoutAsync(HttpContext http)
    {
        await http.SignOutAsync(DashboardSetup.Scheme).ConfigureAwait(false);
        return SeeOther(DashboardSetup.Prefix + "/login");
    }

    // ---- stores --------------------------------------------------------------------------------------------------

    private static async Task<IResult> StoresAsync(HttpContext http, IMerchantRepository repo)
    {
        var stores = await repo.ListStoresForUserAsync(CurrentUser(http).Id, http.RequestAborted).ConfigureAwait(false);
        return Html(http, RenderStores(Page(http), stores, null));
    }

    private static string RenderStores(DashboardPage page, IReadOnlyList<(Store Store, StoreRole Role)> stores, string? error)
    {
        var sb = new StringBuilder();
        if (stores.Count == 0)
        {
            sb.Append("<p>You are not a member of any store yet.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table><caption>Your stores</caption><thead><tr><th scope=\"col\">Store</th><th scope=\"col\">Your role</th><th scope=\"col\">Currency</th><th scope=\"col\">Created</th></tr></thead><tbody>");
            foreach (var (s, r) in stores)
            {
                sb.Append("<tr><td><a href=\"").Append(StoreBase(s)).Append("\">").Append(E(s.Name)).Append("</a></td><td>").Append(E(r.ToString()))
                  .Append("</td><td>").Append(E(s.DefaultCurrency)).Append("</td><td>").Append(Time(s.CreatedAt)).Append("</td></tr>");
            }

            sb.Append("</tbody></table></div>");
        }

        sb.Append("<section aria-labelledby=\"new-store\"><h2 id=\"new-store\">Create a store</h2>");
        if (error is not null)
        {
            sb.Append("<p role=\"alert\" class=\"error\">").Append(E(error)).Append("</p>");
        }

        sb.Append(FormStart(page, DashboardSetup.Prefix + "/stores", "card"))
          .Append(Field("name", "Name", required: true, extra: "maxlength=\"200\""))
          .Append(Field("currency", "Default currency", value: "BTC", required: true, extra: "maxlength=\"8\""))
          .Append("<button type=\"submit\">Create store</button></form></section>");
        return Layout(page, "Stores", sb.ToString());
    }

    private static async Task<IResult> CreateStoreAsync(HttpContext http, MerchantService merchant)
    {
        var form = await FormAsync(http).ConfigureAwait(false);
        var name = Text(form, "name");
        var currency = (Text(form, "currency") ?? InvoiceService.Btc).ToUpperInvariant();
        if (name is null || name.Length > 200)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "A store name must be 1 to 200 characters.");
        }

        if (!CurrencyPair.IsCurrencyCode(currency))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, $"'{currency}' is not a currency code.");
        }

        var store = await merchant.CreateStoreAsync(CurrentUser(http).Id, name, currency, cancellationToken: http.RequestAborted).ConfigureAwait(false);
        return SeeOther(StoreBase(store));
    }

    private static async Task<IResult> StoreAsync(HttpContext http, MerchantService merchant, TimeProvider time, string storeId)
    {
        var (store, role) = await StoreAccessAsync(http, storeId, Permission.StoresView, false).ConfigureAwait(false);
        var sb = new StringBuilder("<dl class=\"facts\"><dt>Store id</dt><dd><code>").Append(E(store.Id.Value)).Append("</code></dd><dt>Default currency</dt><dd>")
            .Append(E(store.DefaultCurrency)).Append("</dd><dt>Invoice expiry</dt><dd>").Append(store.Policy.InvoiceExpiry.TotalMinutes.ToString(CultureInfo.InvariantCulture))
            .Append(" minutes</dd><dt>Your role</dt><dd>").Append(E(role.ToString())).Append("</dd></dl>");
        if (role.Grants(Permission.InvoicesView))
        {
            var settled = await DashboardData.FindInvoicesAsync(merchant, Principal(http), store.Id, new InvoiceFilter(InvoiceStatus.Settled, null, null, null), DashboardData.ScanLimit, http.RequestAborted).ConfigureAwait(false);
            var series = DashboardData.DailyVolume(settled, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime), 30);
            sb.Append("<section aria-labelledby=\"volume\"><h2 id=\"volume\">Settled volume, last 30 days</h2>").Append(DashboardData.VolumeChart(series)).Append("</section>");
        }
        else
        {
            sb.Append("<p>Your role does not include viewing invoices.</p>");
        }

        return Html(http, Layout(Page(http), store.Name, sb.ToString(), StoreNav(store.Id.Value, store.Name, role)));
    }

    // ---- invoices ------------------------------------------------------------------------------------------------

    private const int InvoicePageLimit = 200;

    private static async Task<IResult> InvoicesAsync(HttpContext http, MerchantService merchant, string storeId)
    {
        var (store, role) = await StoreAccessAsync(http, storeId, Permission.InvoicesView, false).ConfigureAwait(false);
        var filter = InvoiceFilter.Parse(http.Request.Query);
        var list = await DashboardData.FindInvoicesAsync(merchant, Principal(http), store.Id, filter, InvoicePageLimit + 1, http.RequestAborted).ConfigureAwait(false);
        var b = StoreBase(store);
        var sb = new StringBuilder();
        if (CanChange(role, Permission.InvoicesCreate))
        {
            sb.Append("<section aria-labelledby=\"new-invoice\"><h2 id=\"new-invoice\">Create an invoice</h2>").Append(FormStart(Page(http), b + "/invoices", "card grid"))
              .Append(Field("amount", "Amount", "text", required: true, extra: "inputmode=\"decimal\" autocomplete=\"off\""))
              .Append(Field("currency", "Currency", value: store.DefaultCurrency, required: true, extra: "maxlength=\"8\""))
              .Append(Field("orderId", "Order id", extra: "maxlength=\"100\""))
              .Append(Field("description", "Description", extra: "maxlength=\"500\""))
              .Append("<button type=\"submit\">Create invoice</button></form></section>");
        }

        sb.Append("<section aria-labelledby=\"find\"><h2 id=\"find\">Find invoices</h2><form method=\"get\" action=\"").Append(b).Append("/invoices\" class=\"card grid\" role=\"search\">")
          .Append(Select("status", "Status", new[] { ("", "Any") }.Concat(Enum.GetValues<InvoiceStatus>().Select(s => (s.ToString(), s.ToString()))), filter.Status?.ToString() ?? ""))
          .Append(Field("from", "Created from", "date", filter.From?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)))
          .Append(Field("to", "Created to", "date", filter.To?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)))
          .Append(Field("q", "Search (id, order id, text)", "search", filter.Text))
          .Append("<button type=\"submit\">Filter</button></form>")
          .Append("<p><a href=\"").Append(b).Append("/invoices.csv").Append(E(filter.ToQueryString())).Append("\" download>Export these invoices as CSV</a></p></section>");
        sb.Append("<section aria-labelledby=\"results\"><h2 id=\"results\">Invoices</h2>");
        if (list.Count == 0)
        {
            sb.Append("<p id=\"no-invoices\">No invoices match.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"invoices\"><thead><tr><th scope=\"col\">Invoice</th><th scope=\"col\">Created</th><th scope=\"col\">Status</th><th scope=\"col\">Amount</th><th scope=\"col\">Paid</th><th scope=\"col\">Order</th></tr></thead><tbody>");
            foreach (var i in list.Take(InvoicePageLimit))
            {
                sb.Append("<tr data-invoice=\"").Append(E(i.Id.Value)).Append("\"><td><a href=\"").Append(b).Append("/invoices/").Append(U(i.Id.Value)).Append("\">").Append(E(i.Id.Value)).Append("</a></td><td>")
                  .Append(Time(i.CreatedAt)).Append("</td><td>").Append(Badge(i.Status.ToString())).Append("</td><td>")
                  .Append(E(i.Requested.Amount.ToString(CultureInfo.InvariantCulture))).Append(' ').Append(E(i.Requested.Currency)).Append("</td><td>").Append(Sats(i.AmountPaid))
                  .Append("</td><td>").Append(E(i.OrderId)).Append("</td></tr>");
            }

            sb.Append("</tbody></table></div>");
            if (list.Count > InvoicePageLimit)
            {
                sb.Append("<p>Showing the newest ").Append(InvoicePageLimit).Append(" matches; narrow the filter or export the CSV for all.</p>");
            }
        }

        sb.Append("</section>");
        return Html(http, Layout(Page(http), "Invoices", sb.ToString(), StoreNav(store.Id.Value, store.Name, role)));
    }

    private static async Task<IResult> InvoicesCsvAsync(HttpContext http, MerchantService merchant, string storeId)
    {
        var (store, _) = await StoreAccessAsync(http, storeId, Permission.InvoicesView, false).ConfigureAwait(false);
        var filter = InvoiceFilter.Parse(http.Request.Query);
        var list = await DashboardData.FindInvoicesAsync(merchant, Principal(http), store.Id, filter, DashboardData.ScanLimit, http.RequestAborted).ConfigureAwait(false);
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.ContentDisposition = "attachment; filename=\"invoices-" + store.Id.Value + ".csv\"";
        return Results.Text(DashboardData.ToCsv(list), "text/csv; charset=utf-8", Encoding.UTF8);
    }

    private static async Task<IResult> CreateInvoiceAsync(HttpContext http, MerchantService merchant, InvoiceNotifications notifications, ServerMetrics metrics, string storeId)
    {
        var (store, _) = await StoreAccessAsync(http, storeId, Permission.InvoicesCreate, true).ConfigureAwait(false);
        var form = await FormAsync(http).ConfigureAwait(false);
        if (!decimal.TryParse(Text(form, "amount"), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount) || amount <= 0)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "The amount must be a positive number such as 12.50.");
        }

        var description = Text(form, "description");
        if (description is { Length: > 500 } || Text(form, "orderId") is { Length: > 100 })
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "The order id is limited to 100 characters and the description to 500.");
        }

        var request = new Merchant.Invoices.CreateInvoiceRequest(amount, (Text(form, "currency") ?? store.DefaultCurrency).ToUpperInvariant())
        {
            OrderId = Text(form, "orderId"),
            MetadataJson = description is null ? null : JsonSerializer.Serialize(new { itemDesc = description }),
        };
        var invoice = await merchant.CreateInvoiceAsync(Principal(http), store.Id, request, http.RequestAborted).ConfigureAwait(false);
        metrics.InvoicesCreated.Add(1);
        await notifications.PublishAsync(new InvoiceEvents(invoice.Id, invoice.StoreId, invoice.Events), http.RequestAborted).ConfigureAwait(false);
        return SeeOther(StoreBase(store) + "/invoices/" + U(invoice.Id.Value));
    }

    private static async Task<IResult> InvoiceAsync(HttpContext http, MerchantService merchant, string storeId, string invoiceId)
    {
        var (store, role) = await StoreAccessAsync(http, storeId, Permission.InvoicesView, false).ConfigureAwait(false);
        var i = await merchant.GetInvoiceAsync(Principal(http), new InvoiceId(invoiceId), http.RequestAborted).ConfigureAwait(false);
        if (i.StoreId != store.Id)
        {
            throw new MerchantException(MerchantErrorReason.NotFound, $"No invoice {invoiceId}.");
        }

        var sb = new StringBuilder("<dl class=\"facts\"><dt>Status</dt><dd id=\"invoice-status\">").Append(Badge(i.Status.ToString()))
            .Append(i.AdditionalStatus == InvoiceAdditionalStatus.None ? "" : " " + E(i.AdditionalStatus.ToString())).Append("</dd>")
            .Append("<dt>Amount</dt><dd>").Append(E(i.Requested.Amount.ToString(CultureInfo.InvariantCulture))).Append(' ').Append(E(i.Requested.Currency)).Append("</dd>")
            .Append("<dt>Due</dt><dd>").Append(Sats(i.AmountDue)).Append(" (").Append(E(UnifiedPaymentUri.FormatBtc(i.AmountDue))).Append(" BTC)</dd>")
            .Append("<dt>Paid</dt><dd>").Append(Sats(i.AmountPaid)).Append("</dd>")
            .Append("<dt>Rate</dt><dd>").Append(i.Rate is { } r ? E(r.Pair + " " + r.Rate.ToString(CultureInfo.InvariantCulture)) : "—").Append("</dd>")
            .Append("<dt>Order id</dt><dd>").Append(E(i.OrderId ?? "—")).Append("</dd>")
            .Append("<dt>Created</dt><dd>").Append(Time(i.CreatedAt)).Append("</dd><dt>Expires</dt><dd>").Append(Time(i.ExpiresAt)).Append("</dd>")
            .Append("<dt>Checkout</dt><dd><a id=\"checkout-link\" href=\"/i/").Append(U(i.Id.Value)).Append("\">Open the checkout page</a></dd>");
        if (i.MetadataJson is not null)
        {
            sb.Append("<dt>Metadata</dt><dd><code>").Append(E(i.MetadataJson)).Append("</code></dd>");
        }

        sb.Append("</dl>");
        if (CanChange(role, Permission.InvoicesManage) && i.Status is not (InvoiceStatus.Settled or InvoiceStatus.Invalid))
        {
            var action = StoreBase(store) + "/invoices/" + U(i.Id.Value) + "/mark";
            sb.Append("<div class=\"actions\">").Append(ButtonForm(Page(http), action, "Mark settled", ("status", "Settled")))
              .Append(ButtonForm(Page(http), action, "Mark invalid", ("status", "Invalid"))).Append("</div>");
        }

        sb.Append("<h2>Payment methods</h2>");
        if (i.Prompts.Count == 0)
        {
            sb.Append("<p>None.</p>");
        }
        else
        {
            sb.Append("<ul class=\"plain\">");
            foreach (var p in i.Prompts)
            {
                sb.Append("<li><strong>").Append(E(p.Method.ToString())).Append(":</strong> <code class=\"wrap\">").Append(E(p.Destination)).Append("</code></li>");
            }

            sb.Append("</ul>");
        }

        sb.Append("<h2>Payments</h2>");
        if (i.Payments.Count == 0)
        {
            sb.Append("<p>No payments yet.</p>");
        }
        else
        {
            sb.Append("<div class=\"scroll\"><table id=\"payments\"><thead><tr><th scope=\"col\">Method</th><th scope=\"col\">Reference</th><th scope=\"col\">Amount</th><th scope=\"col\">Confirmations</th><th scope=\"col\">Settled</th><th scope=\"col\">Received</th></tr></thead><tbody>");
            foreach (var p in i.Payments)
            {
                sb.Append("<tr><td>").Append(E(p.Method.ToString())).Append("</td><td><code class=\"wrap\">").Append(E(p.Reference)).Append("</code></td><td>").Append(Sats(p.Amount))
                  .Append(p.Replaced ? " (replaced)" : "").Append("</td><td>").Append(p.Confirmations).Append("</td><td>").Append(p.Settled ? "yes" : "no").Append("</td><td>")
                  .Append(Time(p.ReceivedAt)).Append("</td></tr>");
            }

            sb.Append("</tbody></table></div>");
        }

        sb.Append("<h2>Events</h2><div class=\"scroll\"><table id=\"events\"><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Event</th><th scope=\"col\">Status</th><th scope=\"col\">At</th></tr></thead><tbody>");
        foreach (var e in i.Events)
        {
            sb.Append("<tr><td>").Append(e.Sequence).Append("</td><td>").Append(E(e.Type.ToString())).Append(e.ManuallyMarked ? " (manual)" : "").Append("</td><td>")
              .Append(E(e.Status.ToString())).Append("</td><td>").Append(Time(e.At)).Append("</td></tr>");
        }

        sb.Append("</tbody></table></div>");
        return Html(http, Layout(Page(http), "Invoice " + i.Id.Value, sb.ToString(), StoreNav(store.Id.Value, store.Name, role)));
    }

    private static async Task<IResult> MarkInvoiceAsync(HttpContext http, MerchantService merchant, InvoiceNotifications notifications, string storeId, string invoiceId)
    {
        var (store, _) = await StoreAccessAsync(http, storeId, Permission.InvoicesManage, true).ConfigureAwait(false);
        var form = await FormAsync(http).ConfigureAwait(false);
        var settled = form["status"].ToString() switch
        {
            "Settled" => true,
            "Invalid" => false,
            _ => throw new MerchantException(MerchantErrorReason.InvalidArgument, "status must be Settled or Invalid."),
        };
        var invoice = await merchant.GetInvoiceAsync(Principal(http), new InvoiceId(invoiceId), http.RequestAborted).ConfigureAwait(false);
        if (invoice.StoreId != store.Id)
        {
            throw new MerchantException(MerchantErrorReason.NotFound, $"No invoice {invoiceId}.");
        }

        var events = await merchant.MarkInvoiceAsync(Principal(http), invoice.Id, settled, http.RequestAborted).ConfigureAwait(false);
        await notifications.PublishAsync(events, http.RequestAborted).ConfigureAwait(false);
        return SeeOther(StoreBase(store) + "/invoices/" + U(invoice.Id.Value));
    }
}
