using System.Globalization;
using System.Text;
using Satflow.Lightning.Types;

namespace Satflow.Merchant.Invoices;

/// <summary>The payment methods an invoice can offer.</summary>
public enum PaymentMethodId
{
    /// <summary>An on-chain bitcoin address.</summary>
    OnChain,
    /// <summary>A Lightning BOLT 11 invoice.</summary>
    Lightning,
}

/// <summary>What a payment method provider is asked for.</summary>
/// <param name="StoreId">The store.</param>
/// <param name="InvoiceId">The invoice.</param>
/// <param name="Amount">Amount due.</param>
/// <param name="ExpiresAt">When the invoice expires (a BOLT 11 expiry should match).</param>
/// <param name="Description">A description for the payer (order id or store name).</param>
public sealed record PaymentPromptRequest(StoreId StoreId, InvoiceId InvoiceId, MilliSatoshi Amount, DateTimeOffset ExpiresAt, string Description);

/// <summary>What the payer is shown for one payment method.</summary>
/// <param name="Method">The method.</param>
/// <param name="Destination">On-chain: the address. Lightning: the BOLT 11 string.</param>
/// <param name="PaymentHash">Lightning: the payment hash, used to match incoming payments; null on-chain.</param>
public sealed record PaymentPrompt(PaymentMethodId Method, string Destination, PaymentHash? PaymentHash)
{
    /// <summary>The key incoming payments are matched by: the address, or the payment hash in hex.</summary>
    public string LookupKey => Method == PaymentMethodId.Lightning ? PaymentHash!.Value.ToString() : Destination;

    /// <summary>Throws unless the prompt is usable (checked when a provider returns it).</summary>
    /// <exception cref="MerchantException"><see cref="MerchantErrorReason.PaymentMethodUnavailable"/>.</exception>
    public void Validate()
    {
        switch (Method)
        {
            case PaymentMethodId.OnChain:
                if (!UnifiedPaymentUri.IsAddressLike(Destination) || PaymentHash is not null)
                {
                    throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, "An on-chain prompt needs an alphanumeric address and no payment hash.");
                }

                break;
            case PaymentMethodId.Lightning:
                if (!UnifiedPaymentUri.IsBolt11Like(Destination) || PaymentHash is null)
                {
                    throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, "A Lightning prompt needs a BOLT 11 string starting with 'ln' and its payment hash.");
                }

                break;
            default:
                throw new MerchantException(MerchantErrorReason.PaymentMethodUnavailable, "Unknown payment method.");
        }
    }
}

/// <summary>
/// The seam to the node: creates a payment destination for an invoice (the server implements it with its wallet and
/// Lightning node).
/// </summary>
public interface IPaymentMethodProvider
{
    /// <summary>The method this provider serves.</summary>
    PaymentMethodId Method { get; }

    /// <summary>Creates a fresh destination for an invoice.</summary>
    /// <param name="request">The invoice details.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>The prompt.</returns>
    Task<PaymentPrompt> CreatePromptAsync(PaymentPromptRequest request, CancellationToken cancellationToken = default);
}

/// <summary>
/// BIP 21 URIs combining on-chain and Lightning in one QR code (<c>bitcoin:ADDRESS?amount=0.001&amp;lightning=LNBC...</c>),
/// and the uppercase variant that QR alphanumeric mode encodes compactly.
/// </summary>
public static class UnifiedPaymentUri
{
    /// <summary>Builds the URI; at least one of address and BOLT 11 is required.</summary>
    /// <param name="address">On-chain address, or null.</param>
    /// <param name="amount">Amount due (on-chain amounts round up to whole satoshis), or null for none.</param>
    /// <param name="bolt11">Lightning invoice, or null.</param>
    /// <returns>The URI: <c>bitcoin:</c> when there is an address, else <c>lightning:</c>.</returns>
    public static string Build(string? address, MilliSatoshi? amount, string? bolt11)
    {
        if (address is null && bolt11 is null)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "A payment URI needs an address or a BOLT 11 invoice.");
        }

        if (address is not null && !IsAddressLike(address))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "The address must be alphanumeric.");
        }

        if (bolt11 is not null && !IsBolt11Like(bolt11))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "The BOLT 11 invoice must be a bech32 string starting with 'ln'.");
        }

        if (address is null)
        {
            return "lightning:" + bolt11;
        }

        var sb = new StringBuilder("bitcoin:").Append(address);
        var separator = '?';
        if (amount is { Value: > 0 } a)
        {
            sb.Append(separator).Append("amount=").Append(FormatBtc(a));
            separator = '&';
        }

        if (bolt11 is not null)
        {
            sb.Append(separator).Append("lightning=").Append(bolt11);
        }

        return sb.ToString();
    }

    /// <summary>The QR-friendly form: scheme, bech32 address and BOLT 11 uppercased (base58 addresses stay as they are).</summary>
    /// <param name="address">On-chain address, or null.</param>
    /// <param name="amount">Amount due, or null.</param>
    /// <param name="bolt11">Lightning invoice, or null.</param>
    /// <returns>The uppercase-friendly URI.</returns>
    public static string BuildForQr(string? address, MilliSatoshi? amount, string? bolt11)
    {
        var upperAddress = address is not null && IsBech32Address(address) ? address.ToUpperInvariant() : address;
        var uri = Build(upperAddress, amount, bolt11?.ToUpperInvariant());
        var colon = uri.IndexOf(':', StringComparison.Ordinal);
        return uri[..colon].ToUpperInvariant() + uri[colon..];
    }

    /// <summary>Formats an amount as BTC for BIP 21: rounded up to whole satoshis, invariant culture, no trailing zeros.</summary>
    /// <param name="amount">The amount.</param>
    /// <returns>E.g. <c>0.001</c> for 100,000 sat.</returns>
    public static string FormatBtc(MilliSatoshi amount)
    {
        var sats = (amount.Value / 1000) + (amount.Value % 1000 == 0 ? 0UL : 1UL);
        return (sats / 100_000_000m).ToString("0.########", CultureInfo.InvariantCulture);
    }

    internal static bool IsAddressLike(string? s) => s is { Length: >= 14 and <= 100 } && s.All(char.IsAsciiLetterOrDigit);

    internal static bool IsBolt11Like(string? s)
        => s is { Length: >= 10 and <= 7089 } && s.StartsWith("ln", StringComparison.OrdinalIgnoreCase) && s.All(char.IsAsciiLetterOrDigit);

    private static bool IsBech32Address(string address)
    {
        var lower = address.ToLowerInvariant();
        return (lower.StartsWith("bc1", StringComparison.Ordinal) || lower.StartsWith("tb1", StringComparison.Ordinal) || lower.StartsWith("bcrt1", StringComparison.Ordinal))
            && (address == lower || address == address.ToUpperInvariant());
    }
}
