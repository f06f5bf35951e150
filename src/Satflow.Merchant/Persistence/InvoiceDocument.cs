using System.Globalization;
using System.Text.Json;
using Satflow.Lightning.Types;
using Satflow.Merchant.Invoices;

namespace Satflow.Merchant.Persistence;

/// <summary>The JSON document an invoice is stored as (version 1 of the layout).</summary>
internal static class InvoiceDocument
{
    private static readonly JsonSerializerOptions s_options = new() { WriteIndented = false };

    public static string Serialize(Invoice invoice)
    {
        var dto = new Dto(
            1,
            invoice.Id.Value,
            invoice.StoreId.Value,
            invoice.Requested.Amount.ToString(CultureInfo.InvariantCulture),
            invoice.Requested.Currency,
            invoice.AmountDue.Value,
            invoice.Rate is { } r ? new RateDto(r.Pair, r.Rate.ToString(CultureInfo.InvariantCulture), r.Rule) : null,
            invoice.CreatedAt.ToUnixTimeMilliseconds(),
            invoice.ExpiresAt.ToUnixTimeMilliseconds(),
            invoice.MonitoringExpiresAt.ToUnixTimeMilliseconds(),
            invoice.PaymentTolerancePercent.ToString(CultureInfo.InvariantCulture),
            invoice.RequiredConfirmations,
            invoice.OrderId,
            invoice.MetadataJson,
            invoice.RedirectUrl?.OriginalString,
            invoice.Prompts.Select(p => new PromptDto(p.Method.ToString(), p.Destination, p.PaymentHash?.ToString())).ToArray(),
            invoice.Payments.Select(p => new PaymentDto(p.Method.ToString(), p.Reference, p.Amount.Value, p.Confirmations, p.Settled,
                p.ReceivedAt.ToUnixTimeMilliseconds(), p.Accounted, p.Replaced)).ToArray(),
            invoice.Events.Select(e => new EventDto(e.Sequence, e.Type.ToString(), e.At.ToUnixTimeMilliseconds(), e.Status.ToString(),
                e.AdditionalStatus.ToString(), e.Payment?.Method.ToString(), e.Payment?.Reference, e.ManuallyMarked, e.AfterExpiration,
                e.PartiallyPaid, e.OverPaid)).ToArray(),
            invoice.Status.ToString(),
            invoice.AdditionalStatus.ToString());
        return JsonSerializer.Serialize(dto, s_options);
    }

    public static Invoice Deserialize(string json, long version)
    {
        try
        {
            var d = JsonSerializer.Deserialize<Dto>(json, s_options) ?? throw new JsonException("null document");
            if (d.Layout != 1)
            {
                throw new MerchantException(MerchantErrorReason.UnsupportedSchemaVersion, $"Invoice document layout {d.Layout} is not supported.");
            }

            return Invoice.Restore(
                new InvoiceId(d.Id),
                new StoreId(d.StoreId),
                new InvoiceAmount(decimal.Parse(d.Amount, CultureInfo.InvariantCulture), d.Currency),
                new MilliSatoshi(d.AmountDueMsat),
                d.Rate is { } r ? new InvoiceRate(r.Pair, decimal.Parse(r.Rate, CultureInfo.InvariantCulture), r.Rule) : null,
                Time(d.CreatedAt),
                Time(d.ExpiresAt),
                Time(d.MonitoringExpiresAt),
                decimal.Parse(d.Tolerance, CultureInfo.InvariantCulture),
                d.RequiredConfirmations,
                d.OrderId,
                d.Metadata,
                d.RedirectUrl is null ? null : new Uri(d.RedirectUrl, UriKind.Absolute),
                d.Prompts.Select(p => new PaymentPrompt(Enum.Parse<PaymentMethodId>(p.Method), p.Destination, p.PaymentHash is null ? null : PaymentHash.Parse(p.PaymentHash))),
                d.Payments.Select(p => new InvoicePayment(Enum.Parse<PaymentMethodId>(p.Method), p.Reference, new MilliSatoshi(p.AmountMsat), p.Confirmations,
                    p.Settled, Time(p.ReceivedAt), p.Accounted, p.Replaced)),
                d.Events.Select(e => new InvoiceEvent(e.Sequence, Enum.Parse<InvoiceEventType>(e.Type), Time(e.At), Enum.Parse<InvoiceStatus>(e.Status),
                    Enum.Parse<InvoiceAdditionalStatus>(e.AdditionalStatus),
                    e.PaymentMethod is null ? null : new PaymentReference(Enum.Parse<PaymentMethodId>(e.PaymentMethod), e.PaymentReference!),
                    e.ManuallyMarked, e.AfterExpiration, e.PartiallyPaid, e.OverPaid)),
                Enum.Parse<InvoiceStatus>(d.Status),
                Enum.Parse<InvoiceAdditionalStatus>(d.AdditionalStatus),
                version);
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException or OverflowException or UriFormatException or NullReferenceException
            or MerchantException { Reason: not MerchantErrorReason.UnsupportedSchemaVersion })
        {
            throw new MerchantException(MerchantErrorReason.StorageFailure, "A stored invoice document is corrupt: " + e.Message, e);
        }
    }

    private static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private sealed record Dto(
        int Layout, string Id, string StoreId, string Amount, string Currency, ulong AmountDueMsat, RateDto? Rate,
        long CreatedAt, long ExpiresAt, long MonitoringExpiresAt, string Tolerance, int RequiredConfirmations,
        string? OrderId, string? Metadata, string? RedirectUrl, PromptDto[] Prompts, PaymentDto[] Payments, EventDto[] Events,
        string Status, string AdditionalStatus);

    private sealed record RateDto(string Pair, string Rate, string Rule);

    private sealed record PromptDto(string Method, string Destination, string? PaymentHash);

    private sealed record PaymentDto(string Method, string Reference, ulong AmountMsat, int Confirmations, bool Settled, long ReceivedAt, bool Accounted, bool Replaced);

    private sealed record EventDto(long Sequence, string Type, long At, string Status, string AdditionalStatus, string? PaymentMethod,
        string? PaymentReference, bool ManuallyMarked, bool AfterExpiration, bool PartiallyPaid, bool OverPaid);
}

/// <summary>Test access to the stored document form (used to compare invoices field by field).</summary>
internal static class InvoiceDocumentProbe
{
    public static string Serialize(Invoice invoice) => InvoiceDocument.Serialize(invoice);
}
