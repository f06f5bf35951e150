namespace Satflow.Payouts;

/// <summary>A payout was stored in a new state (raised after the commit; hosts map it to webhooks).</summary>
public sealed class PayoutChangedEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    public PayoutChangedEventArgs(Payout payout, PayoutState? previousState)
    {
        Payout = payout;
        PreviousState = previousState;
    }

    /// <summary>The payout as stored.</summary>
    public Payout Payout { get; }

    /// <summary>The state before (null for a new payout).</summary>
    public PayoutState? PreviousState { get; }
}

/// <summary>Shared bookkeeping for state changes.</summary>
internal static class PayoutBookkeeping
{
    /// <summary>Adds the pull-payment updates that give back what <paramref name="released"/> payouts had claimed.</summary>
    public static async Task ReleaseClaimsAsync(IPayoutStore store, PayoutChangeSet changes, IEnumerable<Payout> released, CancellationToken cancellationToken)
    {
        foreach (var group in released.Where(p => p.PullPaymentId is not null).GroupBy(p => p.PullPaymentId!.Value))
        {
            var pull = await store.GetPullPaymentAsync(group.Key, cancellationToken).ConfigureAwait(false)
                ?? throw new PayoutsException(PayoutsErrorReason.NotFound, $"Pull payment '{group.Key}' is missing.");
            changes.PullPayments.Add(pull with { Claimed = Math.Max(0, pull.Claimed - group.Sum(p => p.Amount)) });
        }
    }

    /// <summary>Runs <paramref name="action"/> again (up to 5 times) when it loses an optimistic-concurrency race.</summary>
    public static async Task<T> RetryOnConflictAsync<T>(Func<Task<T>> action)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await action().ConfigureAwait(false);
            }
            catch (PayoutsException e) when (e.Reason == PayoutsErrorReason.Conflict && attempt < 5)
            {
                // Re-read and try again.
            }
        }
    }
}
