using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transactions;

/// <summary>A closing transaction with the funding input still unsigned.</summary>
/// <param name="Transaction">The unsigned transaction.</param>
/// <param name="FundingScript">The 2-of-2 funding witness script spent by the input.</param>
/// <param name="FundingOutput">The funding output spent (for signature hashes).</param>
/// <param name="LocalOutputIndex">The index of our output, or <c>null</c> when it was omitted.</param>
/// <param name="RemoteOutputIndex">The index of the peer's output, or <c>null</c> when it was omitted.</param>
public sealed record ClosingTransaction(Transaction Transaction, Script FundingScript, TxOut FundingOutput, int? LocalOutputIndex, int? RemoteOutputIndex)
{
    /// <summary>Signs the funding input (SIGHASH_ALL, no low-R grinding).</summary>
    public ECDSASignature Sign(Key fundingKey) => Bolt3Signing.Sign(Transaction, 0, FundingScript, FundingOutput, SigHash.All, fundingKey);

    /// <summary>The transaction with the witness <c>0 &lt;sig for pubkey1&gt; &lt;sig for pubkey2&gt; &lt;script&gt;</c>.</summary>
    public Transaction Finalize(PubKey localFundingPubKey, ECDSASignature localSignature, PubKey remoteFundingPubKey, ECDSASignature remoteSignature)
    {
        ArgumentNullException.ThrowIfNull(localFundingPubKey);
        ArgumentNullException.ThrowIfNull(localSignature);
        ArgumentNullException.ThrowIfNull(remoteFundingPubKey);
        ArgumentNullException.ThrowIfNull(remoteSignature);
        var tx = Transaction.Clone();
        var localFirst = localFundingPubKey.Compress().ToBytes().AsSpan().SequenceCompareTo(remoteFundingPubKey.Compress().ToBytes()) <= 0;
        var (first, second) = localFirst ? (localSignature, remoteSignature) : (remoteSignature, localSignature);
        tx.Inputs[0].WitScript = new WitScript(new byte[][]
        {
            [],
            new TransactionSignature(first, SigHash.All).ToBytes(),
            new TransactionSignature(second, SigHash.All).ToBytes(),
            FundingScript.ToBytes(true),
        });
        return tx;
    }
}

/// <summary>Builds BOLT 3 closing transactions: the legacy <c>closing_signed</c> variant and the <c>option_simple_close</c> variant.</summary>
public static class ClosingTransactionBuilder
{
    /// <summary>
    /// The legacy closing transaction (<c>closing_signed</c>): version 2, locktime 0, sequence 0xFFFFFFFF, the fee taken
    /// from the funder, amounts rounded down, outputs below our dust limit removed, BIP 69 output order.
    /// </summary>
    /// <exception cref="ArgumentException">When the balances exceed the funding amount or the fee exceeds the funder's balance.</exception>
    public static ClosingTransaction BuildLegacy(
        OutPoint fundingOutPoint,
        Money fundingAmount,
        PubKey localFundingPubKey,
        PubKey remoteFundingPubKey,
        Script localScriptPubKey,
        Script remoteScriptPubKey,
        MilliSatoshi toLocal,
        MilliSatoshi toRemote,
        Money fee,
        bool localIsFunder,
        Money dustLimit)
    {
        ArgumentNullException.ThrowIfNull(fee);
        ArgumentNullException.ThrowIfNull(dustLimit);
        var (localSat, remoteSat) = Amounts(fundingAmount, toLocal, toRemote, fee, localIsFunder);
        var tx = NewTransaction(fundingOutPoint, LockTime.Zero, Sequence.Final);
        var candidates = new List<(TxOut Out, bool Local)>();
        if (localSat >= dustLimit.Satoshi)
        {
            candidates.Add((new TxOut(Money.Satoshis(localSat), localScriptPubKey), true));
        }
        if (remoteSat >= dustLimit.Satoshi)
        {
            candidates.Add((new TxOut(Money.Satoshis(remoteSat), remoteScriptPubKey), false));
        }
        return Finish(tx, fundingAmount, localFundingPubKey, remoteFundingPubKey, candidates);
    }

