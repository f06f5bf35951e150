using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Satflow.Node.Api;

internal static partial class NodeApiRoutes
{
    /// <summary><c>GET /v1/route?node=ID&amp;amount_msat=N</c>: the route a payment would take now.</summary>
    private static async Task FindRouteAsync(HttpContext context, INodeOperations node)
    {
        var nodeId = ParseNodeId(context.Request.Query["node"].FirstOrDefault(), "node");
        var text = context.Request.Query["amount_msat"].FirstOrDefault();
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw Invalid("amount_msat must be given as a positive whole number of millisatoshis");
        }
        var amount = ParseMsat(value, "amount_msat");
        await OkAsync(context, await node.FindRouteAsync(nodeId, amount, context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>The optional limits of <c>POST /v1/pay</c>.</summary>
    private static PaymentLimits LimitsOf(PayInvoiceRequest request)
    {
        var maxFee = request.MaxFeeMsat is { } fee
            ? fee >= 0 ? new Lightning.Types.MilliSatoshi((ulong)fee) : throw Invalid($"max_fee_msat must not be negative, got {fee.ToString(CultureInfo.InvariantCulture)}")
            : (Lightning.Types.MilliSatoshi?)null;
        TimeSpan? timeout = request.TimeoutSeconds is { } seconds
            ? seconds is >= 1 and <= 86_400 ? TimeSpan.FromSeconds(seconds) : throw Invalid($"timeout_seconds must be between 1 and 86400, got {seconds.ToString(CultureInfo.InvariantCulture)}")
            : null;
        return new PaymentLimits(maxFee, timeout);
    }
}
