using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Node.Persistence;
using Satflow.Payments;

namespace Satflow.Node;

public sealed partial class LightningNode
{
    /// <summary>How long the parts of a multi-part payment are held before they fail with <c>mpp_timeout</c> (BOLT 4: 60 s).</summary>
    public static TimeSpan MppTimeout { get; } = TimeSpan.FromSeconds(60);

    /// <summary>Incoming multi-part payments being assembled, by payment hash.</summary>
    private readonly Dictionary<PaymentHash, MppSet> _mppSets = [];

    /// <summary>Incoming HTLCs held in an incomplete set (not decided until the set completes or times out).</summary>
    private readonly HashSet<(ChannelId, ulong)> _mppHeld = [];

    /// <summary>Held HTLCs whose set timed out or was refused, and the failure each gets when decided.</summary>
    private readonly Dictionary<(ChannelId, ulong), FailureMessage> _mppFailed = [];

    private bool IsMppHeld(ChannelId channelId, ulong htlcId) => _mppHeld.Contains((channelId, htlcId));

    /// <summary>
    /// Decides one part of a multi-part payment (BOLT 4 basic_mpp, <c>total_msat</c> above the HTLC amount): held
    /// until the parts with the same payment hash and secret add up to <c>total_msat</c>, then the invoice is settled
    /// and every part fulfilled; a set that does not complete within <see cref="MppTimeout"/> fails with
    /// <c>mpp_timeout</c> (<see cref="ProcessPaymentTimersAsync"/>). Nothing extra is persisted: held HTLCs stay in the
    /// received-HTLC records, so after a restart they are decided again and the set is rebuilt.
    /// </summary>
    private async Task<Decision> DecideMppPartAsync(ChannelSlot slot, ReceivedHtlcRecord htlc, PaymentData data, Func<FailureMessage, Decision> fail, CancellationToken cancellationToken)
    {
        var key = (slot.ChannelId, htlc.HtlcId);
        var hash = htlc.PaymentHash;
        if (_mppFailed.Remove(key, out var failure))
        {
            return fail(failure);
        }
        var unknown = FailureMessage.IncorrectOrUnknownPaymentDetails(htlc.Amount, (uint)Math.Max(0, _height));
        var invoice = await Invoices.LookupAsync(hash, cancellationToken).ConfigureAwait(false);
        if (invoice is null || invoice.PaymentSecret != data.PaymentSecret)
        {
            return fail(unknown);
        }
        if (invoice.State == InvoiceState.Settled)
        {
            return new Decision(invoice.Preimage, null, null); // another part completed the set (or settled before a crash)
        }
        if (invoice.State != InvoiceState.Open || (invoice.Amount is { } asked && data.TotalAmount < asked)
            || (_height >= 0 && htlc.CltvExpiry < (ulong)_height + invoice.MinFinalCltvExpiryDelta))
        {
            return fail(unknown);
        }
        var joined = JoinMppSet(hash, data.TotalAmount, slot, htlc);
        if (joined.OtherTotal)
        {
            return fail(unknown); // BOLT 4: every part must carry the same total_msat
        }
        if (joined.Completed is not { } set)
        {
            return new Decision(null, null, null) { Pending = true };
        }
        var sum = joined.Sum;
        InvoiceRecord settled;
        try
        {
            settled = await Invoices.SettleAsync(hash, data.PaymentSecret, new MilliSatoshi(sum), cancellationToken).ConfigureAwait(false);
        }
        catch (PaymentsException)
        {
            foreach (var part in set.Parts.Keys.Where(k => k != key))
            {
                _mppFailed[part] = unknown;
            }
            ScheduleDecide(set, slot);
            return fail(unknown);
        }
        ScheduleDecide(set, slot);
        return new Decision(settled.Preimage, null, null);
    }

    /// <summary>After the current batch, decides the parts of a finished set on the other channels (this one keeps deciding).</summary>
    private void ScheduleDecide(MppSet set, ChannelSlot current)
    {
        var others = set.Parts.Values.Select(p => p.Slot).Where(s => s != current).Distinct().ToList();
        if (others.Count == 0)
        {
            return;
        }
        _afterCommit.Add(async () =>
        {
            foreach (var other in others)
            {
                await DecideReceivedAsync(other, CancellationToken.None).ConfigureAwait(false);
            }
        });
    }

    /// <summary>Fails the parts of sets held longer than <see cref="MppTimeout"/> with <c>mpp_timeout</c> (called with the gate held).</summary>
    private async Task ProcessMppTimeoutsUnlockedAsync(CancellationToken cancellationToken)
    {
        var now = _deps.Time.GetUtcNow();
        var expired = _mppSets.Where(s => now - s.Value.FirstSeen >= MppTimeout).ToList();
        var slots = new HashSet<ChannelSlot>();
        foreach (var (hash, set) in expired)
        {
            _mppSets.Remove(hash);
            foreach (var (key, part) in set.Parts)
            {
                _mppHeld.Remove(key);
                _mppFailed[key] = FailureMessage.Simple(FailureCode.MppTimeout);
                slots.Add(part.Slot);
            }
        }
        foreach (var slot in slots)
        {
            await DecideReceivedAsync(slot, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The parts of one incoming multi-part payment held so far.</summary>
    /// <summary>What adding a part to its multi-part set gave.</summary>
    /// <param name="Sum">The parts' sum once complete.</param>
    /// <param name="Completed">The completed set (null while parts are missing or when refused).</param>
    /// <param name="OtherTotal">The part names another total than the set's first part.</param>
    private readonly record struct MppJoin(ulong Sum, MppSet? Completed, bool OtherTotal);

    /// <summary>
    /// Adds a part to the set of its payment hash (BOLT 4 basic_mpp; BOLT 11 and blinded BOLT 12 receives share it):
    /// refused when it names another total than the set's first part; the set is complete (and forgotten, its parts
    /// no longer held) once the parts add up to the total; otherwise the part is held.
    /// </summary>
    private MppJoin JoinMppSet(PaymentHash hash, MilliSatoshi total, ChannelSlot slot, ReceivedHtlcRecord htlc)
    {
        var key = (slot.ChannelId, htlc.HtlcId);
        if (!_mppSets.TryGetValue(hash, out var set))
        {
            set = new MppSet(total, _deps.Time.GetUtcNow());
            _mppSets[hash] = set;
        }
        if (set.Total != total)
        {
            return new MppJoin(0, null, true);
        }
        set.Parts[key] = (slot, htlc.Amount.Value);
        _mppHeld.Add(key);
        var sum = set.Parts.Values.Aggregate(0UL, (s, p) => checked(s + p.Amount));
        if (sum < set.Total.Value)
        {
            return new MppJoin(0, null, false);
        }
        _mppSets.Remove(hash);
        foreach (var part in set.Parts.Keys)
        {
            _mppHeld.Remove(part);
        }
        return new MppJoin(sum, set, false);
    }

    private sealed class MppSet(MilliSatoshi total, DateTimeOffset firstSeen)
    {
        public MilliSatoshi Total { get; } = total;

        public DateTimeOffset FirstSeen { get; } = firstSeen;

        public Dictionary<(ChannelId, ulong), (ChannelSlot Slot, ulong Amount)> Parts { get; } = [];
    }
}
