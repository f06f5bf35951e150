using System.Text.RegularExpressions;

namespace Satflow.Webhooks;

/// <summary>The lifecycle event types Satflow publishes, and the syntax rule for event types.</summary>
public static partial class WebhookEventTypes
{
    /// <summary>An invoice was created.</summary>
    public const string InvoiceCreated = "invoice.created";

    /// <summary>A payment for an invoice was seen but is not final yet.</summary>
    public const string InvoiceProcessing = "invoice.processing";

    /// <summary>An invoice was paid in full and the payment is final.</summary>
    public const string InvoiceSettled = "invoice.settled";

    /// <summary>An invoice expired unpaid.</summary>
    public const string InvoiceExpired = "invoice.expired";

    /// <summary>An invoice was marked invalid (e.g. a double-spent payment).</summary>
    public const string InvoiceInvalid = "invoice.invalid";

    /// <summary>A payout was claimed or created.</summary>
    public const string PayoutCreated = "payout.created";

    /// <summary>A payout was approved and awaits payment.</summary>
    public const string PayoutApproved = "payout.approved";

    /// <summary>A payout's payment was started.</summary>
    public const string PayoutInProgress = "payout.in_progress";

    /// <summary>A payout was paid.</summary>
    public const string PayoutCompleted = "payout.completed";

    /// <summary>A payout's payment failed for good.</summary>
    public const string PayoutFailed = "payout.failed";

    /// <summary>A payout was cancelled before payment.</summary>
    public const string PayoutCancelled = "payout.cancelled";

    /// <summary>Every type above.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        InvoiceCreated, InvoiceProcessing, InvoiceSettled, InvoiceExpired, InvoiceInvalid,
        PayoutCreated, PayoutApproved, PayoutInProgress, PayoutCompleted, PayoutFailed, PayoutCancelled,
    ];

    [GeneratedRegex("^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$")]
    private static partial Regex TypeSyntax();

    [GeneratedRegex("^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*\\.\\*$")]
    private static partial Regex WildcardSyntax();

    /// <summary>True when <paramref name="type"/> is a well-formed event type (at most 100 characters).</summary>
    public static bool IsValid(string? type) => type is { Length: <= 100 } && TypeSyntax().IsMatch(type);

    /// <summary>True when <paramref name="filter"/> is an event type or a prefix wildcard such as <c>invoice.*</c>.</summary>
    public static bool IsValidFilter(string? filter) =>
        filter is { Length: <= 100 } && (filter == "*" || TypeSyntax().IsMatch(filter) || WildcardSyntax().IsMatch(filter));

    /// <summary>True when <paramref name="filter"/> (a type, <c>prefix.*</c> or <c>*</c>) selects <paramref name="type"/>.</summary>
    public static bool Matches(string filter, string type)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(type);
        if (filter == "*")
        {
            return true;
        }

        return filter.EndsWith(".*", StringComparison.Ordinal)
            ? type.StartsWith(filter[..^1], StringComparison.Ordinal)
            : string.Equals(filter, type, StringComparison.Ordinal);
    }
}
