using NBitcoin;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Transactions.Sweeps;

/// <summary>
/// BOLT 5 claim transactions built from <see cref="CommitmentTransaction"/>s: sweeping our delayed outputs, penalties
/// for revoked commitments, and claiming outputs of the peer's commitment. "Ours"/"theirs" refers to the commitment
/// owner: a <see cref="CommitmentTransaction"/> built from the peer's view has the peer as its "local" side.
/// </summary>
public static class OnChainClaims
{
    /// <summary>Sweeps the <c>to_local</c> output of our own commitment after <c>to_self_delay</c>.</summary>
    /// <param name="ourCommitment">Our commitment (we are its owner).</param>
    /// <param name="localDelayedKey">Our delayed payment private key for that commitment.</param>
    /// <param name="destination">Where the funds go.</param>
    /// <param name="feeratePerKw">Fee rate in sat per 1000 weight units.</param>
    /// <param name="dustLimit">Smallest acceptable output (330 sat when <c>null</c>).</param>
    /// <exception cref="SweepException">No <c>to_local</c>, wrong key, or below dust.</exception>
    public static SweepTransaction SweepToLocal(CommitmentTransaction ourCommitment, Key localDelayedKey, Script destination, uint feeratePerKw, Money? dustLimit = null)
    {
        ArgumentNullException.ThrowIfNull(ourCommitment);
        ArgumentNullException.ThrowIfNull(localDelayedKey);
        var output = ourCommitment.Outputs.FirstOrDefault(o => o.Kind == CommitmentOutputKind.ToLocal)
            ?? throw new SweepException(SweepFailure.NothingToClaim, "The commitment has no to_local output.");
        RequireKey(ourCommitment.Keys.LocalDelayedPubKey, localDelayedKey, "delayed payment");
        var input = SweepInput.DelayedToLocal(new OutPoint(ourCommitment.TxId, output.Index), output.Amount, ourCommitment.Keys.RevocationPubKey, ourCommitment.Parameters.ToSelfDelay, localDelayedKey);
        return SweepTransactionBuilder.Build([input], destination, feeratePerKw, dustLimit);
    }

    /// <summary>Sweeps the outputs of our confirmed HTLC-success/HTLC-timeout transactions after <c>to_self_delay</c>.</summary>
    /// <param name="secondStage">Our second-stage HTLC transactions (their txids do not depend on the witness).</param>
    /// <param name="ourCommitment">The commitment they spend.</param>
    /// <param name="localDelayedKey">Our delayed payment private key for that commitment.</param>
    /// <param name="destination">Where the funds go.</param>
    /// <param name="feeratePerKw">Fee rate in sat per 1000 weight units.</param>
    /// <param name="dustLimit">Smallest acceptable output (330 sat when <c>null</c>).</param>
    public static SweepTransaction SweepSecondStage(IReadOnlyList<HtlcTransaction> secondStage, CommitmentTransaction ourCommitment, Key localDelayedKey, Script destination, uint feeratePerKw, Money? dustLimit = null)
    {
        ArgumentNullException.ThrowIfNull(secondStage);
        ArgumentNullException.ThrowIfNull(ourCommitment);
        ArgumentNullException.ThrowIfNull(localDelayedKey);
        RequireKey(ourCommitment.Keys.LocalDelayedPubKey, localDelayedKey, "delayed payment");
        var inputs = secondStage.Select(h =>
        {
            var tx = h.Transaction;
            return SweepInput.DelayedToLocal(new OutPoint(tx.GetHash(), 0), tx.Outputs[0].Value, ourCommitment.Keys.RevocationPubKey, ourCommitment.Parameters.ToSelfDelay, localDelayedKey);
        }).ToList();
        return SweepTransactionBuilder.Build(inputs, destination, feeratePerKw, dustLimit);
    }

    /// <summary>
    /// The revocation private key of a revoked peer commitment: from our revocation basepoint secret and the peer's
    /// per-commitment secret it revealed.
    /// </summary>
    public static Key RevocationKey(Key revocationBasepointSecret, Bytes32 perCommitmentSecret) =>
        KeyDerivation.DeriveRevocationPrivateKey(revocationBasepointSecret, perCommitmentSecret);

    /// <summary>
    /// The penalty transaction for a revoked peer commitment: one transaction taking its <c>to_local</c> and every HTLC
    /// output (offered and received) with the revocation key.
    /// </summary>
    /// <param name="revokedCommitment">The revoked commitment, as built from the peer's view (the peer is its owner).</param>
    /// <param name="revocationKey">The revocation private key (<see cref="RevocationKey"/>).</param>
    /// <param name="destination">Where the funds go.</param>
    /// <param name="feeratePerKw">Fee rate in sat per 1000 weight units.</param>
    /// <param name="dustLimit">Smallest acceptable output (330 sat when <c>null</c>).</param>
    /// <exception cref="SweepException">Wrong revocation key, nothing revocable, or below dust.</exception>
    public static SweepTransaction Penalty(CommitmentTransaction revokedCommitment, Key revocationKey, Script destination, uint feeratePerKw, Money? dustLimit = null) =>
        SweepTransactionBuilder.Build(PenaltyInputs(revokedCommitment, revocationKey), destination, feeratePerKw, dustLimit);

