using CsCheck;
using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Transactions;

/// <summary>Invariants of commitment construction and of the secret store under random inputs.</summary>
public sealed class Bolt3PropertyTests
{
    private static readonly Gen<CommitmentHtlc> HtlcGen =
        Gen.Select(Gen.Bool, Gen.ULong[0, 20_000_000], Gen.Byte, Gen.UInt[1, 1_000_000])
            .Select((offered, msat, b, cltv) => new CommitmentHtlc(
                b,
                offered ? HtlcDirection.Offered : HtlcDirection.Received,
                new MilliSatoshi(msat),
                new PaymentPreimage(new Bytes32(Enumerable.Repeat(b, 32).ToArray())).Hash,
                cltv));

    [Fact]
    public void CommitmentConservesFundsAndOrdersOutputs()
    {
        var f = Bolt3Fixture.Instance;
        Gen.Select(HtlcGen.Array[0, 8], Gen.UInt[0, 50_000], Gen.Bool, Gen.Bool, Gen.ULong[0, 1_000_000_000])
            .Sample((htlcs, feerate, anchors, localFunds, split) =>
            {
                var inFlight = htlcs.Aggregate(MilliSatoshi.Zero, (s, h) => s + h.Amount);
                var rest = MilliSatoshi.FromSatoshis((ulong)f.FundingAmount.Satoshi) - inFlight;
                var toLocal = new MilliSatoshi(Math.Min(rest.Value, split * 10));
                var toRemote = rest - toLocal;
                var format = anchors ? CommitmentFormat.AnchorOutputs : CommitmentFormat.StaticRemoteKey;
                var parameters = f.Parameters(format, feerate, 546) with { LocalIsFunder = localFunds };
                var funderSat = (localFunds ? toLocal : toRemote).TruncateToSatoshis();
                if (anchors && funderSat < 660)
                {
                    // A funder that cannot pay both anchors is a BOLT 2 violation; the builder refuses instead of
                    // creating outputs worth more than the funding output.
                    Assert.Throws<ArgumentException>(() => CommitmentTransactionBuilder.Build(parameters, f.Keys, toLocal, toRemote, htlcs));
                    return;
                }
                var c = CommitmentTransactionBuilder.Build(parameters, f.Keys, toLocal, toRemote, htlcs);
                var tx = c.Transaction;

                Assert.True(c.ActualFee >= Money.Zero);
                Assert.True(tx.TotalOut <= f.FundingAmount);
                Assert.True(c.ActualFee >= c.BaseFee || c.Outputs.All(o => o.Kind != (localFunds ? CommitmentOutputKind.ToLocal : CommitmentOutputKind.ToRemote)));
                Assert.Equal(htlcs.Length, c.HtlcOutputs.Count() + c.TrimmedHtlcs.Count);
                Assert.All(c.Outputs, o => Assert.True(o.Amount >= parameters.DustLimit || o.Kind is CommitmentOutputKind.LocalAnchor or CommitmentOutputKind.RemoteAnchor));
                for (var i = 1; i < tx.Outputs.Count; i++)
                {
                    Assert.True(OutputOrdering.Compare(tx.Outputs[i - 1], c.Outputs[i - 1].Htlc?.CltvExpiry ?? 0, tx.Outputs[i], c.Outputs[i].Htlc?.CltvExpiry ?? 0) <= 0);
                }
                var htlcTxs = HtlcTransactionBuilder.BuildAll(c);
                Assert.All(htlcTxs, h => Assert.True(h.Transaction.Outputs[0].Value >= parameters.DustLimit));
            }, iter: 40);
    }

    [Fact]
    public void SecretStoreOnlyRaisesItsOwnError()
    {
        Gen.Select(Gen.Byte.Array[32].Array[1, 12], Gen.ULong[0, 3]).Sample((secrets, skew) =>
        {
            var store = new PerCommitmentSecretStore();
            var index = PerCommitmentSecrets.FirstIndex;
            foreach (var secret in secrets)
            {
                try
                {
                    store.Insert(new Bytes32(secret), index - skew);
                    index = store.LastIndex!.Value - 1;
                }
                catch (PerCommitmentSecretException)
                {
                }
            }
        }, iter: 100);
    }
}
