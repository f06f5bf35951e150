using NBitcoin;
using Satflow.Lightning.Channels;
using Satflow.Lightning.Channels.Closing;
using Satflow.Lightning.Messages;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Channels.Opening.OpeningTestKit;

namespace Satflow.Lightning.Tests.Channels.Closing;

/// <summary>The legacy <c>closing_signed</c> negotiation between a funder and a fundee, over the wire codec.</summary>
public sealed class ClosingNegotiationTests
{
    private static readonly Handshake Opened = Run();

    private static ChannelStaticParameters FunderParameters => Opened.FunderChannel.Parameters;

    private static ChannelStaticParameters FundeeParameters => Opened.FundeeChannel.Parameters;

    private static readonly MilliSatoshi FunderBalance = MilliSatoshi.FromSatoshis(700_000);
    private static readonly MilliSatoshi FundeeBalance = new(299_999_999);

    private static ClosingFeePolicy FunderPolicy => new(2500, Money.Satoshis(5000));

    private static ClosingFeePolicy FundeePolicy => new(1000, Money.Satoshis(3000));

    private static ClosingNegotiation Funder(ClosingFeePolicy? policy = null, MilliSatoshi? funderBalance = null, MilliSatoshi? fundeeBalance = null, Script? fundeeScript = null, ChannelStaticParameters? parameters = null) =>
        new(parameters ?? FunderParameters, FunderKeys, funderBalance ?? FunderBalance, fundeeBalance ?? FundeeBalance, FunderShutdownScript, fundeeScript ?? FundeeShutdownScript, policy ?? FunderPolicy);

    private static ClosingNegotiation Fundee(ClosingFeePolicy? policy = null, MilliSatoshi? funderBalance = null, MilliSatoshi? fundeeBalance = null, Script? fundeeScript = null, ChannelStaticParameters? parameters = null) =>
        new(parameters ?? FundeeParameters, FundeeKeys, fundeeBalance ?? FundeeBalance, funderBalance ?? FunderBalance, fundeeScript ?? FundeeShutdownScript, FunderShutdownScript, policy ?? FundeePolicy);

    /// <summary>Runs the negotiation to its end; returns the number of messages exchanged.</summary>
    private static int Exchange(ClosingNegotiation funder, ClosingNegotiation fundee, Func<ClosingSigned, ClosingSigned>? tamper = null)
    {
        Assert.Null(fundee.Start());
        var message = funder.Start();
        var count = 0;
        var (receiver, other) = (fundee, funder);
        while (message is not null)
        {
            count++;
            Assert.True(count < 20, "the negotiation does not converge");
            var delivered = RoundTrip(tamper is null ? message : tamper(message));
            message = receiver.Handle(delivered).Reply;
            (receiver, other) = (other, receiver);
        }
        return count;
    }

    private static void AssertSameValidTransaction(ClosingNegotiation a, ClosingNegotiation b)
    {
        Assert.True(a.IsCompleted);
        Assert.True(b.IsCompleted);
        var tx = a.ClosingTransaction!;
        Assert.Equal(tx.ToHex(), b.ClosingTransaction!.ToHex());
        AssertSpendsFunding(tx, Opened.Output.ToTxOut());
        Assert.Equal(FunderParameters.FundingOutPoint, tx.Inputs[0].PrevOut);
        Assert.Equal(0u, (uint)tx.LockTime);
        Assert.Equal(Sequence.Final, tx.Inputs[0].Sequence);
    }

    /// <summary>The fee the funder paid: the balances in whole satoshis minus the outputs (0.999 sat of the fundee's balance is rounded away).</summary>
    private static Money FeeOf(Transaction tx, MilliSatoshi? funderBalance = null, MilliSatoshi? fundeeBalance = null) =>
        Money.Satoshis((long)((funderBalance ?? FunderBalance).TruncateToSatoshis() + (fundeeBalance ?? FundeeBalance).TruncateToSatoshis())) - tx.TotalOut;