    /// <summary>The penalty inputs of a revoked commitment: its <c>to_local</c> and every HTLC output, in output order.</summary>
    /// <exception cref="SweepException">Wrong revocation key or nothing revocable.</exception>
    public static IReadOnlyList<SweepInput> PenaltyInputs(CommitmentTransaction revokedCommitment, Key revocationKey)
    {
        ArgumentNullException.ThrowIfNull(revokedCommitment);
        ArgumentNullException.ThrowIfNull(revocationKey);
        RequireKey(revokedCommitment.Keys.RevocationPubKey, revocationKey, "revocation");
        var txId = revokedCommitment.TxId;
        var inputs = new List<SweepInput>();
        foreach (var output in revokedCommitment.Outputs)
        {
            var outPoint = new OutPoint(txId, output.Index);
            switch (output.Kind)
            {
                case CommitmentOutputKind.ToLocal:
                    inputs.Add(SweepInput.RevokedToLocal(outPoint, output.Amount, revocationKey, revokedCommitment.Parameters.ToSelfDelay, revokedCommitment.Keys.LocalDelayedPubKey));
                    break;
                case CommitmentOutputKind.OfferedHtlc or CommitmentOutputKind.ReceivedHtlc:
                    inputs.Add(SweepInput.RevokedHtlc(outPoint, output.Amount, output.WitnessScript!, revocationKey));
                    break;
                default:
                    break;
            }
        }
        if (inputs.Count == 0)
        {
            throw new SweepException(SweepFailure.NothingToClaim, "The revoked commitment has no revocable output.");
        }
        return inputs;
    }

    /// <summary>
    /// Justice for the peer's second-stage HTLC transactions spending a revoked commitment: their outputs use the
    /// <c>to_local</c> script of that commitment and are taken with <c>&lt;revocation_sig&gt; 1</c>.
    /// </summary>
    /// <param name="revokedCommitment">The revoked commitment (peer's view).</param>
    /// <param name="secondStage">The peer's HTLC-success/HTLC-timeout transactions that spent it.</param>
    /// <param name="revocationKey">The revocation private key.</param>
    /// <param name="destination">Where the funds go.</param>
    /// <param name="feeratePerKw">Fee rate in sat per 1000 weight units.</param>
    /// <param name="dustLimit">Smallest acceptable output (330 sat when <c>null</c>).</param>
    public static SweepTransaction PenaltySecondStage(CommitmentTransaction revokedCommitment, IReadOnlyList<Transaction> secondStage, Key revocationKey, Script destination, uint feeratePerKw, Money? dustLimit = null)
    {
        ArgumentNullException.ThrowIfNull(revokedCommitment);
        ArgumentNullException.ThrowIfNull(secondStage);
        ArgumentNullException.ThrowIfNull(revocationKey);
        RequireKey(revokedCommitment.Keys.RevocationPubKey, revocationKey, "revocation");
        var expected = Bolt3Scripts.ToLocal(revokedCommitment.Keys.RevocationPubKey, revokedCommitment.Parameters.ToSelfDelay, revokedCommitment.Keys.LocalDelayedPubKey).WitHash.ScriptPubKey;
        var inputs = new List<SweepInput>();
        foreach (var tx in secondStage)
        {
            ArgumentNullException.ThrowIfNull(tx);
            for (var i = 0; i < tx.Outputs.Count; i++)
            {
                if (tx.Outputs[i].ScriptPubKey == expected)
                {
                    inputs.Add(SweepInput.RevokedToLocal(new OutPoint(tx.GetHash(), i), tx.Outputs[i].Value, revocationKey, revokedCommitment.Parameters.ToSelfDelay, revokedCommitment.Keys.LocalDelayedPubKey));
                }
            }
        }
        if (inputs.Count == 0)
        {
            throw new SweepException(SweepFailure.NothingToClaim, "None of the transactions pays to the revoked commitment's to_local script.");
        }
        return SweepTransactionBuilder.Build(inputs, destination, feeratePerKw, dustLimit);
    }

