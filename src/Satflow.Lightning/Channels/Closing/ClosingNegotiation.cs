using System.Globalization;
using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Channels.Opening;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Channels.Closing;

/// <summary>What fee we want and accept for a mutual close.</summary>
/// <param name="TargetFeeratePerKw">The feerate we propose (our estimate of the cost of inclusion).</param>
/// <param name="MaxFee">The highest fee we accept (the funder is the one paying it).</param>
public sealed record ClosingFeePolicy(uint TargetFeeratePerKw, Money MaxFee)
{
    /// <summary>The lowest fee we accept; null means the fee at 253 sat/kw (the relay floor).</summary>
    public Money? MinFee { get; init; }
}

/// <summary>The outcome of handling one <c>closing_signed</c>.</summary>
/// <param name="Reply">The <c>closing_signed</c> to send back, or null.</param>
/// <param name="ClosingTransaction">The fully signed closing transaction to broadcast once both agree, or null.</param>
public sealed record ClosingStep(ClosingSigned? Reply, Transaction? ClosingTransaction)
{
    /// <summary>True when the negotiation is over and <see cref="ClosingTransaction"/> can be broadcast.</summary>
    public bool IsCompleted => ClosingTransaction is not null;
}

/// <summary>
/// The legacy BOLT 2 mutual close negotiation (<c>closing_signed</c> with <c>fee_range</c>, used when
/// <c>option_simple_close</c> is not negotiated), once both <c>shutdown</c> messages are exchanged and no HTLC remains.
/// The funder pays the fee and proposes first. Outputs below the larger of both dust limits are omitted. Pure: a failed
/// step throws a <see cref="ClosingException"/> and leaves the object unchanged.
/// </summary>
public sealed class ClosingNegotiation
{
    private const uint RelayFloorPerKw = 253;

    private readonly ChannelStaticParameters _parameters;
    private readonly LocalChannelKeys _keys;
    private readonly MilliSatoshi _localBalance;
    private readonly MilliSatoshi _remoteBalance;
    private readonly Script _localScript;
    private readonly Script _remoteScript;
    private readonly Money _dustLimit;
    private readonly long _funderSat;
    private readonly long _weight;
    private Money? _lastSentFee;
    private Money? _lastReceivedFee;
    private Transaction? _closingTransaction;

