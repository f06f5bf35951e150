using Satflow.Node.Payments;
using Satflow.Payments;
using Satflow.Storage;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>
    /// A part sent by <see cref="SendPartUnlockedAsync"/> ended. Its offered-HTLC record's removal is already in
    /// <paramref name="ops"/>; whatever this writes joins the same atomic batch. Work that must wait for the batch
    /// (waking waiters, sending further parts) goes to <see cref="_afterCommit"/>. Parts of a payment session go to
    /// it; a part without a session (written before sessions existed) succeeds or fails its payment on its own.
    /// </summary>
    private async Task OnPartResolvedAsync(PartResult result, List<KvOperation> ops, CancellationToken cancellationToken)
    {
        if (await ResolveSessionPartAsync(result, ops, cancellationToken).ConfigureAwait(false))
        {
            return; // a routed payment: its session learns, retries or completes the payment (LightningNode.PaymentSessions.cs)
        }
        var reason = result.Failure is { FailingHopIndex: { } hop } && hop < result.Route.Hops.Count - 1
            ? PaymentFailureReason.RouteFailed
            : PaymentFailureReason.RecipientRejected;
        var record = await ResolvePaymentAsync(result.PaymentHash, result.Preimage, result.Failure?.Description, ops, cancellationToken, result.Route.TotalFees, reason).ConfigureAwait(false);
        if (record is not null)
        {
            _afterCommit.Add(() =>
            {
                CompletePayment(record);
                return Task.CompletedTask;
            });
        }
    }
}
