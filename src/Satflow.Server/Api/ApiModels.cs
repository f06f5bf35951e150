using System.Text.Json;
using System.Text.Json.Serialization;
using Satflow.Merchant.Accounts;
using Satflow.Merchant.ApiKeys;
using Satflow.Merchant.Invoices;
using Satflow.Webhooks;

namespace Satflow.Server.Api;

/// <summary>The API's JSON settings: camelCase names (like the webhook envelope), enums as strings.</summary>
public static class ApiJson
{
    /// <summary>The serializer options.</summary>
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>Applies the API settings to options.</summary>
    /// <param name="options">Options to change.</param>
    /// <returns>The same options.</returns>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Converters.Add(new JsonStringEnumConverter());
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        return options;
    }
}

/// <summary>A store.</summary>
/// <param name="Id">Id.</param>
/// <param name="Name">Name.</param>
/// <param name="DefaultCurrency">Default invoice currency.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="Role">The caller's role.</param>
public sealed record StoreResponse(string Id, string Name, string DefaultCurrency, DateTimeOffset CreatedAt, StoreRole? Role)
{
    internal static StoreResponse From(Store s, StoreRole? role) => new(s.Id.Value, s.Name, s.DefaultCurrency, s.CreatedAt, role);
}

/// <summary>Creates a store (the caller becomes its owner).</summary>
/// <param name="Name">Name.</param>
/// <param name="DefaultCurrency">Default invoice currency (e.g. <c>BTC</c>, <c>USD</c>).</param>
/// <param name="RateRules">Rate rule program (empty: the rate table).</param>
public sealed record CreateStoreRequest(string Name, string? DefaultCurrency, string? RateRules);

/// <summary>An API key (never its secret).</summary>
/// <param name="Id">Id.</param>
/// <param name="Label">Label.</param>
/// <param name="Scopes">Scope names.</param>
/// <param name="StoreId">Store restriction.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="RevokedAt">Revocation time.</param>
public sealed record ApiKeyResponse(string Id, string Label, IReadOnlyList<string> Scopes, string? StoreId, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt)
{
    internal static ApiKeyResponse From(ApiKeyRecord k) => new(k.Id.Value, k.Label, k.Scopes.Select(s => s.ToScopeName()).Order(StringComparer.Ordinal).ToArray(), k.StoreId?.Value, k.CreatedAt, k.RevokedAt);
}

/// <summary>A new API key with its secret, shown only in this response.</summary>
/// <param name="Key">The key.</param>
/// <param name="Token">The secret for <c>Authorization: token ...</c>.</param>
public sealed record CreatedApiKeyResponse(ApiKeyResponse Key, string Token);

/// <summary>Creates an API key.</summary>
/// <param name="Label">Label.</param>
/// <param name="Scopes">Scope names (a subset of the calling key's).</param>
/// <param name="StoreId">Optional store restriction.</param>
public sealed record CreateApiKeyRequest(string? Label, IReadOnlyList<string>? Scopes, string? StoreId);

/// <summary>Creates an invoice.</summary>
/// <param name="Amount">Amount in <paramref name="Currency"/>.</param>
/// <param name="Currency"><c>BTC</c>, <c>SATS</c> or a fiat code (converted by the store's rate rules); default: the store's.</param>
/// <param name="OrderId">Merchant order id.</param>
/// <param name="Metadata">Any JSON object.</param>
/// <param name="RedirectUrl">Where the checkout page sends the payer after settlement (absolute http/https).</param>
/// <param name="ExpirySeconds">Invoice expiry (default: the store policy).</param>
/// <param name="PaymentTolerancePercent">Underpayment tolerance.</param>
/// <param name="RequiredConfirmations">On-chain confirmations to settle.</param>
/// <param name="PaymentMethods"><c>OnChain</c> and/or <c>Lightning</c> (default: every available method).</param>
public sealed record CreateInvoiceBody(decimal Amount, string? Currency, string? OrderId, JsonElement? Metadata, string? RedirectUrl,
    int? ExpirySeconds, decimal? PaymentTolerancePercent, int? RequiredConfirmations, IReadOnlyList<PaymentMethodId>? PaymentMethods);

