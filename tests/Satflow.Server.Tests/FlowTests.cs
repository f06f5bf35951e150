using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Satflow.Lightning.Types;
using Satflow.Merchant.Invoices;
using Satflow.Server.Checkout;
using Satflow.Server.Hosting;
using Satflow.Webhooks;

namespace Satflow.Server.Tests;

/// <summary>A webhook receiver on 127.0.0.1 that records each request's headers and raw body.</summary>
public sealed class WebhookReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;

    public WebhookReceiver()
    {
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((IPEndPoint)l.LocalEndpoint).Port;
        }

        Url = $"http://127.0.0.1:{port}/hook/";
        _listener.Prefixes.Add(Url);
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Url { get; }

    public System.Threading.Channels.Channel<(string Signature, string EventType, byte[] Body)> Received { get; } =
        System.Threading.Channels.Channel.CreateUnbounded<(string, string, byte[])>();

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            using var ms = new MemoryStream();
            await ctx.Request.InputStream.CopyToAsync(ms);
            await Received.Writer.WriteAsync((ctx.Request.Headers[WebhookSignature.HeaderName] ?? "", ctx.Request.Headers[WebhookDeliveryEngine.EventHeader] ?? "", ms.ToArray()));
            ctx.Response.StatusCode = 200;
            ctx.Response.Close();
        }
    }

    public async Task<(string Signature, string EventType, byte[] Body)> NextAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        return await Received.Reader.ReadAsync(cts.Token);
    }

    public void Dispose()
    {
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}

public sealed class FlowTests : IAsyncLifetime
{
    private ServerFactory _factory = null!;
    private Tenant _tenant = null!;

    public async Task InitializeAsync()
    {
        _factory = new ServerFactory();
        _tenant = await _factory.CreateTenantAsync();
    }

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    private async Task<JsonElement> CreateInvoiceAsync(HttpClient c, object body)
        => await (await c.SendAsync(Http.Post($"/api/v1/stores/{_tenant.Store}/invoices", body))).JsonAsync(HttpStatusCode.Created);

