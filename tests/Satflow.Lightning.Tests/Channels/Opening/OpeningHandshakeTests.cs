using NBitcoin;
using Satflow.Lightning.Channels.Opening;
using Satflow.Lightning.Features;
using Satflow.Lightning.Messages.Primitives;
using Satflow.Lightning.Transactions;
using Satflow.Lightning.Types;
using static Satflow.Lightning.Tests.Channels.Opening.OpeningTestKit;

namespace Satflow.Lightning.Tests.Channels.Opening;

/// <summary>The v1 opening handshake end to end, funder and fundee exchanging encoded messages.</summary>
public sealed class OpeningHandshakeTests
{
    public static TheoryData<string> ChannelTypeNames => ["anchors", "static_remotekey"];

    private static FeatureBits TypeOf(string name) => name == "anchors" ? ChannelTypes.AnchorsZeroFeeHtlcTx : ChannelTypes.StaticRemoteKey;

    [Theory]
    [MemberData(nameof(ChannelTypeNames))]
    public void BothSidesEndWithMirroredParameters(string typeName)
    {
        var h = Run(Options(TypeOf(typeName)));
        var a = h.FunderChannel;
        var b = h.FundeeChannel;
        var pa = a.Parameters;
        var pb = b.Parameters;

        Assert.Equal(TypeOf(typeName) == ChannelTypes.AnchorsZeroFeeHtlcTx ? CommitmentFormat.AnchorOutputs : CommitmentFormat.StaticRemoteKey, pa.Format);
        Assert.Equal(pa.Format, pb.Format);
        Assert.Equal(pa.FundingOutPoint, pb.FundingOutPoint);
        Assert.Equal(new OutPoint(h.FundingTx.GetHash(), 1), pa.FundingOutPoint);
        Assert.Equal(Funding, pa.FundingAmount);
        Assert.Equal(pa.FundingAmount, pb.FundingAmount);
        Assert.True(pa.LocalIsFunder);
        Assert.False(pb.LocalIsFunder);
        Assert.Equal(pa.Local, pb.Remote);
        Assert.Equal(pa.Remote, pb.Local);
        Assert.Equal(pa.LocalToSelfDelay, pb.RemoteToSelfDelay);
        Assert.Equal(pa.RemoteToSelfDelay, pb.LocalToSelfDelay);
        Assert.Equal((ushort)720, pa.LocalToSelfDelay);
        Assert.Equal((ushort)144, pb.LocalToSelfDelay);
        Assert.Equal(pa.LocalDustLimit, pb.RemoteDustLimit);
        Assert.Equal(pa.RemoteDustLimit, pb.LocalDustLimit);
        Assert.Equal(pa.ObscuringFactor, pb.ObscuringFactor);
        Assert.Equal(pa.ChannelId, pb.ChannelId);
        Assert.Equal(ChannelId.FromFundingOutPoint(h.FundingTx.GetHash().ToBytes(), 1), pa.ChannelId);
        Assert.Equal(pa.ChannelId, h.FundingSigned.ChannelId);
        Assert.Equal(pa.FundingScript.WitHash.ScriptPubKey, h.Output.ScriptPubKey);
        Assert.Equal(pb.FundingScript, pa.FundingScript);

        Assert.Equal(a.LocalLimits, b.RemoteLimits);
        Assert.Equal(a.RemoteLimits, b.LocalLimits);
        Assert.Equal(a.LocalBalance, b.RemoteBalance);
        Assert.Equal(a.RemoteBalance, b.LocalBalance);
        Assert.Equal(MilliSatoshi.FromSatoshis(800_000), a.LocalBalance);
        Assert.Equal(a.FeeratePerKw, b.FeeratePerKw);
        Assert.Equal(a.ChannelType, b.ChannelType);
        Assert.Equal(a.TemporaryChannelId, b.TemporaryChannelId);
        Assert.Equal(3u, a.MinimumDepth);
        Assert.Equal(a.MinimumDepth, b.MinimumDepth);
        Assert.True(a.AnnounceChannel);
        Assert.True(b.AnnounceChannel);
        Assert.Equal(FundeeKeys.PerCommitmentPoint(0), a.RemoteFirstPerCommitmentPoint);
        Assert.Equal(FunderKeys.PerCommitmentPoint(0), b.RemoteFirstPerCommitmentPoint);
        Assert.Equal(FunderShutdownScript, a.LocalShutdownScript);
        Assert.Equal(FunderShutdownScript, b.RemoteShutdownScript);
        Assert.Equal(FundeeShutdownScript, a.RemoteShutdownScript);
        Assert.Equal(FundeeShutdownScript, b.LocalShutdownScript);
        Assert.Equal(pa.ChannelId, h.Funder.ChannelId);
    }