    /// <summary>
    /// Claims an HTLC output of the peer's commitment directly: an HTLC the peer offered (we received it) with its
    /// preimage, or an HTLC we offered after its <c>cltv_expiry</c> (then <paramref name="preimage"/> must be <c>null</c>).
    /// </summary>
    /// <param name="remoteCommitment">The peer's commitment (the peer is its owner).</param>
    /// <param name="htlcOutput">The HTLC output to claim.</param>
    /// <param name="htlcKey">Our HTLC private key for that commitment (its <c>remote_htlcpubkey</c>).</param>
    /// <param name="preimage">The preimage for a peer-offered HTLC; <c>null</c> for a timeout claim.</param>
    /// <param name="destination">Where the funds go.</param>
    /// <param name="feeratePerKw">Fee rate in sat per 1000 weight units.</param>
    /// <param name="dustLimit">Smallest acceptable output (330 sat when <c>null</c>).</param>
    /// <exception cref="SweepException">Wrong key, wrong or missing preimage, or below dust.</exception>
    public static SweepTransaction ClaimRemoteHtlc(CommitmentTransaction remoteCommitment, CommitmentOutput htlcOutput, Key htlcKey, PaymentPreimage? preimage, Script destination, uint feeratePerKw, Money? dustLimit = null) =>
        SweepTransactionBuilder.Build([RemoteHtlcInput(remoteCommitment, htlcOutput, htlcKey, preimage)], destination, feeratePerKw, dustLimit);

    /// <summary>The input claiming one HTLC output of the peer's commitment (see <see cref="ClaimRemoteHtlc"/>).</summary>
    public static SweepInput RemoteHtlcInput(CommitmentTransaction remoteCommitment, CommitmentOutput htlcOutput, Key htlcKey, PaymentPreimage? preimage)
    {
        ArgumentNullException.ThrowIfNull(remoteCommitment);
        ArgumentNullException.ThrowIfNull(htlcOutput);
        ArgumentNullException.ThrowIfNull(htlcKey);
        if (htlcOutput.Htlc is not { } htlc || htlcOutput.Index >= remoteCommitment.Outputs.Count || remoteCommitment.Outputs[htlcOutput.Index] != htlcOutput)
        {
            throw new SweepException(SweepFailure.NothingToClaim, "Not an HTLC output of this commitment.");
        }
        RequireKey(remoteCommitment.Keys.RemoteHtlcPubKey, htlcKey, "HTLC");
        var outPoint = new OutPoint(remoteCommitment.TxId, htlcOutput.Index);
        var format = remoteCommitment.Parameters.Format;
        if (htlc.Direction == HtlcDirection.Offered)
        {
            if (preimage is not { } p || p.Hash != htlc.PaymentHash)
            {
                throw new SweepException(SweepFailure.PreimageMismatch, "Claiming an HTLC offered by the peer needs the preimage of its payment hash.");
            }
            return SweepInput.RemoteOfferedHtlc(outPoint, htlcOutput.Amount, htlcOutput.WitnessScript!, htlcKey, p, format);
        }
        if (preimage is not null)
        {
            throw new SweepException(SweepFailure.PreimageMismatch, "An HTLC we offered is claimed by timeout, without a preimage.");
        }
        return SweepInput.RemoteReceivedHtlc(outPoint, htlcOutput.Amount, htlcOutput.WitnessScript!, htlcKey, htlc.CltvExpiry, format);
    }

    /// <summary>
    /// Claims our <c>to_remote</c> output of the peer's commitment: the 1-block-CSV P2WSH with anchors, or the plain
    /// P2WPKH of our payment key with static remote key.
    /// </summary>
    /// <param name="remoteCommitment">The peer's commitment.</param>
    /// <param name="paymentKey">Our payment basepoint secret.</param>
    /// <param name="destination">Where the funds go.</param>
    /// <param name="feeratePerKw">Fee rate in sat per 1000 weight units.</param>
    /// <param name="dustLimit">Smallest acceptable output (330 sat when <c>null</c>).</param>
    public static SweepTransaction ClaimToRemote(CommitmentTransaction remoteCommitment, Key paymentKey, Script destination, uint feeratePerKw, Money? dustLimit = null)
    {
        ArgumentNullException.ThrowIfNull(remoteCommitment);
        ArgumentNullException.ThrowIfNull(paymentKey);
        var output = remoteCommitment.Outputs.FirstOrDefault(o => o.Kind == CommitmentOutputKind.ToRemote)
            ?? throw new SweepException(SweepFailure.NothingToClaim, "The commitment has no to_remote output.");
        RequireKey(remoteCommitment.Keys.RemotePaymentPubKey, paymentKey, "payment");
        var outPoint = new OutPoint(remoteCommitment.TxId, output.Index);
        var input = remoteCommitment.Parameters.Format == CommitmentFormat.AnchorOutputs
            ? SweepInput.ToRemoteAnchors(outPoint, output.Amount, paymentKey)
            : SweepInput.P2wpkh(outPoint, output.Amount, paymentKey);
        return SweepTransactionBuilder.Build([input], destination, feeratePerKw, dustLimit);
    }

    private static void RequireKey(PubKey expected, Key key, string what)
    {
        if (expected.Compress() != key.PubKey.Compress())
        {
            throw new SweepException(SweepFailure.KeyMismatch, $"The {what} key does not match the commitment's {what} public key.");
        }
    }
}
