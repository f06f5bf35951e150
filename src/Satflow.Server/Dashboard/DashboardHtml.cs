using System.Globalization;
using System.Net;
using System.Text;
using Satflow.Lightning.Types;
using Satflow.Merchant.Accounts;

namespace Satflow.Server.Dashboard;

/// <summary>One rendered dashboard request: who is logged in and the antiforgery token its forms carry.</summary>
/// <param name="User">The logged-in user, or null on the login page.</param>
/// <param name="CsrfToken">The antiforgery request token for this response's forms.</param>
public sealed record DashboardPage(User? User, string CsrfToken);

/// <summary>HTML building blocks of the dashboard: the layout, escaping, forms with their antiforgery field, amounts.</summary>
public static class DashboardHtml
{
    /// <summary>The Content-Security-Policy of every dashboard page: no script at all, styles and images from the server only.</summary>
    public const string ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>HTML-escapes text (null is empty).</summary>
    /// <param name="s">Text.</param>
    /// <returns>Escaped text.</returns>
    public static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    /// <summary>URL-escapes a path segment or query value.</summary>
    /// <param name="s">Text.</param>
    /// <returns>Escaped text.</returns>
    public static string U(string? s) => Uri.EscapeDataString(s ?? "");

    /// <summary>Formats millisatoshis as whole satoshis (rounded up) with thousands separators.</summary>
    /// <param name="amount">The amount.</param>
    /// <returns>E.g. <c>12,345 sat</c>.</returns>
    public static string Sats(MilliSatoshi amount) => Sats(amount.Value);

    /// <summary>Formats millisatoshis as whole satoshis (rounded up) with thousands separators.</summary>
    /// <param name="msat">Millisatoshis.</param>
    /// <returns>E.g. <c>12,345 sat</c>.</returns>
    public static string Sats(ulong msat) => (msat / 1000 + (msat % 1000 == 0 ? 0UL : 1UL)).ToString("N0", CultureInfo.InvariantCulture) + " sat";

    /// <summary>Formats a UTC time for tables.</summary>
    /// <param name="t">The time.</param>
    /// <returns>A <c>time</c> element.</returns>
    public static string Time(DateTimeOffset? t) => t is { } v
        ? "<time datetime=\"" + v.UtcDateTime.ToString("O", CultureInfo.InvariantCulture) + "\">" + v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC</time>"
        : "—";

    /// <summary>Opens a POST form with its antiforgery field.</summary>
    /// <param name="page">The page (token).</param>
    /// <param name="action">The target path.</param>
    /// <param name="cssClass">Optional class.</param>
    /// <returns>The opening markup.</returns>
    public static string FormStart(DashboardPage page, string action, string? cssClass = null)
    {
        ArgumentNullException.ThrowIfNull(page);
        return "<form method=\"post\" action=\"" + E(action) + "\"" + (cssClass is null ? "" : " class=\"" + E(cssClass) + "\"") + ">"
            + "<input type=\"hidden\" name=\"" + DashboardSetup.AntiforgeryField + "\" value=\"" + E(page.CsrfToken) + "\">";
    }

    /// <summary>A one-button POST form.</summary>
    /// <param name="page">The page (token).</param>
    /// <param name="action">The target path.</param>
    /// <param name="label">The button text.</param>
    /// <param name="hidden">Hidden fields.</param>
    /// <returns>Markup.</returns>
    public static string ButtonForm(DashboardPage page, string action, string label, params (string Name, string Value)[] hidden)
    {
        var sb = new StringBuilder(FormStart(page, action, "inline"));
        foreach (var (n, v) in hidden)
        {
            sb.Append("<input type=\"hidden\" name=\"").Append(E(n)).Append("\" value=\"").Append(E(v)).Append("\">");
        }

        return sb.Append("<button type=\"submit\">").Append(E(label)).Append("</button></form>").ToString();
    }

    /// <summary>A labelled input.</summary>
    /// <param name="id">Id and name.</param>
    /// <param name="label">Label text.</param>
    /// <param name="type">Input type.</param>
    /// <param name="value">Current value.</param>
    /// <param name="required">Required.</param>
    /// <param name="extra">Extra attributes.</param>
    /// <returns>Markup.</returns>
    public static string Field(string id, string label, string type = "text", string? value = null, bool required = false, string extra = "")
        => "<div class=\"field\"><label for=\"" + E(id) + "\">" + E(label) + "</label><input id=\"" + E(id) + "\" name=\"" + E(id) + "\" type=\"" + E(type) + "\""
           + (value is null ? "" : " value=\"" + E(value) + "\"") + (required ? " required" : "") + (extra.Length > 0 ? " " + extra : "") + "></div>";

    /// <summary>A labelled select.</summary>
    /// <param name="id">Id and name.</param>
    /// <param name="label">Label text.</param>
    /// <param name="options">Value and text of each option.</param>
    /// <param name="selected">The selected value.</param>
    /// <returns>Markup.</returns>
    public static string Select(string id, string label, IEnumerable<(string Value, string Text)> options, string? selected)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sb = new StringBuilder("<div class=\"field\"><label for=\"").Append(E(id)).Append("\">").Append(E(label)).Append("</label><select id=\"")
            .Append(E(id)).Append("\" name=\"").Append(E(id)).Append("\">");
        foreach (var (v, t) in options)
        {
            sb.Append("<option value=\"").Append(E(v)).Append('"').Append(v == selected ? " selected" : "").Append('>').Append(E(t)).Append("</option>");
        }