    [Fact]
    public async Task Webhook_subscription_receives_signed_invoice_events_and_the_log_supports_redelivery()
    {
        using var receiver = new WebhookReceiver();
        using var c = _tenant.Client();
        var hooks = $"/api/v1/stores/{_tenant.Store}/webhooks";
        var hook = await (await c.SendAsync(Http.Post(hooks, new { url = receiver.Url, eventTypes = new[] { "invoice.*" } }))).JsonAsync(HttpStatusCode.Created);
        var secret = hook.GetProperty("secret").GetString()!;
        var hookId = hook.GetProperty("id").GetString()!;
        Assert.Equal(JsonValueKind.Null, (await (await c.GetAsync($"{hooks}/{hookId}")).JsonAsync(HttpStatusCode.OK)).GetProperty("secret").ValueKind);

        var invoice = await CreateInvoiceAsync(c, new { amount = 1500, currency = "SATS" });
        var id = invoice.GetProperty("id").GetString()!;
        var (signature, type, body) = await receiver.NextAsync();
        Assert.Equal("invoice.created", type);
        Assert.True(WebhookSignature.Verify(secret, signature, body, WebhookSignature.DefaultTolerance, DateTimeOffset.UtcNow), "signature does not verify");
        Assert.False(WebhookSignature.Verify(secret, signature, [.. body, (byte)' '], WebhookSignature.DefaultTolerance, DateTimeOffset.UtcNow));
        var envelope = WebhookEvent.Parse(body);
        Assert.Equal(_tenant.Store, envelope.OwnerId);
        Assert.Equal(id, envelope.Data.GetProperty("invoiceId").GetString());

        // A payment settles the invoice: processing and settled events follow, in order.
        var address = invoice.GetProperty("paymentMethods")[0].GetProperty("destination").GetString()!;
        await _factory.Get<PaymentRecorder>().RecordAsync(address, new PaymentObservation(PaymentMethodId.OnChain, "txid:0", new MilliSatoshi(1_500_000), 1, true, DateTimeOffset.UtcNow));
        var two = new[] { await receiver.NextAsync(), await receiver.NextAsync() };
        Assert.Equal(["invoice.processing", "invoice.settled"], two.Select(t => t.EventType).Order(StringComparer.Ordinal));
        var settled = two.Single(t => t.EventType == "invoice.settled");
        Assert.True(WebhookSignature.Verify(secret, settled.Signature, settled.Body, WebhookSignature.DefaultTolerance, DateTimeOffset.UtcNow));
        var sequences = two.Select(t => WebhookEvent.Parse(t.Body).Data.GetProperty("sequence").GetInt64()).Order().ToArray();
        Assert.True(sequences[0] < sequences[1], "each invoice event carries its sequence so receivers can order them");

        JsonElement deliveries = default;
        // Up to 60 s on a loaded machine; ends as soon as the three are delivered.
        for (var i = 0; i < 600; i++)
        {
            deliveries = await (await c.GetAsync($"{hooks}/{hookId}/deliveries")).JsonAsync(HttpStatusCode.OK);
            if (deliveries.GetArrayLength() == 3 && deliveries.EnumerateArray().All(d => d.GetProperty("status").GetString() == "Delivered"))
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.Equal(3, deliveries.GetArrayLength());
        Assert.All(deliveries.EnumerateArray(), d => Assert.Equal("Delivered", d.GetProperty("status").GetString()));
        var first = deliveries.EnumerateArray().Single(d => d.GetProperty("eventType").GetString() == "invoice.created");
        var redelivered = await (await c.SendAsync(Http.Post($"{hooks}/{hookId}/deliveries/{first.GetProperty("id").GetString()}/redeliver", new { }))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(first.GetProperty("id").GetString(), redelivered.GetProperty("redeliveryOf").GetString());
        var again = await receiver.NextAsync();
        Assert.Equal(body, again.Body);
        Assert.True(WebhookSignature.Verify(secret, again.Signature, again.Body, WebhookSignature.DefaultTolerance, DateTimeOffset.UtcNow));

        // Update and delete.
        var updated = await (await c.PutAsync($"{hooks}/{hookId}", new StringContent("{\"enabled\":false}", Encoding.UTF8, "application/json"))).JsonAsync(HttpStatusCode.OK);
        Assert.False(updated.GetProperty("enabled").GetBoolean());
        using var badUrl = await c.SendAsync(Http.Post(hooks, new { url = "http://example.com/hook" }));
        Assert.Equal(HttpStatusCode.BadRequest, badUrl.StatusCode);
        using var del = await c.DeleteAsync($"{hooks}/{hookId}");
        Assert.Equal(HttpStatusCode.NoContent, del.StatusCode);
        using var gone = await c.GetAsync($"{hooks}/{hookId}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Pull_payment_claim_approve_cancel_with_payout_webhooks()
    {
        using var receiver = new WebhookReceiver();
        using var c = _tenant.Client();
        var root = $"/api/v1/stores/{_tenant.Store}";
        var hook = await (await c.SendAsync(Http.Post($"{root}/webhooks", new { url = receiver.Url, eventTypes = new[] { "payout.*" } }))).JsonAsync(HttpStatusCode.Created);
        var secret = hook.GetProperty("secret").GetString()!;
        var pp = await (await c.SendAsync(Http.Post($"{root}/pull-payments", new { name = "Refunds", amount = 0.001m, currency = "BTC", methods = new[] { "OnChain" } }))).JsonAsync(HttpStatusCode.Created);
        var ppId = pp.GetProperty("id").GetString()!;
        var list = await (await c.GetAsync($"{root}/pull-payments")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal(ppId, Assert.Single(list.EnumerateArray()).GetProperty("id").GetString());

        string NewAddress() => new NBitcoin.Key().PubKey.GetAddress(NBitcoin.ScriptPubKeyType.Segwit, NBitcoin.Network.RegTest).ToString();
        var claim = await (await c.SendAsync(Http.Post($"{root}/pull-payments/{ppId}/claims", new { destination = NewAddress(), amount = 0.0006m }))).JsonAsync(HttpStatusCode.Created);
        Assert.Equal("AwaitingApproval", claim.GetProperty("state").GetString());
        using var tooMuch = await c.SendAsync(Http.Post($"{root}/pull-payments/{ppId}/claims", new { destination = NewAddress(), amount = 0.0005m }));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, tooMuch.StatusCode);
        using var badDestination = await c.SendAsync(Http.Post($"{root}/pull-payments/{ppId}/claims", new { destination = "nonsense", amount = 0.0001m }));
        Assert.Equal(HttpStatusCode.BadRequest, badDestination.StatusCode);
        var second = await (await c.SendAsync(Http.Post($"{root}/pull-payments/{ppId}/claims", new { destination = NewAddress(), amount = 0.0002m }))).JsonAsync(HttpStatusCode.Created);

        var approved = await (await c.SendAsync(Http.Post($"{root}/payouts/{claim.GetProperty("id").GetString()}/approve", new { }))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("AwaitingPayment", approved.GetProperty("state").GetString());
        Assert.Equal(60_000_000UL, approved.GetProperty("payAmountMsat").GetUInt64());
        var cancelled = await (await c.SendAsync(Http.Post($"{root}/payouts/{second.GetProperty("id").GetString()}/cancel", new { }))).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Cancelled", cancelled.GetProperty("state").GetString());
        var waiting = await (await c.GetAsync($"{root}/payouts?state=AwaitingPayment")).JsonAsync(HttpStatusCode.OK);
        Assert.Single(waiting.EnumerateArray());

        var types = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var (signature, type, body) = await receiver.NextAsync();
            Assert.True(WebhookSignature.Verify(secret, signature, body, WebhookSignature.DefaultTolerance, DateTimeOffset.UtcNow));
            types.Add(type);
        }

        // Deliveries run concurrently, so receivers see them in any order (they order by the envelope's data, dedupe by id).
        Assert.Equal(["payout.approved", "payout.cancelled", "payout.created", "payout.created"], types.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Checkout_page_renders_amount_QR_copy_buttons_and_accessible_status()
    {
        using var c = _tenant.Client();
        var invoice = await CreateInvoiceAsync(c, new { amount = 0.0015m, currency = "BTC", orderId = "<b>o1</b>" });
        using var anonymous = _factory.CreateClient();
        var response = await anonymous.GetAsync("/i/" + invoice.GetProperty("id").GetString());
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Pay 0.0015 BTC", html, StringComparison.Ordinal);
        Assert.Contains("150,000 sats", html, StringComparison.Ordinal);
        Assert.Contains("role=\"status\" aria-live=\"polite\"", html, StringComparison.Ordinal);
        Assert.Contains("data:image/svg+xml;base64,", html, StringComparison.Ordinal);
        Assert.Contains("data-copy=", html, StringComparison.Ordinal);
        Assert.Contains("name=\"viewport\"", html, StringComparison.Ordinal);
        Assert.Contains("&lt;b&gt;o1&lt;/b&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>o1</b>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal); // no external assets
        Assert.Contains("Lightning is not offered", html, StringComparison.Ordinal);
        Assert.Contains("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        var svg = await anonymous.GetStringAsync("/i/" + invoice.GetProperty("id").GetString() + "/qr.svg");
        Assert.StartsWith("<svg", svg.TrimStart(), StringComparison.Ordinal);
        Assert.Contains("<rect", svg, StringComparison.Ordinal);

        using var notFound = await anonymous.GetAsync("/i/nosuchinvoice");
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
    }

    [Fact]
    public async Task Checkout_status_stream_pushes_the_settlement_with_the_redirect()
    {
        using var c = _tenant.Client();
        var invoice = await CreateInvoiceAsync(c, new { amount = 2000, currency = "SATS", redirectUrl = "https://shop.example/thanks" });
        var id = invoice.GetProperty("id").GetString()!;
        var address = invoice.GetProperty("paymentMethods")[0].GetProperty("destination").GetString()!;
        using var anonymous = _factory.CreateClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await anonymous.GetAsync($"/i/{id}/status", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));

        async Task<JsonElement> NextEventAsync()
        {
            string? line;
            while ((line = await reader.ReadLineAsync(cts.Token)) is not null)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    return JsonDocument.Parse(line[6..]).RootElement.Clone();
                }
            }

            throw new InvalidOperationException("stream ended");
        }

        var first = await NextEventAsync();
        Assert.Equal("New", first.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("redirectUrl").ValueKind);

        var recorder = _factory.Get<PaymentRecorder>();
        await recorder.RecordAsync(address, new PaymentObservation(PaymentMethodId.OnChain, "tx1:0", new MilliSatoshi(1_000_000), 0, false, DateTimeOffset.UtcNow));
        var partial = await NextEventAsync();
        Assert.Equal("New", partial.GetProperty("status").GetString());
        Assert.Equal("PaidPartial", partial.GetProperty("additionalStatus").GetString());

        await recorder.RecordAsync(address, new PaymentObservation(PaymentMethodId.OnChain, "tx2:0", new MilliSatoshi(1_000_000), 0, false, DateTimeOffset.UtcNow));
        Assert.Equal("Processing", (await NextEventAsync()).GetProperty("status").GetString());
        await recorder.RecordAsync(address, new PaymentObservation(PaymentMethodId.OnChain, "tx1:0", new MilliSatoshi(1_000_000), 1, true, DateTimeOffset.UtcNow));
        await recorder.RecordAsync(address, new PaymentObservation(PaymentMethodId.OnChain, "tx2:0", new MilliSatoshi(1_000_000), 1, true, DateTimeOffset.UtcNow));
        JsonElement last;
        do
        {
            last = await NextEventAsync();
        }
        while (last.GetProperty("status").GetString() != "Settled");
        Assert.Equal("https://shop.example/thanks", last.GetProperty("redirectUrl").GetString());
        Assert.Equal("Paid. Thank you!", last.GetProperty("text").GetString());
        var rest = await reader.ReadToEndAsync(cts.Token); // the stream ends after the final status
        Assert.DoesNotContain("data:", rest, StringComparison.Ordinal);
        Assert.Equal(CheckoutEndpoints.StatusText(new CheckoutStatus("Settled", "None", 0, 0, null)), last.GetProperty("text").GetString());
    }

    [Fact]
    public async Task Health_metrics_openapi_and_reference_page()
    {
        using var c = _factory.CreateClient();
        var health = await (await c.GetAsync("/health")).JsonAsync(HttpStatusCode.OK);
        Assert.Equal("healthy", health.GetProperty("status").GetString());
        Assert.Equal("sqlite", health.GetProperty("storage").GetProperty("kind").GetString());
        Assert.True(health.GetProperty("onChain").GetProperty("available").GetBoolean());
        Assert.False(health.GetProperty("lightning").GetProperty("available").GetBoolean());
        Assert.Contains("Lightning is unavailable", health.GetProperty("lightning").GetProperty("reason").GetString(), StringComparison.Ordinal);

        using var tc = _tenant.Client();
        await CreateInvoiceAsync(tc, new { amount = 1000, currency = "SATS" });
        var metrics = await c.GetStringAsync("/metrics");
        Assert.Contains("satflow_invoices_created", metrics, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration", metrics, StringComparison.Ordinal);

        var openapi = await (await c.GetAsync("/openapi/v1.json")).JsonAsync(HttpStatusCode.OK);
        var paths = openapi.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/v1/stores/{storeId}/invoices", out var inv));
        Assert.True(inv.TryGetProperty("post", out var post));
        Assert.Contains(post.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "Idempotency-Key" && p.GetProperty("in").GetString() == "header");
        Assert.Equal("Authorization", openapi.GetProperty("components").GetProperty("securitySchemes").GetProperty("token").GetProperty("name").GetString());
        Assert.True(paths.TryGetProperty("/api/v1/stores/{storeId}/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver", out _));
        Assert.False(paths.TryGetProperty("/i/{invoiceId}", out _));

        var page = await c.GetStringAsync(SatflowServer.ReferencePath);
        Assert.Contains("/openapi/v1.json", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<script src=", page, StringComparison.Ordinal);
    }
}
