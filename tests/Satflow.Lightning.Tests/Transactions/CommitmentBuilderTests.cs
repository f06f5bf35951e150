using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;

namespace Satflow.Lightning.Tests.Transactions;

/// <summary>Behaviour of the builders beyond the spec vectors: the spec's fee example, funder side, closing transactions.</summary>
public sealed class CommitmentBuilderTests
{
    private static PaymentHash Hash(byte b) => new PaymentPreimage(new Bytes32(Enumerable.Repeat(b, 32).ToArray())).Hash;

    [Fact]
    public void SpecFeeExampleTrimsAndCounts()
    {
        // BOLT 3 "Fee Calculation" example: feerate 5000, dust 546, offered 5000/1000 sat, received 7000/800 sat.
        var f = Bolt3Fixture.Instance;
        var htlcs = new List<CommitmentHtlc>
        {
            new(0, HtlcDirection.Offered, MilliSatoshi.FromSatoshis(5000), Hash(1), 600),
            new(1, HtlcDirection.Offered, MilliSatoshi.FromSatoshis(1000), Hash(2), 600),
            new(2, HtlcDirection.Received, MilliSatoshi.FromSatoshis(7000), Hash(3), 600),
            new(3, HtlcDirection.Received, MilliSatoshi.FromSatoshis(800), Hash(4), 600),
        };
        Assert.Equal(3315, Bolt3Fees.HtlcTimeoutFee(CommitmentFormat.StaticRemoteKey, 5000).Satoshi);
        Assert.Equal(3515, Bolt3Fees.HtlcSuccessFee(CommitmentFormat.StaticRemoteKey, 5000).Satoshi);
        var toLocal = MilliSatoshi.FromSatoshis(6_000_000);
        var toRemote = MilliSatoshi.FromSatoshis(10_000_000 - 6_000_000 - 13_800);
        var commitment = CommitmentTransactionBuilder.Build(f.Parameters(CommitmentFormat.StaticRemoteKey, 5000, 546), f.Keys, toLocal, toRemote, htlcs);
        Assert.Equal(5340, commitment.BaseFee.Satoshi);
        Assert.Equal(7140, commitment.ActualFee.Satoshi);
        Assert.Equal([1UL, 3UL], commitment.TrimmedHtlcs.Select(h => h.Id).Order());
        Assert.Equal(2, commitment.HtlcOutputs.Count());
        var htlcTxs = HtlcTransactionBuilder.BuildAll(commitment);
        Assert.Contains(htlcTxs, t => !t.IsSuccess && t.Transaction.Outputs[0].Value == Money.Satoshis(5000 - 3315) && t.Transaction.LockTime == new LockTime(600));
        Assert.Contains(htlcTxs, t => t.IsSuccess && t.Transaction.Outputs[0].Value == Money.Satoshis(7000 - 3515) && t.Transaction.LockTime == LockTime.Zero);
    }

    [Theory]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    public void RemoteFunderPaysFeeAndAnchors(CommitmentFormat format)
    {
        var f = Bolt3Fixture.Instance;
        var parameters = f.Parameters(format, 2500, 546) with { LocalIsFunder = false };
        var commitment = CommitmentTransactionBuilder.Build(parameters, f.Keys, MilliSatoshi.FromSatoshis(4_000_000), MilliSatoshi.FromSatoshis(6_000_000), []);
        var toLocal = commitment.Outputs.Single(o => o.Kind == CommitmentOutputKind.ToLocal);
        var toRemote = commitment.Outputs.Single(o => o.Kind == CommitmentOutputKind.ToRemote);
        Assert.Equal(4_000_000, toLocal.Amount.Satoshi);
        var anchors = format == CommitmentFormat.AnchorOutputs ? 660 : 0;
        Assert.Equal(6_000_000 - commitment.BaseFee.Satoshi - anchors, toRemote.Amount.Satoshi);
        // Anchors are outputs, so the fee actually paid is the base fee alone.
        Assert.Equal(commitment.BaseFee, commitment.ActualFee);
    }

    [Fact]
    public void ObscuredCommitmentNumberRoundTrips()
    {
        var f = Bolt3Fixture.Instance;
        foreach (var n in new ulong[] { 0, 1, 42, 0xFFFFFF, 0x1000000, CommitmentNumberObscuring.MaxCommitmentNumber })
        {
            var lockTime = CommitmentNumberObscuring.LockTimeOf(n, f.ObscuringFactor);
            var sequence = CommitmentNumberObscuring.SequenceOf(n, f.ObscuringFactor);
            Assert.Equal(0x20u, lockTime.Value >> 24);
            Assert.Equal(0x80u, (uint)sequence >> 24);
            Assert.Equal(n, CommitmentNumberObscuring.Recover(lockTime, sequence, f.ObscuringFactor));
        }
        Assert.Null(CommitmentNumberObscuring.Recover(LockTime.Zero, Sequence.Final, f.ObscuringFactor));
        Assert.Throws<ArgumentOutOfRangeException>(() => CommitmentNumberObscuring.LockTimeOf(1UL << 48, 0));
    }

    [Fact]
    public void BalancesAboveFundingAreRefused()
    {
        var f = Bolt3Fixture.Instance;
        Assert.Throws<ArgumentException>(() => CommitmentTransactionBuilder.Build(
            f.Parameters(CommitmentFormat.AnchorOutputs, 253, 546), f.Keys, MilliSatoshi.FromSatoshis(9_000_000), MilliSatoshi.FromSatoshis(1_000_001), []));
    }

