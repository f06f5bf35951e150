using NBitcoin;
using NBitcoin.Crypto;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transactions;

/// <summary>
/// Signing and witness assembly for BOLT 3 transactions. Signatures are deterministic RFC 6979 ECDSA without low-R
/// grinding (as the BOLT 3 vectors are produced) and are exchanged without the sighash byte.
/// </summary>
public static class Bolt3Signing
{
    /// <summary>Signs the commitment transaction's funding input with a funding key (SIGHASH_ALL).</summary>
    public static ECDSASignature SignCommitment(CommitmentTransaction commitment, Key fundingKey)
    {
        ArgumentNullException.ThrowIfNull(commitment);
        ArgumentNullException.ThrowIfNull(fundingKey);
        return Sign(commitment.Unsigned, 0, commitment.FundingScript, commitment.FundingOutput, SigHash.All, fundingKey);
    }

    /// <summary>Checks a signature over the commitment transaction's funding input.</summary>
    public static bool VerifyCommitment(CommitmentTransaction commitment, ECDSASignature signature, PubKey fundingPubKey)
    {
        ArgumentNullException.ThrowIfNull(commitment);
        ArgumentNullException.ThrowIfNull(signature);
        ArgumentNullException.ThrowIfNull(fundingPubKey);
        var hash = commitment.Unsigned.GetSignatureHash(commitment.FundingScript, 0, SigHash.All, commitment.FundingOutput, HashVersion.WitnessV0);
        return fundingPubKey.Verify(hash, signature);
    }

    /// <summary>The commitment transaction with its funding witness <c>0 &lt;sig1&gt; &lt;sig2&gt; &lt;script&gt;</c>.</summary>
    public static Transaction FinalizeCommitment(CommitmentTransaction commitment, ECDSASignature localSignature, ECDSASignature remoteSignature)
    {
        ArgumentNullException.ThrowIfNull(commitment);
        ArgumentNullException.ThrowIfNull(localSignature);
        ArgumentNullException.ThrowIfNull(remoteSignature);
        var tx = commitment.Transaction;
        var local = commitment.Keys.LocalFundingPubKey.Compress().ToBytes();
        var remote = commitment.Keys.RemoteFundingPubKey.Compress().ToBytes();
        var (first, second) = local.AsSpan().SequenceCompareTo(remote) <= 0 ? (localSignature, remoteSignature) : (remoteSignature, localSignature);
        tx.Inputs[0].WitScript = new WitScript(new byte[][]
        {
            [],
            new TransactionSignature(first, SigHash.All).ToBytes(),
            new TransactionSignature(second, SigHash.All).ToBytes(),
            commitment.FundingScript.ToBytes(true),
        });
        return tx;
    }

    /// <summary>
    /// Signs an HTLC transaction's input with an HTLC key: the commitment owner signs with SIGHASH_ALL, the counterparty
    /// with <see cref="HtlcTransaction.RemoteSigHash"/>.
    /// </summary>
    /// <param name="htlcTransaction">The HTLC transaction.</param>
    /// <param name="htlcKey">The signer's derived HTLC private key.</param>
    /// <param name="signerIsCommitmentOwner">Whether the signer owns the commitment (local) or is the counterparty (remote).</param>
    public static ECDSASignature SignHtlc(HtlcTransaction htlcTransaction, Key htlcKey, bool signerIsCommitmentOwner)
    {
        ArgumentNullException.ThrowIfNull(htlcTransaction);
        ArgumentNullException.ThrowIfNull(htlcKey);
        var sigHash = signerIsCommitmentOwner ? SigHash.All : htlcTransaction.RemoteSigHash;
        var spent = htlcTransaction.SpentOutput;
        return Sign(htlcTransaction.Unsigned, 0, spent.WitnessScript!, new TxOut(spent.Amount, spent.ScriptPubKey), sigHash, htlcKey);
    }

    /// <summary>Checks an HTLC transaction signature (see <see cref="SignHtlc"/> for the sighash used).</summary>
    public static bool VerifyHtlc(HtlcTransaction htlcTransaction, ECDSASignature signature, PubKey htlcPubKey, bool signerIsCommitmentOwner)
    {
        ArgumentNullException.ThrowIfNull(htlcTransaction);
        ArgumentNullException.ThrowIfNull(signature);
        ArgumentNullException.ThrowIfNull(htlcPubKey);
        var sigHash = signerIsCommitmentOwner ? SigHash.All : htlcTransaction.RemoteSigHash;
        var spent = htlcTransaction.SpentOutput;
        var hash = htlcTransaction.Unsigned.GetSignatureHash(spent.WitnessScript!, 0, sigHash, new TxOut(spent.Amount, spent.ScriptPubKey), HashVersion.WitnessV0);
        return htlcPubKey.Verify(hash, signature);
    }

    /// <summary>
    /// The HTLC transaction with its witness: <c>0 &lt;remotehtlcsig&gt; &lt;localhtlcsig&gt; &lt;payment_preimage&gt;</c> for
    /// HTLC-success, <c>0 &lt;remotehtlcsig&gt; &lt;localhtlcsig&gt; &lt;&gt;</c> for HTLC-timeout.
    /// </summary>
    /// <exception cref="ArgumentException">When a preimage is missing for HTLC-success, given for HTLC-timeout, or does not match the hash.</exception>
    public static Transaction FinalizeHtlc(HtlcTransaction htlcTransaction, ECDSASignature remoteSignature, ECDSASignature localSignature, PaymentPreimage? preimage)
    {
        ArgumentNullException.ThrowIfNull(htlcTransaction);
        ArgumentNullException.ThrowIfNull(remoteSignature);
        ArgumentNullException.ThrowIfNull(localSignature);
        byte[] last;
        if (htlcTransaction.IsSuccess)
        {
            if (preimage is not { } p || p.Hash != htlcTransaction.Htlc.PaymentHash)
            {
                throw new ArgumentException("HTLC-success needs the preimage of the HTLC's payment hash.", nameof(preimage));
            }
            last = p.Value.ToArray();
        }
        else
        {
            if (preimage is not null)
            {
                throw new ArgumentException("HTLC-timeout takes no preimage.", nameof(preimage));
            }
            last = [];
        }
        var tx = htlcTransaction.Transaction;
        tx.Inputs[0].WitScript = new WitScript(new byte[][]
        {
            [],
            new TransactionSignature(remoteSignature, htlcTransaction.RemoteSigHash).ToBytes(),
            new TransactionSignature(localSignature, SigHash.All).ToBytes(),
            last,
            htlcTransaction.SpentOutput.WitnessScript!.ToBytes(true),
        });
        return tx;
    }

    /// <summary>Signs a segwit v0 input with RFC 6979 nonces and no low-R grinding.</summary>
    public static ECDSASignature Sign(Transaction transaction, int inputIndex, Script witnessScript, TxOut spentOutput, SigHash sigHash, Key key)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(witnessScript);
        ArgumentNullException.ThrowIfNull(spentOutput);
        ArgumentNullException.ThrowIfNull(key);
        var hash = transaction.GetSignatureHash(witnessScript, inputIndex, sigHash, spentOutput, HashVersion.WitnessV0);
        return key.Sign(hash, useLowR: false);
    }
}
