using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transactions;

/// <summary>An unsigned commitment transaction with what each output is, ready to sign and to derive HTLC transactions from.</summary>
public sealed class CommitmentTransaction
{
    internal CommitmentTransaction(
        Transaction transaction,
        IReadOnlyList<CommitmentOutput> outputs,
        CommitmentParameters parameters,
        CommitmentKeys keys,
        Money baseFee,
        IReadOnlyList<CommitmentHtlc> trimmedHtlcs)
    {
        Unsigned = transaction;
        Outputs = outputs;
        Parameters = parameters;
        Keys = keys;
        BaseFee = baseFee;
        TrimmedHtlcs = trimmedHtlcs;
        FundingScript = Bolt3Scripts.Funding(keys.LocalFundingPubKey, keys.RemoteFundingPubKey);
    }

    /// <summary>The unsigned transaction (a copy is returned; modifying it does not affect this object).</summary>
    public Transaction Transaction => Unsigned.Clone();

    /// <summary>The transaction id.</summary>
    public uint256 TxId => Unsigned.GetHash();

    internal Transaction Unsigned { get; }

    /// <summary>The outputs in transaction order.</summary>
    public IReadOnlyList<CommitmentOutput> Outputs { get; }

    /// <summary>The HTLC outputs in transaction order (the order of <c>htlc_signatures</c>).</summary>
    public IEnumerable<CommitmentOutput> HtlcOutputs => Outputs.Where(o => o.Htlc is not null);

    /// <summary>HTLCs that were trimmed (their value went to fees).</summary>
    public IReadOnlyList<CommitmentHtlc> TrimmedHtlcs { get; }

    /// <summary>The channel parameters used.</summary>
    public CommitmentParameters Parameters { get; }

    /// <summary>The keys used.</summary>
    public CommitmentKeys Keys { get; }

    /// <summary>The base fee paid by the funder (before trimmed amounts and rounding are added).</summary>
    public Money BaseFee { get; }

    /// <summary>The actual fee: funding amount minus all outputs.</summary>
    public Money ActualFee => Parameters.FundingAmount - Outputs.Select(o => o.Amount).Sum();

    /// <summary>The funding witness script spent by the input.</summary>
    public Script FundingScript { get; }

    /// <summary>The funding output being spent (for signature hashes and script validation).</summary>
    public TxOut FundingOutput => new(Parameters.FundingAmount, FundingScript.WitHash.ScriptPubKey);
}

/// <summary>Builds BOLT 3 commitment transactions (both formats) following "Commitment Transaction Construction".</summary>
public static class CommitmentTransactionBuilder
{
    /// <summary>Builds the owner's commitment transaction.</summary>
    /// <param name="parameters">Channel parameters, format and feerate.</param>
    /// <param name="keys">The per-commitment keys.</param>
    /// <param name="toLocal">The owner's balance, HTLCs already excluded, fee and anchors not yet subtracted.</param>
    /// <param name="toRemote">The other party's balance, HTLCs already excluded, fee and anchors not yet subtracted.</param>
    /// <param name="htlcs">The committed HTLCs.</param>
    /// <exception cref="ArgumentException">When the amounts exceed the funding amount.</exception>
    public static CommitmentTransaction Build(
        CommitmentParameters parameters,
        CommitmentKeys keys,
        MilliSatoshi toLocal,
        MilliSatoshi toRemote,
        IReadOnlyList<CommitmentHtlc> htlcs)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(htlcs);
        var total = htlcs.Aggregate(toLocal + toRemote, (sum, h) => sum + h.Amount);
        if (total > MilliSatoshi.FromSatoshis((ulong)parameters.FundingAmount.Satoshi))
        {
            throw new ArgumentException($"Balances and HTLCs ({total}) exceed the funding amount ({parameters.FundingAmount}).", nameof(htlcs));
        }

        var format = parameters.Format;
        var untrimmed = new List<CommitmentHtlc>();
        var trimmed = new List<CommitmentHtlc>();
        foreach (var htlc in htlcs)
        {
            (Bolt3Fees.IsTrimmed(format, parameters.FeeratePerKw, parameters.DustLimit, htlc.Direction, htlc.Amount) ? trimmed : untrimmed).Add(htlc);
        }

        var baseFee = Bolt3Fees.CommitmentFee(format, parameters.FeeratePerKw, untrimmed.Count);
        var funderCost = baseFee + (format == CommitmentFormat.AnchorOutputs ? Bolt3Fees.AnchorAmount * 2 : Money.Zero);
        var localSat = (long)toLocal.TruncateToSatoshis();
        var remoteSat = (long)toRemote.TruncateToSatoshis();
        var funderSat = parameters.LocalIsFunder ? localSat : remoteSat;
        if (format == CommitmentFormat.AnchorOutputs && funderSat < (Bolt3Fees.AnchorAmount * 2).Satoshi)
        {
            // BOLT 2 forbids this state (the funder must always afford both anchors); building it would create outputs
            // worth more than the funding output. The fee itself may exceed the funder's balance (BOLT 3 trims it).
            throw new ArgumentException(
                $"The funder's balance ({funderSat} sat) cannot pay for the two anchor outputs ({(Bolt3Fees.AnchorAmount * 2).Satoshi} sat).",
                parameters.LocalIsFunder ? nameof(toLocal) : nameof(toRemote));
        }
        if (parameters.LocalIsFunder)
        {
            localSat = Math.Max(0, localSat - funderCost.Satoshi);
        }
        else
        {
            remoteSat = Math.Max(0, remoteSat - funderCost.Satoshi);
        }

