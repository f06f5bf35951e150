using NBitcoin;

namespace Satflow.Lightning.Transactions.Sweeps;

/// <summary>A fully signed claim transaction with its fee accounting.</summary>
/// <param name="Transaction">The signed transaction.</param>
/// <param name="SpentOutputs">The outputs spent, in input order (for script validation and fee checks).</param>
/// <param name="Fee">The fee paid.</param>
/// <param name="EstimatedWeight">
/// The weight the fee was computed for, assuming 73-byte signatures; the actual weight is at most this (shorter DER
/// signatures make it a few units lighter).
/// </param>
public sealed record SweepTransaction(Transaction Transaction, IReadOnlyList<TxOut> SpentOutputs, Money Fee, int EstimatedWeight)
{
    /// <summary>The actual weight of the signed transaction.</summary>
    public int Weight => SweepTransactionBuilder.WeightOf(Transaction);
}

/// <summary>
/// Builds a signed transaction spending any set of <see cref="SweepInput"/>s to one destination script, paying
/// <c>feerate_per_kw · weight / 1000</c> (BOLT 5). Pure: no chain access, no clock.
/// </summary>
public static class SweepTransactionBuilder
{
    /// <summary>The default dust limit for the swept output.</summary>
    public static Money DefaultDustLimit { get; } = Money.Satoshis(330);

    /// <summary>Spends <paramref name="inputs"/> to <paramref name="destination"/> at <paramref name="feeratePerKw"/>.</summary>
    /// <param name="inputs">The outputs to spend (at least one).</param>
    /// <param name="destination">Where the swept value goes.</param>
    /// <param name="feeratePerKw">Fee rate in satoshis per 1000 weight units.</param>
    /// <param name="dustLimit">The smallest acceptable output (<see cref="DefaultDustLimit"/> when <c>null</c>).</param>
    /// <exception cref="SweepException">
    /// <see cref="SweepFailure.OutputBelowDust"/> when the value left after the fee is below the dust limit;
    /// <see cref="SweepFailure.KeyMismatch"/> when an external signer returns a signature that does not verify.
    /// </exception>
    public static SweepTransaction Build(IReadOnlyList<SweepInput> inputs, Script destination, uint feeratePerKw, Money? dustLimit = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(destination);
        if (inputs.Count == 0)
        {
            throw new SweepException(SweepFailure.NothingToClaim, "No input to sweep.");
        }
        var dust = dustLimit ?? DefaultDustLimit;
        var total = inputs.Select(i => i.SpentOutput.Value).Sum();
        var tx = Unsigned(inputs, [new TxOut(total, destination)]);
        var weight = EstimateWeight(tx, inputs);
        var fee = FeeFor(feeratePerKw, weight);
        var value = total - fee;
        if (value < dust)
        {
            throw new SweepException(SweepFailure.OutputBelowDust, $"Sweeping {total} at {feeratePerKw} sat/kw costs {fee}, leaving {value}, below the dust limit {dust}.");
        }
        tx.Outputs[0].Value = value;
        Sign(tx, inputs);
        return new SweepTransaction(tx, inputs.Select(i => i.SpentOutput).ToList(), fee, weight);
    }

    /// <summary><c>feerate_per_kw · weight / 1000</c>, rounded down as in BOLT 3.</summary>
    public static Money FeeFor(uint feeratePerKw, int weight) => Money.Satoshis((long)feeratePerKw * weight / 1000);

    /// <summary>The weight of a transaction: 3 × stripped size + total size.</summary>
    public static int WeightOf(Transaction transaction)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        return (transaction.GetSerializedSize(TransactionOptions.None) * 3) + transaction.GetSerializedSize(TransactionOptions.All);
    }

    /// <summary>
    /// The weight of <paramref name="transaction"/> once every input has its witness with a 73-byte signature: the
    /// non-witness data ×4, the 2-byte segwit marker and flag, and each input's <see cref="SweepInput.MaxWitnessWeight"/>.
    /// </summary>
    internal static int EstimateWeight(Transaction transaction, IReadOnlyList<SweepInput> inputs) =>
        (transaction.GetSerializedSize(TransactionOptions.None) * 4) + 2 + inputs.Sum(i => i.MaxWitnessWeight);

    internal static Transaction Unsigned(IReadOnlyList<SweepInput> inputs, IEnumerable<TxOut> outputs)
    {
        var tx = Transaction.Create(Network.Main);
        tx.Version = 2;
        tx.LockTime = new LockTime(inputs.Max(i => i.RequiredLockTime));
        foreach (var input in inputs)
        {
            var txIn = tx.Inputs.Add(input.OutPoint);
            txIn.Sequence = input.Sequence;
        }
        tx.Outputs.AddRange(outputs);
        return tx;
    }

    internal static void Sign(Transaction tx, IReadOnlyList<SweepInput> inputs)
    {
        for (var i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            var hash = tx.GetSignatureHash(input.ScriptCode, i, SigHash.All, input.SpentOutput, HashVersion.WitnessV0);
            var signature = input.Signer(hash);
            if (signature is null || !input.PubKey.Verify(hash, signature))
            {
                throw new SweepException(SweepFailure.KeyMismatch, $"The signature for input {i} does not verify against its public key.");
            }
            tx.Inputs[i].WitScript = input.Witness(new TransactionSignature(signature, SigHash.All).ToBytes());
        }
    }
}