    [Theory]
    [MemberData(nameof(ChannelTypeNames))]
    public void BothCommitmentsZeroSpendTheFundingOutputWithBothSignatures(string typeName)
    {
        var h = Run(Options(TypeOf(typeName)));
        var fundingOutput = h.Output.ToTxOut();
        Assert.Equal(fundingOutput.ToBytes(), h.FundingTx.Outputs[1].ToBytes());

        var funderCommitment = SignedLocalCommitment(h.FunderChannel, FunderKeys);
        var fundeeCommitment = SignedLocalCommitment(h.FundeeChannel, FundeeKeys);
        AssertSpendsFunding(funderCommitment, fundingOutput);
        AssertSpendsFunding(fundeeCommitment, fundingOutput);
        Assert.NotEqual(funderCommitment.GetHash(), fundeeCommitment.GetHash());

        // Each side's view of the other's commitment 0 is the transaction the other finalized.
        var p = h.FunderChannel.Parameters;
        var theirs = p.BuildRemoteCommitment(0, h.FunderChannel.RemoteFirstPerCommitmentPoint, h.FunderChannel.FeeratePerKw, h.FunderChannel.RemoteBalance, h.FunderChannel.LocalBalance, []);
        Assert.Equal(fundeeCommitment.GetHash(), theirs.TxId);
        Assert.Equal(fundingOutput.Value, funderCommitment.TotalOut + Bolt3Fees.CommitmentFee(p.Format, Feerate, 0));
    }

    [Fact]
    public void PushZeroAndNoUpfrontScriptsComplete()
    {
        var options = Options(push: MilliSatoshi.Zero) with { UpfrontShutdownScript = null };
        var h = Run(options, Policy with { UpfrontShutdownScript = null });
        Assert.Equal(MilliSatoshi.Zero, h.FundeeChannel.LocalBalance);
        Assert.Null(h.FundeeChannel.RemoteShutdownScript);
        Assert.Null(h.FunderChannel.RemoteShutdownScript);
        Assert.True(h.Funder.OpenChannel.UpfrontShutdownScript is { Length: 0 });
        AssertSpendsFunding(SignedLocalCommitment(h.FundeeChannel, FundeeKeys), h.Output.ToTxOut());
        AssertSpendsFunding(SignedLocalCommitment(h.FunderChannel, FunderKeys), h.Output.ToTxOut());
    }

    [Fact]
    public void OpenChannelCarriesOurOptions()
    {
        var open = RoundTrip(NewFunder().OpenChannel);
        Assert.Equal(ChainHash.Regtest, open.ChainHash);
        Assert.Equal(TemporaryId, open.TemporaryChannelId);
        Assert.Equal(1_000_000UL, open.FundingSatoshis.Value);
        Assert.Equal(200_000_000UL, open.PushMsat.Value);
        Assert.Equal(546UL, open.DustLimitSatoshis.Value);
        Assert.Equal(10_000UL, open.ChannelReserveSatoshis.Value);
        Assert.Equal((ushort)144, open.ToSelfDelay);
        Assert.Equal((ushort)30, open.MaxAcceptedHtlcs);
        Assert.Equal(Feerate, open.FeeratePerKw);
        Assert.True(open.AnnounceChannel);
        Assert.Equal(ChannelTypes.AnchorsZeroFeeHtlcTx, open.ChannelType);
        Assert.Equal(FunderKeys.Basepoints.FundingPubKey, open.Keys.FundingPubkey.ToPubKey());
        Assert.Equal(FunderKeys.PerCommitmentPoint(0), open.Keys.FirstPerCommitmentPoint.ToPubKey());
        Assert.Equal(FunderShutdownScript.ToBytes(true), open.UpfrontShutdownScript!.Value.ToArray());
    }

