using NBitcoin;

namespace Satflow.Lightning.Transactions;

/// <summary>An unsigned second-stage HTLC transaction (HTLC-timeout or HTLC-success) spending one commitment output.</summary>
public sealed class HtlcTransaction
{
    internal HtlcTransaction(Transaction transaction, CommitmentOutput spentOutput, CommitmentFormat format)
    {
        Unsigned = transaction;
        SpentOutput = spentOutput;
        Format = format;
    }

    internal Transaction Unsigned { get; }

    /// <summary>The unsigned transaction (a copy).</summary>
    public Transaction Transaction => Unsigned.Clone();

    /// <summary>The commitment HTLC output it spends.</summary>
    public CommitmentOutput SpentOutput { get; }

    /// <summary>The HTLC.</summary>
    public CommitmentHtlc Htlc => SpentOutput.Htlc!;

    /// <summary>The commitment format (decides the remote signature's sighash flags).</summary>
    public CommitmentFormat Format { get; }

    /// <summary>Whether this is an HTLC-success (received HTLC) rather than an HTLC-timeout (offered HTLC).</summary>
    public bool IsSuccess => Htlc.Direction == HtlcDirection.Received;

    /// <summary>The sighash the counterparty's signature uses: <c>SINGLE|ANYONECANPAY</c> with anchors, else <c>ALL</c>.</summary>
    public SigHash RemoteSigHash => Format == CommitmentFormat.AnchorOutputs ? SigHash.Single | SigHash.AnyoneCanPay : SigHash.All;
}

/// <summary>Builds BOLT 3 HTLC-timeout and HTLC-success transactions.</summary>
public static class HtlcTransactionBuilder
{
    /// <summary>The second-stage transactions of every untrimmed HTLC, in commitment output order.</summary>
    public static IReadOnlyList<HtlcTransaction> BuildAll(CommitmentTransaction commitment)
    {
        ArgumentNullException.ThrowIfNull(commitment);
        return commitment.HtlcOutputs.Select(o => Build(commitment, o)).ToList();
    }

    /// <summary>The second-stage transaction of one HTLC output of the commitment.</summary>
    /// <exception cref="ArgumentException">When the output is not an HTLC output of this commitment.</exception>
    public static HtlcTransaction Build(CommitmentTransaction commitment, CommitmentOutput htlcOutput)
    {
        ArgumentNullException.ThrowIfNull(commitment);
        ArgumentNullException.ThrowIfNull(htlcOutput);
        if (htlcOutput.Htlc is not { } htlc || htlcOutput.Index >= commitment.Outputs.Count || commitment.Outputs[htlcOutput.Index] != htlcOutput)
        {
            throw new ArgumentException("Not an HTLC output of this commitment transaction.", nameof(htlcOutput));
        }
        var p = commitment.Parameters;
        var fee = Bolt3Fees.SecondStageFee(p.Format, p.FeeratePerKw, htlc.Direction);
        var tx = Transaction.Create(Network.Main);
        tx.Version = 2;
        tx.LockTime = htlc.Direction == HtlcDirection.Offered ? new LockTime(htlc.CltvExpiry) : LockTime.Zero;
        var input = tx.Inputs.Add(new OutPoint(commitment.TxId, htlcOutput.Index));
        input.Sequence = new Sequence(p.Format == CommitmentFormat.AnchorOutputs ? 1u : 0u);
        var script = Bolt3Scripts.ToLocal(commitment.Keys.RevocationPubKey, p.ToSelfDelay, commitment.Keys.LocalDelayedPubKey);
        tx.Outputs.Add(new TxOut(htlcOutput.Amount - fee, script.WitHash.ScriptPubKey));
        return new HtlcTransaction(tx, htlcOutput, p.Format);
    }
}
