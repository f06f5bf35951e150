using Satflow.Lightning.Channels;
using Satflow.Lightning.Types;
using Satflow.Storage;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>Work that must wait until the batch being built is written (waking payment waiters, sending more parts).</summary>
    private readonly List<Func<Task>> _afterCommit = [];

    private List<Func<Task>> TakeAfterCommit()
    {
        var taken = _afterCommit.ToList();
        _afterCommit.Clear();
        return taken;
    }

    /// <summary>One of our offered HTLCs was fulfilled or failed by the peer: a payment part of ours.</summary>
    private async Task OnOfferedResolvedAsync(ChannelSlot slot, ulong htlcId, PaymentPreimage? preimage, HtlcFailed? failed, List<KvOperation> ops, List<Func<Task>> followUps, CancellationToken cancellationToken)
    {
        _ = followUps;
        await ResolveOfferedPartAsync(slot, htlcId, preimage, failed is null ? null : (offered, route) => DecodePartFailure(offered, route, failed), ops, cancellationToken).ConfigureAwait(false);
    }
}