    [Fact]
    public void FundeeTakesTheFundersFeeWhenItIsInTheOverlap()
    {
        var funder = Funder();
        var fundee = Fundee();
        Assert.Equal(2, Exchange(funder, fundee));
        AssertSameValidTransaction(funder, fundee);
        var tx = funder.ClosingTransaction!;
        Assert.Equal(funder.TargetFee, FeeOf(tx));
        Assert.Equal(2, tx.Outputs.Count);
        Assert.Contains(tx.Outputs, o => o.ScriptPubKey == FundeeShutdownScript && o.Value == Money.Satoshis(299_999));
        Assert.Contains(tx.Outputs, o => o.ScriptPubKey == FunderShutdownScript && o.Value == Money.Satoshis(700_000) - funder.TargetFee);

        // The target is the feerate over the real weight (two P2WPKH outputs: 676 weight units).
        Assert.Equal(Money.Satoshis(2500 * 676 / 1000), funder.TargetFee);
        Assert.InRange(funder.ClosingTransaction!.GetVirtualSize() * 4, 670, 680);
    }

    [Fact]
    public void FundeeCounterProposesItsMinimumAndTheFunderEchoesIt()
    {
        var funder = Funder();
        var fundee = Fundee(FundeePolicy with { MinFee = Money.Satoshis(2000) });
        Assert.Equal(3, Exchange(funder, fundee));
        AssertSameValidTransaction(funder, fundee);
        Assert.Equal(Money.Satoshis(2000), FeeOf(funder.ClosingTransaction!));
    }

    [Fact]
    public void FundeeProposalIsClampedToTheFundersMaximum()
    {
        var funder = Funder(new ClosingFeePolicy(5000, Money.Satoshis(4000)));
        var fundee = Fundee(new ClosingFeePolicy(253, Money.Satoshis(100)) { MinFee = Money.Satoshis(50) });
        Assert.Equal(2, Exchange(funder, fundee));
        AssertSameValidTransaction(funder, fundee);
        Assert.Equal(Money.Satoshis(3380), FeeOf(funder.ClosingTransaction!));
    }

