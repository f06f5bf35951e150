namespace Satflow.Merchant.Accounts;

/// <summary>A login account.</summary>
/// <param name="Id">The id.</param>
/// <param name="Email">The login name (normalised to lowercase).</param>
/// <param name="PasswordHash">The <see cref="PasswordHasher"/> hash.</param>
/// <param name="CreatedAt">When the account was created.</param>
/// <param name="IsServerAdmin">Whether the user administers the whole server.</param>
public sealed record User(UserId Id, string Email, string PasswordHash, DateTimeOffset CreatedAt, bool IsServerAdmin)
{
    /// <summary>Normalises and validates a login e-mail address.</summary>
    /// <param name="email">The address.</param>
    /// <returns>The trimmed lowercase address.</returns>
    /// <exception cref="MerchantException">Not a plausible address.</exception>
    public static string NormalizeEmail(string? email)
    {
        var e = email?.Trim().ToLowerInvariant() ?? "";
        var at = e.IndexOf('@', StringComparison.Ordinal);
        if (e.Length is < 3 or > 254 || at <= 0 || at != e.LastIndexOf('@') || at == e.Length - 1 || e.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "Not a valid e-mail address.");
        }

        return e;
    }
}

/// <summary>A store: the unit that owns invoices, balances, webhooks and payouts.</summary>
/// <param name="Id">The id.</param>
/// <param name="Name">Display name.</param>
/// <param name="DefaultCurrency">Currency used when an invoice names none.</param>
/// <param name="RateRules">The store's rate rule program (see <see cref="Rates.RateRules"/>); empty means "everything from the rate table".</param>
/// <param name="Policy">Invoice defaults.</param>
/// <param name="CreatedAt">When the store was created.</param>
public sealed record Store(StoreId Id, string Name, string DefaultCurrency, string RateRules, InvoicePolicy Policy, DateTimeOffset CreatedAt);

/// <summary>A store's invoice defaults.</summary>
/// <param name="InvoiceExpiry">How long a new invoice accepts payment.</param>
/// <param name="MonitoringWindow">How long after expiry payments are still watched (late payments, confirmations).</param>
/// <param name="PaymentTolerancePercent">Underpayment accepted as paid in full, 0–100 %.</param>
/// <param name="RequiredConfirmations">On-chain confirmations needed before a payment counts as settled (0 = accept unconfirmed).</param>
public sealed record InvoicePolicy(TimeSpan InvoiceExpiry, TimeSpan MonitoringWindow, decimal PaymentTolerancePercent, int RequiredConfirmations)
{
    /// <summary>15 minutes expiry, 24 hours monitoring, no tolerance, 1 confirmation (BTCPay's defaults).</summary>
    public static InvoicePolicy Default { get; } = new(TimeSpan.FromMinutes(15), TimeSpan.FromHours(24), 0m, 1);

    /// <summary>Throws when a field is out of range.</summary>
    /// <exception cref="MerchantException">A field is out of range.</exception>
    public void Validate()
    {
        if (InvoiceExpiry <= TimeSpan.Zero || InvoiceExpiry > TimeSpan.FromDays(365))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "Invoice expiry must be positive and at most 365 days.");
        }

        if (MonitoringWindow < TimeSpan.Zero || MonitoringWindow > TimeSpan.FromDays(365))
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "The monitoring window must be 0 to 365 days.");
        }

        if (PaymentTolerancePercent is < 0m or > 100m)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "Payment tolerance must be between 0 and 100 %.");
        }

        if (RequiredConfirmations is < 0 or > 1000)
        {
            throw new MerchantException(MerchantErrorReason.InvalidArgument, "Required confirmations must be 0 to 1000.");
        }
    }
}

/// <summary>A user's membership in a store.</summary>
/// <param name="StoreId">The store.</param>
/// <param name="UserId">The user.</param>
/// <param name="Role">The role.</param>
public sealed record StoreMembership(StoreId StoreId, UserId UserId, StoreRole Role);