    /// <summary>Prepares the negotiation.</summary>
    /// <param name="parameters">The channel's static parameters.</param>
    /// <param name="keys">Our channel keys.</param>
    /// <param name="localBalance">Our final balance (no HTLC left).</param>
    /// <param name="remoteBalance">The peer's final balance.</param>
    /// <param name="localScript">Our shutdown script.</param>
    /// <param name="remoteScript">The peer's shutdown script.</param>
    /// <param name="policy">The fees we propose and accept.</param>
    /// <exception cref="ArgumentException">When the balances exceed the capacity or the keys are not the channel's.</exception>
    public ClosingNegotiation(ChannelStaticParameters parameters, LocalChannelKeys keys, MilliSatoshi localBalance, MilliSatoshi remoteBalance, Script localScript, Script remoteScript, ClosingFeePolicy policy)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(localScript);
        ArgumentNullException.ThrowIfNull(remoteScript);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(policy.MaxFee);
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
        _localScript = localScript;
        _remoteScript = remoteScript;
        _dustLimit = Money.Max(parameters.LocalDustLimit, parameters.RemoteDustLimit);
        _funderSat = (long)(parameters.LocalIsFunder ? localBalance : remoteBalance).TruncateToSatoshis();
        _weight = EstimateWeight();
        var max = Math.Max(0, Math.Min(policy.MaxFee.Satoshi, _funderSat));
        var min = Math.Min(policy.MinFee?.Satoshi ?? FeeAt(RelayFloorPerKw), max);
        min = Math.Max(0, min);
        OurFeeRange = new ClosingFeeRange(new Satoshis((ulong)min), new Satoshis((ulong)max));
        TargetFee = Money.Satoshis(Math.Clamp(FeeAt(policy.TargetFeeratePerKw), min, max));
    }

    /// <summary>The channel id.</summary>
    public ChannelId ChannelId => _parameters.ChannelId;

    /// <summary>The fee range we send (already clamped to the funder's balance).</summary>
    public ClosingFeeRange OurFeeRange { get; }

    /// <summary>The fee we propose first (our target feerate over the closing transaction's weight, within our range).</summary>
    public Money TargetFee { get; }

    /// <summary>The fully signed closing transaction once agreed, else null.</summary>
    public Transaction? ClosingTransaction => _closingTransaction;

    /// <summary>True once both sides agreed on a fee.</summary>
    public bool IsCompleted => _closingTransaction is not null;

    /// <summary>The first <c>closing_signed</c>: the funder proposes <see cref="TargetFee"/>; the fundee returns null and waits.</summary>
    /// <exception cref="InvalidOperationException">When called twice or after the negotiation ended.</exception>
    public ClosingSigned? Start()
    {
        if (_lastSentFee is not null || _lastReceivedFee is not null || IsCompleted)
        {
            throw new InvalidOperationException("The closing negotiation has already started.");
        }
        if (!_parameters.LocalIsFunder)
        {
            return null;
        }
        var tx = Build(TargetFee);
        if (tx.Transaction.Outputs.Count == 0)
        {
            throw new InvalidOperationException("Every output of the closing transaction would be dust.");
        }
        var message = Propose(TargetFee, tx, OurFeeRange);
        _lastSentFee = TargetFee;
        return message;
    }

    /// <summary>Handles the peer's <c>closing_signed</c>.</summary>
    /// <exception cref="ClosingException">When a BOLT 2 rule fails (the object is unchanged).</exception>
    public ClosingStep Handle(ClosingSigned message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (IsCompleted)
        {
            throw Fail(ClosingFailure.UnexpectedMessage, $"closing_signed received after the negotiation completed");
        }
        if (message.ChannelId != ChannelId)
        {
            throw Fail(ClosingFailure.UnexpectedMessage, $"closing_signed for channel {message.ChannelId}, expected {ChannelId}");
        }
        if (_parameters.LocalIsFunder && _lastSentFee is null)
        {
            throw Fail(ClosingFailure.UnexpectedMessage, $"closing_signed received before the funder proposed");
        }
        if (message.FeeSatoshis.Value > (ulong)_funderSat)
        {
            throw Fail(ClosingFailure.FeeExceedsBalance, $"fee_satoshis {message.FeeSatoshis.Value} exceeds the funder's balance {_funderSat}");
        }
        if (message.FeeRange is { } range && range.MinFeeSatoshis.Value > range.MaxFeeSatoshis.Value)
        {
            throw Fail(ClosingFailure.InvalidFeeRange, $"fee_range minimum {range.MinFeeSatoshis.Value} is above its maximum {range.MaxFeeSatoshis.Value}");
        }
        var fee = Money.Satoshis((long)message.FeeSatoshis.Value);
        var signed = VerifiedVariant(message, fee, out var remoteSignature);
        if (signed.Transaction.Outputs.Count == 0)
        {
            throw Fail(ClosingFailure.NoOutputLeft, $"fee_satoshis {fee.Satoshi} leaves no output above the dust limit");
        }
        foreach (var output in signed.Transaction.Outputs)
        {
            if (output.Value < ShutdownScript.DustThreshold(output.ScriptPubKey))
            {
                throw Fail(ClosingFailure.DustOutput, $"closing output of {output.Value.Satoshi} sat is below the dust threshold of its script");
            }
        }

        if (_lastSentFee is { } sent && sent == fee)
        {
            return Complete(signed, remoteSignature, fee, reply: null);
        }

        ClosingFeeRange ourRange;
        Money? proposal;
        if (message.FeeRange is { } theirRange)
        {
            ourRange = _parameters.LocalIsFunder
                ? OurFeeRange
                : OurFeeRange with { MaxFeeSatoshis = new Satoshis(Math.Min(Math.Max(OurFeeRange.MaxFeeSatoshis.Value, theirRange.MaxFeeSatoshis.Value), (ulong)_funderSat)) };
            var low = Math.Max(ourRange.MinFeeSatoshis.Value, theirRange.MinFeeSatoshis.Value);
            var high = Math.Min(ourRange.MaxFeeSatoshis.Value, theirRange.MaxFeeSatoshis.Value);
            if (low > high)
            {
                throw Fail(ClosingFailure.DisjointFeeRanges, $"fee_range [{theirRange.MinFeeSatoshis.Value}, {theirRange.MaxFeeSatoshis.Value}] does not overlap ours [{ourRange.MinFeeSatoshis.Value}, {ourRange.MaxFeeSatoshis.Value}]");
            }
            var inOverlap = message.FeeSatoshis.Value >= low && message.FeeSatoshis.Value <= high;
            if (_parameters.LocalIsFunder)
            {
                // The funder MUST fail unless the fee is in the overlap, and then MUST reply with the same fee.
                if (!inOverlap)
                {
                    throw Fail(ClosingFailure.FeeOutOfRange, $"fee_satoshis {fee.Satoshi} is not in the overlap [{low}, {high}] of the fee ranges");
                }
                proposal = null;
            }
            else if (_lastSentFee is { } alreadySent)
            {
                // The fundee already proposed: the funder must have taken that value (the equal case is handled above).
                throw Fail(ClosingFailure.FeeOutOfRange, $"fee_satoshis {fee.Satoshi} is not the {alreadySent.Satoshi} we proposed");
            }
            else
            {
                // The fundee MUST propose a fee in the overlap: the funder's when it is there, else the nearest bound.
                proposal = inOverlap ? null : Money.Satoshis((long)Math.Clamp(message.FeeSatoshis.Value, low, high));
            }
        }
        else
        {
            ourRange = OurFeeRange;
            if (_lastSentFee is { } lastSent && _lastReceivedFee is { } lastReceived && !StrictlyBetween(fee, lastSent, lastReceived))
            {
                throw Fail(ClosingFailure.FeeOutOfRange, $"fee_satoshis {fee.Satoshi} is not strictly between {lastSent.Satoshi} and {lastReceived.Satoshi}");
            }
            var min = (long)ourRange.MinFeeSatoshis.Value;
            var max = (long)ourRange.MaxFeeSatoshis.Value;
            if (fee.Satoshi >= min && fee.Satoshi <= max)
            {
                proposal = null;
            }
            else
            {
                var next = Money.Satoshis(fee.Satoshi > max ? max : min);
                if (_lastSentFee is { } previous && next == previous)
                {
                    throw Fail(ClosingFailure.FeeOutOfRange, $"fee_satoshis {fee.Satoshi} is outside [{min}, {max}] and we cannot move past {previous.Satoshi}");
                }
                proposal = next;
            }
        }

        if (proposal is null)
        {
            // We agree with the received fee: echo it and finish.
            var reply = Propose(fee, signed, ourRange);
            return Complete(signed, remoteSignature, fee, reply);
        }
        var counter = Build(proposal);
        if (counter.Transaction.Outputs.Count == 0)
        {
            throw Fail(ClosingFailure.NoOutputLeft, $"our counter-proposal {proposal.Satoshi} leaves no output above the dust limit");
        }
        var counterMessage = Propose(proposal, counter, ourRange);
        _lastReceivedFee = fee;
        _lastSentFee = proposal;
        return new ClosingStep(counterMessage, null);
    }

    private ClosingStep Complete(Transactions.ClosingTransaction signed, ECDSASignature remoteSignature, Money fee, ClosingSigned? reply)
    {
        var localSignature = signed.Sign(_keys.FundingKey);
        var tx = signed.Finalize(_parameters.Local.FundingPubKey, localSignature, _parameters.Remote.FundingPubKey, remoteSignature);
        _lastReceivedFee = fee;
        _lastSentFee = fee;
        _closingTransaction = tx;
        return new ClosingStep(reply, tx);
    }

    private ClosingSigned Propose(Money fee, Transactions.ClosingTransaction tx, ClosingFeeRange range) =>
        new(ChannelId, new Satoshis((ulong)fee.Satoshi), ChannelSignatures.ToWire(tx.Sign(_keys.FundingKey))) { FeeRange = range };

    /// <summary>
    /// The variant the peer signed: the standard one, or (BOLT 3: a signer MAY eliminate its own output) the one
    /// without the peer's output.
    /// </summary>
    private Transactions.ClosingTransaction VerifiedVariant(ClosingSigned message, Money fee, out ECDSASignature signature)
    {
        if (!ChannelSignatures.TryFromWire(message.Signature, out signature))
        {
            throw Fail(ClosingFailure.InvalidSignature, $"closing_signed signature is malformed or not low-S");
        }
        var standard = Build(fee);
        if (Verify(standard, signature))
        {
            return standard;
        }
        if (standard.RemoteOutputIndex is not null)
        {
            var withoutRemote = Build(fee, omitRemote: true);
            if (withoutRemote.Transaction.Outputs.Count > 0 && Verify(withoutRemote, signature))
            {
                return withoutRemote;
            }
        }
        throw Fail(ClosingFailure.InvalidSignature, $"closing_signed signature is not valid for any variant of the closing transaction with fee {fee.Satoshi}");
    }

    private bool Verify(Transactions.ClosingTransaction tx, ECDSASignature signature)
    {
        var hash = tx.Transaction.GetSignatureHash(tx.FundingScript, 0, SigHash.All, tx.FundingOutput, HashVersion.WitnessV0);
        return _parameters.Remote.FundingPubKey.Verify(hash, signature);
    }

    private Transactions.ClosingTransaction Build(Money fee, bool omitRemote = false)
    {
        var full = ClosingTransactionBuilder.BuildLegacy(
            _parameters.FundingOutPoint, _parameters.FundingAmount, _parameters.Local.FundingPubKey, _parameters.Remote.FundingPubKey,
            _localScript, _remoteScript, _localBalance, _remoteBalance, fee, _parameters.LocalIsFunder, _dustLimit);
        if (!omitRemote || full.RemoteOutputIndex is not { } remoteIndex)
        {
            return full;
        }
        // The peer eliminated its own output: our output keeps its amount, the peer's value goes to fees.
        var tx = full.Transaction;
        tx.Outputs.RemoveAt(remoteIndex);
        return new Transactions.ClosingTransaction(tx, full.FundingScript, full.FundingOutput, full.LocalOutputIndex is null ? null : 0, null);
    }

    private long EstimateWeight()
    {
        var tx = ClosingTransactionBuilder.BuildLegacy(
            _parameters.FundingOutPoint, _parameters.FundingAmount, _parameters.Local.FundingPubKey, _parameters.Remote.FundingPubKey,
            _localScript, _remoteScript, _localBalance, _remoteBalance, Money.Zero, _parameters.LocalIsFunder, Money.Zero).Transaction;
        tx.Inputs[0].WitScript = new WitScript(new byte[][] { [], new byte[73], new byte[73], _parameters.FundingScript.ToBytes(true) });
        return tx.GetVirtualSize() * 4L;
    }

    private long FeeAt(uint feeratePerKw) => feeratePerKw * _weight / 1000;

    private static bool StrictlyBetween(Money fee, Money a, Money b) =>
        fee.Satoshi > Math.Min(a.Satoshi, b.Satoshi) && fee.Satoshi < Math.Max(a.Satoshi, b.Satoshi);

    private static ClosingException Fail(ClosingFailure reason, FormattableString text) =>
        new(reason, text.ToString(CultureInfo.InvariantCulture));
}
