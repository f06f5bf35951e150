using System.Text.Json;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;
using Satflow.Payouts;
using Satflow.Payouts.Lnurl;
using Satflow.Server.Hosting;
using Satflow.Server.Payments;

namespace Satflow.Server.Lnurl;

/// <summary>
/// The public LNURL services: LNURL-pay per store (LUD-06, <c>/lnurlp/{storeId}</c>), lightning addresses (LUD-16,
/// <c>/.well-known/lnurlp/{username}</c>, user names mapped to stores by <see cref="LnurlOptions"/>) and
/// LNURL-withdraw for pull payments (LUD-03, <c>/lnurlw/{pullPaymentId}</c>; the pull payment id is the capability,
/// as on the checkout page). Errors are LNURL's <c>{"status":"ERROR","reason":…}</c> with a 4xx status.
/// </summary>
public static class LnurlEndpoints
{
    /// <summary>The LUD-16 path prefix.</summary>
    public const string WellKnownPrefix = "/.well-known/lnurlp";

    /// <summary>The per-store LNURL-pay path prefix.</summary>
    public const string PayPrefix = "/lnurlp";

    /// <summary>The per-pull-payment LNURL-withdraw path prefix.</summary>
    public const string WithdrawPrefix = "/lnurlw";

    private const string JsonType = "application/json";

