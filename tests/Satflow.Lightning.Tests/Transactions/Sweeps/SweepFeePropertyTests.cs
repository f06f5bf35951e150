using CsCheck;
using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Transactions.Sweeps;
using static Satflow.Lightning.Tests.Transactions.Sweeps.SweepTestKit;

namespace Satflow.Lightning.Tests.Transactions.Sweeps;

/// <summary>For random fee rates and dust limits, a sweep is either valid with fee = rate × weight / 1000, or refused as dust.</summary>
public sealed class SweepFeePropertyTests
{
    private static readonly CommitmentTransaction Revoked = Commitment(CommitmentFormat.AnchorOutputs);
    private static readonly Key RevocationKey = OnChainClaims.RevocationKey(RemoteRevocationBasepointSecret, PerCommitmentSecret);

    [Fact]
    public void PenaltyFeeIsRateTimesWeightOrDustIsRefused()
    {
        var inputs = OnChainClaims.PenaltyInputs(Revoked, RevocationKey);
        var total = inputs.Select(i => i.SpentOutput.Value).Sum();
        Gen.Select(Gen.UInt[253, 4_000_000], Gen.Long[0, 100_000]).Sample((feerate, dust) =>
        {
            try
            {
                var penalty = SweepTransactionBuilder.Build(inputs, Destination, feerate, Money.Satoshis(dust));
                Assert.Equal(Money.Satoshis((long)feerate * penalty.EstimatedWeight / 1000), penalty.Fee);
                Assert.True(penalty.Transaction.Outputs[0].Value >= Money.Satoshis(dust));
                Assert.Equal(total - penalty.Fee, penalty.Transaction.Outputs[0].Value);
                Assert.InRange(penalty.Weight, penalty.EstimatedWeight - (2 * inputs.Count), penalty.EstimatedWeight);
                AssertValid(penalty);
            }
            catch (SweepException e)
            {
                Assert.Equal(SweepFailure.OutputBelowDust, e.Reason);
                var weight = SweepTransactionBuilder.Build(inputs, Destination, 0, Money.Zero).EstimatedWeight;
                Assert.True(total - SweepTransactionBuilder.FeeFor(feerate, weight) < Money.Satoshis(dust));
            }
        }, iter: 25);
    }
}
