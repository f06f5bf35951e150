using System.Globalization;
using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Channels.Opening;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels.Closing;

/// <summary>The outcome of signing the peer's <c>closing_complete</c>.</summary>
/// <param name="Reply">The <c>closing_sig</c> to send back.</param>
/// <param name="ClosingTransaction">The fully signed closing transaction (the peer pays its fee) to broadcast.</param>
public sealed record SimpleCloseSigned(ClosingSig Reply, Transaction ClosingTransaction);

/// <summary>
/// The <c>option_simple_close</c> mutual close (BOLT 2 <c>closing_complete</c>/<c>closing_sig</c>): each side may
/// propose, sign and pay for its own closing transaction; the other side signs it. Pure: a failed step throws a
/// <see cref="ClosingException"/> and leaves the object unchanged.
/// </summary>
public sealed class SimpleCloseNegotiation
{
    private readonly ChannelStaticParameters _parameters;
    private readonly LocalChannelKeys _keys;
    private readonly MilliSatoshi _localBalance;
    private readonly MilliSatoshi _remoteBalance;
    private readonly FeatureBits _negotiated;
    private Script _localScript;
    private Script _remoteScript;
    private ClosingComplete? _pending;

    /// <summary>Prepares the negotiation once both <c>shutdown</c> messages are exchanged and no HTLC remains.</summary>
    /// <param name="parameters">The channel's static parameters.</param>
    /// <param name="keys">Our channel keys.</param>
    /// <param name="localBalance">Our final balance.</param>
    /// <param name="remoteBalance">The peer's final balance.</param>
    /// <param name="localScript">The script we sent in <c>shutdown</c>.</param>
    /// <param name="remoteScript">The script the peer sent in <c>shutdown</c>.</param>
    /// <param name="negotiated">The features negotiated in <c>init</c> (shutdown script forms).</param>
    /// <exception cref="ArgumentException">When the balances exceed the capacity or the keys are not the channel's.</exception>
    public SimpleCloseNegotiation(ChannelStaticParameters parameters, LocalChannelKeys keys, MilliSatoshi localBalance, MilliSatoshi remoteBalance, Script localScript, Script remoteScript, FeatureBits negotiated)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(localScript);
        ArgumentNullException.ThrowIfNull(remoteScript);
        ArgumentNullException.ThrowIfNull(negotiated);
        if (localBalance + remoteBalance > MilliSatoshi.FromSatoshis((ulong)parameters.FundingAmount.Satoshi))
        {
            throw new ArgumentException("The balances exceed the channel capacity.", nameof(localBalance));
        }
        if (keys.Basepoints.FundingPubKey != parameters.Local.FundingPubKey)
        {
            throw new ArgumentException("The keys are not this channel's local keys.", nameof(keys));
        }
        _parameters = parameters;
        _keys = keys;
        _localBalance = localBalance;
        _remoteBalance = remoteBalance;
        _negotiated = negotiated;
        _localScript = localScript;
        _remoteScript = remoteScript;
    }

    /// <summary>The channel id.</summary>
    public ChannelId ChannelId => _parameters.ChannelId;

    /// <summary>Our current output script (the last one we sent).</summary>
    public Script LocalScript => _localScript;

    /// <summary>The peer's current output script (the last one we received).</summary>
    public Script RemoteScript => _remoteScript;

    /// <summary>True while our <c>closing_complete</c> waits for its <c>closing_sig</c>.</summary>
    public bool IsAwaitingClosingSig => _pending is not null;

    /// <summary>
    /// Proposes a closing transaction that we pay for (as the closer), with the signatures BOLT 2 requires for our
    /// balance position.
    /// </summary>
    /// <param name="fee">The fee we pay, at most our balance.</param>
    /// <param name="lockTime">The closing transaction's locktime.</param>
    /// <param name="localScript">A new output script for us, or null to keep the current one.</param>
    /// <exception cref="InvalidOperationException">When a previous <c>closing_complete</c> still waits for <c>closing_sig</c>.</exception>
    /// <exception cref="ArgumentException">When the fee exceeds our balance, leaves no non-dust output, or the script is invalid.</exception>
    public ClosingComplete CreateClosingComplete(Money fee, LockTime lockTime, Script? localScript = null)
    {
        ArgumentNullException.ThrowIfNull(fee);
        if (_pending is not null)
        {
            throw new InvalidOperationException("Wait for closing_sig before sending another closing_complete.");
        }
        var closerScript = localScript ?? _localScript;
        if (!ShutdownScript.TryValidate(closerScript, _negotiated, out _, out var reason))
        {
            throw new ArgumentException($"Invalid closer script: {reason}", nameof(localScript));
        }
        var localSat = (long)_localBalance.TruncateToSatoshis();
        if (fee.Satoshi < 0 || fee.Satoshi > localSat)
        {
            throw new ArgumentException($"The fee {fee.Satoshi} sat exceeds our balance of {localSat} sat.", nameof(fee));
        }
        var closerAmount = ShutdownScript.IsOpReturn(closerScript) ? Money.Zero : Money.Satoshis(localSat - fee.Satoshi);
        var closeeAmount = ShutdownScript.IsOpReturn(_remoteScript) ? Money.Zero : Money.Satoshis((long)_remoteBalance.TruncateToSatoshis());
        var closerDust = closerAmount < ShutdownScript.DustThreshold(closerScript);
        var closeeDust = closeeAmount < ShutdownScript.DustThreshold(_remoteScript);

        bool closerOnly, closeeOnly, both;
        if (_localBalance < _remoteBalance)
        {
            closerOnly = false;
            closeeOnly = closerDust;
            both = !closerDust;
            if (closerDust && closeeDust)
            {
                throw new ArgumentException("The fee leaves no output above the dust threshold.", nameof(fee));
            }
        }
        else
        {
            if (closerDust)
            {
                throw new ArgumentException("The fee leaves our output as dust although our balance is the larger one; use a lower fee or an OP_RETURN script.", nameof(fee));
            }
            closeeOnly = false;
            closerOnly = true;
            both = !closeeDust;
        }

        var message = new ClosingComplete
        {
            ChannelId = ChannelId,
            CloserScriptPubKey = closerScript.ToBytes(true),
            CloseeScriptPubKey = _remoteScript.ToBytes(true),
            FeeSatoshis = new Satoshis((ulong)fee.Satoshi),
            Locktime = lockTime.Value,
            CloserOutputOnly = closerOnly ? Sign(Build(true, closerScript, null, fee, lockTime)) : null,
            CloseeOutputOnly = closeeOnly ? Sign(Build(true, null, _remoteScript, fee, lockTime)) : null,
            CloserAndCloseeOutputs = both ? Sign(Build(true, closerScript, _remoteScript, fee, lockTime)) : null,
        };
        _localScript = closerScript;
        _pending = message;
        return message;
    }

    /// <summary>
    /// Signs the peer's proposal (the peer is the closer and pays the fee) and returns the transaction to broadcast.
    /// </summary>
    /// <exception cref="ClosingException">When a BOLT 2 rule for the closee fails.</exception>
    public SimpleCloseSigned HandleClosingComplete(ClosingComplete message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.ChannelId != ChannelId)
        {
            throw Fail(ClosingFailure.UnexpectedMessage, $"closing_complete for channel {message.ChannelId}, expected {ChannelId}");
        }
        var remoteSat = _remoteBalance.TruncateToSatoshis();
        if (message.FeeSatoshis.Value > remoteSat)
        {
            throw Fail(ClosingFailure.FeeExceedsBalance, $"fee_satoshis {message.FeeSatoshis.Value} exceeds the closer's balance {remoteSat}");
        }
        if (!message.CloseeScriptPubKey.Span.SequenceEqual(_localScript.ToBytes(true)))
        {
            throw Fail(ClosingFailure.ScriptMismatch, $"closee_scriptpubkey is not the last script we sent");
        }
        var closerScript = new Script(message.CloserScriptPubKey.ToArray());
        if (!ShutdownScript.TryValidate(closerScript, _negotiated, out _, out var reason))
        {
            throw Fail(ClosingFailure.InvalidShutdownScript, $"closer_scriptpubkey is invalid: {reason}");
        }
        var fee = Money.Satoshis((long)message.FeeSatoshis.Value);
        var lockTime = new LockTime(message.Locktime);
        var ourAmount = ShutdownScript.IsOpReturn(_localScript) ? Money.Zero : Money.Satoshis((long)_localBalance.TruncateToSatoshis());
        var ourDust = ourAmount < ShutdownScript.DustThreshold(_localScript);

        // BOLT 2 closee: closer_output_only when our output is dust, else both outputs when offered, else closee_output_only.
        var (variant, chosen, tx) = ourDust
            ? (Variant.CloserOnly, message.CloserOutputOnly, Build(false, closerScript, null, fee, lockTime))
            : message.CloserAndCloseeOutputs is not null
                ? (Variant.Both, message.CloserAndCloseeOutputs, Build(false, closerScript, _localScript, fee, lockTime))
                : (Variant.CloseeOnly, message.CloseeOutputOnly, Build(false, null, _localScript, fee, lockTime));
        if (chosen is not { } signature)
        {
            throw Fail(ClosingFailure.MissingSignature, $"closing_complete lacks the {variant} signature we must use");
        }
        if (!ChannelSignatures.TryFromWire(signature, out var remoteSignature) || !Verify(tx, remoteSignature))
        {
            throw Fail(ClosingFailure.InvalidSignature, $"closing_complete signature is not a valid low-S signature of the closing transaction");
        }
        var ours = tx.Sign(_keys.FundingKey);
        var signed = tx.Finalize(_parameters.Local.FundingPubKey, ours, _parameters.Remote.FundingPubKey, remoteSignature);
        var ourWire = ChannelSignatures.ToWire(ours);
        var reply = new ClosingSig
        {
            ChannelId = ChannelId,
            CloserScriptPubKey = message.CloserScriptPubKey,
            CloseeScriptPubKey = message.CloseeScriptPubKey,
            FeeSatoshis = message.FeeSatoshis,
            Locktime = message.Locktime,
            CloserOutputOnly = variant == Variant.CloserOnly ? ourWire : null,
            CloseeOutputOnly = variant == Variant.CloseeOnly ? ourWire : null,
            CloserAndCloseeOutputs = variant == Variant.Both ? ourWire : null,
        };
        _remoteScript = closerScript;
        return new SimpleCloseSigned(reply, signed);
    }

    /// <summary>Completes our own proposal with the peer's signature; the result can be broadcast.</summary>
    /// <exception cref="ClosingException">When no proposal is pending or a BOLT 2 rule for the closer fails.</exception>
    public Transaction HandleClosingSig(ClosingSig message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_pending is not { } sent)
        {
            throw Fail(ClosingFailure.UnexpectedMessage, $"closing_sig received without a pending closing_complete");
        }
        if (message.ChannelId != ChannelId)
        {
            throw Fail(ClosingFailure.UnexpectedMessage, $"closing_sig for channel {message.ChannelId}, expected {ChannelId}");
        }
        if (!message.CloserScriptPubKey.Span.SequenceEqual(sent.CloserScriptPubKey.Span) || !message.CloseeScriptPubKey.Span.SequenceEqual(sent.CloseeScriptPubKey.Span)
            || message.FeeSatoshis != sent.FeeSatoshis || message.Locktime != sent.Locktime)
        {
            throw Fail(ClosingFailure.ScriptMismatch, $"closing_sig does not match the scripts, fee and locktime of our closing_complete");
        }
        var present = (message.CloserOutputOnly is null ? 0 : 1) + (message.CloseeOutputOnly is null ? 0 : 1) + (message.CloserAndCloseeOutputs is null ? 0 : 1);
        if (present != 1)
        {
            throw Fail(ClosingFailure.MissingSignature, $"closing_sig carries {present} signatures instead of exactly one");
        }
        var closerScript = new Script(sent.CloserScriptPubKey.ToArray());
        var fee = Money.Satoshis((long)sent.FeeSatoshis.Value);
        var lockTime = new LockTime(sent.Locktime);
        (Signature64 Signature, Transactions.ClosingTransaction Tx) chosen = message switch
        {
            { CloserOutputOnly: { } s } when sent.CloserOutputOnly is not null => (s, Build(true, closerScript, null, fee, lockTime)),
            { CloseeOutputOnly: { } s } when sent.CloseeOutputOnly is not null => (s, Build(true, null, _remoteScript, fee, lockTime)),
            { CloserAndCloseeOutputs: { } s } when sent.CloserAndCloseeOutputs is not null => (s, Build(true, closerScript, _remoteScript, fee, lockTime)),
            _ => throw Fail(ClosingFailure.MissingSignature, $"closing_sig signs a variant we did not propose"),
        };
        if (!ChannelSignatures.TryFromWire(chosen.Signature, out var remoteSignature) || !Verify(chosen.Tx, remoteSignature))
        {
            throw Fail(ClosingFailure.InvalidSignature, $"closing_sig signature is not a valid low-S signature of our closing transaction");
        }
        var tx = chosen.Tx.Finalize(_parameters.Local.FundingPubKey, chosen.Tx.Sign(_keys.FundingKey), _parameters.Remote.FundingPubKey, remoteSignature);
        _pending = null;
        return tx;
    }

    private enum Variant
    {
        CloserOnly,
        CloseeOnly,
        Both,
    }

    private Transactions.ClosingTransaction Build(bool localIsCloser, Script? closerScript, Script? closeeScript, Money fee, LockTime lockTime) =>
        ClosingTransactionBuilder.BuildSimple(
            _parameters.FundingOutPoint, _parameters.FundingAmount, _parameters.Local.FundingPubKey, _parameters.Remote.FundingPubKey,
            localIsCloser, closerScript, closeeScript,
            localIsCloser ? _localBalance : _remoteBalance, localIsCloser ? _remoteBalance : _localBalance, fee, lockTime);

    private Signature64 Sign(Transactions.ClosingTransaction tx) => ChannelSignatures.ToWire(tx.Sign(_keys.FundingKey));

    private bool Verify(Transactions.ClosingTransaction tx, ECDSASignature signature)
    {
        var hash = tx.Transaction.GetSignatureHash(tx.FundingScript, 0, SigHash.All, tx.FundingOutput, HashVersion.WitnessV0);
        return _parameters.Remote.FundingPubKey.Verify(hash, signature);
    }

    private static ClosingException Fail(ClosingFailure reason, FormattableString text) =>
        new(reason, text.ToString(CultureInfo.InvariantCulture));
}