    /// <summary>Maps the routes.</summary>
    /// <param name="app">The route builder.</param>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet(WellKnownPrefix + "/{username}", AddressAsync).ExcludeFromDescription();
        app.MapGet(WellKnownPrefix + "/{username}/callback", AddressCallbackAsync).ExcludeFromDescription();
        app.MapGet(PayPrefix + "/{storeId}", StorePayAsync).ExcludeFromDescription();
        app.MapGet(PayPrefix + "/{storeId}/callback", StoreCallbackAsync).ExcludeFromDescription();
        app.MapGet(WithdrawPrefix + "/{pullPaymentId}", WithdrawAsync).ExcludeFromDescription();
        app.MapGet(WithdrawPrefix + "/{pullPaymentId}/callback", WithdrawCallbackAsync).ExcludeFromDescription();
    }

    /// <summary>The public base URL of this server for <paramref name="http"/> (the configured one, else the request's).</summary>
    /// <param name="http">The request.</param>
    /// <param name="options">The options.</param>
    /// <returns>Base URL without a trailing slash.</returns>
    public static string BaseUrl(HttpContext http, LnurlOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        return options.PublicUrl is { } u ? u.GetLeftPart(UriPartial.Path).TrimEnd('/') : $"{http.Request.Scheme}://{http.Request.Host.Value}";
    }

    /// <summary>Whether <paramref name="baseUrl"/> is a loopback host (http is then accepted: development and tests).</summary>
    /// <param name="baseUrl">The base URL.</param>
    /// <returns>True for loopback.</returns>
    public static bool IsLoopback(string baseUrl) => Uri.TryCreate(baseUrl, UriKind.Absolute, out var u) && (u.IsLoopback || u.Host == "localhost");

    /// <summary>The LUD-01 bech32 LNURL of a store's LNURL-pay endpoint.</summary>
    /// <param name="baseUrl">The public base URL.</param>
    /// <param name="storeId">The store.</param>
    /// <returns>The <c>lnurl1…</c> string.</returns>
    /// <exception cref="LnurlException">The base URL cannot serve LNURL (http on a non-loopback host).</exception>
    public static string StoreLnurl(string baseUrl, StoreId storeId) =>
        LnurlCodec.Encode(new Uri($"{baseUrl}{PayPrefix}/{Uri.EscapeDataString(storeId.Value)}"), allowInsecureLoopback: IsLoopback(baseUrl));

    private static IResult Error(int status, string reason) => Results.Text(LnurlStatus.ErrorJson(reason), JsonType, statusCode: status);

    private static IResult Json(HttpContext http, string json)
    {
        http.Response.Headers.AccessControlAllowOrigin = "*";
        return Results.Text(json, JsonType);
    }

    private static StoreId? ParseStoreId(string text)
    {
        try
        {
            return new StoreId(text);
        }
        catch (MerchantException)
        {
            return null;
        }
    }

    private static async Task<(Store? Store, LightningAddress? Identifier, string? Error)> ResolveAddressAsync(HttpContext http, LnurlOptions options, IMerchantRepository repo, string username)
    {
        var user = username.ToLowerInvariant();
        if (!options.Addresses.TryGetValue(user, out var storeId))
        {
            return (null, null, $"No lightning address '{username}' on this server.");
        }

        var store = await repo.GetStoreAsync(storeId, http.RequestAborted).ConfigureAwait(false);
        if (store is null)
        {
            return (null, null, $"The lightning address '{username}' points to a store that does not exist.");
        }

        var baseUrl = BaseUrl(http, options);
        var host = new Uri(baseUrl).Authority;
        return LightningAddress.TryParse(user + "@" + host, out var address, IsLoopback(baseUrl))
            ? (store, address, null)
            : (null, null, $"'{user}@{host}' is not a valid lightning address.");
    }

    private static LnurlPayRequest BuildPayRequest(string baseUrl, LnurlOptions options, Store store, string callbackPath, LightningAddress? identifier) =>
        LnurlPayRequest.Create(new Uri(baseUrl + callbackPath), options.MinSendable, options.MaxSendable, "Payment to " + store.Name, identifier,
            options.CommentAllowed, allowInsecureLoopback: IsLoopback(baseUrl));

    private static async Task<IResult> AddressAsync(HttpContext http, LnurlOptions options, IMerchantRepository repo, string username)
    {
        var (store, identifier, error) = await ResolveAddressAsync(http, options, repo, username).ConfigureAwait(false);
        if (store is null)
        {
            return Error(404, error!);
        }

        return PayRequestResult(http, options, store, $"{WellKnownPrefix}/{identifier!.User}/callback", identifier);
    }

    private static async Task<IResult> StorePayAsync(HttpContext http, LnurlOptions options, IMerchantRepository repo, string storeId)
    {
        var store = ParseStoreId(storeId) is { } id ? await repo.GetStoreAsync(id, http.RequestAborted).ConfigureAwait(false) : null;
        return store is null
            ? Error(404, $"No store {storeId}.")
            : PayRequestResult(http, options, store, $"{PayPrefix}/{Uri.EscapeDataString(store.Id.Value)}/callback", null);
    }

    private static IResult PayRequestResult(HttpContext http, LnurlOptions options, Store store, string callbackPath, LightningAddress? identifier)
    {
        try
        {
            return Json(http, BuildPayRequest(BaseUrl(http, options), options, store, callbackPath, identifier).ToJson());
        }
        catch (LnurlException e)
        {
            return Error(500, "LNURL-pay is misconfigured on this server (set lnurl:public-url to its https address): " + e.Message);
        }
    }

    private static async Task<IResult> AddressCallbackAsync(HttpContext http, LnurlOptions options, IMerchantRepository repo, LnurlInvoiceFactory factory, string username, string? amount, string? comment)
    {
        var (store, identifier, error) = await ResolveAddressAsync(http, options, repo, username).ConfigureAwait(false);
        return store is null
            ? Error(404, error!)
            : await CallbackAsync(http, options, factory, store, $"{WellKnownPrefix}/{identifier!.User}/callback", identifier, amount, comment).ConfigureAwait(false);
    }

    private static async Task<IResult> StoreCallbackAsync(HttpContext http, LnurlOptions options, IMerchantRepository repo, LnurlInvoiceFactory factory, string storeId, string? amount, string? comment)
    {
        var store = ParseStoreId(storeId) is { } id ? await repo.GetStoreAsync(id, http.RequestAborted).ConfigureAwait(false) : null;
        return store is null
            ? Error(404, $"No store {storeId}.")
            : await CallbackAsync(http, options, factory, store, $"{PayPrefix}/{Uri.EscapeDataString(store.Id.Value)}/callback", null, amount, comment).ConfigureAwait(false);
    }

    private static async Task<IResult> CallbackAsync(HttpContext http, LnurlOptions options, LnurlInvoiceFactory factory, Store store, string callbackPath,
        LightningAddress? identifier, string? amount, string? comment)
    {
        LnurlPayRequest request;
        try
        {
            request = BuildPayRequest(BaseUrl(http, options), options, store, callbackPath, identifier);
        }
        catch (LnurlException e)
        {
            return Error(500, "LNURL-pay is misconfigured on this server: " + e.Message);
        }

        LnurlPayCallback call;
        try
        {
            call = request.ValidateCallback(amount, comment);
        }
        catch (LnurlException e)
        {
            return Error(400, e.Error switch
            {
                LnurlError.AmountOutOfRange => $"Amount out of range: send between {request.MinSendable.Value} and {request.MaxSendable.Value} millisatoshis.",
                LnurlError.CommentTooLong => $"Comment too long: at most {request.CommentAllowed ?? 0} characters.",
                _ => "Invalid amount: 'amount' must be a whole number of millisatoshis.",
            });
        }

        try
        {
            var created = await factory.CreateAsync(store, call, request, identifier, http.RequestAborted).ConfigureAwait(false);
            return Json(http, JsonSerializer.Serialize(new PayCallbackResponse(created.Bolt11, [])));
        }
        catch (MerchantException e) when (e.Reason is MerchantErrorReason.PaymentMethodUnavailable or MerchantErrorReason.InvalidArgument)
        {
            return Error(503, e.Message);
        }
    }

    private static async Task<IResult> WithdrawAsync(HttpContext http, LnurlOptions options, PayoutService payouts, string pullPaymentId)
    {
        var baseUrl = BaseUrl(http, options);
        try
        {
            var id = new PullPaymentId(pullPaymentId);
            var request = await payouts.GetWithdrawRequestAsync(id, new Uri($"{baseUrl}{WithdrawPrefix}/{Uri.EscapeDataString(id.Value)}/callback"),
                IsLoopback(baseUrl), http.RequestAborted).ConfigureAwait(false);
            return Json(http, request.ToJson());
        }
        catch (PayoutsException e)
        {
            return Error(e.Reason == PayoutsErrorReason.NotFound ? 404 : 400, e.Message);
        }
        catch (LnurlException e)
        {
            return Error(500, "LNURL-withdraw is misconfigured on this server: " + e.Message);
        }
    }

    private static async Task<IResult> WithdrawCallbackAsync(HttpContext http, PayoutService payouts, string pullPaymentId, string? k1, string? pr)
    {
        try
        {
            await payouts.ClaimByLnurlWithdrawAsync(new PullPaymentId(pullPaymentId), k1, pr, http.RequestAborted).ConfigureAwait(false);
            http.Response.Headers.AccessControlAllowOrigin = "*";
            return Results.Text(LnurlStatus.OkJson, JsonType);
        }
        catch (PayoutsException e)
        {
            return Error(e.Reason == PayoutsErrorReason.NotFound ? 404 : 400, e.Message);
        }
    }

    private sealed record PayCallbackResponse(
        [property: System.Text.Json.Serialization.JsonPropertyName("pr")] string Pr,
        [property: System.Text.Json.Serialization.JsonPropertyName("routes")] string[] Routes);
}

