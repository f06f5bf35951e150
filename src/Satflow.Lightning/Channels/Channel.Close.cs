using NBitcoin;
using Satflow.Lightning.Channels.Closing;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Monitor;

namespace Satflow.Lightning.Channels;

/// <summary>The live closing negotiation (not persisted: BOLT 2 restarts it after every reconnection).</summary>
internal sealed class ClosingSession(ClosingNegotiation negotiation)
{
    public ClosingNegotiation Negotiation { get; } = negotiation;
}

public sealed partial class Channel
{
    /// <summary>
    /// Starts a cooperative close: sends <c>shutdown</c> with <paramref name="ourScript"/>. No HTLC can be added
    /// afterwards; once none remains the closing fee negotiation starts (the funder proposes first).
    /// </summary>
    /// <param name="ourScript">Where our funds go (must be a BOLT 2 shutdown form and equal our upfront script, if any).</param>
    /// <exception cref="ChannelUpdateRefusedException">Invalid script, shutdown already sent, unsigned updates pending, or a closed channel.</exception>
    public ChannelOutput Shutdown(Script ourScript)
    {
        ArgumentNullException.ThrowIfNull(ourScript);
        if (_s.State is not (ChannelState.Normal or ChannelState.ShuttingDown or ChannelState.AwaitingFundingConfirmation))
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.ChannelNotNormal, $"The channel is {_s.State}.");
        }
        if (_s.LocalShutdownScript is not null || _s.DeferredShutdownScript is not null)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.ShutdownAlreadySent, "shutdown was already sent.");
        }
        if (ShutdownScriptProblem(ourScript, _funded.LocalShutdownScript) is { } problem)
        {
            throw new ChannelUpdateRefusedException(ChannelRefusalReason.InvalidShutdownScript, problem);
        }
        if (!_s.LocalProposed.IsEmpty)
        {
            if (_s.RemoteShutdownScript is null)
            {
                throw new ChannelUpdateRefusedException(ChannelRefusalReason.UnsignedUpdatesPending, "Sign the pending updates (SignCommitment) before the shutdown.");
            }
            // Answering the peer's shutdown: ours goes out right after our next commitment_signed.
            return Commit(_s with { DeferredShutdownScript = ourScript }, Begin());
        }
        var o = Begin();
        var next = SendShutdown(_s, ourScript, o);
        next = MaybeStartNegotiation(next, o);
        return Commit(next, o);
    }

    private ChannelData SendShutdown(ChannelData s, Script script, OutputBuilder o)
    {
        o.Send(new Messages.Shutdown(ChannelId, script.ToBytes(true)));
        return s with
        {
            LocalShutdownScript = script,
            DeferredShutdownScript = null,
            State = s.State == ChannelState.Normal ? ChannelState.ShuttingDown : s.State,
        };
    }

    private string? ShutdownScriptProblem(Script script, Script? upfront)
    {
        var negotiated = _options.AllowAnySegwitShutdown ? FeatureBits.Of(FeatureRegistry.ShutdownAnySegwit.EvenBit) : FeatureBits.Empty;
        if (!ShutdownScript.TryValidate(script, negotiated, out _, out var reason))
        {
            return reason;
        }
        if (upfront is not null && upfront.Length > 0 && upfront != script)
        {
            return "The shutdown script differs from the upfront shutdown script.";
        }
        return null;
    }

    private ChannelData OnShutdown(Messages.Shutdown m, OutputBuilder o)
    {
        if (_s.State is not (ChannelState.Normal or ChannelState.ShuttingDown or ChannelState.AwaitingFundingConfirmation or ChannelState.NegotiatingClose))
        {
            throw new ChannelProtocolException($"shutdown while the channel is {_s.State}.");
        }
        var script = new Script(m.ScriptPubKey.ToArray());
        if (_s.RemoteShutdownScript is { } known)
        {
            if (known != script)
            {
                throw new ChannelProtocolException("A second shutdown with a different script.");
            }
            return _s;
        }
        if (ShutdownScriptProblem(script, _funded.RemoteShutdownScript) is { } problem)
        {
            throw new ChannelProtocolException("Invalid shutdown script: " + problem);
        }
        if (!_s.RemoteProposed.IsEmpty)
        {
            throw new ChannelProtocolException("shutdown with unsigned updates of the sender pending.");
        }
        var next = _s with
        {
            RemoteShutdownScript = script,
            State = _s.State == ChannelState.Normal ? ChannelState.ShuttingDown : _s.State,
        };
        next = MaybeReplyShutdown(next, o);
        if (next.LocalShutdownScript is null && OurClosingScript() is null)
        {
            o.Event(new ShutdownRequested(script));
        }
        return MaybeStartNegotiation(next, o);
    }

    private Script? OurClosingScript() =>
        _funded.LocalShutdownScript is { Length: > 0 } upfront ? upfront : _options.ShutdownScript;

    /// <summary>Answers the peer's shutdown with ours once our own updates are all signed (BOLT 2).</summary>
    private ChannelData MaybeReplyShutdown(ChannelData s, OutputBuilder o)
    {
        if (s.RemoteShutdownScript is null || s.LocalShutdownScript is not null || !s.LocalProposed.IsEmpty || (s.DeferredShutdownScript ?? OurClosingScript()) is not { } script)
        {
            return s;
        }
        return SendShutdown(s, script, o);
    }

    private static bool NoHtlcsAndClean(ChannelData s) =>
        s.Local.Spec.Htlcs.Count == 0 && s.Remote.Spec.Htlcs.Count == 0 && s.RemoteNext is null
        && s.LocalProposed.IsEmpty && s.LocalSigned.IsEmpty && s.LocalAcked.IsEmpty
        && s.RemoteProposed.IsEmpty && s.RemoteAcked.IsEmpty && s.RemoteSigned.IsEmpty;

    /// <summary>Once both shutdowns are exchanged and nothing is pending, starts the closing negotiation.</summary>
    private ChannelData MaybeStartNegotiation(ChannelData s, OutputBuilder o)
    {
        if (s.State is not (ChannelState.ShuttingDown or ChannelState.AwaitingFundingConfirmation or ChannelState.Normal)
            || s.LocalShutdownScript is not { } local || s.RemoteShutdownScript is not { } remote || !NoHtlcsAndClean(s) || s.Offline)
        {
            return s;
        }
        var negotiation = NewNegotiation(s, local, remote);
        ClosingSigned? first;
        try
        {
            first = negotiation.Start();
        }
        catch (InvalidOperationException)
        {
            // Every output of a closing transaction would be dust: no cooperative close is possible; the host force closes.
            return s;
        }
        if (first is not null)
        {
            o.Send(first);
        }
        _pendingClosing = new ClosingSession(negotiation);
        return s with { State = ChannelState.NegotiatingClose, ClosingReceived = [] };
    }

    private ClosingNegotiation NewNegotiation(ChannelData s, Script local, Script remote)
    {
        var maxFee = Parameters.LocalIsFunder
            ? Money.Satoshis(Math.Max(1L, (long)_options.ClosingFeeratePerKw * 3))
            : Parameters.FundingAmount;
        var policy = new ClosingFeePolicy(_options.ClosingFeeratePerKw, maxFee);
        return new ClosingNegotiation(Parameters, _keys, s.Local.Spec.ToLocal, s.Local.Spec.ToRemote, local, remote, policy);
    }

    private ChannelData OnClosingSigned(ClosingSigned m, OutputBuilder o)
    {
        if (_s.State != ChannelState.NegotiatingClose)
        {
            throw new ChannelProtocolException($"closing_signed while the channel is {_s.State}.");
        }
        var session = _closing ?? RebuildNegotiation(_s);
        ClosingStep step;
        try
        {
            step = session.Negotiation.Handle(m);
        }
        catch (ClosingException e)
        {
            throw new ChannelProtocolException("Closing negotiation failed: " + e.Message, e);
        }
        catch (ArgumentException e)
        {
            throw new ChannelProtocolException("Closing negotiation failed: " + e.Message, e);
        }
        _pendingClosing = session;
        if (step.Reply is { } reply)
        {
            o.Send(reply);
        }
        if (step.ClosingTransaction is { } tx)
        {
            o.Monitor(uid => new CooperativeCloseUpdate(uid, tx));
            o.Event(new ChannelClosed(tx));
            return _s with { State = ChannelState.Closed, ClosingTransaction = tx, ClosingReceived = [] };
        }
        return _s with { ClosingReceived = _s.ClosingReceived.Add(m) };
    }

    /// <summary>Rebuilds the negotiation of a loaded channel by replaying it (signatures are deterministic).</summary>
    private ClosingSession RebuildNegotiation(ChannelData s)
    {
        var negotiation = NewNegotiation(s, s.LocalShutdownScript!, s.RemoteShutdownScript!);
        negotiation.Start();
        foreach (var received in s.ClosingReceived)
        {
            try
            {
                negotiation.Handle(received);
            }
            catch (ClosingException e)
            {
                throw new ChannelSerializationException("The persisted closing negotiation does not replay.", e);
            }
        }
        return new ClosingSession(negotiation);
    }

    private ClosingSession? _pendingClosing;

    /// <summary>After a reconnection in the negotiation phase: the funder proposes again (BOLT 2 restarts the negotiation).</summary>
    private void RestartNegotiation(ChannelData s, OutputBuilder o)
    {
        if (s.State != ChannelState.NegotiatingClose || s.LocalShutdownScript is not { } local || s.RemoteShutdownScript is not { } remote)
        {
            return;
        }
        var negotiation = NewNegotiation(s, local, remote);
        ClosingSigned? first;
        try
        {
            first = negotiation.Start();
        }
        catch (InvalidOperationException)
        {
            return;
        }
        if (first is not null)
        {
            o.Send(first);
        }
        _pendingClosing = new ClosingSession(negotiation);
    }
}
