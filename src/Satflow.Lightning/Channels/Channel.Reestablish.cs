using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels;

public sealed partial class Channel
{
    /// <summary>
    /// The connection to the peer was lost (call it also after loading a channel at start-up; it is idempotent). The
    /// peer's uncommitted updates are forgotten (BOLT 2); ours are kept and re-sent after the reestablish. A closing
    /// negotiation in progress restarts after the reconnection.
    /// </summary>
    public ChannelOutput PeerDisconnected()
    {
        if (_s.Offline)
        {
            return ChannelOutput.Empty;
        }
        var droppedAdds = (ulong)_s.RemoteProposed.OfType<UpdateAddHtlc>().Count();
        var o = Begin();
        var next = _s with
        {
            Offline = true,
            RemoteProposed = [],
            RemoteNextHtlcId = _s.RemoteNextHtlcId - droppedAdds,
        };
        _closing = null;
        return Commit(next, o);
    }

    /// <summary>Our <c>channel_reestablish</c>, to send first after reconnecting.</summary>
    public ChannelReestablish CreateReestablish()
    {
        var remoteIndex = _s.Remote.Index;
        var lastSecret = Bytes32.Zero;
        if (remoteIndex > 0 && !_secrets.TryGetSecret(PerCommitmentSecrets.IndexOfCommitment(remoteIndex - 1), out lastSecret))
        {
            throw new InvalidOperationException("The secret store lacks the peer's last secret.");
        }
        return new ChannelReestablish(ChannelId, _s.Local.Index + 1, remoteIndex, lastSecret, new Point(_keys.PerCommitmentPoint(_s.Local.Index)));
    }

    private ChannelData OnReestablish(ChannelReestablish m, OutputBuilder o)
    {
        if (!_s.Offline)
        {
            throw new ChannelProtocolException("channel_reestablish outside a reconnection.");
        }
        if (m.NextCommitmentNumber == 0)
        {
            throw new ChannelProtocolException("channel_reestablish with next_commitment_number 0.");
        }
        var localIndex = _s.Local.Index;
        if (m.NextRevocationNumber > localIndex)
        {
            // The peer received revocations we do not remember sending: either we lost state (it proves it with our
            // own secret) or it lies.
            var claimed = m.NextRevocationNumber - 1;
            if (claimed <= PerCommitmentSecrets.FirstIndex && _keys.PerCommitmentSecret(claimed) == m.YourLastPerCommitmentSecret)
            {
                var point = Point.IsValid(m.MyCurrentPerCommitmentPoint.Span) ? m.MyCurrentPerCommitmentPoint.ToPubKey() : null;
                o.Event(new LocalDataLoss(point));
                o.Send(new Error(ChannelId, System.Text.Encoding.ASCII.GetBytes("We lost channel state: please force close.")));
                return _s with { State = ChannelState.LocalDataLoss, Offline = false, DataLossRemotePoint = point };
            }
            throw new ChannelProtocolException($"channel_reestablish claims next_revocation_number {m.NextRevocationNumber} but our commitment is {localIndex} and the secret does not prove it.");
        }
        var expectedSecret = m.NextRevocationNumber == 0 ? Bytes32.Zero : _keys.PerCommitmentSecret(m.NextRevocationNumber - 1);
        if (m.YourLastPerCommitmentSecret != expectedSecret)
        {
            throw new ChannelProtocolException("channel_reestablish your_last_per_commitment_secret is wrong.");
        }
        var resendRevoke = m.NextRevocationNumber + 1 == localIndex;
        if (!resendRevoke && m.NextRevocationNumber != localIndex)
        {
            throw new ChannelProtocolException($"channel_reestablish next_revocation_number {m.NextRevocationNumber} is behind our commitment {localIndex}.");
        }
        var resendCommit = false;
        if (_s.RemoteNext is { } pending)
        {
            resendCommit = m.NextCommitmentNumber == pending.Index;
            if (!resendCommit && m.NextCommitmentNumber != pending.Index + 1)
            {
                throw new ChannelProtocolException($"channel_reestablish next_commitment_number {m.NextCommitmentNumber}, we signed {pending.Index}.");
            }
        }
        else if (m.NextCommitmentNumber != _s.Remote.Index + 1)
        {
            throw new ChannelProtocolException($"channel_reestablish next_commitment_number {m.NextCommitmentNumber}, expected {_s.Remote.Index + 1}.");
        }

        var next = _s with { Offline = false };
        if (next.ReadySent && m.NextCommitmentNumber == 1 && localIndex == 0)
        {
            o.Send(new ChannelReady(ChannelId, new Point(_keys.PerCommitmentPoint(1))));
        }
        var revokeFirst = _s.RemoteNext is null || _s.RemoteNextSentAfterLocalIndex == localIndex;
        if (resendRevoke && revokeFirst)
        {
            o.Send(RevocationFor(localIndex - 1));
        }
        if (resendCommit)
        {
            var signed = _s.RemoteNext!;
            foreach (var update in _s.LocalSigned)
            {
                o.Send(update);
            }
            var (signature, htlcSignatures) = SignRemote(signed.Index, signed.Point, signed.Spec);
            o.Send(new CommitmentSigned(ChannelId, signature, htlcSignatures));
        }
        if (resendRevoke && !revokeFirst)
        {
            o.Send(RevocationFor(localIndex - 1));
        }
        if (next.LocalShutdownScript is { } shutdownScript)
        {
            o.Send(new Messages.Shutdown(ChannelId, shutdownScript.ToBytes(true)));
        }
        if (next.State is ChannelState.Normal or ChannelState.ShuttingDown)
        {
            foreach (var update in next.LocalProposed)
            {
                o.Send(update);
            }
        }
        if (next.State == ChannelState.NegotiatingClose)
        {
            RestartNegotiation(next, o);
            return next with { ClosingReceived = [] };
        }
        next = MaybeReplyShutdown(next, o);
        return MaybeStartNegotiation(next, o);
    }
}