/// <summary>
/// Creates the merchant invoice behind an LNURL-pay callback: a Lightning-only invoice in BTC for the wallet's amount
/// whose BOLT 11 carries the metadata hash as description hash when the source supports it
/// (<see cref="ILightningDescriptionHashInvoiceSource"/>), else the metadata's text description.
/// </summary>
public sealed class LnurlInvoiceFactory
{
    private const decimal MsatPerBtc = 100_000_000_000m;

    private readonly IMerchantRepository _repository;
    private readonly ILightningInvoiceSource _lightning;
    private readonly InvoiceNotifications _notifications;
    private readonly ServerMetrics _metrics;
    private readonly TimeProvider _time;

    /// <summary>Creates the factory.</summary>
    /// <param name="repository">Merchant storage.</param>
    /// <param name="lightning">The node's invoice source.</param>
    /// <param name="notifications">Invoice event fan-out.</param>
    /// <param name="metrics">Counters.</param>
    /// <param name="time">The clock.</param>
    public LnurlInvoiceFactory(IMerchantRepository repository, ILightningInvoiceSource lightning, InvoiceNotifications notifications, ServerMetrics metrics, TimeProvider time)
    {
        _repository = repository ?? throw new ArgumentNullException(nameof(repository));
        _lightning = lightning ?? throw new ArgumentNullException(nameof(lightning));
        _notifications = notifications ?? throw new ArgumentNullException(nameof(notifications));
        _metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Creates, stores and announces the invoice.</summary>
    /// <param name="store">The store paid.</param>
    /// <param name="call">The validated callback (amount, description hash, comment).</param>
    /// <param name="request">The payRequest the wallet saw.</param>
    /// <param name="identifier">The lightning address used, if any.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The BOLT 11 invoice.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.PaymentMethodUnavailable"/> without Lightning.</exception>
    public async Task<LightningInvoice> CreateAsync(Store store, LnurlPayCallback call, LnurlPayRequest request, LightningAddress? identifier, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(request);
        if (!_lightning.IsAvailable)
        {
            throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, _lightning.UnavailableReason ?? "Lightning is unavailable.");
        }

        var now = _time.GetUtcNow();
        var expiresAt = now + store.Policy.InvoiceExpiry;
        var bolt11 = _lightning is ILightningDescriptionHashInvoiceSource hashed
            ? await hashed.CreateInvoiceWithDescriptionHashAsync(call.Amount, expiresAt, call.DescriptionHash, cancellationToken).ConfigureAwait(false)
            : await _lightning.CreateInvoiceAsync(call.Amount, expiresAt, request.Description, cancellationToken).ConfigureAwait(false);
        var prompt = new PaymentPrompt(PaymentMethodId.Lightning, bolt11.Bolt11, bolt11.PaymentHash);
        prompt.Validate();
        var metadata = JsonSerializer.Serialize(new Dictionary<string, string?>
        {
            ["source"] = identifier is null ? "lnurl-pay" : "lightning-address",
            ["lightningAddress"] = identifier?.ToString(),
            ["comment"] = call.Comment,
        });
        var invoice = Invoice.Create(InvoiceId.New(), store.Id, new InvoiceAmount(call.Amount.Value / MsatPerBtc, InvoiceService.Btc), call.Amount, null,
            store.Policy, null, metadata, null, [prompt], now);
        await _repository.CreateInvoiceAsync(invoice, cancellationToken).ConfigureAwait(false);
        _metrics.InvoicesCreated.Add(1);
        await _notifications.PublishAsync(new InvoiceEvents(invoice.Id, invoice.StoreId, invoice.Events), cancellationToken).ConfigureAwait(false);
        return bolt11;
    }
}
