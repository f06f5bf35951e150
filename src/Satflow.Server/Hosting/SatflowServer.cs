using System.Diagnostics.Metrics;
using System.Reflection;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.OpenApi;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Satflow.Merchant;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.Invoices;
using Satflow.Merchant.Persistence;
using Satflow.Merchant.Rates;
using Satflow.Server.Api;
using Satflow.Server.Checkout;
using Satflow.Server.Dashboard;
using Satflow.Server.Lnurl;
using Satflow.Server.Payments;
using Satflow.Payouts;
using Satflow.Webhooks;

namespace Satflow.Server.Hosting;

/// <summary>Counters exported on <c>/metrics</c> (meter <c>Satflow.Server</c>).</summary>
public sealed class ServerMetrics : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Satflow.Server";

    private readonly Meter _meter = new(MeterName);

    /// <summary>Creates the instruments.</summary>
    public ServerMetrics()
    {
        InvoicesCreated = _meter.CreateCounter<long>("satflow_invoices_created", description: "Invoices created through the API.");
        InvoiceEvents = _meter.CreateCounter<long>("satflow_invoice_events", description: "Invoice lifecycle events, by type.");
    }

    /// <summary>Invoices created.</summary>
    public Counter<long> InvoicesCreated { get; }

    /// <summary>Invoice events by type.</summary>
    public Counter<long> InvoiceEvents { get; }

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}

/// <summary>Builds the satflowd application: services, storage (migrated at start), middleware and endpoints.</summary>
public static class SatflowServer
{
    /// <summary>The reference page path.</summary>
    public const string ReferencePath = "/docs";