    [Fact]
    public void SecondStageTransactionRefusesWrongPreimage()
    {
        var f = Bolt3Fixture.Instance;
        var commitment = CommitmentTransactionBuilder.Build(
            f.Parameters(CommitmentFormat.AnchorOutputs, 253, 546), f.Keys, MilliSatoshi.FromSatoshis(6_990_000), MilliSatoshi.FromSatoshis(3_000_000),
            [f.Htlcs[4].Htlc, f.Htlcs[2].Htlc]);
        var txs = HtlcTransactionBuilder.BuildAll(commitment);
        var success = txs.Single(t => t.IsSuccess);
        var timeout = txs.Single(t => !t.IsSuccess);
        var sig = Bolt3Signing.SignHtlc(success, f.LocalHtlcKey, true);
        Assert.Throws<ArgumentException>(() => Bolt3Signing.FinalizeHtlc(success, sig, sig, f.Htlcs[0].Preimage));
        Assert.Throws<ArgumentException>(() => Bolt3Signing.FinalizeHtlc(success, sig, sig, null));
        Assert.Throws<ArgumentException>(() => Bolt3Signing.FinalizeHtlc(timeout, sig, sig, f.Htlcs[2].Preimage));
    }

    [Fact]
    public void LegacyClosingOrdersOutputsAndDropsDust()
    {
        var f = Bolt3Fixture.Instance;
        var localScript = f.LocalFundingKey.PubKey.WitHash.ScriptPubKey;
        var remoteScript = f.RemoteFundingKey.PubKey.WitHash.ScriptPubKey;
        var closing = ClosingTransactionBuilder.BuildLegacy(f.FundingOutPoint, f.FundingAmount, f.Keys.LocalFundingPubKey, f.Keys.RemoteFundingPubKey,
            localScript, remoteScript, new MilliSatoshi(2_000_000_999), new MilliSatoshi(7_999_999_001), Money.Satoshis(1000), localIsFunder: true, Money.Satoshis(546));
        var tx = closing.Transaction;
        Assert.Equal(2u, tx.Version);
        Assert.Equal(LockTime.Zero, tx.LockTime);
        Assert.Equal(Sequence.Final, tx.Inputs[0].Sequence);
        Assert.Equal([1_999_000L, 7_999_999L], tx.Outputs.Select(o => o.Value.Satoshi));
        Assert.Equal(0, closing.LocalOutputIndex);
        Assert.Equal(1, closing.RemoteOutputIndex);

        var signed = closing.Finalize(f.Keys.LocalFundingPubKey, closing.Sign(f.LocalFundingKey), f.Keys.RemoteFundingPubKey, closing.Sign(f.RemoteFundingKey));
        CommitmentTxVectorTests.AssertSpendsValidly(signed, 0, closing.FundingOutput);

        var dusty = ClosingTransactionBuilder.BuildLegacy(f.FundingOutPoint, f.FundingAmount, f.Keys.LocalFundingPubKey, f.Keys.RemoteFundingPubKey,
            localScript, remoteScript, MilliSatoshi.FromSatoshis(1500), MilliSatoshi.FromSatoshis(9_998_500), Money.Satoshis(1000), localIsFunder: true, Money.Satoshis(546));
        Assert.Single(dusty.Transaction.Outputs);
        Assert.Null(dusty.LocalOutputIndex);
        Assert.Throws<ArgumentException>(() => ClosingTransactionBuilder.BuildLegacy(f.FundingOutPoint, f.FundingAmount, f.Keys.LocalFundingPubKey, f.Keys.RemoteFundingPubKey,
            localScript, remoteScript, MilliSatoshi.FromSatoshis(500), MilliSatoshi.FromSatoshis(9_999_500), Money.Satoshis(1000), localIsFunder: true, Money.Satoshis(546)));
    }

    [Fact]
    public void SimpleCloseCloserPaysAndOpReturnCarriesZero()
    {
        var f = Bolt3Fixture.Instance;
        var closerScript = f.LocalFundingKey.PubKey.WitHash.ScriptPubKey;
        var opReturn = new Script(OpcodeType.OP_RETURN, Op.GetPushOp([1, 2, 3]));
        var closing = ClosingTransactionBuilder.BuildSimple(f.FundingOutPoint, f.FundingAmount, f.Keys.LocalFundingPubKey, f.Keys.RemoteFundingPubKey,
            localIsCloser: true, closerScript, opReturn, MilliSatoshi.FromSatoshis(9_999_700), MilliSatoshi.FromSatoshis(300), Money.Satoshis(700), new LockTime(800_000));
        var tx = closing.Transaction;
        Assert.Equal(new Sequence(0xFFFFFFFDu), tx.Inputs[0].Sequence);
        Assert.Equal(new LockTime(800_000), tx.LockTime);
        Assert.Equal(Money.Zero, tx.Outputs[0].Value);
        Assert.Equal(opReturn, tx.Outputs[0].ScriptPubKey);
        Assert.Equal(Money.Satoshis(9_999_000), tx.Outputs[1].Value);
        Assert.Equal(1, closing.LocalOutputIndex);
        var signed = closing.Finalize(f.Keys.LocalFundingPubKey, closing.Sign(f.LocalFundingKey), f.Keys.RemoteFundingPubKey, closing.Sign(f.RemoteFundingKey));
        CommitmentTxVectorTests.AssertSpendsValidly(signed, 0, closing.FundingOutput);
    }
}