        return sb.Append("</select></div>").ToString();
    }

    /// <summary>A status badge.</summary>
    /// <param name="text">Status text.</param>
    /// <returns>Markup.</returns>
    public static string Badge(string text) => "<span class=\"badge badge-" + E(text.ToLowerInvariant()) + "\">" + E(text) + "</span>";

    /// <summary>Wraps a page body in the dashboard layout (navigation, logout button, stylesheet).</summary>
    /// <param name="page">The page.</param>
    /// <param name="title">The page title (also the h1).</param>
    /// <param name="body">The body markup (escaped by the caller).</param>
    /// <param name="subnav">Optional second navigation (a store's sections).</param>
    /// <returns>The whole document.</returns>
    public static string Layout(DashboardPage page, string title, string body, string? subnav = null)
    {
        ArgumentNullException.ThrowIfNull(page);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
          .Append("<title>").Append(E(title)).Append(" · Satflow</title><link rel=\"stylesheet\" href=\"").Append(DashboardSetup.Prefix).Append("/assets/dashboard.css\"></head><body>")
          .Append("<a class=\"skip\" href=\"#main\">Skip to content</a><header class=\"top\"><p class=\"brand\"><a href=\"").Append(DashboardSetup.Prefix).Append("\">Satflow</a></p>");
        if (page.User is { } user)
        {
            sb.Append("<nav aria-label=\"Main\"><ul><li><a href=\"/dashboard\">Stores</a></li><li><a href=\"/dashboard/api-keys\">API keys</a></li>");
            if (user.IsServerAdmin)
            {
                sb.Append("<li><a href=\"/dashboard/node\">Node</a></li><li><a href=\"/dashboard/wallet\">Wallet</a></li><li><a href=\"/dashboard/channels\">Channels</a></li>");
            }

            sb.Append("</ul></nav><div class=\"who\"><span>").Append(E(user.Email)).Append("</span>")
              .Append(ButtonForm(page, DashboardSetup.Prefix + "/logout", "Log out")).Append("</div>");
        }

        sb.Append("</header>");
        if (subnav is not null)
        {
            sb.Append(subnav);
        }

        sb.Append("<main id=\"main\" tabindex=\"-1\"><h1>").Append(E(title)).Append("</h1>").Append(body).Append("</main></body></html>");
        return sb.ToString();
    }

    /// <summary>The navigation between a store's sections.</summary>
    /// <param name="storeId">The store id.</param>
    /// <param name="storeName">The store name.</param>
    /// <param name="role">The user's role there.</param>
    /// <returns>Markup.</returns>
    public static string StoreNav(string storeId, string storeName, StoreRole role)
    {
        var b = DashboardSetup.Prefix + "/stores/" + U(storeId);
        var sb = new StringBuilder("<nav class=\"sub\" aria-label=\"Store\"><p>").Append(E(storeName)).Append(" <span class=\"role\">(").Append(E(role.ToString().ToLowerInvariant())).Append(")</span></p><ul>")
            .Append("<li><a href=\"").Append(b).Append("\">Overview</a></li>");
        if (role.Grants(Permission.InvoicesView))
        {
            sb.Append("<li><a href=\"").Append(b).Append("/invoices\">Invoices</a></li>");
        }

        if (role.Grants(Permission.PayoutsView))
        {
            sb.Append("<li><a href=\"").Append(b).Append("/payouts\">Payouts</a></li>");
        }

        if (role.Grants(Permission.WebhooksManage))
        {
            sb.Append("<li><a href=\"").Append(b).Append("/webhooks\">Webhooks</a></li>");
        }

        return sb.Append("</ul></nav>").ToString();
    }

    /// <summary>A liquidity bar: local share of a channel's balance, with a text equivalent.</summary>
    /// <param name="local">Local balance.</param>
    /// <param name="remote">Remote balance.</param>
    /// <returns>Markup.</returns>
    public static string LiquidityBar(MilliSatoshi local, MilliSatoshi remote)
    {
        var total = (double)local.Value + remote.Value;
        var pct = total <= 0 ? 0 : Math.Round(local.Value / total * 100, 1);
        var p = pct.ToString("0.#", CultureInfo.InvariantCulture);
        return "<div class=\"bar\" role=\"img\" aria-label=\"Local " + p + "%, remote " + (100 - pct).ToString("0.#", CultureInfo.InvariantCulture) + "%\">"
            + "<svg viewBox=\"0 0 100 8\" preserveAspectRatio=\"none\" width=\"100%\" height=\"12\" aria-hidden=\"true\"><rect class=\"remote\" x=\"0\" y=\"0\" width=\"100\" height=\"8\"/>"
            + "<rect class=\"local\" x=\"0\" y=\"0\" width=\"" + p + "\" height=\"8\"/></svg></div>";
    }
}
