using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.Persistence;
using Satflow.Payouts;
using Satflow.Payouts.Lnurl;
using Satflow.Server.Api;

namespace Satflow.Server.Lnurl;

/// <summary>A store's LNURL-pay link and lightning addresses.</summary>
/// <param name="Lnurl">The LUD-01 bech32 LNURL of the store's LNURL-pay endpoint (null when the server's base URL cannot serve LNURL).</param>
/// <param name="PayUrl">The LNURL-pay endpoint.</param>
/// <param name="LightningAddresses">The LUD-16 addresses configured for the store.</param>
public sealed record StoreLnurlResponse(string? Lnurl, string PayUrl, IReadOnlyList<string> LightningAddresses);

/// <summary>Registers the LNURL and payment-request services and routes (one call each from the host).</summary>
public static class LnurlSetup
{
    /// <summary>Adds <see cref="LnurlOptions"/>, <see cref="LnurlInvoiceFactory"/> and <see cref="PaymentRequestService"/>.</summary>
    /// <param name="services">The services.</param>
    public static void AddSatflowLnurl(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton(sp => LnurlOptions.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<LnurlInvoiceFactory>();
        services.AddSingleton(sp => new PaymentRequestService(sp.GetRequiredService<IPayoutStore>(), sp.GetRequiredService<TimeProvider>()));
    }

    /// <summary>Maps the public LNURL routes and the payment request page.</summary>
    /// <param name="app">The route builder.</param>
    public static void MapSatflowLnurl(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        LnurlEndpoints.Map(app);
        PaymentRequestEndpoints.MapPublic(app);
    }

    /// <summary>Maps the API routes: payment requests and <c>GET /api/v1/stores/{storeId}/lnurl</c> (<c>stores.view</c>).</summary>
    /// <param name="api">The <c>/api/v1</c> group.</param>
    public static void MapApi(RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        PaymentRequestEndpoints.Map(api);
        api.MapGet("/stores/{storeId}/lnurl", StoreLnurlAsync).WithMetadata(new ApiScope(Permission.StoresView, true)).WithTags("lnurl").WithName("GetStoreLnurl");
    }

    private static async Task<IResult> StoreLnurlAsync(HttpContext http, IMerchantRepository repo, LnurlOptions options, string storeId)
    {
        var id = new StoreId(storeId);
        _ = await repo.GetStoreAsync(id, http.RequestAborted).ConfigureAwait(false) ?? throw new MerchantException(MerchantErrorReason.NotFound, $"No store {storeId}.");
        var baseUrl = LnurlEndpoints.BaseUrl(http, options);
        string? lnurl;
        try
        {
            lnurl = LnurlEndpoints.StoreLnurl(baseUrl, id);
        }
        catch (LnurlException)
        {
            lnurl = null;
        }

        var host = new Uri(baseUrl).Authority;
        var addresses = options.Addresses.Where(a => a.Value == id).Select(a => a.Key + "@" + host).Order(StringComparer.Ordinal).ToArray();
        return Results.Ok(new StoreLnurlResponse(lnurl, $"{baseUrl}{LnurlEndpoints.PayPrefix}/{Uri.EscapeDataString(storeId)}", addresses));
    }
}