/// <summary>One payment method offered by an invoice.</summary>
/// <param name="Method">Method.</param>
/// <param name="Destination">Address or BOLT 11.</param>
/// <param name="PaymentHash">Lightning payment hash hex.</param>
public sealed record PromptResponse(PaymentMethodId Method, string Destination, string? PaymentHash);

/// <summary>A payment received on an invoice.</summary>
/// <param name="Method">Method.</param>
/// <param name="Reference">Outpoint or payment hash.</param>
/// <param name="AmountMsat">Amount.</param>
/// <param name="Confirmations">Confirmations.</param>
/// <param name="Settled">Settled.</param>
/// <param name="ReceivedAt">When first seen.</param>
/// <param name="Accounted">Counted toward the invoice.</param>
/// <param name="Replaced">Double-spent / replaced.</param>
public sealed record PaymentResponse(PaymentMethodId Method, string Reference, ulong AmountMsat, int Confirmations, bool Settled, DateTimeOffset ReceivedAt, bool Accounted, bool Replaced);

/// <summary>An invoice.</summary>
/// <param name="Id">Id.</param>
/// <param name="StoreId">Store.</param>
/// <param name="Status">Status.</param>
/// <param name="AdditionalStatus">Additional status.</param>
/// <param name="Amount">Requested amount (decimal string).</param>
/// <param name="Currency">Requested currency.</param>
/// <param name="AmountDueMsat">Due in msat.</param>
/// <param name="AmountPaidMsat">Paid (accounted) in msat.</param>
/// <param name="Rate">Rate used for fiat, or null.</param>
/// <param name="CreatedAt">Created.</param>
/// <param name="ExpiresAt">Expiry.</param>
/// <param name="MonitoringExpiresAt">End of the monitoring window.</param>
/// <param name="OrderId">Order id.</param>
/// <param name="Metadata">Metadata object.</param>
/// <param name="RedirectUrl">Redirect URL.</param>
/// <param name="PaymentUri">Unified BIP 21 URI.</param>
/// <param name="CheckoutUrl">Relative checkout page URL.</param>
/// <param name="PaymentMethods">Offered methods.</param>
/// <param name="Payments">Received payments.</param>
public sealed record InvoiceResponse(string Id, string StoreId, InvoiceStatus Status, InvoiceAdditionalStatus AdditionalStatus, string Amount, string Currency,
    ulong AmountDueMsat, ulong AmountPaidMsat, InvoiceRate? Rate, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset MonitoringExpiresAt,
    string? OrderId, JsonElement? Metadata, string? RedirectUrl, string PaymentUri, string CheckoutUrl, IReadOnlyList<PromptResponse> PaymentMethods,
    IReadOnlyList<PaymentResponse> Payments)
{
    internal static InvoiceResponse From(Invoice i) => new(i.Id.Value, i.StoreId.Value, i.Status, i.AdditionalStatus,
        i.Requested.Amount.ToString(System.Globalization.CultureInfo.InvariantCulture), i.Requested.Currency, i.AmountDue.Value, i.AmountPaid.Value, i.Rate,
        i.CreatedAt, i.ExpiresAt, i.MonitoringExpiresAt, i.OrderId,
        i.MetadataJson is null ? null : JsonDocument.Parse(i.MetadataJson).RootElement.Clone(), i.RedirectUrl?.ToString(), i.PaymentUri, "/i/" + i.Id.Value,
        i.Prompts.Select(p => new PromptResponse(p.Method, p.Destination, p.PaymentHash?.ToString())).ToArray(),
        i.Payments.Select(p => new PaymentResponse(p.Method, p.Reference, p.Amount.Value, p.Confirmations, p.Settled, p.ReceivedAt, p.Accounted, p.Replaced)).ToArray());
}