        var pending = new List<(TxOut Out, CommitmentOutputKind Kind, Script? WitnessScript, CommitmentHtlc? Htlc)>();
        foreach (var htlc in untrimmed)
        {
            var script = htlc.Direction == HtlcDirection.Offered
                ? Bolt3Scripts.OfferedHtlc(keys.RevocationPubKey, keys.LocalHtlcPubKey, keys.RemoteHtlcPubKey, htlc.PaymentHash, format)
                : Bolt3Scripts.ReceivedHtlc(keys.RevocationPubKey, keys.LocalHtlcPubKey, keys.RemoteHtlcPubKey, htlc.PaymentHash, htlc.CltvExpiry, format);
            var kind = htlc.Direction == HtlcDirection.Offered ? CommitmentOutputKind.OfferedHtlc : CommitmentOutputKind.ReceivedHtlc;
            pending.Add((new TxOut(Money.Satoshis((long)htlc.Amount.TruncateToSatoshis()), script.WitHash.ScriptPubKey), kind, script, htlc));
        }

        var hasToLocal = localSat >= parameters.DustLimit.Satoshi;
        var hasToRemote = remoteSat >= parameters.DustLimit.Satoshi;
        if (hasToLocal)
        {
            var script = Bolt3Scripts.ToLocal(keys.RevocationPubKey, parameters.ToSelfDelay, keys.LocalDelayedPubKey);
            pending.Add((new TxOut(Money.Satoshis(localSat), script.WitHash.ScriptPubKey), CommitmentOutputKind.ToLocal, script, null));
        }
        if (hasToRemote)
        {
            if (format == CommitmentFormat.AnchorOutputs)
            {
                var script = Bolt3Scripts.ToRemoteAnchors(keys.RemotePaymentPubKey);
                pending.Add((new TxOut(Money.Satoshis(remoteSat), script.WitHash.ScriptPubKey), CommitmentOutputKind.ToRemote, script, null));
            }
            else
            {
                pending.Add((new TxOut(Money.Satoshis(remoteSat), keys.RemotePaymentPubKey.Compress().WitHash.ScriptPubKey), CommitmentOutputKind.ToRemote, null, null));
            }
        }
        if (format == CommitmentFormat.AnchorOutputs)
        {
            if (hasToLocal || untrimmed.Count > 0)
            {
                var script = Bolt3Scripts.Anchor(keys.LocalFundingPubKey);
                pending.Add((new TxOut(Bolt3Fees.AnchorAmount, script.WitHash.ScriptPubKey), CommitmentOutputKind.LocalAnchor, script, null));
            }
            if (hasToRemote || untrimmed.Count > 0)
            {
                var script = Bolt3Scripts.Anchor(keys.RemoteFundingPubKey);
                pending.Add((new TxOut(Bolt3Fees.AnchorAmount, script.WitHash.ScriptPubKey), CommitmentOutputKind.RemoteAnchor, script, null));
            }
        }

        var ordered = pending
            .OrderBy(p => p, Comparer<(TxOut Out, CommitmentOutputKind Kind, Script? WitnessScript, CommitmentHtlc? Htlc)>.Create(
                (a, b) => OutputOrdering.Compare(a.Out, a.Htlc?.CltvExpiry ?? 0, b.Out, b.Htlc?.CltvExpiry ?? 0)))
            .ToList();

        var tx = Transaction.Create(Network.Main);
        tx.Version = 2;
        tx.LockTime = CommitmentNumberObscuring.LockTimeOf(parameters.CommitmentNumber, parameters.ObscuringFactor);
        var input = tx.Inputs.Add(parameters.FundingOutPoint);
        input.Sequence = CommitmentNumberObscuring.SequenceOf(parameters.CommitmentNumber, parameters.ObscuringFactor);
        var outputs = new List<CommitmentOutput>(ordered.Count);
        for (var i = 0; i < ordered.Count; i++)
        {
            var (txOut, kind, witnessScript, htlc) = ordered[i];
            tx.Outputs.Add(txOut);
            outputs.Add(new CommitmentOutput(i, kind, txOut.Value, witnessScript, txOut.ScriptPubKey, htlc));
        }
        return new CommitmentTransaction(tx, outputs, parameters, keys, baseFee, trimmed);
    }
}

/// <summary>BOLT 3 output ordering: amount, then scriptPubKey bytes, then (for HTLCs) <c>cltv_expiry</c>.</summary>
public static class OutputOrdering
{
    /// <summary>Compares two outputs; <paramref name="cltvA"/>/<paramref name="cltvB"/> break ties between HTLC outputs.</summary>
    public static int Compare(TxOut a, uint cltvA, TxOut b, uint cltvB)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var byAmount = a.Value.Satoshi.CompareTo(b.Value.Satoshi);
        if (byAmount != 0)
        {
            return byAmount;
        }
        var byScript = a.ScriptPubKey.ToBytes(true).AsSpan().SequenceCompareTo(b.ScriptPubKey.ToBytes(true));
        return byScript != 0 ? byScript : cltvA.CompareTo(cltvB);
    }

    /// <summary>Sorts a transaction's outputs in place into BIP 69 order (amount, then scriptPubKey).</summary>
    public static void SortBip69(Transaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        var sorted = transaction.Outputs.OrderBy(o => o, Comparer<TxOut>.Create((a, b) => Compare(a, 0, b, 0))).ToList();
        transaction.Outputs.Clear();
        transaction.Outputs.AddRange(sorted);
    }
}
