using Satflow.Lightning.Types;

namespace Satflow.Server.Payments;

/// <summary>
/// An <see cref="ILightningInvoiceSource"/> that can also commit to a description by its hash (BOLT 11 <c>h</c> field),
/// as LNURL-pay (LUD-06) asks: the invoice's description hash is SHA-256 of the service's metadata. A source that does
/// not implement it gets the plain description instead.
/// </summary>
public interface ILightningDescriptionHashInvoiceSource : ILightningInvoiceSource
{
    /// <summary>Creates a BOLT 11 invoice whose description hash is <paramref name="descriptionHash"/>.</summary>
    /// <param name="amount">The amount.</param>
    /// <param name="expiresAt">Expiry (matches the merchant invoice).</param>
    /// <param name="descriptionHash">SHA-256 of the description (LNURL metadata).</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The invoice.</returns>
    /// <exception cref="Satflow.Merchant.MerchantException"><see cref="Satflow.Merchant.MerchantErrorReason.PaymentMethodUnavailable"/> when unavailable.</exception>
    Task<LightningInvoice> CreateInvoiceWithDescriptionHashAsync(MilliSatoshi amount, DateTimeOffset expiresAt, Bytes32 descriptionHash, CancellationToken cancellationToken = default);
}