/// <summary>Marks an invoice by hand.</summary>
/// <param name="Status"><c>Settled</c> or <c>Invalid</c>.</param>
public sealed record MarkInvoiceBody(InvoiceStatus Status);

/// <summary>A page of results.</summary>
/// <typeparam name="T">Item type.</typeparam>
/// <param name="Items">Items.</param>
/// <param name="Skip">Skipped.</param>
/// <param name="Take">Page size.</param>
public sealed record Page<T>(IReadOnlyList<T> Items, int Skip, int Take);

/// <summary>Creates a webhook subscription.</summary>
/// <param name="Url">Endpoint (https; http only on loopback).</param>
/// <param name="Secret">Signing secret (generated when omitted).</param>
/// <param name="EventTypes">Filters (<c>invoice.settled</c>, <c>invoice.*</c>, <c>*</c>); empty: all.</param>
/// <param name="Enabled">Enabled (default true).</param>
public sealed record CreateWebhookBody(string Url, string? Secret, IReadOnlyList<string>? EventTypes, bool? Enabled);

/// <summary>Updates a webhook subscription (the secret cannot be read back; send a new one to rotate it).</summary>
/// <param name="Url">New URL, or null to keep.</param>
/// <param name="Secret">New secret, or null to keep.</param>
/// <param name="EventTypes">New filters, or null to keep.</param>
/// <param name="Enabled">New state, or null to keep.</param>
public sealed record UpdateWebhookBody(string? Url, string? Secret, IReadOnlyList<string>? EventTypes, bool? Enabled);

/// <summary>A webhook subscription (the secret only in the create response).</summary>
/// <param name="Id">Id.</param>
/// <param name="Url">URL.</param>
/// <param name="EventTypes">Filters.</param>
/// <param name="Enabled">Enabled.</param>
/// <param name="CreatedAt">Created.</param>
/// <param name="Secret">The signing secret (create response only).</param>
public sealed record WebhookResponse(string Id, string Url, IReadOnlyList<string> EventTypes, bool Enabled, DateTimeOffset CreatedAt, string? Secret)
{
    internal static WebhookResponse From(WebhookSubscription s, bool withSecret) => new(s.Id, s.Url.ToString(), s.EventTypes, s.Enabled, s.CreatedAt, withSecret ? s.Secret : null);
}

/// <summary>One delivery in the log.</summary>
/// <param name="Id">Id.</param>
/// <param name="EventId">Event id.</param>
/// <param name="EventType">Event type.</param>
/// <param name="Status">Status.</param>
/// <param name="CreatedAt">Created.</param>
/// <param name="AttemptCount">Attempts so far.</param>
/// <param name="LastStatusCode">Last HTTP status.</param>
/// <param name="LastError">Last error.</param>
/// <param name="CompletedAt">Final time.</param>
/// <param name="RedeliveryOf">Original delivery of a redelivery.</param>
public sealed record DeliveryResponse(string Id, string EventId, string EventType, WebhookDeliveryStatus Status, DateTimeOffset CreatedAt, int AttemptCount,
    int? LastStatusCode, string? LastError, DateTimeOffset? CompletedAt, string? RedeliveryOf)
{
    internal static DeliveryResponse From(WebhookDelivery d) => new(d.Id, d.EventId, d.EventType, d.Status, d.CreatedAt, d.AttemptCount, d.LastStatusCode, d.LastError, d.CompletedAt, d.RedeliveryOf);
}

/// <summary>A rate.</summary>
/// <param name="Pair">Pair.</param>
/// <param name="Bid">Bid.</param>
/// <param name="Ask">Ask.</param>
/// <param name="Rule">The rule that produced it.</param>
public sealed record RateResponse(string Pair, decimal Bid, decimal Ask, string Rule);
