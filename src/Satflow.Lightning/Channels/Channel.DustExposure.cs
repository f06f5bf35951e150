using Satflow.Lightning.Messages;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

using UpdateFeeMessage = Satflow.Lightning.Messages.UpdateFee;

namespace Satflow.Lightning.Channels;

/// <summary>
/// BOLT 2 "Bounding exposure to trimmed in-flight HTLCs: <c>max_dust_htlc_exposure_msat</c>". An HTLC below a
/// commitment's dust limit plus the fee of its second-stage transaction has no output of its own: on a force close its
/// value goes to miners. The dust balance of each commitment is capped by <see cref="ChannelOptions.MaxDustHtlcExposure"/>.
/// </summary>
/// <remarks>
/// <para>Which HTLCs count: every HTLC in a commitment or on its way into one (proposed, signed or acknowledged, either
/// direction), so that no interleaving of pending updates can exceed the cap. When deciding an incoming HTLC, the
/// incoming HTLCs that arrived after it, and those whose removal we already proposed (they are leaving; counting them
/// would fail every following dust HTLC until the removal is committed), are left out.</para>
/// <para>The feerate: the highest among our commitment, the peer's (signed and pending) and any pending
/// <c>update_fee</c>. Without anchors a higher feerate trims more HTLCs (their second-stage fee grows); with
/// <c>option_anchors_zero_fee_htlc_tx</c> the HTLC transactions pay no fee and only the dust limits matter.</para>
/// </remarks>
public sealed partial class Channel
{
    /// <summary>The current dust balances of both commitments and our limit.</summary>
    public DustExposure DustExposure
    {
        get
        {
            var feerate = DustFeerate();
            var (local, remote) = DustBalances(LiveHtlcs(), feerate);
            return new DustExposure(new MilliSatoshi(local), new MilliSatoshi(remote), _options.MaxDustHtlcExposure, feerate);
        }
    }

    /// <summary>
    /// Whether a committed incoming HTLC must be failed because of the dust exposure (BOLT 2, receiving: "if the
    /// HTLC's <c>amount_msat</c> is smaller than the remote <c>dust_limit_satoshis</c> plus the HTLC-timeout fee" or
    /// "the local <c>dust_limit_satoshis</c> plus the HTLC-success fee", and "the <c>amount_msat</c> plus the dust
    /// balance of" that transaction "is greater than <c>max_dust_htlc_exposure_msat</c>": "SHOULD fail this HTLC once
    /// it's committed", "SHOULD NOT reveal a preimage for this HTLC"). The host asks before it fulfills or forwards;
    /// the channel itself stays open.
    /// </summary>
    /// <param name="htlcId">The incoming HTLC's id.</param>
    /// <returns>False for an unknown id or an HTLC within the limit.</returns>
    public bool IsIncomingOverDustExposure(ulong htlcId)
    {
        var live = LiveHtlcs();
        var self = live.FirstOrDefault(h => h.Direction == HtlcDirection.Received && h.Add.Id == htlcId);
        if (self is null)
        {
            return false;
        }
        var leaving = RemovalIds(_s.LocalProposed.Concat(_s.LocalSigned).Concat(_s.LocalAcked));
        // The dust balance it joins: every outgoing HTLC and the incoming ones that came before it (ids are
        // sequential), so the HTLC that crosses the limit is the one failed; incoming HTLCs we already decided to
        // remove are leaving and do not count.
        var others = live.Where(h => !(h.Direction == HtlcDirection.Received && (h.Add.Id >= htlcId || leaving.Contains(h.Add.Id)))).ToList();
        return DustRefusal(HtlcDirection.Received, self.Add.AmountMsat, others, DustFeerate()) is not null;
    }

    /// <summary>
    /// BOLT 2, offering: an HTLC below the remote dust limit plus the HTLC-success fee (the peer's commitment) or below
    /// our dust limit plus the HTLC-timeout fee (ours) "SHOULD NOT" be sent when it would put that commitment's dust
    /// balance above <c>max_dust_htlc_exposure_msat</c>. Null when the HTLC may be offered.
    /// </summary>
    private ChannelUpdateRefusedException? CheckDustExposureOfOffered(MilliSatoshi amount)
    {
        var reason = DustRefusal(HtlcDirection.Offered, amount, LiveHtlcs(), DustFeerate());
        return reason is null ? null : new ChannelUpdateRefusedException(ChannelRefusalReason.DustExposureExceeded, reason);
    }

    /// <summary>
    /// BOLT 2 <c>update_fee</c>, sending node without <c>option_anchors</c>: when the update increases the feerate and
    /// the dust balance of either commitment at the new feerate exceeds <c>max_dust_htlc_exposure_msat</c>, we do not
    /// send it ("MAY NOT send <c>update_fee</c>"). With anchors the HTLC transactions pay no fee: nothing more is trimmed.
    /// </summary>
    private ChannelUpdateRefusedException? CheckDustExposureOfFeeUpdate(uint feeratePerKw)
    {
        var current = DustFeerate();
        if (Parameters.Format == CommitmentFormat.AnchorOutputs || feeratePerKw <= current)
        {
            return null;
        }
        var (local, remote) = DustBalances(LiveHtlcs(), feeratePerKw);
        var limit = _options.MaxDustHtlcExposure.Value;
        if (local > limit || remote > limit)
        {
            return new ChannelUpdateRefusedException(ChannelRefusalReason.DustExposureExceeded,
                $"At {feeratePerKw} sat/kw the trimmed HTLCs would add up to {local} msat on our commitment and {remote} msat on the peer's, above max_dust_htlc_exposure_msat {limit} msat.");
        }
        return null;
    }