    [Fact]
    public void FundeeRaisesItsReserveToTheFundersDustLimit()
    {
        var policy = Policy with { LocalLimits = FundeeLimits with { ChannelReserve = Money.Satoshis(400) } };
        var fundee = NewFundee(NewFunder().OpenChannel, policy);
        Assert.Equal(546UL, fundee.AcceptChannel.ChannelReserveSatoshis.Value);
        Assert.Equal(ChannelTypes.AnchorsZeroFeeHtlcTx, fundee.AcceptChannel.ChannelType);
        Assert.Equal(3u, fundee.AcceptChannel.MinimumDepth);
    }

    [Fact]
    public void FundingSignedForAnotherChannelIdIsRejectedAndStateKept()
    {
        var funder = NewFunder();
        var fundee = NewFundee(funder.OpenChannel);
        var output = funder.HandleAcceptChannel(RoundTrip(fundee.AcceptChannel));
        var tx = FundingTransaction(output);
        var result = fundee.HandleFundingCreated(RoundTrip(funder.CreateFundingCreated(new OutPoint(tx.GetHash(), 1))));
        var ex = Assert.Throws<ChannelOpeningException>(() => funder.HandleFundingSigned(result.FundingSigned with { ChannelId = TemporaryId }));
        Assert.Equal(ChannelOpeningFailure.ChannelIdMismatch, ex.Reason);
        Assert.NotNull(funder.HandleFundingSigned(result.FundingSigned));
    }

    [Fact]
    public void WrongSignaturesAreRejected()
    {
        var funder = NewFunder();
        var fundee = NewFundee(funder.OpenChannel);
        var output = funder.HandleAcceptChannel(RoundTrip(fundee.AcceptChannel));
        var tx = FundingTransaction(output);
        var created = funder.CreateFundingCreated(new OutPoint(tx.GetHash(), 1));

        // A signature of another outpoint, a high-S twin of the right one, and garbage.
        var other = NewFunder();
        other.HandleAcceptChannel(RoundTrip(NewFundee(other.OpenChannel).AcceptChannel));
        var otherCreated = other.CreateFundingCreated(new OutPoint(tx.GetHash(), 0));
        foreach (var bad in new[] { otherCreated.Signature, HighS(created.Signature), Signature64.FromBytes(new byte[64]) })
        {
            var ex = Assert.Throws<ChannelOpeningException>(() => fundee.HandleFundingCreated(created with { Signature = bad }));
            Assert.Equal(ChannelOpeningFailure.InvalidSignature, ex.Reason);
        }
        var wrongOutPoint = Assert.Throws<ChannelOpeningException>(() => fundee.HandleFundingCreated(created with { FundingOutputIndex = 0 }));
        Assert.Equal(ChannelOpeningFailure.InvalidSignature, wrongOutPoint.Reason);

        var result = fundee.HandleFundingCreated(created);
        foreach (var bad in new[] { HighS(result.FundingSigned.Signature), created.Signature })
        {
            var ex = Assert.Throws<ChannelOpeningException>(() => funder.HandleFundingSigned(result.FundingSigned with { Signature = bad }));
            Assert.Equal(ChannelOpeningFailure.InvalidSignature, ex.Reason);
        }
        Assert.NotNull(funder.HandleFundingSigned(result.FundingSigned));
    }

    [Fact]
    public void OutOfOrderMessagesAreRejected()
    {
        var h = Run();
        Assert.Equal(ChannelOpeningFailure.UnexpectedMessage, Assert.Throws<ChannelOpeningException>(() => h.Funder.HandleAcceptChannel(h.Fundee.AcceptChannel)).Reason);
        Assert.Equal(ChannelOpeningFailure.UnexpectedMessage, Assert.Throws<ChannelOpeningException>(() => h.Funder.HandleFundingSigned(h.FundingSigned)).Reason);
        Assert.Equal(ChannelOpeningFailure.UnexpectedMessage, Assert.Throws<ChannelOpeningException>(() => h.Fundee.HandleFundingCreated(h.FundingCreated)).Reason);
        Assert.Throws<InvalidOperationException>(() => h.Funder.CreateFundingCreated(h.FunderChannel.Parameters.FundingOutPoint));

        var fresh = NewFunder();
        Assert.Equal(ChannelOpeningFailure.UnexpectedMessage, Assert.Throws<ChannelOpeningException>(() => fresh.HandleFundingSigned(h.FundingSigned)).Reason);
        Assert.Throws<InvalidOperationException>(() => fresh.CreateFundingCreated(h.FunderChannel.Parameters.FundingOutPoint));

        var fundee = NewFundee(fresh.OpenChannel);
        var ex = Assert.Throws<ChannelOpeningException>(() => fundee.HandleFundingCreated(h.FundingCreated with { TemporaryChannelId = ChannelId.Parse(new string('f', 64)) }));
        Assert.Equal(ChannelOpeningFailure.TemporaryChannelIdMismatch, ex.Reason);
    }

