using Satflow.Lightning.Types;
using Satflow.Merchant;
using Satflow.Merchant.Invoices;

namespace Satflow.Server.Payments;

/// <summary>A BOLT 11 invoice made by the Lightning node.</summary>
/// <param name="Bolt11">The encoded invoice.</param>
/// <param name="PaymentHash">Its payment hash.</param>
public sealed record LightningInvoice(string Bolt11, PaymentHash PaymentHash);

/// <summary>
/// The seam to the Lightning node: creates invoices for merchant invoices. The node implements it; until a node runs
/// in this process, <see cref="UnavailableLightningInvoiceSource"/> reports why Lightning is not offered.
/// </summary>
public interface ILightningInvoiceSource
{
    /// <summary>Whether invoices can be created now.</summary>
    bool IsAvailable { get; }

    /// <summary>Why Lightning is unavailable (null when available).</summary>
    string? UnavailableReason { get; }

    /// <summary>Creates a BOLT 11 invoice.</summary>
    /// <param name="amount">The amount.</param>
    /// <param name="expiresAt">Expiry (matches the merchant invoice).</param>
    /// <param name="description">Description for the payer.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The invoice.</returns>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.PaymentMethodUnavailable"/> when unavailable.</exception>
    Task<LightningInvoice> CreateInvoiceAsync(MilliSatoshi amount, DateTimeOffset expiresAt, string description, CancellationToken cancellationToken = default);
}

/// <summary>The Lightning source when no node runs in this process: never available, with a clear reason.</summary>
public sealed class UnavailableLightningInvoiceSource : ILightningInvoiceSource
{
    /// <summary>Creates the source.</summary>
    /// <param name="reason">Why Lightning is unavailable.</param>
    public UnavailableLightningInvoiceSource(string reason = "Lightning is unavailable: no Lightning node runs in this satflowd process.")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        UnavailableReason = reason;
    }

    /// <inheritdoc />
    public bool IsAvailable => false;

    /// <inheritdoc />
    public string? UnavailableReason { get; }

    /// <inheritdoc />
    public Task<LightningInvoice> CreateInvoiceAsync(MilliSatoshi amount, DateTimeOffset expiresAt, string description, CancellationToken cancellationToken = default)
        => throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, UnavailableReason!);
}

/// <summary>The merchant's Lightning payment method over an <see cref="ILightningInvoiceSource"/>.</summary>
public sealed class LightningPaymentMethodProvider : IPaymentMethodProvider
{
    private readonly ILightningInvoiceSource _source;

    /// <summary>Creates the provider.</summary>
    /// <param name="source">The node's invoice source.</param>
    public LightningPaymentMethodProvider(ILightningInvoiceSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
    }

    /// <inheritdoc />
    public PaymentMethodId Method => PaymentMethodId.Lightning;

    /// <inheritdoc />
    public async Task<PaymentPrompt> CreatePromptAsync(PaymentPromptRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var invoice = await _source.CreateInvoiceAsync(request.Amount, request.ExpiresAt, request.Description, cancellationToken).ConfigureAwait(false);
        return new PaymentPrompt(PaymentMethodId.Lightning, invoice.Bolt11, invoice.PaymentHash);
    }
}

/// <summary>Which payment method providers the invoice service gets: on-chain when an address source is configured, Lightning when the node is available.</summary>
public static class PaymentMethodSetup
{
    /// <summary>Builds the provider list.</summary>
    /// <param name="addresses">On-chain address source, or null when none is configured.</param>
    /// <param name="lightning">The Lightning source.</param>
    /// <returns>The providers to offer.</returns>
    public static IReadOnlyList<IPaymentMethodProvider> Providers(IOnChainAddressSource? addresses, ILightningInvoiceSource lightning)
    {
        ArgumentNullException.ThrowIfNull(lightning);
        var list = new List<IPaymentMethodProvider>();
        if (addresses is not null)
        {
            list.Add(new OnChainPaymentMethodProvider(addresses));
        }

        if (lightning.IsAvailable)
        {
            list.Add(new LightningPaymentMethodProvider(lightning));
        }

        return list;
    }
}
