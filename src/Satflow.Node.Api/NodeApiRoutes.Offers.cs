using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api;

internal static partial class NodeApiRoutes
{
    /// <summary>The longest offer description, issuer name or payer note accepted (UTF-8 bytes).</summary>
    internal const int MaxOfferTextBytes = 1024;

    /// <summary>The BOLT 12 routes (spread into <see cref="Table"/>).</summary>
    private static IEnumerable<Entry> OfferEntries =>
    [
        new(new("GET", "/v1/offers", "Every offer the node created, newest first, with the invoices issued and paid for each."),
            async (c, n) => await OkAsync(c, await Offers(n).ListOffersAsync(c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("POST", "/v1/offers", "Create a BOLT 12 offer: {\"description\", \"amount_msat\"?, \"expiry_seconds\"?, \"issuer\"?, \"blinded\"?}."), CreateOfferAsync),
        new(new("POST", "/v1/offers/pay", "Pay a BOLT 12 offer and wait for the outcome: {\"offer\", \"amount_msat\"?, \"payer_note\"?, \"max_fee_msat\"?, \"timeout_seconds\"?}."), PayOfferAsync),
    ];

    private static INodeOfferOperations Offers(INodeOperations node) =>
        node as INodeOfferOperations ?? throw new NodeOperationException(NodeErrorCode.Unavailable, "this node does not serve BOLT 12 offers");

    private static string LimitedText(string? value, string field)
    {
        if (value is { } text && Encoding.UTF8.GetByteCount(text) > MaxOfferTextBytes)
        {
            throw Invalid($"{field} is {Encoding.UTF8.GetByteCount(text).ToString(CultureInfo.InvariantCulture)} bytes of UTF-8; at most {MaxOfferTextBytes.ToString(CultureInfo.InvariantCulture)} are allowed");
        }
        return value ?? "";
    }

    private static async Task CreateOfferAsync(HttpContext context, INodeOperations node)
    {
        var request = (await ReadBodyAsync<CreateOfferRequest>(context, optional: false).ConfigureAwait(false))!;
        var description = LimitedText(Required(request.Description, "description"), "description");
        var amount = request.AmountMsat is { } a ? ParseMsat(a, "amount_msat") : (MilliSatoshi?)null;
        TimeSpan? expiry = null;
        if (request.ExpirySeconds is { } seconds)
        {
            if (seconds is < 1 or > MaxExpirySeconds)
            {
                throw Invalid($"expiry_seconds must be between 1 and {MaxExpirySeconds.ToString(CultureInfo.InvariantCulture)}, got {seconds.ToString(CultureInfo.InvariantCulture)}");
            }
            expiry = TimeSpan.FromSeconds(seconds);
        }
        var issuer = request.Issuer is null ? null : LimitedText(request.Issuer, "issuer");
        var parameters = new OfferCreateParameters(description, amount, expiry, issuer, request.Blinded);
        await OkAsync(context, await Offers(node).CreateOfferAsync(parameters, context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
    }

    private static async Task PayOfferAsync(HttpContext context, INodeOperations node)
    {
        var request = (await ReadBodyAsync<PayOfferRequest>(context, optional: false).ConfigureAwait(false))!;
        var offer = Required(request.Offer, "offer");
        if (!offer.StartsWith("lno1", StringComparison.OrdinalIgnoreCase))
        {
            throw Invalid($"offer: '{Clip(offer)}' is not a BOLT 12 offer (lno1...)");
        }
        var amount = request.AmountMsat is { } a ? ParseMsat(a, "amount_msat") : (MilliSatoshi?)null;
        var note = request.PayerNote is null ? null : LimitedText(request.PayerNote, "payer_note");
        var limits = LimitsOf(new PayInvoiceRequest(null, null) { MaxFeeMsat = request.MaxFeeMsat, TimeoutSeconds = request.TimeoutSeconds });
        await OkAsync(context, await Offers(node).PayOfferAsync(offer, amount, note, limits, context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
    }
}
