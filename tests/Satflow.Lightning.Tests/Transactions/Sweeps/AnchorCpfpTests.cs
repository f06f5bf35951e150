using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Transactions.Sweeps;
using static Satflow.Lightning.Tests.Transactions.Sweeps.SweepTestKit;

namespace Satflow.Lightning.Tests.Transactions.Sweeps;

/// <summary>Anchor CPFP: the child spends our anchor plus a wallet coin and lifts the package to the target fee rate.</summary>
public sealed class AnchorCpfpTests
{
    private static readonly Key WalletKey = new(Enumerable.Repeat((byte)0x77, 32).ToArray());

    private static SweepInput WalletCoin(long satoshis) =>
        SweepInput.P2wpkh(new OutPoint(new uint256(Enumerable.Repeat((byte)0x0a, 32).ToArray()), 1), Money.Satoshis(satoshis), WalletKey);

    private static Transaction Signed(CommitmentTransaction commitment) => Bolt3Signing.FinalizeCommitment(
        commitment,
        Bolt3Signing.SignCommitment(commitment, F.LocalFundingKey),
        Bolt3Signing.SignCommitment(commitment, F.RemoteFundingKey));

    [Theory]
    [InlineData(true, 10_000u)]
    [InlineData(false, 10_000u)]
    [InlineData(true, 2_500u)]
    public void ChildLiftsPackageToTarget(bool ourCommitment, uint target)
    {
        var commitment = Commitment(CommitmentFormat.AnchorOutputs, feeratePerKw: 253);
        var signed = Signed(commitment);
        var fundingKey = ourCommitment ? F.LocalFundingKey : F.RemoteFundingKey;
        var cpfp = AnchorCpfp.Build(commitment, signed, fundingKey, [WalletCoin(200_000)], Destination, target);
        AssertValid(cpfp.Child);

        var anchorKind = ourCommitment ? CommitmentOutputKind.LocalAnchor : CommitmentOutputKind.RemoteAnchor;
        var anchor = commitment.Outputs.Single(o => o.Kind == anchorKind);
        Assert.Equal(new OutPoint(commitment.TxId, anchor.Index), cpfp.Child.Transaction.Inputs[0].PrevOut);
        Assert.Single(cpfp.Child.Transaction.Inputs[0].WitScript.Pushes.SkipLast(1));
        Assert.Equal(SweepTransactionBuilder.WeightOf(signed), cpfp.ParentWeight);
        Assert.Equal(commitment.ActualFee, cpfp.ParentFee);
        Assert.Equal(commitment.BaseFee, cpfp.ParentFee);
        Assert.True(cpfp.ParentFee.Satoshi * 1000m / cpfp.ParentWeight < target);

        Assert.True(cpfp.PackageFeeratePerKw >= target, $"package {cpfp.PackageFeeratePerKw} < {target}");
        var expectedFee = AnchorCpfp.ChildFee(target, cpfp.ParentWeight, cpfp.ParentFee, cpfp.Child.EstimatedWeight);
        Assert.Equal(expectedFee, cpfp.Child.Fee);
        // Not overpaying: one satoshi less would miss the target at the budgeted weight.
        Assert.True((cpfp.ParentFee + cpfp.Child.Fee - Money.Satoshis(1)).Satoshi * 1000m / (cpfp.ParentWeight + cpfp.Child.EstimatedWeight) < target);
        Assert.Equal(Money.Satoshis(200_000) + Bolt3Fees.AnchorAmount - cpfp.Child.Fee, cpfp.Child.Transaction.Outputs.Single().Value);
        // Anchor witness <sig> <script>: 1 + 1 + 73 + 1 + 40; wallet P2WPKH: 109.
        Assert.Equal(SpecWeight(cpfp.Child, [1 + 1 + 73 + 1 + 40, 109]), cpfp.Child.EstimatedWeight);
    }