    /// <summary>Registers every satflowd service. Storage is opened (and migrated) when <see cref="ServerStorage"/> is first resolved; <see cref="Configure"/> does that at start.</summary>
    /// <param name="services">The services.</param>
    public static void AddSatflowServer(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => ServerOptions.FromConfiguration(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton(sp => ServerStorage.OpenAsync(sp.GetRequiredService<ServerOptions>()).GetAwaiter().GetResult());
        services.AddSingleton(sp => sp.GetRequiredService<ServerStorage>().Merchant);
        services.AddSingleton(sp => sp.GetRequiredService<ServerStorage>().Webhooks);
        services.AddSingleton<IRateSource>(sp => RateTableSource.Parse(sp.GetRequiredService<ServerOptions>().RateTable));
        services.AddSingleton(sp => new RateRuleEvaluator(sp.GetServices<IRateSource>()));
        services.AddSatflowNode();
        services.TryAddSingleton<ILightningInvoiceSource>(sp => sp.GetRequiredService<ServerOptions>().Mode == ServerMode.Standalone
            ? new UnavailableLightningInvoiceSource()
            : new NodeLightningInvoiceSource(sp.GetRequiredService<ServerNode>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IOnChainAddressSource>(sp =>
        {
            var o = sp.GetRequiredService<ServerOptions>();
            return o.OnChainDescriptor is { } d
                ? new DescriptorAddressSource(d, o.Network, Path.Combine(o.DataDirectory, "onchain-next-index"), DescriptorAddressSource.DefaultReserveAhead)
                : o.Mode == ServerMode.Standalone ? new NoOnChainAddressSource() : new NodeWalletAddressSource(sp.GetRequiredService<ServerNode>());
        });
        services.AddSingleton(sp =>
        {
            var addresses = sp.GetRequiredService<IOnChainAddressSource>();
            return new InvoiceService(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<RateRuleEvaluator>(),
                PaymentMethodSetup.Providers(addresses is NoOnChainAddressSource ? null : addresses, sp.GetRequiredService<ILightningInvoiceSource>()));
        });
        services.TryAddSingleton(_ => new PasswordHasher());
        services.AddSingleton(sp => new MerchantService(sp.GetRequiredService<IMerchantRepository>(), sp.GetRequiredService<InvoiceService>(),
            sp.GetRequiredService<PasswordHasher>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new WebhookPublisher(sp.GetRequiredService<IWebhookStore>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton(_ => new WebhookDeliveryOptions());
        services.AddSingleton(sp => new WebhookDeliveryEngine(sp.GetRequiredService<IWebhookStore>(),
            new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = Timeout.InfiniteTimeSpan },
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<WebhookDeliveryOptions>()));
        services.AddSingleton(sp => new WebhookDeliveryRunner(sp.GetRequiredService<WebhookDeliveryEngine>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ServerOptions>().WebhookPollInterval));
        services.AddSingleton(sp => sp.GetRequiredService<ServerStorage>().Payouts);
        services.AddSingleton(sp =>
        {
            var service = new PayoutService(sp.GetRequiredService<IPayoutStore>(), sp.GetRequiredService<TimeProvider>(),
                new PayoutServiceOptions { Network = sp.GetRequiredService<ServerOptions>().Network });
            var notifications = sp.GetRequiredService<InvoiceNotifications>();
            service.PayoutChanged += (_, e) => notifications.EnqueuePayoutChange(e);
            return service;
        });
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<InvoiceNotifications>();
        services.AddSingleton<PaymentRecorder>();
        services.AddSatflowDashboard();
        services.AddSatflowLnurl();
        services.AddHostedService<InvoiceTickService>();
        services.AddHostedService<WebhookDeliveryService>();
        services.Configure<JsonOptions>(o => ApiJson.Configure(o.SerializerOptions));
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddProblemDetails();
        services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Satflow merchant API";
            doc.Info.Version = "v1";
            doc.Info.Description = "Authorization: token <key> on every call; Idempotency-Key on every POST.";
            doc.Components ??= new OpenApiComponents();
            doc.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            doc.Components.SecuritySchemes["token"] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = "Authorization",
                Description = "An API key: `Authorization: token sfk_...`.",
            };
            doc.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("token", doc)] = [] }];
            return Task.CompletedTask;
        }).AddOperationTransformer((operation, context, _) =>
        {
            if (string.Equals(context.Description.HttpMethod, "POST", StringComparison.OrdinalIgnoreCase))
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = IdempotencyMiddleware.HeaderName,
                    In = ParameterLocation.Header,
                    Required = true,
                    Description = "1-255 printable ASCII characters; the same key and request replay the stored response.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 255 },
                });
            }

            return Task.CompletedTask;
        }));
        services.AddOpenTelemetry().ConfigureResource(r => r.AddService("satflowd")).WithMetrics(m => m
            .AddAspNetCoreInstrumentation()
            .AddMeter(ServerMetrics.MeterName)
            .AddPrometheusExporter());
    }

    /// <summary>Opens storage (running migrations), then adds the middleware and endpoints.</summary>
    /// <param name="app">The application.</param>
    public static void Configure(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<ServerOptions>();
        var storage = app.Services.GetRequiredService<ServerStorage>();
        var lightning = app.Services.GetRequiredService<ILightningInvoiceSource>();
        var onchain = app.Services.GetRequiredService<IOnChainAddressSource>();
        app.Logger.LogInformation("satflowd storage {Storage} (schema versions: merchant {MerchantVersion}), data directory {DataDirectory}",
            storage.Kind, storage.Merchant.SchemaVersion, options.DataDirectory);
        app.Logger.LogInformation("On-chain: {OnChain}; Lightning: {Lightning}", onchain.Description, lightning.IsAvailable ? "available" : lightning.UnavailableReason);
        if (options.Mode != ServerMode.Sandbox)
        {
            Sandbox.SandboxAccount.RefuseSandboxKeysAsync(storage.Merchant).GetAwaiter().GetResult();
        }

        app.Logger.LogInformation("Mode: {Mode}", options.Mode);

        app.UseExceptionHandler();
        app.UseWhen(c => c.Request.Path.StartsWithSegments(ApiEndpoints.Prefix, StringComparison.Ordinal), api =>
        {
            api.UseMiddleware<ApiAuthenticationMiddleware>();
            api.UseMiddleware<IdempotencyMiddleware>();
            api.UseMiddleware<ApiErrorMiddleware>();
        });

        ApiEndpoints.Map(app);
        CheckoutEndpoints.Map(app);
        app.UseSatflowDashboard();
        if (options.Mode == ServerMode.Sandbox)
        {
            Sandbox.SandboxEndpoints.Map(app);
        }

        app.MapSatflowLnurl();
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapGet(ReferencePath, () => Results.Text(ReadAsset("reference.html"), "text/html; charset=utf-8")).ExcludeFromDescription();
        app.MapGet("/health", HealthAsync).ExcludeFromDescription();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/", () => Results.Redirect(options.Mode == ServerMode.Sandbox ? Sandbox.SandboxEndpoints.Prefix : ReferencePath)).ExcludeFromDescription();
    }

    private static async Task<IResult> HealthAsync(ServerStorage storage, ILightningInvoiceSource lightning, IOnChainAddressSource onchain, ILogger<ServerStorage> log, CancellationToken ct)
    {
        string storageStatus;
        var healthy = true;
        try
        {
            await storage.ProbeAsync(ct).ConfigureAwait(false);
            storageStatus = "ok";
        }
        catch (Exception e) when (e is MerchantException or WebhookException)
        {
            log.LogError(e, "Health check: storage probe failed");
            storageStatus = "failed";
            healthy = false;
        }

        var body = new
        {
            status = healthy ? "healthy" : "unhealthy",
            storage = new { kind = storage.Kind, status = storageStatus },
            onChain = new { available = onchain is not NoOnChainAddressSource, source = onchain.Description },
            lightning = new { available = lightning.IsAvailable, reason = lightning.UnavailableReason },
        };
        return Results.Json(body, ApiJson.Options, statusCode: healthy ? 200 : 503);
    }

    /// <summary>Reads an embedded asset.</summary>
    /// <param name="name">File name under Assets/.</param>
    /// <returns>Its text.</returns>
    public static string ReadAsset(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Satflow.Server.Assets." + name)
            ?? throw new InvalidOperationException($"Missing embedded asset {name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

/// <summary>No on-chain address source is configured (no <c>--onchain-descriptor</c> and no node wallet): on-chain is not offered.</summary>
public sealed class NoOnChainAddressSource : IOnChainAddressSource
{
    /// <inheritdoc />
    public string Description => "not configured (start with --onchain-descriptor, or run the node wallet)";

    /// <inheritdoc />
    public Task<string> NextAddressAsync(CancellationToken cancellationToken = default)
        => throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, "On-chain payments are not configured.");
}