    [Fact]
    public void FundingOutputIndexMustFitSixteenBits()
    {
        var funder = NewFunder();
        funder.HandleAcceptChannel(RoundTrip(NewFundee(funder.OpenChannel).AcceptChannel));
        Assert.Throws<ArgumentOutOfRangeException>(() => funder.CreateFundingCreated(new OutPoint(uint256.One, 65536)));
        Assert.NotNull(funder.CreateFundingCreated(new OutPoint(uint256.One, 65535)));
    }

    [Theory]
    [InlineData(100, 100, false)]
    [InlineData(2115, 100, false)]
    [InlineData(2116, 100, true)]
    [InlineData(5000, 100, true)]
    [InlineData(99, 100, false)]
    public void FundingTimesOutAfter2016Blocks(uint current, uint accepted, bool expected) =>
        Assert.Equal(expected, InboundChannelOpening.IsFundingTimedOut(current, accepted));

    [Fact]
    public void ErrorMessageCarriesTheReasonText()
    {
        var ex = Assert.Throws<ChannelOpeningException>(() => NewFundee(NewFunder().OpenChannel with { ChainHash = ChainHash.Testnet }));
        var error = RoundTrip(ex.ToErrorMessage(TemporaryId));
        Assert.Equal(TemporaryId, error.ChannelId);
        Assert.Equal(ex.Message, error.PrintableText);
        Assert.Contains("chain_hash", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InvalidOptionsAreRefusedUpFront()
    {
        Assert.Throws<ArgumentException>(() => NewFunder(Options(push: MilliSatoshi.FromSatoshis(1_000_001))));
        Assert.Throws<ArgumentException>(() => NewFunder(Options(push: MilliSatoshi.FromSatoshis(999_000))));
        Assert.Throws<ArgumentException>(() => NewFunder(Options(FeatureBits.Of(22))));
        Assert.Throws<ArgumentException>(() => NewFunder(Options(ChannelTypes.AnchorsZeroFeeHtlcTx.With(46))));
        Assert.Throws<ArgumentException>(() => NewFunder(Options() with { FundingAmount = Money.Satoshis(1 << 24) }));
        Assert.Throws<ArgumentException>(() => NewFunder(Options() with { LocalLimits = FunderLimits with { MaxAcceptedHtlcs = 484 } }));
        Assert.Throws<ArgumentException>(() => NewFunder(Options() with { LocalLimits = FunderLimits with { DustLimit = Money.Satoshis(353) } }));
        Assert.Throws<ArgumentException>(() => NewFunder(Options() with { LocalLimits = FunderLimits with { ChannelReserve = Money.Satoshis(500) } }));
        Assert.Throws<ArgumentException>(() => NewFunder(Options() with { UpfrontShutdownScript = new Script(OpcodeType.OP_TRUE) }));
        var large = Options() with { FundingAmount = Money.Satoshis(1 << 24), NegotiatedFeatures = FeatureBits.Of(19) };
        Assert.Equal((ulong)(1 << 24), NewFunder(large).OpenChannel.FundingSatoshis.Value);
        var privateAlias = Options(ChannelTypes.AnchorsZeroFeeHtlcTx.With(46)) with { AnnounceChannel = false };
        Assert.Equal(0, NewFunder(privateAlias).OpenChannel.ChannelFlags);
    }

    private static Signature64 HighS(Signature64 signature)
    {
        var order = System.Numerics.BigInteger.Parse("0FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", System.Globalization.NumberStyles.HexNumber);
        var s = new System.Numerics.BigInteger(signature.Span[32..], isUnsigned: true, isBigEndian: true);
        var flipped = (order - s).ToByteArray(isUnsigned: true, isBigEndian: true);
        var bytes = signature.ToArray();
        Array.Clear(bytes, 32, 32);
        flipped.CopyTo(bytes, 64 - flipped.Length);
        return Signature64.FromBytes(bytes);
    }
}
