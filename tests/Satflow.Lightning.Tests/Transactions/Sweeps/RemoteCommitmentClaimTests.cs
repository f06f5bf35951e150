using NBitcoin;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Transactions.Sweeps;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Transactions.Sweeps.SweepTestKit;

namespace Satflow.Lightning.Tests.Transactions.Sweeps;

/// <summary>
/// Claiming outputs of the peer's commitment directly: the Appendix C commitment is the peer's, we are its remote side
/// (our HTLC key is its <c>remote_htlcpubkey</c>, our payment basepoint its <c>remotepubkey</c>).
/// </summary>
public sealed class RemoteCommitmentClaimTests
{
    private static Key OurHtlcKey => F.RemoteHtlcKey;

    [Theory]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    public void PeerOfferedHtlcsAreClaimedWithThePreimage(CommitmentFormat format)
    {
        var theirs = Commitment(format);
        var offered = theirs.HtlcOutputs.Where(o => o.Kind == CommitmentOutputKind.OfferedHtlc).ToList();
        Assert.Equal(2, offered.Count);
        foreach (var output in offered)
        {
            var claim = OnChainClaims.ClaimRemoteHtlc(theirs, output, OurHtlcKey, F.PreimageOf(output.Htlc!), Destination, 1500);
            AssertValid(claim);
            var input = claim.Transaction.Inputs.Single();
            Assert.Equal(new OutPoint(theirs.TxId, output.Index), input.PrevOut);
            Assert.Equal(format == CommitmentFormat.AnchorOutputs ? 1u : 0xFFFFFFFDu, (uint)input.Sequence);
            Assert.Equal(LockTime.Zero, claim.Transaction.LockTime);
            Assert.Equal(F.PreimageOf(output.Htlc!).Value.ToArray(), input.WitScript.Pushes.ElementAt(1));
            Assert.Equal(output.Amount - SweepTransactionBuilder.FeeFor(1500, claim.EstimatedWeight), claim.Transaction.Outputs[0].Value);
        }
    }

    [Fact]
    public void WrongPreimageIsRefusedAndFailsValidation()
    {
        var theirs = Commitment(CommitmentFormat.AnchorOutputs);
        var output = theirs.HtlcOutputs.First(o => o.Kind == CommitmentOutputKind.OfferedHtlc);
        var wrong = new PaymentPreimage(new Bytes32(Enumerable.Repeat((byte)0x99, 32).ToArray()));
        Assert.Equal(SweepFailure.PreimageMismatch, Assert.Throws<SweepException>(() => OnChainClaims.ClaimRemoteHtlc(theirs, output, OurHtlcKey, wrong, Destination, 1000)).Reason);
        Assert.Equal(SweepFailure.PreimageMismatch, Assert.Throws<SweepException>(() => OnChainClaims.ClaimRemoteHtlc(theirs, output, OurHtlcKey, null, Destination, 1000)).Reason);

        // The preimage is not covered by the signature: swapping it in a valid claim makes the script fail.
        var claim = OnChainClaims.ClaimRemoteHtlc(theirs, output, OurHtlcKey, F.PreimageOf(output.Htlc!), Destination, 1000);
        var tx = claim.Transaction.Clone();
        var items = tx.Inputs[0].WitScript.Pushes.ToArray();
        items[1] = wrong.Value.ToArray();
        tx.Inputs[0].WitScript = new WitScript(items);
        Assert.NotNull(ErrorOf(tx, claim.SpentOutputs, 0));
    }

    [Theory]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    public void OurOfferedHtlcsAreClaimedAfterCltvExpiry(CommitmentFormat format)
    {
        var theirs = Commitment(format);
        // On their commitment, the HTLCs we offered are their received ones.
        var ours = theirs.HtlcOutputs.Where(o => o.Kind == CommitmentOutputKind.ReceivedHtlc).ToList();
        Assert.Equal(3, ours.Count);
        foreach (var output in ours)
        {
            var claim = OnChainClaims.ClaimRemoteHtlc(theirs, output, OurHtlcKey, null, Destination, 253);
            AssertValid(claim);
            Assert.Equal(new LockTime(output.Htlc!.CltvExpiry), claim.Transaction.LockTime);
            Assert.Empty(claim.Transaction.Inputs[0].WitScript.Pushes.ElementAt(1));

            var early = claim.Transaction.Clone();
            early.LockTime = new LockTime(output.Htlc.CltvExpiry - 1);
            Resign(early, claim.SpentOutputs, 0, OurHtlcKey);
            Assert.Equal(ScriptError.UnsatisfiedLockTime, ErrorOf(early, claim.SpentOutputs, 0));
        }
        // The 1000-sat HTLC is not worth claiming at 5000 sat/kw: the fee leaves dust.
        var smallest = ours.MinBy(o => o.Amount)!;
        Assert.Equal(1000, smallest.Amount.Satoshi);
        Assert.Equal(SweepFailure.OutputBelowDust, Assert.Throws<SweepException>(() =>
            OnChainClaims.ClaimRemoteHtlc(theirs, smallest, OurHtlcKey, null, Destination, 5000)).Reason);
        Assert.Equal(SweepFailure.PreimageMismatch, Assert.Throws<SweepException>(() =>
            OnChainClaims.ClaimRemoteHtlc(theirs, ours[0], OurHtlcKey, F.PreimageOf(ours[0].Htlc!), Destination, 1000)).Reason);
    }

