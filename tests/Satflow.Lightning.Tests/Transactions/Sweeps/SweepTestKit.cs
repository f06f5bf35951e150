using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Transactions.Sweeps;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Transactions.Sweeps;

/// <summary>Commitments and keys of the BOLT 3 Appendix C channel, seen by both sides, for the sweep tests.</summary>
internal static class SweepTestKit
{
    public static Bolt3Fixture F => Bolt3Fixture.Instance;

    public static Bytes32 PerCommitmentSecret => new(Convert.FromHexString(Bolt3Fixture.Str(F.Derivation, "x_local_per_commitment_secret"))[..32]);

    /// <summary>The local (commitment owner's) delayed payment key of the Appendix C commitment.</summary>
    public static Key LocalDelayedKey => KeyDerivation.DerivePrivateKey(
        Bolt3Fixture.PrivKey(F.Derivation, "local_delayed_payment_basepoint_secret"), KeyDerivation.PerCommitmentPoint(PerCommitmentSecret));

    /// <summary>The remote side's revocation basepoint secret (it punishes the local side).</summary>
    public static Key RemoteRevocationBasepointSecret => Bolt3Fixture.PrivKey(F.Derivation, "remote_revocation_basepoint_secret");

    /// <summary>The remote side's payment key (static remote key: the basepoint secret itself).</summary>
    public static Key RemotePaymentKey => Bolt3Fixture.PrivKey(F.Derivation, "remote_payment_basepoint_secret");

    public static Script Destination { get; } = new Key(Enumerable.Repeat((byte)0x55, 32).ToArray()).PubKey.WitHash.ScriptPubKey;

    /// <summary>The Appendix C commitment with HTLCs 0-4 (offered 2 and 3, received 0, 1 and 4; 12 000 sat in flight), none trimmed.</summary>
    public static CommitmentTransaction Commitment(CommitmentFormat format, uint feeratePerKw = 253) =>
        CommitmentTransactionBuilder.Build(
            F.Parameters(format, feeratePerKw, 546),
            F.Keys,
            MilliSatoshi.FromSatoshis(6_000_000),
            MilliSatoshi.FromSatoshis(10_000_000 - 6_000_000 - 12_000),
            F.Htlcs.Take(5).Select(h => h.Htlc).ToList());

    public static void AssertValid(SweepTransaction sweep)
    {
        var validator = sweep.Transaction.CreateValidator(sweep.SpentOutputs.ToArray());
        for (var i = 0; i < sweep.Transaction.Inputs.Count; i++)
        {
            var result = validator.ValidateInput(i);
            Assert.True(result.Error is null, $"input {i}: {result.Error}");
        }
    }

    public static ScriptError? ErrorOf(Transaction tx, IReadOnlyList<TxOut> spent, int input) =>
        tx.CreateValidator(spent.ToArray()).ValidateInput(input).Error;

    /// <summary>Re-signs input <paramref name="input"/> after a test changed the transaction (the signature is witness item 0).</summary>
    public static void Resign(Transaction tx, IReadOnlyList<TxOut> spent, int input, Key key)
    {
        var items = tx.Inputs[input].WitScript.Pushes.ToArray();
        var script = new Script(items[^1]);
        var signature = Bolt3Signing.Sign(tx, input, script, spent[input], SigHash.All, key);
        items[0] = new TransactionSignature(signature, SigHash.All).ToBytes();
        tx.Inputs[input].WitScript = new WitScript(items);
    }

    /// <summary>The fee-carrying weight: non-witness bytes ×4, segwit marker/flag, each input's 73-byte-signature witness.</summary>
    public static int SpecWeight(SweepTransaction sweep, IEnumerable<int> witnessWeights) =>
        (sweep.Transaction.GetSerializedSize(TransactionOptions.None) * 4) + 2 + witnessWeights.Sum();
}
