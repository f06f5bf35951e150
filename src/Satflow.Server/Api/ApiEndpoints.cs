using System.Text.Json;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.Idempotency;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;
using Satflow.Merchant.Rates;
using Satflow.Server.Hosting;
using Satflow.Webhooks;

namespace Satflow.Server.Api;

/// <summary>The REST API under <c>/api/v1/</c>.</summary>
public static class ApiEndpoints
{
    /// <summary>The API route prefix.</summary>
    public const string Prefix = "/api/v1";

    private const int MaxPage = 500;
    private const string CreatedContentType = "application/json; charset=utf-8";

    /// <summary>Maps every API endpoint; each declares its <see cref="ApiScope"/>.</summary>
    /// <param name="app">The route builder.</param>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.MapGroup(Prefix).AddEndpointFilter(ApiScopeFilter.InvokeAsync).WithTags("api");

        var stores = api.MapGroup("/stores").WithTags("stores");
        stores.MapGet("", ListStores).WithMetadata(new ApiScope(Permission.StoresView, false)).WithName("ListStores");
        stores.MapPost("", CreateStore).WithMetadata(new ApiScope(Permission.StoresManage, false)).WithName("CreateStore");
        stores.MapGet("/{storeId}", GetStore).WithMetadata(new ApiScope(Permission.StoresView, true)).WithName("GetStore");

        var keys = api.MapGroup("/api-keys").WithTags("api-keys");
        keys.MapGet("", ListApiKeys).WithMetadata(new ApiScope(null, false)).WithName("ListApiKeys");
        keys.MapPost("", CreateApiKey).WithMetadata(new ApiScope(null, false)).WithName("CreateApiKey");
        keys.MapDelete("/{keyId}", RevokeApiKey).WithMetadata(new ApiScope(null, false)).WithName("RevokeApiKey");

        var invoices = api.MapGroup("/stores/{storeId}/invoices").WithTags("invoices");
        invoices.MapPost("", CreateInvoice).WithMetadata(new ApiScope(Permission.InvoicesCreate, true)).WithName("CreateInvoice");
        invoices.MapGet("", ListInvoices).WithMetadata(new ApiScope(Permission.InvoicesView, true)).WithName("ListInvoices");
        invoices.MapGet("/{invoiceId}", GetInvoice).WithMetadata(new ApiScope(Permission.InvoicesView, true)).WithName("GetInvoice");
        invoices.MapPost("/{invoiceId}/mark", MarkInvoice).WithMetadata(new ApiScope(Permission.InvoicesManage, true)).WithName("MarkInvoice");

        var hooks = api.MapGroup("/stores/{storeId}/webhooks").WithTags("webhooks");
        hooks.MapGet("", ListWebhooks).WithMetadata(new ApiScope(Permission.WebhooksManage, true)).WithName("ListWebhooks");
        hooks.MapPost("", CreateWebhook).WithMetadata(new ApiScope(Permission.WebhooksManage, true)).WithName("CreateWebhook");
        hooks.MapGet("/{webhookId}", GetWebhook).WithMetadata(new ApiScope(Permission.WebhooksManage, true)).WithName("GetWebhook");
        hooks.MapPut("/{webhookId}", UpdateWebhook).WithMetadata(new ApiScope(Permission.WebhooksManage, true)).WithName("UpdateWebhook");
        hooks.MapDelete("/{webhookId}", DeleteWebhook).WithMetadata(new ApiScope(Permission.WebhooksManage, true)).WithName("DeleteWebhook");
        hooks.MapGet("/{webhookId}/deliveries", ListDeliveries).WithMetadata(new ApiScope(Permission.WebhooksManage, true)).WithName("ListWebhookDeliveries");
        hooks.MapPost("/{webhookId}/deliveries/{deliveryId}/redeliver", Redeliver).WithMetadata(new ApiScope(Permission.WebhooksManage, true)).WithName("RedeliverWebhook");

