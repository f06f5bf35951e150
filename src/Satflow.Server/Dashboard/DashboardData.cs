using System.Globalization;
using System.Text;
using Satflow.Lightning.Types;
using Satflow.Merchant;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;

namespace Satflow.Server.Dashboard;

/// <summary>The invoice list's filters (query string <c>status</c>, <c>from</c>, <c>to</c>, <c>q</c>).</summary>
/// <param name="Status">Only this status.</param>
/// <param name="From">Created on or after this UTC day.</param>
/// <param name="To">Created on or before this UTC day.</param>
/// <param name="Text">Matches the invoice id, the order id or the metadata (case-insensitive substring).</param>
public sealed record InvoiceFilter(InvoiceStatus? Status, DateOnly? From, DateOnly? To, string? Text)
{
    /// <summary>Parses the query string; a malformed value is a <see cref="MerchantErrorReason.InvalidArgument"/>.</summary>
    /// <param name="query">The query.</param>
    /// <returns>The filter.</returns>
    public static InvoiceFilter Parse(IQueryCollection query)
    {
        ArgumentNullException.ThrowIfNull(query);
        InvoiceStatus? status = null;
        if (query["status"].ToString() is { Length: > 0 } s)
        {
            status = Enum.TryParse<InvoiceStatus>(s, ignoreCase: true, out var v) && Enum.IsDefined(v) && !s.All(char.IsAsciiDigit)
                ? v : throw new MerchantException(MerchantErrorReason.InvalidArgument, $"'{s}' is not an invoice status.");
        }

        var text = query["q"].ToString().Trim();
        if (text.Length > 200)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "The search text is limited to 200 characters.");
        }

        return new InvoiceFilter(status, Day(query["from"].ToString(), "from"), Day(query["to"].ToString(), "to"), text.Length == 0 ? null : text);
    }

    private static DateOnly? Day(string value, string name)
        => value.Length == 0 ? null
            : DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d
            : throw new MerchantException(MerchantErrorReason.InvalidArgument, $"'{name}' must be a date (yyyy-MM-dd).");

    /// <summary>Whether an invoice passes the filter.</summary>
    /// <param name="invoice">The invoice.</param>
    /// <returns>True when it matches.</returns>
    public bool Matches(Invoice invoice)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        var day = DateOnly.FromDateTime(invoice.CreatedAt.UtcDateTime);
        return (Status is null || invoice.Status == Status)
            && (From is null || day >= From)
            && (To is null || day <= To)
            && (Text is null
                || invoice.Id.Value.Contains(Text, StringComparison.OrdinalIgnoreCase)
                || (invoice.OrderId?.Contains(Text, StringComparison.OrdinalIgnoreCase) ?? false)
                || (invoice.MetadataJson?.Contains(Text, StringComparison.OrdinalIgnoreCase) ?? false));
    }

    /// <summary>The filter as a query string (for the CSV link), starting with <c>?</c> or empty.</summary>
    /// <returns>The query string.</returns>
    public string ToQueryString()
    {
        var parts = new List<string>();
        if (Status is { } s)
        {
            parts.Add("status=" + s);
        }

        if (From is { } f)
        {
            parts.Add("from=" + f.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        }

        if (To is { } t)
        {
            parts.Add("to=" + t.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        }

        if (Text is { } q)
        {
            parts.Add("q=" + Uri.EscapeDataString(q));
        }

        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }
}

/// <summary>Reads invoices for the dashboard: filtered scans (newest first, bounded), CSV export and daily settled volume.</summary>
public static class DashboardData
{
    /// <summary>How many of a store's newest invoices a search or chart looks at.</summary>
    public const int ScanLimit = 10_000;

    private const int PageSize = 1000;

    /// <summary>Finds a store's invoices matching a filter, newest first (among the newest <see cref="ScanLimit"/>).</summary>
    /// <param name="merchant">The merchant service (enforces <c>invoices.view</c>).</param>
    /// <param name="principal">The user.</param>
    /// <param name="store">The store.</param>
    /// <param name="filter">The filter.</param>
    /// <param name="max">At most this many results.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The matching invoices.</returns>
    public static async Task<IReadOnlyList<Invoice>> FindInvoicesAsync(MerchantService merchant, MerchantPrincipal principal, StoreId store, InvoiceFilter filter, int max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(merchant);
        ArgumentNullException.ThrowIfNull(filter);
        var result = new List<Invoice>();
        if (filter.Text is { } text && IsIdLike(text))
        {
            try
            {
                var exact = await merchant.GetInvoiceAsync(principal, new InvoiceId(text), cancellationToken).ConfigureAwait(false);
                if (exact.StoreId == store && filter.Matches(exact))
                {
                    return [exact];
                }
            }
            catch (MerchantException e) when (e.Reason is MerchantErrorReason.NotFound or MerchantErrorReason.InvalidArgument or MerchantErrorReason.Forbidden)
            {
                // Not an invoice id of this store: fall back to the text scan.
            }
        }

        for (var skip = 0; skip < ScanLimit && result.Count < max; skip += PageSize)
        {
            var page = await merchant.ListInvoicesAsync(principal, store, new InvoiceQuery(filter.Status, null, skip, PageSize), cancellationToken).ConfigureAwait(false);
            foreach (var i in page)
            {
                if (filter.Matches(i))
                {
                    result.Add(i);
                    if (result.Count == max)
                    {
                        break;
                    }
                }
            }

            if (page.Count < PageSize)
            {
                break;
            }
        }

        return result;
    }

    private static bool IsIdLike(string text) => text.Length is >= 8 and <= 64 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>The CSV header line.</summary>
    public const string CsvHeader = "invoice_id,created_at,status,additional_status,amount,currency,amount_due_msat,amount_paid_msat,order_id,expires_at";

    /// <summary>Writes invoices as CSV (RFC 4180 quoting; cells that a spreadsheet would run as a formula get a leading apostrophe).</summary>
    /// <param name="invoices">The invoices.</param>
    /// <returns>The CSV text, header first, CRLF line ends.</returns>
    public static string ToCsv(IEnumerable<Invoice> invoices)
    {
        ArgumentNullException.ThrowIfNull(invoices);
        var sb = new StringBuilder(CsvHeader).Append("\r\n");
        foreach (var i in invoices)
        {
            sb.Append(Cell(i.Id.Value)).Append(',')
              .Append(i.CreatedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)).Append(',')
              .Append(i.Status).Append(',').Append(i.AdditionalStatus).Append(',')
              .Append(i.Requested.Amount.ToString(CultureInfo.InvariantCulture)).Append(',').Append(Cell(i.Requested.Currency)).Append(',')
              .Append(i.AmountDue.Value.ToString(CultureInfo.InvariantCulture)).Append(',').Append(i.AmountPaid.Value.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(Cell(i.OrderId)).Append(',')
              .Append(i.ExpiresAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)).Append("\r\n");
        }

        return sb.ToString();
    }

    /// <summary>One CSV cell: quoted when needed, formula-looking text neutralised.</summary>
    /// <param name="value">The text.</param>
    /// <returns>The cell.</returns>
    public static string Cell(string? value)
    {
        var v = value ?? "";
        if (v.Length > 0 && v[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            v = "'" + v;
        }

        return v.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + v.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : v;
    }

    /// <summary>Settled volume per UTC day over the last <paramref name="days"/> days (today included), oldest first.</summary>
    /// <param name="settled">Settled invoices.</param>
    /// <param name="today">Today (UTC).</param>
    /// <param name="days">Number of days.</param>
    /// <returns>Day and amount of the invoices settled that day: what was paid, or the amount due for an invoice marked settled without payments.</returns>
    public static IReadOnlyList<(DateOnly Day, MilliSatoshi Amount)> DailyVolume(IEnumerable<Invoice> settled, DateOnly today, int days)
    {
        ArgumentNullException.ThrowIfNull(settled);
        var first = today.AddDays(1 - days);
        var sums = new ulong[days];
        foreach (var i in settled.Where(i => i.Status == InvoiceStatus.Settled))
        {
            var at = i.Events.LastOrDefault(e => e.Status == InvoiceStatus.Settled)?.At ?? i.CreatedAt;
            var d = DateOnly.FromDateTime(at.UtcDateTime);
            if (d >= first && d <= today)
            {
                sums[d.DayNumber - first.DayNumber] += (i.AmountPaid.Value > 0 ? i.AmountPaid : i.AmountDue).Value;
            }
        }

        return Enumerable.Range(0, days).Select(k => (first.AddDays(k), new MilliSatoshi(sums[k]))).ToArray();
    }

    /// <summary>An inline SVG bar chart of daily volume with a data table for screen readers.</summary>
    /// <param name="series">The days and amounts.</param>
    /// <returns>Markup.</returns>
    public static string VolumeChart(IReadOnlyList<(DateOnly Day, MilliSatoshi Amount)> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        const int W = 600, H = 200, Pad = 24;
        var max = Math.Max(1UL, series.Count == 0 ? 1UL : series.Max(s => s.Amount.Value));
        var slot = series.Count == 0 ? W : (double)(W - Pad) / series.Count;
        var total = series.Aggregate(0UL, (a, s) => a + s.Amount.Value);
        var sb = new StringBuilder("<figure class=\"chart\"><svg id=\"volume-chart\" viewBox=\"0 0 ").Append(W).Append(' ').Append(H)
            .Append("\" role=\"img\" aria-labelledby=\"chart-title\"><title id=\"chart-title\">Settled volume per day, last ").Append(series.Count)
            .Append(" days: ").Append(DashboardHtml.Sats(total)).Append(" in total</title>")
            .Append("<line class=\"axis\" x1=\"").Append(Pad).Append("\" y1=\"").Append(H - Pad).Append("\" x2=\"").Append(W).Append("\" y2=\"").Append(H - Pad).Append("\"/>");
        for (var k = 0; k < series.Count; k++)
        {
            var (day, amount) = series[k];
            var h = amount.Value == 0 ? 0 : Math.Max(1.0, (double)amount.Value / max * (H - 2 * Pad));
            var x = Pad + k * slot + slot * 0.1;
            sb.Append("<rect class=\"vol\" data-day=\"").Append(day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Append("\" x=\"").Append(F(x)).Append("\" y=\"")
              .Append(F(H - Pad - h)).Append("\" width=\"").Append(F(slot * 0.8)).Append("\" height=\"").Append(F(h)).Append("\"><title>")
              .Append(day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Append(": ").Append(DashboardHtml.Sats(amount)).Append("</title></rect>");
        }

        if (series.Count > 0)
        {
            sb.Append("<text x=\"").Append(Pad).Append("\" y=\"").Append(H - 6).Append("\">").Append(series[0].Day.ToString("MM-dd", CultureInfo.InvariantCulture)).Append("</text>")
              .Append("<text x=\"").Append(W).Append("\" y=\"").Append(H - 6).Append("\" text-anchor=\"end\">").Append(series[^1].Day.ToString("MM-dd", CultureInfo.InvariantCulture)).Append("</text>")
              .Append("<text x=\"").Append(Pad).Append("\" y=\"14\">max ").Append(DashboardHtml.Sats(max)).Append("</text>");
        }

        sb.Append("</svg><figcaption><details><summary>Data table</summary><table><thead><tr><th scope=\"col\">Day</th><th scope=\"col\">Settled</th></tr></thead><tbody>");
        foreach (var (day, amount) in series.Where(s => s.Amount.Value > 0))
        {
            sb.Append("<tr><td>").Append(day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).Append("</td><td>").Append(DashboardHtml.Sats(amount)).Append("</td></tr>");
        }

        return sb.Append("</tbody></table></details></figcaption></figure>").ToString();
    }

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
}