    /// <summary>
    /// The <c>option_simple_close</c> closing transaction: version 2, the given locktime, sequence 0xFFFFFFFD, the fee
    /// paid by the closer, an <c>OP_RETURN</c> output carrying 0 sat, a side's output omitted when its script is null,
    /// outputs in BIP 69 order.
    /// </summary>
    /// <param name="fundingOutPoint">The funding output.</param>
    /// <param name="fundingAmount">Its amount.</param>
    /// <param name="localFundingPubKey">Our funding key.</param>
    /// <param name="remoteFundingPubKey">The peer's funding key.</param>
    /// <param name="localIsCloser">Whether we send <c>closing_complete</c> (and pay the fee).</param>
    /// <param name="closerScriptPubKey">The closer's output script, or <c>null</c> to omit the closer's output.</param>
    /// <param name="closeeScriptPubKey">The closee's output script, or <c>null</c> to omit the closee's output.</param>
    /// <param name="closerBalance">The closer's final balance.</param>
    /// <param name="closeeBalance">The closee's final balance.</param>
    /// <param name="fee">The fee, from <c>closing_complete.fee_satoshis</c>.</param>
    /// <param name="lockTime">The locktime from <c>closing_complete</c>.</param>
    /// <exception cref="ArgumentException">When the balances exceed the funding amount or the fee exceeds the closer's balance.</exception>
    public static ClosingTransaction BuildSimple(
        OutPoint fundingOutPoint,
        Money fundingAmount,
        PubKey localFundingPubKey,
        PubKey remoteFundingPubKey,
        bool localIsCloser,
        Script? closerScriptPubKey,
        Script? closeeScriptPubKey,
        MilliSatoshi closerBalance,
        MilliSatoshi closeeBalance,
        Money fee,
        LockTime lockTime)
    {
        ArgumentNullException.ThrowIfNull(fee);
        var (closerSat, closeeSat) = Amounts(fundingAmount, closerBalance, closeeBalance, fee, funderIsFirst: true);
        var tx = NewTransaction(fundingOutPoint, lockTime, new Sequence(0xFFFFFFFDu));
        var candidates = new List<(TxOut Out, bool Local)>();
        if (closerScriptPubKey is not null)
        {
            candidates.Add((new TxOut(IsOpReturn(closerScriptPubKey) ? Money.Zero : Money.Satoshis(closerSat), closerScriptPubKey), localIsCloser));
        }
        if (closeeScriptPubKey is not null)
        {
            candidates.Add((new TxOut(IsOpReturn(closeeScriptPubKey) ? Money.Zero : Money.Satoshis(closeeSat), closeeScriptPubKey), !localIsCloser));
        }
        if (candidates.Count == 0)
        {
            throw new ArgumentException("A closing transaction needs at least one output.", nameof(closeeScriptPubKey));
        }
        return Finish(tx, fundingAmount, localFundingPubKey, remoteFundingPubKey, candidates);
    }

    private static (long First, long Second) Amounts(Money fundingAmount, MilliSatoshi first, MilliSatoshi second, Money fee, bool funderIsFirst)
    {
        ArgumentNullException.ThrowIfNull(fundingAmount);
        if (first + second > MilliSatoshi.FromSatoshis((ulong)fundingAmount.Satoshi))
        {
            throw new ArgumentException("The balances exceed the funding amount.", nameof(first));
        }
        var firstSat = (long)first.TruncateToSatoshis();
        var secondSat = (long)second.TruncateToSatoshis();
        ref var payer = ref funderIsFirst ? ref firstSat : ref secondSat;
        if (fee.Satoshi < 0 || fee.Satoshi > payer)
        {
            throw new ArgumentException($"The fee {fee} is negative or exceeds the paying side's balance.", nameof(fee));
        }
        payer -= fee.Satoshi;
        return (firstSat, secondSat);
    }

    private static Transaction NewTransaction(OutPoint fundingOutPoint, LockTime lockTime, Sequence sequence)
    {
        ArgumentNullException.ThrowIfNull(fundingOutPoint);
        var tx = Transaction.Create(Network.Main);
        tx.Version = 2;
        tx.LockTime = lockTime;
        tx.Inputs.Add(fundingOutPoint).Sequence = sequence;
        return tx;
    }

    private static ClosingTransaction Finish(Transaction tx, Money fundingAmount, PubKey localFundingPubKey, PubKey remoteFundingPubKey, List<(TxOut Out, bool Local)> candidates)
    {
        var fundingScript = Bolt3Scripts.Funding(localFundingPubKey, remoteFundingPubKey);
        var ordered = candidates.OrderBy(c => c, Comparer<(TxOut Out, bool Local)>.Create((a, b) => OutputOrdering.Compare(a.Out, 0, b.Out, 0))).ToList();
        int? localIndex = null, remoteIndex = null;
        for (var i = 0; i < ordered.Count; i++)
        {
            tx.Outputs.Add(ordered[i].Out);
            if (ordered[i].Local)
            {
                localIndex = i;
            }
            else
            {
                remoteIndex = i;
            }
        }
        return new ClosingTransaction(tx, fundingScript, new TxOut(fundingAmount, fundingScript.WitHash.ScriptPubKey), localIndex, remoteIndex);
    }

    private static bool IsOpReturn(Script script) => script.Length > 0 && script.ToBytes(true)[0] == (byte)OpcodeType.OP_RETURN;
}
