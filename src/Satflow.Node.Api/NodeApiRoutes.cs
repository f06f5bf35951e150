using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Node.Api;

/// <summary>The route table and handlers: request parsing and validation, then one <see cref="INodeOperations"/> call.</summary>
internal static partial class NodeApiRoutes
{
    /// <summary>BOLT 11 <c>d</c> fields are at most 639 bytes (a 10-bit data length of 5-bit groups).</summary>
    internal const int MaxDescriptionBytes = 639;

    /// <summary>The longest invoice expiry accepted: one year.</summary>
    internal const long MaxExpirySeconds = 365L * 24 * 3600;

    private const long MaxSatoshis = 21_000_000L * 100_000_000L;

    internal sealed record Entry(NodeApiRoute Route, Func<HttpContext, INodeOperations, Task> Handler);

    internal static IReadOnlyList<Entry> Table { get; } =
    [
        new(new("GET", "/v1/info", "Node id, alias, network, block height, listen addresses, counters, version."),
            async (c, n) => await OkAsync(c, await n.GetInfoAsync(c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("POST", "/v1/wallet/address", "A fresh on-chain receive address of the node's wallet."),
            async (c, n) =>
            {
                await ReadBodyAsync<EmptyRequest>(c, optional: true).ConfigureAwait(false);
                await OkAsync(c, await n.GetNewAddressAsync(c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
            }),
        new(new("GET", "/v1/wallet/balance", "The node's on-chain balance."),
            async (c, n) => await OkAsync(c, await n.GetBalanceAsync(c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("GET", "/v1/peers", "Connected peers."),
            async (c, n) => await OkAsync(c, await n.ListPeersAsync(c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("POST", "/v1/peers", "Connect to a peer: {\"node_id\", \"address\": \"host:port\"}."), ConnectPeerAsync),
        new(new("DELETE", "/v1/peers/{node_id}", "Disconnect a peer."),
            async (c, n) =>
            {
                var nodeId = ParseNodeId(RouteValue(c, "node_id"), "node_id");
                await n.DisconnectPeerAsync(nodeId, c.RequestAborted).ConfigureAwait(false);
                await OkAsync(c, new PeerDisconnectResult(nodeId, true)).ConfigureAwait(false);
            }),
        new(new("GET", "/v1/channels", "Every channel."),
            async (c, n) => await OkAsync(c, await n.ListChannelsAsync(c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("POST", "/v1/channels", "Open a channel: {\"node_id\", \"amount_sat\", \"private\"?}."), OpenChannelAsync),
        new(new("POST", "/v1/channels/restore", "Recover the channels of a static channel backup (peers force close, funds swept to the wallet): {\"backup\": base64}."), RestoreChannelsAsync),
        new(new("POST", "/v1/channels/{channel}/close", "Close a channel (by channel id or short channel id): optional {\"force\": true}."), CloseChannelAsync),
        new(new("GET", "/v1/invoices", "Every invoice issued, newest first."),
            async (c, n) => await OkAsync(c, await n.ListInvoicesAsync(c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("POST", "/v1/invoices", "Create an invoice: {\"amount_msat\", \"description\"?, \"expiry_seconds\"?}."), CreateInvoiceAsync),
        new(new("GET", "/v1/invoices/{payment_hash}", "One invoice."),
            async (c, n) => await OkAsync(c, await n.GetInvoiceAsync(ParseHash(RouteValue(c, "payment_hash")), c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("POST", "/v1/pay", "Pay a BOLT 11 invoice through the network and wait for the outcome: {\"bolt11\", \"amount_msat\"?, \"max_fee_msat\"?, \"timeout_seconds\"?}."), PayAsync),
        new(new("GET", "/v1/route", "The route a payment would take now: ?node=ID&amount_msat=N (hops, fees, CLTV)."), FindRouteAsync),
        new(new("POST", "/v1/keysend", "Send a spontaneous payment: {\"node_id\", \"amount_msat\"}."), KeysendAsync),
        new(new("GET", "/v1/payments", "Every outgoing payment, newest first."),
            async (c, n) => await OkAsync(c, await n.ListPaymentsAsync(c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("GET", "/v1/payments/{payment_hash}", "One outgoing payment."),
            async (c, n) => await OkAsync(c, await n.GetPaymentAsync(ParseHash(RouteValue(c, "payment_hash")), c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("GET", "/v1/graph", "The channel graph and gossip state: node and channel counts, our announced channels, last sync."),
            async (c, n) => await OkAsync(c, await n.GetGraphInfoAsync(c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("GET", "/v1/graph/nodes/{node_id}", "One node of the graph: alias, addresses, channels and their policies."),
            async (c, n) => await OkAsync(c, await n.GetGraphNodeAsync(ParseNodeId(RouteValue(c, "node_id"), "node_id"), c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("GET", "/v1/forwards", "The forwarding history, oldest first."),
            async (c, n) => await OkAsync(c, await n.ListForwardsAsync(c.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false)),
        new(new("POST", "/v1/channels/{channel}/policy", "Set a channel's forwarding policy: {\"base_fee_msat\", \"fee_ppm\", \"cltv_delta\", \"htlc_min_msat\"?, \"htlc_max_msat\"?}."), SetChannelPolicyAsync),
        .. OfferEntries,
    ];

    public static void Map(WebApplication app, INodeOperations node)
    {
        foreach (var entry in Table)
        {
            var handler = entry.Handler;
            app.MapMethods(entry.Route.Pattern, [entry.Route.Method], context => InvokeAsync(context, node, handler));
        }
    }

    private static async Task InvokeAsync(HttpContext context, INodeOperations node, Func<HttpContext, INodeOperations, Task> handler)
    {
        try
        {
            await handler(context, node).ConfigureAwait(false);
        }
        catch (RequestException ex)
        {
            await WriteProblemAsync(context, ex.Status, ex.Code, ex.Message).ConfigureAwait(false);
        }
        catch (NodeOperationException ex)
        {
            await WriteProblemAsync(context, (int)NodeOperationException.StatusFor(ex.Code), CodeName(ex.Code), ex.Message).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex)
        {
            await WriteProblemAsync(context, ex.StatusCode, "malformed_request", ex.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // The API's last line of defence: any node failure becomes a 500 problem document.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await WriteProblemAsync(context, StatusCodes.Status500InternalServerError, "internal",
                $"the node failed: {ex.GetType().Name}: {ex.Message}".ReplaceLineEndings(" ")).ConfigureAwait(false);
        }
    }

    internal static string CodeName(NodeErrorCode code) => JsonNamingPolicy.SnakeCaseLower.ConvertName(code.ToString());

    private static string Title(string code) => code switch
    {
        "unauthorized" => "Unauthorized",
        "malformed_request" => "Malformed request",
        "invalid_argument" => "Invalid argument",
        "not_found" => "Not found",
        "peer_not_connected" => "Peer not connected",
        "insufficient_funds" => "Insufficient funds",
        "already_paid" => "Already paid",
        "channel_not_ready" => "Channel not ready",
        "conflict" => "Conflict",
        "invoice_expired" => "Invoice expired",
        "no_route" => "No route",
        "rejected" => "Rejected by peer",
        "unavailable" => "Unavailable",
        _ => "Internal error",
    };

    internal static async Task WriteProblemAsync(HttpContext context, int status, string code, string detail)
    {
        if (context.Response.HasStarted)
        {
            return;
        }
        var problem = new ApiProblem("urn:satflow:problem:" + code, Title(code), status, detail, code);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        await JsonSerializer.SerializeAsync(context.Response.Body, problem, NodeApiJson.Options, CancellationToken.None).ConfigureAwait(false);
    }

    private static async Task OkAsync<T>(HttpContext context, T value)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, NodeApiJson.Options, context.RequestAborted).ConfigureAwait(false);
    }

    private sealed class RequestException(int status, string code, string message) : Exception(message)
    {
        public int Status { get; } = status;

        public string Code { get; } = code;
    }

    private static RequestException Invalid(string message) => new(StatusCodes.Status400BadRequest, "invalid_argument", message);

    private static RequestException Malformed(string message) => new(StatusCodes.Status400BadRequest, "malformed_request", message);

    private sealed record EmptyRequest;

    /// <summary>Reads the body as one JSON object of type <typeparamref name="T"/>; an empty body is allowed only when <paramref name="optional"/>.</summary>
    private static async Task<T?> ReadBodyAsync<T>(HttpContext context, bool optional) where T : class
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (bytes.Span.Trim(" \t\r\n"u8).IsEmpty)
        {
            return optional ? null : throw Malformed("a JSON object body is required");
        }
        var first = bytes.Span.TrimStart(" \t\r\n"u8)[0];
        if (first != (byte)'{')
        {
            throw Malformed("the body must be a JSON object");
        }
        try
        {
            return JsonSerializer.Deserialize<T>(bytes.Span, NodeApiJson.Options) ?? throw Malformed("the body must be a JSON object");
        }
        catch (JsonException ex)
        {
            throw Malformed("malformed JSON body: " + ex.Message.ReplaceLineEndings(" "));
        }
        catch (InvalidOperationException ex)
        {
            // System.Text.Json reports some invalid text (e.g. lone surrogates in strings) this way.
            throw Malformed("malformed JSON body: " + ex.Message.ReplaceLineEndings(" "));
        }
    }

    private static string RouteValue(HttpContext context, string name) => context.Request.RouteValues[name] as string ?? "";

    private static string Required(string? value, string field) =>
        string.IsNullOrWhiteSpace(value) ? throw Invalid($"{field} is required") : value.Trim();

    private static long Required(long? value, string field) => value ?? throw Invalid($"{field} is required");

    internal static NodeId ParseNodeId(string? text, string field)
    {
        var value = Required(text, field);
        return NodeId.TryParse(value, out var id) ? id : throw Invalid($"{field}: '{Clip(value)}' is not a node id (66 hex characters of a compressed public key)");
    }

    private static PaymentHash ParseHash(string text) =>
        Bytes32.TryParse(text, out var bytes) && text.Length == 64
            ? new PaymentHash(bytes)
            : throw Invalid($"'{Clip(text)}' is not a payment hash (64 hex characters)");

    private static MilliSatoshi ParseMsat(long value, string field) =>
        value is > 0 && (ulong)value <= MilliSatoshi.MaxMoney.Value
            ? new MilliSatoshi((ulong)value)
            : throw Invalid($"{field} must be between 1 and {MilliSatoshi.MaxMoney.Value.ToString(CultureInfo.InvariantCulture)} msat, got {value.ToString(CultureInfo.InvariantCulture)}");

    private static string Clip(string text) => text.Length <= 80 ? text : text[..80] + "...";

    /// <summary>Parses <c>host:port</c> or <c>[v6]:port</c>; the host is an IP literal or a DNS name.</summary>
    internal static DnsEndPoint ParseHostPort(string text, string field)
    {
        string host;
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                throw Invalid($"{field}: '{Clip(text)}' is not host:port");
            }
            host = text[1..close];
            portText = text[(close + 2)..];
            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                throw Invalid($"{field}: '{Clip(host)}' is not an IPv6 address");
            }
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0 || text.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                throw Invalid($"{field}: '{Clip(text)}' is not host:port (write IPv6 addresses as [addr]:port)");
            }
            host = text[..colon];
            portText = text[(colon + 1)..];
            if (Uri.CheckHostName(host) is UriHostNameType.Unknown or UriHostNameType.Basic)
            {
                throw Invalid($"{field}: '{Clip(host)}' is not a host name or IP address");
            }
        }
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw Invalid($"{field}: port '{Clip(portText)}' must be between 1 and 65535");
        }
        return new DnsEndPoint(host, port);
    }

    private static async Task ConnectPeerAsync(HttpContext context, INodeOperations node)
    {
        var request = (await ReadBodyAsync<ConnectPeerRequest>(context, optional: false).ConfigureAwait(false))!;
        var nodeId = ParseNodeId(request.NodeId, "node_id");
        var address = ParseHostPort(Required(request.Address, "address"), "address");
        await OkAsync(context, await node.ConnectPeerAsync(nodeId, address, context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
    }

    private static async Task OpenChannelAsync(HttpContext context, INodeOperations node)
    {
        var request = (await ReadBodyAsync<OpenChannelRequest>(context, optional: false).ConfigureAwait(false))!;
        var nodeId = ParseNodeId(request.NodeId, "node_id");
        var amount = Required(request.AmountSat, "amount_sat");
        if (amount is <= 0 or > MaxSatoshis)
        {
            throw Invalid($"amount_sat must be between 1 and {MaxSatoshis.ToString(CultureInfo.InvariantCulture)}, got {amount.ToString(CultureInfo.InvariantCulture)}");
        }
        var opened = request.Private is { } isPrivate
            ? await node.OpenChannelAsync(nodeId, Money.Satoshis(amount), announce: !isPrivate, context.RequestAborted).ConfigureAwait(false)
            : await node.OpenChannelAsync(nodeId, Money.Satoshis(amount), context.RequestAborted).ConfigureAwait(false);
        await OkAsync(context, opened).ConfigureAwait(false);
    }

    private static async Task CloseChannelAsync(HttpContext context, INodeOperations node)
    {
        var text = RouteValue(context, "channel");
        var request = await ReadBodyAsync<CloseChannelRequest>(context, optional: true).ConfigureAwait(false);
        ChannelId channelId;
        if (text.Length == 64 && Bytes32.TryParse(text, out var bytes))
        {
            channelId = new ChannelId(bytes);
        }
        else if (ShortChannelId.TryParse(text, out var scid))
        {
            var channels = await node.ListChannelsAsync(context.RequestAborted).ConfigureAwait(false);
            channelId = channels.FirstOrDefault(c => c.ShortChannelId == scid)?.ChannelId
                ?? throw new NodeOperationException(NodeErrorCode.NotFound, $"no channel with short channel id {scid}");
        }
        else
        {
            throw Invalid($"'{Clip(text)}' is not a channel id (64 hex characters) or short channel id (BLOCKxTXxOUT)");
        }
        var result = await node.CloseChannelAsync(channelId, request?.Force ?? false, context.RequestAborted).ConfigureAwait(false);
        await OkAsync(context, result).ConfigureAwait(false);
    }

    private static async Task RestoreChannelsAsync(HttpContext context, INodeOperations node)
    {
        var request = (await ReadBodyAsync<RestoreChannelsRequest>(context, optional: false).ConfigureAwait(false))!;
        byte[] backup;
        try
        {
            backup = Convert.FromBase64String(Required(request.Backup, "backup"));
        }
        catch (FormatException)
        {
            throw Invalid("backup is not base64");
        }
        await OkAsync(context, await node.RestoreChannelsAsync(backup, context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
    }

    private static async Task CreateInvoiceAsync(HttpContext context, INodeOperations node)
    {
        var request = (await ReadBodyAsync<CreateInvoiceRequest>(context, optional: false).ConfigureAwait(false))!;
        var amount = ParseMsat(Required(request.AmountMsat, "amount_msat"), "amount_msat");
        if (request.Description is { } d && Encoding.UTF8.GetByteCount(d) > MaxDescriptionBytes)
        {
            throw Invalid($"description is {Encoding.UTF8.GetByteCount(d).ToString(CultureInfo.InvariantCulture)} bytes of UTF-8; BOLT 11 allows at most {MaxDescriptionBytes.ToString(CultureInfo.InvariantCulture)}");
        }
        TimeSpan? expiry = null;
        if (request.ExpirySeconds is { } seconds)
        {
            if (seconds is < 1 or > MaxExpirySeconds)
            {
                throw Invalid($"expiry_seconds must be between 1 and {MaxExpirySeconds.ToString(CultureInfo.InvariantCulture)}, got {seconds.ToString(CultureInfo.InvariantCulture)}");
            }
            expiry = TimeSpan.FromSeconds(seconds);
        }
        await OkAsync(context, await node.CreateInvoiceAsync(amount, request.Description, expiry, context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
    }

    private static async Task PayAsync(HttpContext context, INodeOperations node)
    {
        var request = (await ReadBodyAsync<PayInvoiceRequest>(context, optional: false).ConfigureAwait(false))!;
        var bolt11 = Required(request.Bolt11, "bolt11");
        var amount = request.AmountMsat is { } a ? ParseMsat(a, "amount_msat") : (MilliSatoshi?)null;
        await OkAsync(context, await node.PayInvoiceAsync(bolt11, amount, LimitsOf(request), context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
    }

    private static async Task KeysendAsync(HttpContext context, INodeOperations node)
    {
        var request = (await ReadBodyAsync<KeysendRequest>(context, optional: false).ConfigureAwait(false))!;
        var nodeId = ParseNodeId(request.NodeId, "node_id");
        var amount = ParseMsat(Required(request.AmountMsat, "amount_msat"), "amount_msat");
        await OkAsync(context, await node.KeysendAsync(nodeId, amount, context.RequestAborted).ConfigureAwait(false)).ConfigureAwait(false);
    }
}