    [Fact]
    public void ParentPayingEnoughStillGivesTheChildItsOwnRate()
    {
        var commitment = Commitment(CommitmentFormat.AnchorOutputs, feeratePerKw: 20_000);
        var cpfp = AnchorCpfp.Build(commitment, Signed(commitment), F.LocalFundingKey, [WalletCoin(50_000)], Destination, 1000);
        AssertValid(cpfp.Child);
        Assert.Equal(Money.Zero, AnchorCpfp.ChildFee(1000, cpfp.ParentWeight, cpfp.ParentFee, cpfp.Child.EstimatedWeight));
        Assert.Equal(Money.Satoshis(((1000L * cpfp.Child.EstimatedWeight) + 999) / 1000), cpfp.Child.Fee);
        Assert.True(cpfp.PackageFeeratePerKw >= 1000);
    }

    [Fact]
    public void RefusesWithoutFundsOrAnchor()
    {
        var commitment = Commitment(CommitmentFormat.AnchorOutputs);
        var signed = Signed(commitment);
        Assert.Equal(SweepFailure.InsufficientFunds, Assert.Throws<SweepException>(() =>
            AnchorCpfp.Build(commitment, signed, F.LocalFundingKey, [WalletCoin(1_000)], Destination, 50_000)).Reason);
        Assert.Equal(SweepFailure.InsufficientFunds, Assert.Throws<SweepException>(() =>
            AnchorCpfp.Build(commitment, signed, F.LocalFundingKey, [], Destination, 1000)).Reason);
        Assert.Equal(SweepFailure.NothingToClaim, Assert.Throws<SweepException>(() =>
            AnchorCpfp.Build(commitment, signed, new Key(), [WalletCoin(100_000)], Destination, 1000)).Reason);
        var staticCommitment = Commitment(CommitmentFormat.StaticRemoteKey);
        Assert.Equal(SweepFailure.NothingToClaim, Assert.Throws<SweepException>(() =>
            AnchorCpfp.Build(staticCommitment, Signed(staticCommitment), F.LocalFundingKey, [WalletCoin(100_000)], Destination, 1000)).Reason);
    }

    [Fact]
    public void AnchorSignedWithAnotherKeyFails()
    {
        var commitment = Commitment(CommitmentFormat.AnchorOutputs);
        var cpfp = AnchorCpfp.Build(commitment, Signed(commitment), F.LocalFundingKey, [WalletCoin(100_000)], Destination, 5000);
        var tx = cpfp.Child.Transaction.Clone();
        Resign(tx, cpfp.Child.SpentOutputs, 0, F.RemoteFundingKey);
        Assert.NotNull(ErrorOf(tx, cpfp.Child.SpentOutputs, 0));
    }

    [Fact]
    public void WalletCoinCanBeSignedByAnExternalSigner()
    {
        var commitment = Commitment(CommitmentFormat.AnchorOutputs);
        var outPoint = new OutPoint(uint256.One, 3);
        var calls = 0;
        var external = SweepInput.P2wpkh(outPoint, Money.Satoshis(80_000), WalletKey.PubKey, hash =>
        {
            calls++;
            return WalletKey.Sign(hash, useLowR: true);
        });
        var cpfp = AnchorCpfp.Build(commitment, Signed(commitment), F.LocalFundingKey, [external], Destination, 3000);
        AssertValid(cpfp.Child);
        Assert.Equal(1, calls);
        Assert.True(cpfp.PackageFeeratePerKw >= 3000);

        // A signer answering with another key's signature is caught before anything is returned.
        var rogue = SweepInput.P2wpkh(outPoint, Money.Satoshis(80_000), WalletKey.PubKey, hash => new Key().Sign(hash));
        Assert.Equal(SweepFailure.KeyMismatch, Assert.Throws<SweepException>(() =>
            AnchorCpfp.Build(commitment, Signed(commitment), F.LocalFundingKey, [rogue], Destination, 3000)).Reason);
    }
}
