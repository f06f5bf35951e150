using System.Text.Json.Serialization;
namespace Satflow.Payouts;

/// <summary>
/// Money a store offers to be pulled: up to <see cref="Amount"/> of <see cref="Currency"/>, claimable (until
/// <see cref="ExpiresAt"/>) in one or more claims, each within the per-claim limits, by BOLT 11 invoice, on-chain
/// address or LNURL-withdraw. Every claim creates a <see cref="Payout"/>.
/// </summary>
public sealed record PullPayment
{
    /// <summary>Unique id.</summary>
    public required PullPaymentId Id { get; init; }

    /// <summary>The store paying.</summary>
    public required string StoreId { get; init; }

    /// <summary>A name shown to claimants.</summary>
    public required string Name { get; init; }

    /// <summary>An optional description (also the LNURL-withdraw default description).</summary>
    public string? Description { get; init; }

    /// <summary>The total that may be claimed.</summary>
    public required decimal Amount { get; init; }

    /// <summary>The currency of <see cref="Amount"/> and claims (e.g. <c>BTC</c>, <c>USD</c>); converted at approval.</summary>
    public required string Currency { get; init; }

    /// <summary>When claims open.</summary>
    public required DateTimeOffset StartsAt { get; init; }

    /// <summary>When claims close (null: never).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>The smallest claim (null: any positive amount).</summary>
    public decimal? MinimumClaim { get; init; }

    /// <summary>The largest claim (null: up to what remains).</summary>
    public decimal? MaximumClaim { get; init; }

    /// <summary>The payment methods claimants may use.</summary>
    public IReadOnlyList<PayoutMethod> Methods { get; init; } = [PayoutMethod.Lightning, PayoutMethod.OnChain];

    /// <summary>When set and the currency is BTC, claims skip <see cref="PayoutState.AwaitingApproval"/>.</summary>
    public bool AutoApproveClaims { get; init; }

    /// <summary>Archived pull payments take no claims.</summary>
    public bool Archived { get; init; }

    /// <summary>The sum of claims that are not cancelled or failed.</summary>
    public decimal Claimed { get; init; }

    /// <summary>When it was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The storage version this copy was read at (0 before the first save).</summary>
    [JsonIgnore]
    public long Version { get; init; }

    /// <summary>What can still be claimed.</summary>
    [JsonIgnore]
    public decimal Remaining => Math.Max(0, Amount - Claimed);

    /// <summary>True when claims are accepted at <paramref name="now"/>.</summary>
    public bool IsActiveAt(DateTimeOffset now) => !Archived && now >= StartsAt && (ExpiresAt is null || now < ExpiresAt);
}