    /// <summary>Why an HTLC of <paramref name="direction"/> (from our side) would exceed the dust exposure given the other HTLCs, or null.</summary>
    private string? DustRefusal(HtlcDirection direction, MilliSatoshi amount, IReadOnlyList<SpecHtlc> others, uint feerate)
    {
        var format = Parameters.Format;
        var limit = _options.MaxDustHtlcExposure.Value;
        var (local, remote) = DustBalances(others, feerate);
        // Our commitment keeps our view of the direction; on the peer's commitment it is reversed.
        var peerView = direction == HtlcDirection.Offered ? HtlcDirection.Received : HtlcDirection.Offered;
        if (Bolt3Fees.IsTrimmed(format, feerate, Parameters.RemoteDustLimit, peerView, amount) && remote + amount.Value > limit)
        {
            return $"The HTLC of {amount} is trimmed on the peer's commitment, whose dust balance would become {remote + amount.Value} msat, above max_dust_htlc_exposure_msat {limit} msat.";
        }
        if (Bolt3Fees.IsTrimmed(format, feerate, Parameters.LocalDustLimit, direction, amount) && local + amount.Value > limit)
        {
            return $"The HTLC of {amount} is trimmed on our commitment, whose dust balance would become {local + amount.Value} msat, above max_dust_htlc_exposure_msat {limit} msat.";
        }
        return null;
    }

    /// <summary>The dust balances (msat) of our and the peer's commitment holding <paramref name="htlcs"/> (our view of directions).</summary>
    private (ulong Local, ulong Remote) DustBalances(IEnumerable<SpecHtlc> htlcs, uint feerate)
    {
        var format = Parameters.Format;
        ulong local = 0, remote = 0;
        foreach (var h in htlcs)
        {
            var amount = h.Add.AmountMsat;
            if (Bolt3Fees.IsTrimmed(format, feerate, Parameters.LocalDustLimit, h.Direction, amount))
            {
                local += amount.Value;
            }
            var peerView = h.Direction == HtlcDirection.Offered ? HtlcDirection.Received : HtlcDirection.Offered;
            if (Bolt3Fees.IsTrimmed(format, feerate, Parameters.RemoteDustLimit, peerView, amount))
            {
                remote += amount.Value;
            }
        }
        return (local, remote);
    }

    /// <summary>The highest feerate among both commitments and every pending <c>update_fee</c>.</summary>
    private uint DustFeerate()
    {
        var feerate = Math.Max(_s.Local.Spec.FeeratePerKw, _s.Remote.Spec.FeeratePerKw);
        if (_s.RemoteNext is { } next)
        {
            feerate = Math.Max(feerate, next.Spec.FeeratePerKw);
        }
        foreach (var update in PendingUpdates().OfType<UpdateFeeMessage>())
        {
            feerate = Math.Max(feerate, update.FeeratePerKw);
        }
        return feerate;
    }

    private IEnumerable<LightningMessage> PendingUpdates() =>
        _s.LocalProposed.Concat(_s.LocalSigned).Concat(_s.LocalAcked).Concat(_s.RemoteProposed).Concat(_s.RemoteAcked).Concat(_s.RemoteSigned);

    /// <summary>
    /// Every HTLC in one of the commitments or on its way into one (direction from our side: offered = ours), once each,
    /// until it has left every commitment.
    /// </summary>
    private List<SpecHtlc> LiveHtlcs()
    {
        var result = new Dictionary<(HtlcDirection, ulong), SpecHtlc>();
        void Note(HtlcDirection direction, UpdateAddHtlc add) => result.TryAdd((direction, add.Id), new SpecHtlc(direction, add));
        foreach (var h in _s.Local.Spec.Htlcs)
        {
            Note(h.Direction, h.Add);
        }
        foreach (var h in _s.Remote.Spec.Htlcs.Concat(_s.RemoteNext?.Spec.Htlcs ?? []))
        {
            Note(h.Direction == HtlcDirection.Offered ? HtlcDirection.Received : HtlcDirection.Offered, h.Add);
        }
        foreach (var add in _s.LocalProposed.Concat(_s.LocalSigned).Concat(_s.LocalAcked).OfType<UpdateAddHtlc>())
        {
            Note(HtlcDirection.Offered, add);
        }
        foreach (var add in _s.RemoteProposed.Concat(_s.RemoteAcked).Concat(_s.RemoteSigned).OfType<UpdateAddHtlc>())
        {
            Note(HtlcDirection.Received, add);
        }
        return [.. result.Values];
    }
}
