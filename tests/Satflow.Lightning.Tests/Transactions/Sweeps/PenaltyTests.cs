using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Transactions.Sweeps;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Transactions.Sweeps.SweepTestKit;

namespace Satflow.Lightning.Tests.Transactions.Sweeps;

/// <summary>
/// Penalty (justice) transactions: the Appendix C commitment is the peer's revoked one, we hold the remote revocation
/// basepoint secret and learn the per-commitment secret.
/// </summary>
public sealed class PenaltyTests
{
    private static Key RevocationKey => OnChainClaims.RevocationKey(RemoteRevocationBasepointSecret, PerCommitmentSecret);

    [Theory]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    public void PenaltyTakesEveryRevocableOutputAndValidates(CommitmentFormat format)
    {
        var revoked = Commitment(format);
        Assert.Equal(revoked.Keys.RevocationPubKey, RevocationKey.PubKey);
        var penalty = OnChainClaims.Penalty(revoked, RevocationKey, Destination, 5000);
        AssertValid(penalty);

        var revocable = revoked.Outputs.Where(o => o.Kind is CommitmentOutputKind.ToLocal or CommitmentOutputKind.OfferedHtlc or CommitmentOutputKind.ReceivedHtlc).ToList();
        Assert.Equal(6, revocable.Count);
        Assert.Equal(
            revocable.Select(o => new OutPoint(revoked.TxId, o.Index)).ToHashSet(),
            penalty.Transaction.Inputs.Select(i => i.PrevOut).ToHashSet());
        Assert.Equal(revocable.Count, penalty.Transaction.Inputs.Count);

        // Fee = feerate × weight / 1000, the weight built from the BOLT 5 witness sizes.
        var witnesses = revocable.Select(o => o.Kind == CommitmentOutputKind.ToLocal
            ? 1 + 1 + 73 + 1 + 1 + 1 + o.WitnessScript!.Length
            : 1 + 1 + 73 + 1 + 33 + 1 + o.WitnessScript!.Length);
        Assert.Equal(SpecWeight(penalty, witnesses), penalty.EstimatedWeight);
        Assert.Equal(Money.Satoshis(5000L * penalty.EstimatedWeight / 1000), penalty.Fee);
        Assert.Equal(revocable.Select(o => o.Amount).Sum() - penalty.Fee, penalty.Transaction.Outputs.Single().Value);
        Assert.InRange(penalty.Weight, penalty.EstimatedWeight - (2 * revocable.Count), penalty.EstimatedWeight);

        // Witness shapes per BOLT 3.
        for (var i = 0; i < revocable.Count; i++)
        {
            var output = revoked.Outputs[(int)penalty.Transaction.Inputs[i].PrevOut.N];
            var pushes = penalty.Transaction.Inputs[i].WitScript.Pushes.ToArray();
            Assert.Equal(3, pushes.Length);
            Assert.Equal(output.WitnessScript!.ToBytes(), pushes[2]);
            Assert.Equal(output.Kind == CommitmentOutputKind.ToLocal ? [1] : RevocationKey.PubKey.Compress().ToBytes(), pushes[1]);
        }
    }

    [Fact]
    public void WrongPerCommitmentSecretIsRefusedAndItsSignaturesFail()
    {
        var revoked = Commitment(CommitmentFormat.AnchorOutputs);
        var otherSecret = new Bytes32(Enumerable.Repeat((byte)0x42, 32).ToArray());
        var wrongKey = OnChainClaims.RevocationKey(RemoteRevocationBasepointSecret, otherSecret);
        Assert.Equal(SweepFailure.KeyMismatch, Assert.Throws<SweepException>(() => OnChainClaims.Penalty(revoked, wrongKey, Destination, 1000)).Reason);

        // Forcing signatures of the wrong key into a valid penalty makes every input fail.
        var penalty = OnChainClaims.Penalty(revoked, RevocationKey, Destination, 1000);
        var tx = penalty.Transaction.Clone();
        for (var i = 0; i < tx.Inputs.Count; i++)
        {
            Resign(tx, penalty.SpentOutputs, i, wrongKey);
            Assert.NotNull(ErrorOf(tx, penalty.SpentOutputs, i));
        }
        // A revoked HTLC script does not accept another revocation key at all.
        var htlc = revoked.HtlcOutputs.First();
        Assert.Equal(SweepFailure.KeyMismatch, Assert.Throws<SweepException>(() => SweepInput.RevokedHtlc(new OutPoint(revoked.TxId, htlc.Index), htlc.Amount, htlc.WitnessScript!, wrongKey)).Reason);
    }