    [Fact]
    public void DisjointRangesFail()
    {
        var funder = Funder();
        var fundee = Fundee(FundeePolicy with { MinFee = Money.Satoshis(6000), MaxFee = Money.Satoshis(9000) });
        var open = funder.Start()!;
        var ex = Assert.Throws<ClosingException>(() => fundee.Handle(RoundTrip(open)));
        Assert.Equal(ClosingFailure.DisjointFeeRanges, ex.Reason);
        Assert.False(fundee.IsCompleted);
        Assert.Contains("overlap", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FunderFailsWhenTheFeeIsOutsideTheOverlap()
    {
        var funder = Funder();
        funder.Start();
        var message = SignedByFundee(6000, new ClosingFeeRange(new Satoshis(100), new Satoshis(8000)));
        Assert.Equal(ClosingFailure.FeeOutOfRange, Assert.Throws<ClosingException>(() => funder.Handle(message)).Reason);
        var disjoint = SignedByFundee(6000, new ClosingFeeRange(new Satoshis(5001), new Satoshis(8000)));
        Assert.Equal(ClosingFailure.DisjointFeeRanges, Assert.Throws<ClosingException>(() => funder.Handle(disjoint)).Reason);
        Assert.False(funder.IsCompleted);

        // State kept: an acceptable answer still completes.
        var step = funder.Handle(SignedByFundee(4000, new ClosingFeeRange(new Satoshis(100), new Satoshis(8000))));
        Assert.True(step.IsCompleted);
        Assert.Equal(4000UL, step.Reply!.FeeSatoshis.Value);
        Assert.Equal(Money.Satoshis(4000), FeeOf(step.ClosingTransaction!));
        AssertSpendsFunding(step.ClosingTransaction!, Opened.Output.ToTxOut());
    }

    [Fact]
    public void DustOutputsAreOmitted()
    {
        var funderBalance = MilliSatoshi.FromSatoshis(999_500);
        var fundeeBalance = MilliSatoshi.FromSatoshis(500);
        var funder = Funder(funderBalance: funderBalance, fundeeBalance: fundeeBalance);
        var fundee = Fundee(funderBalance: funderBalance, fundeeBalance: fundeeBalance);
        Exchange(funder, fundee);
        AssertSameValidTransaction(funder, fundee);
        var tx = funder.ClosingTransaction!;
        var output = Assert.Single(tx.Outputs);
        Assert.Equal(FunderShutdownScript, output.ScriptPubKey);
        Assert.Equal(Money.Satoshis(999_500) - funder.TargetFee, output.Value);
        Assert.Equal(funder.TargetFee + Money.Satoshis(500), FeeOf(tx, funderBalance, fundeeBalance));
    }

    [Fact]
    public void OutputBelowItsScriptsDustThresholdFails()
    {
        // With 354-sat dust limits a 500-sat P2PKH output survives trimming but is below 546 sat: MUST fail.
        var p2pkh = new Key(Enumerable.Repeat((byte)0x66, 32).ToArray()).PubKey.Hash.ScriptPubKey;
        var funderParameters = FunderParameters with { LocalDustLimit = Money.Satoshis(354), RemoteDustLimit = Money.Satoshis(354) };
        var fundeeParameters = FundeeParameters with { LocalDustLimit = Money.Satoshis(354), RemoteDustLimit = Money.Satoshis(354) };
        var funderBalance = MilliSatoshi.FromSatoshis(999_500);
        var fundeeBalance = MilliSatoshi.FromSatoshis(500);
        var funder = Funder(funderBalance: funderBalance, fundeeBalance: fundeeBalance, fundeeScript: p2pkh, parameters: funderParameters);
        var fundee = Fundee(funderBalance: funderBalance, fundeeBalance: fundeeBalance, fundeeScript: p2pkh, parameters: fundeeParameters);
        var ex = Assert.Throws<ClosingException>(() => fundee.Handle(RoundTrip(funder.Start()!)));
        Assert.Equal(ClosingFailure.DustOutput, ex.Reason);
    }

    [Fact]
    public void InvalidSignatureFailsAndKeepsState()
    {
        var funder = Funder();
        var fundee = Fundee();
        var open = RoundTrip(funder.Start()!);
        var wrongFee = open with { FeeSatoshis = new Satoshis(open.FeeSatoshis.Value + 1) };
        var garbage = open with { Signature = Signature64.FromBytes(new byte[64]) };
        var otherKey = open with { Signature = SignedByFundee(open.FeeSatoshis.Value, open.FeeRange).Signature };
        foreach (var bad in new[] { wrongFee, garbage, otherKey })
        {
            Assert.Equal(ClosingFailure.InvalidSignature, Assert.Throws<ClosingException>(() => fundee.Handle(bad)).Reason);
        }
        Assert.False(fundee.IsCompleted);
        var step = fundee.Handle(open);
        Assert.True(step.IsCompleted);
        Assert.True(funder.Handle(RoundTrip(step.Reply!)).IsCompleted);
        AssertSameValidTransaction(funder, fundee);
    }

    [Fact]
    public void FundeeMayDropItsOwnOutput()
    {
        var funder = Funder();
        funder.Start();
        var message = SignedByFundee((ulong)funder.TargetFee.Satoshi, new ClosingFeeRange(new Satoshis(100), new Satoshis(8000)), omitOwnOutput: true);
        var step = funder.Handle(message);
        Assert.True(step.IsCompleted);
        Assert.Null(step.Reply);
        var tx = step.ClosingTransaction!;
        Assert.Equal(FunderShutdownScript, Assert.Single(tx.Outputs).ScriptPubKey);
        AssertSpendsFunding(tx, Opened.Output.ToTxOut());
    }

    [Fact]
    public void LegacyNegotiationWithoutFeeRangeConvergesStrictlyBetween()
    {
        var funder = Funder();
        var fundee = Fundee(new ClosingFeePolicy(1000, Money.Satoshis(1200)));
        var count = Exchange(funder, fundee, m => m with { FeeRange = null });
        Assert.Equal(3, count);
        AssertSameValidTransaction(funder, fundee);
        Assert.Equal(Money.Satoshis(1200), FeeOf(funder.ClosingTransaction!));
    }

    [Fact]
    public void LegacyProposalOutsideTheLastTwoFails()
    {
        var funder = Funder();
        var fundee = Fundee(new ClosingFeePolicy(1000, Money.Satoshis(1200)));
        var first = RoundTrip(funder.Start()! with { FeeRange = null });
        var counter = fundee.Handle(first).Reply!;
        Assert.Equal(1200UL, counter.FeeSatoshis.Value);
        var notBetween = SignedByFunder(1700, null);
        Assert.Equal(ClosingFailure.FeeOutOfRange, Assert.Throws<ClosingException>(() => fundee.Handle(notBetween)).Reason);
        // Strictly between, but above the most we accept: we cannot move past what we sent, so the negotiation fails.
        var between = SignedByFunder(1500, null);
        Assert.Equal(ClosingFailure.FeeOutOfRange, Assert.Throws<ClosingException>(() => fundee.Handle(between)).Reason);
        var agreed = fundee.Handle(SignedByFunder(1200, null));
        Assert.True(agreed.IsCompleted);
        Assert.Null(agreed.Reply);
        AssertSpendsFunding(agreed.ClosingTransaction!, Opened.Output.ToTxOut());
    }

    [Fact]
    public void ProtocolViolationsAreTyped()
    {
        var funder = Funder();
        var fundee = Fundee();
        var early = SignedByFundee(1000, new ClosingFeeRange(new Satoshis(100), new Satoshis(8000)));
        Assert.Equal(ClosingFailure.UnexpectedMessage, Assert.Throws<ClosingException>(() => funder.Handle(early)).Reason);
        var open = RoundTrip(funder.Start()!);
        Assert.Equal(ClosingFailure.UnexpectedMessage, Assert.Throws<ClosingException>(() => fundee.Handle(open with { ChannelId = TemporaryId })).Reason);
        Assert.Equal(ClosingFailure.FeeExceedsBalance, Assert.Throws<ClosingException>(() => fundee.Handle(open with { FeeSatoshis = new Satoshis(700_001) })).Reason);
        Assert.Equal(ClosingFailure.InvalidFeeRange, Assert.Throws<ClosingException>(() => fundee.Handle(open with { FeeRange = new ClosingFeeRange(new Satoshis(9), new Satoshis(8)) })).Reason);
        Assert.Throws<InvalidOperationException>(() => funder.Start());
        var reply = fundee.Handle(open).Reply!;
        Assert.Equal(ClosingFailure.UnexpectedMessage, Assert.Throws<ClosingException>(() => fundee.Handle(open)).Reason);
        funder.Handle(reply);
        Assert.Equal(ClosingFailure.UnexpectedMessage, Assert.Throws<ClosingException>(() => funder.Handle(reply)).Reason);
        var error = RoundTrip(new ClosingException(ClosingFailure.DisjointFeeRanges, "no overlap").ToWarningMessage(funder.ChannelId));
        Assert.Equal("no overlap", error.PrintableText);
    }

    [Fact]
    public void ConstructorRefusesImpossibleBalancesAndForeignKeys()
    {
        Assert.Throws<ArgumentException>(() => Funder(funderBalance: MilliSatoshi.FromSatoshis(900_000), fundeeBalance: MilliSatoshi.FromSatoshis(100_001)));
        Assert.Throws<ArgumentException>(() => new ClosingNegotiation(FunderParameters, FundeeKeys, FunderBalance, FundeeBalance, FunderShutdownScript, FundeeShutdownScript, FunderPolicy));
    }

    internal static ClosingSigned SignedByFundee(ulong fee, ClosingFeeRange? range, bool omitOwnOutput = false) =>
        Sign(FundeeParameters, FundeeKeys, FundeeBalance, FunderBalance, FundeeShutdownScript, FunderShutdownScript, (long)fee, range, omitOwnOutput);

    internal static ClosingSigned SignedByFunder(ulong fee, ClosingFeeRange? range) =>
        Sign(FunderParameters, FunderKeys, FunderBalance, FundeeBalance, FunderShutdownScript, FundeeShutdownScript, (long)fee, range, false);

    private static ClosingSigned Sign(ChannelStaticParameters p, LocalChannelKeys keys, MilliSatoshi local, MilliSatoshi remote, Script localScript, Script remoteScript, long fee, ClosingFeeRange? range, bool omitOwnOutput)
    {
        var closing = ClosingTransactionBuilder.BuildLegacy(
            p.FundingOutPoint, p.FundingAmount, p.Local.FundingPubKey, p.Remote.FundingPubKey, localScript, remoteScript, local, remote,
            Money.Satoshis(fee), p.LocalIsFunder, Money.Max(p.LocalDustLimit, p.RemoteDustLimit));
        if (omitOwnOutput && closing.LocalOutputIndex is { } index)
        {
            var tx = closing.Transaction;
            tx.Outputs.RemoveAt(index);
            closing = closing with { Transaction = tx, LocalOutputIndex = null };
        }
        return new ClosingSigned(p.ChannelId, new Satoshis((ulong)fee), Signature64.FromBytes(closing.Sign(keys.FundingKey).ToCompact())) { FeeRange = range };
    }
}