    [Fact]
    public void AnchorHtlcClaimWithoutTheOneBlockCsvFails()
    {
        var theirs = Commitment(CommitmentFormat.AnchorOutputs);
        var output = theirs.HtlcOutputs.First(o => o.Kind == CommitmentOutputKind.OfferedHtlc);
        var claim = OnChainClaims.ClaimRemoteHtlc(theirs, output, OurHtlcKey, F.PreimageOf(output.Htlc!), Destination, 1000);
        var tx = claim.Transaction.Clone();
        tx.Inputs[0].Sequence = new Sequence(0u);
        Resign(tx, claim.SpentOutputs, 0, OurHtlcKey);
        Assert.Equal(ScriptError.UnsatisfiedLockTime, ErrorOf(tx, claim.SpentOutputs, 0));
    }

    [Fact]
    public void ClaimingWithTheirHtlcKeyIsRefused()
    {
        var theirs = Commitment(CommitmentFormat.StaticRemoteKey);
        var output = theirs.HtlcOutputs.First(o => o.Kind == CommitmentOutputKind.ReceivedHtlc);
        Assert.Equal(SweepFailure.KeyMismatch, Assert.Throws<SweepException>(() => OnChainClaims.ClaimRemoteHtlc(theirs, output, F.LocalHtlcKey, null, Destination, 1000)).Reason);
        var toLocal = theirs.Outputs.Single(o => o.Kind == CommitmentOutputKind.ToLocal);
        Assert.Equal(SweepFailure.NothingToClaim, Assert.Throws<SweepException>(() => OnChainClaims.ClaimRemoteHtlc(theirs, toLocal, OurHtlcKey, null, Destination, 1000)).Reason);
    }

    [Theory]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    public void ToRemoteIsClaimed(CommitmentFormat format)
    {
        var theirs = Commitment(format);
        var claim = OnChainClaims.ClaimToRemote(theirs, RemotePaymentKey, Destination, 2000);
        AssertValid(claim);
        var toRemote = theirs.Outputs.Single(o => o.Kind == CommitmentOutputKind.ToRemote);
        Assert.Equal(toRemote.Amount - claim.Fee, claim.Transaction.Outputs[0].Value);
        var input = claim.Transaction.Inputs.Single();
        if (format == CommitmentFormat.AnchorOutputs)
        {
            Assert.Equal(1u, (uint)input.Sequence);
            // <remote_sig> <script>: 1 + 1 + 73 + 1 + 37.
            Assert.Equal(SpecWeight(claim, [1 + 1 + 73 + 1 + 37]), claim.EstimatedWeight);
            var early = claim.Transaction.Clone();
            early.Inputs[0].Sequence = new Sequence(0u);
            Resign(early, claim.SpentOutputs, 0, RemotePaymentKey);
            Assert.Equal(ScriptError.UnsatisfiedLockTime, ErrorOf(early, claim.SpentOutputs, 0));
        }
        else
        {
            Assert.Null(toRemote.WitnessScript);
            Assert.Equal(2, input.WitScript.PushCount);
            Assert.Equal(SpecWeight(claim, [109]), claim.EstimatedWeight);
        }
        Assert.Equal(SweepFailure.KeyMismatch, Assert.Throws<SweepException>(() => OnChainClaims.ClaimToRemote(theirs, new Key(), Destination, 2000)).Reason);
    }

    [Theory]
    [InlineData(CommitmentFormat.StaticRemoteKey)]
    [InlineData(CommitmentFormat.AnchorOutputs)]
    public void AllHtlcClaimsOfTheirCommitmentBatchIntoOneTransaction(CommitmentFormat format)
    {
        var theirs = Commitment(format);
        var inputs = theirs.HtlcOutputs
            .Select(o => OnChainClaims.RemoteHtlcInput(theirs, o, OurHtlcKey, o.Kind == CommitmentOutputKind.OfferedHtlc ? F.PreimageOf(o.Htlc!) : null))
            .ToList();
        var batch = SweepTransactionBuilder.Build(inputs, Destination, 1000);
        AssertValid(batch);
        Assert.Equal(5, batch.Transaction.Inputs.Count);
        // The locktime is the latest expiry among the timeout claims (HTLCs 0, 1 and 4 expire at 500, 501, 504).
        Assert.Equal(new LockTime(504), batch.Transaction.LockTime);
        Assert.Equal(12_000 - batch.Fee.Satoshi, batch.Transaction.Outputs[0].Value.Satoshi);
    }
}
