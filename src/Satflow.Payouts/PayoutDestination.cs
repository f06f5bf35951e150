using System.Text.Json.Serialization;
using NBitcoin;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Types;

namespace Satflow.Payouts;

/// <summary>How a payout is paid.</summary>
public enum PayoutMethod
{
    /// <summary>Over Lightning, to a BOLT 11 invoice.</summary>
    Lightning,

    /// <summary>On-chain, to an address, batched with other payouts.</summary>
    OnChain,
}

/// <summary>What kind of destination a claim gave.</summary>
public enum PayoutDestinationKind
{
    /// <summary>A BOLT 11 invoice pasted by the claimant.</summary>
    Bolt11Invoice,

    /// <summary>A BOLT 11 invoice handed over by the claimant's wallet through LNURL-withdraw (LUD-03).</summary>
    LnurlWithdraw,

    /// <summary>A Bitcoin address.</summary>
    OnChainAddress,
}

/// <summary>Where a payout goes: a BOLT 11 invoice (pasted or through LNURL-withdraw) or an on-chain address.</summary>
public sealed record PayoutDestination
{
    /// <summary>The kind of destination.</summary>
    public required PayoutDestinationKind Kind { get; init; }

    /// <summary>The invoice (lower case, without <c>lightning:</c>) or the address.</summary>
    public required string Value { get; init; }

    /// <summary>For invoices: the payment hash (the idempotency reference of the payment).</summary>
    public PaymentHash? PaymentHash { get; init; }

    /// <summary>For invoices with an amount: that amount.</summary>
    public MilliSatoshi? InvoiceAmount { get; init; }

    /// <summary>For invoices: when the invoice expires.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The payment method the destination implies.</summary>
    [JsonIgnore]
    public PayoutMethod Method => Kind == PayoutDestinationKind.OnChainAddress ? PayoutMethod.OnChain : PayoutMethod.Lightning;

    /// <summary>
    /// Parses a claim destination: a BOLT 11 invoice (optionally prefixed <c>lightning:</c>) for
    /// <paramref name="network"/>, not expired at <paramref name="now"/>, or an address of <paramref name="network"/>
    /// (optionally prefixed <c>bitcoin:</c>, without query).
    /// </summary>
    /// <exception cref="PayoutsException">With <see cref="PayoutsErrorReason.InvalidDestination"/>.</exception>
    public static PayoutDestination Parse(string? text, Network network, DateTimeOffset now, PayoutDestinationKind invoiceKind = PayoutDestinationKind.Bolt11Invoice)
    {
        ArgumentNullException.ThrowIfNull(network);
        var trimmed = text?.Trim() ?? "";
        if (trimmed.Length is 0 or > 7089)
        {
            throw Invalid("The destination is empty or too long.");
        }

        var lower = trimmed.ToLowerInvariant();
        if (lower.StartsWith("lightning:", StringComparison.Ordinal))
        {
            trimmed = trimmed["lightning:".Length..];
            lower = lower["lightning:".Length..];
        }

        // No Bitcoin address starts with "ln", so such text is meant as an invoice.
        if (lower.StartsWith("ln", StringComparison.Ordinal))
        {
            if (!Bolt11Invoice.TryDecode(trimmed, out var invoice, out var error))
            {
                throw Invalid("Not a valid BOLT 11 invoice: " + error?.Reason);
            }

            if (invoice!.Network != Bolt11NetworkOf(network))
            {
                throw Invalid($"The invoice is for {invoice.Network}, not {Bolt11NetworkOf(network)}.");
            }

            if (invoice.ExpiresAt <= now)
            {
                throw Invalid("The invoice has expired.");
            }

            return new PayoutDestination
            {
                Kind = invoiceKind == PayoutDestinationKind.OnChainAddress ? PayoutDestinationKind.Bolt11Invoice : invoiceKind,
                Value = lower,
                PaymentHash = invoice.PaymentHash,
                InvoiceAmount = invoice.Amount,
                ExpiresAt = invoice.ExpiresAt,
            };
        }

        if (lower.StartsWith("bitcoin:", StringComparison.Ordinal))
        {
            trimmed = trimmed["bitcoin:".Length..];
            if (trimmed.Contains('?', StringComparison.Ordinal))
            {
                throw Invalid("A bitcoin: URI with parameters is not accepted; give the address alone.");
            }
        }

        try
        {
            var address = BitcoinAddress.Create(trimmed, network);
            return new PayoutDestination { Kind = PayoutDestinationKind.OnChainAddress, Value = address.ToString() };
        }
        catch (FormatException)
        {
            throw Invalid($"'{Shorten(trimmed)}' is neither a BOLT 11 invoice nor a {network.ChainName} address.");
        }
        catch (ArgumentException)
        {
            throw Invalid($"'{Shorten(trimmed)}' is neither a BOLT 11 invoice nor a {network.ChainName} address.");
        }
    }

    private static string Shorten(string s) => s.Length > 40 ? s[..40] + "…" : s;

    private static PayoutsException Invalid(string message) => new(PayoutsErrorReason.InvalidDestination, message);

    /// <summary>The BOLT 11 network of an NBitcoin network.</summary>
    /// <exception cref="PayoutsException">For a network without a BOLT 11 prefix.</exception>
    public static Bolt11Network Bolt11NetworkOf(Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (network == Network.Main)
        {
            return Bolt11Network.Bitcoin;
        }

        if (network == Network.RegTest)
        {
            return Bolt11Network.Regtest;
        }

        if (network == Network.TestNet)
        {
            return Bolt11Network.Testnet;
        }

        if (network.Name.Contains("signet", StringComparison.OrdinalIgnoreCase))
        {
            return Bolt11Network.Signet;
        }

        throw new PayoutsException(PayoutsErrorReason.InvalidConfiguration, $"Network {network.Name} has no BOLT 11 prefix.");
    }
}