    [Theory]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    public void JusticeForRevokedSecondStageTransactions(CommitmentFormat format)
    {
        var revoked = Commitment(format);
        var secondStage = HtlcTransactionBuilder.BuildAll(revoked).Select(h => h.Transaction).ToList();
        var justice = OnChainClaims.PenaltySecondStage(revoked, secondStage, RevocationKey, Destination, 2000);
        AssertValid(justice);
        Assert.Equal(secondStage.Count, justice.Transaction.Inputs.Count);
        Assert.All(justice.Transaction.Inputs, i => Assert.Equal([1], i.WitScript.Pushes.ElementAt(1)));
        // The revocation path has no CSV: the justice transaction does not wait for to_self_delay.
        Assert.All(justice.Transaction.Inputs, i => Assert.Equal(SweepInput.ReplaceableSequence, i.Sequence));
        Assert.Equal(secondStage.Select(t => t.Outputs[0].Value).Sum() - justice.Fee, justice.Transaction.Outputs[0].Value);
        Assert.Equal(SweepTransactionBuilder.FeeFor(2000, justice.EstimatedWeight), justice.Fee);

        Assert.Equal(SweepFailure.NothingToClaim, Assert.Throws<SweepException>(() =>
            OnChainClaims.PenaltySecondStage(revoked, [Unrelated()], RevocationKey, Destination, 2000)).Reason);
    }

    private static Transaction Unrelated()
    {
        var tx = Transaction.Create(Network.Main);
        tx.Inputs.Add(new OutPoint(uint256.One, 0));
        tx.Outputs.Add(Money.Coins(1), Destination);
        return tx;
    }

    [Fact]
    public void PenaltyWitnessWeightsMatchBolt5AppendixA()
    {
        var key = RevocationKey;
        var keys = F.Keys;
        var hash = F.Htlcs[0].Htlc.PaymentHash;
        var outPoint = new OutPoint(uint256.One, 0);
        // BOLT 5 Appendix A: 243 (offered) and 249 (accepted, 3-byte cltv_expiry); option_anchors adds OP_1 OP_CSV OP_DROP.
        foreach (var (format, extra) in new[] { (CommitmentFormat.StaticRemoteKey, 0), (CommitmentFormat.AnchorOutputs, 3) })
        {
            var offered = Bolt3Scripts.OfferedHtlc(keys.RevocationPubKey, keys.LocalHtlcPubKey, keys.RemoteHtlcPubKey, hash, format);
            var received = Bolt3Scripts.ReceivedHtlc(keys.RevocationPubKey, keys.LocalHtlcPubKey, keys.RemoteHtlcPubKey, hash, 500_000, format);
            Assert.Equal(133 + extra, offered.Length);
            Assert.Equal(139 + extra, received.Length);
            Assert.Equal(243 + extra, SweepInput.RevokedHtlc(outPoint, Money.Coins(1), offered, key).MaxWitnessWeight);
            Assert.Equal(249 + extra, SweepInput.RevokedHtlc(outPoint, Money.Coins(1), received, key).MaxWitnessWeight);
        }
        // to_local: the spec budgets an 83-byte script (8-byte delay) and lists 160, leaving out the byte of the "1" element
        // itself. Exactly: 1 (count) + 1 + 73 (sig) + 1 + 1 ("1") + 1 + script; to_self_delay 144 gives a 77-byte script.
        var toLocal = SweepInput.RevokedToLocal(outPoint, Money.Coins(1), key, 144, keys.LocalDelayedPubKey);
        Assert.Equal(77, toLocal.WitnessScript!.Length);
        Assert.Equal(1 + 1 + 73 + 1 + 1 + 1 + 77, toLocal.MaxWitnessWeight);
        Assert.InRange(SweepInput.RevokedToLocal(outPoint, Money.Coins(1), key, ushort.MaxValue, keys.LocalDelayedPubKey).MaxWitnessWeight, 0, 160);
        // P2WPKH witness: 1 + 1 + 73 + 1 + 33 = 109 (BOLT 5 counts 108 with a 72-byte signature).
        Assert.Equal(109, SweepInput.P2wpkh(outPoint, Money.Coins(1), key).MaxWitnessWeight);
    }
}
