using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Transactions.Sweeps;
using static Satflow.Lightning.Tests.Transactions.Sweeps.SweepTestKit;

namespace Satflow.Lightning.Tests.Transactions.Sweeps;

/// <summary>Sweeping our delayed outputs: <c>to_local</c> after <c>to_self_delay</c> and second-stage HTLC outputs.</summary>
public sealed class OwnCommitmentSweepTests
{
    [Theory]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    public void ToLocalSweepValidatesWithToSelfDelaySequence(CommitmentFormat format)
    {
        var commitment = Commitment(format);
        var sweep = OnChainClaims.SweepToLocal(commitment, LocalDelayedKey, Destination, 2500);
        AssertValid(sweep);
        var toLocal = commitment.Outputs.Single(o => o.Kind == CommitmentOutputKind.ToLocal);
        var input = Assert.Single(sweep.Transaction.Inputs);
        Assert.Equal(new OutPoint(commitment.TxId, toLocal.Index), input.PrevOut);
        Assert.Equal((uint)commitment.Parameters.ToSelfDelay, (uint)input.Sequence);
        Assert.Equal(2u, sweep.Transaction.Version);
        Assert.Equal(Destination, Assert.Single(sweep.Transaction.Outputs).ScriptPubKey);
        Assert.Equal(toLocal.Amount - sweep.Fee, sweep.Transaction.Outputs[0].Value);
        Assert.Equal(SweepTransactionBuilder.FeeFor(2500, sweep.EstimatedWeight), sweep.Fee);
        Assert.InRange(sweep.Weight, sweep.EstimatedWeight - 2, sweep.EstimatedWeight);
    }

    [Fact]
    public void ToLocalSweepWithTooEarlySequenceFailsScriptValidation()
    {
        var sweep = OnChainClaims.SweepToLocal(Commitment(CommitmentFormat.AnchorOutputs), LocalDelayedKey, Destination, 1000);
        var tx = sweep.Transaction.Clone();
        tx.Inputs[0].Sequence = new Sequence(Commitment(CommitmentFormat.AnchorOutputs).Parameters.ToSelfDelay - 1u);
        Resign(tx, sweep.SpentOutputs, 0, LocalDelayedKey);
        Assert.Equal(ScriptError.UnsatisfiedLockTime, ErrorOf(tx, sweep.SpentOutputs, 0));
        // With the right sequence the re-signed transaction is valid again: the failure is the timelock alone.
        tx.Inputs[0].Sequence = sweep.Transaction.Inputs[0].Sequence;
        Resign(tx, sweep.SpentOutputs, 0, LocalDelayedKey);
        Assert.Null(ErrorOf(tx, sweep.SpentOutputs, 0));
    }

    [Fact]
    public void ToLocalSweepSignedWithAnotherKeyIsRefusedAndInvalid()
    {
        var commitment = Commitment(CommitmentFormat.StaticRemoteKey);
        var error = Assert.Throws<SweepException>(() => OnChainClaims.SweepToLocal(commitment, new Key(), Destination, 1000));
        Assert.Equal(SweepFailure.KeyMismatch, error.Reason);

        var sweep = OnChainClaims.SweepToLocal(commitment, LocalDelayedKey, Destination, 1000);
        var tx = sweep.Transaction.Clone();
        Resign(tx, sweep.SpentOutputs, 0, new Key());
        Assert.NotNull(ErrorOf(tx, sweep.SpentOutputs, 0));
    }

    [Fact]
    public void ToLocalBelowDustIsRefused()
    {
        var commitment = Commitment(CommitmentFormat.StaticRemoteKey);
        var toLocal = commitment.Outputs.Single(o => o.Kind == CommitmentOutputKind.ToLocal).Amount;
        var error = Assert.Throws<SweepException>(() => OnChainClaims.SweepToLocal(commitment, LocalDelayedKey, Destination, 253, dustLimit: toLocal));
        Assert.Equal(SweepFailure.OutputBelowDust, error.Reason);
        // A feerate that eats the whole output is refused too (default 330-sat dust limit).
        var feerate = (uint)(toLocal.Satoshi * 1000 / 400);
        Assert.Equal(SweepFailure.OutputBelowDust, Assert.Throws<SweepException>(() => OnChainClaims.SweepToLocal(commitment, LocalDelayedKey, Destination, feerate)).Reason);
    }

    [Theory]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    public void SecondStageOutputsAreSweptAfterToSelfDelay(CommitmentFormat format)
    {
        var commitment = Commitment(format);
        var htlcTxs = HtlcTransactionBuilder.BuildAll(commitment);
        Assert.Equal(5, htlcTxs.Count);
        var sweep = OnChainClaims.SweepSecondStage(htlcTxs, commitment, LocalDelayedKey, Destination, 3000);
        AssertValid(sweep);
        Assert.Equal(5, sweep.Transaction.Inputs.Count);
        Assert.All(sweep.Transaction.Inputs, i => Assert.Equal((uint)commitment.Parameters.ToSelfDelay, (uint)i.Sequence));
        Assert.Equal(htlcTxs.Select(h => h.Transaction.GetHash()).ToHashSet(), sweep.Transaction.Inputs.Select(i => i.PrevOut.Hash).ToHashSet());
        var total = htlcTxs.Select(h => h.Transaction.Outputs[0].Value).Sum();
        Assert.Equal(total - sweep.Fee, sweep.Transaction.Outputs[0].Value);
        Assert.Equal(SweepTransactionBuilder.FeeFor(3000, sweep.EstimatedWeight), sweep.Fee);
    }
}