        PayoutEndpoints.Map(api);
        ReconciliationEndpoints.Map(api);
        Lnurl.LnurlSetup.MapApi(api);
        api.MapGet("/stores/{storeId}/rates", GetRates).WithMetadata(new ApiScope(Permission.RatesView, true)).WithTags("rates").WithName("GetRates");
    }

    private static async Task<IResult> ListStores(HttpContext http, IMerchantRepository repo)
    {
        var principal = ApiPrincipal.Of(http);
        var list = await repo.ListStoresForUserAsync(principal.UserId, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(list.Where(s => principal.IsAllowed(s.Store.Id, s.Role, Permission.StoresView)).Select(s => StoreResponse.From(s.Store, s.Role)).ToArray());
    }

    private static async Task<IResult> CreateStore(HttpContext http, MerchantService merchant, CreateStoreRequest body)
    {
        var principal = ApiPrincipal.Of(http);
        if (principal.ApiKey?.StoreId is not null)
        {
            throw new MerchantException(MerchantErrorReason.Forbidden, "A store-restricted API key cannot create stores.");
        }

        if (string.IsNullOrWhiteSpace(body.Name) || body.Name.Length > 200)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "A store name must be 1 to 200 characters.");
        }

        if (!string.IsNullOrEmpty(body.RateRules))
        {
            RateRules.Parse(body.RateRules);
        }

        var currency = body.DefaultCurrency ?? InvoiceService.Btc;
        if (!CurrencyPair.IsCurrencyCode(currency.Trim().ToUpperInvariant()))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, $"'{currency}' is not a currency code.");
        }

        var store = await merchant.CreateStoreAsync(principal.UserId, body.Name.Trim(), currency, body.RateRules ?? "", cancellationToken: http.RequestAborted).ConfigureAwait(false);
        return Results.Created($"{Prefix}/stores/{store.Id}", StoreResponse.From(store, StoreRole.Owner));
    }

    private static async Task<IResult> GetStore(HttpContext http, IMerchantRepository repo, string storeId)
    {
        var id = new StoreId(storeId);
        var store = await repo.GetStoreAsync(id, http.RequestAborted).ConfigureAwait(false) ?? throw NotFound("store", storeId);
        var role = await repo.GetStoreRoleAsync(id, ApiPrincipal.Of(http).UserId, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(StoreResponse.From(store, role));
    }

    private static async Task<IResult> ListApiKeys(HttpContext http, IMerchantRepository repo)
    {
        var keys = await repo.ListApiKeysAsync(ApiPrincipal.Of(http).UserId, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(keys.Select(ApiKeyResponse.From).ToArray());
    }

    private static async Task<IResult> CreateApiKey(HttpContext http, MerchantService merchant, CreateApiKeyRequest body)
    {
        var scopes = (body.Scopes ?? []).Select(Permissions.Parse).ToArray();
        if (scopes.Length == 0)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "An API key needs at least one scope.");
        }

        var created = await merchant.CreateApiKeyAsync(ApiPrincipal.Of(http), body.Label ?? "", scopes,
            body.StoreId is null ? null : new StoreId(body.StoreId), http.RequestAborted).ConfigureAwait(false);
        return Results.Created($"{Prefix}/api-keys/{created.Record.Id}", new CreatedApiKeyResponse(ApiKeyResponse.From(created.Record), created.Token));
    }

    private static async Task<IResult> RevokeApiKey(HttpContext http, MerchantService merchant, string keyId)
    {
        await merchant.RevokeApiKeyAsync(ApiPrincipal.Of(http), new ApiKeyId(keyId), http.RequestAborted).ConfigureAwait(false);
        return Results.NoContent();
    }

    private static async Task<IResult> CreateInvoice(HttpContext http, MerchantService merchant, InvoiceNotifications notifications, ServerMetrics metrics, string storeId, CreateInvoiceBody body)
    {
        if (body.Metadata is { } m && m.ValueKind != JsonValueKind.Object)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "metadata must be a JSON object.");
        }

        // System.Text.Json checks UTF-8 inside strings only when a string is read; metadata is kept as raw JSON text,
        // so its bytes are checked here (invalid UTF-8 is the client's error, not a 500).
        if (body.Metadata is { } raw && !System.Text.Unicode.Utf8.IsValid(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(raw)))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "metadata contains invalid UTF-8.");
        }

        Uri? redirect = null;
        if (body.RedirectUrl is not null && !Uri.TryCreate(body.RedirectUrl, UriKind.Absolute, out redirect))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "redirectUrl must be an absolute URL.");
        }

        if (body.ExpirySeconds is <= 0)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "expirySeconds must be positive.");
        }

        // Under an idempotency key the 201 body is rendered before the insert and stored in the insert's transaction
        // (see IdempotentCompletion); the same bytes are then sent.
        var completion = http.Features.Get<IdempotentCompletion>();
        var request = new CreateInvoiceRequest(body.Amount, body.Currency)
        {
            Idempotency = completion,
            OrderId = body.OrderId,
            MetadataJson = body.Metadata?.GetRawText(),
            RedirectUrl = redirect,
            Expiry = body.ExpirySeconds is { } s ? TimeSpan.FromSeconds(s) : null,
            PaymentTolerancePercent = body.PaymentTolerancePercent,
            RequiredConfirmations = body.RequiredConfirmations,
            Methods = body.PaymentMethods,
        };
        completion?.RespondWithInvoice(i => new IdempotentResponse(StatusCodes.Status201Created, CreatedContentType,
            JsonSerializer.SerializeToUtf8Bytes(InvoiceResponse.From(i), ApiJson.Options)));
        var invoice = await merchant.CreateInvoiceAsync(ApiPrincipal.Of(http), new StoreId(storeId), request, http.RequestAborted).ConfigureAwait(false);
        metrics.InvoicesCreated.Add(1);
        await notifications.PublishAsync(new InvoiceEvents(invoice.Id, invoice.StoreId, invoice.Events), http.RequestAborted).ConfigureAwait(false);
        var location = $"{Prefix}/stores/{storeId}/invoices/{invoice.Id}";
        if (completion?.Response is { } stored)
        {
            http.Response.StatusCode = stored.StatusCode;
            http.Response.ContentType = stored.ContentType;
            http.Response.Headers.Location = location;
            await http.Response.Body.WriteAsync(stored.Body, http.RequestAborted).ConfigureAwait(false);
            return Results.Empty;
        }

        return Results.Created(location, InvoiceResponse.From(invoice));
    }

    private static async Task<IResult> ListInvoices(HttpContext http, MerchantService merchant, string storeId, InvoiceStatus? status, string? orderId, int? skip, int? take)
    {
        var s = skip ?? 0;
        var t = take ?? 50;
        if (s < 0 || t is < 1 or > MaxPage)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, $"skip must be ≥ 0 and take in 1..{MaxPage}.");
        }

        var list = await merchant.ListInvoicesAsync(ApiPrincipal.Of(http), new StoreId(storeId), new InvoiceQuery(status, orderId, s, t), http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(new Page<InvoiceResponse>(list.Select(InvoiceResponse.From).ToArray(), s, t));
    }

    private static async Task<Invoice> StoreInvoiceAsync(HttpContext http, MerchantService merchant, string storeId, string invoiceId)
    {
        var invoice = await merchant.GetInvoiceAsync(ApiPrincipal.Of(http), new InvoiceId(invoiceId), http.RequestAborted).ConfigureAwait(false);
        return invoice.StoreId.Value == storeId ? invoice : throw NotFound("invoice", invoiceId);
    }

    private static async Task<IResult> GetInvoice(HttpContext http, MerchantService merchant, string storeId, string invoiceId)
        => Results.Ok(InvoiceResponse.From(await StoreInvoiceAsync(http, merchant, storeId, invoiceId).ConfigureAwait(false)));

    private static async Task<IResult> MarkInvoice(HttpContext http, MerchantService merchant, InvoiceNotifications notifications, string storeId, string invoiceId, MarkInvoiceBody body)
    {
        if (body.Status is not (InvoiceStatus.Settled or InvoiceStatus.Invalid))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "status must be Settled or Invalid.");
        }

        await StoreInvoiceAsync(http, merchant, storeId, invoiceId).ConfigureAwait(false);
        var events = await merchant.MarkInvoiceAsync(ApiPrincipal.Of(http), new InvoiceId(invoiceId), body.Status == InvoiceStatus.Settled, http.RequestAborted).ConfigureAwait(false);
        await notifications.PublishAsync(events, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(InvoiceResponse.From(await StoreInvoiceAsync(http, merchant, storeId, invoiceId).ConfigureAwait(false)));
    }

    private static async Task<IResult> ListWebhooks(HttpContext http, IWebhookStore store, string storeId)
        => Results.Ok((await store.ListSubscriptionsAsync(storeId, http.RequestAborted).ConfigureAwait(false)).Select(s => WebhookResponse.From(s, false)).ToArray());

    private static async Task<IResult> CreateWebhook(HttpContext http, IWebhookStore store, TimeProvider time, string storeId, CreateWebhookBody body)
    {
        if (!Uri.TryCreate(body.Url, UriKind.Absolute, out var url))
        {
            throw new WebhookException(WebhookErrorReason.InvalidUrl, "url must be an absolute URL.");
        }

        var subscription = WebhookSubscription.Create(storeId, url, time, body.Secret, body.EventTypes) with { Enabled = body.Enabled ?? true };
        subscription.Validate();
        await store.SaveSubscriptionAsync(subscription, http.RequestAborted).ConfigureAwait(false);
        return Results.Created($"{Prefix}/stores/{storeId}/webhooks/{subscription.Id}", WebhookResponse.From(subscription, true));
    }

    private static async Task<WebhookSubscription> StoreWebhookAsync(HttpContext http, IWebhookStore store, string storeId, string webhookId)
    {
        var s = await store.GetSubscriptionAsync(webhookId, http.RequestAborted).ConfigureAwait(false);
        return s is not null && s.OwnerId == storeId ? s : throw new WebhookException(WebhookErrorReason.NotFound, $"No webhook {webhookId}.");
    }

    private static async Task<IResult> GetWebhook(HttpContext http, IWebhookStore store, string storeId, string webhookId)
        => Results.Ok(WebhookResponse.From(await StoreWebhookAsync(http, store, storeId, webhookId).ConfigureAwait(false), false));

    private static async Task<IResult> UpdateWebhook(HttpContext http, IWebhookStore store, string storeId, string webhookId, UpdateWebhookBody body)
    {
        var s = await StoreWebhookAsync(http, store, storeId, webhookId).ConfigureAwait(false);
        Uri? url = null;
        if (body.Url is not null && !Uri.TryCreate(body.Url, UriKind.Absolute, out url))
        {
            throw new WebhookException(WebhookErrorReason.InvalidUrl, "url must be an absolute URL.");
        }

        var updated = s with
        {
            Url = url ?? s.Url,
            Secret = body.Secret ?? s.Secret,
            EventTypes = body.EventTypes ?? s.EventTypes,
            Enabled = body.Enabled ?? s.Enabled,
        };
        updated.Validate();
        await store.SaveSubscriptionAsync(updated, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(WebhookResponse.From(updated, false));
    }

    private static async Task<IResult> DeleteWebhook(HttpContext http, IWebhookStore store, string storeId, string webhookId)
    {
        await StoreWebhookAsync(http, store, storeId, webhookId).ConfigureAwait(false);
        await store.DeleteSubscriptionAsync(webhookId, http.RequestAborted).ConfigureAwait(false);
        return Results.NoContent();
    }

    private static async Task<IResult> ListDeliveries(HttpContext http, IWebhookStore store, string storeId, string webhookId, int? take)
    {
        var t = take ?? 50;
        if (t is < 1 or > MaxPage)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, $"take must be in 1..{MaxPage}.");
        }

        await StoreWebhookAsync(http, store, storeId, webhookId).ConfigureAwait(false);
        return Results.Ok((await store.ListDeliveriesAsync(webhookId, t, http.RequestAborted).ConfigureAwait(false)).Select(DeliveryResponse.From).ToArray());
    }

    private static async Task<IResult> Redeliver(HttpContext http, IWebhookStore store, WebhookDeliveryEngine engine, string storeId, string webhookId, string deliveryId)
    {
        await StoreWebhookAsync(http, store, storeId, webhookId).ConfigureAwait(false);
        var d = await store.GetDeliveryAsync(deliveryId, http.RequestAborted).ConfigureAwait(false);
        if (d is null || d.SubscriptionId != webhookId)
        {
            throw new WebhookException(WebhookErrorReason.NotFound, $"No delivery {deliveryId}.");
        }

        var redelivery = await engine.RedeliverAsync(deliveryId, http.RequestAborted).ConfigureAwait(false);
        return Results.Ok(DeliveryResponse.From(redelivery));
    }

    private static async Task<IResult> GetRates(HttpContext http, IMerchantRepository repo, RateRuleEvaluator rates, string storeId, string[]? pair)
    {
        var store = await repo.GetStoreAsync(new StoreId(storeId), http.RequestAborted).ConfigureAwait(false) ?? throw NotFound("store", storeId);
        var pairs = pair is { Length: > 0 } ? pair : [InvoiceService.Btc + "_" + (store.DefaultCurrency is InvoiceService.Btc or InvoiceService.Sats ? "USD" : store.DefaultCurrency)];
        var rules = RateRules.Parse(store.RateRules);
        var result = new List<RateResponse>();
        foreach (var p in pairs)
        {
            if (!CurrencyPair.TryParse(p, out var parsed))
            {
                throw new MerchantException(MerchantErrorReason.InvalidArgument, $"'{p}' is not a currency pair (BASE_QUOTE).");
            }

            var r = await rates.EvaluateAsync(rules, parsed, http.RequestAborted).ConfigureAwait(false);
            result.Add(new RateResponse(r.Pair.ToString(), r.Rate.Bid, r.Rate.Ask, r.Rule));
        }

        return Results.Ok(result);
    }

    private static MerchantException NotFound(string what, string id) => new(MerchantErrorReason.NotFound, $"No {what} {id}.");
}
